//! The world's live numbers, replicated to everyone on one entity: people online, in total
//! and per island.

use std::time::Duration;

use archipelago_shared::assembly::HallSession;
use archipelago_shared::protocol::{AvatarPose, WorldStatus};
use archipelago_shared::world::{Place, World};
use bevy::prelude::*;
use lightyear::prelude::*;

use crate::ServerSystems;
use crate::rooms::InPlace;

const REFRESH: Duration = Duration::from_millis(500);

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(Startup, spawn_status)
        .add_systems(Update, refresh_status.in_set(ServerSystems::Publish));
}

fn spawn_status(mut commands: Commands) {
    commands.spawn((
        Name::new("WorldStatus"),
        WorldStatus::default(),
        Replicate::to_clients(NetworkTarget::All),
    ));
}

fn refresh_status(
    mut status: Single<&mut WorldStatus>,
    sessions: Query<&HallSession>,
    avatars: Query<(&AvatarPose, Option<&InPlace>)>,
    world: Res<World>,
    time: Res<Time>,
    mut timer: Local<Option<Timer>>,
) {
    let timer = timer.get_or_insert_with(|| Timer::new(REFRESH, TimerMode::Repeating));
    if !timer.tick(time.delta()).just_finished() {
        return;
    }
    let mut per_island: Vec<(String, u32)> = world
        .protocities
        .iter()
        .map(|p| (p.id.clone(), 0))
        .collect();
    per_island.sort();
    let mut in_hall = per_island.clone();
    for (pose, place) in &avatars {
        // The room system already decided where each avatar is.
        if let Some(InPlace(Place::Hall(i))) = place
            && let Some(entry) = in_hall
                .iter_mut()
                .find(|(id, _)| *id == world.protocities[*i].id)
        {
            entry.1 += 1;
        }
        if let Some(protocity) = world.island_at(pose.position)
            && let Some(entry) = per_island.iter_mut().find(|(id, _)| *id == protocity.id)
        {
            entry.1 += 1;
        }
    }
    let mut open: Vec<(String, String)> = sessions
        .iter()
        .map(|s| (s.protocity.clone(), s.title.clone()))
        .collect();
    open.sort();
    let next = WorldStatus {
        online: avatars.iter().len() as u32,
        per_island,
        in_hall,
        sessions: open,
    };
    if **status != next {
        **status = next;
    }
}
