//! `--screenshot PATH`: once the world is loaded and drawn (connected, own avatar in place,
//! enough others in view, and frames rendered since), save a PNG of the window, write what
//! was in view beside it as JSON, and exit. With `--screenshot-parcel ID PATH` it then opens
//! that parcel's panel, waits for its history, and saves a second PNG. With
//! `--screenshot-governance PROTOCITY BOARD WINDOW` it then stands in that town hall facing
//! the tally board (once the board shows a proposal) and saves BOARD, then opens the hall's
//! ballot kiosk and saves WINDOW. With `--screenshot-session PROTOCITY PATH` it steps into
//! that town hall and, once its session has a speaker and raised hands, saves PATH. With
//! `--screenshot-recognition ROW WINDOW` it then looks down the capital's embassy row and
//! saves ROW, and opens the recognition window and saves WINDOW. Used by the screenshot test
//! and the README.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use archipelago_shared::protocol::{AvatarProfile, ToServer};
use archipelago_shared::world::World;
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured, save_to_disk};
use serde::Serialize;

use super::OrbitCamera;
use super::assembly::HallView;
use super::avatars::editor::LookEditor;
use super::avatars::tags::TagStats;
use super::chat::ChatWindow;
use super::governance::{GovernanceWindow, TallyBoard, open_at_kiosk};
use super::parcels::plots::SelectedParcel;
use super::recognition::{EmbassyPlaque, RecognitionWindow, WelcomeCard};
use super::scene::SceneReady;
use crate::avatars::Gesturing;
use crate::clock::ServerClock;
use crate::connection::{ConnectionState, Request, Session};
use crate::governance::Governance;
use crate::parcels::ParcelBook;
use crate::recognition::EmbassyRow;
use archipelago_shared::avatars::Look;

/// Frames to render after everything is in place, so shaders are compiled and shadows drawn
/// (lavapipe is slow).
const SETTLE_FRAMES: u32 = 90;
const SETTLE_TIME: Duration = Duration::from_secs(6);
/// Give up waiting for a shot after this long and capture whatever is there (the test then
/// fails on it). Counted for each shot from the previous capture (the first from the start,
/// so it includes loading the world and compiling shaders), so that a slow machine taking
/// several minutes in all does not leave the last shots without time.
const GIVE_UP: Duration = Duration::from_secs(240);
/// How long to wait for a request's effect before asking again.
const ASK_AGAIN: Duration = Duration::from_secs(5);

/// What to capture.
#[derive(Resource, Debug, Clone)]
pub struct ScreenshotPlan {
    pub path: PathBuf,
    /// Other avatars that must be in view first; from five on, one of them gesturing too.
    pub min_others: usize,
    /// Then open the look editor and capture it to this path.
    pub editor: Option<PathBuf>,
    /// After the session shot, look at the hall from the plaza and capture the attendees'
    /// tags hidden by its wall, to this path.
    pub hidden: Option<PathBuf>,
    /// Then open this parcel's panel and capture it to this path.
    pub parcel: Option<(String, PathBuf)>,
    /// Then face this protocity's tally board, and open its kiosk's window.
    pub governance: Option<GovernanceShots>,
    /// Then step into this protocity's town hall and, once its session has a speaker and a
    /// queue, capture it to this path.
    pub session: Option<(String, PathBuf)>,
    /// Then look down the capital's embassy row and capture it (first path), then open the
    /// recognition window and capture it (second path).
    pub recognition: Option<(PathBuf, PathBuf)>,
}

/// The town hall shots: the board, then the proposal window opened at the kiosk.
#[derive(Debug, Clone)]
pub struct GovernanceShots {
    pub protocity: String,
    pub board: PathBuf,
    pub window: PathBuf,
}

/// One picture to take.
#[derive(Debug, Clone, PartialEq)]
enum Shot {
    World,
    Editor,
    Hidden(String),
    Parcel(String),
    Board(String),
    Window(String),
    Session(String),
    Embassy,
    Recognition,
}

