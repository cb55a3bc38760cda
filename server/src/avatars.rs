//! Avatars: one per logged-in connection, moved every tick by the shared movement rule from
//! the client's input, clamped to what the rules allow. Teleports go to a protocity's spawn.

use std::time::Duration;

use archipelago_shared::budget::TokenBucket;
use archipelago_shared::movement::{KILL_DEPTH, WorldColliders, sanitize, step};
use archipelago_shared::protocol::{
    AvatarInput, AvatarPose, AvatarProfile, ControlChannel, MAX_ID_CHARS, MAX_TELEPORTS_PER_SECOND,
    RequestRefusal, ToClient, ToServer,
};
use archipelago_shared::world::World;
use bevy::prelude::*;
use lightyear::prelude::input::native::ActionState;
use lightyear::prelude::input::native::NativeStateSequence;
use lightyear::prelude::input::server::InputValidationAppExt;
use lightyear::prelude::input::server::authorize_controlled_targets;
use lightyear::prelude::*;

use crate::ServerSystems;
use crate::refusal_log::RefusalLog;
use crate::session::{LoggedIn, Request, RequestsExt, Routed, refuse};

/// At most one log line per avatar per this long about clamped input.
const CLAMP_LOG_INTERVAL: Duration = Duration::from_secs(5);

/// A logged-in client asks to be moved to a protocity: to its spawn, or inside its hall.
#[derive(Debug, Clone)]
pub struct Teleport {
    pub protocity: String,
    pub into_hall: bool,
}

impl Routed for Teleport {
    fn take(message: ToServer) -> Result<Self, ToServer> {
        match message {
            ToServer::Teleport { protocity } => Ok(Self {
                protocity,
                into_hall: false,
            }),
            ToServer::EnterHall { protocity } => Ok(Self {
                protocity,
                into_hall: true,
            }),
            other => Err(other),
        }
    }
}

/// Where a protocity's town hall is entered and left: just inside and just outside its door.
pub fn hall_door(world: &World, hall: usize, inside: bool) -> Vec3 {
    let island = &world.protocities[hall].island;
    let local = if inside {
        island.town_hall.door_inside()
    } else {
        island.town_hall.door_outside()
    };
    island.to_world(local, 0.05)
}

/// Server-side bookkeeping of an avatar.
#[derive(Component, Debug)]
pub struct Avatar {
    pub link: Entity,
    clamped_inputs: u64,
    clamp_log: Timer,
    teleports: TokenBucket,
}

/// The avatar entity of a link.
#[derive(Component, Debug)]
pub struct HasAvatar(pub Entity);

/// Round-robin over spawn points so arrivals do not stack.
#[derive(Resource, Default)]
struct SpawnCounter(usize);

pub(crate) fn plugin(app: &mut App) {
    app.add_observer(spawn_on_login)
        .add_request::<Teleport>()
        .init_resource::<SpawnCounter>()
        .add_input_validator(authorize_controlled_targets::<NativeStateSequence<AvatarInput>>)
        .add_systems(FixedUpdate, move_avatars)
        .add_systems(Update, teleport.in_set(ServerSystems::Apply));
}

/// Everyone arrives at the capital as they log in.
fn spawn_on_login(
    trigger: On<Add, LoggedIn>,
    mut commands: Commands,
    links: Query<(&RemoteId, &LoggedIn), Without<HasAvatar>>,
    world: Res<World>,
    mut counter: ResMut<SpawnCounter>,
    time: Res<Time>,
) {
    let link = trigger.entity;
    let Ok((remote, member)) = links.get(link) else {
        return;
    };
    let protocity = world.capital();
    {
        counter.0 += 1;
        let position = world.spawn_position(protocity, counter.0);
        let client = remote.0;
        let avatar = commands
            .spawn((
                Name::new(format!("Avatar {}", member.name)),
                AvatarPose {
                    position,
                    yaw: 0.0,
                    vertical_speed: 0.0,
                    grounded: false,
                },
                AvatarProfile {
                    name: member.name.clone(),
                    role: member.role,
                    key: member.key_hex(),
                },
                Avatar {
                    link,
                    clamped_inputs: 0,
                    clamp_log: Timer::new(CLAMP_LOG_INTERVAL, TimerMode::Once),
                    teleports: TokenBucket::full(
                        MAX_TELEPORTS_PER_SECOND,
                        MAX_TELEPORTS_PER_SECOND,
                        time.elapsed(),
                    ),
                },
                Replicate::to_clients(NetworkTarget::All),
                PredictionTarget::to_clients(NetworkTarget::Single(client)),
                ControlledBy {
                    owner: link,
                    lifetime: Lifetime::SessionBased,
                },
            ))
            .id();
        commands.entity(link).insert(HasAvatar(avatar));
        info!("{} arrived at {} ({position})", member.name, protocity.name);
    }
}

