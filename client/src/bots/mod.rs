//! Headless bots: real clients, without a renderer, that wander, gather in the capital and
//! teleport between protocities. Many run in one process, one App each, updated in turn on
//! one thread (lightyear allows one connected client per App).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use archipelago_shared::assembly::{AgendaItem, AssemblyRequest, HallSession};
use archipelago_shared::avatars::{Appearance, AvatarRequest, Gesture};
use archipelago_shared::chat::ChatTo;
use archipelago_shared::governance::tally::{Choice, Rules, VoteType, YesNo};
use archipelago_shared::governance::{Phase, ProposalId};
use archipelago_shared::protocol::{AvatarPose, Role, ToServer};
use archipelago_shared::world::{Place, World};
use bevy::ecs::schedule::{Schedules, SingleThreadedExecutor};
use bevy::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::assembly::SendAssembly;
use crate::chat::SendChat;
use crate::connection::{ConnectionState, Request, Session};
use crate::control::AvatarControl;
use crate::governance::{CastVote, Governance};
use crate::voice;
use crate::{ClientConfig, ClientSystems, identity};

mod light;

pub use light::run_light_swarm;

/// What one bot saw.
#[derive(Resource, Debug, Default, Clone)]
pub struct BotStats {
    /// Other avatars in view, sampled every half second while in the world.
    pub avatars_seen: Vec<u32>,
    pub in_world_since: Option<Duration>,
    pub in_world_for: Duration,
    pub bytes_received: usize,
    pub teleports_requested: u32,
    /// Founder-only requests sent by a flooding bot.
    pub requests_flooded: u32,
    /// Times the connection was lost while in the world.
    pub disconnects: u32,
}

/// The bot's brain: where it is heading and when it changes its mind.
#[derive(Resource)]
struct Brain {
    behaviour: Behaviour,
    rng: StdRng,
    target: Option<Vec3>,
    next_decision: Duration,
    next_sample: Duration,
    /// It has put on a look of its own.
    dressed: bool,
    /// It neither dresses nor gestures ([`SwarmConfig::plain`]).
    plain: bool,
}

/// Makes an app a bot: a brain that writes [`AvatarControl`] and records [`BotStats`].
pub struct BotPlugin {
    pub seed: u64,
    pub behaviour: Behaviour,
    pub voting: Option<Voting>,
    /// Send founder-only requests (open and close proposals, give parcels away, call off
    /// events) at [`FLOOD_HZ`], as a hostile visitor would: a load for the server's checks.
    pub flood: bool,
    /// With [`Behaviour::Assemble`]: how many the founder bot's session lets into the hall
    /// (the server's default when `None`; the rest follow from its overflow).
    pub hall_capacity: Option<u32>,
    /// See [`SwarmConfig::plain`].
    pub plain: bool,
}

/// Requests per second a flooding bot sends: past the server's per-link allowance (20 a
/// second), so both the allowance and the role checks behind it are exercised.
pub const FLOOD_HZ: f64 = 30.0;

/// Bots that vote: a random valid ballot as soon as the proposal is open, then another
/// (replacing it) about every `every`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Voting {
    pub proposal: ProposalId,
    pub every: Duration,
}

/// When a voting bot casts its next ballot.
#[derive(Resource)]
struct VotingBrain {
    voting: Voting,
    rng: StdRng,
    next: Duration,
}

/// A random ballot that fits the rules.
pub fn random_choice(rules: &Rules, rng: &mut impl Rng) -> Choice {
    let options = rules.options.clamp(1, usize::from(u8::MAX)) as u8;
    let mut shuffled: Vec<u8> = (0..options).collect();
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, rng.gen_range(0..=i));
    }
    match rules.vote_type {
        VoteType::YesNo => Choice::YesNo(match rng.gen_range(0..10) {
            0..=5 => YesNo::Yes,
            6..=8 => YesNo::No,
            _ => YesNo::Abstain,
        }),
        VoteType::SingleChoice => Choice::Single(rng.gen_range(0..options)),
        VoteType::Approval => {
            let take = rng.gen_range(0..=shuffled.len());
            Choice::Approval(shuffled[..take].to_vec())
        }
        VoteType::RankedChoice => {
            let take = rng.gen_range(1..=shuffled.len());
            Choice::Ranked(shuffled[..take].to_vec())
        }
        VoteType::Quadratic { credits } => {
            // Spend the budget a vote at a time on random options while it lasts.
            let mut votes = vec![0u32; usize::from(options)];
            let mut left = u64::from(credits);
            for _ in 0..8 {
                let i = rng.gen_range(0..votes.len());
                let cost = u64::from(2 * votes[i] + 1);
                if cost > left {
                    break;
                }
                left -= cost;
                votes[i] += 1;
            }
            Choice::Quadratic(votes)
        }
    }
}

