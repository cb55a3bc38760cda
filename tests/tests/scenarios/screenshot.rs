//! The real client binary, under Xvfb with Mesa's software Vulkan (lavapipe), connected to a
//! real server with a few bots, saves a PNG once the world is loaded and drawn. The picture
//! must show the world: the ocean, an island, and other avatars in view. Then it opens a
//! parcel's panel over the world, waits for the parcel's history, and saves a second PNG.
//!
//! Last it stands in the capital's town hall, where three proposals are up and the bots are
//! voting, saves the tally board, opens the ballot kiosk, and saves the proposal window.
//!
//! Then it looks down the capital's embassy row (one plaque per recognizer, one of them
//! recorded by a founder while the client was running) and opens the recognition window with
//! its charts.
//!
//! The PNGs are kept at `target/screenshots/world.png`, `parcel.png`, `board.png`,
//! `proposal.png`, `session.png`, `embassy.png` and `recognition.png` for people to look at.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use archipelago_client::bots::{SwarmConfig, Voting, bot_key, bot_name, run_swarm};
use archipelago_client::chat::SendChat;
use archipelago_client::identity::ephemeral;
use archipelago_client::recognition::SendRecognition;
use archipelago_server::storage::Storage;
use archipelago_shared::assembly::{AgendaItem, AssemblyRequest};
use archipelago_shared::avatars::{AvatarRequest, Gesture};
use archipelago_shared::chat::ChatTo;
use archipelago_shared::governance::tally::VoteType;
use archipelago_shared::governance::{Eligibility, ProposalDraft, ProposalId, Scope};
use archipelago_shared::parcels::Actor;
use archipelago_shared::protocol::{Role, ToServer};
use archipelago_shared::recognition::{
    RecognitionRequest, RecognizerKind, Relation, RelationChange,
};
use archipelago_tests::{
    TestClient, TestServer, enter_hall, enter_world, wait_until, walk_together, world,
};

/// Three proposals, as founders would write them from the CLI: one open with a live count
/// (the bots vote on it), one open with the count hidden, one closed. Returns the first id.
fn propose(server: &TestServer, bots: usize) -> ProposalId {
    let draft = |title: &str, vote_type: VoteType, options: &[&str], live: bool| ProposalDraft {
        title: title.into(),
        body: "Proposed at the autumn assembly. The survey is in the library.".into(),
        scope: Scope::Nation,
        eligibility: Eligibility::AtLeast(Role::Member),
        vote_type,
        options: options.iter().map(|o| (*o).to_owned()).collect(),
        opens_at: None,
        voting_secs: 3 * 3600,
        quorum: 3,
        threshold_percent: 50,
        live_tally: live,
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let storage = Storage::open(&server.data_dir).await.expect("opens");
        let admin = Actor::admin();
        let ids: Vec<String> = world().protocities.iter().map(|p| p.id.clone()).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let closed = storage
            .create_proposal(
                &admin,
                &draft("Adopt the open data charter", VoteType::YesNo, &[], true),
                &ids,
            )
            .await
            .expect("created");
        storage
            .open_proposal(&admin, closed.id)
            .await
            .expect("opened");
        storage
            .close_proposal(&admin, closed.id)
            .await
            .expect("closed");
        let live = storage
            .create_proposal(
                &admin,
                &draft(
                    "Where should the second harbour go?",
                    VoteType::SingleChoice,
                    &["North cove", "Lagoon", "Old pier"],
                    true,
                ),
                &ids,
            )
            .await
            .expect("created");
        storage
            .open_proposal(&admin, live.id)
            .await
            .expect("opened");
        let hidden = storage
            .create_proposal(
                &admin,
                &draft("Ratify the treaty with Palau", VoteType::YesNo, &[], false),
                &ids,
            )
            .await
            .expect("created");
        storage
            .open_proposal(&admin, hidden.id)
            .await
            .expect("opened");
        let roll: Vec<(String, String)> = (0..bots)
            .map(|i| {
                let key = bot_key(3, i).verifying_key();
                (
                    archipelago_shared::identity::to_hex(key.as_bytes()),
                    bot_name(i, &key),
                )
            })
            .collect();
        storage
            .enroll(&roll, Role::Member, "test")
            .await
            .expect("the bots are members");
        storage.close().await;
        live.id
    })
}

