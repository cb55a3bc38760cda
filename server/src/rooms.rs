//! Interest management with lightyear rooms. Every protocity has two places, its grounds and
//! the inside of its town hall, and each place is a room. A client is in the room of the place
//! its avatar stands in, and so is the avatar, so people receive only the avatars around them:
//! an assembly in one hall costs nobody outside it anything. The world status is in every
//! room. A hall whose session is full has an overflow room: later arrivals stand in the same
//! hall but receive only each other and the stage.

use std::collections::HashMap;

use archipelago_shared::assembly::InOverflow;
use archipelago_shared::protocol::{AvatarPose, AvatarProfile, Role, WorldStatus};
use archipelago_shared::world::{Place, World};
use bevy::prelude::*;
use lightyear::prelude::*;

use crate::ServerSystems;
use crate::avatars::Avatar;

/// The room of each place, and each hall's overflow room.
#[derive(Resource, Debug)]
pub struct PlaceRooms {
    grounds: Vec<RoomId>,
    halls: Vec<RoomId>,
    overflows: Vec<RoomId>,
}

impl PlaceRooms {
    pub fn room(&self, place: Place) -> RoomId {
        match place {
            Place::Grounds(i) => self.grounds[i],
            Place::Hall(i) => self.halls[i],
        }
    }

    /// The room of those who follow a full hall's session from its overflow.
    pub fn overflow(&self, hall: usize) -> RoomId {
        self.overflows[hall]
    }

    /// Membership in every room: for what everyone receives.
    pub fn everywhere(&self) -> Rooms {
        self.grounds
            .iter()
            .chain(&self.halls)
            .chain(&self.overflows)
            .copied()
            .into()
    }
}

/// How many each hall's main room holds, for the halls whose session limits it (by hall
/// index). Written by the assembly plugin; arrivals past it (founders excepted) are put in
/// the hall's overflow room.
#[derive(Resource, Debug, Default)]
pub struct HallCapacity(pub HashMap<usize, u32>);

/// How long an avatar (and its owner) stay in the room of the place they just left, as well
/// as in the new one. People who walk into a hall together arrive over a few frames; without
/// this, each would be hidden from the others for those frames and shown again right after,
/// and a client that loses sight of an avatar and regains it within a few ticks can lose it
/// for good (see tests/tests/scenarios/hall_cohorts.rs).
const LINGER: f32 = 1.5;

/// On an avatar that changed places a moment ago: the room it is in now, to keep alone once
/// the timer ends.
#[derive(Component, Debug)]
pub struct Lingering {
    room: RoomId,
    timer: Timer,
}

/// On an avatar in a main hall that the overflow room receives too: the chair's and the
/// speaker's, so those following from the overflow see the stage.
#[derive(Component, Debug)]
pub struct SharedWithOverflow;

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
        overflows: (0..count).map(|_| allocator.allocate()).collect(),
    };
    app.insert_resource(rooms)
        .init_resource::<HallCapacity>()
        .add_observer(status_everywhere)
        .add_systems(
            Update,
            (follow_avatars, stop_lingering).in_set(ServerSystems::Publish),
        );
}

fn status_everywhere(
    trigger: On<Add, WorldStatus>,
    rooms: Res<PlaceRooms>,
    mut commands: Commands,
) {
    commands.entity(trigger.entity).insert(rooms.everywhere());
}

/// Moves each avatar, and its owner's link, into the room of the place it stands in; into a
/// hall's overflow room instead when the hall is at capacity.
fn follow_avatars(
    mut commands: Commands,
    avatars: Query<(
        Entity,
        &AvatarPose,
        &Avatar,
        &AvatarProfile,
        Option<&InPlace>,
        Has<InOverflow>,
    )>,
    world: Res<World>,
    rooms: Res<PlaceRooms>,
    capacity: Res<HallCapacity>,
) {
    let mut in_main: HashMap<usize, u32> = HashMap::new();
    if !capacity.0.is_empty() {
        for (.., place, overflow) in &avatars {
            if let Some(InPlace(Place::Hall(hall))) = place
                && !overflow
            {
                *in_main.entry(*hall).or_default() += 1;
            }
        }
    }
    for (entity, pose, avatar, profile, current, was_overflow) in &avatars {
        let place = world.place_at(pose.position);
        if current.is_some_and(|c| c.0 == place) {
            continue;
        }
        if let Some(InPlace(Place::Hall(left))) = current
            && !was_overflow
            && let Some(count) = in_main.get_mut(left)
        {
            *count = count.saturating_sub(1);
        }
        let overflow = match place {
            Place::Hall(hall) => capacity.0.get(&hall).is_some_and(|&limit| {
                let count = in_main.entry(hall).or_default();
                if *count >= limit && profile.role != Role::Founder {
                    true
                } else {
                    *count += 1;
                    false
                }
            }),
            Place::Grounds(_) => false,
        };
        let room = match place {
            Place::Hall(hall) if overflow => rooms.overflow(hall),
            _ => rooms.room(place),
        };
        let left = current.map(|c| match c.0 {
            Place::Hall(hall) if was_overflow => rooms.overflow(hall),
            other => rooms.room(other),
        });
        let both: Rooms = [Some(room), left].into_iter().flatten().into();
        let mut avatar_entity = commands.entity(entity);
        avatar_entity
            .insert((
                InPlace(place),
                both.clone(),
                Lingering {
                    room,
                    timer: Timer::from_seconds(LINGER, TimerMode::Once),
                },
            ))
            .remove::<(InOverflow, SharedWithOverflow)>();
        if overflow {
            avatar_entity.insert(InOverflow);
        }
        if let Ok(mut link) = commands.get_entity(avatar.link) {
            link.insert(both);
        }
        debug!(
            "{entity} is now in {place:?}{}",
            if overflow { " (overflow)" } else { "" }
        );
    }
}

/// Takes avatars (and their owners) out of the room they left once they have lingered.
fn stop_lingering(
    mut commands: Commands,
    mut avatars: Query<(Entity, &mut Lingering, &Avatar)>,
    time: Res<Time>,
) {
    for (entity, mut lingering, avatar) in &mut avatars {
        if !lingering.timer.tick(time.delta()).just_finished() {
            continue;
        }
        let room = Rooms::single(lingering.room);
        // The stage is shared with the overflow again by the assembly plugin next frame.
        commands
            .entity(entity)
            .insert(room.clone())
            .remove::<(Lingering, SharedWithOverflow)>();
        if let Ok(mut link) = commands.get_entity(avatar.link) {
            link.insert(room);
        }
    }
}