/// What bots do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// Wander, gather at town halls, teleport between protocities.
    #[default]
    Roam,
    /// Stay on the capital and mill about near its spawn points (for screenshots).
    Gather,
    /// Attend the session in the capital's town hall: walk in, move about the aisle, raise
    /// and lower a hand, chat. A founder bot opens the session and chairs it, giving the
    /// floor to the next in the queue.
    Assemble,
}

impl Plugin for BotPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(Brain {
            behaviour: self.behaviour,
            rng: StdRng::seed_from_u64(self.seed),
            target: None,
            next_decision: Duration::ZERO,
            next_sample: Duration::ZERO,
            dressed: false,
            plain: self.plain,
        })
        .init_resource::<BotStats>()
        .add_systems(
            Update,
            (think, record, retry_failed_connect).in_set(ClientSystems::Control),
        );
        if self.behaviour == Behaviour::Assemble {
            app.insert_resource(Assembly {
                capacity: self.hall_capacity,
                rng: StdRng::seed_from_u64(self.seed ^ 0x6861_6c6c),
                next_hand: Duration::from_secs(5),
                next_line: Duration::from_secs(10),
                next_chair: Duration::ZERO,
                lines: 0,
            })
            .add_systems(Update, attend.in_set(ClientSystems::Control));
        }
        if self.flood {
            app.insert_resource(Flood {
                sent: 0,
                next: Duration::ZERO,
            })
            .add_systems(Update, flood.in_set(ClientSystems::Control));
        }
        if let Some(voting) = self.voting {
            app.insert_resource(VotingBrain {
                voting,
                rng: StdRng::seed_from_u64(self.seed ^ 0x766f_7465),
                next: Duration::ZERO,
            })
            .add_systems(Update, vote.in_set(ClientSystems::Control));
        }
    }
}

fn vote(
    mut brain: ResMut<VotingBrain>,
    book: Res<Governance>,
    time: Res<Time>,
    mut votes: MessageWriter<CastVote>,
) {
    let id = brain.voting.proposal;
    let Some(view) = book.proposals.get(&id) else {
        return;
    };
    let now = time.elapsed();
    if view.proposal.phase != Phase::Open || now < brain.next || book.in_flight.contains_key(&id) {
        return;
    }
    let every = brain.voting.every.as_secs_f64();
    let wait = brain.rng.gen_range(0.5 * every..1.5 * every);
    brain.next = now + Duration::from_secs_f64(wait);
    let choice = random_choice(&view.proposal.draft.rules(), &mut brain.rng);
    votes.write(CastVote {
        proposal: id,
        choice,
    });
}

/// How far a flooding bot is.
#[derive(Resource)]
struct Flood {
    sent: u32,
    next: Duration,
}

/// Once in the world, sends founder-only requests at [`FLOOD_HZ`], a different one each time.
fn flood(
    mut flood: ResMut<Flood>,
    state: Res<ConnectionState>,
    time: Res<Time>,
    mut stats: ResMut<BotStats>,
    mut requests: MessageWriter<Request>,
) {
    use archipelago_shared::events::EventRequest;
    use archipelago_shared::governance::GovernanceRequest;
    use archipelago_shared::parcels::{OwnerClaim, ParcelRequest};
    if *state != ConnectionState::InWorld {
        return;
    }
    let now = time.elapsed();
    let every = Duration::from_secs_f64(1.0 / FLOOD_HZ);
    while flood.next <= now {
        flood.next = flood.next.max(now.saturating_sub(every)) + every;
        let n = flood.sent;
        flood.sent += 1;
        stats.requests_flooded += 1;
        let proposal = u64::from(n % 8) + 1;
        requests.write(Request(match n % 4 {
            0 => ToServer::Governance(GovernanceRequest::Open(proposal)),
            1 => ToServer::Governance(GovernanceRequest::Close(proposal)),
            2 => ToServer::Parcel(ParcelRequest::Assign {
                parcel: "capital-1".into(),
                owner: OwnerClaim::Member(format!("flood {n}")),
                expected_version: 0,
            }),
            _ => ToServer::Event(EventRequest::Cancel(i64::from(n % 8) + 1)),
        }));
    }
}

