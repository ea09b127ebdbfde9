//! HTTPS for every client: the real app behind a real TLS endpoint, with a test CA and a
//! server certificate made here, checked by the verifier's client with `--ca-cert`; and the
//! failures a user meets named by their cause.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::{TestLog, agencies, sealed};
use huella::http::{Limits, router};
use huella::store::MemoryStore;
use huella_verify::client::{Client, ClientError, HttpCause};
use huella_verify::source::Source;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Tls is a test CA (its PEM) and a server certificate for localhost and 127.0.0.1 it signed.
struct Tls {
    ca_pem: String,
    server: rustls::ServerConfig,
}

fn make_tls() -> Tls {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Huella test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    huella_verify::client::install_crypto();
    let server = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    Tls {
        ca_pem: ca_cert.pem(),
        server,
    }
}

/// serve_tls serves `log`'s API over TLS on 127.0.0.1 and returns the https:// base URL.
async fn serve_tls(log: &TestLog, server: rustls::ServerConfig) -> String {
    serve_app_tls(router(log.ledger.clone(), Limits::default()), server).await
}

/// serve_app_tls serves `app` over TLS on 127.0.0.1 and returns the https:// base URL.
async fn serve_app_tls(app: axum::Router, server: rustls::ServerConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                // A client that refuses our certificate ends its handshake here.
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                    .await;
            });
        }
    });
    base
}

