//! The server's network endpoint: a lightyear server over WebTransport (QUIC) with netcode,
//! and the per-client link setup.

use std::time::Duration;

use aeronet_webtransport::server::{ServerConfig, WebTransportServer};
use archipelago_shared::protocol::PROTOCOL_ID;
use bevy::ecs::system::EntityCommand;
use bevy::prelude::*;
use lightyear::connection::client::Disconnected;
use lightyear::link::{LinkStart, Linked, Linking, UnlinkReason, Unlinked, server::LinkOf};
use lightyear::netcode::NetcodeServer;
use lightyear::netcode::server_plugin::NetcodeConfig;
use lightyear::prelude::server::*;
use lightyear::prelude::*;
use lightyear_aeronet::AeronetLinkOf;

use crate::ServerSettings;
use crate::shutdown::ShuttingDown;
use crate::tls::{Certificates, server_tls_config};

/// How often replicated state goes out to clients.
const REPLICATION_INTERVAL: Duration = Duration::from_millis(50);

/// The WebTransport endpoint. It is opened here rather than by lightyear's
/// `WebTransportServerIo`, which fixes its certificate at start: this one asks the
/// certificate slot at each handshake, so a renewed certificate needs no restart.
#[derive(Component, Debug)]
#[require(Server)]
struct Endpoint;

/// How clients reach the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    /// A WebTransport (QUIC) endpoint on the configured address.
    #[default]
    WebTransport,
    /// No endpoint: whoever runs the app adds each client's link itself, as an in-memory
    /// channel (lightyear's crossbeam IO) to a client app in the same process. Tests use it
    /// to run a server and its clients without a network, stepped by hand.
    InProcess,
}

/// Present once the endpoint listens.
#[derive(Resource, Debug, Clone, Copy)]
pub struct Listening;

pub(crate) fn plugin(app: &mut App) {
    app.insert_resource(ReplicationMetadata::new(REPLICATION_INTERVAL));
    app.add_systems(Startup, start_server);
    app.add_observer(open_endpoint);
    app.add_observer(on_started);
    app.add_observer(on_unlinked);
    app.add_observer(on_new_link);
    app.add_observer(on_disconnected);
}

/// Most simultaneous connections unless the host sets `--max-clients`. Each costs the server
/// a little memory while idle; what limits a real crowd is the replication work per avatar
/// (see BENCHMARKS.md). netcode answers one more with a denial, which the client words as
/// "full".
pub const MAX_CLIENTS: usize = 2048;

fn start_server(mut commands: Commands, settings: Res<ServerSettings>) {
    let bind = settings.config.bind;
    // The netcode key only frames packets; who a client is gets proven by its ed25519 login.
    let netcode = NetcodeServer::new(NetcodeConfig {
        protocol_id: PROTOCOL_ID,
        private_key: [0; 32],
        client_timeout_secs: archipelago_shared::protocol::NETCODE_TIMEOUT_SECS,
        // netcode's default is 256; an assembly of the whole nation is more than that. The
        // places themselves are counted at login (see admission.rs): netcode takes a few more
        // connections, so those being turned away never hold a member's place.
        max_clients: settings.config.max_clients + settings.config.admission.headroom(),
        ..default()
    });
    let mut server = commands.spawn((Name::new("Server"), netcode, LocalAddr(bind)));
    if settings.config.transport == Transport::WebTransport {
        server.insert(Endpoint);
    }
    let server = server.id();
    commands.trigger(Start { entity: server });
    info!(
        "starting server on {bind} for at most {} people",
        settings.config.max_clients
    );
}

/// Opens the QUIC endpoint when lightyear starts the server link. Sessions it accepts become
/// links through lightyear's own WebTransport plugin, as with `WebTransportServerIo`.
fn open_endpoint(
    trigger: On<LinkStart>,
    endpoints: Query<&LocalAddr, (With<Endpoint>, Without<Linking>, Without<Linked>)>,
    certificates: Res<Certificates>,
    mut commands: Commands,
) -> Result {
    let Ok(local) = endpoints.get(trigger.entity) else {
        return Ok(());
    };
    let config = ServerConfig::builder()
        .with_bind_address(local.0)
        .with_custom_tls(server_tls_config(certificates.slot()))
        .keep_alive_interval(Some(archipelago_shared::protocol::QUIC_KEEP_ALIVE))
        .max_idle_timeout(Some(archipelago_shared::protocol::QUIC_IDLE_TIMEOUT))?
        .build();
    let link = trigger.entity;
    commands.queue(move |world: &mut World| {
        let transport = world.spawn((AeronetLinkOf(link), Name::new("WebTransport endpoint")));
        WebTransportServer::open(config).apply(transport);
    });
    Ok(())
}

fn on_started(trigger: On<Add, Started>, mut commands: Commands, settings: Res<ServerSettings>) {
    let _ = trigger;
    match settings.config.transport {
        Transport::WebTransport => {
            info!("listening on {} (QUIC/WebTransport)", settings.config.bind);
        }
        Transport::InProcess => info!("started; links are added in process"),
    }
    commands.insert_resource(Listening);
}

/// The endpoint itself failing (for example the port is taken) stops the server loudly:
/// lightyear only marks the entity, and a silent server helps nobody.
fn on_unlinked(
    trigger: On<Add, Unlinked>,
    servers: Query<&Unlinked, With<Server>>,
    shutting: Option<Res<ShuttingDown>>,
    mut exit: MessageWriter<AppExit>,
) {
    // Stopping on purpose (see shutdown.rs) unlinks the endpoint too.
    if let Ok(unlinked) = servers.get(trigger.entity)
        && !matches!(unlinked.reason, UnlinkReason::Initial)
        && shutting.is_none()
    {
        error!("the server endpoint stopped: {:?}", unlinked.reason);
        exit.write(AppExit::error());
    }
}

/// A new client's link gets our MTU at once, as it is spawned: lightyear's transport, which
/// comes when netcode connects, sizes its fragments from the link it finds.
fn on_new_link(trigger: On<Add, LinkOf>, mut links: Query<&mut Link>, mut commands: Commands) {
    if let Ok(mut link) = links.get_mut(trigger.entity) {
        let spawned = std::mem::take(&mut *link);
        *link = spawned.with_mtu(archipelago_shared::protocol::link_mtu());
    }
    commands
        .entity(trigger.entity)
        .insert((ReplicationSender, Name::new("ClientLink")));
}

fn on_disconnected(
    trigger: On<Add, Disconnected>,
    links: Query<(&Disconnected, Option<&RemoteId>), With<LinkOf>>,
) {
    if let Ok((disconnected, remote)) = links.get(trigger.entity) {
        info!(
            "client {:?} disconnected: {:?}",
            remote.map(|r| r.0),
            disconnected.reason
        );
    }
}
