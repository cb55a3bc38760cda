//! Light bots: many connections in one App, for crowds larger than one core can run as
//! full clients. They walk (`--gather` or roaming) and vote (`--vote`). Each bot is one lightyear client entity speaking the same wire protocol as
//! the game (netcode, the login handshake, rosters, crowd frames and their acks, numbered
//! inputs), with none of the game client's systems: no prediction, no replicated world, no
//! entity per avatar seen. A bot keeps only what it reports: who it was told of and has
//! seen move, its own position from the server, and counts.
//!
//! An App with many lightyear clients works here because a light bot has no
//! `ReplicationReceiver` (replicon allows one per App) and no lightyear inputs. What the
//! server replicates is taken off its channels before lightyear reads them for messages (it
//! reads every channel, and would decode replication as messages) and dropped; mutation
//! messages are acknowledged, so the server's replication costs what a game client's does.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use aeronet_webtransport::client::WebTransportClient;
use aeronet_webtransport::wtransport::endpoint::IntoConnectOptions;
use archipelago_shared::clock::unix_millis;
use archipelago_shared::crowd::receive::Received;
use archipelago_shared::crowd::{
    AvatarInputs, CrowdAck, CrowdChannel, CrowdFrame, CrowdId, MAX_INPUTS_PER_MESSAGE, OwnPose,
    RosterNews,
};
use archipelago_shared::governance::{
    Ballot, GovernanceNews, GovernanceRequest, Phase as GovernancePhase, ProposalId, ProposalView,
    sign_ballot,
};
use archipelago_shared::identity::{check_server, login_payload, to_hex};
use archipelago_shared::protocol::{
    AvatarInput, ControlChannel, PROTOCOL_VERSION, ProtocolPlugin, ToClient, ToServer,
};
use archipelago_shared::world::World;
use bevy::ecs::schedule::{Schedules, SingleThreadedExecutor};
use bevy::prelude::*;
use ed25519_dalek::{Signer, SigningKey};
use lightyear::link::{Link, LinkStart, Linked, Linking};
use lightyear::prelude::client::*;
use lightyear::prelude::*;
use lightyear::transport::plugin::TransportSystems;
use lightyear::transport::prelude::Transport;
use lightyear_aeronet::AeronetLinkOf;
use lightyear_replication::channels::RepliconChannelMap;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{
    Behaviour, BotTotals, PerBot, SwarmConfig, SwarmReport, Voting, next_goal, random_choice, steer,
};
use crate::ClientConfig;
use crate::transport::{AcceptedCertificate, quic_config};

/// Fixed ticks between two input messages: 3 is 10 messages a second at 30 Hz, each with
/// the 3 inputs since the last (and one before, so one lost message loses nothing).
const INPUT_EVERY: u32 = 3;
/// A connection that has not logged in after this long is given up and made again.
const CONNECT_WITHIN: Duration = Duration::from_secs(20);
/// Connections a bot opens at most (the first and its retries), as a person pressing Retry.
const CONNECTIONS: u32 = 4;

/// Where a light bot stands.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Connecting { since: Instant },
    InWorld,
    Failed(String),
}

/// One light bot: its identity, its brain and what it saw. Lives on its client entity,
/// which a lost connection connects again.
#[derive(Component)]
struct LightBot {
    index: usize,
    name: String,
    key: SigningKey,
    key_hex: String,
    rng: StdRng,
    phase: Phase,
    connections: u32,
    disconnects: u32,
    /// The QUIC connection's entity, for its byte counts.
    transport: Option<Entity>,
    /// Bytes received over all its connections, and before the present one.
    bytes: usize,
    bytes_before: usize,
    in_world_since: Option<Instant>,
    in_world_for: Duration,
    tick_zero: Option<Instant>,
    /// The newest input number sent.
    last_input: u32,
    inputs_sent: u32,
    input_messages: u32,
    own: Option<CrowdId>,
    position: Option<Vec3>,
    target: Option<Vec3>,
    next_decision: Instant,
    run: bool,
    jump: bool,
    /// It has put on a look of its own.
    dressed: bool,
    teleports: u32,
    received: Received,
    /// Ids the roster told of, ids a crowd frame placed, and both.
    told: HashSet<u16>,
    placed: HashSet<u16>,
    shown: HashSet<u16>,
    frames: u64,
    entries: u64,
    malformed: u64,
    avatars_seen: Vec<u32>,
    next_sample: Instant,
    ballots: Ballots,
}

