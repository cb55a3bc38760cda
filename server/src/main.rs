//! `archipelago-server`: runs the world, or administers its data.

mod cli;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use archipelago_server::admission::Admission;
use archipelago_server::network::MAX_CLIENTS;
use archipelago_server::storage::Storage;
use archipelago_server::tls::{Certificates, TlsSource};
use archipelago_server::{ServerConfig, ShutdownFlag, build_app, open_storage};
use archipelago_shared::parcels::{
    Actor, OwnerClaim, ParcelFilter, ParcelInfo, ParcelRequest, StatusChoice, StatusKind, percent,
    utc_date_time,
};
use archipelago_shared::protocol::{DEFAULT_PORT, DEFAULT_TICK_HZ, Role};
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
    #[arg(long, default_value = "assets/world")]
    world: PathBuf,
    /// Folder for the database and the certificate digest.
    #[arg(long, default_value = "data")]
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
    /// Give a member a role: visitor, member, resident or founder.
    GrantRole {
        /// The member's display name (any case), public key, or the key's first 16 or more
        /// hex digits. The key acted on is printed.
        who: String,
        role: String,
    },
    /// List every member of the registry.
    Members,
    /// Register many keys with one role: a file with one "KEY NAME" line each
    /// (as `archipelago-bots --print-keys` writes; `-` reads standard input).
    Enroll {
        file: PathBuf,
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Read and change the land registry (founder powers; recorded as "admin (CLI)").
    Parcel {
        #[command(subcommand)]
        action: ParcelAction,
    },
    /// Write, open, close and export proposals (founder powers; recorded as "admin (CLI)").
    Proposal {
        #[command(subcommand)]
        action: cli::proposals::ProposalAction,
    },
    /// Town hall sessions and their minutes.
    Session {
        #[command(subcommand)]
        action: cli::assembly::SessionAction,
    },
    /// The moderation log, and the mutes and bans in force.
    Moderation {
        #[command(subcommand)]
        action: cli::assembly::ModerationAction,
    },
    /// Live events in the town halls: the calendar, scheduling, calling off.
    Event {
        #[command(subcommand)]
        action: cli::assembly::EventAction,
    },
    /// The nation's stage and its relations with states and bodies (founder powers;
    /// recorded as "admin (CLI)").
    Recognition {
        #[command(subcommand)]
        action: cli::recognition::RecognitionAction,
    },
    /// The census of each protocity and the nation's totals.
    Census {
        #[command(subcommand)]
        action: cli::recognition::CensusAction,
    },
}

#[derive(Subcommand, Debug)]
enum ParcelAction {
    /// List parcels, optionally only those matching a search.
    List {
        /// Part of a parcel id, or an owner's name.
        query: Option<String>,
        /// owned, for-sale, crowdfunding or reserved.
        #[arg(long)]
        status: Option<String>,
        /// A protocity id.
        #[arg(long)]
        protocity: Option<String>,
    },
    /// Show one parcel with its history.
    Show { id: String },
    /// Give a parcel to `nobody`, `member:NAME_OR_KEY` or `group:NAME`.
    Assign { id: String, owner: String },
    /// Set a parcel's status: owned, for-sale --price N, crowdfunding --goal N, reserved.
    Status {
        id: String,
        status: String,
        /// Asking price in whole dollars (for-sale).
        #[arg(long)]
        price: Option<u64>,
        /// Goal in whole dollars (crowdfunding).
        #[arg(long)]
        goal: Option<u64>,
    },
    /// Rewrite a parcel's description.
    Describe { id: String, text: String },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Verify { file, json }) = &cli.command {
        // A recount needs only the export, not the world data.
        return cli::proposals::verify(file, *json);
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
        Some(Command::Verify { file, json }) => cli::proposals::verify(&file, json),
        None => serve(cli, world),
    }
}

