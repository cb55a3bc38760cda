//! The Archipelago client. The networking, login and prediction plugin ([`NetworkPlugin`])
//! runs without a window, so the windowed client, the bots and the tests all use the same
//! code; rendering and UI live in [`render`], compiled with the `render` feature.

/// The client's features, one line each, in the order their plugins are added: each has its
/// headless state in `<feature>.rs` here and its drawing in `render/<feature>`, each with a
/// `plugin`. Both module trees are declared from this one list (`features!(declare)`).
macro_rules! features {
    ($declare:ident) => {
        $declare! {
            parcels,
            governance,
            assembly,
            events,
            recognition,
            chat,
            voice,
            avatars,
        }
    };
}

/// Declares the modules named by [`features`] and a function adding their plugins.
macro_rules! declare {
    ($($feature:ident,)*) => {
        $(pub mod $feature;)*

        fn add_features(app: &mut bevy::prelude::App) {
            $(app.add_plugins($feature::plugin);)*
        }
    };
}

features!(declare);

pub mod bots;
pub mod clock;
pub mod connection;
pub mod control;
pub mod crowd;
pub mod identity;
#[cfg(feature = "render")]
pub mod render;
pub mod tours;
pub mod transport;

use std::net::SocketAddr;
use std::time::Duration;

use archipelago_shared::movement::WorldColliders;
use archipelago_shared::protocol::{DEFAULT_TICK_HZ, ProtocolPlugin};
use archipelago_shared::world::World;
use bevy::prelude::*;
use ed25519_dalek::SigningKey;
use lightyear::prelude::client::ClientPlugins;

/// What a client needs to connect.
#[derive(Resource, Clone, Debug)]
pub struct ClientConfig {
    pub server: SocketAddr,
    /// The server's host name, when it was given by name: its certificate must be issued for
    /// it (see transport.rs).
    pub server_name: Option<String>,
    /// SHA-256 digest of the server's certificate, plain hex: the server must present exactly
    /// that certificate. Empty: certificate authorities vouch for it instead.
    pub cert_digest: String,
    /// The file `cert_digest` was read from (a local server's data directory): read again if
    /// the server comes back with another certificate.
    pub digest_file: Option<std::path::PathBuf>,
    /// Send the packets to this address instead of `server`, which stays the address the
    /// netcode handshake names (a UDP relay in front of the server, as the tests' lossy link).
    pub relay: Option<SocketAddr>,
    /// Certificate authorities trusted besides the system's (`--ca-file`).
    pub extra_authorities:
        Vec<aeronet_webtransport::wtransport::tls::rustls::pki_types::CertificateDer<'static>>,
    pub name: String,
    pub key: SigningKey,
    pub tick_hz: u32,
    /// Give up connecting after this long and say so.
    pub connect_timeout: Duration,
    /// Answer the server's challenge. Always, but in tests of connections that hold a place
    /// without logging in.
    pub log_in: bool,
}

impl ClientConfig {
    pub fn new(server: SocketAddr, cert_digest: String, name: String, key: SigningKey) -> Self {
        Self {
            server,
            server_name: None,
            relay: None,
            cert_digest,
            digest_file: None,
            extra_authorities: Vec::new(),
            name,
            key,
            tick_hz: DEFAULT_TICK_HZ,
            connect_timeout: Duration::from_secs(10),
            log_in: true,
        }
    }

    pub fn tick_duration(&self) -> Duration {
        Duration::from_secs_f64(1.0 / f64::from(self.tick_hz.max(1)))
    }
}

/// The phases of the client's frame, in order.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientSystems {
    /// Read server messages and connection changes.
    Receive,
    /// Decide what to do: bots' brains, keyboard and mouse.
    Control,
    /// Show the result (render plugin).
    Present,
}

/// Networking, login, input and prediction: everything but pixels.
pub struct NetworkPlugin;

impl Plugin for NetworkPlugin {
    fn build(&self, app: &mut App) {
        app.configure_sets(
            Update,
            (
                ClientSystems::Receive,
                ClientSystems::Control,
                ClientSystems::Present,
            )
                .chain(),
        );
        app.add_plugins((
            connection::plugin,
            transport::plugin,
            control::plugin,
            crowd::plugin,
        ));
        add_features(app);
    }
}

/// Adds lightyear's client plugins, the protocol, the world and [`NetworkPlugin`] to an app
/// that already has its base plugins (MinimalPlugins or DefaultPlugins).
pub fn add_client_plugins(app: &mut App, config: ClientConfig, world: World) {
    app.add_plugins(ClientPlugins {
        tick_duration: config.tick_duration(),
    });
    app.add_plugins(ProtocolPlugin);
    app.insert_resource(WorldColliders::new(&world));
    app.insert_resource(world);
    app.insert_resource(config);
    app.add_plugins(NetworkPlugin);
}

/// A complete headless client app (used by bots and tests).
pub fn headless_app(config: ClientConfig, world: World) -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins);
    app.add_plugins(bevy::state::app::StatesPlugin);
    add_client_plugins(&mut app, config, world);
    app
}
