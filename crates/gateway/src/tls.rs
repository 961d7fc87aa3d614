//! TLS on the gateway port (`gateway.tls`): the certificate the port serves, where it
//! comes from, and how a renewed one replaces it without a restart.
//!
//! * **Files** (`certPath` + `keyPath`): the certificate file is a PEM chain, leaf first;
//!   `caPath`, when set, is a PEM bundle of intermediates appended to the served chain
//!   (for a certificate file that carries the leaf only). It is not used to verify
//!   clients: the gateway authenticates clients by token or password, not certificates.
//! * **autoGenerate** (no files given): a self-signed certificate for `localhost`,
//!   `127.0.0.1`, `::1` and the host name is made once into `<stateDir>/tls/`
//!   (`gateway-cert.pem`, `gateway-key.pem`, the key owner-only) and reused on later starts.
//!
//! The served pair sits behind a [`CertResolver`]: a new pair applies to handshakes that
//! start after it is installed, while connections already established keep the session
//! they negotiated. The files are watched (their directories, since renewal tools such as
//! certbot replace files and symlinks rather than writing in place) and re-read after a
//! quiet period, and again on every config reload. A new pair that cannot be used —
//! missing, unparsable, or a key that does not belong to the certificate — is refused:
//! the old pair keeps serving, a warning is logged, and the error is shown in `health`
//! and `status` (`tls.lastError`) until a good pair arrives.

use jiff::tz::TimeZone;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use openclaw_config::edge::TlsConfig;
use openclaw_config::{AtomicWrite, Expect, write_atomic};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::sys::now_ms;

/// File name of the generated certificate under `<stateDir>/tls/`.
pub const GENERATED_CERT: &str = "gateway-cert.pem";
/// File name of the generated private key under `<stateDir>/tls/`.
pub const GENERATED_KEY: &str = "gateway-key.pem";
/// How long the watcher waits for a burst of file events to end before re-reading.
const DEBOUNCE: Duration = Duration::from_millis(250);
/// Validity of a generated certificate: it is for local use and is never renewed by a
/// tool, so it outlives any realistic install rather than expiring on the operator.
const GENERATED_DAYS: i64 = 3650;

/// Why a certificate pair could not be used. Each message names the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read the TLS {what} {} ({source}); check gateway.tls.{key} and the file's permissions", path.display())]
    Read {
        /// "certificate", "private key" or "CA bundle".
        what: &'static str,
        /// The config key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but holds no usable PEM data.
    #[error("{}: {message}; {fix}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
        /// What to do.
        fix: &'static str,
    },
    /// The private key does not belong to the certificate.
    #[error("the TLS private key {} does not match the certificate {} ({reason}); give the key the certificate was issued for", key.display(), cert.display())]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        reason: String,
    },
    /// The self-signed certificate could not be made or stored.
    #[error("cannot generate the self-signed TLS certificate in {}: {message}", dir.display())]
    Generate {
        /// `<stateDir>/tls`.
        dir: PathBuf,
        /// What failed and what to do.
        message: String,
    },
    /// The TLS server configuration could not be built.
    #[error("cannot set up TLS: {0}")]
    Config(String),
}

/// Where the served pair comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `certPath`/`keyPath` (and `caPath`) from the config.
    Files,
    /// The self-signed pair generated in the state dir.
    AutoGenerate,
}

impl Source {
    fn name(&self) -> &'static str {
        match self {
            Source::Files => "files",
            Source::AutoGenerate => "autoGenerate",
        }
    }
}

/// The files a pair is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Files {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM bundle of intermediates appended to the chain.
    pub ca: Option<PathBuf>,
    /// Which of the two ways these files came about.
    pub source: Source,
}

