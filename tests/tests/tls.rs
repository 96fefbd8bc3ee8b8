//! HTTPS on a LAN with no certificate (`--tls-local-ca`): the server makes a local CA on first
//! start and a certificate it signs for the names phones use; a client that trusts the CA
//! (downloaded from `/ca.pem`) reaches the API over TLS, one that does not is refused, and a
//! client that opens a connection and never handshakes holds up nobody else.

use std::sync::Arc;
use std::time::Duration;

use gridvisit_tests::harness::{ProcessServer, TempDir};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(20);

fn client(roots: &[CertificateDer<'static>]) -> tokio_rustls::TlsConnector {
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).expect("a root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_root_certificates(store)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// `GET path` over TLS to `127.0.0.1`; the whole answer.
async fn get(
    tls: &tokio_rustls::TlsConnector,
    addr: std::net::SocketAddr,
    path: &str,
) -> std::io::Result<String> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = ServerName::try_from("127.0.0.1").expect("a name");
    let mut s = tls.connect(name, tcp).await?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_ca_serves_https_that_a_phone_trusting_it_accepts() {
    let data = TempDir::new("tls");
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_gv-test-server"));
    let srv = ProcessServer::spawn_with(
        &bin,
        &data.0,
        &[
            "--no-demo".as_ref(),
            "--tls-local-ca".as_ref(),
            "--tls-names".as_ref(),
            "gridvisit.lan".as_ref(),
        ],
    )
    .await;
    let ca_file = data.0.join("tls/ca.pem");
    let ca: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&ca_file)
        .expect("ca.pem")
        .collect::<Result<_, _>>()
        .expect("a certificate");

    // A silent client: connected, never handshaking.
    let _silent = tokio::net::TcpStream::connect(srv.addr)
        .await
        .expect("connect");

    let trusting = client(&ca);
    let health = tokio::time::timeout(T, get(&trusting, srv.addr, "/healthz"))
        .await
        .expect("not held up by the silent client")
        .expect("HTTPS works for a client that trusts the CA");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    // The CA certificate phones install is served, and is the one on disk.
    let served = get(&trusting, srv.addr, "/ca.pem").await.expect("ca.pem");
    assert!(served.contains("application/x-x509-ca-cert"), "{served}");
    let on_disk = std::fs::read_to_string(&ca_file).expect("read");
    assert!(
        served.contains(on_disk.trim()),
        "the served CA is the CA on disk"
    );
    // Cookies are Secure over HTTPS.
    let login = {
        let tcp = tokio::net::TcpStream::connect(srv.addr).await.expect("tcp");
        let mut s = trusting
            .connect(ServerName::try_from("127.0.0.1").expect("name"), tcp)
            .await
            .expect("tls");
        let body = format!(
            r#"{{"username":"admin","password":"{}"}}"#,
            gridvisit_tests::harness::ADMIN_PASSWORD
        );
        s.write_all(
            format!(
                "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .expect("write");
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.expect("read");
        String::from_utf8_lossy(&out).into_owned()
    };
    assert!(login.starts_with("HTTP/1.1 200"), "{login}");
    assert!(login.to_lowercase().contains("; secure"), "{login}");

    // A client that does not trust the CA is refused.
    let other_root = CertificateDer::from(stranger_root());
    let stranger = client(&[other_root]);
    assert!(get(&stranger, srv.addr, "/healthz").await.is_err());

    // The certificate covers the names asked for: made again only when they change.
    let names = std::fs::read_to_string(data.0.join("tls/server-names.txt")).expect("names");
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        ["127.0.0.1", "gridvisit.lan", "localhost"]
    );

    // An operator's own certificate and key (`--tls-cert`, `--tls-key`): here, the files the
    // local CA made, given to a second server.
    let data2 = TempDir::new("tls-files");
    let own = ProcessServer::spawn_with(
        &bin,
        &data2.0,
        &[
            "--no-demo".as_ref(),
            "--tls-cert".as_ref(),
            data.0.join("tls/server.pem").as_os_str(),
            "--tls-key".as_ref(),
            data.0.join("tls/server-key.pem").as_os_str(),
        ],
    )
    .await;
    let health = get(&trusting, own.addr, "/healthz")
        .await
        .expect("HTTPS with given files");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let (status, _) = {
        let r = get(&trusting, own.addr, "/ca.pem").await.expect("answer");
        (r.lines().next().unwrap_or_default().to_owned(), ())
    };
    assert!(status.contains("404"), "no local CA to hand out: {status}");
}

/// Some other CA's certificate (a stranger's root).
fn stranger_root() -> Vec<u8> {
    let other = TempDir::new("tls-other");
    let names = vec!["example.lan".to_owned()];
    server::tls::local_ca(&other.0, &names, time_now()).expect("another CA");
    let pem = std::fs::read(other.0.join("tls/ca.pem")).expect("pem");
    CertificateDer::from_pem_slice(&pem).expect("cert").to_vec()
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}
