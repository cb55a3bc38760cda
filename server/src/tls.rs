//! The server's TLS identity: a fresh self-signed certificate (valid 14 days) by default, or
//! PEM files for a real deployment. Clients pin the certificate by its SHA-256 digest.

use std::path::{Path, PathBuf};

use lightyear::webtransport::prelude::Identity;

/// File in the data directory that holds the current certificate's digest.
pub const DIGEST_FILE: &str = "cert-digest.txt";

/// Where the certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    SelfSigned,
    Pem { cert: PathBuf, key: PathBuf },
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot make a self-signed certificate: {0}")]
    SelfSigned(String),
    #[error("cannot read certificate {cert} / key {key}: {message}")]
    Pem {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
    #[error("the certificate chain is empty")]
    EmptyChain,
}

/// Loads or makes the identity and returns it with its digest as plain lowercase hex, the form
/// clients take in `--cert-digest`.
pub fn load_identity(source: &TlsSource) -> Result<(Identity, String), TlsError> {
    let identity = match source {
        TlsSource::SelfSigned => Identity::self_signed(["localhost", "127.0.0.1", "::1"])
            .map_err(|e| TlsError::SelfSigned(e.to_string()))?,
        TlsSource::Pem { cert, key } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .map_err(|e| TlsError::SelfSigned(e.to_string()))?;
            runtime
                .block_on(Identity::load_pemfiles(cert, key))
                .map_err(|e| TlsError::Pem {
                    cert: cert.clone(),
                    key: key.clone(),
                    message: e.to_string(),
                })?
        }
    };
    let hex = digest_of(&identity).ok_or(TlsError::EmptyChain)?;
    Ok((identity, hex))
}

/// The SHA-256 of the identity's leaf certificate in lowercase hex, as clients pin it.
pub fn digest_of(identity: &Identity) -> Option<String> {
    let digest = identity.certificate_chain().as_slice().first()?.hash();
    Some(archipelago_shared::identity::to_hex(digest.as_ref()))
}

/// Writes the digest where `make run` and local clients find it.
pub fn write_digest(data_dir: &Path, digest: &str) -> std::io::Result<PathBuf> {
    let path = data_dir.join(DIGEST_FILE);
    std::fs::write(&path, format!("{digest}\n"))?;
    Ok(path)
}