impl Files {
    /// The files `cfg` names, or the generated pair's paths under `state_dir` when it asks
    /// for `autoGenerate` without files. `None` when TLS is off.
    pub fn from_config(cfg: &TlsConfig, state_dir: &Path) -> Option<Files> {
        if !cfg.enabled {
            return None;
        }
        match (&cfg.cert_path, &cfg.key_path) {
            (Some(c), Some(k)) => Some(Files {
                cert: PathBuf::from(c),
                key: PathBuf::from(k),
                ca: cfg.ca_path.as_ref().map(PathBuf::from),
                source: Source::Files,
            }),
            _ => {
                let (cert, key) = generated_paths(state_dir);
                Some(Files {
                    cert,
                    key,
                    ca: cfg.ca_path.as_ref().map(PathBuf::from),
                    source: Source::AutoGenerate,
                })
            }
        }
    }
}

/// `<stateDir>/tls/gateway-cert.pem` and `gateway-key.pem`.
pub fn generated_paths(state_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = state_dir.join("tls");
    (dir.join(GENERATED_CERT), dir.join(GENERATED_KEY))
}

/// A pair read from its files and checked.
struct Loaded {
    key: Arc<CertifiedKey>,
    fingerprint: [u8; 32],
    not_after_ms: Option<u64>,
}

/// The certificate the port serves right now; swapped whole when a renewed pair loads.
#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertResolver {
    fn get(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = key;
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// What `health`/`status` say about the served pair.
#[derive(Clone, Debug)]
struct Status {
    fingerprint: [u8; 32],
    not_after_ms: Option<u64>,
    last_error: Option<String>,
    reloaded_at: Option<u64>,
}

/// TLS for one listener generation: the acceptor its connections handshake with, the
/// served pair, and the watcher that renews it.
pub struct Tls {
    files: Files,
    provider: Arc<CryptoProvider>,
    resolver: Arc<CertResolver>,
    acceptor: tokio_rustls::TlsAcceptor,
    status: Mutex<Status>,
    /// Kept for its lifetime: dropping it stops the watch (and so the renewal task).
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish()
    }
}