/// Four people hold a session in the capital's town hall for the photographer to walk into:
/// Ada chairs from before the stage, Bo has the floor beside her, Cy and Fay wait with raised
/// hands in the aisle, and someone says something every few seconds.
fn hold_session(
    server: &TestServer,
    agenda_proposal: ProposalId,
    recognize_after: PathBuf,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let people: Vec<_> = [
        ("Fay", Role::Founder),
        ("Ada", Role::Member),
        ("Bo", Role::Member),
        ("Cy", Role::Member),
        ("Dee", Role::Member),
        ("Eli", Role::Member),
    ]
    .into_iter()
    .map(|(name, role)| {
        let key = ephemeral();
        server.register(&key, name, role);
        server.client_config(name, key)
    })
    .collect();
    std::thread::spawn(move || {
        let world = world();
        let capital = world.capital().clone();
        let mut clients: Vec<TestClient> = people.into_iter().map(TestClient::new).collect();
        for client in &mut clients {
            enter_world(client);
        }
        let [fay, ada, bo, cy, dee, eli] = &mut clients[..] else {
            unreachable!("six people");
        };
        enter_hall(&mut [fay, ada, bo, cy, dee, eli], &capital.id);
        let hall = &capital.island.town_hall;
        let front = hall.stage_front();
        let down = (hall.door_inside() - front).normalize();
        let across = bevy::math::Vec2::new(-down.y, down.x);
        let spot = |along: f32, side: f32| {
            capital
                .island
                .to_world(front + down * along + across * side, 0.0)
        };
        let placed = walk_together(
            &mut [fay, ada, bo, cy, dee, eli],
            &[
                spot(7.0, 0.0),
                spot(1.0, -2.0),
                spot(1.0, 1.5),
                spot(5.0, 0.0),
                spot(4.0, -3.0),
                spot(4.0, 3.0),
            ],
            Duration::from_secs(30),
        );
        assert!(placed, "the session's people take their places");
        let opened = fay.ask(AssemblyRequest::Open {
            protocity: capital.id.clone(),
            title: "Autumn assembly".into(),
            agenda: vec![
                AgendaItem {
                    title: "Welcome and last minutes".into(),
                    proposal: None,
                },
                AgendaItem {
                    title: "Where should the second harbour go?".into(),
                    proposal: Some(agenda_proposal),
                },
                AgendaItem {
                    title: "Any other business".into(),
                    proposal: None,
                },
            ],
            chair: Some(ada.key_hex()),
            capacity: None,
        });
        assert!(opened.is_ok(), "the session opens: {opened:?}");
        for client in [&mut *bo, &mut *cy, &mut *fay] {
            let raised = client.ask(AssemblyRequest::RaiseHand);
            assert!(raised.is_ok(), "{raised:?}");
        }
        let moved = ada.ask(AssemblyRequest::Agenda {
            protocity: capital.id.clone(),
            item: 1,
        });
        assert!(moved.is_ok(), "{moved:?}");
        let given = ada.ask(AssemblyRequest::GiveFloor {
            protocity: capital.id.clone(),
            to: None,
            seconds: 600,
        });
        assert!(given.is_ok(), "{given:?}");
        // Speakers by their place in `clients`: Fay, Ada, Bo, Cy.
        let lines = [
            (
                2,
                "The lagoon site floods every spring; I have the survey here.",
            ),
            (1, "Thank you, Bo. Cy is next, then Fay."),
            (0, "Could we see the costs side by side?"),
            (3, "The old pier needs the least dredging."),
        ];
        // Bo speaks on the floor the whole time: the photographer hears him.
        let scratch = tempfile::tempdir().expect("a scratch folder");
        let speech = archipelago_tests::voice::speech(
            "The lagoon site floods every spring. I have the survey here, and the costs.",
            scratch.path(),
        );
        let mut said = 0;
        let mut last = std::time::Instant::now();
        // Ada, Dee and Eli applaud Bo, a clap every 2.5 s each (a clap lasts 3 s).
        let mut clapped: Option<std::time::Instant> = None;
        let mut asked: Option<std::time::Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            if !clients[2]
                .app
                .world()
                .resource::<archipelago_client::voice::Mouth>()
                .is_talking()
            {
                clients[2].speak(&speech);
            }
            // Once the photographer has taken the first picture, Fay records a new
            // recognition: its plaque must join the embassy row in the running client (the
            // embassy shot comes minutes later).
            // Asked again every 5 s until Fay's own row shows it, saying why if refused.
            let in_row = clients[0].embassy_row().iter().any(|r| r == "Estonia");
            if !in_row
                && recognize_after.exists()
                && asked.is_none_or(|at| at.elapsed() > Duration::from_secs(5))
            {
                if asked.is_some() {
                    let book = clients[0]
                        .app
                        .world()
                        .resource::<archipelago_client::recognition::StandingBook>();
                    eprintln!(
                        "Estonia not in the row yet; asking again (last answer {:?}, {:?})",
                        book.answers.last(),
                        clients[0].state()
                    );
                }
                clients[0].app.world_mut().write_message(SendRecognition(
                    RecognitionRequest::Relation(RelationChange {
                        recognizer: "Estonia".into(),
                        kind: RecognizerKind::State,
                        relation: Relation::Memorandum,
                        at: archipelago_shared::clock::unix_seconds() - 60,
                        source: "Memorandum on e-residency, Tallinn".into(),
                        recorded_by: String::new(),
                    }),
                ));
                asked = Some(std::time::Instant::now());
            }
            if clapped.is_none_or(|at| at.elapsed() > Duration::from_millis(2500)) {
                for who in [1, 4, 5] {
                    clients[who].request(ToServer::Avatar(AvatarRequest::Gesture(Gesture::Clap)));
                }
                clapped = Some(std::time::Instant::now());
            }
            if last.elapsed() > Duration::from_secs(4) {
                let (who, text) = lines[said % lines.len()];
                clients[who].app.world_mut().write_message(SendChat {
                    to: ChatTo::Place,
                    text: text.to_owned(),
                });
                said += 1;
                last = std::time::Instant::now();
            }
            let mut everyone: Vec<&mut TestClient> = clients.iter_mut().collect();
            wait_until(&mut everyone, Duration::from_millis(100), |_| false);
        }
    })
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn client_binary() -> PathBuf {
    let path = std::env::var_os("ARCHIPELAGO_CLIENT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/debug/archipelago"));
    assert!(
        path.exists(),
        "the client binary {} is missing: build it with `make client` (make test does)",
        path.display()
    );
    path
}

