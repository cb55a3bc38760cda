//! Test harness: a real server on a loopback port, in its own thread, and real headless
//! clients over QUIC, stepped from the test thread.

pub mod relay;
pub mod sim;
pub mod voice;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use archipelago_client::ClientConfig;
use archipelago_client::assembly::{AssemblyAnswers, SendAssembly};
use archipelago_client::chat::{ChatLog, SendChat};
use archipelago_client::connection::{ConnectionState, Request, Session};
use archipelago_client::governance::{CastVote, Governance};
use archipelago_client::parcels::ParcelBook;
use archipelago_server::tls::{Certificates, TlsSource};
use archipelago_server::{ServerConfig, ShutdownFlag, build_app, open_storage};
use archipelago_shared::assembly::{
    AssemblyNews, AssemblyRefusal, AssemblyRequest, HallSession, InOverflow, ModerationAction,
};
use archipelago_shared::chat::{ChatRefusal, ChatTo};
use archipelago_shared::governance::tally::Choice;
use archipelago_shared::governance::{
    GovernanceRefusal, GovernanceRequest, ProposalDraft, ProposalId, ProposalView,
};
use archipelago_shared::identity::LoginRefusal;
use archipelago_shared::parcels::{ParcelInfo, ParcelRefusal};
use archipelago_shared::protocol::{AvatarPose, AvatarProfile, ToServer};
use archipelago_shared::recognition::RecognitionRefusal;
use archipelago_shared::world::Place;
use bevy::prelude::*;
use ed25519_dalek::SigningKey;

/// The world data every test uses: the real files under `assets/world`.
pub use archipelago_shared::world::{checkout_world as world, checkout_world_dir as world_dir};

/// A UDP port nobody uses right now on loopback.
pub fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

/// A server running in its own thread.
pub struct TestServer {
    pub addr: SocketAddr,
    pub digest: String,
    pub data_dir: PathBuf,
    flag: ShutdownFlag,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server with a fresh data directory inside `dir`.
    pub fn start(dir: &Path) -> Self {
        Self::start_with_data(dir.join("data"))
    }

    /// Starts a server on an existing data directory (to test restarts).
    pub fn start_with_data(data_dir: PathBuf) -> Self {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let certificates = Certificates::new(TlsSource::self_signed()).expect("self-signed cert");
        let digest = certificates.digest().to_owned();
        let config = ServerConfig {
            bind: addr,
            tick_hz: archipelago_shared::protocol::DEFAULT_TICK_HZ,
            data_dir: data_dir.clone(),
            max_clients: archipelago_server::network::MAX_CLIENTS,
            admission: archipelago_server::admission::Admission::for_places(
                archipelago_server::network::MAX_CLIENTS,
            ),
            transport: archipelago_server::network::Transport::WebTransport,
            clock: archipelago_shared::clock::Clock::system(),
        };
        let flag = ShutdownFlag::default();
        let thread_flag = flag.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("test-server".into())
            .spawn(move || {
                let world = world();
                let (storage, _runtime) = open_storage(&config, &world).expect("storage opens");
                let mut app = build_app(
                    config,
                    world,
                    certificates,
                    storage,
                    std::env::var_os("ARCHIPELAGO_TEST_LOG").is_some(),
                );
                app.insert_resource(thread_flag);
                let _ = ready_tx.send(());
                app.run();
            })
            .expect("server thread");
        ready_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server starts");
        // Give the endpoint a moment to bind before clients knock.
        std::thread::sleep(Duration::from_millis(300));
        Self {
            addr,
            digest,
            data_dir,
            flag,
            thread: Some(thread),
        }
    }

    pub fn client_config(&self, name: &str, key: SigningKey) -> ClientConfig {
        ClientConfig::new(self.addr, self.digest.clone(), name.to_owned(), key)
    }

    /// Stops the server and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.flag.0.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl TestServer {
    /// Registers a key with a role in the running server's database, the way the admin CLI
    /// does, before that key logs in.
    pub fn register(&self, key: &SigningKey, name: &str, role: archipelago_shared::protocol::Role) {
        self.set_role(key, Some(name), role);
    }

