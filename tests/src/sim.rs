//! The real server app and real headless client apps in one process, joined by lightyear's
//! in-memory (crossbeam) channels instead of QUIC, and stepped by hand: every frame advances
//! each app by one tick of game time, however long it took. No sockets, no threads of ours
//! and no wall-clock waits between frames, so tests on a [`SimServer`] run in parallel, and a
//! slow machine makes them slower, never flaky.
//!
//! The clients are ordinary [`TestClient`]s, so a scenario reads the same here as over QUIC:
//! [`crate::wait_until`] and the helpers built on it ([`crate::enter_world`],
//! [`TestClient::ask`], [`crate::walk_to`]...) step the server once per round of client
//! updates, and count their timeouts in game time.
//!
//! What this does not test is the transport: QUIC, certificates, netcode over a lossy link,
//! reconnection. Those stay on [`crate::TestServer`] (tests/tests/scenarios).
//!
//! A frame updates the clients (each reads the channel first and writes to it last), waits for
//! the database to finish what it was given, then updates the server. A request written in
//! frame `n` is read by the server in frame `n`; its answer is read by the client in frame
//! `n + 1`, or a frame later when it needed the database.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
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
use archipelago_shared::clock::Clock;
use archipelago_shared::protocol::{DEFAULT_TICK_HZ, Role};
use bevy::ecs::schedule::{Schedules, SingleThreadedExecutor};
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use ed25519_dalek::SigningKey;
use lightyear::crossbeam::CrossbeamIo;
use lightyear::link::server::{LinkOf, Server};
use lightyear::link::{Link, Linked, Unlinked};
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

/// A link the server closes (the packet guard, say) drops its end of the channel, as a
/// closed QUIC connection would: the client then learns it at once.
fn hang_up(
    trigger: On<Add, Unlinked>,
    links: Query<(), (With<LinkOf>, With<CrossbeamIo>)>,
    mut commands: Commands,
) {
    if links.contains(trigger.entity) {
        commands.entity(trigger.entity).remove::<CrossbeamIo>();
    }
}

/// A server in this process; clients made by [`SimServer::join`] are linked to it, and every
/// clone is the same server.
#[derive(Clone)]
pub struct SimServer(Rc<RefCell<Inner>>);

struct Inner {
    app: App,
    server_entity: Entity,
    /// Game time per frame: one tick, on the server and the clients alike.
    frame: Duration,
    clients: usize,
    dir: tempfile::TempDir,
    clock: Clock,
}

/// What ties a [`TestClient`] to its in-process server.
#[derive(Clone)]
pub(crate) struct SimLink {
    pub(crate) server: SimServer,
    /// The client's link entity on the server (its `LoggedIn` entity once logged in).
    pub(crate) link: Entity,
}

