//! HTTPS: service workers, `storage.persist()`, geolocation and installing the app all need a
//! secure origin, so a server that phones reach over the LAN must speak TLS.
//!
//! Two ways in:
//! - `--tls-cert FILE --tls-key FILE`: a certificate the operator has (PEM).
//! - `--tls-local-ca`: on a LAN with no certificate, the server makes its own certificate
//!   authority once (`DIR/tls/ca.pem`, its key beside it, readable by the owner only) and a
//!   server certificate signed by it for the names and addresses phones use (`--tls-names`,
//!   the host of `--public-url`, `localhost`, `127.0.0.1`). Each phone trusts the CA once,
//!   from `http(s)://<server>/ca.pem` (README: "HTTPS on a LAN"). The server certificate is
//!   made again when the names change or it nears its end; the CA stays, so phones keep
//!   trusting it.
//!
//! [`TlsListener`] hands axum connections whose handshake is done, each handshake on its own
//! task, so one slow or silent client holds up nobody else's.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A handshake that takes longer than this is dropped.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Days a server certificate made here lasts (phones refuse server certificates of more
/// than 825 days; browsers warn past 398).
const SERVER_DAYS: i64 = 397;
/// A server certificate with fewer days left is made again at start.
const RENEW_DAYS: i64 = 30;

/// A server configuration from PEM files.
pub fn config_from_files(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} holds no PEM certificate", cert.display()))?;
    anyhow::ensure!(!certs.is_empty(), "{} holds no certificate", cert.display());
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the private key {}", key.display()))?;
    config(certs, key)
}

fn config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and key do not match")?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// What the local CA made: the files and the names the server certificate covers.
#[derive(Debug)]
pub struct LocalCa {
    /// The CA certificate phones install (`DIR/tls/ca.pem`).
    pub ca: PathBuf,
    /// The names and addresses the server certificate is valid for.
    pub names: Vec<String>,
    /// Whether the CA was made now (first start).
    pub created: bool,
}

/// The local CA's folder.
pub fn ca_dir(data: &Path) -> PathBuf {
    data.join("tls")
}

/// Makes (once) the local CA and (when needed) the server certificate for `names`; returns
/// the configuration and what it made.
pub fn local_ca(
    data: &Path,
    names: &[String],
    now: time::OffsetDateTime,
) -> anyhow::Result<(Arc<rustls::ServerConfig>, LocalCa)> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
    };
    let dir = ca_dir(data);
    std::fs::create_dir_all(&dir)?;
    let (ca_pem, ca_key_pem) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    let created = !ca_pem.exists();
    let ca_params = |now: time::OffsetDateTime| {
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "gridvisit 本地证书机构 local CA");
        dn.push(DnType::OrganizationName, "gridvisit");
        p.distinguished_name = dn;
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        p.not_before = now - time::Duration::days(1);
        p.not_after = now + time::Duration::days(3650);
        p
    };
    if created {
        let key = KeyPair::generate()?;
        let cert = ca_params(now).self_signed(&key)?;
        std::fs::write(&ca_pem, cert.pem())?;
        write_private(&ca_key_pem, &key.serialize_pem())?;
    }
    let ca_key = KeyPair::from_pem(
        &std::fs::read_to_string(&ca_key_pem)
            .with_context(|| format!("reading {}", ca_key_pem.display()))?,
    )?;
    // The issuer is the CA's name and key: what signs, and what the stored CA certificate says.
    let issuer = Issuer::new(ca_params(now), ca_key);

    let mut names: Vec<String> = names
        .iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .chain(["localhost".to_owned(), "127.0.0.1".to_owned()])
        .collect();
    names.sort();
    names.dedup();
    let (cert_pem, key_pem, names_file) = (
        dir.join("server.pem"),
        dir.join("server-key.pem"),
        dir.join("server-names.txt"),
    );
    let same_names = std::fs::read_to_string(&names_file).ok() == Some(names.join("\n"));
    let fresh = std::fs::read_to_string(dir.join("server-until.txt"))
        .ok()
        .and_then(|t| t.trim().parse::<i64>().ok())
        .is_some_and(|until| until - now.unix_timestamp() > RENEW_DAYS * 86_400);
    if created || !same_names || !fresh || !cert_pem.exists() || !key_pem.exists() {
        let key = KeyPair::generate()?;
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names[0].clone());
        p.distinguished_name = dn;
        p.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => n.clone().try_into().map(SanType::DnsName),
            })
            .collect::<Result<_, _>>()?;
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.not_before = now - time::Duration::days(1);
        let until = now + time::Duration::days(SERVER_DAYS);
        p.not_after = until;
        let cert = p.signed_by(&key, &issuer)?;
        std::fs::write(&cert_pem, cert.pem())?;
        write_private(&key_pem, &key.serialize_pem())?;
        std::fs::write(&names_file, names.join("\n"))?;
        std::fs::write(
            dir.join("server-until.txt"),
            until.unix_timestamp().to_string(),
        )?;
    }
    // The chain: the server certificate, then the CA.
    let chain = format!(
        "{}{}",
        std::fs::read_to_string(&cert_pem)?,
        std::fs::read_to_string(&ca_pem)?
    );
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(chain.as_bytes()).collect::<Result<_, _>>()?;
    let key = PrivateKeyDer::from_pem_file(&key_pem)?;
    Ok((
        config(certs, key)?,
        LocalCa {
            ca: ca_pem,
            names,
            created,
        },
    ))
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?
        .write_all(text.as_bytes())?;
    Ok(())
}

/// A listener whose connections have finished their TLS handshake.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
}

impl TlsListener {
    /// Accepts on `tcp` and handshakes each connection on its own task.
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let addr = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(%e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { rx, addr })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept task ended (the runtime is shutting down): wait for the end.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