    /// Changes a registered key's role in the running server's database, as `admin
    /// grant-role` does.
    pub fn grant(&self, key: &SigningKey, role: archipelago_shared::protocol::Role) {
        self.set_role(key, None, role);
    }

    /// Records the key (with `name`, if given, as a login does), then gives it `role`.
    fn set_role(
        &self,
        key: &SigningKey,
        name: Option<&str>,
        role: archipelago_shared::protocol::Role,
    ) {
        let hex = archipelago_shared::identity::to_hex(key.verifying_key().as_bytes());
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let storage = archipelago_server::storage::Storage::open(&self.data_dir)
                .await
                .expect("database opens beside the running server");
            if let Some(name) = name {
                storage.login(&hex, name).await.expect("registered");
            }
            storage
                .grant_role(&hex, role, "test")
                .await
                .expect("role granted");
            storage.close().await;
        });
    }

    /// A client for a new key called `name`, registered with `role` first (none: a visitor).
    /// Not yet in the world: see [`enter_world`] and [`enter_world_together`].
    pub fn join(&self, name: &str, role: Option<archipelago_shared::protocol::Role>) -> TestClient {
        let key = archipelago_client::identity::ephemeral();
        if let Some(role) = role {
            self.register(&key, name, role);
        }
        TestClient::new(self.client_config(name, key))
    }
}

