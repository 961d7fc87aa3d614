//! A private PostgreSQL server for a test: `initdb` into a fresh temp dir, `postgres` on
//! 127.0.0.1 on a free port (its socket in the same dir), one database, removed on drop.
//!
//! The binaries come from the Debian package `postgresql` (`/usr/lib/postgresql/<v>/bin`;
//! `scripts/test` installs it). `initdb` refuses to run as root, so as root they run as
//! the unprivileged user [`PG_USER`] (`scripts/test` creates it) through `runuser`.
//! Nothing is skipped: a machine without them fails the test with a message saying what
//! to install.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The unprivileged user the server runs as when the tests run as root.
pub const PG_USER: &str = "openclaw-test";

/// The database [`Postgres::start`] creates.
pub const PG_DATABASE: &str = "openclaw_test";

/// A running private server; stopped (immediate shutdown) and deleted on drop.
pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_root: bool,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("dir", &self.dir.path())
            .field("port", &self.port)
            .finish()
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb` and `pg_ctl`.
fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found under /usr/lib/postgresql/*/bin: install the Debian package postgresql (`apt-get install postgresql`; scripts/test does)"
        ),
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Postgres {
    /// Starts a server and creates [`PG_DATABASE`]; panics saying what failed.
    pub fn start() -> Postgres {
        let bin = bin_dir();
        let as_root = running_as_root();
        let dir = tempfile::Builder::new()
            .prefix("oc-pg-")
            .tempdir()
            .expect("create a temp dir for postgres");
        if as_root {
            let user_ok = Command::new("id")
                .arg(PG_USER)
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                user_ok,
                "the tests run as root and initdb refuses root: create the unprivileged user with `useradd --system --no-create-home {PG_USER}` (scripts/test does)"
            );
            let status = Command::new("chown")
                .arg(format!("{PG_USER}:"))
                .arg(dir.path())
                .status()
                .expect("run chown");
            assert!(status.success(), "chown {PG_USER} {}", dir.path().display());
        }
        let pg = Postgres {
            bin,
            port: crate::free_port(),
            dir,
            as_root,
        };
        let data = pg.data_dir();
        pg.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let options = format!(
            "-p {} -h 127.0.0.1 -k {} -c fsync=off -c max_connections=60",
            pg.port,
            pg.dir.path().display()
        );
        let log = pg.dir.path().join("server.log");
        pg.run(
            "pg_ctl",
            &[
                "-D",
                &data.display().to_string(),
                "-l",
                &log.display().to_string(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        // `pg_ctl -w` waits until it accepts connections; createdb retries briefly anyway.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = pg
                .command("createdb")
                .args(pg.client_args())
                .arg(PG_DATABASE)
                .output();
            match out {
                Ok(o) if o.status.success() => break,
                Ok(o) if Instant::now() > deadline => panic!(
                    "createdb {PG_DATABASE} failed: {}\nserver log:\n{}",
                    String::from_utf8_lossy(&o.stderr),
                    std::fs::read_to_string(&log).unwrap_or_default()
                ),
                Err(e) => panic!("cannot run createdb: {e}"),
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        pg
    }

    /// `postgres://postgres:<password>@127.0.0.1:<port>/openclaw_test`. The server trusts
    /// loopback, so the password is never checked: it is there so tests can assert it
    /// is never printed.
    pub fn url_with_password(&self, password: &str) -> String {
        format!(
            "postgres://postgres:{password}@127.0.0.1:{}/{PG_DATABASE}",
            self.port
        )
    }

    /// The URL of the database, without a password.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{PG_DATABASE}", self.port)
    }

    /// The TCP port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs `psql -c sql` against the database and returns its unaligned, tuples-only
    /// output; panics if psql fails.
    pub fn psql(&self, sql: &str) -> String {
        let out = self
            .command("psql")
            .args(self.client_args())
            .args([
                "-d",
                PG_DATABASE,
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql -c {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn client_args(&self) -> Vec<String> {
        vec![
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
            "-U".into(),
            "postgres".into(),
        ]
    }

    /// `bin/<program>`, through `runuser -u openclaw-test --` when running as root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut cmd = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", PG_USER, "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        cmd.current_dir(self.dir.path());
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The temp dir holding the data dir, the socket and `server.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data_dir();
        let _ = self
            .command("pg_ctl")
            .args([
                "-D",
                &data.display().to_string(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
    }
}