impl ScreenshotPlan {
    fn shots(&self) -> Vec<(Shot, PathBuf)> {
        let mut shots = vec![(Shot::World, self.path.clone())];
        if let Some(path) = &self.editor {
            shots.push((Shot::Editor, path.clone()));
        }
        if let Some((id, path)) = &self.parcel {
            shots.push((Shot::Parcel(id.clone()), path.clone()));
        }
        if let Some(g) = &self.governance {
            shots.push((Shot::Board(g.protocity.clone()), g.board.clone()));
            shots.push((Shot::Window(g.protocity.clone()), g.window.clone()));
        }
        if let Some((id, path)) = &self.session {
            shots.push((Shot::Session(id.clone()), path.clone()));
            if let Some(hidden) = &self.hidden {
                shots.push((Shot::Hidden(id.clone()), hidden.clone()));
            }
        }
        if let Some((row, window)) = &self.recognition {
            shots.push((Shot::Embassy, row.clone()));
            shots.push((Shot::Recognition, window.clone()));
        }
        shots
    }
}

/// Where the camera stands for a hall shot (instead of behind the avatar).
#[derive(Resource, Debug, Default)]
struct ShotCamera(Option<Transform>);

#[derive(Resource, Debug)]
struct Progress {
    /// When the shot being prepared began (the client's start for the first).
    started: Instant,
    /// Index of the shot being prepared in [`ScreenshotPlan::shots`].
    shot: usize,
    ready_since: Option<(Instant, u32)>,
    saved_frames: Option<u32>,
}

/// Written beside the PNG as `PATH.json`.
#[derive(Serialize)]
struct Sidecar {
    others_in_view: usize,
    others_total: usize,
    in_world: bool,
    /// Seconds this shot waited, counted from the previous capture (or the start).
    seconds_waited: f64,
    timed_out: bool,
    /// The parcel whose panel is open, and how many history lines it shows.
    parcel: Option<String>,
    history_entries: Option<usize>,
    /// For hall shots: the protocity, and how many proposals its board shows.
    hall: Option<String>,
    board_rows: Option<usize>,
    /// For the window shot: the proposal it shows, and whether its count is drawn.
    proposal: Option<u64>,
    count_shown: Option<bool>,
    /// For the session shot: who has the floor, and how many hands are raised.
    speaker: Option<String>,
    queue: Option<usize>,
    /// For the embassy and recognition shots: plaques standing, recognizers known, and
    /// whether the recognition window is open.
    plaques: Option<usize>,
    recognizers: Option<usize>,
    window_open: Option<bool>,
    /// The town hall the photographer's own avatar stands in, if any.
    inside: Option<String>,
    /// For the session shot: who is heard speaking, and whether the voice window is open.
    talking: Vec<String>,
    voice_window: bool,
    /// Of the others in view: how many different looks, and how many mid-gesture.
    looks_in_view: usize,
    gesturing_in_view: usize,
    /// People in the photographer's hall clapping now.
    clapping: usize,
    /// Name tags drawn, and hidden behind something, in the last frame.
    tags_drawn: usize,
    tags_hidden: usize,
    editor_open: bool,
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<ShotCamera>()
        .add_systems(Last, capture.run_if(resource_exists::<ScreenshotPlan>))
        .add_systems(
            PostUpdate,
            hold_camera
                .after(super::camera::CameraPlacement)
                .before(TransformSystems::Propagate),
        );
}

fn hold_camera(shot: Res<ShotCamera>, mut camera: Single<&mut Transform, With<Camera3d>>) {
    if let Some(transform) = shot.0 {
        **camera = transform;
    }
}

/// Inside the hall by the door, high up, looking down the aisle at the front of the stage:
/// the whole assembly in view.
fn session_view(world: &World, protocity: &str) -> Option<Transform> {
    let island = &world.protocity(protocity)?.island;
    let hall = &island.town_hall;
    let stand = island.to_world(hall.door_inside(), 3.4);
    let stage = island.to_world(hall.stage_front(), 1.0);
    Some(Transform::from_translation(stand).looking_at(stage, Vec3::Y))
}