/// When an attending bot next raises or lowers its hand, chats, or (chairing) acts.
#[derive(Resource)]
struct Assembly {
    capacity: Option<u32>,
    rng: StdRng,
    next_hand: Duration,
    next_line: Duration,
    next_chair: Duration,
    lines: u32,
}

/// A bot at the assembly: a hand now and then, a line now and then; the founder bot opens
/// the session and gives the floor to the next in the queue whenever it is free.
fn attend(
    mut brain: ResMut<Assembly>,
    session: Res<Session>,
    config: Res<ClientConfig>,
    sessions: Query<&HallSession>,
    world: Res<World>,
    time: Res<Time>,
    state: Res<ConnectionState>,
    mut assembly: MessageWriter<SendAssembly>,
    mut chat: MessageWriter<SendChat>,
) {
    if *state != ConnectionState::InWorld {
        return;
    }
    let now = time.elapsed();
    let hall = world.capital().id.clone();
    let current = crate::assembly::session_in(sessions.iter(), &hall);
    let me = archipelago_shared::identity::to_hex(&config.key.verifying_key().to_bytes());
    if session.role == Some(Role::Founder) && now >= brain.next_chair {
        brain.next_chair = now + Duration::from_secs(3);
        match current {
            None => {
                assembly.write(SendAssembly(AssemblyRequest::Open {
                    protocity: hall,
                    title: "Bots' assembly".into(),
                    agenda: vec![AgendaItem {
                        title: "Anything".into(),
                        proposal: None,
                    }],
                    chair: None,
                    capacity: brain.capacity,
                }));
            }
            Some(s) if s.floor.is_none() && !s.queue.is_empty() => {
                assembly.write(SendAssembly(AssemblyRequest::GiveFloor {
                    protocity: hall,
                    to: None,
                    seconds: 15,
                }));
            }
            Some(_) => {}
        }
        return;
    }
    let Some(current) = current else {
        return;
    };
    if now >= brain.next_hand {
        let wait = brain.rng.gen_range(20.0..60.0);
        brain.next_hand = now + Duration::from_secs_f64(wait);
        assembly.write(SendAssembly(match current.queue_position(&me) {
            Some(_) => AssemblyRequest::LowerHand,
            None => AssemblyRequest::RaiseHand,
        }));
    }
    if now >= brain.next_line {
        let wait = brain.rng.gen_range(15.0..45.0);
        brain.next_line = now + Duration::from_secs_f64(wait);
        brain.lines += 1;
        chat.write(SendChat {
            to: ChatTo::Place,
            text: format!("point {} on the agenda, from {}", brain.lines, session.name),
        });
    }
}

fn think(
    mut brain: ResMut<Brain>,
    mut control: ResMut<AvatarControl>,
    session: Res<Session>,
    poses: Query<&AvatarPose>,
    world: Res<World>,
    time: Res<Time>,
    state: Res<ConnectionState>,
    mut requests: MessageWriter<Request>,
    mut stats: ResMut<BotStats>,
) {
    let Some(own) = session.own_avatar.and_then(|e| poses.get(e).ok()) else {
        *control = AvatarControl::default();
        return;
    };
    let now = time.elapsed();
    if now >= brain.next_decision && *state == ConnectionState::InWorld {
        let wait = Duration::from_millis(brain.rng.gen_range(2000..6000));
        brain.next_decision = now + wait;
        let behaviour = brain.behaviour;
        let (target, request) = next_goal(behaviour, &mut brain.rng, &world, own.position);
        if let Some(request) = request {
            if matches!(request, ToServer::Teleport { .. }) {
                stats.teleports_requested += 1;
            }
            requests.write(Request(request));
        }
        brain.target = target;
        control.run = brain.rng.gen_bool(0.3);
        control.jump = brain.rng.gen_bool(0.1);
        let dressed = brain.dressed;
        brain.dressed = true;
        if !brain.plain
            && let Some(request) = look_and_gesture(&mut brain.rng, dressed)
        {
            requests.write(Request(ToServer::Avatar(request)));
        }
    }
    match brain.target.and_then(|target| steer(own.position, target)) {
        Some((direction, yaw)) => {
            control.direction = direction;
            control.yaw = yaw;
        }
        None => {
            control.direction = Vec2::ZERO;
            brain.target = None;
        }
    }
}

