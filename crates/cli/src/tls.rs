//! How the CLI trusts a `wss://` gateway: the system's roots, a CA bundle (`--tls-ca`), a
//! pinned leaf fingerprint (`--tls-fingerprint`, or `gateway.remote.tlsFingerprint`), or,
//! for this machine's own TLS gateway, the certificate file it serves.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use openclaw_gateway::tls::{fingerprint_hex, sha256};

/// Which certificates a `wss://` connection accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The operating system's trusted roots (a publicly issued certificate).
    System,
    /// Only certificates issuing from the CAs in this PEM bundle (`--tls-ca`); a
    /// self-signed gateway certificate may itself be the bundle.
    CaFile(PathBuf),
    /// Exactly the leaf certificate with this SHA-256 (`--tls-fingerprint`,
    /// `gateway.remote.tlsFingerprint`); the host name is not checked.
    Pin([u8; 32]),
    /// The local gateway's own certificate file (`gateway.tls.certPath`, or the generated
    /// `<stateDir>/tls/gateway-cert.pem`): its leaf is pinned.
    LocalCert(PathBuf),
}

/// A fingerprint the pinning verifier saw that did not match: read after a failed
/// handshake to say what the gateway presented.
pub type Presented = Arc<Mutex<Option<[u8; 32]>>>;

/// The rustls client config for `trust`, and where a pin mismatch is recorded. Reads the
/// CA or certificate file (blocking, small).
pub fn client_config(trust: &Trust) -> Result<(Arc<ClientConfig>, Presented), String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let presented: Presented = Arc::default();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    let pin = |expected: [u8; 32]| -> Arc<dyn ServerCertVerifier> {
        Arc::new(PinVerifier {
            expected: Some(expected),
            presented: presented.clone(),
            provider: provider.clone(),
        })
    };
    let verifier: Arc<dyn ServerCertVerifier> = match trust {
        Trust::System => Arc::new(
            rustls_platform_verifier::Verifier::new(provider.clone())
                .map_err(|e| format!("cannot load the system's trusted certificates: {e}"))?,
        ),
        Trust::CaFile(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                format!(
                    "cannot read --tls-ca {} ({e}); give a PEM file of CA certificates",
                    path.display()
                )
            })?;
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert =
                    cert.map_err(|e| format!("--tls-ca {}: malformed PEM ({e})", path.display()))?;
                roots.add(cert).map_err(|e| {
                    format!("--tls-ca {}: unusable certificate ({e})", path.display())
                })?;
            }
            if roots.is_empty() {
                return Err(format!(
                    "--tls-ca {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    path.display()
                ));
            }
            rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|e| format!("--tls-ca {}: {e}", path.display()))?
        }
        Trust::Pin(fp) => pin(*fp),
        Trust::LocalCert(path) => {
            let leaf = openclaw_gateway::tls::read_leaf(path).map_err(|e| e.to_string())?;
            pin(sha256(&leaf))
        }
    };
    let mut config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), presented))
}

/// A client config that accepts whatever certificate the gateway presents (handshake
/// signatures still checked), for the local readiness probe of `gateway restart` only:
/// it reads `/readyz` from this machine's own port and sends no credentials, so there is
/// nothing for an impostor to learn, while a certificate renewed during the restart must
/// not make the probe fail.
pub fn readiness_probe_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinVerifier {
        expected: None,
        presented: Presented::default(),
        provider: provider.clone(),
    });
    Ok(Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth(),
    ))
}

/// What to tell the user when a pinned handshake failed on the fingerprint.
pub fn mismatch_message(trust: &Trust, presented: &[u8; 32]) -> Option<String> {
    match trust {
        Trust::Pin(expected) => Some(format!(
            "the gateway's TLS certificate fingerprint is {}, not the pinned {}; if the certificate was renewed, update --tls-fingerprint (or gateway.remote.tlsFingerprint), otherwise do not connect",
            fingerprint_hex(presented),
            fingerprint_hex(expected)
        )),
        Trust::LocalCert(path) => Some(format!(
            "the gateway serves a TLS certificate with fingerprint {} that is not the one in {}; the gateway may still be picking up a renewed file (retry), or this is not this machine's gateway",
            fingerprint_hex(presented),
            path.display()
        )),
        _ => None,
    }
}

/// Accepts exactly one leaf certificate, by SHA-256 (`expected: None`: any, for
/// [`readiness_probe_config`]); handshake signatures are still verified against the
/// presented certificate, so the peer must hold its key.
#[derive(Debug)]
struct PinVerifier {
    expected: Option<[u8; 32]>,
    presented: Presented,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = sha256(end_entity);
        if self.expected.is_none_or(|want| want == fp) {
            Ok(ServerCertVerified::assertion())
        } else {
            *self.presented.lock().unwrap_or_else(|e| e.into_inner()) = Some(fp);
            Err(rustls::Error::General(format!(
                "certificate fingerprint mismatch: presented {}",
                fingerprint_hex(&fp)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
