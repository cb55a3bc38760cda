//! The authoritative, headless Archipelago server: a Bevy app without rendering that accepts
//! clients over WebTransport (QUIC), checks who they are, and moves every avatar with the
//! shared movement rule against colliders built from the world data.

// The connection and its people: what every feature stands on.
pub mod admission;
pub mod login;
pub mod members;
pub mod network;
pub mod packet_guard;
pub mod refusal_log;
pub mod session;
pub mod shutdown;
pub mod storage;
pub mod telemetry;
pub mod tls;

/// Declares each feature's module and adds its `plugin`, in the order given.
macro_rules! features {
    ($($feature:ident,)*) => {
        $(pub mod $feature;)*

        fn add_features(app: &mut App) {
            $(app.add_plugins($feature::plugin);)*
        }
    };
}

// The features, one line each: a folder (or file) with its plugin, its requests and its SQL.
features! {
    parcels,
    governance,
    chat,
    assembly,
    events,
    recognition,
    avatars,
    rooms,
    status,
    diagnostics,
    voice,
    crowd,
}

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use archipelago_shared::clock::Clock;
use archipelago_shared::movement::WorldColliders;
use archipelago_shared::protocol::ProtocolPlugin;
use archipelago_shared::world::World;
use bevy::app::ScheduleRunnerPlugin;
use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy::state::app::StatesPlugin;
use lightyear::prelude::server::ServerPlugins;

use crate::storage::{Storage, StorageHandle};

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub tick_hz: u32,
    pub data_dir: PathBuf,
    /// Most people connected at once; one more is told the server is full
    /// ([`network::MAX_CLIENTS`] unless the host chose otherwise).
    pub max_clients: usize,
    /// Who may come in: caps per address and on arrivals, places kept for members.
    pub admission: admission::Admission,
    /// How clients reach it: QUIC, or links a test adds in the same process.
    pub transport: network::Transport,
    /// The calendar it keeps: the system clock, or one a test moves with game time.
    pub clock: Clock,
}

/// The phases of the server's frame, in order.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerSystems {
    /// Read client requests and storage replies.
    Receive,
    /// Apply what was received: logins, teleports, parcel changes, proposals and ballots.
    Apply,
    /// Publish derived state: online counts; ask the database for outside changes.
    Publish,
}

/// Set to ask a running server app to stop (Ctrl-C, SIGTERM, tests): see [`shutdown`].
#[derive(Resource, Clone, Default)]
pub struct ShutdownFlag(pub Arc<AtomicBool>);

/// Composes the server's feature plugins. Needs the resources [`World`], [`StorageHandle`],
/// [`ServerSettings`] inserted first.
pub struct ServerPlugin;

/// Settings the plugins read.
#[derive(Resource, Debug, Clone)]
pub struct ServerSettings {
    pub config: ServerConfig,
}

impl Plugin for ServerPlugin {
    fn build(&self, app: &mut App) {
        app.configure_sets(
            Update,
            (
                ServerSystems::Receive,
                ServerSystems::Apply,
                ServerSystems::Publish,
            )
                .chain(),
        );
        // The connection and its people first, then the features.
        app.add_plugins((
            storage::plugin,
            refusal_log::plugin,
            network::plugin,
            tls::plugin,
            packet_guard::plugin,
            session::plugin,
            login::plugin,
            members::plugin,
            shutdown::plugin,
            telemetry::plugin,
        ));
        add_features(app);
    }
}

/// Opens the database and seeds it from the world data. Runs before the app starts, so a
/// broken data directory stops the server with a clear error instead of a half-started world.
pub fn open_storage(
    config: &ServerConfig,
    world: &World,
) -> anyhow::Result<(StorageHandle, Arc<tokio::runtime::Runtime>)> {
    std::fs::create_dir_all(&config.data_dir)?;
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("storage")
            .enable_all()
            .build()?,
    );
    let storage = runtime.block_on(async {
        let storage = Storage::open_with_clock(&config.data_dir, config.clock.clone()).await?;
        seed_storage(&storage, world).await?;
        anyhow::Ok(storage)
    })?;
    Ok((StorageHandle::new(storage, runtime.clone()), runtime))
}