/// What a bot does with its body at a decision (every 2 to 6 s): first a look of its own (so
/// crowds look like crowds), then at one decision in seven a gesture, most often a wave:
/// about one every half minute each, so a crowd of 500 makes some 17 a second.
pub(crate) fn look_and_gesture(rng: &mut impl Rng, dressed: bool) -> Option<AvatarRequest> {
    if !dressed {
        return Some(AvatarRequest::SetAppearance(Appearance::from_seed(
            rng.r#gen(),
        )));
    }
    if !rng.gen_bool(1.0 / 7.0) {
        return None;
    }
    let gesture = match rng.gen_range(0..10) {
        0..5 => Gesture::Wave,
        5..7 => Gesture::Clap,
        7..9 => Gesture::Cheer,
        _ => Gesture::Point,
    };
    Some(AvatarRequest::Gesture(gesture))
}

/// Where a bot standing at `position` goes next, or what it asks the server instead.
pub(crate) fn next_goal(
    behaviour: Behaviour,
    rng: &mut StdRng,
    world: &World,
    position: Vec3,
) -> (Option<Vec3>, Option<ToServer>) {
    let roll: f32 = rng.r#gen();
    let here = world.island_at(position).unwrap_or(world.capital());
    match behaviour {
        Behaviour::Assemble => {
            // Walk in (the server puts us inside the door), then move about the aisle.
            let in_hall = matches!(world.place_at(position), Place::Hall(i) if world.protocities[i].id == world.capital().id);
            if !in_hall {
                let request = ToServer::EnterHall {
                    protocity: world.capital().id.clone(),
                };
                return (None, Some(request));
            }
            let hall = &world.capital().island.town_hall;
            let door = hall.door_inside();
            let toward_stage = (hall.stage_front() - door).normalize_or_zero();
            let along = rng.gen_range(0.0..8.0);
            let target = world
                .capital()
                .island
                .to_world(door + toward_stage * along, 0.0);
            (Some(target), None)
        }
        Behaviour::Gather => {
            let spawn = world.spawn_position(world.capital(), rng.gen_range(0..8));
            let jitter = Vec3::new(rng.gen_range(-5.0..5.0), 0.0, rng.gen_range(-5.0..5.0));
            (Some(spawn + jitter), None)
        }
        Behaviour::Roam if roll < 0.1 => {
            let index = rng.gen_range(0..world.protocities.len());
            let protocity = world.protocities[index].id.clone();
            (None, Some(ToServer::Teleport { protocity }))
        }
        Behaviour::Roam if roll < 0.55 => {
            // Gather: head for the town hall's door of the island we are on.
            let door = here.island.town_hall.door_outside();
            let jitter = Vec2::new(rng.gen_range(-4.0..4.0), rng.gen_range(-4.0..4.0));
            (Some(here.island.to_world(door + jitter, 0.0)), None)
        }
        Behaviour::Roam => {
            let angle = rng.gen_range(0.0..std::f32::consts::TAU);
            let radius = rng.gen_range(0.0..here.island.radius * 0.8);
            let target = here.island.to_world(Vec2::from_angle(angle) * radius, 0.0);
            (Some(target), None)
        }
    }
}

/// The direction and facing that walk from `position` to `target`; `None` once there.
pub(crate) fn steer(position: Vec3, target: Vec3) -> Option<(Vec2, f32)> {
    let to = Vec2::new(target.x - position.x, target.z - position.z);
    (to.length() >= 1.5).then(|| (to.normalize(), (-to.x).atan2(-to.y)))
}

/// Connecting attempts a bot makes before giving up, like a person pressing Retry: many
/// handshakes at once on a loaded machine occasionally fail.
const CONNECT_ATTEMPTS: u32 = 3;

/// Retries a connection that failed before the bot ever got into the world.
fn retry_failed_connect(
    state: Res<ConnectionState>,
    stats: Res<BotStats>,
    mut retries: MessageWriter<crate::connection::Retry>,
    mut attempts: Local<u32>,
) {
    if state.is_failed() && stats.in_world_since.is_none() && *attempts + 1 < CONNECT_ATTEMPTS {
        *attempts += 1;
        retries.write(crate::connection::Retry);
    }
}

