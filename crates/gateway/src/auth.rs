//! Shared-secret authentication and the failed-attempt rate limiter.
//!
//! Both the WebSocket handshake and the HTTP API authenticate against the same
//! [`AuthVerifier`], and both count failures in the same [`RateLimiter`], so an attacker
//! cannot get twice the attempts by alternating transports.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openclaw_config::{AuthMode, RateLimitConfig};
use openclaw_protocol::error::auth_detail;
use subtle::ConstantTimeEq;

/// Credentials a client presented, from `connect.params.auth` or an HTTP header.
#[derive(Default)]
pub struct Presented<'a> {
    /// A token, if one was sent.
    pub token: Option<&'a str>,
    /// A password, if one was sent.
    pub password: Option<&'a str>,
}

/// Why authentication failed. The detail code is what clients branch on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    /// `AUTH_TOKEN_MISMATCH`, `AUTH_PASSWORD_MISSING`, …
    pub detail_code: &'static str,
    /// Human text starting with `unauthorized`, saying what to do.
    pub message: String,
}

/// Checks presented credentials against the configured secret in constant time.
pub struct AuthVerifier {
    mode: AuthMode,
    secret: Option<String>,
}

impl std::fmt::Debug for AuthVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthVerifier")
            .field("mode", &self.mode)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl AuthVerifier {
    /// A verifier for `mode` with the resolved secret (token or password), if any.
    pub fn new(mode: AuthMode, secret: Option<String>) -> Self {
        Self {
            mode,
            secret: secret.filter(|s| !s.is_empty()),
        }
    }

    /// The configured mode.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// Whether a secret is configured, i.e. whether clients must present one.
    pub fn requires_secret(&self) -> bool {
        matches!(self.mode, AuthMode::Token | AuthMode::Password) && self.secret.is_some()
    }

    /// Verifies credentials. With no secret configured (allowed only on loopback binds)
    /// or in `none` mode every client is accepted.
    pub fn verify(&self, presented: &Presented<'_>) -> Result<(), AuthFailure> {
        let Some(secret) = self.secret.as_deref() else {
            return Ok(());
        };
        let (given, missing, mismatch, what, flag) = match self.mode {
            AuthMode::Token => (
                presented.token,
                auth_detail::TOKEN_MISSING,
                auth_detail::TOKEN_MISMATCH,
                "token",
                "--token or OPENCLAW_GATEWAY_TOKEN",
            ),
            AuthMode::Password => (
                presented.password,
                auth_detail::PASSWORD_MISSING,
                auth_detail::PASSWORD_MISMATCH,
                "password",
                "--password or OPENCLAW_GATEWAY_PASSWORD",
            ),
            AuthMode::None | AuthMode::TrustedProxy => return Ok(()),
        };
        match given {
            None | Some("") => Err(AuthFailure {
                detail_code: missing,
                message: format!(
                    "unauthorized: gateway {what} missing (pass the gateway {what} with {flag})"
                ),
            }),
            Some(given) if bool::from(given.as_bytes().ct_eq(secret.as_bytes())) => Ok(()),
            Some(_) => Err(AuthFailure {
                detail_code: mismatch,
                message: format!(
                    "unauthorized: gateway {what} mismatch (the client must send the gateway's \
                     gateway.auth.{what}; pass it with {flag})"
                ),
            }),
        }
    }
}

/// Which secret an attempt presented. Failures are counted per kind, and only a success
/// with the same kind clears them: a valid hook token says nothing about the guesses at
/// the gateway token made from the same address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Credential {
    /// The gateway token or password (WebSocket connect, `/v1/*`, `/tools/invoke`).
    Gateway,
    /// The hooks token (`/hooks/*`).
    Hook,
    /// A channel's webhook secret (e.g. Telegram's `X-Telegram-Bot-Api-Secret-Token`).
    ChannelWebhook,
}

/// Who is attempting: the address, the browser origin if the request carried one, and the
/// credential kind.
#[derive(Clone, Copy, Debug)]
pub struct Attempt<'a> {
    /// The peer address.
    pub ip: IpAddr,
    /// The `Origin` header, if any.
    pub origin: Option<&'a str>,
    /// What was presented.
    pub credential: Credential,
}

