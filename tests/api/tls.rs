//! https for the tests: a certificate authority and a `127.0.0.1` certificate made fresh for each
//! test run (rcgen), and a TLS front that terminates TLS (rustls) and passes the bytes to the
//! plain server.
//!
//! This is the layout of a real deployment (docs/deploy.md): TLS ends at a proxy in front of
//! Sekimori, and the issuer is the proxy's `https://` URL. The OpenID conformance suite requires
//! every endpoint to be https, so the conformance tests run this way.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

struct TestPki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Sekimori test CA");
        let ca = ca_params.self_signed(&ca_key).expect("self-sign CA");

        let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
        let leaf_params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("leaf");
        let leaf = leaf_params
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("sign leaf");

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(leaf.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .expect("server config");
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        TestPki {
            ca_pem: ca.pem(),
            server: Arc::new(server),
        }
    })
}

/// The test certificate authority, for clients to trust.
pub fn ca_certificate() -> reqwest::Certificate {
    reqwest::Certificate::from_pem(pki().ca_pem.as_bytes()).expect("CA PEM")
}

/// Starts a TLS front on an ephemeral `127.0.0.1` port that forwards every connection to
/// `backend`; returns the front's address.
pub async fn front(backend: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind TLS");
    let addr = listener.local_addr().expect("addr");
    let acceptor = TlsAcceptor::from(pki().server.clone());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut upstream) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    addr
}