fn record(
    mut brain: ResMut<Brain>,
    mut stats: ResMut<BotStats>,
    state: Res<ConnectionState>,
    session: Res<Session>,
    poses: Query<Entity, With<AvatarPose>>,
    sessions: Query<&aeronet_io::Session>,
    // Real time: a starved bot's virtual time falls behind (each update adds at most 250 ms),
    // which would overstate every rate per second.
    time: Res<Time<Real>>,
    mut was_in_world: Local<bool>,
) {
    stats.bytes_received = sessions.iter().map(|s| s.stats.bytes_recv.0).sum();
    if *state != ConnectionState::InWorld {
        if std::mem::take(&mut *was_in_world) {
            stats.disconnects += 1;
        }
        return;
    }
    *was_in_world = true;
    let now = time.elapsed();
    let since = *stats.in_world_since.get_or_insert(now);
    stats.in_world_for = now - since;
    if now >= brain.next_sample {
        brain.next_sample = now + Duration::from_millis(500);
        let others = poses
            .iter()
            .filter(|e| Some(*e) != session.own_avatar)
            .count();
        stats.avatars_seen.push(others as u32);
    }
}

/// How to run a swarm of bots.
#[derive(Debug, Clone)]
pub struct SwarmConfig {
    pub template: ClientConfig,
    pub count: usize,
    pub duration: Duration,
    /// Passes over all bots per second.
    pub rate_hz: f64,
    pub seed: u64,
    pub behaviour: Behaviour,
    pub voting: Option<Voting>,
    /// Bots that flood founder-only requests (see [`BotPlugin::flood`]).
    pub flood: bool,
    /// Derive each bot's key from the seed (so they can be enrolled as members beforehand)
    /// instead of a fresh random key.
    pub stable_keys: bool,
    /// Set to end the run early.
    pub stop: Arc<AtomicBool>,
    pub voice: BotVoice,
    /// See [`BotPlugin::hall_capacity`].
    pub hall_capacity: Option<u32>,
    /// Run light bots ([`run_light_swarm`]): all in one App, only walking and counting.
    pub light: bool,
    /// Neither put on a look nor gesture: the load the benchmarks made before looks measured.
    pub plain: bool,
}

impl SwarmConfig {
    /// `count` full bots gathering on the capital for `duration`, 30 passes a second, with
    /// fresh keys, no votes, no voice, dressing and gesturing: change what a run needs with
    /// `SwarmConfig { light: true, ..SwarmConfig::gathering(..) }`.
    pub fn gathering(template: ClientConfig, count: usize, duration: Duration) -> Self {
        Self {
            template,
            count,
            duration,
            rate_hz: 30.0,
            seed: 1,
            behaviour: Behaviour::Gather,
            voting: None,
            flood: false,
            stable_keys: false,
            stop: Arc::default(),
            voice: BotVoice::default(),
            hall_capacity: None,
            light: false,
            plain: false,
        }
    }
}

/// What the bots say and keep of what they hear.
#[derive(Debug, Clone, Default)]
pub struct BotVoice {
    /// 48 kHz mono samples every bot says over and over, wherever it stands (on the floor
    /// when given it): `--speak FILE.wav`.
    pub speak: Option<Arc<Vec<i16>>>,
    /// Write what each bot heard to `bot-N.wav` here at the end: `--record-voice DIR`.
    pub record: Option<std::path::PathBuf>,
    /// With `speak`: only the first this many bots talk all the time (the chair among them,
    /// with `--assemble`); the others only while they hold the floor. None: all talk.
    pub speakers: Option<usize>,
}

