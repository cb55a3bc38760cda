//! What operators see of a running server: with `--metrics ADDR` the server serves Prometheus
//! text on `http://ADDR/metrics` (the `metrics` crate's facade and its Prometheus exporter).
//! Without it, the recording calls cost next to nothing.
//!
//! Names: `archipelago_links{state}` (connected, logging in, in the world),
//! `archipelago_logins_total`, `archipelago_login_refusals_total`,
//! `archipelago_request_refusals_total`, `archipelago_frame_seconds` (a histogram),
//! `archipelago_ballots_queued_total`, `archipelago_ballots_committed_total`,
//! `archipelago_storage_jobs` (database work in flight), `archipelago_resident_bytes`.

use std::net::SocketAddr;
use std::time::Duration;

use bevy::prelude::*;
use lightyear::link::server::LinkOf;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

use crate::login::PendingLogin;
use crate::session::LoggedIn;
use crate::storage::StorageHandle;

/// How often the gauges are read.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Frame time buckets, in seconds: the 30 Hz tick is 33 ms.
const FRAME_BUCKETS: [f64; 10] = [
    0.001, 0.002, 0.004, 0.008, 0.016, 0.033, 0.050, 0.100, 0.250, 1.0,
];

/// Starts serving `/metrics` on `addr` (from its own thread) and records from then on.
pub fn serve(addr: SocketAddr) -> anyhow::Result<()> {
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(
            Matcher::Full("archipelago_frame_seconds".into()),
            &FRAME_BUCKETS,
        )?
        .install()?;
    Ok(())
}

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(Last, sample_gauges);
}

fn sample_gauges(
    links: Query<(Has<PendingLogin>, Has<LoggedIn>), With<LinkOf>>,
    storage: Res<StorageHandle>,
    time: Res<Time<Real>>,
    mut since: Local<Duration>,
) {
    *since += time.delta();
    if *since < SAMPLE_EVERY {
        return;
    }
    *since = Duration::ZERO;
    let (mut arriving, mut inside) = (0u32, 0u32);
    for (pending, logged_in) in &links {
        arriving += u32::from(pending);
        inside += u32::from(logged_in);
    }
    let total = links.iter().count() as f64;
    metrics::gauge!("archipelago_links", "state" => "connected").set(total);
    metrics::gauge!("archipelago_links", "state" => "logging_in").set(f64::from(arriving));
    metrics::gauge!("archipelago_links", "state" => "in_world").set(f64::from(inside));
    metrics::gauge!("archipelago_storage_jobs").set(storage.jobs_in_flight() as f64);
    if let Some(bytes) = resident_bytes() {
        metrics::gauge!("archipelago_resident_bytes").set(bytes as f64);
    }
}

/// This process's resident memory, from /proc (Linux).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
