//! The client's side of looks and gestures: its own look as the server keeps it
//! ([`OwnLook`]), the gestures of the people in sight ([`Gesturing`]), and [`SendAvatar`] to
//! change a look, gesture, sit or stand. Whether a point can be seen from the camera
//! ([`in_sight`]) is here too, so name tags can be tested without a window.

use archipelago_shared::avatars::{Appearance, AvatarNews, AvatarRequest, Gesture};
use archipelago_shared::movement::WorldColliders;
use archipelago_shared::protocol::{ToClient, ToServer};
use bevy::prelude::*;

use crate::ClientSystems;
use crate::connection::{ConnectionState, FromServer, Request, Session};
use crate::crowd::Crowd;

/// This client's own look, as the server last told it.
#[derive(Resource, Debug, Default)]
pub struct OwnLook {
    pub appearance: Option<Appearance>,
    /// False while they wear the look their key picked: the editor opens by itself.
    pub chosen: bool,
    /// Changes the server has answered since login, refusals among them.
    pub answers: u32,
    /// The last refusal, in words, with when it came (seconds since start).
    pub refused: Option<(f64, String)>,
}

/// On an avatar: the gesture it is making, and when it started (seconds since start).
#[derive(Component, Debug, Clone, Copy, PartialEq)]
pub struct Gesturing {
    pub gesture: Gesture,
    pub since: f64,
}

impl Gesturing {
    /// How far through the gesture it is at `now`, 0 to 1; `None` once it is over.
    pub fn progress(&self, now: f64) -> Option<f32> {
        let t = ((now - self.since) / f64::from(self.gesture.seconds())) as f32;
        (0.0..1.0).contains(&t).then_some(t)
    }
}

/// Gestures seen since login, per kind: what the bots and tests count.
#[derive(Resource, Debug, Default)]
pub struct GesturesSeen(pub Vec<(archipelago_shared::crowd::CrowdId, Gesture)>);

/// Ask the server something about our avatar.
#[derive(Message, Debug, Clone)]
pub struct SendAvatar(pub AvatarRequest);

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<OwnLook>()
        .init_resource::<GesturesSeen>()
        .add_message::<SendAvatar>()
        .add_systems(
            Update,
            (
                (forget_on_leaving, receive)
                    .chain()
                    .in_set(ClientSystems::Receive)
                    .after(crate::crowd::read_roster),
                send.after(ClientSystems::Control)
                    .before(ClientSystems::Present),
            ),
        );
}

fn forget_on_leaving(
    state: Res<ConnectionState>,
    mut own: ResMut<OwnLook>,
    mut seen: ResMut<GesturesSeen>,
) {
    if state.is_changed() && *state != ConnectionState::InWorld {
        *own = OwnLook::default();
        seen.0.clear();
    }
}

fn receive(
    mut messages: MessageReader<FromServer>,
    mut own: ResMut<OwnLook>,
    mut seen: ResMut<GesturesSeen>,
    mut session: ResMut<Session>,
    crowd: Res<Crowd>,
    time: Res<Time>,
    mut commands: Commands,
) {
    let now = time.elapsed_secs_f64();
    for FromServer(message) in messages.read() {
        let ToClient::Avatars(news) = message else {
            continue;
        };
        match news {
            AvatarNews::Yours { appearance, chosen } => {
                own.appearance = Some(*appearance);
                own.chosen = *chosen;
                own.answers += 1;
            }
            AvatarNews::Gestured(gestures) => {
                for (id, gesture) in gestures {
                    if seen.0.len() < 10_000 {
                        seen.0.push((*id, *gesture));
                    }
                    if let Some(avatar) = crowd.avatar(*id) {
                        commands.entity(avatar).try_insert(Gesturing {
                            gesture: *gesture,
                            since: now,
                        });
                    }
                }
            }
            AvatarNews::Refused(refusal) => {
                let words = refusal.to_string();
                warn!("{words}");
                own.answers += 1;
                own.refused = Some((now, words.clone()));
                session.notices.push((now, words));
            }
        }
    }
}

fn send(mut requests: MessageReader<SendAvatar>, mut out: MessageWriter<Request>) {
    for SendAvatar(request) in requests.read() {
        out.write(Request(ToServer::Avatar(request.clone())));
    }
}

/// Whether `point` can be seen from `eye`: nothing solid of the world (walls, buildings,
/// seats, the stage) lies between them.
pub fn in_sight(colliders: &WorldColliders, eye: Vec3, point: Vec3) -> bool {
    let to = point - eye;
    let distance = to.length();
    if distance < 1e-3 {
        return true;
    }
    colliders
        .cast_ray(eye, to / distance, distance)
        .is_none_or(|hit| hit >= distance - 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;
    use archipelago_shared::world::load_world_dir;

    #[test]
    fn a_tag_behind_a_wall_is_hidden_and_one_in_the_open_is_not() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/world");
        let world = load_world_dir(dir).unwrap();
        let colliders = WorldColliders::new(&world);
        let capital = world.capital();
        let island = &capital.island;
        let hall = &island.town_hall;
        // Someone inside the hall, at its centre, seen from outside its back wall.
        let inside = island.to_world(hall.center, 2.25);
        let door = hall.door_direction();
        let behind = hall.center - door * (hall.size.length() / 2.0 + 8.0);
        let eye_behind = island.to_world(behind, 2.0);
        assert!(!in_sight(&colliders, eye_behind, inside));
        // The same person seen from inside the hall, and through the open door.
        let eye_inside = island.to_world(hall.center + door * 3.0, 2.0);
        assert!(in_sight(&colliders, eye_inside, inside));
        let eye_at_door = island.to_world(hall.door_outside() + door * 6.0, 1.7);
        let in_the_door = island.to_world(hall.door_inside(), 1.7);
        assert!(in_sight(&colliders, eye_at_door, in_the_door));
    }
}
