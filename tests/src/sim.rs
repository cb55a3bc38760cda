//! The real server app and real headless client apps in one process, joined by lightyear's
//! in-memory (crossbeam) channels instead of QUIC, and stepped by hand: every frame advances
//! each app by one tick of game time, however long it took. No sockets, no threads of ours
//! and no wall-clock waits between frames, so tests built on a [`Sim`] run in parallel and
//! a slow machine only makes them slower, never flaky.
//!
//! What this does not test is the transport: QUIC, certificates, netcode over a lossy link,
//! reconnection. Those stay on [`crate::TestServer`] (tests/tests/scenarios).
//!
//! A frame ([`Sim::step`]) updates every client (a client reads the channel first and writes
//! to it last), waits for the database to finish what it was given, then updates the server.
//! A request written in frame `n` is read by the server in frame `n`; its answer is read by
//! the client in frame `n + 1`, or a frame later when it needed the database.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use archipelago_client::ClientConfig;
use archipelago_client::transport::InProcessLink;
use archipelago_server::admission::Admission;
use archipelago_server::network::{MAX_CLIENTS, Transport};
use archipelago_server::session::LoggedIn;
use archipelago_server::storage::StorageHandle;
use archipelago_server::tls::{Certificates, TlsSource};
use archipelago_server::{ServerConfig, build_app, open_storage};
use archipelago_shared::protocol::{DEFAULT_TICK_HZ, Role};
use bevy::ecs::schedule::{Schedules, SingleThreadedExecutor};
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use ed25519_dalek::SigningKey;
use lightyear::crossbeam::CrossbeamIo;
use lightyear::link::server::{LinkOf, Server};
use lightyear::link::{Link, Linked};
use lightyear::prelude::PeerAddr;

use crate::{TestClient, world};

/// The address the server's netcode and the clients' connect tokens name. Nothing binds it.
const SIM_SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7447);

/// Longest wait for the database between two frames. Past it the frame goes on: a test
/// waiting for an answer then fails on its own deadline, with its own message.
const STORAGE_WAIT: Duration = Duration::from_secs(10);

/// One idle runtime for every client app's (unused) QUIC transport, instead of a runtime
/// built, and leaked, per app.
fn idle_runtime() -> tokio::runtime::Handle {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime")
        })
        .handle()
        .clone()
}

/// A data directory on tmpfs where there is one: SQLite's syncs then cost nothing.
fn scratch_dir() -> tempfile::TempDir {
    let builder = || {
        let mut builder = tempfile::Builder::new();
        builder.prefix("archipelago-sim-");
        builder
    };
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = builder().tempdir_in(shm)
    {
        return dir;
    }
    builder().tempdir().expect("a temporary directory")
}

/// Every schedule of `app` on the calling thread: a test runs several apps, and several
/// tests run at once.
fn single_threaded(app: &mut App) {
    let mut schedules = app.world_mut().resource_mut::<Schedules>();
    for (_, schedule) in schedules.iter_mut() {
        schedule.set_executor(SingleThreadedExecutor::new());
    }
}

/// A server and its clients in one process.
pub struct Sim {
    pub server: App,
    /// The clients, in the order they were added; each has the usual [`TestClient`] views.
    pub clients: Vec<TestClient>,
    /// Each client's link entity on the server (its `LoggedIn` entity once logged in).
    pub links: Vec<Entity>,
    pub keys: Vec<SigningKey>,
    server_entity: Entity,
    /// Game time per frame: one tick, on the server and the clients alike.
    frame: Duration,
    _dir: tempfile::TempDir,
}

impl Sim {
    /// A server on a fresh database, with nobody connected.
    pub fn new() -> Self {
        Self::with_config(|_| {})
    }

    /// As [`Sim::new`], with the server's configuration adjusted first.
    pub fn with_config(adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        let tick_hz = DEFAULT_TICK_HZ;
        // The expression both sides use for their tick: one update is one tick on each.
        let frame = Duration::from_secs_f64(1.0 / f64::from(tick_hz));
        let dir = scratch_dir();
        let mut config = ServerConfig {
            bind: SIM_SERVER,
            tick_hz,
            data_dir: dir.path().join("data"),
            max_clients: MAX_CLIENTS,
            admission: Admission::for_places(MAX_CLIENTS),
            transport: Transport::InProcess,
        };
        adjust(&mut config);
        let world = world();
        let (storage, _runtime) = open_storage(&config, &world).expect("storage opens");
        // The digest goes into the identity logins sign; no TLS runs in-process.
        let certificates = Certificates::new(TlsSource::self_signed()).expect("certificate");
        let log = std::env::var_os("ARCHIPELAGO_TEST_LOG").is_some();
        let mut server = build_app(config, world, certificates, storage, log);
        server.insert_resource(TimeUpdateStrategy::ManualDuration(frame));
        server.finish();
        server.cleanup();
        single_threaded(&mut server);
        // Startup spawns and starts the netcode server. Links are added after it: a server
        // starting unlinked drops the links it already has.
        server.update();
        let server_entity = {
            let world = server.world_mut();
            let mut servers = world.query_filtered::<Entity, With<Server>>();
            servers.single(world).expect("one server entity")
        };
        Self {
            server,
            clients: Vec::new(),
            links: Vec::new(),
            keys: Vec::new(),
            server_entity,
            frame,
            _dir: dir,
        }
    }

