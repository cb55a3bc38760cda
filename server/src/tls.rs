//! The server's TLS certificate, replaced while the server runs.
//!
//! By default the server makes a self-signed certificate (clients pin it by its SHA-256
//! digest; WebTransport allows such a certificate at most 14 days of validity) and makes a
//! new one before the old one runs out. With `--cert/--key` it presents a CA-issued
//! certificate (clients check it against their root certificates) and reads the files again
//! when they change, as they do when certbot renews them.
//!
//! Either way the endpoint keeps running: it asks [`CertificateSlot`] for the certificate at
//! every handshake, so links already connected stay and new ones get the new certificate.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use aeronet_webtransport::wtransport::Identity;
use aeronet_webtransport::wtransport::tls::rustls;
use aeronet_webtransport::wtransport::tls::self_signed::time::{self, OffsetDateTime};
use bevy::prelude::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::login::ThisServer;

/// File in the data directory that holds the current certificate's digest.
pub const DIGEST_FILE: &str = "cert-digest.txt";

/// The longest validity WebTransport accepts for a certificate pinned by its digest.
pub const SELF_SIGNED_VALIDITY: Duration = Duration::from_secs(14 * 24 * 3600);

/// How often the certificate files of a CA-issued certificate are looked at for a change.
const FILE_CHECK_INTERVAL: Duration = Duration::from_secs(30);

/// Where the certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// A certificate made here, valid this long, made again when a quarter of it is left.
    SelfSigned { validity: Duration },
    /// PEM files for a real deployment, read again when they change.
    Pem { cert: PathBuf, key: PathBuf },
}