/// Outside the hall on the plaza's side, off to one side of the door and below the walls'
/// top, looking at the hall: those inside are behind its front wall (a few may show through
/// the door), those on the plaza in front of it.
fn outside_view(world: &World, protocity: &str) -> Option<Transform> {
    let island = &world.protocity(protocity)?.island;
    let hall = &island.town_hall;
    let door = hall.door_direction();
    let across = Vec2::new(-door.y, door.x);
    let centre = island.to_world(hall.center, 2.0);
    let stand = island.to_world(hall.door_outside() + door * 13.0 + across * 7.0, 2.3);
    Some(Transform::from_translation(stand).looking_at(centre, Vec3::Y))
}

/// Inside the hall, halfway down the aisle and a little above head height, facing the board.
fn hall_view(world: &World, protocity: &str, board: Vec3) -> Option<Transform> {
    let protocity = world.protocity(protocity)?;
    let island = &protocity.island;
    let hall = &island.town_hall;
    let door = island.to_world(hall.door_outside(), 0.0);
    let back = island.to_world(hall.board_anchor().0, 0.0);
    let stand = door.lerp(back, 0.5) + Vec3::Y * 2.6;
    Some(Transform::from_translation(stand).looking_at(board - Vec3::Y * 0.4, Vec3::Y))
}

/// From across the avenue, a little before the embassy row and above head height, looking
/// along it: every plaque's face and flag in view.
fn embassy_view(row: &EmbassyRow) -> Option<Transform> {
    let first = row.plaques.first()?;
    let last = row.plaques.last()?.position;
    let facing = Vec3::new(first.yaw.sin(), 0.0, first.yaw.cos());
    let along = (last - first.position).with_y(0.0).normalize_or(Vec3::Z);
    let middle = first.position.lerp(last, 0.5) + Vec3::Y * 1.8;
    let stand = first.position + facing * 11.0 - along * 6.0 + Vec3::Y * 3.2;
    Some(Transform::from_translation(stand).looking_at(middle, Vec3::Y))
}

fn others_in_view(
    camera: &Camera,
    camera_transform: &GlobalTransform,
    avatars: &Query<(Entity, &GlobalTransform), With<AvatarProfile>>,
    own: Option<Entity>,
) -> (usize, usize) {
    let mut total = 0;
    let mut in_view = 0;
    for (entity, transform) in avatars {
        if Some(entity) == own {
            continue;
        }
        total += 1;
        let chest = transform.translation() + Vec3::Y;
        if let Some(ndc) = camera.world_to_ndc(camera_transform, chest)
            && ndc.x.abs() <= 1.0
            && ndc.y.abs() <= 1.0
            && (0.0..=1.0).contains(&ndc.z)
        {
            in_view += 1;
        }
    }
    (in_view, total)
}