impl Tls {
    /// Sets up TLS as `cfg` says, generating the self-signed pair first when it asks for
    /// one that does not exist yet. `None` when TLS is off. Blocking file I/O (and key
    /// generation): call it from `spawn_blocking`.
    pub fn load(cfg: &TlsConfig, state_dir: &Path) -> Result<Option<Arc<Tls>>, TlsError> {
        let Some(files) = Files::from_config(cfg, state_dir) else {
            return Ok(None);
        };
        if files.source == Source::AutoGenerate {
            ensure_generated(&files.cert, &files.key)?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let loaded = load_pair(&files, &provider)?;
        let resolver = Arc::new(CertResolver {
            current: RwLock::new(loaded.key.clone()),
        });
        let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        // The port speaks HTTP/1.1 only (WebSocket upgrades included).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Arc::new(Tls {
            files,
            provider,
            resolver,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            status: Mutex::new(Status {
                fingerprint: loaded.fingerprint,
                not_after_ms: loaded.not_after_ms,
                last_error: None,
                reloaded_at: None,
            }),
            watcher: Mutex::new(None),
        })))
    }

    /// The acceptor new connections handshake with (it always serves the current pair).
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        self.acceptor.clone()
    }

    /// The files the pair is read from.
    pub fn files(&self) -> &Files {
        &self.files
    }

    /// SHA-256 of the leaf certificate being served.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.lock_status().fingerprint
    }

    fn lock_status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Re-reads the files and installs the pair if it changed. A pair that cannot be used
    /// is refused (the current one keeps serving) and recorded as `lastError`. Returns
    /// whether a new pair was installed. Blocking file I/O: call from `spawn_blocking`.
    pub fn reload(&self) -> Result<bool, TlsError> {
        match load_pair(&self.files, &self.provider) {
            Ok(loaded) => {
                let mut st = self.lock_status();
                st.last_error = None;
                let current = self.resolver.get();
                if loaded.fingerprint == st.fingerprint && same_chain(&current, &loaded.key) {
                    return Ok(false);
                }
                self.resolver.set(loaded.key);
                st.fingerprint = loaded.fingerprint;
                st.not_after_ms = loaded.not_after_ms;
                st.reloaded_at = Some(now_ms());
                drop(st);
                tracing::info!(target: "gateway", cert = %self.files.cert.display(), fingerprint = %fingerprint_hex(&loaded.fingerprint), "TLS certificate renewed: new connections get the new certificate");
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(target: "gateway", error = %e, "refusing the new TLS certificate pair; still serving the previous one");
                self.lock_status().last_error = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Starts watching the pair's files: a change is re-read (see [`Tls::reload`]) once
    /// events have been quiet for 250 ms. The watch ends when this value is dropped. Must
    /// be called on the runtime.
    pub fn watch(self: &Arc<Self>) {
        use notify::Watcher;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let mut watcher = match notify::recommended_watcher(
            move |res: notify::Result<notify::Event>| {
                if let Ok(ev) = res
                    && !matches!(ev.kind, notify::EventKind::Access(_))
                {
                    let _ = tx.send(());
                }
            },
        ) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(target: "gateway", error = %e, "cannot watch the TLS certificate files; a renewed certificate is picked up on the next config reload or restart");
                return;
            }
        };
        for dir in self.watch_dirs() {
            if let Err(e) = watcher.watch(&dir, notify::RecursiveMode::NonRecursive) {
                tracing::warn!(target: "gateway", dir = %dir.display(), error = %e, "cannot watch this TLS certificate directory; a renewed certificate there is picked up on the next config reload or restart");
            }
        }
        *self.watcher.lock().unwrap_or_else(|e| e.into_inner()) = Some(watcher);
        let me: Weak<Tls> = Arc::downgrade(self);
        tokio::spawn(async move {
            while rx.recv().await.is_some() {
                // Let a burst (key and certificate replaced one after the other) finish.
                loop {
                    tokio::time::sleep(DEBOUNCE).await;
                    let mut more = false;
                    while rx.try_recv().is_ok() {
                        more = true;
                    }
                    if !more {
                        break;
                    }
                }
                let Some(tls) = me.upgrade() else { return };
                let _ = tokio::task::spawn_blocking(move || tls.reload()).await;
            }
        });
    }

    /// The directories holding the files and, for symlinks, their targets.
    fn watch_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        let files = [
            Some(&self.files.cert),
            Some(&self.files.key),
            self.files.ca.as_ref(),
        ];
        for f in files.into_iter().flatten() {
            let target = std::fs::canonicalize(f).ok();
            for p in [Some(f.clone()), target].into_iter().flatten() {
                let dir = match p.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
        dirs
    }

    /// The `tls` object of `health` and `status`.
    pub fn status_json(&self) -> Value {
        let st = self.lock_status().clone();
        let mut v = json!({
            "enabled": true,
            "source": self.files.source.name(),
            "certPath": self.files.cert,
            "keyPath": self.files.key,
            "fingerprintSha256": fingerprint_hex(&st.fingerprint),
            "notAfter": st.not_after_ms,
        });
        if let Some(ca) = &self.files.ca {
            v["caPath"] = json!(ca);
        }
        if let Some(e) = st.last_error {
            v["lastError"] = json!(e);
        }
        if let Some(t) = st.reloaded_at {
            v["reloadedAt"] = json!(t);
        }
        v
    }
}

/// The `tls` object when TLS is off.
pub fn disabled_json() -> Value {
    json!({"enabled": false})
}

fn same_chain(a: &CertifiedKey, b: &CertifiedKey) -> bool {
    a.cert == b.cert && a.key.public_key() == b.key.public_key()
}

fn load_pair(files: &Files, provider: &CryptoProvider) -> Result<Loaded, TlsError> {
    let read = |what, key, path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            what,
            key,
            path: path.to_path_buf(),
            source,
        })
    };
    let cert_pem = read("certificate", "certPath", &files.cert)?;
    let mut chain = parse_certs(&files.cert, &cert_pem)?;
    if let Some(ca) = &files.ca {
        let ca_pem = read("CA bundle", "caPath", ca)?;
        chain.extend(parse_certs(ca, &ca_pem)?);
    }
    let key_pem = read("private key", "keyPath", &files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Invalid {
        path: files.key.clone(),
        message: format!("no usable PEM private key ({e})"),
        fix: "give a PEM file with a PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key",
    })?;
    let leaf = chain[0].clone();
    let certified = CertifiedKey::from_der(chain, key, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::Mismatch {
            cert: files.cert.clone(),
            key: files.key.clone(),
            reason: e.to_string(),
        },
        other => TlsError::Invalid {
            path: files.key.clone(),
            message: format!("the private key cannot be used ({other})"),
            fix: "give an RSA, ECDSA (P-256/P-384) or Ed25519 key in PEM",
        },
    })?;
    Ok(Loaded {
        key: Arc::new(certified),
        fingerprint: sha256(&leaf),
        not_after_ms: not_after_ms(&leaf),
    })
}