/// Pixel counts by kind of colour.
#[derive(Debug, Default)]
struct Palette {
    total: usize,
    ocean: usize,
    grass: usize,
    sand: usize,
    /// egui's dark window fill.
    panel: usize,
    distinct: usize,
}

fn palette_of(png_path: &Path) -> Palette {
    let file = std::fs::File::open(png_path).expect("the PNG exists");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a valid PNG");
    let mut buffer = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buffer).expect("PNG pixels");
    let channels = info.color_type.samples();
    let mut palette = Palette::default();
    let mut colours = std::collections::HashSet::new();
    for px in buffer[..info.buffer_size()].chunks(channels) {
        let (r, g, b) = (i32::from(px[0]), i32::from(px[1]), i32::from(px[2]));
        palette.total += 1;
        colours.insert((r / 8, g / 8, b / 8));
        if b > r + 40 && b >= g - 10 && b > 60 && g < 200 {
            palette.ocean += 1;
        } else if g > r + 12 && g > b + 8 {
            palette.grass += 1;
        } else if r > 120 && r > b + 35 && g > b + 15 && r >= g {
            palette.sand += 1;
        } else if (20..=40).contains(&r) && (r - g).abs() <= 3 && (r - b).abs() <= 3 {
            palette.panel += 1;
        }
    }
    palette.distinct = colours.len();
    palette
}