/// A yes/no proposal for members, open for an hour once opened, decided by one ballot.
pub fn yes_no_draft(title: &str) -> ProposalDraft {
    use archipelago_shared::governance::tally::VoteType;
    use archipelago_shared::governance::{Eligibility, Scope};
    ProposalDraft {
        title: title.into(),
        body: String::new(),
        scope: Scope::Nation,
        eligibility: Eligibility::AtLeast(archipelago_shared::protocol::Role::Member),
        vote_type: VoteType::YesNo,
        options: Vec::new(),
        opens_at: None,
        voting_secs: 3600,
        quorum: 1,
        threshold_percent: 50,
        live_tally: true,
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A headless client app, of a server over QUIC or of one in this process ([`sim`]).
pub struct TestClient {
    pub app: App,
    sim: Option<sim::SimLink>,
}

impl TestClient {
    /// A client of a server over QUIC.
    pub fn new(config: ClientConfig) -> Self {
        let mut app = archipelago_client::headless_app(config, world());
        app.finish();
        app.cleanup();
        Self { app, sim: None }
    }

    pub fn state(&self) -> ConnectionState {
        self.app.world().resource::<ConnectionState>().clone()
    }

    pub fn session(&self) -> Session {
        self.app.world().resource::<Session>().clone()
    }

    /// Whether this client is in the world with its avatar and the land registry.
    pub fn in_world(&self) -> bool {
        let world = self.app.world();
        self.state() == ConnectionState::InWorld
            && self
                .session()
                .own_avatar
                .is_some_and(|own| world.get::<AvatarPose>(own).is_some())
            && world.resource::<ParcelBook>().loaded
    }

    /// Waits until the login is answered and returns why the server refused it; `None`: it
    /// let this client in.
    pub fn login_refusal(&mut self) -> Option<LoginRefusal> {
        let answered = wait_until(&mut [&mut *self], Duration::from_secs(30), |c| {
            c[0].state().is_failed() || c[0].state() == ConnectionState::InWorld
        });
        assert!(answered, "the login is answered: {:?}", self.state());
        match self.state() {
            ConnectionState::Failed { reason } => Some(
                self.session()
                    .refused
                    .unwrap_or_else(|| panic!("it failed without the server's refusal: {reason}")),
            ),
            _ => None,
        }
    }

    /// Our own avatar's pose, once we have one.
    pub fn own_pose(&mut self) -> Option<AvatarPose> {
        let entity = self.session().own_avatar?;
        self.app.world().get::<AvatarPose>(entity).copied()
    }

    /// Poses of avatars other than our own, by name.
    pub fn others(&mut self) -> Vec<(String, AvatarPose)> {
        let own = self.session().own_avatar;
        let world = self.app.world_mut();
        let mut query = world.query::<(Entity, &AvatarProfile, &AvatarPose)>();
        query
            .iter(world)
            .filter(|(e, _, _)| Some(*e) != own)
            .map(|(_, profile, pose)| (profile.name.clone(), *pose))
            .collect()
    }

    /// Queues bytes to go out as one transport packet, after netcode's framing and encryption,
    /// as a hostile client would (the bytes need not be anything lightyear would write).
    pub fn send_raw_packet(&mut self, packet: Vec<u8>) {
        let world = self.app.world_mut();
        let mut links = world
            .query_filtered::<&mut lightyear::link::Link, With<lightyear::prelude::client::Client>>(
            );
        for mut link in links.iter_mut(world) {
            link.send.push(packet.clone().into());
        }
    }

    /// The network id of a channel of the protocol, as both sides number it.
    pub fn channel_id<C: lightyear::prelude::Channel>(&self) -> u16 {
        let registry = self
            .app
            .world()
            .resource::<lightyear::prelude::ChannelRegistry>();
        *registry
            .get_net_from_kind(&lightyear::transport::channel::registry::ChannelKind::of::<C>())
            .expect("the channel is registered")
    }

    /// Leaves the way a closing client does: tells the server, lets the packets go out.
    pub fn disconnect(mut self) {
        let world = self.app.world_mut();
        let mut clients =
            world.query_filtered::<Entity, With<lightyear::prelude::client::Client>>();
        let entities: Vec<Entity> = clients.iter(world).collect();
        for entity in entities {
            world.trigger(lightyear::prelude::client::Disconnect { entity });
        }
        for _ in 0..5 {
            self.app.update();
            match &self.sim {
                Some(sim) => sim.server.step(),
                None => std::thread::sleep(Duration::from_millis(16)),
            }
        }
    }

    /// This client's copy of the nation's standing, once it has arrived.
    pub fn standing(&self) -> Option<archipelago_shared::recognition::Standing> {
        let book = self
            .app
            .world()
            .resource::<archipelago_client::recognition::StandingBook>();
        book.standing.clone()
    }

    /// The recognizers in the capital's embassy row, in the row's order.
    pub fn embassy_row(&self) -> Vec<String> {
        let row = self
            .app
            .world()
            .resource::<archipelago_client::recognition::EmbassyRow>();
        row.plaques.iter().map(|p| p.recognizer.clone()).collect()
    }

    /// Sends a recognition request and waits for the server's answer to it.
    pub fn record(
        &mut self,
        request: archipelago_shared::recognition::RecognitionRequest,
    ) -> Result<String, RecognitionRefusal> {
        use archipelago_client::recognition::{SendRecognition, StandingBook};
        let before = self.app.world().resource::<StandingBook>().answers.len();
        self.app.world_mut().write_message(SendRecognition(request));
        let answered = wait_until(&mut [self], Duration::from_secs(5), |c| {
            c[0].app.world().resource::<StandingBook>().answers.len() > before
        });
        assert!(answered, "the server should answer a recognition request");
        let book = self.app.world().resource::<StandingBook>();
        book.answers[before].1.clone()
    }

    /// Sends a request the way the UI does.
    pub fn request(&mut self, message: ToServer) {
        self.app.world_mut().write_message(Request(message));
    }

    /// This client's copy of a parcel's record.
    pub fn parcel(&self, id: &str) -> Option<ParcelInfo> {
        self.app.world().resource::<ParcelBook>().get(id).cloned()
    }

    /// The server's last answer to this client about a parcel.
    pub fn parcel_answer(&self, id: &str) -> Option<Result<String, ParcelRefusal>> {
        let book = self.app.world().resource::<ParcelBook>();
        book.answers.get(id).map(|(_, outcome)| outcome.clone())
    }

    /// This client's view of governance.
    pub fn governance(&self) -> &Governance {
        self.app.world().resource::<Governance>()
    }

    /// This client's copy of a proposal with its count.
    pub fn proposal(&self, id: ProposalId) -> Option<ProposalView> {
        self.governance().proposals.get(&id).cloned()
    }

    /// Signs and sends a ballot the way the governance window does.
    pub fn vote(&mut self, proposal: ProposalId, choice: Choice) {
        self.app
            .world_mut()
            .write_message(CastVote { proposal, choice });
    }

    /// Asks the server to do something with proposals.
    pub fn govern(&mut self, request: GovernanceRequest) {
        self.request(ToServer::Governance(request));
    }

    /// The server's last answer about a proposal, if any.
    pub fn governance_answer(
        &self,
        proposal: ProposalId,
    ) -> Option<Result<String, GovernanceRefusal>> {
        self.governance()
            .last_answer(proposal)
            .map(|(_, _, outcome)| outcome.clone())
    }

    /// Asks something of the assembly the way the assembly panel does.
    pub fn assembly(&mut self, request: AssemblyRequest) {
        self.app.world_mut().write_message(SendAssembly(request));
    }

    /// Says `text` the way the chat box does.
    pub fn say(&mut self, to: ChatTo, text: &str) {
        self.app.world_mut().write_message(SendChat {
            to,
            text: text.to_owned(),
        });
    }

    /// Says a line to the place and waits until it comes back or is refused; the refusal.
    pub fn try_to_say(&mut self, text: &str) -> Option<ChatRefusal> {
        let refused_before = self.app.world().resource::<ChatLog>().refusals.len();
        self.say(ChatTo::Place, text);
        let answered = wait_until(&mut [self], Duration::from_secs(3), |c| {
            let log = c[0].app.world().resource::<ChatLog>();
            log.refusals.len() > refused_before || log.lines.iter().any(|(_, l)| l.text == text)
        });
        assert!(answered, "a chat line is either heard or refused");
        let log = self.app.world().resource::<ChatLog>();
        log.refusals[refused_before..]
            .first()
            .map(|(_, r)| r.clone())
    }

    /// A request to moderate this client in the hall of `protocity`.
    pub fn moderation(
        &self,
        protocity: &str,
        action: ModerationAction,
        reason: &str,
    ) -> AssemblyRequest {
        AssemblyRequest::Moderate {
            protocity: protocity.to_owned(),
            whom: self.key_hex(),
            action,
            reason: reason.to_owned(),
        }
    }

    /// Whether this client's avatar stands in `place`.
    pub fn stands_in(&mut self, place: Place) -> bool {
        self.own_pose()
            .is_some_and(|p| world().place_at(p.position) == place)
    }

    /// The session this client receives for a hall (it does while standing in that hall).
    pub fn hall_session(&mut self, protocity: &str) -> Option<HallSession> {
        let world = self.app.world_mut();
        let mut query = world.query::<&HallSession>();
        archipelago_client::assembly::session_in(query.iter(world), protocity).cloned()
    }

    /// The server's answers to this client's assembly requests, oldest first.
    pub fn assembly_answers(&self) -> Vec<Result<String, AssemblyRefusal>> {
        let answers = self.app.world().resource::<AssemblyAnswers>();
        answers.answers.iter().map(|(_, o)| o.clone()).collect()
    }

    /// What the server told this client about itself (sanctions, kept out, moved up),
    /// oldest first.
    pub fn told(&self) -> Vec<AssemblyNews> {
        let answers = self.app.world().resource::<AssemblyAnswers>();
        answers.told.iter().map(|(_, news)| news.clone()).collect()
    }

    /// Sends an assembly request and waits for the server's answer to it.
    pub fn ask(&mut self, request: AssemblyRequest) -> Result<String, AssemblyRefusal> {
        let before = self.assembly_answers().len();
        self.assembly(request);
        let answered = wait_until(&mut [self], Duration::from_secs(3), |c| {
            c[0].assembly_answers().len() > before
        });
        assert!(answered, "the server answers every assembly request");
        self.assembly_answers().pop().expect("an answer")
    }

    /// Whether this client's avatar was put in a full hall's overflow room.
    pub fn in_overflow(&mut self) -> bool {
        let Some(own) = self.session().own_avatar else {
            return false;
        };
        self.app.world().get::<InOverflow>(own).is_some()
    }

    /// This client's whole public key (hex), as the procedure and requests name people.
    pub fn key_hex(&self) -> String {
        let key = &self.app.world().resource::<ClientConfig>().key;
        archipelago_shared::identity::to_hex(&key.verifying_key().to_bytes())
    }

    pub fn other(&mut self, name: &str) -> Option<AvatarPose> {
        self.others()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
    }
}

/// A founder's draft through the client: sends it and waits until this client sees a new
/// proposal with its title. Returns its id.
pub fn create_proposal(founder: &mut TestClient, draft: ProposalDraft) -> ProposalId {
    let title = draft.title.clone();
    founder.govern(GovernanceRequest::Create(draft));
    let mut found = None;
    wait_until(&mut [founder], Duration::from_secs(5), |c| {
        found = c[0]
            .governance()
            .proposals
            .values()
            .find(|v| v.proposal.draft.title == title)
            .map(|v| v.proposal.id);
        found.is_some()
    });
    found.unwrap_or_else(|| {
        panic!(
            "the draft `{title}` should be stored; answers: {:?}",
            founder.governance().answers
        )
    })
}

/// The server binary as a separate process, so a test can kill it the hard way.
pub struct ServerProcess {
    pub addr: SocketAddr,
    pub digest: String,
    pub data_dir: PathBuf,
    child: std::process::Child,
}

/// The built `archipelago-server` binary (`make test` builds it before the tests).
pub fn server_binary() -> PathBuf {
    let path = std::env::var_os("ARCHIPELAGO_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/archipelago-server")
        });
    assert!(
        path.exists(),
        "the server binary {} is missing: build it with `make server` (make test does)",
        path.display()
    );
    path
}