#[expect(
    clippy::too_many_arguments,
    reason = "a Bevy system: each argument is a resource it reads or writes"
)]
fn capture(
    mut commands: Commands,
    plan: Res<ScreenshotPlan>,
    mut progress: Local<Option<Progress>>,
    state: Res<ConnectionState>,
    session: Res<Session>,
    scene: Option<Res<SceneReady>>,
    camera: Single<(&Camera, &GlobalTransform), With<Camera3d>>,
    avatars: Query<(Entity, &GlobalTransform), With<AvatarProfile>>,
    book: Res<ParcelBook>,
    mut selected: ResMut<SelectedParcel>,
    mut orbit: ResMut<OrbitCamera>,
    world: Res<World>,
    mut hall: HallState,
    mut exit: MessageWriter<AppExit>,
) {
    let progress = progress.get_or_insert_with(|| Progress {
        started: Instant::now(),
        shot: 0,
        ready_since: None,
        saved_frames: None,
    });
    let shots = plan.shots();
    let Some((shot, path)) = shots.get(progress.shot) else {
        exit.write(AppExit::Success);
        return;
    };
    let parcel = match shot {
        Shot::Parcel(id) => Some(id),
        _ => None,
    };
    if let Some(frames) = &mut progress.saved_frames {
        *frames += 1;
        // The capture is written asynchronously; give it a few frames, then move on.
        if *frames > 10 && path.exists() {
            progress.saved_frames = None;
            progress.ready_since = None;
            progress.shot += 1;
            progress.started = Instant::now();
        }
        return;
    }
    if let Some(id) = parcel
        && selected.0.as_ref() != Some(id)
    {
        selected.0 = Some(id.clone());
        // Frame the parcel: the camera rises behind the avatar, looking towards the plot.
        if let Some((protocity, plot)) = world.parcel(id) {
            let plot = protocity.island.position + plot.center();
            let from = Vec2::new(orbit.target.x, orbit.target.z);
            let away = (from - plot).normalize_or(Vec2::Y);
            orbit.yaw = away.x.atan2(away.y);
            orbit.pitch = 0.5;
            orbit.distance = 55.0;
        }
    }
    let (camera, camera_transform) = *camera;
    let (in_view, total) = others_in_view(camera, camera_transform, &avatars, session.own_avatar);
    let in_world = *state == ConnectionState::InWorld && session.own_avatar.is_some();
    let now = hall.time.elapsed_secs_f64();
    let (looks_in_view, gesturing_in_view) =
        hall.crowd_in_view(camera, camera_transform, session.own_avatar, now);
    let clapping = hall.clapping(&world, now);
    hall.editor.open = *shot == Shot::Editor;
    if *shot == Shot::World {
        // The crowd, not the welcome card (which has a picture of its own).
        hall.card.closed = true;
    }
    let editor_open = hall.editor.open && session.own_avatar.is_some();
    if let Shot::Hidden(id) = shot {
        hall.camera.0 = outside_view(&world, id);
    }
    let tags = *hall.tags;
    let history_entries = parcel.and_then(|id| book.history.get(id)).map(Vec::len);
    let panel_ready = parcel.is_none() || history_entries.is_some();
    let (hall_id, board_rows, proposal, count_shown, hall_ready) =
        hall.prepare(shot, &world, &mut selected);
    let (speaker, queue) = match shot {
        Shot::Session(_) => (
            hall.view
                .session
                .as_ref()
                .and_then(|s| s.floor.as_ref())
                .map(|f| f.speaker.name.clone()),
            hall.view.session.as_ref().map(|s| s.queue.len()),
        ),
        _ => (None, None),
    };
    // Others must be in view for the world shot only: they walk, and the count flickers. A
    // crowd's picture waits for someone in it to gesture.
    let enough_others = progress.shot > 0
        || (in_view >= plan.min_others && (plan.min_others < 5 || gesturing_in_view >= 1));
    let shot_ready = match shot {
        Shot::Editor => editor_open,
        Shot::Session(_) => clapping >= 3,
        Shot::Hidden(_) => tags.hidden >= 3 && hall.view.hall.is_some(),
        _ => true,
    };
    let (plaques, recognizers, window_open, standing_ready) = hall.standing(shot, &world);
    let ready = in_world
        && scene.is_some()
        && enough_others
        && panel_ready
        && hall_ready
        && standing_ready
        && shot_ready;
    let timed_out = progress.started.elapsed() > GIVE_UP;
    if ready {
        let (since, frames) = progress.ready_since.get_or_insert((Instant::now(), 0));
        *frames += 1;
        let (need_frames, need_time) = if progress.shot == 0 {
            (SETTLE_FRAMES, SETTLE_TIME)
        } else {
            (SETTLE_FRAMES / 3, SETTLE_TIME / 3)
        };
        if *frames < need_frames || since.elapsed() < need_time {
            return;
        }
    } else {
        progress.ready_since = None;
        if !timed_out {
            return;
        }
    }
    let sidecar = Sidecar {
        others_in_view: in_view,
        others_total: total,
        in_world,
        seconds_waited: progress.started.elapsed().as_secs_f64(),
        timed_out: !ready,
        parcel: parcel.cloned(),
        history_entries,
        hall: hall_id,
        board_rows,
        proposal,
        count_shown,
        speaker,
        queue,
        plaques,
        recognizers,
        window_open,
        inside: hall.view.hall.as_ref().map(|(_, id)| id.clone()),
        talking: hall.talking(),
        voice_window: hall.voice.window_open,
        looks_in_view,
        gesturing_in_view,
        clapping,
        tags_drawn: tags.drawn,
        tags_hidden: tags.hidden,
        editor_open,
    };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let json_path = path.with_extension("json");
    match serde_json::to_string_pretty(&sidecar) {
        Ok(json) => {
            if let Err(e) = std::fs::write(&json_path, json) {
                error!("cannot write {}: {e}", json_path.display());
            }
        }
        Err(e) => error!("cannot encode the screenshot report: {e}"),
    }
    info!(
        "taking the screenshot {}: {in_view} others in view of {total}",
        path.display()
    );
    let _ = std::fs::remove_file(path);
    commands
        .spawn(Screenshot::primary_window())
        .observe(save_to_disk(path.clone()))
        .observe(|_: On<ScreenshotCaptured>| info!("screenshot captured"));
    progress.saved_frames = Some(0);
}

