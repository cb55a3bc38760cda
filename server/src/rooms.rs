//! Interest management with lightyear rooms. Every protocity has two places, its grounds and
//! the inside of its town hall, and each place is a room. A client is in the room of the place
//! its avatar stands in, and so is the avatar, so people receive only the avatars around them:
//! an assembly in one hall costs nobody outside it anything. The world status is in every
//! room. A hall whose session is full has an overflow room: later arrivals stand in the same
//! hall but receive only each other and the stage, and move up into the hall, first come
//! first served, as places free up.

use std::collections::HashMap;

use archipelago_shared::assembly::AssemblyNews;
use archipelago_shared::assembly::InOverflow;
use archipelago_shared::protocol::{
    AvatarPose, AvatarProfile, ControlChannel, Role, ToClient, WorldStatus,
};
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

/// On an avatar in an overflow room: its turn to move up into the hall (lower goes first).
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WaitingSince(u64);

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
            // Lingering ends before places are followed: an avatar that changes places in
            // the very frame its last linger ends gets its new rooms and a new linger, rather
            // than the old linger's single room over them (and a hall it stands in but is
            // not in the room of).
            (stop_lingering, follow_avatars)
                .chain()
                .in_set(ServerSystems::Publish),
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
/// hall's overflow room instead when the hall is at capacity. Then gives the places freed in
/// a full hall to those waiting in its overflow room, longest waiting first.
#[allow(clippy::type_complexity)]
fn follow_avatars(
    mut commands: Commands,
    avatars: Query<(
        Entity,
        &AvatarPose,
        &Avatar,
        &AvatarProfile,
        Option<&InPlace>,
        Has<InOverflow>,
        Option<&WaitingSince>,
    )>,
    mut links: Query<&mut MessageSender<ToClient>>,
    world: Res<World>,
    rooms: Res<PlaceRooms>,
    capacity: Res<HallCapacity>,
    mut arrivals: Local<u64>,
) {
    let mut in_main: HashMap<usize, u32> = HashMap::new();
    // Halls with someone in their overflow room: the only ones where anyone can move up.
    let mut waited_on: Vec<usize> = Vec::new();
    if !capacity.0.is_empty() {
        for (.., place, overflow, _) in &avatars {
            if let Some(InPlace(Place::Hall(hall))) = place {
                if !overflow {
                    *in_main.entry(*hall).or_default() += 1;
                } else if !waited_on.contains(hall) {
                    waited_on.push(*hall);
                }
            }
        }
    }
    for (entity, pose, avatar, profile, current, was_overflow, _) in &avatars {
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
            .remove::<(InOverflow, SharedWithOverflow, WaitingSince)>();
        if overflow {
            *arrivals += 1;
            avatar_entity.insert((InOverflow, WaitingSince(*arrivals)));
        }
        if let Ok(mut link) = commands.get_entity(avatar.link) {
            link.insert(both);
        }
        debug!(
            "{entity} is now in {place:?}{}",
            if overflow { " (overflow)" } else { "" }
        );
    }

    for hall in waited_on {
        let Some(&limit) = capacity.0.get(&hall) else {
            continue;
        };
        let free = limit.saturating_sub(in_main.get(&hall).copied().unwrap_or(0));
        if free == 0 {
            continue;
        }
        // Those still standing in the hall's overflow room (not those who left it just now).
        let mut waiting: Vec<_> = avatars
            .iter()
            .filter(|(_, pose, _, _, current, overflow, _)| {
                *overflow
                    && current.is_some_and(|c| c.0 == Place::Hall(hall))
                    && world.place_at(pose.position) == Place::Hall(hall)
            })
            .map(|(entity, _, avatar, profile, _, _, since)| {
                (since.copied(), entity, avatar.link, profile.name.clone())
            })
            .collect();
        waiting.sort_unstable_by_key(|(since, ..)| *since);
        let main = rooms.room(Place::Hall(hall));
        for (_, entity, link, name) in waiting.into_iter().take(free as usize) {
            // Received by both rooms for a moment, like any change of place.
            let both: Rooms = [main, rooms.overflow(hall)].into_iter().into();
            commands
                .entity(entity)
                .insert((
                    both.clone(),
                    Lingering {
                        room: main,
                        timer: Timer::from_seconds(LINGER, TimerMode::Once),
                    },
                ))
                .remove::<(InOverflow, WaitingSince)>();
            if let Ok(mut link_entity) = commands.get_entity(link) {
                link_entity.insert(both);
            }
            if let Ok(mut sender) = links.get_mut(link) {
                sender.send::<ControlChannel>(ToClient::from(AssemblyNews::MovedUp {
                    protocity: world.protocities[hall].id.clone(),
                }));
            }
            info!("{name} moved up from the overflow into hall {hall}");
        }
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