async fn log_with_entries(n: u64) -> TestLog {
    let log = TestLog::start(Arc::new(MemoryStore::new()), Limits::default()).await;
    let (agencies, _) = agencies();
    for i in 0..n {
        log.client.submit(&sealed(&agencies, i)).await.unwrap();
    }
    log
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn the_verifier_checks_a_log_behind_tls_with_an_extra_ca() {
    let log = log_with_entries(25).await;
    let tls = make_tls();
    let base = serve_tls(&log, tls.server.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = write(dir.path(), "ca.pem", &tls.ca_pem);

    // The library: a full audit over HTTPS, trusting the test CA.
    let client = Client::with_ca_cert(&base, Some(&ca)).unwrap();
    let verified = huella_verify::audit::verify_log(
        &Source::Http(client.clone()),
        &log.log_key,
        Some(huella_verify::cli::Trusted {
            root: common::trust(),
            from: "trust",
        }),
        // What the log serves to others is checked over HTTPS too.
        &huella_verify::sample::Sampling::every(),
        true,
    )
    .await
    .unwrap();
    assert_eq!(verified.tree_size, 25);
    // Submissions go over HTTPS too.
    let (agencies, _) = agencies();
    let submitted = client.submit(&sealed(&agencies, 25)).await.unwrap();
    assert_eq!(submitted.receipt.index, 25);

    // Without the CA, the system's trust store does not know ours: a TLS failure, by name.
    let plain = Client::new(&base);
    let e = plain.get("/checkpoint").await.unwrap_err();
    assert!(
        matches!(
            e.http_cause(),
            Some(HttpCause::Tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            )))
        ),
        "{e:?}"
    );

    // The command line, as a rights group runs it.
    let key = write(dir.path(), "log.key.pub", &log.log_key.to_string());
    let registry = write(dir.path(), "registry.json", &log.registry.to_json());
    let huella = env!("CARGO_BIN_EXE_huella");
    let run = |extra: &[&str]| {
        let mut command = Command::new(huella);
        command
            .args(["verify", "--url", &base, "--log-key"])
            .arg(&key);
        command.arg("--registry").arg(&registry).args(extra);
        command.output().unwrap()
    };
    let out = run(&["--ca-cert", ca.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], true);
    assert_eq!(report["tree_size"], 26);
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS failure"));
    // The standalone verifier a rights group installs, as the README says:
    // `huella-verify verify --url https://… --ca-cert ca.pem`.
    let standalone = tokio::task::block_in_place(common::huella_verify_binary);
    let out = Command::new(&standalone)
        .args(["verify", "--url", &base, "--log-key"])
        .arg(&key)
        .arg("--registry")
        .arg(&registry)
        .arg("--ca-cert")
        .arg(&ca)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&report["verified"], &report["tree_size"]),
        (&true.into(), &26.into())
    );
    log.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_failures_name_their_cause() {
    // A port nobody listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let refused = Client::new(&format!("http://{closed}"))
        .get("/checkpoint")
        .await
        .unwrap_err();
    assert!(
        matches!(refused.http_cause(), Some(HttpCause::Refused)),
        "{refused:?}"
    );

    // Plain HTTP spoken to a TLS port, and TLS to a plain HTTP port.
    let log = log_with_entries(1).await;
    let tls = make_tls();
    let https = serve_tls(&log, tls.server).await;
    let plain_to_tls = Client::new(&https.replacen("https", "http", 1))
        .get("/checkpoint")
        .await
        .unwrap_err();
    assert!(
        matches!(plain_to_tls.http_cause(), Some(HttpCause::Other(_))),
        "{plain_to_tls:?}"
    );
    let tls_to_plain = Client::new(&log.base.replacen("http", "https", 1))
        .get("/checkpoint")
        .await
        .unwrap_err();
    assert!(
        matches!(
            tls_to_plain.http_cause(),
            Some(HttpCause::Tls(rustls::Error::InvalidMessage(_)))
        ),
        "{tls_to_plain:?}"
    );
    // What people read names each cause.
    for (e, says) in [
        (&refused, "connection refused (is the log running"),
        (&tls_to_plain, "TLS failure: "),
        (&tls_to_plain, "is the server speaking plain HTTP?"),
    ] {
        assert!(e.to_string().contains(says), "{e}");
    }

    // A proxy's HTML error page in front of a log: named as not JSON, and retryable.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        while let Ok((mut stream, _)) = proxy.accept().await {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request).await;
            let page = "<html><body>502 Bad Gateway</body></html>";
            let answer = format!(
                "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    match Client::new(&proxy_url).get("/checkpoint").await {
        Err(e @ ClientError::NotJson { status: 502, .. }) => assert!(e.is_retryable()),
        other => panic!("{other:?}"),
    }

    // A CA file that is not PEM, on the command line.
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "ca.pem", "not a certificate\n");
    let out = Command::new(env!("CARGO_BIN_EXE_huella"))
        .args([
            "verify",
            "--url",
            &https,
            "--log-key",
            &log.log_key.to_string(),
        ])
        .arg("--ca-cert")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CA certificate"));
    // And a URL without a scheme.
    let out = Command::new(env!("CARGO_BIN_EXE_huella"))
        .args([
            "verify",
            "--url",
            "127.0.0.1:8080",
            "--log-key",
            &log.log_key.to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no scheme"));
    log.stop().await;
}

/// The log's requests to its witnesses are HTTPS too: a witness behind TLS with a test CA
/// cosigns once the log is given that CA (`serve --ca-cert`), and not without it.
#[tokio::test(flavor = "multi_thread")]
async fn the_log_reaches_a_witness_behind_tls_with_an_extra_ca() {
    let log = log_with_entries(3).await;
    let tls = make_tls();
    let dir = tempfile::tempdir().unwrap();
    let ca = write(dir.path(), "ca.pem", &tls.ca_pem);
    let signer = huella_core::cosignature::CosignerSigner::from_seed(
        huella_core::keys::KeyName::new("witness.test/tls").unwrap(),
        &[7; 32],
    );
    let cosigner = signer.verifier();
    let witness_policy = huella_core::policy::Policy::parse(
        format!("log {}\nquorum none\n", log.log_key).as_bytes(),
    )
    .unwrap();
    let witness =
        huella::witness::Witness::open(signer, &witness_policy, &dir.path().join("w")).unwrap();
    let base = serve_app_tls(huella::witness::router(Arc::new(witness)), tls.server).await;
    let policy = huella_core::policy::Policy::parse(
        format!("witness W {cosigner} {base}\nquorum W\n").as_bytes(),
    )
    .unwrap();

    // Without the CA: the witness's certificate is refused, nothing is cosigned.
    let refused = huella::witnessing::Witnessing::new(policy.clone());
    let task = refused.spawn(log.ledger.clone(), None).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(refused.cosigned(), None);
    task.abort();

    // With it: cosigned.
    let trusted = huella::witnessing::Witnessing::new(policy);
    let task = trusted.spawn(log.ledger.clone(), Some(&ca)).unwrap();
    let mut cosigned = None;
    for _ in 0..100 {
        cosigned = trusted.cosigned();
        if cosigned.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let cosigned = cosigned.expect("the witness behind TLS cosigned within 10 s");
    assert_eq!(
        (cosigned.size, cosigned.witnesses),
        (3, vec!["W".to_string()])
    );
    task.abort();
    // A CA file that holds no certificate is an error before anything starts.
    let empty = write(dir.path(), "empty.pem", "");
    assert!(matches!(
        huella::witnessing::Witnessing::new(
            huella_core::policy::Policy::parse(b"quorum none\n").unwrap()
        )
        .spawn(log.ledger.clone(), Some(&empty)),
        Err(ClientError::CaCert { .. })
    ));
    log.stop().await;
}