/// What the hall shots need: the boards, the window, and the camera override.
#[derive(bevy::ecs::system::SystemParam)]
struct HallState<'w, 's> {
    boards: Query<'w, 's, &'static TallyBoard>,
    window: ResMut<'w, GovernanceWindow>,
    governance: Res<'w, Governance>,
    clock: Res<'w, ServerClock>,
    camera: ResMut<'w, ShotCamera>,
    chat: ResMut<'w, ChatWindow>,
    view: Res<'w, HallView>,
    requests: MessageWriter<'w, Request>,
    asked_in: Local<'s, bool>,
    plaques: Query<'w, 's, &'static EmbassyPlaque>,
    row: Res<'w, EmbassyRow>,
    recognition: ResMut<'w, RecognitionWindow>,
    card: ResMut<'w, WelcomeCard>,
    /// When the teleport out of the hall was last asked for.
    asked_out: Local<'s, Option<Instant>>,
    voice: ResMut<'w, super::voice::VoiceControls>,
    heard: Option<Res<'w, crate::voice::Heard>>,
    profiles: Query<'w, 's, &'static AvatarProfile>,
    time: Res<'w, Time>,
    editor: ResMut<'w, LookEditor>,
    tags: Res<'w, TagStats>,
    looks: Query<
        'w,
        's,
        (
            Entity,
            &'static GlobalTransform,
            &'static Look,
            Option<&'static Gesturing>,
        ),
    >,
}

impl HallState<'_, '_> {
    /// Of the others in view: how many different looks, and how many mid-gesture.
    fn crowd_in_view(
        &self,
        camera: &Camera,
        camera_transform: &GlobalTransform,
        own: Option<Entity>,
        now: f64,
    ) -> (usize, usize) {
        let mut looks = std::collections::HashSet::new();
        let mut gesturing = 0;
        for (entity, transform, look, gesture) in &self.looks {
            let chest = transform.translation() + Vec3::Y;
            let in_view = camera
                .world_to_ndc(camera_transform, chest)
                .is_some_and(|n| {
                    n.x.abs() <= 1.0 && n.y.abs() <= 1.0 && (0.0..=1.0).contains(&n.z)
                });
            if Some(entity) == own || !in_view {
                continue;
            }
            looks.insert(look.appearance);
            if gesture.is_some_and(|g| g.progress(now).is_some()) {
                gesturing += 1;
            }
        }
        (looks.len(), gesturing)
    }

    /// People in the photographer's hall clapping now.
    fn clapping(&self, world: &World, now: f64) -> usize {
        let Some((index, _)) = &self.view.hall else {
            return 0;
        };
        self.looks
            .iter()
            .filter(|(_, transform, _, gesture)| {
                gesture.is_some_and(|g| {
                    g.gesture == archipelago_shared::avatars::Gesture::Clap
                        && g.progress(now).is_some()
                }) && world.place_at(transform.translation())
                    == archipelago_shared::world::Place::Hall(*index)
            })
            .count()
    }