/// The bots' report, written as JSON by `archipelago-bots --report`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SwarmReport {
    pub bots: usize,
    /// Bots that logged in and got an avatar.
    pub connected: usize,
    /// Over all bots, the fewest other avatars that bot ever saw at its busiest moment.
    pub min_avatars_seen: u32,
    /// Median over bots of the median number of other avatars in view.
    pub median_avatars_seen: u32,
    /// Median over bots of the most other avatars each had in view at once.
    pub median_most_avatars_seen: u32,
    /// Median over bots of bytes received per second in the world.
    pub median_down_bytes_per_s: f64,
    /// The 99th percentile over bots of the same.
    pub p99_down_bytes_per_s: f64,
    /// Passes over all bots per second, as run (each pass updates every bot once, which
    /// sends its inputs): below `--rate-hz`, the bots could not keep up.
    pub passes_per_s: f64,
    /// Median over bots of crowd frames and of crowd entries (others' poses) received per
    /// second in the world.
    pub median_crowd_frames_per_s: f64,
    pub median_crowd_entries_per_s: f64,
    /// Median over bots of the inputs each sent per second in the world (one per fixed tick
    /// run; the server's tick is 30 Hz).
    pub median_inputs_per_s: f64,
    /// Messages those inputs went in, per second: light bots only (they put 3 in each);
    /// full bots send one each fixed tick.
    pub median_input_messages_per_s: Option<f64>,
    /// Times a bot in the world lost its connection (and made it again).
    pub disconnects: u32,
    /// Over all bots, the times the server's pose of a bot's own avatar differed from what
    /// the bot had predicted for that input (each then took the server's and replayed).
    pub prediction_corrections: u64,
    pub teleports_requested: u32,
    pub requests_flooded: u32,
    pub ballots_sent: u32,
    /// Ballots the server confirmed stored.
    pub ballots_acked: u32,
    pub ballots_refused: u32,
    /// Time from sending a ballot to its receipt, over all bots, in milliseconds.
    pub ack_ms_p50: f64,
    pub ack_ms_p99: f64,
    pub seconds: f64,
    /// Why bots failed, one line per failure.
    pub errors: Vec<String>,
    /// The server's refusals of the bots' logins, one per bot refused.
    pub login_refusals: Vec<archipelago_shared::identity::LoginRefusal>,
    /// Voice received per bot, bytes a second of its time in the world: medians over the
    /// bots in a hall's main room and over those in its overflow (0 where there are none).
    pub voice_bytes_per_s_main_median: f64,
    pub voice_bytes_per_s_overflow_median: f64,
    /// Mouth to ear over every frame heard (send to arrival at a bot that only counts, or
    /// to decode), milliseconds: one machine's clock.
    pub voice_latency_ms_p50: f64,
    pub voice_latency_ms_p99: f64,
}

fn median<T: Copy + PartialOrd + Default>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// The value at quantile `q` (0 to 1) of `values`, which it sorts; 0 when empty.
fn percentile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let i = ((values.len() as f64 - 1.0) * q).round().max(0.0) as usize;
    values.get(i).copied().unwrap_or_default()
}

/// What one bot in the world saw and sent, over `seconds` in the world.
struct BotTotals<'a> {
    avatars_seen: &'a [u32],
    seconds: f64,
    bytes: usize,
    crowd_frames: u64,
    crowd_entries: u64,
    inputs: u32,
    /// Light bots only: the messages the inputs went in.
    input_messages: Option<u32>,
}

/// Every connected bot's rates, for the report's medians.
#[derive(Default)]
struct PerBot {
    most: Vec<u32>,
    medians: Vec<u32>,
    rates: Vec<f64>,
    crowd_frames: Vec<f64>,
    crowd_entries: Vec<f64>,
    inputs: Vec<f64>,
    input_messages: Vec<f64>,
}

impl PerBot {
    fn add(&mut self, report: &mut SwarmReport, bot: BotTotals) {
        report.connected += 1;
        let busiest = bot.avatars_seen.iter().copied().max().unwrap_or(0);
        report.min_avatars_seen = report.min_avatars_seen.min(busiest);
        self.most.push(busiest);
        self.medians.push(median(bot.avatars_seen.to_vec()));
        let per_s = |count: f64| count / bot.seconds.max(1e-3);
        self.rates.push(per_s(bot.bytes as f64));
        self.crowd_frames.push(per_s(bot.crowd_frames as f64));
        self.crowd_entries.push(per_s(bot.crowd_entries as f64));
        self.inputs.push(per_s(f64::from(bot.inputs)));
        if let Some(messages) = bot.input_messages {
            self.input_messages.push(per_s(f64::from(messages)));
        }
    }

    fn finish(mut self, report: &mut SwarmReport) {
        if report.min_avatars_seen == u32::MAX {
            report.min_avatars_seen = 0;
        }
        report.median_avatars_seen = median(self.medians);
        report.median_most_avatars_seen = median(self.most);
        report.median_crowd_frames_per_s = median(self.crowd_frames);
        report.median_crowd_entries_per_s = median(self.crowd_entries);
        report.median_inputs_per_s = median(self.inputs);
        report.median_input_messages_per_s =
            (!self.input_messages.is_empty()).then(|| median(self.input_messages));
        report.p99_down_bytes_per_s = percentile(&mut self.rates, 0.99);
        report.median_down_bytes_per_s = median(self.rates);
    }
}