/// A light bot's voting: the proposal as it last heard of it, its ballot waiting for an
/// answer, and counts.
#[derive(Default)]
struct Ballots {
    view: Option<ProposalView>,
    /// The sequence of its newest stored ballot.
    stored: u64,
    in_flight: Option<(u64, Instant)>,
    next: Option<Instant>,
    sent: u32,
    acked: u32,
    refused: u32,
    ack_latencies: Vec<Duration>,
}

impl LightBot {
    /// Others this bot was told of and has a pose for.
    fn others_shown(&self) -> u32 {
        let own = self.own.is_some_and(|id| self.shown.contains(&id.0));
        (self.shown.len() - usize::from(own)) as u32
    }

    fn forget_the_world(&mut self) {
        self.received = Received::default();
        self.told.clear();
        self.placed.clear();
        self.shown.clear();
        self.own = None;
        self.position = None;
        self.target = None;
        self.tick_zero = None;
        self.last_input = 0;
        // A ballot unanswered when the connection went stays unanswered.
        self.ballots.in_flight = None;
    }
}

/// What all light bots share.
#[derive(Resource)]
struct Swarm {
    config: ClientConfig,
    behaviour: Behaviour,
    digest: String,
    voting: Option<Voting>,
    /// See [`SwarmConfig::plain`].
    plain: bool,
}

/// Runs `config.count` light bots in one App for the configured time and reports as
/// [`super::run_swarm`] does.
pub fn run_light_swarm(config: &SwarmConfig, world: &World) -> SwarmReport {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the bots' transports");
    let mut app = App::new();
    app.insert_resource(aeronet_webtransport::WebTransportRuntime::from(
        runtime.handle().clone(),
    ));
    app.add_plugins((MinimalPlugins, bevy::state::app::StatesPlugin));
    app.add_plugins(ClientPlugins {
        tick_duration: config.template.tick_duration(),
    });
    app.add_plugins(ProtocolPlugin);
    app.insert_resource(world.clone());
    app.insert_resource(Swarm {
        config: config.template.clone(),
        behaviour: config.behaviour,
        digest: config.template.cert_digest.to_ascii_lowercase(),
        voting: config.voting,
        plain: config.plain,
    });
    app.add_observer(open_connection);
    app.add_systems(
        Update,
        (watch, read_control, read_crowd, read_own_pose, walk, vote).chain(),
    );
    app.add_systems(
        PreUpdate,
        answer_replication
            .after(TransportSystems::Receive)
            .before(MessageSystems::Receive),
    );
    app.finish();
    app.cleanup();
    let mut schedules = app.world_mut().resource_mut::<Schedules>();
    for (_, schedule) in schedules.iter_mut() {
        schedule.set_executor(SingleThreadedExecutor::new());
    }
    let now = Instant::now();
    for index in 0..config.count {
        let key = if config.stable_keys {
            super::bot_key(config.seed, index)
        } else {
            crate::identity::ephemeral()
        };
        let bot = LightBot {
            index,
            name: super::bot_name(index, &key.verifying_key()),
            key_hex: to_hex(key.verifying_key().as_bytes()),
            key,
            rng: StdRng::seed_from_u64(config.seed.wrapping_add(index as u64)),
            phase: Phase::Connecting { since: now },
            connections: 0,
            disconnects: 0,
            transport: None,
            bytes: 0,
            bytes_before: 0,
            in_world_since: None,
            in_world_for: Duration::ZERO,
            tick_zero: None,
            last_input: 0,
            inputs_sent: 0,
            input_messages: 0,
            own: None,
            position: None,
            target: None,
            next_decision: now,
            run: false,
            jump: false,
            dressed: false,
            teleports: 0,
            received: Received::default(),
            told: HashSet::new(),
            placed: HashSet::new(),
            shown: HashSet::new(),
            frames: 0,
            entries: 0,
            malformed: 0,
            avatars_seen: Vec::new(),
            next_sample: now,
            ballots: Ballots::default(),
        };
        connect(app.world_mut(), bot);
    }
    let start = Instant::now();
    let pass = Duration::from_secs_f64(1.0 / config.rate_hz.max(1.0));
    let mut passes = 0u64;
    while start.elapsed() < config.duration
        && !config.stop.load(std::sync::atomic::Ordering::Relaxed)
    {
        let pass_start = Instant::now();
        passes += 1;
        app.update();
        if let Some(rest) = pass.checked_sub(pass_start.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    report(app.world_mut(), config.count, passes, seconds)
}

/// Spawns `bot` on a client entity and connects it.
fn connect(world: &mut bevy::ecs::world::World, bot: LightBot) {
    let server = world.resource::<Swarm>().config.server;
    let client = world
        .spawn((
            Name::new(format!("Light bot {}", bot.index + 1)),
            Client,
            Link::default().with_mtu(archipelago_shared::protocol::link_mtu()),
            LocalAddr(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))),
            PeerAddr(server),
            bot,
        ))
        .id();
    reconnect(world, client);
}