fn serve(cli: Cli, world: World) -> anyhow::Result<()> {
    let config = ServerConfig {
        bind: cli.bind,
        tick_hz: cli.tick_hz,
        data_dir: cli.data_dir.clone(),
        max_clients: cli.max_clients as usize,
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
            Admin::GrantRole { who, role } => {
                let role = Role::parse(&role).with_context(|| {
                    format!("`{role}` is not a role: use visitor, member, resident or founder")
                })?;
                let member = storage.grant_role(&who, role, "admin cli").await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&member)?);
                } else {
                    println!(
                        "{} ({}) is now a {}",
                        member.name, member.public_key, member.role
                    );
                }
                Ok(())
            }
            Admin::Enroll { file, role } => {
                let role = Role::parse(&role).with_context(|| {
                    format!("`{role}` is not a role: use visitor, member, resident or founder")
                })?;
                let text = if file.as_os_str() == "-" {
                    std::io::read_to_string(std::io::stdin())?
                } else {
                    std::fs::read_to_string(&file)
                        .with_context(|| format!("cannot read {}", file.display()))?
                };
                let mut lines = Vec::new();
                for (n, line) in text
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| !l.trim().is_empty())
                {
                    let (key, name) = line
                        .trim()
                        .split_once(' ')
                        .with_context(|| format!("line {}: expected \"KEY NAME\"", n + 1))?;
                    archipelago_shared::identity::parse_key_hex(key).with_context(|| {
                        format!("line {}: `{key}` is not a 64-digit hex key", n + 1)
                    })?;
                    archipelago_shared::identity::validate_name(name)
                        .with_context(|| format!("line {}: bad name", n + 1))?;
                    lines.push((key.to_lowercase(), name.trim().to_owned()));
                }
                let enrolled = storage.enroll(&lines, role, "admin cli").await?;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({ "enrolled": enrolled, "role": role })
                    );
                } else {
                    println!("{enrolled} keys are now {role}s");
                }
                Ok(())
            }
            Admin::Members => {
                let members = storage.members().await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&members)?);
                } else {
                    for m in &members {
                        println!("{:<9} {:<24} {}", m.role, m.name, m.public_key);
                    }
                    println!("{} members", members.len());
                }
                Ok(())
            }
            Admin::Parcel { action } => {
                // The registry may not have been seeded if no server ever ran on this data.
                storage.seed_parcels(&world.parcel_seeds()).await?;
                parcel_admin(&storage, action, json).await
            }
            Admin::Proposal { action } => {
                storage.seed_founders(&world.nation.founders).await?;
                cli::proposals::run(&storage, world, action, json).await
            }
            Admin::Session { action } => cli::assembly::sessions(&storage, action, json).await,
            Admin::Moderation { action } => cli::assembly::moderation(&storage, action, json).await,
            Admin::Event { action } => cli::assembly::events(&storage, world, action, json).await,
            Admin::Recognition { action } => {
                archipelago_server::seed_storage(&storage, world).await?;
                cli::recognition::recognition(&storage, world, action, json).await
            }
            Admin::Census { action } => {
                archipelago_server::seed_storage(&storage, world).await?;
                cli::recognition::census(&storage, world, action, json).await
            }
        };
        storage.close().await;
        result
    })
}

/// `nobody`, `member:NAME_OR_KEY` or `group:NAME`.
fn parse_owner(text: &str) -> anyhow::Result<OwnerClaim> {
    match text.split_once(':') {
        _ if text == "nobody" => Ok(OwnerClaim::Unowned),
        Some(("member", who)) if !who.is_empty() => Ok(OwnerClaim::Member(who.to_owned())),
        Some(("group", name)) if !name.is_empty() => Ok(OwnerClaim::Group(name.to_owned())),
        _ => anyhow::bail!("`{text}`: give nobody, member:NAME_OR_KEY or group:NAME"),
    }
}

fn parse_status(
    status: &str,
    price: Option<u64>,
    goal: Option<u64>,
) -> anyhow::Result<StatusChoice> {
    match (StatusKind::parse(status), price, goal) {
        (Some(StatusKind::Owned), None, None) => Ok(StatusChoice::Owned),
        (Some(StatusKind::Reserved), None, None) => Ok(StatusChoice::Reserved),
        (Some(StatusKind::ForSale), Some(price), None) => Ok(StatusChoice::ForSale { price }),
        (Some(StatusKind::Crowdfunding), None, Some(goal)) => {
            Ok(StatusChoice::Crowdfunding { goal })
        }
        (Some(StatusKind::ForSale), _, _) => anyhow::bail!("for-sale needs --price (only)"),
        (Some(StatusKind::Crowdfunding), _, _) => anyhow::bail!("crowdfunding needs --goal (only)"),
        (Some(_), _, _) => anyhow::bail!("--price and --goal go with for-sale and crowdfunding"),
        (None, _, _) => {
            anyhow::bail!(
                "`{status}` is not a status: use owned, for-sale, crowdfunding or reserved"
            )
        }
    }
}

