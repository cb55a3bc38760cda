//! The client's copy of the land registry ([`ParcelBook`]), kept current by the server's
//! snapshot and change messages, and picking: which parcel lies under a ray from the camera.
//! Runs without a window, so tests and bots see exactly what the panel shows.

use std::collections::{BTreeMap, HashMap};

use archipelago_shared::movement::WorldColliders;
use archipelago_shared::parcels::{
    ParcelChange, ParcelInfo, ParcelNews, ParcelRefusal, ParcelRequest,
};
use archipelago_shared::protocol::{ToClient, ToServer};
use archipelago_shared::world::World;
use bevy::prelude::*;

use crate::ClientSystems;
use crate::connection::{FromServer, Request, Session};

/// Farthest a click can pick a parcel, in metres.
pub const PICK_RANGE: f32 = 600.0;

/// What this client knows of the registry.
#[derive(Resource, Debug, Default)]
pub struct ParcelBook {
    /// Every parcel as this client may see it, by id.
    pub parcels: BTreeMap<String, ParcelInfo>,
    /// Histories received, by parcel id; dropped when the parcel changes.
    pub history: HashMap<String, Vec<ParcelChange>>,
    /// The server's answer to this client's last request about each parcel, with the time
    /// it came (seconds since start).
    pub answers: HashMap<String, (f64, Result<String, ParcelRefusal>)>,
    /// When each parcel last changed while we watched (seconds since start).
    pub changed_at: HashMap<String, f64>,
    /// Histories asked for and not yet received.
    pub history_pending: HashMap<String, f64>,
    /// The snapshot has arrived.
    pub loaded: bool,
}

impl ParcelBook {
    pub fn get(&self, id: &str) -> Option<&ParcelInfo> {
        self.parcels.get(id)
    }
}

/// Ask the server for a parcel's history unless it is known or on its way.
#[derive(Message, Debug, Clone)]
pub struct WantHistory(pub String);

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<ParcelBook>()
        .add_message::<WantHistory>()
        .add_systems(
            Update,
            (receive, ask_for_history)
                .chain()
                .in_set(ClientSystems::Receive),
        );
}

fn receive(
    mut messages: MessageReader<FromServer>,
    mut book: ResMut<ParcelBook>,
    mut session: ResMut<Session>,
    time: Res<Time>,
) {
    let now = time.elapsed_secs_f64();
    for FromServer(message) in messages.read() {
        let ToClient::Parcels(news) = message else {
            continue;
        };
        match news {
            ParcelNews::All(parcels) => {
                book.parcels = parcels.iter().map(|p| (p.id.clone(), p.clone())).collect();
                book.history.clear();
                book.loaded = true;
            }
            ParcelNews::Changed(parcel) => {
                let newer = book
                    .parcels
                    .get(&parcel.id)
                    .is_none_or(|known| known.version < parcel.version);
                if newer {
                    book.history.remove(&parcel.id);
                    book.changed_at.insert(parcel.id.clone(), now);
                    book.parcels.insert(parcel.id.clone(), parcel.clone());
                }
            }
            ParcelNews::History { parcel, changes } => {
                book.history_pending.remove(parcel);
                book.history.insert(parcel.clone(), changes.clone());
            }
            ParcelNews::Answer { parcel, outcome } => {
                book.history_pending.remove(parcel);
                let text = match outcome {
                    Ok(what) => format!("{parcel}: {what}"),
                    Err(reason) => format!("{parcel}: refused: {reason}"),
                };
                session.notices.push((now, text));
                book.answers.insert(parcel.clone(), (now, outcome.clone()));
            }
        }
    }
}

/// Histories are fetched on demand (the panel asks while it shows one), at most once every
/// few seconds per parcel.
fn ask_for_history(
    mut wants: MessageReader<WantHistory>,
    mut book: ResMut<ParcelBook>,
    mut requests: MessageWriter<Request>,
    time: Res<Time>,
) {
    let now = time.elapsed_secs_f64();
    for WantHistory(parcel) in wants.read() {
        let asked_recently = book
            .history_pending
            .get(parcel)
            .is_some_and(|at| now - at < 5.0);
        if book.history.contains_key(parcel) || asked_recently || !book.parcels.contains_key(parcel)
        {
            continue;
        }
        book.history_pending.insert(parcel.clone(), now);
        requests.write(Request(ToServer::Parcel(ParcelRequest::History {
            parcel: parcel.clone(),
        })));
    }
}

/// The ray through a point of the screen, for a perspective camera: `cursor` in logical
/// pixels from the top left of a viewport of `viewport` size, `fov_y` the vertical field of
/// view in radians.
pub fn screen_ray(camera: &Transform, fov_y: f32, viewport: Vec2, cursor: Vec2) -> Ray3d {
    let ndc = Vec2::new(
        cursor.x / viewport.x * 2.0 - 1.0,
        1.0 - cursor.y / viewport.y * 2.0,
    );
    let half_height = (fov_y / 2.0).tan();
    let aspect = viewport.x / viewport.y;
    let local = Vec3::new(ndc.x * half_height * aspect, ndc.y * half_height, -1.0);
    let direction = camera.rotation * local;
    Ray3d::new(
        camera.translation,
        Dir3::new(direction).unwrap_or(Dir3::NEG_Z),
    )
}

/// The parcel under a ray: the first thing the ray meets (ground, or a building on the
/// parcel), if that lies on a parcel.
pub fn pick_parcel(world: &World, colliders: &WorldColliders, ray: Ray3d) -> Option<String> {
    let distance = colliders.cast_ray(ray.origin, *ray.direction, PICK_RANGE)?;
    // A hair past the surface, so a hit on a wall's face counts as inside its footprint.
    let hit = ray.get_point(distance + 0.05);
    let (_, parcel) = world.parcel_at(hit)?;
    Some(parcel.id.clone())
}