impl SwarmReport {
    /// A report of `bots` that saw nothing yet.
    fn empty(bots: usize, passes_per_s: f64, seconds: f64) -> Self {
        SwarmReport {
            bots,
            connected: 0,
            min_avatars_seen: u32::MAX,
            median_avatars_seen: 0,
            median_most_avatars_seen: 0,
            median_down_bytes_per_s: 0.0,
            p99_down_bytes_per_s: 0.0,
            passes_per_s,
            median_crowd_frames_per_s: 0.0,
            median_inputs_per_s: 0.0,
            median_input_messages_per_s: None,
            disconnects: 0,
            prediction_corrections: 0,
            median_crowd_entries_per_s: 0.0,
            teleports_requested: 0,
            requests_flooded: 0,
            ballots_sent: 0,
            ballots_acked: 0,
            ballots_refused: 0,
            ack_ms_p50: 0.0,
            ack_ms_p99: 0.0,
            seconds,
            errors: Vec::new(),
            login_refusals: Vec::new(),
            voice_bytes_per_s_main_median: 0.0,
            voice_bytes_per_s_overflow_median: 0.0,
            voice_latency_ms_p50: 0.0,
            voice_latency_ms_p99: 0.0,
        }
    }
}

/// Builds one bot app, ready to update by hand.
pub fn bot_app(
    config: ClientConfig,
    world: World,
    bot: BotPlugin,
    runtime: &tokio::runtime::Runtime,
) -> App {
    let mut app = App::new();
    // One shared runtime for every bot's transport, instead of one leaked runtime per App.
    app.insert_resource(aeronet_webtransport::WebTransportRuntime::from(
        runtime.handle().clone(),
    ));
    app.add_plugins((MinimalPlugins, bevy::state::app::StatesPlugin));
    crate::add_client_plugins(&mut app, config, world);
    // A bot only counts who is around: where each one stands is worked out twice a second.
    app.world_mut()
        .resource_mut::<crate::crowd::Crowd>()
        .draw_every = 0.5;
    app.add_plugins(bot);
    app.finish();
    app.cleanup();
    // Bots are updated in turn on one thread: a multi-threaded executor per App only adds
    // overhead there.
    let mut schedules = app.world_mut().resource_mut::<Schedules>();
    for (_, schedule) in schedules.iter_mut() {
        schedule.set_executor(SingleThreadedExecutor::new());
    }
    app
}

/// Whether this bot holds the floor of the session it receives.
fn holds_floor(app: &mut App) -> bool {
    let key = app.world().resource::<ClientConfig>().key.verifying_key();
    let me = archipelago_shared::identity::to_hex(key.as_bytes());
    let world = app.world_mut();
    let mut sessions = world.query::<&HallSession>();
    sessions
        .iter(world)
        .any(|s| s.floor.as_ref().is_some_and(|f| f.speaker.key == me))
}

