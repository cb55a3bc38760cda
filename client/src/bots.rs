//! Headless bots: real clients, without a renderer, that wander, gather in the capital and
//! teleport between protocities. Many run in one process, one App each, updated in turn on
//! one thread (lightyear allows one connected client per App).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use archipelago_shared::protocol::{AvatarPose, ToServer};
use archipelago_shared::world::World;
use bevy::ecs::schedule::{Schedules, SingleThreadedExecutor};
use bevy::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::connection::{ConnectionState, Request, Session};
use crate::control::AvatarControl;
use crate::{ClientConfig, ClientSystems, identity};

/// What one bot saw.
#[derive(Resource, Debug, Default, Clone)]
pub struct BotStats {
    /// Other avatars in view, sampled every half second while in the world.
    pub avatars_seen: Vec<u32>,
    pub in_world_since: Option<Duration>,
    pub in_world_for: Duration,
    pub bytes_received: usize,
    pub teleports_requested: u32,
}

/// The bot's brain: where it is heading and when it changes its mind.
#[derive(Resource)]
struct Brain {
    behaviour: Behaviour,
    rng: StdRng,
    target: Option<Vec3>,
    next_decision: Duration,
    next_sample: Duration,
}

/// Makes an app a bot: a brain that writes [`AvatarControl`] and records [`BotStats`].
pub struct BotPlugin {
    pub seed: u64,
    pub behaviour: Behaviour,
}

/// What bots do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// Wander, gather at town halls, teleport between protocities.
    #[default]
    Roam,
    /// Stay on the capital and mill about near its spawn points (for screenshots).
    Gather,
}

impl Plugin for BotPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(Brain {
            behaviour: self.behaviour,
            rng: StdRng::seed_from_u64(self.seed),
            target: None,
            next_decision: Duration::ZERO,
            next_sample: Duration::ZERO,
        })
        .init_resource::<BotStats>()
        .add_systems(Update, (think, record).in_set(ClientSystems::Control));
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
        let roll: f32 = brain.rng.r#gen();
        let here = world.island_at(own.position).unwrap_or(world.capital());
        brain.target = if brain.behaviour == Behaviour::Gather {
            let spawn = world.spawn_position(world.capital(), brain.rng.gen_range(0..8));
            let jitter = Vec3::new(
                brain.rng.gen_range(-5.0..5.0),
                0.0,
                brain.rng.gen_range(-5.0..5.0),
            );
            Some(spawn + jitter)
        } else if roll < 0.1 {
            let index = brain.rng.gen_range(0..world.protocities.len());
            let protocity = world.protocities[index].id.clone();
            requests.write(Request(ToServer::Teleport { protocity }));
            stats.teleports_requested += 1;
            None
        } else if roll < 0.55 {
            // Gather: head for the town hall's door of the island we are on.
            let door = here.island.town_hall.door_outside();
            let jitter = Vec2::new(
                brain.rng.gen_range(-4.0..4.0),
                brain.rng.gen_range(-4.0..4.0),
            );
            Some(here.island.to_world(door + jitter, 0.0))
        } else {
            let angle = brain.rng.gen_range(0.0..std::f32::consts::TAU);
            let radius = brain.rng.gen_range(0.0..here.island.radius * 0.8);
            Some(here.island.to_world(Vec2::from_angle(angle) * radius, 0.0))
        };
        control.run = brain.rng.gen_bool(0.3);
        control.jump = brain.rng.gen_bool(0.1);
    }
    let Some(target) = brain.target else {
        control.direction = Vec2::ZERO;
        return;
    };
    let to = Vec2::new(target.x - own.position.x, target.z - own.position.z);
    if to.length() < 1.5 {
        control.direction = Vec2::ZERO;
        brain.target = None;
    } else {
        control.direction = to.normalize();
        control.yaw = (-to.x).atan2(-to.y);
    }
}

fn record(
    mut brain: ResMut<Brain>,
    mut stats: ResMut<BotStats>,
    state: Res<ConnectionState>,
    session: Res<Session>,
    poses: Query<Entity, With<AvatarPose>>,
    sessions: Query<&aeronet_io::Session>,
    time: Res<Time>,
) {
    stats.bytes_received = sessions.iter().map(|s| s.stats.bytes_recv.0).sum();
    if *state != ConnectionState::InWorld {
        return;
    }
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
    /// Set to end the run early.
    pub stop: Arc<AtomicBool>,
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
    /// Median over bots of bytes received per second in the world.
    pub median_down_bytes_per_s: f64,
    pub teleports_requested: u32,
    pub seconds: f64,
    /// Why bots failed, one line per failure.
    pub errors: Vec<String>,
}

fn median<T: Copy + PartialOrd + Default>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values.get(values.len() / 2).copied().unwrap_or_default()
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

/// Runs a swarm for its duration and reports what the bots saw.
pub fn run_swarm(config: &SwarmConfig, world: &World) -> SwarmReport {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the bots' transports");
    let mut apps: Vec<App> = (0..config.count)
        .map(|i| {
            let mut bot = config.template.clone();
            bot.name = format!("Bot {:03}", i + 1);
            bot.key = identity::ephemeral();
            let brain = BotPlugin {
                seed: config.seed.wrapping_add(i as u64),
                behaviour: config.behaviour,
            };
            bot_app(bot, world.clone(), brain, &runtime)
        })
        .collect();
    let start = Instant::now();
    let pass = Duration::from_secs_f64(1.0 / config.rate_hz.max(1.0));
    while start.elapsed() < config.duration && !config.stop.load(Ordering::Relaxed) {
        let pass_start = Instant::now();
        for app in &mut apps {
            app.update();
        }
        if let Some(rest) = pass.checked_sub(pass_start.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut report = SwarmReport {
        bots: config.count,
        connected: 0,
        min_avatars_seen: u32::MAX,
        median_avatars_seen: 0,
        median_down_bytes_per_s: 0.0,
        teleports_requested: 0,
        seconds,
        errors: Vec::new(),
    };
    let mut medians = Vec::new();
    let mut rates = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        let world = app.world();
        let stats = world.resource::<BotStats>();
        let state = world.resource::<ConnectionState>();
        report.teleports_requested += stats.teleports_requested;
        if stats.in_world_since.is_some() {
            report.connected += 1;
            let busiest = stats.avatars_seen.iter().copied().max().unwrap_or(0);
            report.min_avatars_seen = report.min_avatars_seen.min(busiest);
            medians.push(median(stats.avatars_seen.clone()));
            let secs = stats.in_world_for.as_secs_f64().max(1e-3);
            rates.push(stats.bytes_received as f64 / secs);
        }
        if let ConnectionState::Failed { reason } = state {
            report.errors.push(format!("bot {}: {reason}", i + 1));
        } else if stats.in_world_since.is_none() {
            report.errors.push(format!(
                "bot {}: never got into the world ({state:?})",
                i + 1
            ));
        }
    }
    if report.min_avatars_seen == u32::MAX {
        report.min_avatars_seen = 0;
    }
    report.median_avatars_seen = median(medians);
    report.median_down_bytes_per_s = median(rates);
    report
}
