//! Interest management with lightyear rooms. Every protocity has two places, its grounds and
//! the inside of its town hall, and each place is a room. A client is in the room of the place
//! its avatar stands in, and so is the avatar, so people receive only the avatars around them:
//! an assembly in one hall costs nobody outside it anything. The world status is in every
//! room.

use archipelago_shared::protocol::{AvatarPose, WorldStatus};
use archipelago_shared::world::{Place, World};
use bevy::prelude::*;
use lightyear::prelude::*;

use crate::ServerSystems;
use crate::avatars::Avatar;

/// The room of each place.
#[derive(Resource, Debug)]
pub struct PlaceRooms {
    grounds: Vec<RoomId>,
    halls: Vec<RoomId>,
}

impl PlaceRooms {
    pub fn room(&self, place: Place) -> RoomId {
        match place {
            Place::Grounds(i) => self.grounds[i],
            Place::Hall(i) => self.halls[i],
        }
    }

    /// Membership in every room: for what everyone receives.
    pub fn everywhere(&self) -> Rooms {
        self.grounds.iter().chain(&self.halls).copied().into()
    }
}

/// The place an avatar was last put in.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct InPlace(pub Place);

pub(crate) fn plugin(app: &mut App) {
    app.add_plugins(RoomPlugin);
    let count = app.world().resource::<World>().protocities.len();
    let mut allocator = app.world_mut().resource_mut::<RoomAllocator>();
    let rooms = PlaceRooms {
        grounds: (0..count).map(|_| allocator.allocate()).collect(),
        halls: (0..count).map(|_| allocator.allocate()).collect(),
    };
    app.insert_resource(rooms)
        .add_observer(status_everywhere)
        .add_systems(Update, follow_avatars.in_set(ServerSystems::Publish));
}

fn status_everywhere(
    trigger: On<Add, WorldStatus>,
    rooms: Res<PlaceRooms>,
    mut commands: Commands,
) {
    commands.entity(trigger.entity).insert(rooms.everywhere());
}

/// Moves each avatar, and its owner's link, into the room of the place it stands in.
fn follow_avatars(
    mut commands: Commands,
    avatars: Query<(Entity, &AvatarPose, &Avatar, Option<&InPlace>)>,
    world: Res<World>,
    rooms: Res<PlaceRooms>,
) {
    for (entity, pose, avatar, current) in &avatars {
        let place = world.place_at(pose.position);
        if current.is_some_and(|c| c.0 == place) {
            continue;
        }
        let room = Rooms::single(rooms.room(place));
        commands
            .entity(entity)
            .insert((InPlace(place), room.clone()));
        if let Ok(mut link) = commands.get_entity(avatar.link) {
            link.insert(room);
        }
        debug!("{entity} is now in {place:?}");
    }
}