fn print_parcel_line(p: &ParcelInfo) {
    println!(
        "{:<8} {:<15} {:<13} {:<36} {}",
        p.id,
        p.protocity,
        p.zoning.as_str(),
        p.owner.display(),
        p.status.display()
    );
}

async fn parcel_admin(storage: &Storage, action: ParcelAction, json: bool) -> anyhow::Result<()> {
    match action {
        ParcelAction::List {
            query,
            status,
            protocity,
        } => {
            let status = match status {
                Some(text) => Some(StatusKind::parse(&text).with_context(|| {
                    format!(
                        "`{text}` is not a status: use owned, for-sale, crowdfunding or reserved"
                    )
                })?),
                None => None,
            };
            let filter = ParcelFilter {
                text: query.unwrap_or_default(),
                status,
                protocity,
            };
            let parcels: Vec<ParcelInfo> = storage
                .parcels()
                .await?
                .into_iter()
                .filter(|p| filter.matches(p))
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&parcels)?);
            } else {
                for p in &parcels {
                    print_parcel_line(p);
                }
                println!("{} parcels", parcels.len());
            }
        }
        ParcelAction::Show { id } => {
            let parcel = storage.parcel(&id).await?;
            let history = storage.parcel_history(&id, None).await?;
            let (pledged, pledges) = storage.pledges(&id).await?;
            if json {
                let value = serde_json::json!({
                    "parcel": parcel,
                    "history": history,
                    "pledges": { "count": pledges, "total": pledged },
                });
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print_parcel_line(&parcel);
                if let Some(title) = &parcel.title {
                    println!("  address:      {}", title.address);
                    println!(
                        "  coordinates:  {:.5}, {:.5}",
                        title.latitude, title.longitude
                    );
                    println!("  deed sha-256: {}", title.deed_hash);
                }
                println!("  jurisdiction: {}", parcel.jurisdiction);
                println!("  area:         {} m²", parcel.area_m2);
                println!("  residency:    {} or above", parcel.residency);
                println!("  description:  {}", parcel.description);
                if let archipelago_shared::parcels::ParcelStatus::Crowdfunding { goal, raised } =
                    parcel.status
                {
                    println!(
                        "  pledges:      {pledges} in world, {}% of the goal raised",
                        percent(raised, goal)
                    );
                }
                println!("  history (version {}):", parcel.version);
                for change in &history {
                    println!(
                        "    v{:<3} {}  {:<16} {}",
                        change.version,
                        utc_date_time(change.at),
                        change.by,
                        change.what
                    );
                }
            }
        }
        ParcelAction::Assign { id, owner } => {
            let owner = parse_owner(&owner)?;
            let current = storage.parcel(&id).await?;
            let request = ParcelRequest::Assign {
                parcel: id,
                owner,
                expected_version: current.version,
            };
            report_change(storage, &request, json).await?;
        }
        ParcelAction::Status {
            id,
            status,
            price,
            goal,
        } => {
            let status = parse_status(&status, price, goal)?;
            let current = storage.parcel(&id).await?;
            let request = ParcelRequest::SetStatus {
                parcel: id,
                status,
                expected_version: current.version,
            };
            report_change(storage, &request, json).await?;
        }
        ParcelAction::Describe { id, text } => {
            let current = storage.parcel(&id).await?;
            let request = ParcelRequest::Describe {
                parcel: id,
                text,
                expected_version: current.version,
            };
            report_change(storage, &request, json).await?;
        }
    }
    Ok(())
}

async fn report_change(
    storage: &Storage,
    request: &ParcelRequest,
    json: bool,
) -> anyhow::Result<()> {
    let (parcel, what) = storage.change_parcel(&Actor::admin(), request).await?;
    if json {
        let value = serde_json::json!({ "parcel": parcel, "change": what });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{} v{}: {what}", parcel.id, parcel.version);
    }
    Ok(())
}