/// Runs `archipelago-server ARGS` against a data directory (the admin CLI) and returns its
/// standard output, panicking with its error output if it fails.
pub fn server_cli(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(server_binary())
        .arg("--world")
        .arg(world_dir())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server binary runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("stdin written");
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().expect("the CLI finishes");
    assert!(
        output.status.success(),
        "`archipelago-server {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Registers keys with a role through the admin CLI (`admin enroll -`), the way an operator
/// does before a server process starts.
pub fn enroll_with_cli(data_dir: &Path, people: &[(&SigningKey, &str)], role: &str) {
    let lines: String = people
        .iter()
        .map(|(key, name)| {
            let hex = archipelago_shared::identity::to_hex(key.verifying_key().as_bytes());
            format!("{hex} {name}\n")
        })
        .collect();
    server_cli(
        data_dir,
        &["admin", "enroll", "-", "--role", role],
        Some(&lines),
    );
}

impl ServerProcess {
    /// Starts the server binary on a data directory and waits for its certificate digest.
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with_args(data_dir, &[])
    }

    /// Like [`ServerProcess::start`], with more command-line options for the server.
    pub fn start_with_args(data_dir: &Path, args: &[&str]) -> Self {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let digest_file = data_dir.join("cert-digest.txt");
        let _ = std::fs::remove_file(&digest_file);
        let child = std::process::Command::new(server_binary())
            .arg("--bind")
            .arg(addr.to_string())
            .arg("--world")
            .arg(world_dir())
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .spawn()
            .expect("the server binary starts");
        let start = Instant::now();
        let digest = loop {
            if let Ok(text) = std::fs::read_to_string(&digest_file)
                && !text.trim().is_empty()
            {
                break text.trim().to_owned();
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the server process writes its certificate digest"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(Duration::from_millis(300));
        Self {
            addr,
            digest,
            data_dir: data_dir.to_owned(),
            child,
        }
    }

    pub fn client_config(&self, name: &str, key: SigningKey) -> ClientConfig {
        ClientConfig::new(self.addr, self.digest.clone(), name.to_owned(), key)
    }

    /// Sends SIGTERM, as a service manager stopping the server does.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "SIGTERM is delivered");
    }

    /// Waits up to `timeout` for the process to end, stepping `clients` meanwhile; its exit
    /// status, or `None` if it is still running.
    pub fn wait_for_exit(
        &mut self,
        clients: &mut [&mut TestClient],
        timeout: Duration,
    ) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            for client in clients.iter_mut() {
                client.app.update();
            }
            std::thread::sleep(Duration::from_millis(16));
        }
        None
    }

    /// Whether the process is still running (it may have crashed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The process's resident memory now, in bytes (from /proc).
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc status is readable");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmRSS in /proc status")
            * 1024
    }

    /// SIGKILL: no shutdown handler, no final flush, the way a crash or a power cut ends it.
    pub fn kill(mut self) {
        self.child.kill().expect("the server process is killed");
        self.child.wait().expect("the killed server is reaped");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /metrics` of a server started with `--metrics ADDR`, over a plain TCP connection;
/// the body.
pub fn scrape_metrics(addr: SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("the metrics port answers");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// The value of the first sample of `name` (with any labels) in the text.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Lets `time` pass with the clients updated meanwhile: wall time over QUIC, game time for
/// clients of a server in this process (whose server steps with them).
pub fn pass_time(clients: &mut [&mut TestClient], time: Duration) {
    wait_until(clients, time, |_| false);
}

/// Updates every client (about 60 times a second) until `done` holds or `timeout` passes.
/// Returns whether it held. Clients of a server in this process ([`sim`]) are updated once
/// per frame with their server, and `timeout` is game time.
pub fn wait_until(
    clients: &mut [&mut TestClient],
    timeout: Duration,
    mut done: impl FnMut(&mut [&mut TestClient]) -> bool,
) -> bool {
    if let Some(server) = clients.iter().find_map(|c| c.sim.as_ref()) {
        let server = server.server.clone();
        assert!(
            clients
                .iter()
                .all(|c| c.sim.as_ref().is_some_and(|s| s.server.same(&server))),
            "the clients waited on together share one server"
        );
        for _ in 0..server.frames_in(timeout) {
            for client in clients.iter_mut() {
                client.app.update();
            }
            server.step();
            if done(clients) {
                return true;
            }
        }
        return false;
    }
    let start = Instant::now();
    while start.elapsed() < timeout {
        for client in clients.iter_mut() {
            client.app.update();
        }
        if done(clients) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(16));
    }
    false
}

/// Steers the client's avatar towards `target` until it is within half a metre, updating
/// both clients meanwhile. Returns whether it got there.
pub fn walk_to(walker: &mut TestClient, other: &mut TestClient, target: Vec3) -> bool {
    wait_until(&mut [walker, other], Duration::from_secs(20), |c| {
        let Some(pose) = c[0].own_pose() else {
            return false;
        };
        let to = Vec2::new(target.x - pose.position.x, target.z - pose.position.z);
        let arrived = to.length() < 0.5;
        let mut control = c[0]
            .app
            .world_mut()
            .resource_mut::<archipelago_client::control::AvatarControl>();
        control.direction = if arrived { Vec2::ZERO } else { to.normalize() };
        arrived
    })
}

/// Steers each client's avatar towards its target at once, updating all of them, until every
/// one is within half a metre (or stuck for `timeout`). Returns whether all arrived.
pub fn walk_together(clients: &mut [&mut TestClient], targets: &[Vec3], timeout: Duration) -> bool {
    let arrived = wait_until(clients, timeout, |c| {
        let mut all = true;
        for (client, target) in c.iter_mut().zip(targets) {
            let Some(pose) = client.own_pose() else {
                all = false;
                continue;
            };
            let to = Vec2::new(target.x - pose.position.x, target.z - pose.position.z);
            let here = to.length() < 0.5;
            all &= here;
            let mut control = client
                .app
                .world_mut()
                .resource_mut::<archipelago_client::control::AvatarControl>();
            control.direction = if here { Vec2::ZERO } else { to.normalize() };
        }
        all
    });
    for client in clients.iter_mut() {
        client
            .app
            .world_mut()
            .resource_mut::<archipelago_client::control::AvatarControl>()
            .direction = Vec2::ZERO;
    }
    arrived
}

/// Sends the clients' avatars into a protocity's town hall and waits until they all stand
/// there (updating all of them meanwhile, so none falls behind).
pub fn enter_hall(clients: &mut [&mut TestClient], protocity: &str) {
    let world = world();
    let hall = world
        .protocities
        .iter()
        .position(|p| p.id == protocity)
        .expect("a protocity of the world data");
    for client in clients.iter_mut() {
        client.request(ToServer::EnterHall {
            protocity: protocity.to_owned(),
        });
    }
    let inside = |c: &mut TestClient| {
        c.own_pose()
            .is_some_and(|p| world.place_at(p.position) == Place::Hall(hall))
    };
    let all_inside = wait_until(clients, Duration::from_secs(10), |c| {
        c.iter_mut().all(|c| inside(c))
    });
    let outside: Vec<String> = clients
        .iter_mut()
        .filter_map(|c| {
            (!inside(c)).then(|| {
                let session = c.session();
                format!(
                    "{} at {:?}, {:?}, last notices {:?}",
                    session.name,
                    c.own_pose().map(|p| p.position),
                    c.state(),
                    session.notices.iter().rev().take(3).collect::<Vec<_>>()
                )
            })
        })
        .collect();
    assert!(
        all_inside,
        "every avatar should stand in the {protocity} town hall; outside: {outside:?}"
    );
}

/// A handshake that fails outright on a loaded machine is tried again once, the way a person
/// presses Retry (the bots do the same); a refusal or a timeout is not.
fn retry_failed_handshake(client: &mut TestClient, retried: &mut bool) {
    if let ConnectionState::Failed { reason } = client.state()
        && reason.contains("failed to connect")
        && !*retried
    {
        eprintln!("a first handshake failed ({reason}); retrying once");
        *retried = true;
        client
            .app
            .world_mut()
            .write_message(archipelago_client::connection::Retry);
    }
}

/// The capital's id and the index of its town hall.
pub fn capital_hall() -> (String, usize) {
    let world = world();
    let capital = world.capital().id.clone();
    let hall = world
        .protocities
        .iter()
        .position(|p| p.id == capital)
        .expect("the capital");
    (capital, hall)
}

/// Waits until every client is in the world (updating all of them, so none falls behind),
/// or panics naming those that are not.
pub fn enter_world_together(clients: &mut [&mut TestClient]) {
    let ready = |c: &mut TestClient| c.in_world();
    let mut retried = vec![false; clients.len()];
    let entered = wait_until(clients, Duration::from_secs(40), |c| {
        for (client, retried) in c.iter_mut().zip(&mut retried) {
            retry_failed_handshake(client, retried);
        }
        c.iter_mut().all(|c| ready(c))
    });
    let late: Vec<String> = clients
        .iter_mut()
        .filter_map(|c| (!ready(c)).then(|| format!("{} {:?}", c.session().name, c.state())))
        .collect();
    assert!(
        entered,
        "every client should enter the world; not yet: {late:?}"
    );
}

/// Waits until the client is in the world with its avatar and the land registry, or panics
/// with its state.
pub fn enter_world(client: &mut TestClient) {
    let mut retried = false;
    let entered = wait_until(&mut [client], Duration::from_secs(20), |c| {
        retry_failed_handshake(c[0], &mut retried);
        c[0].in_world()
    });
    let pose = client.own_pose();
    assert!(
        entered,
        "client should enter the world; state is {:?}, own pose {pose:?}, parcels loaded: {}",
        client.state(),
        client.app.world().resource::<ParcelBook>().loaded
    );
}