impl<'a> Attempt<'a> {
    /// An attempt at the gateway secret.
    pub fn gateway(ip: IpAddr, origin: Option<&'a str>) -> Self {
        Attempt {
            ip,
            origin,
            credential: Credential::Gateway,
        }
    }

    /// An attempt at a channel's webhook secret.
    pub fn channel_webhook(ip: IpAddr, origin: Option<&'a str>) -> Self {
        Attempt {
            ip,
            origin,
            credential: Credential::ChannelWebhook,
        }
    }

    /// An attempt at the hooks token.
    pub fn hook(ip: IpAddr, origin: Option<&'a str>) -> Self {
        Attempt {
            ip,
            origin,
            credential: Credential::Hook,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    ip: IpAddr,
    credential: Credential,
    /// Lower-cased origin: on loopback, browser lockouts are kept per origin so one page's
    /// guessing does not lock out another origin (or the local CLI, which sends none).
    origin: Option<String>,
}

/// Failed-attempt counter with lockout (`gateway.auth.rateLimit`), per address and
/// credential kind.
///
/// After `maxAttempts` failures inside `windowMs` the key is locked out for `lockoutMs`;
/// while locked out, even a correct secret is refused, so guessing cannot continue at full
/// speed. Loopback is exempt by default (local tools are trusted and tests should not lock
/// themselves out), but never for a request that carries an `Origin`: that is a browser,
/// and any web page can make one from the operator's own machine.
pub struct RateLimiter {
    cfg: std::sync::RwLock<RateLimitConfig>,
    entries: Mutex<HashMap<Key, Entry>>,
}

struct Entry {
    window_start: Instant,
    failures: u32,
    locked_until: Option<Instant>,
}

/// Entries kept before expired ones are swept, bounding memory under address churn.
const SWEEP_THRESHOLD: usize = 4096;

impl RateLimiter {
    /// A limiter with the given policy.
    pub fn new(cfg: RateLimitConfig) -> Self {
        Self {
            cfg: std::sync::RwLock::new(cfg),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Replaces the policy (hot reload of `gateway.auth.rateLimit`); counts are kept.
    pub fn set_config(&self, cfg: RateLimitConfig) {
        *self.cfg.write().unwrap_or_else(|e| e.into_inner()) = cfg;
    }

    fn cfg(&self) -> RateLimitConfig {
        self.cfg.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The counter this attempt belongs to, or `None` when it is exempt.
    fn key(&self, a: &Attempt<'_>) -> Option<Key> {
        let ip = a.ip.to_canonical();
        if a.origin.is_none() && self.cfg().exempt_loopback && ip.is_loopback() {
            return None;
        }
        Some(Key {
            ip,
            credential: a.credential,
            origin: a.origin.map(|o| o.trim().to_ascii_lowercase()),
        })
    }

    /// If this attempt's key is locked out, how long until it may try again.
    pub fn locked(&self, a: &Attempt<'_>) -> Option<Duration> {
        let key = self.key(a)?;
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let until = entries.get(&key)?.locked_until?;
        (until > now).then(|| until - now)
    }

    /// Records a failed attempt; returns the lockout duration if this failure started one.
    pub fn record_failure(&self, a: &Attempt<'_>) -> Option<Duration> {
        let key = self.key(a)?;
        let now = Instant::now();
        let cfg = self.cfg();
        let window = Duration::from_millis(cfg.window_ms);
        let lockout = Duration::from_millis(cfg.lockout_ms);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= SWEEP_THRESHOLD {
            entries.retain(|_, e| {
                e.locked_until.is_some_and(|u| u > now) || now - e.window_start < window
            });
        }
        let entry = entries.entry(key).or_insert(Entry {
            window_start: now,
            failures: 0,
            locked_until: None,
        });
        if entry.locked_until.is_some_and(|u| u <= now) {
            entry.locked_until = None;
            entry.failures = 0;
            entry.window_start = now;
        }
        if now - entry.window_start >= window {
            entry.window_start = now;
            entry.failures = 0;
        }
        entry.failures += 1;
        if entry.failures >= cfg.max_attempts {
            entry.locked_until = Some(now + lockout);
            return Some(lockout);
        }
        None
    }

    /// Clears the failure count of this attempt's key (same address, origin and credential
    /// kind only) after a success.
    pub fn record_success(&self, a: &Attempt<'_>) {
        let Some(key) = self.key(a) else {
            return;
        };
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(&key);
    }
}

/// Message for a rate-limited client.
pub fn rate_limited_message(retry_after: Duration) -> String {
    format!(
        "unauthorized: too many failed authentication attempts from this address; retry in {}s",
        retry_after.as_secs().max(1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(max: u32, exempt: bool) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            max_attempts: max,
            window_ms: 60_000,
            lockout_ms: 300_000,
            exempt_loopback: exempt,
        })
    }

    #[test]
    fn token_checks() {
        let v = AuthVerifier::new(AuthMode::Token, Some("s3cret".into()));
        assert!(
            v.verify(&Presented {
                token: Some("s3cret"),
                password: None
            })
            .is_ok()
        );
        let e = v
            .verify(&Presented {
                token: Some("nope"),
                password: None,
            })
            .unwrap_err();
        assert_eq!(e.detail_code, "AUTH_TOKEN_MISMATCH");
        assert!(e.message.starts_with("unauthorized"));
        let e = v.verify(&Presented::default()).unwrap_err();
        assert_eq!(e.detail_code, "AUTH_TOKEN_MISSING");
        let p = AuthVerifier::new(AuthMode::Password, Some("pw".into()));
        let e = p
            .verify(&Presented {
                token: Some("pw"),
                password: None,
            })
            .unwrap_err();
        assert_eq!(e.detail_code, "AUTH_PASSWORD_MISSING");
        assert!(
            p.verify(&Presented {
                token: None,
                password: Some("pw")
            })
            .is_ok()
        );
        let open = AuthVerifier::new(AuthMode::Token, None);
        assert!(open.verify(&Presented::default()).is_ok());
        assert!(!format!("{v:?}").contains("s3cret"));
    }

    #[test]
    fn locks_out_after_max_attempts() {
        let l = limiter(3, true);
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        assert!(l.record_failure(&Attempt::gateway(ip, None)).is_none());
        assert!(l.record_failure(&Attempt::gateway(ip, None)).is_none());
        assert!(l.locked(&Attempt::gateway(ip, None)).is_none());
        assert!(l.record_failure(&Attempt::gateway(ip, None)).is_some());
        let left = l.locked(&Attempt::gateway(ip, None)).unwrap();
        assert!(left > Duration::from_secs(299));
        let other: IpAddr = "10.0.0.10".parse().unwrap();
        assert!(l.locked(&Attempt::gateway(other, None)).is_none());
    }

    #[test]
    fn loopback_exempt_unless_configured() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let l = limiter(1, true);
        assert!(l.record_failure(&Attempt::gateway(lo, None)).is_none());
        assert!(l.locked(&Attempt::gateway(lo, None)).is_none());
        let l = limiter(1, false);
        assert!(l.record_failure(&Attempt::gateway(lo, None)).is_some());
        assert!(l.locked(&Attempt::gateway(lo, None)).is_some());
    }

    #[test]
    fn a_browser_origin_is_never_exempt_and_is_kept_apart() {
        let l = limiter(2, true);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let evil = Attempt::gateway(lo, Some("https://evil.example"));
        assert!(l.record_failure(&evil).is_none());
        assert!(l.record_failure(&evil).is_some());
        assert!(l.locked(&evil).is_some());
        // Another origin, and the local CLI (no origin, exempt), are not locked out.
        assert!(
            l.locked(&Attempt::gateway(lo, Some("http://127.0.0.1:18789")))
                .is_none()
        );
        assert!(l.locked(&Attempt::gateway(lo, None)).is_none());
    }

    #[test]
    fn a_hook_success_does_not_clear_gateway_failures() {
        let l = limiter(5, false);
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let gw = Attempt::gateway(ip, None);
        let hook = Attempt::hook(ip, None);
        for _ in 0..4 {
            assert!(l.record_failure(&gw).is_none());
            l.record_success(&hook);
        }
        // The fifth gateway guess locks out: the hook successes did not reset the count.
        assert!(l.record_failure(&gw).is_some());
        assert!(l.locked(&gw).is_some());
        assert!(l.locked(&hook).is_none(), "the hook token is counted apart");
        l.record_success(&gw);
        assert!(l.locked(&gw).is_none());
    }
}