fn parse_certs(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Invalid {
            path: path.to_path_buf(),
            message: format!("malformed PEM ({e})"),
            fix: "give PEM certificates (-----BEGIN CERTIFICATE-----)",
        })?;
    if certs.is_empty() {
        return Err(TlsError::Invalid {
            path: path.to_path_buf(),
            message: "holds no PEM certificate".into(),
            fix: "give PEM certificates (-----BEGIN CERTIFICATE-----), leaf first",
        });
    }
    Ok(certs)
}

/// Makes the self-signed pair unless both files exist. One present without the other is
/// refused rather than overwritten: it may be an operator's file.
fn ensure_generated(cert: &Path, key: &Path) -> Result<(), TlsError> {
    let dir = cert.parent().unwrap_or(Path::new(".")).to_path_buf();
    match (cert.exists(), key.exists()) {
        (true, true) => return Ok(()),
        (true, false) | (false, true) => {
            let (have, missing) = if cert.exists() {
                (cert, key)
            } else {
                (key, cert)
            };
            return Err(TlsError::Generate {
                dir,
                message: format!(
                    "{} exists but {} does not; remove {} to have a new pair generated, or restore the missing file",
                    have.display(),
                    missing.display(),
                    have.display()
                ),
            });
        }
        (false, false) => {}
    }
    let gen_err = |message: String| TlsError::Generate {
        dir: dir.clone(),
        message,
    };
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let host = crate::sys::hostname();
    if host != "localhost"
        && !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        names.push(host);
    }
    let mut params = rcgen::CertificateParams::new(names).map_err(|e| gen_err(e.to_string()))?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "OpenClaw Gateway (self-signed)");
    params.distinguished_name = dn;
    let today = TimeZone::UTC.to_datetime(jiff::Timestamp::now()).date();
    let ymd = |days: i64| {
        today
            .checked_add(jiff::Span::new().days(days))
            .map(|d| rcgen::date_time_ymd(i32::from(d.year()), d.month() as u8, d.day() as u8))
            .map_err(|e| gen_err(e.to_string()))
    };
    params.not_before = ymd(-1)?;
    params.not_after = ymd(GENERATED_DAYS)?;
    let key_pair = rcgen::KeyPair::generate().map_err(|e| gen_err(e.to_string()))?;
    let certificate = params
        .self_signed(&key_pair)
        .map_err(|e| gen_err(e.to_string()))?;
    let write = |path: &Path, body: &[u8], mode: u32| {
        write_atomic(
            path,
            body,
            &AtomicWrite {
                backup: false,
                new_mode: mode,
                expect: Expect::Missing,
            },
        )
        .map_err(|e| gen_err(e.to_string()))
    };
    // The key first: a certificate without its key would block the next start.
    write(key, key_pair.serialize_pem().as_bytes(), 0o600)?;
    write(cert, certificate.pem().as_bytes(), 0o644)?;
    tracing::info!(target: "gateway", cert = %cert.display(), "generated a self-signed TLS certificate (gateway.tls.autoGenerate); give clients this file (--tls-ca) or its fingerprint");
    Ok(())
}

