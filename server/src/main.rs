//! `archipelago-server`: runs the world, or administers its data.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::Context;
use archipelago_server::storage::Storage;
use archipelago_server::tls::{TlsSource, load_identity, write_digest};
use archipelago_server::{ServerConfig, ShutdownFlag, build_app, open_storage};
use archipelago_shared::protocol::{DEFAULT_PORT, DEFAULT_TICK_HZ, Role};
use archipelago_shared::world::load_world_dir;
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
    /// PEM certificate chain for a real deployment (default: a fresh self-signed certificate).
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// PEM private key matching --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
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
}

#[derive(Subcommand, Debug)]
enum Admin {
    /// Give a member a role: visitor, member, resident or founder.
    GrantRole {
        /// The member's public key (64 hex characters) or exact display name.
        who: String,
        role: String,
    },
    /// List every member of the registry.
    Members,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
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
        Some(Command::Admin { action, json }) => admin(&cli.data_dir, action, json),
        None => serve(cli, world),
    }
}

fn serve(cli: Cli, world: archipelago_shared::world::World) -> anyhow::Result<()> {
    let config = ServerConfig {
        bind: cli.bind,
        tick_hz: cli.tick_hz,
        data_dir: cli.data_dir.clone(),
    };
    let tls = match (cli.cert, cli.key) {
        (Some(cert), Some(key)) => TlsSource::Pem { cert, key },
        _ => TlsSource::SelfSigned,
    };
    let (identity, digest) = load_identity(&tls)?;
    let (storage, _runtime) = open_storage(&config, &world)?;
    let digest_file = write_digest(&config.data_dir, &digest)?;
    println!("certificate digest: {digest}");
    println!(
        "(written to {}; clients pass it as --cert-digest)",
        digest_file.display()
    );

    let mut app = build_app(config, world, identity, storage, true);
    let flag = app.world().resource::<ShutdownFlag>().clone();
    ctrlc_stop(flag);
    match app.run() {
        bevy::app::AppExit::Success => Ok(()),
        bevy::app::AppExit::Error(code) => anyhow::bail!("server stopped with error code {code}"),
    }
}

/// Ctrl-C asks the app to stop at the end of its frame, so the database closes cleanly.
fn ctrlc_stop(flag: ShutdownFlag) {
    let result = ctrlc::set_handler(move || flag.0.store(true, Ordering::Relaxed));
    if let Err(error) = result {
        eprintln!("cannot install the Ctrl-C handler: {error}");
    }
}

fn admin(data_dir: &std::path::Path, action: Admin, json: bool) -> anyhow::Result<()> {
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
        };
        storage.close().await;
        result
    })
}
