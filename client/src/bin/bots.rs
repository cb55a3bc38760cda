//! `archipelago-bots`: many headless clients in one process, for tests and load.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use archipelago_client::ClientConfig;
use archipelago_client::bots::{
    Behaviour, BotVoice, SwarmConfig, Voting, bot_key, bot_name, run_swarm,
};
use archipelago_client::identity::ephemeral;
use archipelago_client::transport::parse_server;
use archipelago_shared::identity::to_hex;
use archipelago_shared::protocol::{DEFAULT_PORT, DEFAULT_TICK_HZ};
use archipelago_shared::world::load_world_dir;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "archipelago-bots",
    version,
    about = "Run headless Archipelago bots against a server"
)]
struct Cli {
    /// Server: ADDRESS:PORT (IPv4) or NAME:PORT.
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)).to_string())]
    server: String,
    /// The server certificate's SHA-256 digest, plain hex (the server prints it). Without
    /// it, certificate authorities must vouch for the server's certificate.
    #[arg(long)]
    cert_digest: Option<String>,
    /// Also trust the certificate authorities in this PEM file.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// How many bots.
    #[arg(long, default_value_t = 10)]
    count: usize,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Where to write the JSON report.
    #[arg(long)]
    report: Option<PathBuf>,
    /// World data folder (the same the server uses).
    #[arg(long, default_value = "assets/world")]
    world: PathBuf,
    /// Simulation ticks per second (must match the server's).
    #[arg(long, default_value_t = DEFAULT_TICK_HZ)]
    tick_hz: u32,
    /// Updates of every bot per second.
    #[arg(long, default_value_t = 30.0)]
    rate_hz: f64,
    /// Random seed for the bots' decisions.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Keep every bot on the capital near its spawn points instead of roaming.
    #[arg(long, conflicts_with = "assemble")]
    gather: bool,
    /// Attend the session in the capital's town hall (a founder bot opens and chairs it).
    #[arg(long)]
    assemble: bool,
    /// With --assemble: how many the session lets into the hall (the server's default
    /// otherwise; the rest follow from its overflow).
    #[arg(long, requires = "assemble")]
    hall_capacity: Option<u32>,
    /// Vote on this proposal: a random valid ballot as soon as it is open, then again
    /// (replacing it) about every --vote-every seconds.
    #[arg(long)]
    vote: Option<u64>,
    #[arg(long, default_value_t = 1.0)]
    vote_every: f64,
    /// Send founder-only requests 30 times a second, as hostile visitors would (a load test
    /// of the server's checks; they are all refused).
    #[arg(long)]
    flood: bool,
    /// Derive the bots' keys from --seed instead of random keys (to enroll them first).
    #[arg(long)]
    stable_keys: bool,
    /// Print "KEY NAME" for each of the --count bots' stable keys and exit (feed it to
    /// `archipelago-server admin enroll`).
    #[arg(long)]
    print_keys: bool,
    /// Every bot says this 48 kHz mono WAV over and over: on the floor when given it, on the
    /// grounds otherwise.
    #[arg(long, value_name = "FILE.wav")]
    speak: Option<PathBuf>,
    /// Write what each bot heard to DIR/bot-N.wav at the end.
    #[arg(long, value_name = "DIR")]
    record_voice: Option<PathBuf>,
    /// With --speak: only the first N bots talk all the time (with --assemble the first is
    /// the chair); the others only while they hold the floor.
    #[arg(long, value_name = "N", requires = "speak")]
    speakers: Option<usize>,
    /// Light bots: all in one App, each only logging in, walking (--gather or roaming),
    /// voting (--vote) and counting what it receives; for crowds too large to run as full
    /// clients on one core.
    #[arg(long, conflicts_with_all = ["assemble", "flood", "speak", "record_voice"])]
    light: bool,
    /// Bots neither put on a look nor gesture: the load benchmarks made before looks measured.
    #[arg(long)]
    plain: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.print_keys {
        for i in 0..cli.count {
            let key = bot_key(cli.seed, i).verifying_key();
            println!("{} {}", to_hex(key.as_bytes()), bot_name(i, &key));
        }
        return Ok(());
    }
    let world = load_world_dir(&cli.world).context("the world data is invalid")?;
    let (server, server_name) = parse_server(&cli.server).map_err(anyhow::Error::msg)?;
    let mut template = ClientConfig::new(
        server,
        cli.cert_digest.unwrap_or_default().trim().to_owned(),
        String::new(),
        ephemeral(),
    );
    template.server_name = server_name;
    if let Some(path) = &cli.ca_file {
        template.trust_ca_file(path).map_err(anyhow::Error::msg)?;
    }
    template.tick_hz = cli.tick_hz;
    let config = SwarmConfig {
        template,
        count: cli.count,
        duration: Duration::from_secs(cli.seconds),
        rate_hz: cli.rate_hz,
        seed: cli.seed,
        behaviour: if cli.gather {
            Behaviour::Gather
        } else if cli.assemble {
            Behaviour::Assemble
        } else {
            Behaviour::Roam
        },
        voting: cli.vote.map(|proposal| Voting {
            proposal,
            every: Duration::from_secs_f64(cli.vote_every.max(0.05)),
        }),
        flood: cli.flood,
        stable_keys: cli.stable_keys || cli.vote.is_some(),
        stop: Default::default(),
        voice: BotVoice {
            speak: cli
                .speak
                .as_deref()
                .map(archipelago_client::voice::read_wav)
                .transpose()?
                .map(Arc::new),
            record: cli.record_voice.clone(),
            speakers: cli.speakers,
        },
        hall_capacity: cli.hall_capacity,
        light: cli.light,
        plain: cli.plain,
    };
    if let Some(dir) = &cli.record_voice {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    eprintln!(
        "running {} bots against {} for {} s",
        cli.count, cli.server, cli.seconds
    );
    let report = run_swarm(&config, &world);
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    if let Some(path) = &cli.report {
        std::fs::write(path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if report.connected < report.bots {
        anyhow::bail!("{} of {} bots connected", report.connected, report.bots);
    }
    Ok(())
}