/// Brings the database in step with the world data: founders, new parcels, the seeded
/// standing, and footprints computed from the registry. The server and the admin CLI both
/// start with it, so either may be first on a fresh data directory.
pub async fn seed_storage(storage: &Storage, world: &World) -> anyhow::Result<()> {
    let pruned = storage.prune_visitors(storage.now()).await?;
    if pruned > 0 {
        info!("member registry: forgot {pruned} visitors not seen for a long time");
    }
    storage.seed_founders(&world.nation.founders).await?;
    let seeded = storage.seed_parcels(&world.parcel_seeds()).await?;
    if seeded.added > 0 {
        info!(
            "land registry: recorded {} new parcels from the world data",
            seeded.added
        );
    }
    if !seeded.orphans.is_empty() {
        warn!(
            "land registry: kept {} parcels the world data no longer has: {}",
            seeded.orphans.len(),
            seeded.orphans.join(", ")
        );
    }
    storage.seed_standing(world).await?;
    let parcels = storage.parcels().await?;
    let appended = storage
        .record_footprints(&footprints(world, &parcels))
        .await?;
    if appended > 0 {
        info!("standing: recorded {appended} footprints computed from the land registry");
    }
    Ok(())
}

/// Each protocity's real-estate footprint as the registry holds it now.
pub fn footprints<'a>(
    world: &World,
    parcels: impl IntoIterator<Item = &'a archipelago_shared::parcels::ParcelInfo> + Clone,
) -> Vec<(String, i64)> {
    world
        .protocities
        .iter()
        .map(|p| {
            let area = archipelago_shared::recognition::footprint_m2(parcels.clone(), &p.id);
            (p.id.clone(), area)
        })
        .collect()
}

/// Builds the server app, ready to `run()`. `log` adds Bevy's log plugin (off in tests that
/// run several apps in one process).
pub fn build_app(
    config: ServerConfig,
    world: World,
    certificates: tls::Certificates,
    storage: StorageHandle,
    log: bool,
) -> App {
    let tick = Duration::from_secs_f64(1.0 / f64::from(config.tick_hz.max(1)));
    let mut app = App::new();
    app.add_plugins(MinimalPlugins.set(ScheduleRunnerPlugin::run_loop(tick)));
    if log {
        app.add_plugins(LogPlugin {
            filter: archipelago_shared::protocol::log_filter(&LogPlugin::default().filter),
            ..default()
        });
    }
    app.add_plugins(StatesPlugin);
    app.add_plugins(ServerPlugins {
        tick_duration: tick,
    });
    app.add_plugins(ProtocolPlugin);
    app.insert_resource(login::ThisServer(
        archipelago_shared::identity::ServerIdentity {
            nation: world.nation.name.clone(),
            certificate: certificates.digest().to_owned(),
        },
    ));
    app.insert_resource(config.clock.clone());
    app.insert_resource(WorldColliders::new(&world));
    app.insert_resource(world);
    app.insert_resource(storage);
    app.insert_resource(certificates);
    app.insert_resource(ServerSettings { config });
    app.init_resource::<ShutdownFlag>();
    app.add_plugins(ServerPlugin);
    app
}

#[cfg(test)]
mod tests {
    use bevy::log::LogPlugin;
    use bevy::log::tracing_subscriber::layer::SubscriberExt;
    use bevy::log::tracing_subscriber::{EnvFilter, Registry};
    use bevy::log::{Level, tracing};

    /// The server's log filter: lightyear's per-input ERRORs are off, everything else as Bevy
    /// sets it.
    #[test]
    fn late_inputs_are_not_logged_and_real_errors_are() {
        let plugin = LogPlugin::default();
        let filter = archipelago_shared::protocol::log_filter(&plugin.filter);
        // As the log plugin builds it: its level for everything the filter does not name.
        let filter = EnvFilter::new(format!("{},{filter}", plugin.level));
        let subscriber = Registry::default().with(filter);
        tracing::subscriber::with_default(subscriber, || {
            assert!(
                !tracing::enabled!(target: "lightyear_debug::input", Level::ERROR),
                "lightyear's late-input records are never formatted"
            );
            assert!(
                tracing::enabled!(target: "archipelago_server::storage", Level::ERROR),
                "our own errors still are"
            );
            assert!(
                tracing::enabled!(target: "lightyear_transport", Level::WARN),
                "and so are lightyear's other warnings"
            );
        });
    }
}
