//! `archipelago-server`: runs the world, or administers its data.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use archipelago_server::admission::Admission;
use archipelago_server::network::MAX_CLIENTS;
use archipelago_server::storage::Storage;
use archipelago_server::tls::{Certificates, TlsSource};
use archipelago_server::{
    ServerConfig, ShutdownFlag, assembly, build_app, events, governance, members, open_storage,
    parcels, recognition,
};
use archipelago_shared::protocol::{DEFAULT_PORT, DEFAULT_TICK_HZ};
use archipelago_shared::world::{World, load_world_dir};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "archipelago-server",
    version,
    about = "The Archipelago world server (headless, authoritative)"
)]
struct Cli {
    /// Address and UDP port to listen on (QUIC).
    #[arg(long, default_value_t = SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)))]
    bind: SocketAddr,
    /// Folder with nation.ron and one .ron file per protocity.
    #[arg(long, default_value = "assets/world", global = true)]
    world: PathBuf,
    /// Folder for the database and the certificate digest.
    #[arg(long, default_value = "data", global = true)]
    data_dir: PathBuf,
    /// Simulation ticks per second.
    #[arg(long, default_value_t = DEFAULT_TICK_HZ, value_parser = clap::value_parser!(u32).range(10..=120))]
    tick_hz: u32,
    /// Most people connected at once; one more is told the server is full.
    #[arg(long, default_value_t = MAX_CLIENTS as u32, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    max_clients: u32,
    /// Most connections from one address at once (0: no limit). The host's own loopback
    /// connections are not limited unless --limit-loopback.
    #[arg(long, default_value_t = archipelago_server::admission::DEFAULT_MAX_PER_IP)]
    max_per_ip: usize,
    /// Most connections that have not logged in yet, at once (0: no limit).
    #[arg(long, default_value_t = archipelago_server::admission::DEFAULT_MAX_PENDING)]
    max_pending: usize,
    /// Places kept for members and founders: visitors are turned away once only this many
    /// are left (default: a tenth of --max-clients).
    #[arg(long)]
    reserved_places: Option<usize>,
    /// Serve Prometheus metrics on http://ADDR/metrics (off unless given).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Count loopback connections against --max-per-ip and --max-pending too.
    #[arg(long)]
    limit_loopback: bool,
    /// PEM certificate chain for a real deployment, from a certificate authority (default: a
    /// self-signed certificate, made anew every 10.5 days). Read again when the file changes.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// PEM private key matching --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// How long each self-signed certificate is valid, in seconds (at most 14 days, the
    /// default); a new one is made with a quarter of it left.
    #[arg(long, value_name = "SECONDS", conflicts_with = "cert")]
    self_signed_validity: Option<u64>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Administer the member registry (the server need not be running).
    Admin {
        #[command(subcommand)]
        action: Admin,
        /// Print JSON instead of text.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Load and validate the world data, then exit.
    CheckWorld,
    /// Re-check every signature of a ballot export and recount it; fails unless the recount
    /// matches the published result.
    Verify {
        /// A file written by `admin proposal export`.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum Admin {
    #[command(flatten)]
    Members(members::cli::MemberAction),
    /// Read and change the land registry (founder powers; recorded as "admin (CLI)").
    Parcel {
        #[command(subcommand)]
        action: parcels::cli::ParcelAction,
    },
    /// Write, open, close and export proposals (founder powers; recorded as "admin (CLI)").
    Proposal {
        #[command(subcommand)]
        action: governance::cli::ProposalAction,
    },
    /// Town hall sessions and their minutes.
    Session {
        #[command(subcommand)]
        action: assembly::cli::SessionAction,
    },
    /// The moderation log, and the mutes and bans in force.
    Moderation {
        #[command(subcommand)]
        action: assembly::cli::ModerationAction,
    },
    /// Live events in the town halls: the calendar, scheduling, calling off.
    Event {
        #[command(subcommand)]
        action: events::cli::EventAction,
    },
    /// The nation's stage and its relations with states and bodies (founder powers;
    /// recorded as "admin (CLI)").
    Recognition {
        #[command(subcommand)]
        action: recognition::cli::RecognitionAction,
    },
    /// The census of each protocity and the nation's totals.
    Census {
        #[command(subcommand)]
        action: recognition::cli::CensusAction,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Verify { file, json }) = &cli.command {
        // A recount needs only the export, not the world data.
        return governance::cli::verify(file, *json);
    }
    let world = load_world_dir(&cli.world).context("the world data is invalid")?;
    match cli.command {
        Some(Command::CheckWorld) => {
            println!(
                "{}: {} protocities, {} parcels: valid",
                world.nation.name,
                world.protocities.len(),
                world
                    .protocities
                    .iter()
                    .map(|p| p.island.parcels.len())
                    .sum::<usize>()
            );
            Ok(())
        }
        Some(Command::Admin { action, json }) => admin(&cli.data_dir, &world, action, json),
        Some(Command::Verify { file, json }) => governance::cli::verify(&file, json),
        None => serve(cli, world),
    }
}

fn serve(cli: Cli, world: World) -> anyhow::Result<()> {
    let config = ServerConfig {
        bind: cli.bind,
        tick_hz: cli.tick_hz,
        data_dir: cli.data_dir.clone(),
        max_clients: cli.max_clients as usize,
        transport: archipelago_server::network::Transport::WebTransport,
        clock: archipelago_shared::clock::Clock::system(),
        admission: Admission {
            max_per_ip: cli.max_per_ip,
            max_pending: cli.max_pending,
            reserved: cli.reserved_places.unwrap_or(cli.max_clients as usize / 10),
            limit_loopback: cli.limit_loopback,
        },
    };
    let tls = match (cli.cert, cli.key, cli.self_signed_validity) {
        (Some(cert), Some(key), _) => TlsSource::Pem { cert, key },
        (_, _, Some(seconds)) => TlsSource::SelfSigned {
            validity: Duration::from_secs(seconds),
        },
        _ => TlsSource::self_signed(),
    };
    if let Some(addr) = cli.metrics {
        archipelago_server::telemetry::serve(addr)
            .with_context(|| format!("cannot serve metrics on {addr}"))?;
        println!("metrics at http://{addr}/metrics");
    }
    let mut certificates = Certificates::new(tls)?;
    let (storage, _runtime) = open_storage(&config, &world)?;
    let digest_file = certificates.write_digests_to(&config.data_dir)?;
    println!("certificate digest: {}", certificates.digest());
    println!(
        "(written to {}; clients pass it as --cert-digest)",
        digest_file.display()
    );

    let mut app = build_app(config, world, certificates, storage, true);
    let flag = app.world().resource::<ShutdownFlag>().clone();
    ctrlc_stop(flag);
    match app.run() {
        bevy::app::AppExit::Success => Ok(()),
        bevy::app::AppExit::Error(code) => anyhow::bail!("server stopped with error code {code}"),
    }
}

/// Ctrl-C and SIGTERM ask the app to stop: it finishes what it was given and exits 0.
fn ctrlc_stop(flag: ShutdownFlag) {
    let result = ctrlc::set_handler(move || flag.0.store(true, Ordering::Relaxed));
    if let Err(error) = result {
        eprintln!("cannot install the Ctrl-C and SIGTERM handler: {error}");
    }
}

fn admin(
    data_dir: &std::path::Path,
    world: &World,
    action: Admin,
    json: bool,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        std::fs::create_dir_all(data_dir)?;
        let storage = Storage::open(data_dir).await?;
        let result = match action {
            Admin::Members(action) => members::cli::run(&storage, action, json).await,
            Admin::Parcel { action } => {
                // The registry may not have been seeded if no server ever ran on this data.
                storage.seed_parcels(&world.parcel_seeds()).await?;
                parcels::cli::run(&storage, action, json).await
            }
            Admin::Proposal { action } => {
                storage.seed_founders(&world.nation.founders).await?;
                governance::cli::run(&storage, world, action, json).await
            }
            Admin::Session { action } => assembly::cli::sessions(&storage, action, json).await,
            Admin::Moderation { action } => assembly::cli::moderation(&storage, action, json).await,
            Admin::Event { action } => events::cli::events(&storage, world, action, json).await,
            Admin::Recognition { action } => {
                archipelago_server::seed_storage(&storage, world).await?;
                recognition::cli::recognition(&storage, world, action, json).await
            }
            Admin::Census { action } => {
                archipelago_server::seed_storage(&storage, world).await?;
                recognition::cli::census(&storage, world, action, json).await
            }
        };
        storage.close().await;
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--data-dir` and `--world` go before or after the subcommand, as people type them.
    #[test]
    fn the_data_folder_may_follow_the_subcommand() {
        for args in [
            [
                "archipelago-server",
                "--data-dir",
                "/srv/x",
                "admin",
                "members",
            ],
            [
                "archipelago-server",
                "admin",
                "members",
                "--data-dir",
                "/srv/x",
            ],
        ] {
            let cli = Cli::try_parse_from(args).expect("parses");
            assert_eq!(cli.data_dir, PathBuf::from("/srv/x"), "{args:?}");
        }
        let cli = Cli::try_parse_from(["archipelago-server", "check-world", "--world", "w"])
            .expect("parses");
        assert_eq!(cli.world, PathBuf::from("w"));
    }
}
