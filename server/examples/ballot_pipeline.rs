//! Benchmark of the server's ballot path without the network: the same queue, batch writer
//! and SQLite transaction the server uses (`BallotQueue::cast`), on a real database
//! file. First every voter casts a ballot at the same instant; then ballots arrive at a steady
//! rate. Reports how long each ballot waited for its commit, how many were committed per
//! second, and checks that every acknowledged ballot is in the export and that it verifies.
//!
//! cargo run --example ballot_pipeline -- --voters 1000 --ballots 10000 --seconds 10

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use archipelago_server::governance::ballots::{BallotQueue, Committed};
use archipelago_server::governance::storage::CastBallot;
use archipelago_server::storage::{Done, Storage, StorageHandle};
use archipelago_shared::governance::tally::{Choice, VoteType};
use archipelago_shared::governance::{
    Ballot, Eligibility, ProposalDraft, ProposalId, Scope, verify_export,
};
use archipelago_shared::identity::to_hex;
use archipelago_shared::parcels::Actor;
use archipelago_shared::protocol::Role;
use bevy::ecs::message::Messages;
use bevy::prelude::{Entity, World};
use clap::Parser;
use ed25519_dalek::SigningKey;

#[derive(Parser, Debug)]
struct Cli {
    /// Voters, all enrolled as members; each casts one ballot in the opening burst.
    #[arg(long, default_value_t = 1000)]
    voters: usize,
    /// Ballots in the steady phase (voters change their ballots in turn).
    #[arg(long, default_value_t = 10_000)]
    ballots: usize,
    /// Seconds the steady phase is spread over.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
}

fn voter_key(index: usize) -> SigningKey {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
    SigningKey::from_bytes(&seed)
}

/// Milliseconds at a quantile of sorted samples.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

struct Phase {
    latencies_ms: Vec<f64>,
    refused: Vec<String>,
    elapsed: Duration,
}

impl Phase {
    fn report(mut self, name: &str) -> serde_json::Value {
        self.latencies_ms.sort_by(f64::total_cmp);
        let acked = self.latencies_ms.len();
        serde_json::json!({
            "phase": name,
            "acked": acked,
            "refused": self.refused.len(),
            "first_refusals": self.refused.iter().take(3).collect::<Vec<_>>(),
            "seconds": self.elapsed.as_secs_f64(),
            "committed_per_s": (acked as f64 / self.elapsed.as_secs_f64()).round(),
            "wait_ms_p50": quantile(&self.latencies_ms, 0.5),
            "wait_ms_p99": quantile(&self.latencies_ms, 0.99),
            "wait_ms_max": quantile(&self.latencies_ms, 1.0),
        })
    }
}

/// Collects the answers that have arrived.
fn collect(handle: &StorageHandle, world: &mut World, phase: &mut Phase, answered: &mut usize) {
    handle.deliver_to(world);
    let now = Instant::now();
    let mut commits = world.resource_mut::<Messages<Done<Committed>>>();
    for done in commits.drain() {
        for outcome in done.output.0 {
            *answered += 1;
            match outcome.result {
                Ok(_) => phase
                    .latencies_ms
                    .push((now - outcome.received).as_secs_f64() * 1e3),
                Err(reason) => phase.refused.push(reason.to_string()),
            }
        }
    }
}

/// Queues a ballot as the server's handler does; a full queue is an answer at once.
fn cast(queue: &BallotQueue, ballot: CastBallot, phase: &mut Phase, answered: &mut usize) {
    if queue.cast(Entity::PLACEHOLDER, ballot).is_err() {
        *answered += 1;
        phase.refused.push("the ballot queue is full".into());
    }
}

