//! The generated gateway token: what keeps a gateway with no configured secret from being
//! an open gateway.
//!
//! In token mode with no token anywhere (flag, `OPENCLAW_GATEWAY_TOKEN`, config), the
//! first start generates one and stores it in `<state>/gateway.token`, owner-only. It lives
//! in the state dir rather than in the config file because writing the config would
//! rewrite an operator's hand-edited JSON5 (comments, layout, a symlinked file) just to
//! add one key, and because `--dev` runs with no config file at all. Local `openclaw`
//! commands read the same file, so they connect with no flags.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use openclaw_config::{AtomicWrite, Expect, Paths};

use crate::error::GatewayError;

/// File name of the stored token inside the state dir.
pub const TOKEN_FILE: &str = "gateway.token";

/// Where the generated token of this instance lives.
pub fn token_path(paths: &Paths) -> PathBuf {
    paths.state_dir.join(TOKEN_FILE)
}

/// 32 random bytes from the operating system's generator, as 64 hex digits.
pub fn generate_token() -> Result<String, GatewayError> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).map_err(|e| {
        GatewayError::io(
            "cannot get random bytes from the operating system for a gateway token",
            std::io::Error::other(e.to_string()),
        )
    })?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The stored token, if the file exists. A file others can read is refused: the token is
/// the gateway's only lock.
pub fn read_stored_token(path: &Path) -> Result<Option<String>, GatewayError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(GatewayError::io(
                format!("cannot read {}", path.display()),
                e,
            ));
        }
    };
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(GatewayError::Setting(format!(
            "{} is readable by other users; run `chmod 600 {}` (or delete it to get a new token)",
            path.display(),
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| GatewayError::io(format!("cannot read {}", path.display()), e))?;
    let token = text.trim();
    if token.is_empty() {
        return Ok(None);
    }
    Ok(Some(token.to_owned()))
}

/// The stored token, generating and storing one first if there is none. Returns the token
/// and whether it was generated now. Two gateways racing on one state dir end up with the
/// same token: the file is only ever created, never replaced.
pub fn ensure_stored_token(paths: &Paths) -> Result<(String, bool), GatewayError> {
    let path = token_path(paths);
    if let Some(t) = read_stored_token(&path)? {
        return Ok((t, false));
    }
    std::fs::create_dir_all(&paths.state_dir).map_err(|e| {
        GatewayError::io(
            format!("cannot create the state dir {}", paths.state_dir.display()),
            e,
        )
    })?;
    let token = generate_token()?;
    let opts = AtomicWrite {
        expect: Expect::Missing,
        ..AtomicWrite::default()
    };
    match openclaw_config::write_atomic(&path, format!("{token}\n").as_bytes(), &opts) {
        Ok(()) => Ok((token, true)),
        // Someone else stored one first: use theirs.
        Err(e) if e.is_conflict() => match read_stored_token(&path)? {
            Some(t) => Ok((t, false)),
            None => Err(GatewayError::Setting(format!(
                "{} exists but is empty; delete it to get a new token",
                path.display()
            ))),
        },
        Err(e) => Err(GatewayError::Setting(format!(
            "cannot store the generated gateway token: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(dir: &Path) -> Paths {
        let d = dir.to_string_lossy().into_owned();
        Paths::resolve(None, false, &move |k| {
            (k == "OPENCLAW_STATE_DIR").then(|| d.clone())
        })
        .unwrap()
    }

    #[test]
    fn generated_once_owner_only_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        let (a, generated) = ensure_stored_token(&p).unwrap();
        assert!(generated);
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        let mode = std::fs::metadata(token_path(&p))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (b, generated) = ensure_stored_token(&p).unwrap();
        assert!(!generated);
        assert_eq!(a, b);
        assert_ne!(a, generate_token().unwrap());
    }

    #[test]
    fn a_readable_token_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        ensure_stored_token(&p).unwrap();
        let path = token_path(&p);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_stored_token(&path).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }
}
