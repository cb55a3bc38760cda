//! The QUIC connection to the server and how its certificate is trusted.
//!
//! Two ways, chosen by [`ClientConfig`]:
//! - **Pinned**: with a certificate digest (a local or self-hosted server's self-signed
//!   certificate), the server must present exactly that certificate.
//! - **Authorities**: without one, the certificate must be issued for the server's name by an
//!   authority the system trusts, or one given with `--ca-file`: a hosted server behind a real
//!   domain just works.
//!
//! Either way the client learns the digest of the certificate it accepted, so the login can be
//! signed for that server and no other (see `identity::check_server`).
//!
//! The connection is opened here rather than by lightyear's `WebTransportClientIo`, which
//! knows only pinned digests; lightyear's WebTransport plugin still carries its packets.

use std::sync::{Arc, Mutex};

use aeronet_webtransport::client::{ClientConfig as QuicConfig, WebTransportClient};
use aeronet_webtransport::wtransport::config::IpBindConfig;
use aeronet_webtransport::wtransport::endpoint::IntoConnectOptions;
use aeronet_webtransport::wtransport::tls::rustls::client::WebPkiServerVerifier;
use aeronet_webtransport::wtransport::tls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use aeronet_webtransport::wtransport::tls::rustls::pki_types::pem::PemObject;
use aeronet_webtransport::wtransport::tls::rustls::pki_types::{
    CertificateDer, ServerName, UnixTime,
};
use aeronet_webtransport::wtransport::tls::rustls::{
    DigitallySignedStruct, Error as TlsError, SignatureScheme, crypto,
};
use aeronet_webtransport::wtransport::tls::{self, Sha256Digest};
use archipelago_shared::identity::{parse_key_hex, sha256_hex};
use bevy::ecs::system::EntityCommand;
use bevy::prelude::*;
use lightyear::link::{Link, LinkStart, Linked, Linking};
use lightyear_aeronet::AeronetLinkOf;

use crate::ClientConfig;
use crate::connection::ConnectionState;

/// How the server's certificate is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    Pinned,
    Authorities,
}

impl ClientConfig {
    pub fn trust(&self) -> Trust {
        if self.cert_digest.is_empty() {
            Trust::Authorities
        } else {
            Trust::Pinned
        }
    }

    /// Trusts the certificate authorities in a PEM file besides the system's.
    pub fn trust_ca_file(&mut self, path: &std::path::Path) -> Result<usize, String> {
        let certificates = CertificateDer::pem_file_iter(path)
            .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if certificates.is_empty() {
            return Err(format!("{} holds no certificate", path.display()));
        }
        let count = certificates.len();
        self.extra_authorities.extend(certificates);
        Ok(count)
    }

    /// The server as a person named it: NAME:PORT or the address.
    pub fn shown_address(&self) -> String {
        match &self.server_name {
            Some(name) => format!("{name}:{}", self.server.port()),
            None => self.server.to_string(),
        }
    }

    /// The address asked for: `https://NAME:PORT` when the server has a name, so its
    /// certificate is checked for that name.
    pub(crate) fn target(&self) -> String {
        match (&self.server_name, self.relay) {
            (_, Some(relay)) => format!("https://{relay}"),
            (Some(name), None) => format!("https://{name}:{}", self.server.port()),
            (None, None) => format!("https://{}", self.server),
        }
    }
}

/// Reads `--server`: an address (`203.0.113.5:7447`) or a name and port
/// (`play.example.org:7447`), which is looked up and whose certificate must then be issued
/// for that name.
pub fn parse_server(text: &str) -> Result<(std::net::SocketAddr, Option<String>), String> {
    if let Ok(addr) = text.parse() {
        return Ok((addr, None));
    }
    let (name, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{text:?} is not ADDRESS:PORT or NAME:PORT"))?;
    port.parse::<u16>()
        .map_err(|_| format!("{port:?} in {text:?} is not a port number"))?;
    use std::net::ToSocketAddrs;
    let addr = text
        .to_socket_addrs()
        .map_err(|e| format!("cannot look up {name}: {e}"))?
        // This client connects over IPv4 (see quic_config).
        .find(std::net::SocketAddr::is_ipv4)
        .ok_or_else(|| format!("{name} has no IPv4 address"))?;
    Ok((addr, Some(name.to_owned())))
}

/// The digest of the certificate this client last accepted, lowercase hex: with a pinned
/// digest that digest, otherwise what the authorities vouched for.
#[derive(Resource, Clone, Default, Debug)]
pub struct AcceptedCertificate(Arc<Mutex<Option<String>>>);

impl AcceptedCertificate {
    pub fn digest(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, digest: String) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(digest);
    }
}

/// An in-memory link to a server app in the same process, for tests: when this resource
/// holds one, the client's link uses it instead of opening a QUIC connection (see
/// `archipelago_server::network::Transport::InProcess`).
#[derive(Resource, Default)]
pub struct InProcessLink(Option<lightyear::crossbeam::CrossbeamIo>);

impl InProcessLink {
    pub fn new(io: lightyear::crossbeam::CrossbeamIo) -> Self {
        Self(Some(io))
    }

    /// The channel, once: the link entity takes it.
    pub(crate) fn take(&mut self) -> Option<lightyear::crossbeam::CrossbeamIo> {
        self.0.take()
    }
}

