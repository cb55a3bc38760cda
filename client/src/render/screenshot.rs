//! `--screenshot PATH`: once the world is loaded and drawn (connected, own avatar in place,
//! enough others in view, and frames rendered since), save a PNG of the window, write what
//! was in view beside it as JSON, and exit. With `--screenshot-parcel ID PATH` it then opens
//! that parcel's panel, waits for its history, and saves a second PNG. Used by the
//! screenshot test and the README.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use archipelago_shared::protocol::AvatarProfile;
use archipelago_shared::world::World;
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured, save_to_disk};
use serde::Serialize;

use super::OrbitCamera;
use super::plots::SelectedParcel;
use super::scene::SceneReady;
use crate::connection::{ConnectionState, Session};
use crate::parcels::ParcelBook;

/// Frames to render after everything is in place, so shaders are compiled and shadows drawn
/// (lavapipe is slow).
const SETTLE_FRAMES: u32 = 90;
const SETTLE_TIME: Duration = Duration::from_secs(6);
/// Give up waiting after this long and capture whatever is there (the test then fails on it).
const GIVE_UP: Duration = Duration::from_secs(240);

/// What to capture.
#[derive(Resource, Debug, Clone)]
pub struct ScreenshotPlan {
    pub path: PathBuf,
    /// Other avatars that must be in view first.
    pub min_others: usize,
    /// Then open this parcel's panel and capture it to this path.
    pub parcel: Option<(String, PathBuf)>,
}

#[derive(Resource, Debug)]
struct Progress {
    started: Instant,
    /// Index of the shot being prepared: 0 the world, 1 the parcel panel.
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
    seconds_waited: f64,
    timed_out: bool,
    /// The parcel whose panel is open, and how many history lines it shows.
    parcel: Option<String>,
    history_entries: Option<usize>,
}

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(Last, capture.run_if(resource_exists::<ScreenshotPlan>));
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
    camera: Single<(&Camera, &GlobalTransform)>,
    avatars: Query<(Entity, &GlobalTransform), With<AvatarProfile>>,
    book: Res<ParcelBook>,
    mut selected: ResMut<SelectedParcel>,
    mut orbit: ResMut<OrbitCamera>,
    world: Res<World>,
    mut exit: MessageWriter<AppExit>,
) {
    let progress = progress.get_or_insert_with(|| Progress {
        started: Instant::now(),
        shot: 0,
        ready_since: None,
        saved_frames: None,
    });
    let (path, parcel) = match (progress.shot, &plan.parcel) {
        (0, _) => (&plan.path, None),
        (1, Some((id, path))) => (path, Some(id)),
        _ => {
            exit.write(AppExit::Success);
            return;
        }
    };
    if let Some(frames) = &mut progress.saved_frames {
        *frames += 1;
        // The capture is written asynchronously; give it a few frames, then move on.
        if *frames > 10 && path.exists() {
            progress.saved_frames = None;
            progress.ready_since = None;
            progress.shot += 1;
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
    let history_entries = parcel.and_then(|id| book.history.get(id)).map(Vec::len);
    let panel_ready = parcel.is_none() || history_entries.is_some();
    // Others must be in view for the world shot only: they walk, and the count flickers.
    let enough_others = progress.shot > 0 || in_view >= plan.min_others;
    let ready = in_world && scene.is_some() && enough_others && panel_ready;
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