    /// The names of those heard speaking now.
    fn talking(&self) -> Vec<String> {
        let Some(heard) = &self.heard else {
            return Vec::new();
        };
        let mut names: Vec<String> = heard
            .speaking(self.time.elapsed())
            .filter_map(|e| self.profiles.get(e).ok().map(|p| p.name.clone()))
            .collect();
        names.sort();
        names
    }

    /// Sets the scene up for the embassy and recognition shots: (plaques standing,
    /// recognizers known, window open, ready).
    fn standing(
        &mut self,
        shot: &Shot,
        world: &World,
    ) -> (Option<usize>, Option<usize>, Option<bool>, bool) {
        if !matches!(shot, Shot::Embassy | Shot::Recognition) {
            return (None, None, None, true);
        }
        self.card.closed = true;
        self.window.open = false;
        self.chat.open = false;
        // Out of any town hall first (the session shot leaves the avatar inside): the row is
        // seen from the capital's grounds, without the hall's panel.
        // Asked again every few seconds while still inside, as someone would press again:
        // the server refuses a teleport that comes too soon after another.
        let inside = self.view.hall.is_some();
        if inside && self.asked_out.is_none_or(|at| at.elapsed() > ASK_AGAIN) {
            info!(
                "screenshot: leaving the hall {:?} for the embassy row",
                self.view.hall
            );
            self.requests.write(Request(ToServer::Teleport {
                protocity: world.capital().id.clone(),
            }));
            *self.asked_out = Some(Instant::now());
        }
        self.camera.0 = embassy_view(&self.row);
        self.recognition.open = *shot == Shot::Recognition;
        let plaques = self.plaques.iter().count();
        let known = self.row.plaques.len();
        let ready = known > 0 && plaques == known && self.view.hall.is_none();
        (
            Some(plaques),
            Some(known),
            Some(self.recognition.open),
            ready,
        )
    }

    /// Sets the scene up for a hall shot and says what it shows and whether it is ready:
    /// (hall, board rows, proposal in the window, count drawn, ready).
    fn prepare(
        &mut self,
        shot: &Shot,
        world: &World,
        selected: &mut SelectedParcel,
    ) -> (
        Option<String>,
        Option<usize>,
        Option<u64>,
        Option<bool>,
        bool,
    ) {
        self.voice.window_open = matches!(shot, Shot::Session(_));
        let (Shot::Board(id) | Shot::Window(id) | Shot::Session(id)) = shot else {
            return (None, None, None, None, true);
        };
        selected.0 = None;
        let Some(board) = self.boards.iter().find(|b| &b.protocity == id) else {
            return (Some(id.clone()), None, None, None, false);
        };
        if self.camera.0.is_none() {
            self.camera.0 = hall_view(world, id, board.centre);
            // The hall as someone attending sees it: with the chat open.
            self.chat.open = true;
        }
        let rows = board.shown;
        if matches!(shot, Shot::Session(_)) {
            // Attend: step inside (only those inside receive the session), the window
            // closed, and wait for a speaker and a queue.
            self.camera.0 = session_view(world, id);
            if !*self.asked_in {
                self.requests.write(Request(ToServer::EnterHall {
                    protocity: id.clone(),
                }));
                self.window.open = false;
                *self.asked_in = true;
            }
            // The voice window is open beside it; wait for the speaker to be heard.
            let ready = self
                .view
                .session
                .as_ref()
                .is_some_and(|s| s.floor.is_some() && !s.queue.is_empty())
                && !self.talking().is_empty();
            return (Some(id.clone()), Some(rows), None, None, ready);
        }
        if matches!(shot, Shot::Board(_)) {
            return (Some(id.clone()), Some(rows), None, None, rows > 0);
        }
        if !(self.window.open && self.window.kiosk.as_ref() == Some(id)) {
            open_at_kiosk(&mut self.window, id, &self.governance, self.clock.now());
        }
        let view = self
            .window
            .selected
            .and_then(|p| self.governance.proposals.get(&p));
        let count_shown = view.map(|v| v.tally.is_some());
        let ready = view.is_some() && self.governance.loaded;
        (
            Some(id.clone()),
            Some(rows),
            view.map(|v| v.proposal.id),
            count_shown,
            ready,
        )
    }
}