/// Marks the link entity whose QUIC connection this module opens.
#[derive(Component, Debug)]
#[require(Link)]
pub struct ServerConnection;

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<AcceptedCertificate>();
    app.init_resource::<InProcessLink>();
    app.add_observer(open_connection);
}

fn open_connection(
    trigger: On<LinkStart>,
    links: Query<(), (With<ServerConnection>, Without<Linking>, Without<Linked>)>,
    config: Res<ClientConfig>,
    accepted: Res<AcceptedCertificate>,
    mut state: ResMut<ConnectionState>,
    mut commands: Commands,
) {
    if links.get(trigger.entity).is_err() {
        return;
    }
    let quic = match quic_config(&config, &accepted) {
        Ok(quic) => quic,
        Err(e) => {
            warn!("cannot connect: {e}");
            *state = ConnectionState::Failed {
                reason: format!("Cannot connect to {}: {e}.", config.target()),
            };
            return;
        }
    };
    let target = config.target().into_options();
    let link = trigger.entity;
    commands.queue(move |world: &mut World| {
        let transport = world.spawn((AeronetLinkOf(link), Name::new("WebTransport connection")));
        WebTransportClient::connect(quic, target).apply(transport);
    });
}

pub(crate) fn quic_config(
    config: &ClientConfig,
    accepted: &AcceptedCertificate,
) -> Result<QuicConfig> {
    // IPv4 only: the servers this client reaches listen on IPv4.
    let builder = QuicConfig::builder().with_bind_config(IpBindConfig::InAddrAnyV4);
    let builder = match config.trust() {
        Trust::Pinned => {
            let digest = parse_key_hex(&config.cert_digest).ok_or_else(|| {
                format!(
                    "the certificate digest must be 64 hex digits, got {:?}",
                    config.cert_digest
                )
            })?;
            accepted.set(config.cert_digest.to_ascii_lowercase());
            builder.with_server_certificate_hashes([Sha256Digest::new(digest)])
        }
        Trust::Authorities => {
            let mut roots = tls::build_native_cert_store();
            for authority in &config.extra_authorities {
                roots.add(authority.clone())?;
            }
            if roots.is_empty() {
                return Err(
                    "no digest was given (--cert-digest) and this system trusts no \
                            certificate authority (install ca-certificates, or pass --ca-file)"
                        .into(),
                );
            }
            let roots = Arc::new(roots);
            // The cryptography wtransport itself is built with.
            let provider = Arc::new(crypto::ring::default_provider());
            let verifier = Recording {
                inner: WebPkiServerVerifier::builder_with_provider(roots.clone(), provider)
                    .build()?,
                accepted: accepted.clone(),
            };
            builder.with_custom_tls(tls::client::build_default_tls_config(
                roots,
                Some(Arc::new(verifier)),
            ))
        }
    };
    Ok(builder
        .keep_alive_interval(Some(archipelago_shared::protocol::QUIC_KEEP_ALIVE))
        .max_idle_timeout(Some(archipelago_shared::protocol::QUIC_IDLE_TIMEOUT))?
        .build())
}

/// The authorities' usual check, remembering the digest of each certificate it accepts.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    accepted: AcceptedCertificate,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        self.accepted.set(sha256_hex(end_entity.as_ref()));
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn config(digest: &str) -> ClientConfig {
        ClientConfig::new(
            "127.0.0.1:7447".parse().unwrap(),
            digest.to_owned(),
            "Ada".into(),
            SigningKey::from_bytes(&[7; 32]),
        )
    }

    #[test]
    fn a_digest_pins_and_no_digest_asks_the_authorities() {
        assert_eq!(config(&"ab".repeat(32)).trust(), Trust::Pinned);
        assert_eq!(config("").trust(), Trust::Authorities);
    }

    #[test]
    fn a_named_server_is_asked_for_by_name() {
        let mut named = config("");
        assert_eq!(named.target(), "https://127.0.0.1:7447");
        named.server_name = Some("play.example.org".into());
        assert_eq!(named.target(), "https://play.example.org:7447");
    }

    #[test]
    fn a_server_is_an_address_or_a_name_with_a_port() {
        assert_eq!(
            parse_server("127.0.0.1:7447").unwrap(),
            ("127.0.0.1:7447".parse().unwrap(), None)
        );
        assert_eq!(
            parse_server("localhost:7447").unwrap(),
            ("127.0.0.1:7447".parse().unwrap(), Some("localhost".into()))
        );
        assert!(parse_server("localhost").unwrap_err().contains("NAME:PORT"));
        assert!(
            parse_server("localhost:http")
                .unwrap_err()
                .contains("port number")
        );
    }

    #[test]
    fn a_malformed_digest_is_refused_in_words() {
        let error = quic_config(&config("abc"), &AcceptedCertificate::default())
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("64 hex digits"), "{error}");
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        let path = std::env::temp_dir().join(format!("no-ca-{}.pem", std::process::id()));
        std::fs::write(&path, "not a certificate\n").unwrap();
        let error = config("").trust_ca_file(&path).err().unwrap();
        assert!(error.contains("holds no certificate"), "{error}");
        let _ = std::fs::remove_file(path);
    }
}