/// Connects a light bot's client entity with a new netcode client (the server refuses a
/// reused id for a while).
fn reconnect(world: &mut bevy::ecs::world::World, client: Entity) {
    let netcode = crate::connection::netcode_client(&world.resource::<Swarm>().config);
    let Some(mut bot) = world.get_mut::<LightBot>(client) else {
        return;
    };
    bot.connections += 1;
    bot.phase = Phase::Connecting {
        since: Instant::now(),
    };
    bot.forget_the_world();
    match netcode {
        Ok(netcode) => {
            world.entity_mut(client).insert(netcode);
            world.trigger(Connect { entity: client });
        }
        Err(error) => bot.phase = Phase::Failed(format!("no netcode client: {error}")),
    }
}

/// Opens the QUIC connection of a light bot's link, as the game client does.
fn open_connection(
    trigger: On<LinkStart>,
    links: Query<(), (With<LightBot>, Without<Linking>, Without<Linked>)>,
    swarm: Res<Swarm>,
    mut commands: Commands,
) {
    if links.get(trigger.entity).is_err() {
        return;
    }
    let link = trigger.entity;
    let quic = match quic_config(&swarm.config, &AcceptedCertificate::default()) {
        Ok(quic) => quic,
        Err(error) => {
            warn!("cannot connect: {error}");
            return;
        }
    };
    let target = swarm.config.target().into_options();
    commands.queue(move |world: &mut bevy::ecs::world::World| {
        let transport = world
            .spawn((AeronetLinkOf(link), Name::new("WebTransport connection")))
            .id();
        WebTransportClient::connect(quic, target).apply(world.entity_mut(transport));
        if let Some(mut bot) = world.get_mut::<LightBot>(link) {
            bot.bytes_before = bot.bytes;
            bot.transport = Some(transport);
        }
    });
}

/// Counts bytes, and notices lost and stuck connections and makes them again, a few times.
fn watch(
    mut bots: Query<(Entity, &mut LightBot, Has<Connected>)>,
    sessions: Query<&aeronet_io::Session>,
    mut commands: Commands,
) {
    let now = Instant::now();
    for (entity, mut bot, connected) in &mut bots {
        if let Some(session) = bot.transport.and_then(|t| sessions.get(t).ok()) {
            bot.bytes = bot.bytes_before + session.stats.bytes_recv.0;
        }
        let lost = match bot.phase {
            Phase::Connecting { since } => now - since > CONNECT_WITHIN,
            Phase::InWorld => !connected,
            Phase::Failed(_) => false,
        };
        if !lost {
            continue;
        }
        if bot.phase == Phase::InWorld {
            bot.disconnects += 1;
        }
        if bot.connections >= CONNECTIONS {
            bot.phase = Phase::Failed(format!("gave up after {} connections", bot.connections));
            continue;
        }
        commands.queue(move |world: &mut bevy::ecs::world::World| reconnect(world, entity));
    }
}