impl TlsSource {
    pub fn self_signed() -> Self {
        Self::SelfSigned {
            validity: SELF_SIGNED_VALIDITY,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot make a self-signed certificate: {0}")]
    SelfSigned(String),
    #[error("a self-signed certificate may be valid for 1 s to 14 days, not {0:?}")]
    Validity(Duration),
    #[error("cannot read certificate {path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("the certificate file {0} holds no certificate")]
    EmptyChain(PathBuf),
    #[error("the key does not fit the certificate or is of a kind TLS cannot use: {0}")]
    Key(String),
}

/// One certificate, ready to present.
pub struct Certificate {
    key: Arc<CertifiedKey>,
    /// SHA-256 of the leaf certificate, plain lowercase hex: what clients pin.
    pub digest: String,
    /// When a self-signed certificate runs out.
    pub expires: Option<SystemTime>,
}

impl Certificate {
    /// Makes or reads the certificate `source` names.
    pub fn load(source: &TlsSource) -> Result<Self, TlsError> {
        match source {
            TlsSource::SelfSigned { validity } => Self::self_signed(*validity),
            TlsSource::Pem { cert, key } => Self::from_pem(cert, key),
        }
    }

    fn self_signed(validity: Duration) -> Result<Self, TlsError> {
        if validity.is_zero() || validity > SELF_SIGNED_VALIDITY {
            return Err(TlsError::Validity(validity));
        }
        let not_before = OffsetDateTime::now_utc();
        let identity = Identity::self_signed_builder()
            .subject_alt_names(["localhost", "127.0.0.1", "::1"])
            .not_before(not_before)
            .offset_from_not_before(time::Duration::seconds(validity.as_secs() as i64))
            .build()
            .map_err(|e| TlsError::SelfSigned(e.to_string()))?;
        let chain = identity
            .certificate_chain()
            .as_slice()
            .iter()
            .map(|certificate| CertificateDer::from(certificate.der().to_vec()))
            .collect();
        // The builder makes PKCS#8 keys.
        let key = PrivatePkcs8KeyDer::from(identity.private_key().secret_der().to_vec());
        let mut certificate = Self::assemble(chain, key.into(), Path::new("self-signed"))?;
        certificate.expires = Some(SystemTime::from(not_before) + validity);
        Ok(certificate)
    }

    fn from_pem(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let unreadable = |path: &Path, message: String| TlsError::Pem {
            path: path.to_owned(),
            message,
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| unreadable(cert, e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| unreadable(cert, e.to_string()))?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| unreadable(key, e.to_string()))?;
        Self::assemble(chain, key, cert)
    }

    fn assemble(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        path: &Path,
    ) -> Result<Self, TlsError> {
        let leaf = chain
            .first()
            .ok_or_else(|| TlsError::EmptyChain(path.to_owned()))?;
        let digest = archipelago_shared::identity::sha256_hex(leaf.as_ref());
        let key = CertifiedKey::from_der(chain, key, &crypto_provider())
            .map_err(|e| TlsError::Key(e.to_string()))?;
        Ok(Self {
            key: Arc::new(key),
            digest,
            expires: None,
        })
    }

    /// When to make the next one: with a quarter of this one's validity left.
    fn renew_at(&self, validity: Duration) -> Option<SystemTime> {
        self.expires.map(|expires| expires - validity / 4)
    }
}

/// The cryptography wtransport itself is built with.
fn crypto_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// What the endpoint presents: asked at each handshake, replaced on renewal.
#[derive(Debug)]
pub struct CertificateSlot(RwLock<Arc<CertifiedKey>>);

impl CertificateSlot {
    fn current(&self) -> Arc<CertifiedKey> {
        // A poisoned lock still holds a whole certificate: the writer only swaps an Arc.
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn replace(&self, key: Arc<CertifiedKey>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = key;
    }
}

impl ResolvesServerCert for CertificateSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The TLS configuration the endpoint is opened with: TLS 1.3 and WebTransport's ALPN, as
/// QUIC needs, with the certificate taken from `slot` at each handshake.
pub fn server_tls_config(slot: Arc<CertificateSlot>) -> rustls::ServerConfig {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(crypto_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("the ring provider supports TLS 1.3")
        .with_no_client_auth()
        .with_cert_resolver(slot);
    config.alpn_protocols = vec![aeronet_webtransport::wtransport::tls::WEBTRANSPORT_ALPN.to_vec()];
    config
}

/// The certificate in use and how to get the next one.
#[derive(Resource)]
pub struct Certificates {
    source: TlsSource,
    slot: Arc<CertificateSlot>,
    digest: String,
    renew_at: Option<SystemTime>,
    /// The PEM files' modification times when last read.
    files_seen: Option<(SystemTime, SystemTime)>,
    next_file_check: Instant,
    /// Where the digest is written for local clients (none in tests that keep it in memory).
    data_dir: Option<PathBuf>,
}

impl Certificates {
    /// Makes or reads the first certificate.
    pub fn new(source: TlsSource) -> Result<Self, TlsError> {
        let certificate = Certificate::load(&source)?;
        let files_seen = file_times(&source);
        let renew_at = match &source {
            TlsSource::SelfSigned { validity } => certificate.renew_at(*validity),
            TlsSource::Pem { .. } => None,
        };
        Ok(Self {
            source,
            slot: Arc::new(CertificateSlot(RwLock::new(certificate.key))),
            digest: certificate.digest,
            renew_at,
            files_seen,
            next_file_check: Instant::now() + FILE_CHECK_INTERVAL,
            data_dir: None,
        })
    }

    /// Writes each new digest to `DIGEST_FILE` in `dir` (the first one too, now).
    pub fn write_digests_to(&mut self, dir: &Path) -> std::io::Result<PathBuf> {
        self.data_dir = Some(dir.to_owned());
        write_digest(dir, &self.digest)
    }

    /// The current certificate's digest, plain lowercase hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    pub fn slot(&self) -> Arc<CertificateSlot> {
        self.slot.clone()
    }

    /// Whether it is time for a new certificate: the self-signed one is a quarter from its
    /// end, or the PEM files changed.
    fn due(&mut self, now: SystemTime) -> bool {
        match &self.source {
            TlsSource::SelfSigned { .. } => self.renew_at.is_some_and(|at| now >= at),
            TlsSource::Pem { .. } => {
                if Instant::now() < self.next_file_check {
                    return false;
                }
                self.next_file_check = Instant::now() + FILE_CHECK_INTERVAL;
                let times = file_times(&self.source);
                times.is_some() && times != self.files_seen
            }
        }
    }

    /// Makes or reads the next certificate and presents it from the next handshake on.
    fn renew(&mut self) -> Result<&str, TlsError> {
        let next = Certificate::load(&self.source)?;
        self.files_seen = file_times(&self.source);
        if let TlsSource::SelfSigned { validity } = &self.source {
            self.renew_at = next.renew_at(*validity);
        }
        self.slot.replace(next.key);
        self.digest = next.digest;
        if let Some(dir) = &self.data_dir
            && let Err(e) = write_digest(dir, &self.digest)
        {
            warn!(
                "cannot write the new certificate digest to {}: {e}",
                dir.display()
            );
        }
        Ok(&self.digest)
    }
}

fn file_times(source: &TlsSource) -> Option<(SystemTime, SystemTime)> {
    let TlsSource::Pem { cert, key } = source else {
        return None;
    };
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    Some((modified(cert)?, modified(key)?))
}

/// Writes the digest where `make run` and local clients find it.
pub fn write_digest(data_dir: &Path, digest: &str) -> std::io::Result<PathBuf> {
    let path = data_dir.join(DIGEST_FILE);
    std::fs::write(&path, format!("{digest}\n"))?;
    Ok(path)
}

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(
        Update,
        renew_certificate.run_if(bevy::time::common_conditions::on_timer(
            Duration::from_secs(1),
        )),
    );
}

/// Presents a new certificate when one is due. Logins from then on are signed for its digest;
/// a failed renewal keeps the old certificate and says why (and tries again in a second).
fn renew_certificate(mut certificates: ResMut<Certificates>, mut server: ResMut<ThisServer>) {
    if !certificates.due(SystemTime::now()) {
        return;
    }
    match certificates.renew() {
        Ok(digest) => {
            info!("new TLS certificate in use; its digest: {digest}");
            server.0.certificate = digest.to_owned();
            metrics::counter!("archipelago_certificate_renewals_total").increment(1);
        }
        Err(e) => warn!("keeping the current TLS certificate: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_is_renewed_with_a_quarter_of_it_left() {
        let validity = Duration::from_secs(3600);
        let certificate = Certificate::load(&TlsSource::SelfSigned { validity }).unwrap();
        let expires = certificate.expires.unwrap();
        let left = expires.duration_since(SystemTime::now()).unwrap();
        assert!(left <= validity && left > validity - Duration::from_secs(5));
        assert_eq!(
            certificate.renew_at(validity),
            Some(expires - Duration::from_secs(900))
        );
    }

    #[test]
    fn each_certificate_has_its_own_digest() {
        let source = TlsSource::self_signed();
        let mut certificates = Certificates::new(source).unwrap();
        let first = certificates.digest().to_owned();
        assert_eq!(first.len(), 64);
        assert!(!certificates.due(SystemTime::now()));
        assert!(certificates.due(SystemTime::now() + SELF_SIGNED_VALIDITY));
        let second = certificates.renew().unwrap().to_owned();
        assert_ne!(first, second);
        assert!(!certificates.due(SystemTime::now()));
    }

    #[test]
    fn validity_past_what_webtransport_pins_is_refused() {
        let too_long = SELF_SIGNED_VALIDITY + Duration::from_secs(1);
        assert!(matches!(
            Certificate::load(&TlsSource::SelfSigned { validity: too_long }),
            Err(TlsError::Validity(_))
        ));
    }

    /// Writes a fresh self-signed certificate and key as PEM files, dated `modified`.
    fn write_pem(cert: &Path, key: &Path, modified: SystemTime) {
        let identity = Identity::self_signed(["localhost"]).unwrap();
        let chain = identity.certificate_chain().as_slice();
        std::fs::write(cert, chain[0].to_pem()).unwrap();
        std::fs::write(key, identity.private_key().to_secret_pem()).unwrap();
        for path in [cert, key] {
            let file = std::fs::File::options().write(true).open(path).unwrap();
            file.set_modified(modified).unwrap();
        }
    }

    #[test]
    fn changed_pem_files_are_read_again_and_a_broken_one_keeps_the_old_certificate() {
        let dir = std::env::temp_dir().join(format!("archipelago-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let then = SystemTime::now() - Duration::from_secs(3600);
        write_pem(&cert, &key, then);
        let mut certificates = Certificates::new(TlsSource::Pem {
            cert: cert.clone(),
            key: key.clone(),
        })
        .unwrap();
        let first = certificates.digest().to_owned();
        certificates.write_digests_to(&dir).unwrap();

        // Not looked at again before the interval, nor when nothing changed.
        assert!(!certificates.due(SystemTime::now()));
        certificates.next_file_check = Instant::now();
        assert!(!certificates.due(SystemTime::now()));

        // certbot renews: new files, a new digest, written for local clients.
        write_pem(&cert, &key, SystemTime::now());
        certificates.next_file_check = Instant::now();
        assert!(certificates.due(SystemTime::now()));
        let second = certificates.renew().unwrap().to_owned();
        assert_ne!(first, second);
        assert_eq!(
            std::fs::read_to_string(dir.join(DIGEST_FILE))
                .unwrap()
                .trim(),
            second
        );

        // A half-written key: refused, the certificate in use stays.
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n").unwrap();
        assert!(certificates.renew().is_err());
        assert_eq!(certificates.digest(), second);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_missing_pem_file_is_named() {
        let source = TlsSource::Pem {
            cert: "/nonexistent/cert.pem".into(),
            key: "/nonexistent/key.pem".into(),
        };
        let error = Certificate::load(&source).err().unwrap().to_string();
        assert!(error.contains("/nonexistent/cert.pem"), "{error}");
    }
}
