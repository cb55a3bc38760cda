//! `archipelago`: the windowed client.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use archipelago_client::identity::{default_identity_path, default_name, load_or_create};
use archipelago_client::render::governance::GovernanceWindow;
use archipelago_client::render::map::{AtlasState, AtlasTab};
use archipelago_client::render::parcels::plots::SelectedParcel;
use archipelago_client::render::screenshot::{GovernanceShots, ScreenshotPlan};
use archipelago_client::render::tours::TourOnArrival;
use archipelago_client::tours::Tours;
use archipelago_client::transport::parse_server;
use archipelago_client::{ClientConfig, add_client_plugins, render};
use archipelago_shared::identity::validate_name;
use archipelago_shared::protocol::{DEFAULT_PORT, DEFAULT_TICK_HZ, log_filter};
use archipelago_shared::tours::load_tours_dir;
use archipelago_shared::world::load_world_dir;
use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy::window::WindowResolution;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "archipelago", version, about = "The Archipelago client")]
struct Cli {
    /// Server: ADDRESS:PORT (IPv4) or NAME:PORT. Default: a server on this machine.
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)).to_string())]
    server: String,
    /// Your display name (remembered for next time).
    #[arg(long)]
    name: Option<String>,
    /// SHA-256 digest of the server's certificate, plain hex, as the server prints it.
    /// Default: for a server given by address, read from DATA_DIR/cert-digest.txt, where a
    /// local server writes it; for one given by name, none: certificate authorities vouch
    /// for its certificate instead.
    #[arg(long)]
    cert_digest: Option<String>,
    /// Also trust the certificate authorities in this PEM file (for a server whose
    /// certificate a private authority issued).
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// The local server's data directory, to find its certificate digest.
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// Your key file (made on first run). Default: in your config directory.
    #[arg(long)]
    identity: Option<PathBuf>,
    /// World data folder (the same the server uses).
    #[arg(long, default_value = "assets/world")]
    world: PathBuf,
    /// Simulation ticks per second (must match the server's).
    #[arg(long, default_value_t = DEFAULT_TICK_HZ)]
    tick_hz: u32,
    /// Save a PNG here once the world is loaded and drawn, then exit.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// With --screenshot: wait until this many other avatars are in view.
    #[arg(long, default_value_t = 0)]
    screenshot_min_avatars: usize,
    /// With --screenshot: then open this parcel's panel and save a second PNG (ID PATH).
    #[arg(long, num_args = 2, value_names = ["ID", "PATH"])]
    screenshot_parcel: Option<Vec<String>>,
    /// With --screenshot: then open the look editor and save a PNG here.
    #[arg(long, value_name = "PATH")]
    screenshot_editor: Option<PathBuf>,
    /// With --screenshot-session: then look at the hall from the plaza, where the tags of
    /// the people inside are hidden by its wall, and save a PNG here.
    #[arg(long, value_name = "PATH")]
    screenshot_hidden: Option<PathBuf>,
    /// With --screenshot: then face this protocity's tally board and save BOARD, then open
    /// its ballot kiosk and save WINDOW (PROTOCITY BOARD WINDOW).
    #[arg(long, num_args = 3, value_names = ["PROTOCITY", "BOARD", "WINDOW"])]
    screenshot_governance: Option<Vec<String>>,
    /// With --screenshot: then step into this protocity's town hall and, once its session
    /// has a speaker and raised hands, save a PNG (PROTOCITY PATH).
    #[arg(long, num_args = 2, value_names = ["PROTOCITY", "PATH"])]
    screenshot_session: Option<Vec<String>>,
    /// With --screenshot: then look down the capital's embassy row and save ROW, then open
    /// the recognition window and save WINDOW.
    #[arg(long, num_args = 2, value_names = ["ROW", "WINDOW"])]
    screenshot_recognition: Option<Vec<PathBuf>>,
    /// Measure the cost of drawing N people as bodies against capsules, without a server,
    /// and write the frame rates to PATH as JSON (N PATH); see BENCHMARKS.md.
    #[arg(long, num_args = 2, value_names = ["N", "PATH"])]
    bench_bodies: Option<Vec<String>>,
    /// Tour files folder.
    #[arg(long, default_value = "assets/tours")]
    tours: PathBuf,
    /// Open this parcel's panel on arrival.
    #[arg(long)]
    parcel: Option<String>,
    /// Start this guided tour on arrival (a tour id, e.g. `archipelago`).
    #[arg(long)]
    tour: Option<String>,
    /// Open the governance window on arrival, on this proposal if given.
    #[arg(long, num_args = 0..=1, default_missing_value = "0")]
    governance: Option<u64>,
    /// Open the live events calendar on arrival.
    #[arg(long)]
    events: bool,
    /// Open the recognition and census window on arrival.
    #[arg(long)]
    recognition: bool,
    /// Open the atlas on arrival, on a page: ocean, island (default), earth or search.
    #[arg(long, num_args = 0..=1, default_missing_value = "island", value_parser = ["ocean", "island", "earth", "search"])]
    atlas: Option<String>,
}

