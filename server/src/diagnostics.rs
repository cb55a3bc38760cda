//! How long the server's frames take: every frame's work is timed, and every few seconds the
//! median and 99th percentile are logged and written to `DATA_DIR/tick-stats.json`, which
//! the benchmark reads.

use std::time::{Duration, Instant};

use bevy::prelude::*;
use serde::Serialize;

use crate::ServerSettings;
use crate::crowd::CrowdStats;

const REPORT_EVERY: Duration = Duration::from_secs(5);
const MAX_HISTORY: usize = 200_000;
pub const STATS_FILE: &str = "tick-stats.json";

#[derive(Resource, Default)]
struct FrameTimer {
    started: Option<Instant>,
    samples: Vec<Duration>,
    since_report: Duration,
    all: Vec<Duration>,
}

/// Written to `tick-stats.json`.
#[derive(Serialize, Debug, Clone, Copy)]
pub struct TickStats {
    pub frames: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Over the whole run so far.
    pub run_p50_ms: f64,
    pub run_p99_ms: f64,
    pub run_max_ms: f64,
    /// What crowd frames carried so far.
    pub crowd: CrowdStats,
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<FrameTimer>()
        .add_systems(First, start_frame)
        .add_systems(Last, end_frame);
}

fn start_frame(mut timer: ResMut<FrameTimer>) {
    timer.started = Some(Instant::now());
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn end_frame(
    mut timer: ResMut<FrameTimer>,
    time: Res<Time<Real>>,
    settings: Res<ServerSettings>,
    crowd: Option<Res<CrowdStats>>,
) {
    let Some(started) = timer.started.take() else {
        return;
    };
    let spent = started.elapsed();
    metrics::histogram!("archipelago_frame_seconds").record(spent.as_secs_f64());
    timer.samples.push(spent);
    timer.since_report += time.delta();
    if timer.since_report < REPORT_EVERY {
        return;
    }
    timer.since_report = Duration::ZERO;
    let mut window = std::mem::take(&mut timer.samples);
    window.sort();
    timer.all.extend_from_slice(&window);
    // Keep the run's history bounded (about two hours at 30 frames per second).
    let excess = timer.all.len().saturating_sub(MAX_HISTORY);
    timer.all.drain(..excess);
    let mut all = timer.all.clone();
    all.sort();
    let stats = TickStats {
        frames: window.len(),
        p50_ms: percentile(&window, 0.5),
        p99_ms: percentile(&window, 0.99),
        max_ms: window.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        run_p50_ms: percentile(&all, 0.5),
        run_p99_ms: percentile(&all, 0.99),
        run_max_ms: all.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        crowd: crowd.map(|c| *c).unwrap_or_default(),
    };
    // The terminal of `make run` stays readable: the line is news only when a frame took
    // longer than the tick.
    let tick_ms = 1000.0 / f64::from(settings.config.tick_hz.max(1));
    let line = format!(
        "frame time p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} frames",
        stats.p50_ms, stats.p99_ms, stats.max_ms, stats.frames
    );
    if stats.max_ms > tick_ms {
        warn!("{line}: some frames missed the {tick_ms:.1} ms tick");
    } else {
        debug!("{line}");
    }
    let path = settings.config.data_dir.join(STATS_FILE);
    if let Ok(json) = serde_json::to_string_pretty(&stats)
        && let Err(e) = std::fs::write(&path, json)
    {
        warn!("cannot write {}: {e}", path.display());
    }
}
