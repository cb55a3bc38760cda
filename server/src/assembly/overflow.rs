//! Overflow: when a session's hall is at capacity, later arrivals stand in the same hall but
//! in its overflow room (see [`crate::rooms`]). Here the stage is shared with them: the
//! chair's and the speaker's avatars are put in the overflow room too, so everyone sees who
//! has the floor. Hands raised and ballots cast from the overflow join the one queue and the
//! one count by themselves, since neither depends on the room. As places free up in the hall,
//! those waiting longest move up into it (see [`crate::rooms`]); when the session closes, the
//! whole overflow is folded back into the hall.

use std::collections::HashMap;

use archipelago_shared::assembly::{HallSession, InOverflow};
use archipelago_shared::protocol::AvatarProfile;
use archipelago_shared::world::Place;
use bevy::prelude::*;
use lightyear::prelude::*;

use super::SessionBook;
use crate::ServerSystems;
use crate::avatars::Avatar;
use crate::rooms::{HallCapacity, InPlace, PlaceRooms, SharedWithOverflow, WaitingSince};

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        Update,
        (share_stage, fold_back)
            .chain()
            .in_set(ServerSystems::Publish),
    );
}

/// Puts the chair's and the speaker's avatars in their hall's overflow room as well, and
/// takes out those no longer on the stage.
fn share_stage(
    mut commands: Commands,
    sessions: Query<(&HallSession, &SessionBook)>,
    avatars: Query<
        (Entity, &InPlace, &AvatarProfile, Has<SharedWithOverflow>),
        Without<InOverflow>,
    >,
    rooms: Res<PlaceRooms>,
) {
    let stage: HashMap<usize, [Option<&str>; 2]> = sessions
        .iter()
        .map(|(session, book)| {
            let speaker = session.floor.as_ref().map(|f| f.speaker.key.as_str());
            (book.hall, [Some(session.chair.key.as_str()), speaker])
        })
        .collect();
    for (entity, place, profile, shared) in &avatars {
        let Place::Hall(hall) = place.0 else {
            continue;
        };
        let on_stage = stage
            .get(&hall)
            .is_some_and(|people| people.contains(&Some(profile.key.as_str())));
        if on_stage == shared {
            continue;
        }
        let main = rooms.room(Place::Hall(hall));
        if on_stage {
            commands.entity(entity).insert((
                Rooms::from([main, rooms.overflow(hall)].into_iter()),
                SharedWithOverflow,
            ));
        } else {
            commands
                .entity(entity)
                .insert(Rooms::single(main))
                .remove::<SharedWithOverflow>();
        }
    }
}

/// Once a hall no longer limits its capacity (its session closed), those in its overflow
/// room rejoin the hall.
fn fold_back(
    mut commands: Commands,
    avatars: Query<(Entity, &InPlace, &Avatar), With<InOverflow>>,
    capacity: Res<HallCapacity>,
    rooms: Res<PlaceRooms>,
) {
    for (entity, place, avatar) in &avatars {
        let Place::Hall(hall) = place.0 else {
            continue;
        };
        if capacity.0.contains_key(&hall) {
            continue;
        }
        let main = Rooms::single(rooms.room(place.0));
        commands
            .entity(entity)
            .insert(main.clone())
            .remove::<(InOverflow, WaitingSince)>();
        if let Ok(mut link) = commands.get_entity(avatar.link) {
            link.insert(main);
        }
    }
}
