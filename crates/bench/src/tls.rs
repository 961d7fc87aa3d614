//! TLS scenarios: `GET /v1/models` over HTTPS against plain HTTP on the same number of
//! keep-alive connections, and full TLS handshakes per second (a new connection, without
//! session resumption, per request).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

use crate::gateway::{Gw, Impl, TOKEN};
use crate::http_load::{connect_load, get_load, load_with, one};
use crate::scenarios::{HTTP_CONFIG, Row, ms, row};

/// [`HTTP_CONFIG`] with TLS on and a generated certificate.
const TLS_CONFIG: &str = r#"{ gateway: { mode: "local", http: { endpoints: { chatCompletions: { enabled: true } } }, tls: { enabled: true, autoGenerate: true } } }"#;

/// A client trusting the gateway's generated certificate; `resume: false` makes every
/// connection a full handshake.
fn client_config(cert: &[u8], resume: bool) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(cert) {
        roots.add(c?)?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    if !resume {
        config.resumption = rustls::client::Resumption::disabled();
    }
    Ok(Arc::new(config))
}

/// Opens TLS connections to the gateway on `port`.
fn tls_connector(
    port: u16,
    config: Arc<rustls::ClientConfig>,
) -> impl Fn() -> std::pin::Pin<
    Box<dyn Future<Output = std::io::Result<tokio_rustls::client::TlsStream<TcpStream>>> + Send>,
> + Clone
+ Send
+ Sync
+ 'static {
    let connector = tokio_rustls::TlsConnector::from(config);
    move || {
        let connector = connector.clone();
        Box::pin(async move {
            let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
            let _ = tcp.set_nodelay(true);
            let name = ServerName::try_from("127.0.0.1").map_err(std::io::Error::other)?;
            connector.connect(name, tcp).await
        })
    }
}

/// Starts a TLS gateway and waits until `GET /healthz` over TLS answers 200; returns it
/// with its certificate (PEM).
async fn start_tls(imp: &Impl) -> anyhow::Result<(Gw, Vec<u8>)> {
    let (mut gw, _) = Gw::spawn_with_config(imp, &[], Some(TLS_CONFIG)).await?;
    let cert_path = gw.state.join("tls/gateway-cert.pem");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(cert) = std::fs::read(&cert_path)
            && let Ok(config) = client_config(&cert, true)
            && let Ok(mut s) = tls_connector(gw.port, config)().await
        {
            let mut buf = vec![0u8; 16 * 1024];
            let req = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
            if let Ok(200) = one(&mut s, req, &mut buf).await {
                return Ok((gw, cert));
            }
        }
        if let Some(status) = gw.child.try_wait()? {
            bail!("TLS gateway exited during start-up: {status}");
        }
        if Instant::now() > deadline {
            bail!("TLS gateway did not answer /healthz over TLS within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `GET /v1/models` closed loop on `conns` keep-alive connections: plain, then HTTPS.
pub async fn https_models(imp: &Impl, conns: usize, secs: u64) -> anyhow::Result<Vec<Row>> {
    let (mut gw, _) = Gw::spawn_with_config(imp, &[], Some(HTTP_CONFIG)).await?;
    gw.wait_healthz(Duration::from_secs(60)).await?;
    let warm = Duration::from_millis(500);
    get_load(gw.port, "/v1/models", TOKEN, conns, warm).await?;
    let plain = get_load(
        gw.port,
        "/v1/models",
        TOKEN,
        conns,
        Duration::from_secs(secs),
    )
    .await?;
    gw.stop().await;

    let (gw, cert) = start_tls(imp).await?;
    let connect = tls_connector(gw.port, client_config(&cert, true)?);
    load_with("/v1/models", TOKEN, conns, warm, connect.clone()).await?;
    let tls = load_with(
        "/v1/models",
        TOKEN,
        conns,
        Duration::from_secs(secs),
        connect,
    )
    .await
    .context("HTTPS load")?;
    gw.stop().await;
    let ratio = tls.rate() / plain.rate().max(1.0);
    Ok(vec![
        row(
            &format!("GET /v1/models plain, {conns} connections"),
            format!(
                "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} failed",
                plain.rate(),
                ms(plain.pct(0.5)),
                ms(plain.pct(0.99)),
                plain.failed
            ),
            "",
            None,
        ),
        row(
            &format!("GET /v1/models HTTPS, {conns} connections"),
            format!(
                "{:.0} req/s ({:.0}% of plain), p50 {:.2} ms, p99 {:.2} ms, {} failed",
                tls.rate(),
                ratio * 100.0,
                ms(tls.pct(0.5)),
                ms(tls.pct(0.99)),
                tls.failed
            ),
            "",
            None,
        ),
    ])
}

/// New connection per request for `secs`: full TLS handshakes per second (no session
/// resumption) against new plain TCP connections per second, `conns` loops each.
pub async fn handshakes(imp: &Impl, conns: usize, secs: u64) -> anyhow::Result<Vec<Row>> {
    let (mut gw, _) = Gw::spawn_with_config(imp, &[], Some(HTTP_CONFIG)).await?;
    gw.wait_healthz(Duration::from_secs(60)).await?;
    let port = gw.port;
    let plain_connect = move || async move {
        let s = TcpStream::connect(("127.0.0.1", port)).await?;
        let _ = s.set_nodelay(true);
        Ok(s)
    };
    let plain = connect_load("/healthz", conns, Duration::from_secs(secs), plain_connect).await?;
    gw.stop().await;

    let (gw, cert) = start_tls(imp).await?;
    let connect = tls_connector(gw.port, client_config(&cert, false)?);
    let tls = connect_load("/healthz", conns, Duration::from_secs(secs), connect).await?;
    gw.stop().await;
    Ok(vec![
        row(
            &format!("new TCP connection per GET /healthz, {conns} loops"),
            format!(
                "{:.0} conn/s, p50 {:.2} ms, p99 {:.2} ms, {} failed",
                plain.rate(),
                ms(plain.pct(0.5)),
                ms(plain.pct(0.99)),
                plain.failed
            ),
            "",
            None,
        ),
        row(
            &format!("full TLS handshake per GET /healthz, {conns} loops"),
            format!(
                "{:.0} handshakes/s, p50 {:.2} ms, p99 {:.2} ms, {} failed",
                tls.rate(),
                ms(tls.pct(0.5)),
                ms(tls.pct(0.99)),
                tls.failed
            ),
            "",
            None,
        ),
    ])
}