    /// Adds a client for a new key called `name`, registered with `role` first (none: a
    /// visitor). It connects and logs in as the sim steps: see [`Sim::enter_world`].
    pub fn join(&mut self, name: &str, role: Option<Role>) -> usize {
        let key = archipelago_client::identity::ephemeral();
        if let Some(role) = role {
            self.register(&key, name, role);
        }
        self.add_client(name, key)
    }

    /// Adds a client for `key`, as it is registered (or not). Returns its index.
    pub fn add_client(&mut self, name: &str, key: SigningKey) -> usize {
        let index = self.clients.len();
        let (client_end, server_end) = CrossbeamIo::new_pair();
        // A distinct address per client, for the logs; loopback, which admission's caps
        // per address leave alone.
        let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 20_000 + index as u16);
        let link = self
            .server
            .world_mut()
            .spawn((
                LinkOf {
                    server: self.server_entity,
                },
                Link::default(),
                PeerAddr(peer),
                Linked,
                server_end,
            ))
            .id();
        self.server.world_mut().flush();

        // No certificate is pinned: none is presented in-process.
        let config = ClientConfig::new(SIM_SERVER, String::new(), name.to_owned(), key.clone());
        let mut app = App::new();
        app.insert_resource(aeronet_webtransport::WebTransportRuntime::from(
            idle_runtime(),
        ));
        app.add_plugins((MinimalPlugins, bevy::state::app::StatesPlugin));
        archipelago_client::add_client_plugins(&mut app, config, world());
        app.insert_resource(InProcessLink::new(client_end));
        app.insert_resource(TimeUpdateStrategy::ManualDuration(self.frame));
        app.finish();
        app.cleanup();
        single_threaded(&mut app);

        self.clients.push(TestClient { app });
        self.links.push(link);
        self.keys.push(key);
        index
    }

    /// Records a key with a role in the server's database, as the admin CLI does.
    pub fn register(&self, key: &SigningKey, name: &str, role: Role) {
        self.set_role(key, Some(name), role);
    }

    /// Changes a registered key's role, as `admin grant-role` does; the server notices it
    /// as it notices the CLI's changes.
    pub fn grant(&self, key: &SigningKey, role: Role) {
        self.set_role(key, None, role);
    }

    fn set_role(&self, key: &SigningKey, name: Option<&str>, role: Role) {
        let hex = archipelago_shared::identity::to_hex(key.verifying_key().as_bytes());
        let name = name.map(str::to_owned);
        self.server
            .world()
            .resource::<StorageHandle>()
            .run_now(|storage| async move {
                if let Some(name) = name {
                    storage.login(&hex, &name).await.expect("registered");
                }
                storage
                    .grant_role(&hex, role, "test")
                    .await
                    .expect("role granted");
            });
    }

    /// Waits until the database has finished every job it was given, so its answers are
    /// delivered in the next frame however slow the machine is: game time must not run ahead
    /// of the database (a login's deadline, say). The ballot and minutes writers run apart
    /// from this count; tests wait for their answers as for any other.
    fn settle_storage(&self) {
        let storage = self.server.world().resource::<StorageHandle>();
        let start = Instant::now();
        while storage.jobs_in_flight() > 0 && start.elapsed() < STORAGE_WAIT {
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    /// One frame: every client, then the server, each one tick further.
    pub fn step(&mut self) {
        for client in &mut self.clients {
            client.app.update();
        }
        self.settle_storage();
        self.server.update();
    }

    /// Steps for `time` of game time.
    pub fn run_for(&mut self, time: Duration) {
        for _ in 0..self.frames_in(time) {
            self.step();
        }
    }

    /// Steps until `done` holds or `time` of game time has passed; whether it held.
    pub fn step_until(&mut self, time: Duration, mut done: impl FnMut(&mut Sim) -> bool) -> bool {
        for _ in 0..self.frames_in(time) {
            if done(self) {
                return true;
            }
            self.step();
        }
        done(self)
    }

    fn frames_in(&self, time: Duration) -> usize {
        (time.as_secs_f64() / self.frame.as_secs_f64()).ceil() as usize
    }

    /// Client `i`.
    pub fn client(&mut self, i: usize) -> &mut TestClient {
        &mut self.clients[i]
    }

    /// Steps until each of `clients` is in the world with its avatar and the land registry.
    pub fn enter_world(&mut self, clients: &[usize]) {
        let entered = self.step_until(Duration::from_secs(20), |sim| {
            clients.iter().all(|&i| sim.clients[i].in_world())
        });
        let states: Vec<_> = clients.iter().map(|&i| self.clients[i].state()).collect();
        assert!(entered, "everyone enters the world: {states:?}");
    }

    /// Who client `i` is logged in as, on the server.
    pub fn logged_in(&self, i: usize) -> Option<LoggedIn> {
        self.server.world().get::<LoggedIn>(self.links[i]).cloned()
    }

    /// Sends client `i`'s request the way its UI does and steps until `answered` sees the
    /// answer (within 5 s of game time); returns what it saw.
    pub fn ask<T>(
        &mut self,
        i: usize,
        send: impl FnOnce(&mut TestClient),
        mut answered: impl FnMut(&TestClient) -> Option<T>,
    ) -> T {
        send(&mut self.clients[i]);
        let mut answer = None;
        self.step_until(Duration::from_secs(5), |sim| {
            answer = answered(&sim.clients[i]);
            answer.is_some()
        });
        answer.expect("the server answers within 5 s")
    }
}

impl Default for Sim {
    fn default() -> Self {
        Self::new()
    }
}