#[test]
fn the_client_draws_the_world_with_other_avatars_in_view() {
    let binary = client_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(dir.path());
    let out_dir = workspace().join("target/screenshots");
    std::fs::create_dir_all(&out_dir).expect("screenshot folder");
    let png_path = out_dir.join("world.png");
    let parcel_png = out_dir.join("parcel.png");
    let board_png = out_dir.join("board.png");
    let proposal_png = out_dir.join("proposal.png");
    let session_png = out_dir.join("session.png");
    let editor_png = out_dir.join("editor.png");
    let hidden_png = out_dir.join("hidden-tags.png");
    let embassy_png = out_dir.join("embassy.png");
    let recognition_png = out_dir.join("recognition.png");
    for path in [
        &png_path,
        &parcel_png,
        &board_png,
        &proposal_png,
        &session_png,
        &editor_png,
        &hidden_png,
        &embassy_png,
        &recognition_png,
    ] {
        let _ = std::fs::remove_file(path);
    }
    // The photographer is a founder, so the panel shows everything, controls included.
    let key = ephemeral();
    let key_file = dir.path().join("identity.key");
    std::fs::write(
        &key_file,
        archipelago_shared::identity::to_hex(&key.to_bytes()),
    )
    .expect("key file");
    server.register(&key, "Photographer", Role::Founder);

    let stop = Arc::new(AtomicBool::new(false));
    let swarm = SwarmConfig {
        seed: 3,
        voting: Some(Voting {
            proposal: propose(&server, 4),
            every: Duration::from_secs(4),
        }),
        stable_keys: true,
        stop: stop.clone(),
        ..SwarmConfig::gathering(
            server.client_config("", ephemeral()),
            4,
            Duration::from_secs(780),
        )
    };
    let live = swarm
        .voting
        .as_ref()
        .map(|v| v.proposal)
        .expect("a live proposal");
    let bots = std::thread::spawn(move || run_swarm(&swarm, &world()));
    // A crowd in the plaza: light bots, each with a look of its own, now and then waving.
    let crowd = SwarmConfig {
        seed: 11,
        stop: stop.clone(),
        light: true,
        ..SwarmConfig::gathering(
            server.client_config("", ephemeral()),
            20,
            Duration::from_secs(780),
        )
    };
    let crowd = std::thread::spawn(move || run_swarm(&crowd, &world()));
    let session = hold_session(&server, live, png_path.clone(), stop.clone());

    let runtime_dir = dir.path().join("xdg");
    std::fs::create_dir_all(&runtime_dir).expect("runtime dir");
    let output = Command::new("timeout")
        .args(["720", "xvfb-run", "-a", "-s", "-screen 0 1280x720x24"])
        .arg(&binary)
        .args([
            "--server",
            &server.addr.to_string(),
            "--cert-digest",
            &server.digest,
        ])
        .args(["--name", "Photographer", "--identity"])
        .arg(&key_file)
        .arg("--world")
        .arg(workspace().join("assets/world"))
        .arg("--screenshot")
        .arg(&png_path)
        .args(["--screenshot-min-avatars", "8"])
        .arg("--screenshot-editor")
        .arg(&editor_png)
        .args(["--screenshot-parcel", "lis-03"])
        .arg(&parcel_png)
        .args(["--screenshot-governance", &world().nation.capital])
        .arg(&board_png)
        .arg(&proposal_png)
        .args(["--screenshot-session", &world().nation.capital])
        .arg(&session_png)
        .arg("--screenshot-hidden")
        .arg(&hidden_png)
        .arg("--screenshot-recognition")
        .arg(&embassy_png)
        .arg(&recognition_png)
        .env("WGPU_BACKEND", "vulkan")
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        // Mid-afternoon wherever the camera is, so the colours checked are the day's.
        .env("ARCHIPELAGO_SOLAR_HOUR", "15")
        .output()
        .expect("xvfb-run and the client start (make test installs xvfb)");
    stop.store(true, Ordering::Relaxed);
    let report = bots.join().expect("bots ran");
    let crowd = crowd.join().expect("the crowd ran");
    session.join().expect("the session was held");
    let log = String::from_utf8_lossy(&output.stderr);
    let tail: String = log
        .lines()
        .rev()
        .take(40)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    // The whole log stays beside the pictures for whoever investigates a failure.
    let _ = std::fs::write(out_dir.join("client.log"), log.as_bytes());
    assert!(
        output.status.success(),
        "the client exits cleanly; status {:?}, log:\n{tail}",
        output.status
    );
    assert!(
        png_path.exists(),
        "the client saved {}; log:\n{tail}",
        png_path.display()
    );
    assert_eq!(
        report.connected, 4,
        "the bots were in the world: {:?}",
        report.errors
    );

    let sidecar: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(png_path.with_extension("json"))
            .expect("the client wrote what it saw"),
    )
    .expect("valid JSON");
    assert_eq!(
        sidecar["timed_out"], false,
        "the world was ready before the deadline: {sidecar}; client log:\n{tail}"
    );
    assert!(
        sidecar["others_in_view"].as_u64().unwrap_or(0) >= 8,
        "a crowd in view: {sidecar}"
    );
    assert!(
        sidecar["looks_in_view"].as_u64().unwrap_or(0) >= 6,
        "people who look different: {sidecar}"
    );
    assert!(
        sidecar["gesturing_in_view"].as_u64().unwrap_or(0) >= 1,
        "someone in the crowd gestures: {sidecar}"
    );
    assert_eq!(crowd.connected, 20, "the crowd came: {:?}", crowd.errors);

    // The look editor, open over one's own avatar.
    let sidecar: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(editor_png.with_extension("json"))
            .expect("the client wrote what the editor shot showed"),
    )
    .expect("valid JSON");
    assert_eq!(
        sidecar["timed_out"], false,
        "{sidecar}; client log:\n{tail}"
    );
    assert_eq!(sidecar["editor_open"], true, "{sidecar}");
    let editor = palette_of(&editor_png);
    println!("{editor:?}");
    assert!(
        editor.panel as f64 / editor.total as f64 > 0.05,
        "the editor covers part of the screen: {editor:?}"
    );

    let palette = palette_of(&png_path);
    let share = |n: usize| n as f64 / palette.total as f64;
    println!("{palette:?}");
    assert!(palette.distinct > 200, "not one flat colour: {palette:?}");
    assert!(
        share(palette.ocean) > 0.01,
        "ocean blue is present: {palette:?}"
    );
    assert!(
        share(palette.grass) > 0.03,
        "island green is present: {palette:?}"
    );

    let sidecar: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(parcel_png.with_extension("json"))
            .expect("the client wrote what the parcel shot showed"),
    )
    .expect("valid JSON");
    assert_eq!(
        sidecar["timed_out"], false,
        "the panel was ready: {sidecar}; client log:\n{tail}"
    );
    assert_eq!(sidecar["parcel"], "lis-03", "{sidecar}");
    assert!(
        sidecar["history_entries"].as_u64().unwrap_or(0) >= 1,
        "the panel shows the parcel's history: {sidecar}"
    );
    let with_panel = palette_of(&parcel_png);
    println!("{with_panel:?}");
    assert!(
        with_panel.panel as f64 / with_panel.total as f64 > 0.04,
        "a panel covers part of the screen: {with_panel:?}"
    );
    assert!(
        with_panel.grass as f64 / with_panel.total as f64 > 0.02,
        "the world shows around the panel: {with_panel:?}"
    );

    // The tally board in the capital's hall shows the proposals.
    let sidecar: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(board_png.with_extension("json"))
            .expect("the client wrote what the board shot showed"),
    )
    .expect("valid JSON");
    assert_eq!(
        sidecar["timed_out"], false,
        "the board was drawn: {sidecar}; client log:\n{tail}"
    );
    assert_eq!(
        sidecar["board_rows"], 3,
        "three proposals on the board: {sidecar}"
    );
    let board = palette_of(&board_png);
    println!("{board:?}");
    assert!(board.distinct > 200, "the hall is drawn: {board:?}");
    assert!(report.ballots_acked >= 1, "the bots voted: {report:?}");

    // The proposal window, opened at the kiosk, shows the live count.
    let sidecar: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(proposal_png.with_extension("json"))
            .expect("the client wrote what the window shot showed"),
    )
    .expect("valid JSON");
    assert_eq!(
        sidecar["timed_out"], false,
        "the window was ready: {sidecar}; client log:\n{tail}"
    );
    assert!(
        sidecar["proposal"].is_u64(),
        "a proposal is shown: {sidecar}"
    );
    assert_eq!(sidecar["count_shown"], true, "with its count: {sidecar}");
    let window = palette_of(&proposal_png);
    println!("{window:?}");
    assert!(
        window.panel as f64 / window.total as f64 > 0.05,
        "the window covers part of the screen: {window:?}"
    );

    // The session in progress: a speaker on the floor, hands raised, the panel and chat.
    let sidecar: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(session_png.with_extension("json"))
            .expect("the client wrote what the session shot showed"),
    )
    .expect("valid JSON");
    assert_eq!(
        sidecar["timed_out"], false,
        "the session was received: {sidecar}; client log:\n{tail}"
    );
    assert_eq!(sidecar["speaker"], "Bo", "Bo has the floor: {sidecar}");
    assert_eq!(sidecar["queue"], 2, "two hands are raised: {sidecar}");
    assert_eq!(
        sidecar["talking"],
        serde_json::json!(["Bo"]),
        "Bo is heard speaking, and his name tag says so: {sidecar}"
    );
    assert_eq!(
        sidecar["voice_window"], true,
        "the voice window is open: {sidecar}"
    );
    assert!(
        sidecar["clapping"].as_u64().unwrap_or(0) >= 3,
        "the hall applauds: {sidecar}"
    );
    let session = palette_of(&session_png);
    println!("{session:?}");
    assert!(
        session.panel as f64 / session.total as f64 > 0.05,
        "the session panel and the chat cover part of the screen: {session:?}"
    );

    // From the plaza, the tags of the people inside the hall are hidden by its wall.
    let sidecar: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(hidden_png.with_extension("json"))
            .expect("the client wrote what the hidden-tags shot showed"),
    )
    .expect("valid JSON");
    assert_eq!(
        sidecar["timed_out"], false,
        "{sidecar}; client log:\n{tail}"
    );
    assert!(
        sidecar["tags_hidden"].as_u64().unwrap_or(0) >= 3,
        "the attendees' tags are hidden behind the wall: {sidecar}"
    );

    // The capital's embassy row: one plaque per recognizer, all standing.
    let sidecar: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(embassy_png.with_extension("json"))
            .expect("the client wrote what the embassy shot showed"),
    )
    .expect("valid JSON");
    assert_eq!(
        sidecar["timed_out"], false,
        "the row was built: {sidecar}; client log:\n{tail}"
    );
    let recognizers = world().seed_standing().recognizers().len() as u64 + 1;
    assert_eq!(
        sidecar["plaques"], recognizers,
        "one plaque per recognizer, Estonia's recorded live included: {sidecar}"
    );
    let row = palette_of(&embassy_png);
    println!("{row:?}");
    assert!(row.distinct > 200, "the avenue is drawn: {row:?}");

    // The recognition window with its charts, over the row.
    let sidecar: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(recognition_png.with_extension("json"))
            .expect("the client wrote what the recognition shot showed"),
    )
    .expect("valid JSON");
    assert_eq!(
        sidecar["timed_out"], false,
        "the window was ready: {sidecar}; client log:\n{tail}"
    );
    assert_eq!(sidecar["window_open"], true, "{sidecar}");
    let window = palette_of(&recognition_png);
    println!("{window:?}");
    assert!(
        window.panel as f64 / window.total as f64 > 0.2,
        "the recognition window covers much of the screen: {window:?}"
    );
    server.stop();
}