fn ballot(
    key: &SigningKey,
    proposal: ProposalId,
    digest: &str,
    sequence: u64,
    option: u8,
) -> CastBallot {
    let ballot = Ballot {
        proposal,
        digest: digest.to_owned(),
        voter: [0; 32],
        sequence,
        choice: Choice::Single(option),
    };
    CastBallot::signed_by(key, ballot, "voter")
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let dir = tempfile_dir()?;
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?,
    );
    let keys: Vec<SigningKey> = (0..cli.voters).map(voter_key).collect();
    let (storage, proposal) = runtime.block_on(async {
        let storage = Storage::open(&dir).await?;
        let roll: Vec<(String, String)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (to_hex(k.verifying_key().as_bytes()), format!("Voter {i}")))
            .collect();
        storage.enroll(&roll, Role::Member, "bench").await?;
        let draft = ProposalDraft {
            title: "Benchmark".into(),
            body: String::new(),
            scope: Scope::Nation,
            eligibility: Eligibility::AtLeast(Role::Member),
            vote_type: VoteType::SingleChoice,
            options: vec!["A".into(), "B".into(), "C".into()],
            opens_at: None,
            voting_secs: 3600,
            quorum: 1,
            threshold_percent: 50,
            live_tally: true,
        };
        let admin = Actor::admin();
        let created = storage.create_proposal(&admin, &draft, &[]).await?;
        let opened = storage.open_proposal(&admin, created.id).await?;
        anyhow::Ok((storage, opened))
    })?;
    let mut handle = StorageHandle::new(storage.clone(), runtime.clone());
    let queue = BallotQueue::start(&mut handle);
    let mut world = World::new();
    world.init_resource::<Messages<Done<Committed>>>();

    // Signing is the client's work: prepare every ballot before the clock starts.
    let burst: Vec<CastBallot> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| ballot(k, proposal.id, &proposal.digest, 1, (i % 3) as u8))
        .collect();
    let steady: Vec<CastBallot> = (0..cli.ballots)
        .map(|n| {
            let voter = n % cli.voters;
            let sequence = 2 + (n / cli.voters) as u64;
            ballot(
                &keys[voter],
                proposal.id,
                &proposal.digest,
                sequence,
                ((n * 7) % 3) as u8,
            )
        })
        .collect();

    // Everyone at once.
    let mut phase = Phase {
        latencies_ms: Vec::new(),
        refused: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let start = Instant::now();
    let mut answered = 0;
    for ballot in burst {
        cast(&queue, ballot, &mut phase, &mut answered);
    }
    while answered < cli.voters && start.elapsed() < Duration::from_secs(120) {
        collect(&handle, &mut world, &mut phase, &mut answered);
        std::thread::sleep(Duration::from_micros(200));
    }
    phase.elapsed = start.elapsed();
    let burst_report = phase.report("all voters at once");

    // A steady stream.
    let mut phase = Phase {
        latencies_ms: Vec::new(),
        refused: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let interval = Duration::from_secs_f64(cli.seconds / cli.ballots.max(1) as f64);
    let start = Instant::now();
    let mut answered = 0;
    for (n, ballot) in steady.into_iter().enumerate() {
        let due = start + interval * n as u32;
        while Instant::now() < due {
            collect(&handle, &mut world, &mut phase, &mut answered);
            std::thread::sleep(Duration::from_micros(100));
        }
        cast(&queue, ballot, &mut phase, &mut answered);
    }
    while answered < cli.ballots && start.elapsed() < Duration::from_secs(120) {
        collect(&handle, &mut world, &mut phase, &mut answered);
        std::thread::sleep(Duration::from_micros(200));
    }
    phase.elapsed = start.elapsed();
    let steady_report = phase.report("steady stream");

    // Nothing lost: close, export, recount.
    let (stored, verified) = runtime.block_on(async {
        storage.close_proposal(&Actor::admin(), proposal.id).await?;
        let export = storage.export(proposal.id, "bench").await?;
        let verified = verify_export(&export).matches();
        anyhow::Ok((export.ballots.len(), verified))
    })?;
    let acked =
        burst_report["acked"].as_u64().unwrap_or(0) + steady_report["acked"].as_u64().unwrap_or(0);
    let summary = serde_json::json!({
        "voters": cli.voters,
        "phases": [burst_report, steady_report],
        "acked": acked,
        "stored": stored,
        "acked_but_missing": acked.saturating_sub(stored as u64),
        "export_verifies": verified,
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    let _ = std::fs::remove_dir_all(&dir);
    if stored as u64 != acked || !verified {
        bail!("ballots were lost or the export does not verify");
    }
    Ok(())
}

/// A fresh folder for the database, on the same disk the server's data would be.
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("ballot-pipeline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}
