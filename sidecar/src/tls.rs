//! TLS for the listener Envoy connects to, with client certificates: with
//! `--tls-client-ca`, a connection without a certificate signed by that CA is refused
//! during the handshake — before any HTTP, and on top of the filter's signature.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// Paths given on the command line.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub cert: Option<String>,
    pub key: Option<String>,
    pub client_ca: Option<String>,
}

impl TlsFiles {
    /// None: plain TCP. An error names the flag or file that is wrong.
    pub fn acceptor(&self) -> Result<Option<TlsAcceptor>, String> {
        let (cert, key) = match (&self.cert, &self.key, &self.client_ca) {
            (None, None, None) => return Ok(None),
            (Some(cert), Some(key), _) => (cert, key),
            _ => {
                return Err(
                    "--tls-cert and --tls-key go together (and --tls-client-ca needs them)".into(),
                )
            }
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| format!("--tls-cert {cert}: {e}"))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("--tls-cert {cert}: {e}"))?;
        if chain.is_empty() {
            return Err(format!("--tls-cert {cert}: no certificate in the file"));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("--tls-key {key}: {e}"))?;
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = match &self.client_ca {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for c in CertificateDer::pem_file_iter(ca)
                    .map_err(|e| format!("--tls-client-ca {ca}: {e}"))?
                {
                    let c = c.map_err(|e| format!("--tls-client-ca {ca}: {e}"))?;
                    roots
                        .add(c)
                        .map_err(|e| format!("--tls-client-ca {ca}: {e}"))?;
                }
                if roots.is_empty() {
                    return Err(format!("--tls-client-ca {ca}: no certificate in the file"));
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| format!("--tls-client-ca {ca}: {e}"))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => {
                tracing::warn!("TLS without --tls-client-ca: any client may connect (the filter's signature is still required)");
                builder.with_no_client_auth()
            }
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Some(TlsAcceptor::from(Arc::new(config))))
    }
}
