//! `--bench-bodies N PATH`: how much the jointed bodies cost to draw against the capsules
//! they replaced. N walkers of mixed looks circle in the capital's plaza in view of the
//! camera, with no server; the run alternates between drawing them as bodies and as
//! capsules (one material per role, as before), measures the frame rate of each phase after
//! a warm-up, and writes the rates and their ratio to PATH as JSON, then exits. Both
//! configurations are measured in one run, on the same machine, twice each, interleaved.

use std::path::PathBuf;

use archipelago_shared::avatars::{Appearance, Look};
use archipelago_shared::protocol::{AvatarPose, AvatarProfile, Role};
use archipelago_shared::world::World;
use bevy::prelude::*;
use serde::Serialize;

use super::super::OrbitCamera;
use super::super::scene::SceneReady;

/// How bodies are drawn.
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BodyStyle {
    /// Jointed bodies of each person's look, animated.
    #[default]
    Jointed,
    /// One capsule per person, coloured by role: what avatars were before looks.
    Capsule,
}

/// Seconds of warm-up before the first phase (shaders compile slowly on software renderers)
/// and before each later one, and seconds measured per phase.
const FIRST_WARM_UP: f64 = 45.0;
const WARM_UP: f64 = 6.0;
const MEASURE: f64 = 15.0;
/// Spacing of the walkers' circles, metres, and their radius.
const SPACING: f32 = 1.8;
const CIRCLE: f32 = 0.7;

/// The benchmark's plan and what it has measured.
#[derive(Resource, Debug)]
pub struct BodyBench {
    pub count: usize,
    pub path: PathBuf,
    phase: usize,
    started: Option<f64>,
    frames: u32,
    results: Vec<(BodyStyle, f64)>,
}

impl BodyBench {
    pub fn new(count: usize, path: PathBuf) -> Self {
        Self {
            count,
            path,
            phase: 0,
            started: None,
            frames: 0,
            results: Vec::new(),
        }
    }
}

/// The phases, in order: each style twice, interleaved.
const PHASES: [BodyStyle; 4] = [
    BodyStyle::Jointed,
    BodyStyle::Capsule,
    BodyStyle::Jointed,
    BodyStyle::Capsule,
];

/// On a walker: the centre of its circle and where on it it started.
#[derive(Component, Debug)]
struct Walker {
    centre: Vec3,
    offset: f32,
}

#[derive(Serialize)]
struct Report {
    avatars: usize,
    /// Frames per second of each phase, in the order run.
    phases: Vec<(BodyStyle, f64)>,
    jointed_fps: f64,
    capsule_fps: f64,
    /// Jointed over capsule: 1 is no cost at all.
    ratio: f64,
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<BodyStyle>().add_systems(
        Update,
        (spawn_walkers, walk, measure)
            .chain()
            .run_if(resource_exists::<BodyBench>),
    );
}

fn spawn_walkers(
    bench: Res<BodyBench>,
    world: Res<World>,
    mut orbit: ResMut<OrbitCamera>,
    mut spawned: Local<bool>,
    mut commands: Commands,
) {
    if *spawned {
        return;
    }
    *spawned = true;
    let capital = world.capital();
    let centre = world.spawn_position(capital, 0);
    let side = (bench.count as f32).sqrt().ceil() as usize;
    let roles = [Role::Visitor, Role::Member, Role::Resident, Role::Founder];
    for i in 0..bench.count {
        let (row, column) = (i / side, i % side);
        let at = centre
            + Vec3::new(
                (column as f32 - side as f32 / 2.0) * SPACING,
                0.0,
                (row as f32 - side as f32 / 2.0) * SPACING,
            );
        commands.spawn((
            Name::new(format!("Walker {i}")),
            Walker {
                centre: at,
                offset: i as f32 * 0.37,
            },
            AvatarProfile {
                name: format!("Walker {i}"),
                role: roles[i % roles.len()],
                key: format!("{i:064x}"),
            },
            Look {
                appearance: Appearance::from_seed(i as u64),
                seated: false,
            },
            AvatarPose {
                position: at,
                ..default()
            },
        ));
    }
    orbit.target = centre + Vec3::Y * 1.5;
    orbit.distance = 30.0;
    orbit.pitch = 0.45;
}

/// Walks everyone round a small circle, about a stride a second.
fn walk(mut walkers: Query<(&Walker, &mut AvatarPose)>, time: Res<Time>) {
    let t = time.elapsed_secs();
    for (walker, mut pose) in &mut walkers {
        let angle = t * 1.6 + walker.offset;
        pose.position = walker.centre + Vec3::new(angle.cos(), 0.0, angle.sin()) * CIRCLE;
        // Facing along the circle (the movement rule's facing: -Z forward at 0).
        let tangent = Vec2::new(-angle.sin(), angle.cos());
        pose.yaw = (-tangent.x).atan2(-tangent.y);
    }
}

fn measure(
    mut bench: ResMut<BodyBench>,
    mut style: ResMut<BodyStyle>,
    scene: Option<Res<SceneReady>>,
    mut looks: Query<&mut Look, With<Walker>>,
    time: Res<Time<Real>>,
    mut exit: MessageWriter<AppExit>,
) {
    if scene.is_none() {
        return;
    }
    let now = time.elapsed_secs_f64();
    let Some(&wanted) = PHASES.get(bench.phase) else {
        return;
    };
    if *style != wanted {
        *style = wanted;
        // Everyone is dressed again in the phase's style.
        for mut look in &mut looks {
            look.set_changed();
        }
    }
    let warm_up = if bench.phase == 0 {
        FIRST_WARM_UP
    } else {
        WARM_UP
    };
    let started = *bench.started.get_or_insert(now);
    if now - started < warm_up {
        bench.frames = 0;
        return;
    }
    bench.frames += 1;
    let measured = now - started - warm_up;
    if measured < MEASURE {
        return;
    }
    let fps = f64::from(bench.frames) / measured;
    info!("{wanted:?}: {fps:.2} frames a second");
    bench.results.push((wanted, fps));
    bench.phase += 1;
    bench.started = None;
    bench.frames = 0;
    if bench.phase < PHASES.len() {
        return;
    }
    let mean = |style: BodyStyle| {
        let rates: Vec<f64> = bench
            .results
            .iter()
            .filter(|(s, _)| *s == style)
            .map(|(_, fps)| *fps)
            .collect();
        rates.iter().sum::<f64>() / rates.len().max(1) as f64
    };
    let (jointed, capsule) = (mean(BodyStyle::Jointed), mean(BodyStyle::Capsule));
    let report = Report {
        avatars: bench.count,
        phases: bench.results.clone(),
        jointed_fps: jointed,
        capsule_fps: capsule,
        ratio: jointed / capsule.max(f64::EPSILON),
    };
    match serde_json::to_string_pretty(&report) {
        Ok(json) => {
            if let Err(error) = std::fs::write(&bench.path, json) {
                error!("cannot write {}: {error}", bench.path.display());
            }
        }
        Err(error) => error!("cannot encode the report: {error}"),
    }
    info!(
        "{} avatars: jointed {jointed:.2} fps, capsules {capsule:.2} fps, ratio {:.3}",
        bench.count, report.ratio
    );
    exit.write(AppExit::Success);
}
