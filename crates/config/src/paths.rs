//! Where OpenClaw keeps its state and its config file.
//!
//! Resolution is a pure function of the profile arguments and an environment *lookup*
//! (not the process environment itself), so tests and embedders can resolve paths for
//! any environment without mutating global state.

use std::path::PathBuf;

use crate::error::ConfigError;

/// Environment variable that overrides the state directory outright.
pub const STATE_DIR_ENV: &str = "OPENCLAW_STATE_DIR";
/// Environment variable that overrides the config file location.
pub const CONFIG_PATH_ENV: &str = "OPENCLAW_CONFIG_PATH";
/// Environment variable naming the profile when `--profile` is not given.
pub const PROFILE_ENV: &str = "OPENCLAW_PROFILE";
/// The profile selected by `--dev`.
pub const DEV_PROFILE: &str = "dev";
/// File name of the config inside the state directory.
pub const CONFIG_FILE_NAME: &str = "openclaw.json";
/// Longest accepted profile name; keeps derived directory names reasonable.
pub const MAX_PROFILE_LEN: usize = 64;

/// The resolved on-disk locations for one gateway instance.
///
/// Profiles exist so several independent gateways (e.g. a `dev` one next to the real
/// one) can run for the same user without sharing state, locks or logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// Directory holding the config, lock file, logs and other state.
    pub state_dir: PathBuf,
    /// The JSON5 config file to load.
    pub config_path: PathBuf,
    /// The active profile, if any (`None` means the default instance).
    pub profile: Option<String>,
    /// True when the active profile is `dev` (via `--dev` or an explicit `dev` profile),
    /// so callers can enable developer conveniences without comparing strings.
    pub dev: bool,
}