/// The login handshake, the roster, and what the server refuses.
fn read_control(
    mut bots: Query<(
        &mut LightBot,
        &mut MessageReceiver<ToClient>,
        &mut MessageSender<ToServer>,
    )>,
    swarm: Res<Swarm>,
) {
    let now = Instant::now();
    for (mut bot, mut receiver, mut sender) in &mut bots {
        let bot = &mut *bot;
        for message in receiver.receive() {
            match message {
                ToClient::Challenge { nonce, server, .. } => {
                    if let Err(other) = check_server(&swarm.digest, &server) {
                        bot.phase = Phase::Failed(format!("not logging in: {other}"));
                        continue;
                    }
                    let signature = bot.key.sign(&login_payload(&server, &nonce, &bot.name));
                    sender.send::<ControlChannel>(ToServer::Login {
                        protocol_version: PROTOCOL_VERSION,
                        name: bot.name.clone(),
                        public_key: bot.key.verifying_key().to_bytes(),
                        signature: signature.to_bytes().to_vec(),
                    });
                }
                ToClient::Welcome { .. } => {
                    bot.phase = Phase::InWorld;
                    bot.in_world_since.get_or_insert(now);
                    bot.tick_zero = Some(now);
                }
                ToClient::Rejected { reason } => {
                    bot.phase = Phase::Failed(format!("login refused: {reason}"));
                }
                ToClient::Governance(news) => {
                    let Some(voting) = swarm.voting else {
                        continue;
                    };
                    heard_of_governance(&mut bot.ballots, voting.proposal, news, now);
                }
                ToClient::Roster(RosterNews::Arrived(people)) => {
                    for person in people {
                        let id = person.id.0;
                        if person.key == bot.key_hex {
                            bot.own = Some(person.id);
                        }
                        bot.told.insert(id);
                        if bot.placed.contains(&id) {
                            bot.shown.insert(id);
                        }
                    }
                }
                ToClient::Roster(RosterNews::Left(ids)) => {
                    for id in ids {
                        bot.told.remove(&id.0);
                        bot.placed.remove(&id.0);
                        bot.shown.remove(&id.0);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Keeps a voting bot's proposal and ballots up to date with the server's news.
fn heard_of_governance(
    ballots: &mut Ballots,
    proposal: ProposalId,
    news: GovernanceNews,
    now: Instant,
) {
    match news {
        GovernanceNews::Proposals {
            proposals,
            my_ballots,
        } => {
            ballots.view = proposals.into_iter().find(|v| v.proposal.id == proposal);
            if let Some(receipt) = my_ballots.iter().find(|r| r.proposal == proposal) {
                ballots.stored = ballots.stored.max(receipt.sequence);
            }
        }
        GovernanceNews::ProposalChanged(view) if view.proposal.id == proposal => {
            ballots.view = Some(*view);
        }
        GovernanceNews::BallotStored(receipt) if receipt.proposal == proposal => {
            ballots.stored = ballots.stored.max(receipt.sequence);
            if let Some((sequence, sent)) = ballots.in_flight
                && sequence == receipt.sequence
            {
                ballots.in_flight = None;
                ballots.acked += 1;
                ballots.ack_latencies.push(now - sent);
            }
        }
        GovernanceNews::Answer {
            proposal: Some(id),
            outcome: Err(_),
        } if id == proposal && ballots.in_flight.take().is_some() => {
            ballots.refused += 1;
        }
        _ => {}
    }
}

/// Voting bots: a random valid ballot as soon as the proposal is open, then another about
/// every `every`, each once the one before is answered.
fn vote(mut bots: Query<(&mut LightBot, &mut MessageSender<ToServer>)>, swarm: Res<Swarm>) {
    let Some(voting) = swarm.voting else {
        return;
    };
    let now = Instant::now();
    let every = voting.every.as_secs_f64();
    for (mut bot, mut sender) in &mut bots {
        let bot = &mut *bot;
        let Some(view) = &bot.ballots.view else {
            continue;
        };
        if bot.phase != Phase::InWorld
            || view.proposal.phase != GovernancePhase::Open
            || bot.ballots.in_flight.is_some()
            || bot.ballots.next.is_some_and(|next| now < next)
        {
            continue;
        }
        let choice = random_choice(&view.proposal.draft.rules(), &mut bot.rng);
        let sequence = u64::try_from(unix_millis())
            .unwrap_or(0)
            .max(bot.ballots.stored + 1);
        let ballot = Ballot {
            proposal: voting.proposal,
            digest: view.proposal.digest.clone(),
            voter: [0; 32],
            sequence,
            choice,
        };
        let signed = sign_ballot(&bot.key, ballot);
        sender.send::<ControlChannel>(ToServer::Governance(GovernanceRequest::Vote(signed)));
        let wait = bot.rng.gen_range(0.5 * every..1.5 * every);
        bot.ballots.next = Some(now + Duration::from_secs_f64(wait));
        bot.ballots.in_flight = Some((sequence, now));
        bot.ballots.sent += 1;
    }
}

/// Decodes and acknowledges crowd frames, noting who they placed.
fn read_crowd(
    mut bots: Query<(
        &mut LightBot,
        &mut MessageReceiver<CrowdFrame>,
        &mut MessageSender<CrowdAck>,
    )>,
) {
    for (mut bot, mut receiver, mut sender) in &mut bots {
        let bot = &mut *bot;
        let mut ack = None;
        for frame in receiver.receive() {
            let Ok(got) = bot.received.read(&frame) else {
                bot.malformed += 1;
                continue;
            };
            ack = got.ack.or(ack);
            bot.frames += 1;
            bot.entries += got.poses.len() as u64;
            for (id, _) in got.poses {
                if bot.placed.insert(id) && bot.told.contains(&id) {
                    bot.shown.insert(id);
                }
            }
        }
        if let Some(ack) = ack {
            sender.send::<CrowdChannel>(ack);
        }
    }
}

/// Where the server has this bot's own avatar.
fn read_own_pose(mut bots: Query<(&mut LightBot, &mut MessageReceiver<OwnPose>)>) {
    for (mut bot, mut receiver) in &mut bots {
        if let Some(own) = receiver.receive().last() {
            bot.own = Some(own.id);
            bot.position = Some(own.pose.position);
        }
    }
}

/// Decides where to go now and then, and sends the inputs that walk there: one per fixed
/// tick, [`INPUT_EVERY`] ticks to a message.
fn walk(
    mut bots: Query<(
        &mut LightBot,
        &mut MessageSender<AvatarInputs>,
        &mut MessageSender<ToServer>,
    )>,
    swarm: Res<Swarm>,
    world: Res<World>,
) {
    let now = Instant::now();
    let tick_hz = f64::from(swarm.config.tick_hz.max(1));
    for (mut bot, mut inputs, mut requests) in &mut bots {
        let bot = &mut *bot;
        if bot.phase != Phase::InWorld {
            continue;
        }
        if let Some(since) = bot.in_world_since {
            bot.in_world_for = now - since;
        }
        if now >= bot.next_sample {
            bot.next_sample = now + Duration::from_millis(500);
            let seen = bot.others_shown();
            bot.avatars_seen.push(seen);
        }
        let (Some(position), Some(zero)) = (bot.position, bot.tick_zero) else {
            continue;
        };
        if now >= bot.next_decision {
            bot.next_decision = now + Duration::from_millis(bot.rng.gen_range(2000..6000));
            let (target, request) = next_goal(swarm.behaviour, &mut bot.rng, &world, position);
            if let Some(request) = request {
                if matches!(request, ToServer::Teleport { .. }) {
                    bot.teleports += 1;
                }
                requests.send::<ControlChannel>(request);
            }
            bot.target = target;
            bot.run = bot.rng.gen_bool(0.3);
            bot.jump = bot.rng.gen_bool(0.1);
            let dressed = bot.dressed;
            bot.dressed = true;
            if !swarm.plain
                && let Some(request) = super::look_and_gesture(&mut bot.rng, dressed)
            {
                requests.send::<ControlChannel>(ToServer::Avatar(request));
            }
        }
        let tick = ((now - zero).as_secs_f64() * tick_hz) as u32 + 1;
        if tick < bot.last_input + INPUT_EVERY {
            continue;
        }
        let input = match bot.target.and_then(|target| steer(position, target)) {
            Some((direction, yaw)) => AvatarInput {
                direction,
                yaw,
                run: bot.run,
                jump: bot.jump,
            },
            None => {
                bot.target = None;
                AvatarInput::default()
            }
        };
        // A jump is asked for once.
        bot.jump = false;
        let count = (tick - bot.last_input).min(MAX_INPUTS_PER_MESSAGE as u32);
        inputs.send::<CrowdChannel>(AvatarInputs {
            last: tick,
            inputs: vec![input; count as usize],
        });
        bot.inputs_sent += count;
        bot.input_messages += 1;
        bot.last_input = tick;
    }
}

/// Takes what the server replicates off its channels before lightyear reads them for
/// messages (replication's own reader, which would take it, allows one client per App),
/// and acknowledges each mutation message as replicon's client does, so the server sends a
/// changed component once rather than until acknowledged.
fn answer_replication(
    mut transports: Query<&mut Transport, With<LightBot>>,
    channels: Res<RepliconChannelMap>,
) {
    // Replicon's channels in its order: the server's updates, then its mutations; the
    // client's mutation acks.
    let (Some(&(_, updates)), Some(&(_, mutations)), Some(&(acks_channel, _))) = (
        channels.server_channels.first(),
        channels.server_channels.get(1),
        channels.client_channels.first(),
    ) else {
        return;
    };
    let mut acks = Vec::new();
    for mut transport in &mut transports {
        if let Some(receiver) = transport.channel_receive_mut(updates) {
            while receiver.read_message().is_some() {}
        }
        acks.clear();
        if let Some(receiver) = transport.channel_receive_mut(mutations) {
            while let Some((_, message, _)) = receiver.read_message() {
                // A mutate message starts with its flags (one byte) and its index (two,
                // little-endian); the ack is the index as it came.
                if let Some(index) = message.get(1..3) {
                    acks.extend_from_slice(index);
                }
            }
        }
        if !acks.is_empty() {
            transport
                .send_erased(acks_channel, acks.clone().into(), 1.0)
                .ok();
        }
    }
}

/// The swarm's report from every light bot.
fn report(
    world: &mut bevy::ecs::world::World,
    count: usize,
    passes: u64,
    seconds: f64,
) -> SwarmReport {
    let mut bots: Vec<&LightBot> = world.query::<&LightBot>().iter(world).collect();
    bots.sort_by_key(|bot| bot.index);
    let mut report = SwarmReport::empty(count, passes as f64 / seconds.max(1e-3), seconds);
    let mut per_bot = PerBot::default();
    let mut latencies = Vec::new();
    // Every bot keeps its entity for the whole run (a lost connection reconnects it).
    for bot in bots {
        report.teleports_requested += bot.teleports;
        report.disconnects += bot.disconnects;
        report.ballots_sent += bot.ballots.sent;
        report.ballots_acked += bot.ballots.acked;
        report.ballots_refused += bot.ballots.refused;
        latencies.extend(
            bot.ballots
                .ack_latencies
                .iter()
                .map(|d| d.as_secs_f64() * 1e3),
        );
        if bot.malformed > 0 {
            report.errors.push(format!(
                "bot {}: {} crowd frames did not parse",
                bot.index + 1,
                bot.malformed
            ));
        }
        if let Phase::Failed(reason) = &bot.phase {
            report
                .errors
                .push(format!("bot {}: {reason}", bot.index + 1));
        }
        if bot.in_world_since.is_none() {
            if !matches!(bot.phase, Phase::Failed(_)) {
                report
                    .errors
                    .push(format!("bot {}: never got into the world", bot.index + 1));
            }
            continue;
        }
        per_bot.add(
            &mut report,
            BotTotals {
                avatars_seen: &bot.avatars_seen,
                seconds: bot.in_world_for.as_secs_f64(),
                bytes: bot.bytes,
                crowd_frames: bot.frames,
                crowd_entries: bot.entries,
                inputs: bot.inputs_sent,
                input_messages: Some(bot.input_messages),
            },
        );
    }
    per_bot.finish(&mut report);
    report.ack_ms_p50 = super::percentile(&mut latencies, 0.5);
    report.ack_ms_p99 = super::percentile(&mut latencies, 0.99);
    report
}
