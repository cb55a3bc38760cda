//! The town halls' seats. Asking to sit snaps the avatar onto the free seat nearest to it in
//! the hall it stands in, facing the stage; one seat holds one person. Walking, jumping, a
//! teleport or asking to stand gets them up, in front of the seat, and frees it.

use archipelago_shared::avatars::{AvatarNews, AvatarRefusal, AvatarRequest, Look};
use archipelago_shared::protocol::{AvatarPose, ControlChannel, ToClient};
use archipelago_shared::world::{Place, Seat, World};
use bevy::prelude::*;
use lightyear::prelude::*;

use super::HasAvatar;
use super::gestures::GestureBudget;
use crate::ServerSystems;
use crate::refusal_log::RefusalLog;
use crate::rooms::InPlace;
use crate::session::{LoggedIn, Request};

/// How far in front of its seat someone who gets up stands, from the seat's centre: clear of
/// the seat and of the row ahead.
const STAND_CLEAR: f32 = 0.6;

/// On an avatar: the seat it sits on (hall, seat index).
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seated {
    pub hall: usize,
    pub seat: usize,
}

/// Every hall's seats, and who sits on each.
#[derive(Resource, Debug)]
pub struct HallSeats {
    seats: Vec<Vec<Seat>>,
    taken: Vec<Vec<Option<Entity>>>,
}

impl HallSeats {
    pub fn new(world: &World) -> Self {
        let seats: Vec<Vec<Seat>> = world
            .protocities
            .iter()
            .map(|p| p.island.town_hall.seats(&p.island))
            .collect();
        let taken = seats.iter().map(|s| vec![None; s.len()]).collect();
        Self { seats, taken }
    }

    /// The free seat of `hall` nearest to `from`, if any is free.
    pub fn nearest_free(&self, hall: usize, from: Vec3) -> Option<usize> {
        let seats = self.seats.get(hall)?;
        let taken = self.taken.get(hall)?;
        seats
            .iter()
            .enumerate()
            .filter(|(i, _)| taken[*i].is_none())
            .min_by(|(_, a), (_, b)| {
                a.position
                    .distance_squared(from)
                    .total_cmp(&b.position.distance_squared(from))
            })
            .map(|(i, _)| i)
    }

    /// Seats `avatar` on the free seat of `hall` nearest to `from`: the seat, or none free.
    pub fn take_nearest(&mut self, hall: usize, from: Vec3, avatar: Entity) -> Option<usize> {
        let seat = self.nearest_free(hall, from)?;
        self.taken[hall][seat] = Some(avatar);
        Some(seat)
    }

    /// Frees a seat if `avatar` holds it.
    pub fn free(&mut self, seated: Seated, avatar: Entity) {
        if let Some(slot) = self
            .taken
            .get_mut(seated.hall)
            .and_then(|h| h.get_mut(seated.seat))
            && *slot == Some(avatar)
        {
            *slot = None;
        }
    }

    pub fn seat(&self, seated: Seated) -> Option<Seat> {
        self.seats.get(seated.hall)?.get(seated.seat).copied()
    }

    /// Where someone getting up from this seat stands: in front of it, on the floor.
    pub fn standing_place(&self, seated: Seated) -> Option<Vec3> {
        let seat = self.seat(seated)?;
        let ahead = Vec3::new(-seat.yaw.sin(), 0.0, -seat.yaw.cos());
        let floor = archipelago_shared::world::SEAT_HEIGHT;
        Some(seat.position + ahead * STAND_CLEAR - Vec3::Y * (floor - 0.05))
    }
}

pub(super) fn plugin(app: &mut App) {
    let seats = HallSeats::new(app.world().resource::<World>());
    app.insert_resource(seats)
        .add_observer(free_seat)
        .add_systems(Update, sit_and_stand.in_set(ServerSystems::Apply));
}

/// A seat is free again once its avatar stands or leaves.
fn free_seat(
    trigger: On<Remove, Seated>,
    mut avatars: Query<(&Seated, Option<&mut Look>)>,
    mut seats: ResMut<HallSeats>,
) {
    let Ok((seated, look)) = avatars.get_mut(trigger.entity) else {
        return;
    };
    seats.free(*seated, trigger.entity);
    if let Some(mut look) = look {
        look.seated = false;
    }
}