impl SimServer {
    /// A server on a fresh database, with nobody connected.
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// As [`SimServer::start`], with the server's configuration adjusted first.
    pub fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> Self {
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
            clock: Clock::manual(archipelago_shared::clock::unix_millis()),
        };
        adjust(&mut config);
        let clock = config.clock.clone();
        let world = world();
        let (storage, _runtime) = open_storage(&config, &world).expect("storage opens");
        // The digest goes into the identity logins sign; no TLS runs in-process.
        let certificates = Certificates::new(TlsSource::self_signed()).expect("certificate");
        let log = std::env::var_os("ARCHIPELAGO_TEST_LOG").is_some();
        let mut app = build_app(config, world, certificates, storage, log);
        app.insert_resource(TimeUpdateStrategy::ManualDuration(frame));
        app.add_observer(hang_up);
        app.finish();
        app.cleanup();
        single_threaded(&mut app);
        // Startup spawns and starts the netcode server. Links are added after it: a server
        // starting unlinked drops the links it already has.
        app.update();
        let server_entity = {
            let world = app.world_mut();
            let mut servers = world.query_filtered::<Entity, With<Server>>();
            servers.single(world).expect("one server entity")
        };
        Self(Rc::new(RefCell::new(Inner {
            app,
            server_entity,
            frame,
            clients: 0,
            dir,
            clock,
        })))
    }

    /// A client for a new key called `name`, registered with `role` first (none: a visitor).
    /// It connects and logs in as the server steps: see [`crate::enter_world`].
    pub fn join(&self, name: &str, role: Option<Role>) -> TestClient {
        let key = archipelago_client::identity::ephemeral();
        if let Some(role) = role {
            self.register(&key, name, role);
        }
        self.client(name, key)
    }

    /// A client for `key` called `name`, as that key is registered (or not).
    pub fn client(&self, name: &str, key: SigningKey) -> TestClient {
        let (client_end, server_end) = CrossbeamIo::new_pair();
        let link = {
            let mut inner = self.0.borrow_mut();
            inner.clients += 1;
            // A distinct address per client, for the logs; loopback, which admission's caps
            // per address leave alone.
            let port = 20_000 + inner.clients as u16;
            let server = inner.server_entity;
            let world = inner.app.world_mut();
            let link = world
                .spawn((
                    LinkOf { server },
                    Link::default(),
                    PeerAddr(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)),
                    Linked,
                    server_end,
                ))
                .id();
            world.flush();
            link
        };

        // No certificate is pinned: none is presented in-process.
        let config = ClientConfig::new(SIM_SERVER, String::new(), name.to_owned(), key);
        let mut app = App::new();
        app.insert_resource(aeronet_webtransport::WebTransportRuntime::from(
            idle_runtime(),
        ));
        app.add_plugins((MinimalPlugins, bevy::state::app::StatesPlugin));
        archipelago_client::add_client_plugins(&mut app, config, world());
        app.insert_resource(InProcessLink::new(client_end));
        // This "machine" keeps the server's time, as a client's clock would in real time.
        app.insert_resource(archipelago_client::clock::ServerClock::with_local(
            self.clock(),
        ));
        app.insert_resource(TimeUpdateStrategy::ManualDuration(self.frame()));
        app.finish();
        app.cleanup();
        single_threaded(&mut app);
        TestClient {
            app,
            sim: Some(SimLink {
                server: self.clone(),
                link,
            }),
        }
    }

    /// Records a key with a role in the server's database, as the admin CLI does.
    pub fn register(&self, key: &SigningKey, name: &str, role: Role) {
        self.set_role(key, Some(name), role);
    }

    /// Changes a registered key's role, as `admin grant-role` does; the server notices it as
    /// it notices the CLI's changes.
    pub fn grant(&self, key: &SigningKey, role: Role) {
        self.set_role(key, None, role);
    }

    fn set_role(&self, key: &SigningKey, name: Option<&str>, role: Role) {
        let hex = archipelago_shared::identity::to_hex(key.verifying_key().as_bytes());
        let name = name.map(str::to_owned);
        let inner = self.0.borrow();
        inner
            .app
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

    /// One server frame, once the database has finished every job it was given: its answers
    /// are then delivered in this frame however slow the machine is, so game time never runs
    /// ahead of the database (a login's deadline, say). The ballot and minutes writers run
    /// apart from this count; tests wait for what they answer as for anything else.
    pub fn step(&self) {
        let mut inner = self.0.borrow_mut();
        let storage = inner.app.world().resource::<StorageHandle>();
        let start = Instant::now();
        while storage.jobs_in_flight() > 0 && start.elapsed() < STORAGE_WAIT {
            std::thread::sleep(Duration::from_micros(100));
        }
        inner.app.update();
        inner.clock.advance(inner.frame);
    }

    /// The server's clock, which moves one frame per frame.
    pub fn clock(&self) -> Clock {
        self.0.borrow().clock.clone()
    }

    /// The server's data directory (for the admin CLI: [`crate::server_cli`]).
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.0.borrow().dir.path().join("data")
    }

    /// Game time per frame.
    pub fn frame(&self) -> Duration {
        self.0.borrow().frame
    }

    /// Frames in `time` of game time, rounded up.
    pub fn frames_in(&self, time: Duration) -> usize {
        (time.as_secs_f64() / self.frame().as_secs_f64()).ceil() as usize
    }

    /// Who `client` is logged in as, on the server.
    pub fn logged_in(&self, client: &TestClient) -> Option<LoggedIn> {
        let link = client.sim.as_ref()?.link;
        self.0.borrow().app.world().get::<LoggedIn>(link).cloned()
    }

    /// Runs `f` on the server app (to read a resource, say).
    pub fn with_app<T>(&self, f: impl FnOnce(&mut App) -> T) -> T {
        f(&mut self.0.borrow_mut().app)
    }

    pub(crate) fn same(&self, other: &SimServer) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}