/// The authoritative movement step: clamp the input, then apply the shared rule.
fn move_avatars(
    mut avatars: Query<(
        &mut AvatarPose,
        &mut Avatar,
        Option<&ActionState<AvatarInput>>,
        &Name,
    )>,
    colliders: Res<WorldColliders>,
    world: Res<World>,
    time: Res<Time<Fixed>>,
) {
    let dt = time.delta_secs();
    for (mut pose, mut avatar, action, name) in &mut avatars {
        let requested = action.map(|a| a.0).unwrap_or_default();
        let checked = sanitize(&requested);
        avatar.clamp_log.tick(time.delta());
        if checked.clamped {
            avatar.clamped_inputs += 1;
            if avatar.clamp_log.is_finished() {
                warn!(
                    "{name}: impossible input clamped ({} so far): direction {:?}, yaw {}",
                    avatar.clamped_inputs, requested.direction, requested.yaw
                );
                avatar.clamp_log.reset();
            }
        }
        let mut next = *pose;
        step(&mut next, &checked.input, dt, &colliders);
        if next.position.y < KILL_DEPTH {
            next = AvatarPose {
                position: world.spawn_position(world.capital(), 0),
                ..default()
            };
        }
        if next != *pose {
            *pose = next;
        }
    }
}

fn teleport(
    mut requests: MessageReader<Request<Teleport>>,
    mut links: Query<(&RemoteId, &HasAvatar, &mut MessageSender<ToClient>)>,
    mut avatars: Query<(&mut AvatarPose, &mut Avatar)>,
    world: Res<World>,
    mut counter: ResMut<SpawnCounter>,
    mut refusals: ResMut<RefusalLog>,
    time: Res<Time>,
) {
    for Request { link, request } in requests.read() {
        let Ok((remote, has_avatar, mut sender)) = links.get_mut(*link) else {
            continue;
        };
        let Ok((mut pose, mut avatar)) = avatars.get_mut(has_avatar.0) else {
            continue;
        };
        let refusal = if request.protocity.chars().count() > MAX_ID_CHARS {
            Some(RequestRefusal::IdTooLong)
        } else if world.protocity(&request.protocity).is_none() {
            Some(RequestRefusal::UnknownProtocity(request.protocity.clone()))
        } else if !avatar.teleports.take(time.elapsed()) {
            Some(RequestRefusal::TooManyTeleports)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            refuse(&mut refusals, *link, &mut sender, remote.0, refusal);
            continue;
        }
        let Some(protocity) = world.protocity(&request.protocity) else {
            continue;
        };
        counter.0 += 1;
        let position = match world.protocities.iter().position(|p| p.id == protocity.id) {
            Some(hall) if request.into_hall => hall_door(&world, hall, true),
            _ => world.spawn_position(protocity, counter.0),
        };
        *pose = AvatarPose {
            position,
            yaw: pose.yaw,
            vertical_speed: 0.0,
            grounded: false,
        };
        sender.send::<ControlChannel>(ToClient::Teleported {
            protocity: protocity.id.clone(),
        });
        info!("client {:?} teleported to {}", remote.0, protocity.name);
    }
}