#[expect(clippy::type_complexity, reason = "one query per kind of entity read")]
fn sit_and_stand(
    mut requests: MessageReader<Request<AvatarRequest>>,
    mut links: Query<(&LoggedIn, &HasAvatar, &mut MessageSender<ToClient>)>,
    mut avatars: Query<(
        &mut AvatarPose,
        &mut Look,
        &mut GestureBudget,
        Option<&InPlace>,
        Option<&Seated>,
    )>,
    mut seats: ResMut<HallSeats>,
    mut refusals: ResMut<RefusalLog>,
    mut commands: Commands,
    time: Res<Time>,
) {
    for Request { link, request } in requests.read() {
        let sit = match request {
            AvatarRequest::Sit => true,
            AvatarRequest::Stand => false,
            _ => continue,
        };
        let Ok((member, has_avatar, mut sender)) = links.get_mut(*link) else {
            continue;
        };
        let avatar = has_avatar.0;
        let Ok((mut pose, mut look, mut budget, place, seated)) = avatars.get_mut(avatar) else {
            continue;
        };
        let refusal = if !budget.take(time.elapsed()) {
            Some(AvatarRefusal::TooManyGestures)
        } else if !sit {
            if let Some(seated) = seated {
                if let Some(standing) = seats.standing_place(*seated) {
                    pose.position = standing;
                }
                commands.entity(avatar).remove::<Seated>();
            }
            None
        } else if seated.is_some() {
            None
        } else {
            match place.map(|p| p.0) {
                Some(Place::Hall(hall)) => match seats.take_nearest(hall, pose.position, avatar) {
                    Some(seat) => {
                        let seated = Seated { hall, seat };
                        if let Some(at) = seats.seat(seated) {
                            *pose = AvatarPose {
                                position: at.position,
                                yaw: at.yaw,
                                vertical_speed: 0.0,
                                grounded: true,
                            };
                        }
                        look.seated = true;
                        commands.entity(avatar).insert(seated);
                        None
                    }
                    None => Some(AvatarRefusal::NoFreeSeat),
                },
                _ => Some(AvatarRefusal::NotInHall),
            }
        };
        if let Some(refusal) = refusal {
            refusals.note(*link, || {
                format!("{} could not sit or stand: {refusal}", member.name)
            });
            sender.send::<ControlChannel>(ToClient::from(AvatarNews::Refused(refusal)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hall_seats() -> (HallSeats, usize) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/world");
        let world = archipelago_shared::world::load_world_dir(dir).unwrap();
        let hall = world
            .protocities
            .iter()
            .position(|p| p.id == world.nation.capital)
            .unwrap();
        (HallSeats::new(&world), hall)
    }

    #[test]
    fn two_people_never_get_the_same_seat() {
        let (mut seats, hall) = hall_seats();
        let count = seats.seats[hall].len();
        assert!(count >= 12);
        let from = seats.seats[hall][5].position;
        let mut taken = std::collections::HashSet::new();
        for i in 0..count {
            let seat = seats
                .take_nearest(hall, from, Entity::from_raw_u32(i as u32 + 1).unwrap())
                .expect("a free seat while any is free");
            assert!(taken.insert(seat), "seat {seat} given twice");
        }
        // The first asker got the seat it stood at; a full hall has none left.
        assert!(taken.contains(&5));
        assert_eq!(seats.take_nearest(hall, from, Entity::from_raw_u32(999).unwrap()), None);
    }

    #[test]
    fn a_freed_seat_is_given_again_but_only_its_holder_frees_it() {
        let (mut seats, hall) = hall_seats();
        let from = seats.seats[hall][0].position;
        let a = Entity::from_raw_u32(1).unwrap();
        let b = Entity::from_raw_u32(2).unwrap();
        let seat = seats.take_nearest(hall, from, a).unwrap();
        assert_eq!(seat, 0);
        let seated = Seated { hall, seat };
        seats.free(seated, b);
        assert_ne!(seats.take_nearest(hall, from, b), Some(0));
        seats.free(seated, a);
        assert_eq!(seats.nearest_free(hall, from), Some(0));
        let standing = seats.standing_place(seated).unwrap();
        assert!(standing.y < from.y, "stands on the floor, below the seat's top");
        assert!(standing.distance(from) > 0.5);
    }
}