/// The name to use: the flag (saved for next time), else the saved one, else the login name.
fn resolve_name(flag: Option<&str>, identity: &Path) -> anyhow::Result<String> {
    let file = identity.with_file_name("name.txt");
    if let Some(name) = flag {
        let name = validate_name(name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
        if let Err(e) = std::fs::write(&file, &name) {
            eprintln!("cannot remember the name in {}: {e}", file.display());
        }
        return Ok(name);
    }
    Ok(std::fs::read_to_string(&file)
        .ok()
        .and_then(|n| validate_name(&n).ok())
        .unwrap_or_else(default_name))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let world = load_world_dir(&cli.world).context("the world data is invalid")?;
    let identity_path = match cli.identity {
        Some(path) => path,
        None => default_identity_path()?,
    };
    let key = load_or_create(&identity_path)?;
    let name = resolve_name(cli.name.as_deref(), &identity_path)?;
    let (server, server_name) = parse_server(&cli.server).map_err(anyhow::Error::msg)?;
    // A local server's digest is in its data directory. Without any digest, certificate
    // authorities must vouch for the server; if none does, the connection fails with a
    // message on screen that says what to do.
    let by_authorities = server_name.is_some() || cli.ca_file.is_some();
    let digest_file = (cli.cert_digest.is_none() && !by_authorities)
        .then(|| cli.data_dir.join("cert-digest.txt"));
    let cert_digest = cli
        .cert_digest
        .or_else(|| {
            digest_file
                .as_ref()
                .and_then(|file| std::fs::read_to_string(file).ok())
        })
        .map(|d| d.trim().to_owned())
        .unwrap_or_default();
    let mut config = ClientConfig::new(server, cert_digest, name, key);
    config.server_name = server_name;
    config.digest_file = digest_file;
    if let Some(path) = &cli.ca_file {
        config.trust_ca_file(path).map_err(anyhow::Error::msg)?;
    }
    config.tick_hz = cli.tick_hz;

    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title: format!("Archipelago — {}", world.nation.name),
                    resolution: WindowResolution::new(1280, 720),
                    ..default()
                }),
                // Closing the window first says goodbye to the server (render::Quit).
                close_when_requested: false,
                ..default()
            })
            .set(LogPlugin {
                filter: log_filter(&LogPlugin::default().filter),
                ..default()
            }),
    );
    // A broken tour file should not keep anyone out of the world: the tours window says
    // what is wrong instead.
    let tours = match load_tours_dir(&cli.tours, &world) {
        Ok(tours) => Tours {
            tours,
            problem: None,
        },
        Err(e) => {
            eprintln!("the tours are unavailable: {e}");
            Tours {
                tours: Vec::new(),
                problem: Some(e.to_string()),
            }
        }
    };
    if let Some(id) = &cli.parcel
        && world.parcel(id).is_none()
    {
        anyhow::bail!(
            "--parcel: there is no parcel `{id}` in {}",
            cli.world.display()
        );
    }
    let world_ids: Vec<String> = world.protocities.iter().map(|p| p.id.clone()).collect();
    add_client_plugins(&mut app, config, world);
    app.add_plugins(render::plugin);
    app.insert_resource(tours);
    if cli.parcel.is_some() {
        app.insert_resource(SelectedParcel(cli.parcel));
    }
    if let Some(tour) = cli.tour {
        app.insert_resource(TourOnArrival(tour));
    }
    if let Some(page) = cli.atlas {
        let mut atlas = app.world_mut().resource_mut::<AtlasState>();
        atlas.open = true;
        atlas.tab = match page.as_str() {
            "ocean" => AtlasTab::Ocean,
            "earth" => AtlasTab::World,
            "search" => AtlasTab::Search,
            _ => AtlasTab::Island,
        };
    }
    if cli.events {
        app.world_mut()
            .resource_mut::<archipelago_client::render::events::EventsWindow>()
            .open = true;
    }
    if cli.recognition {
        app.world_mut()
            .resource_mut::<archipelago_client::render::recognition::RecognitionWindow>()
            .open = true;
    }
    if let Some(id) = cli.governance {
        let mut window = app.world_mut().resource_mut::<GovernanceWindow>();
        window.open = true;
        window.selected = (id != 0).then_some(id);
    }
    if let Some([count, path]) = cli.bench_bodies.as_deref() {
        let count: usize = count
            .parse()
            .map_err(|e| anyhow::anyhow!("--bench-bodies: `{count}` is not a count: {e}"))?;
        app.insert_resource(archipelago_client::render::avatars::bench::BodyBench::new(
            count,
            PathBuf::from(path),
        ));
    }
    if let Some(path) = cli.screenshot {
        let parcel = match cli.screenshot_parcel.as_deref() {
            Some([id, path]) => Some((id.clone(), PathBuf::from(path))),
            _ => None,
        };
        app.insert_resource(ScreenshotPlan {
            path,
            min_others: cli.screenshot_min_avatars,
            editor: cli.screenshot_editor,
            hidden: cli.screenshot_hidden,
            parcel,
            governance: match cli.screenshot_governance.as_deref() {
                Some([protocity, board, window]) => {
                    if world_ids.iter().all(|id| id != protocity) {
                        anyhow::bail!(
                            "--screenshot-governance: there is no protocity `{protocity}`"
                        );
                    }
                    Some(GovernanceShots {
                        protocity: protocity.clone(),
                        board: PathBuf::from(board),
                        window: PathBuf::from(window),
                    })
                }
                _ => None,
            },
            session: match cli.screenshot_session.as_deref() {
                Some([protocity, path]) => {
                    if world_ids.iter().all(|id| id != protocity) {
                        anyhow::bail!("--screenshot-session: there is no protocity `{protocity}`");
                    }
                    Some((protocity.clone(), PathBuf::from(path)))
                }
                _ => None,
            },
            recognition: match cli.screenshot_recognition.as_deref() {
                Some([row, window]) => Some((row.clone(), window.clone())),
                _ => None,
            },
        });
    }
    match app.run() {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => anyhow::bail!("the client stopped with error code {code}"),
    }
}