impl Paths {
    /// Resolves the paths from an explicit profile, the `--dev` flag and an environment
    /// lookup.
    ///
    /// `env` is a lookup so tests need not mutate the process env. Precedence: `--dev`
    /// (profile `dev`) or the explicit profile, else `OPENCLAW_PROFILE` (empty means
    /// none). The state dir is `OPENCLAW_STATE_DIR` when non-empty, else
    /// `$HOME/.openclaw` (or `$HOME/.openclaw-<profile>`). The config path is
    /// `OPENCLAW_CONFIG_PATH` when non-empty, else `<state_dir>/openclaw.json`. A leading
    /// `~/` in either variable expands to `HOME`.
    pub fn resolve(
        profile: Option<&str>,
        dev: bool,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Paths, ConfigError> {
        let profile = resolve_profile(profile, dev, env)?;
        let home = non_empty(env("HOME"));

        let state_dir = match non_empty(env(STATE_DIR_ENV)) {
            Some(dir) => expand_tilde(&dir, home.as_deref())?,
            None => {
                let home = home.as_deref().ok_or(ConfigError::NoHome)?;
                let name = match &profile {
                    Some(p) => format!(".openclaw-{p}"),
                    None => ".openclaw".to_string(),
                };
                PathBuf::from(home).join(name)
            }
        };

        let config_path = match non_empty(env(CONFIG_PATH_ENV)) {
            Some(file) => expand_tilde(&file, home.as_deref())?,
            None => state_dir.join(CONFIG_FILE_NAME),
        };

        let dev = profile.as_deref() == Some(DEV_PROFILE);
        Ok(Paths {
            state_dir,
            config_path,
            profile,
            dev,
        })
    }

    /// Same as [`Paths::resolve`] but reads the real process environment; the normal
    /// entry point for the CLI and daemon. Variables that are not valid Unicode are
    /// treated as unset.
    pub fn from_process_env(profile: Option<&str>, dev: bool) -> Result<Paths, ConfigError> {
        Paths::resolve(profile, dev, &|name| std::env::var(name).ok())
    }

    /// The single-instance lock file (`<state_dir>/gateway.lock`); one per state dir so
    /// two profiles can run side by side but one profile cannot run twice.
    pub fn lock_path(&self) -> PathBuf {
        self.state_dir.join("gateway.lock")
    }

    /// The log file used when `logging.file` is not configured
    /// (`<state_dir>/logs/gateway.log`).
    pub fn default_log_file(&self) -> PathBuf {
        self.state_dir.join("logs").join("gateway.log")
    }
}

/// Returns true if `name` is an acceptable profile name: `[A-Za-z0-9_-]{1,64}`.
///
/// Exposed so the CLI can validate `--profile` early with the same rule.
pub fn is_valid_profile_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_PROFILE_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Picks the active profile: `--dev`, then the explicit argument, then the environment.
fn resolve_profile(
    explicit: Option<&str>,
    dev: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, ConfigError> {
    if dev {
        // An explicit profile alongside --dev must agree with it; the environment
        // variable is merely a default and is overridden by the flag.
        if let Some(p) = explicit
            && p != DEV_PROFILE
        {
            return Err(ConfigError::ProfileConflict {
                profile: p.to_string(),
            });
        }
        return Ok(Some(DEV_PROFILE.to_string()));
    }
    let chosen = match explicit {
        Some(p) => Some(p.to_string()),
        None => non_empty(env(PROFILE_ENV)),
    };
    match chosen {
        Some(name) if !is_valid_profile_name(&name) => Err(ConfigError::BadProfile { name }),
        other => Ok(other),
    }
}

/// Treats an empty variable the same as an unset one, as shells often export `VAR=`.
fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// Expands a leading `~/` (or a bare `~`) to `home`; other values are used verbatim.
fn expand_tilde(value: &str, home: Option<&str>) -> Result<PathBuf, ConfigError> {
    if value == "~" {
        return home.map(PathBuf::from).ok_or(ConfigError::NoHome);
    }
    match value.strip_prefix("~/") {
        Some(rest) => {
            let home = home.ok_or(ConfigError::NoHome)?;
            Ok(PathBuf::from(home).join(rest))
        }
        None => Ok(PathBuf::from(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn default_paths_under_home() {
        let env = env_of(&[("HOME", "/home/u")]);
        let p = Paths::resolve(None, false, &env).unwrap();
        assert_eq!(p.state_dir, PathBuf::from("/home/u/.openclaw"));
        assert_eq!(
            p.config_path,
            PathBuf::from("/home/u/.openclaw/openclaw.json")
        );
        assert_eq!(p.profile, None);
        assert!(!p.dev);
        assert_eq!(
            p.lock_path(),
            PathBuf::from("/home/u/.openclaw/gateway.lock")
        );
        assert_eq!(
            p.default_log_file(),
            PathBuf::from("/home/u/.openclaw/logs/gateway.log")
        );
    }

    #[test]
    fn explicit_profile_beats_env_profile() {
        let env = env_of(&[("HOME", "/h"), (PROFILE_ENV, "work")]);
        let p = Paths::resolve(Some("play"), false, &env).unwrap();
        assert_eq!(p.profile.as_deref(), Some("play"));
        assert_eq!(p.state_dir, PathBuf::from("/h/.openclaw-play"));

        let p = Paths::resolve(None, false, &env).unwrap();
        assert_eq!(p.state_dir, PathBuf::from("/h/.openclaw-work"));
    }

    #[test]
    fn empty_env_profile_means_none() {
        let env = env_of(&[("HOME", "/h"), (PROFILE_ENV, "")]);
        let p = Paths::resolve(None, false, &env).unwrap();
        assert_eq!(p.profile, None);
        assert_eq!(p.state_dir, PathBuf::from("/h/.openclaw"));
    }

    #[test]
    fn dev_flag_selects_dev_profile_over_env() {
        let env = env_of(&[("HOME", "/h"), (PROFILE_ENV, "work")]);
        let p = Paths::resolve(None, true, &env).unwrap();
        assert_eq!(p.profile.as_deref(), Some("dev"));
        assert!(p.dev);
        assert_eq!(p.state_dir, PathBuf::from("/h/.openclaw-dev"));

        let p = Paths::resolve(Some("dev"), true, &env).unwrap();
        assert!(p.dev);

        let p = Paths::resolve(Some("dev"), false, &env).unwrap();
        assert!(p.dev, "an explicit dev profile is the same as --dev");
    }

    #[test]
    fn dev_conflicts_with_other_explicit_profile() {
        let env = env_of(&[("HOME", "/h")]);
        let err = Paths::resolve(Some("work"), true, &env).unwrap_err();
        assert!(matches!(err, ConfigError::ProfileConflict { .. }), "{err}");
    }

    #[test]
    fn bad_profile_names_rejected() {
        let env = env_of(&[("HOME", "/h")]);
        let long = "a".repeat(65);
        for bad in ["", "../x", "a b", "x/y", "é", long.as_str()] {
            let err = Paths::resolve(Some(bad), false, &env).unwrap_err();
            assert!(
                matches!(err, ConfigError::BadProfile { .. }),
                "{bad}: {err}"
            );
        }
        let env = env_of(&[("HOME", "/h"), (PROFILE_ENV, "no/slash")]);
        let err = Paths::resolve(None, false, &env).unwrap_err();
        assert!(matches!(err, ConfigError::BadProfile { .. }));
        let ok = "A-z_9".to_string() + &"x".repeat(59);
        assert!(Paths::resolve(Some(&ok), false, &env_of(&[("HOME", "/h")])).is_ok());
    }

    #[test]
    fn state_dir_env_overrides_profile_dir() {
        let env = env_of(&[("HOME", "/h"), (STATE_DIR_ENV, "/srv/oc")]);
        let p = Paths::resolve(Some("work"), false, &env).unwrap();
        assert_eq!(p.state_dir, PathBuf::from("/srv/oc"));
        assert_eq!(p.config_path, PathBuf::from("/srv/oc/openclaw.json"));
        assert_eq!(p.profile.as_deref(), Some("work"));
    }

    #[test]
    fn empty_state_dir_env_is_ignored() {
        let env = env_of(&[("HOME", "/h"), (STATE_DIR_ENV, "")]);
        let p = Paths::resolve(None, false, &env).unwrap();
        assert_eq!(p.state_dir, PathBuf::from("/h/.openclaw"));
    }

    #[test]
    fn config_path_env_and_tilde_expansion() {
        let env = env_of(&[
            ("HOME", "/h"),
            (STATE_DIR_ENV, "~/state"),
            (CONFIG_PATH_ENV, "~/conf/oc.json5"),
        ]);
        let p = Paths::resolve(None, false, &env).unwrap();
        assert_eq!(p.state_dir, PathBuf::from("/h/state"));
        assert_eq!(p.config_path, PathBuf::from("/h/conf/oc.json5"));
    }

    #[test]
    fn no_home_is_an_error_unless_state_dir_given() {
        let env = env_of(&[]);
        let err = Paths::resolve(None, false, &env).unwrap_err();
        assert!(matches!(err, ConfigError::NoHome));
        assert!(err.to_string().contains("OPENCLAW_STATE_DIR"));

        let env = env_of(&[("HOME", ""), (STATE_DIR_ENV, "/s")]);
        let p = Paths::resolve(None, false, &env).unwrap();
        assert_eq!(p.state_dir, PathBuf::from("/s"));

        let env = env_of(&[(STATE_DIR_ENV, "~/s")]);
        assert!(matches!(
            Paths::resolve(None, false, &env),
            Err(ConfigError::NoHome)
        ));
    }

    #[test]
    fn from_process_env_reads_the_real_environment() {
        // Whatever this process's environment is, the result must be what it says. An
        // explicit profile makes the answer independent of the profile variable.
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let home = var("HOME");
        let state = var(STATE_DIR_ENV);
        let got = Paths::from_process_env(Some("probe"), false);
        if home.is_none() && state.as_deref().is_none_or(|s| s.starts_with('~')) {
            assert!(matches!(got, Err(ConfigError::NoHome)), "{got:?}");
            return;
        }
        let p = got.expect("resolves with HOME or OPENCLAW_STATE_DIR set");
        let want_state = match &state {
            Some(s) => expand_tilde(s, home.as_deref()).unwrap(),
            None => PathBuf::from(home.as_deref().unwrap()).join(".openclaw-probe"),
        };
        assert_eq!(p.state_dir, want_state);
        let want_config = match var(CONFIG_PATH_ENV) {
            Some(c) => expand_tilde(&c, home.as_deref()).unwrap(),
            None => want_state.join(CONFIG_FILE_NAME),
        };
        assert_eq!(p.config_path, want_config);
        assert_eq!(p.profile.as_deref(), Some("probe"));
        assert!(!p.dev);

        let d = Paths::from_process_env(None, true).expect("dev resolves too");
        assert_eq!(d.profile.as_deref(), Some("dev"));
        assert!(d.dev);
        if state.is_none() {
            assert_eq!(
                d.state_dir,
                PathBuf::from(home.as_deref().unwrap()).join(".openclaw-dev")
            );
        }
    }
}