/// SHA-256 of a DER certificate.
pub fn sha256(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// A fingerprint as OpenClaw prints it: uppercase hex pairs separated by colons.
pub fn fingerprint_hex(fp: &[u8; 32]) -> String {
    let mut s = String::with_capacity(95);
    for (i, b) in fp.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// The leaf (first) certificate of a PEM file, as DER. Blocking file I/O.
pub fn read_leaf(path: &Path) -> Result<CertificateDer<'static>, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::Read {
        what: "certificate",
        key: "certPath",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse_certs(path, &pem)?.swap_remove(0))
}

/// A certificate's `notAfter` in Unix milliseconds, read from its DER (`None` when the
/// encoding is not the X.509 layout).
pub fn not_after_ms(der: &[u8]) -> Option<u64> {
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
    // serialNumber, signature, issuer, validity SEQUENCE { notBefore, notAfter }, ... } }
    let (_, cert, _) = der_item(der)?;
    let (_, mut tbs, _) = der_item(cert)?;
    let (tag, _, rest) = der_item(tbs)?;
    if tag == 0xa0 {
        tbs = rest;
    }
    for _ in 0..3 {
        tbs = der_item(tbs)?.2;
    }
    let (_, validity, _) = der_item(tbs)?;
    let (_, _, rest) = der_item(validity)?;
    let (tag, time, _) = der_item(rest)?;
    let text = std::str::from_utf8(time).ok()?;
    let text = text.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = text.get(..2)?.parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, text.get(2..)?)
        }
        0x18 => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| rest.get(r)?.parse::<i8>().ok();
    let at = jiff::civil::DateTime::new(
        i16::try_from(year).ok()?,
        num(0..2)?,
        num(2..4)?,
        num(4..6)?,
        num(6..8)?,
        num(8..10)?,
        0,
    )
    .ok()?;
    let ms = TimeZone::UTC.to_timestamp(at).ok()?.as_millisecond();
    u64::try_from(ms).ok()
}

/// One DER item: (tag, contents, what follows).
fn der_item(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, head) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*b.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let end = head.checked_add(len)?;
    Some((tag, b.get(head..end)?, b.get(end..)?))
}

/// Whether a connection's first byte starts a TLS handshake record (a ClientHello).
pub fn is_handshake_record(first: u8) -> bool {
    first == 0x16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_after_is_read_to_the_second() {
        let key = rcgen::KeyPair::generate().unwrap();
        for (y, m, d, ms) in [
            (2000, 3, 1, 951_868_800_000u64),
            (2049, 12, 31, 2_524_521_600_000),
            (2050, 1, 1, 2_524_608_000_000),
        ] {
            let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
            params.not_after = rcgen::date_time_ymd(y, m, d);
            let cert = params.self_signed(&key).unwrap();
            assert_eq!(not_after_ms(cert.der()), Some(ms), "{y}-{m}-{d}");
        }
    }

    #[test]
    fn generated_pair_is_reused_and_parsed() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = TlsConfig {
            enabled: true,
            auto_generate: true,
            ..Default::default()
        };
        let a = Tls::load(&cfg, dir.path()).unwrap().unwrap();
        let (cert, key) = generated_paths(dir.path());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let b = Tls::load(&cfg, dir.path()).unwrap().unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint(), "reused, not regenerated");
        let leaf = read_leaf(&cert).unwrap();
        let after = not_after_ms(&leaf).unwrap();
        let years = (after - now_ms()) / (365 * 86_400_000);
        assert!((9..=10).contains(&years), "{years}");
        assert_eq!(fingerprint_hex(&a.fingerprint()).len(), 95);
        // A key that is not the certificate's is refused and the old pair kept.
        let other = rcgen::KeyPair::generate().unwrap();
        std::fs::write(&key, other.serialize_pem()).unwrap();
        let e = a.reload().unwrap_err();
        assert!(matches!(e, TlsError::Mismatch { .. }), "{e}");
        assert!(
            a.status_json()["lastError"]
                .as_str()
                .unwrap()
                .contains("does not match")
        );
        assert_eq!(a.fingerprint(), b.fingerprint());
    }
}