/// Runs a swarm for its duration and reports what the bots saw.
pub fn run_swarm(config: &SwarmConfig, world: &World) -> SwarmReport {
    if config.light {
        return run_light_swarm(config, world);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the bots' transports");
    let mut apps: Vec<App> = (0..config.count)
        .map(|i| {
            let mut bot = config.template.clone();
            bot.key = if config.stable_keys {
                bot_key(config.seed, i)
            } else {
                identity::ephemeral()
            };
            bot.name = bot_name(i, &bot.key.verifying_key());
            let brain = BotPlugin {
                seed: config.seed.wrapping_add(i as u64),
                behaviour: config.behaviour,
                voting: config.voting,
                flood: config.flood,
                hall_capacity: config.hall_capacity,
                plain: config.plain,
            };
            bot_app(bot, world.clone(), brain, &runtime)
        })
        .collect();
    for app in &mut apps {
        let mut heard = app.world_mut().resource_mut::<voice::Heard>();
        if config.voice.record.is_some() {
            heard.record();
        } else {
            heard.count_only = true;
        }
    }
    let start = Instant::now();
    let pass = Duration::from_secs_f64(1.0 / config.rate_hz.max(1.0));
    let mut passes = 0u64;
    while start.elapsed() < config.duration && !config.stop.load(Ordering::Relaxed) {
        let pass_start = Instant::now();
        passes += 1;
        for (i, app) in apps.iter_mut().enumerate() {
            if let Some(speech) = &config.voice.speak {
                let talks = config.voice.speakers.is_none_or(|n| i < n) || holds_floor(app);
                let mut mouth = app.world_mut().resource_mut::<voice::Mouth>();
                if talks && !mouth.is_talking() {
                    mouth.say(speech.iter().copied());
                } else if !talks {
                    mouth.clear();
                }
            }
            app.update();
        }
        if let Some(rest) = pass.checked_sub(pass_start.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut report = SwarmReport::empty(config.count, passes as f64 / seconds.max(1e-3), seconds);
    let (mut voice_main, mut voice_overflow, mut voice_latencies) =
        (Vec::new(), Vec::new(), Vec::new());
    if let Some(dir) = &config.voice.record {
        for (i, app) in apps.iter().enumerate() {
            let heard = app.world().resource::<voice::Heard>();
            let path = dir.join(format!("bot-{}.wav", i + 1));
            let samples = heard.recording.as_deref().unwrap_or_default();
            if let Err(error) = voice::write_wav(&path, samples) {
                report.errors.push(format!("bot {}: {error:#}", i + 1));
            }
        }
    }
    let mut per_bot = PerBot::default();
    let mut latencies = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        let world = app.world();
        let ballots = &world.resource::<Governance>().stats;
        report.ballots_sent += ballots.sent;
        report.ballots_acked += ballots.acked;
        report.ballots_refused += ballots.refused;
        latencies.extend(ballots.ack_latencies.iter().map(|d| d.as_secs_f64() * 1e3));
        let stats = world.resource::<BotStats>();
        let state = world.resource::<ConnectionState>();
        report.teleports_requested += stats.teleports_requested;
        report.requests_flooded += stats.requests_flooded;
        report.disconnects += stats.disconnects;
        if stats.in_world_since.is_some() {
            let secs = stats.in_world_for.as_secs_f64().max(1e-3);
            let crowd = world.resource::<crate::crowd::Crowd>();
            let prediction = world.resource::<crate::control::Prediction>();
            report.prediction_corrections += prediction.corrections;
            per_bot.add(
                &mut report,
                BotTotals {
                    avatars_seen: &stats.avatars_seen,
                    seconds: secs,
                    bytes: stats.bytes_received,
                    crowd_frames: crowd.frames,
                    crowd_entries: crowd.entries,
                    inputs: prediction.inputs_sent(),
                    input_messages: None,
                },
            );
            let heard = world.resource::<voice::Heard>();
            voice_latencies.extend(heard.latencies_ms.iter().map(|&ms| f64::from(ms)));
            let in_overflow = world.resource::<Session>().own_avatar.is_some_and(|a| {
                world
                    .get::<archipelago_shared::assembly::InOverflow>(a)
                    .is_some()
            });
            let rate = heard.bytes as f64 / secs;
            if in_overflow {
                voice_overflow.push(rate);
            } else {
                voice_main.push(rate);
            }
        }
        if let ConnectionState::Failed { reason } = state {
            report.errors.push(format!("bot {}: {reason}", i + 1));
            report
                .login_refusals
                .extend(world.resource::<Session>().refused.clone());
        } else if stats.in_world_since.is_none() {
            report.errors.push(format!(
                "bot {}: never got into the world ({state:?})",
                i + 1
            ));
        }
    }
    per_bot.finish(&mut report);
    report.voice_bytes_per_s_main_median = median(voice_main);
    report.voice_bytes_per_s_overflow_median = median(voice_overflow);
    report.voice_latency_ms_p50 = percentile(&mut voice_latencies, 0.5);
    report.voice_latency_ms_p99 = percentile(&mut voice_latencies, 0.99);
    report.ack_ms_p50 = percentile(&mut latencies, 0.5);
    report.ack_ms_p99 = percentile(&mut latencies, 0.99);
    report
}

/// The display name of bot `index` (from 0) with this key. Names are unique on a server, so
/// it carries the start of the key: bots of another run or seed have names of their own.
pub fn bot_name(index: usize, key: &ed25519_dalek::VerifyingKey) -> String {
    let hex = archipelago_shared::identity::to_hex(&key.as_bytes()[..3]);
    format!("Bot {:03} {hex}", index + 1)
}

/// A bot's key derived from the seed and its index, so the same bots can be enrolled as
/// members before they connect. Test keys only: anyone who knows the seed has them.
pub fn bot_key(seed: u64, index: usize) -> ed25519_dalek::SigningKey {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(b"archipelago-bot-key");
    hasher.update(seed.to_le_bytes());
    hasher.update((index as u64).to_le_bytes());
    ed25519_dalek::SigningKey::from_bytes(&hasher.finalize().into())
}
