//! Avatars: one per logged-in connection, moved every tick by the shared movement rule from
//! the client's numbered inputs ([`AvatarInputs`]), clamped to what the rules allow; the
//! owner learns which input its pose answers ([`crate::crowd`] sends it) and predicts from
//! there. Avatars are plain server entities, not replicated. Teleports go to a protocity's
//! spawn. How an avatar looks ([`looks`]), its gestures ([`gestures`]) and the halls' seats
//! ([`seats`]) are this feature's parts.

pub mod gestures;
pub mod looks;
pub mod seats;
pub mod storage;

use std::collections::VecDeque;
use std::time::Duration;

use archipelago_shared::avatars::AvatarRequest;
use archipelago_shared::budget::TokenBucket;
use archipelago_shared::crowd::{AvatarInputs, MAX_INPUTS_PER_MESSAGE};
use archipelago_shared::movement::{KILL_DEPTH, WorldColliders, sanitize, step};
use archipelago_shared::protocol::{
    AvatarInput, AvatarPose, AvatarProfile, ControlChannel, MAX_ID_CHARS, MAX_TELEPORTS_PER_SECOND,
    RequestRefusal, ToClient, ToServer,
};
use archipelago_shared::world::World;
use bevy::prelude::*;
use lightyear::prelude::*;

use crate::ServerSystems;
use crate::refusal_log::RefusalLog;
use crate::session::{LoggedIn, Request, RequestsExt, Routed, refuse, routed};

use self::gestures::GestureBudget;
use self::seats::{HallSeats, Seated};

/// At most one log line per avatar per this long about clamped or dropped input.
const CLAMP_LOG_INTERVAL: Duration = Duration::from_secs(5);
/// Input messages read from one client per frame; a client sends one per tick.
const INPUT_MESSAGES_PER_FRAME: usize = 8;
/// Inputs waiting to be applied at most (a quarter of a second at 30 Hz): older ones go.
const INPUT_QUEUE: usize = 8;
/// Inputs one avatar may have applied in one tick at most, to catch up after a late packet.
/// Over time it is one per tick, whatever a client sends.
const CATCH_UP: f32 = 3.0;
/// Ticks without any input after which the avatar is stepped with none (it stands, and
/// falls if in the air): a client that sends nothing does not hang in the air.
const IDLE_TICKS: u32 = 15;

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

/// An avatar's inputs received and not yet applied, in order, and the last one applied.
#[derive(Component, Debug, Default)]
pub struct Inputs {
    waiting: VecDeque<(u32, AvatarInput)>,
    /// The newest input number received: older or equal ones are repeats.
    newest: u32,
    /// The last input applied: what the owner replays its later inputs after.
    pub applied: u32,
    /// Inputs it may apply now (one more each tick, at most [`CATCH_UP`]).
    credit: f32,
    idle: u32,
    /// Messages dropped since the client was last told.
    dropped: u32,
    dropped_told: Option<Duration>,
}

impl Inputs {
    /// Takes in a message's inputs that are new, oldest first; drops the oldest waiting past
    /// [`INPUT_QUEUE`].
    fn receive(&mut self, message: &AvatarInputs) {
        for (seq, input) in message.numbered() {
            if seq <= self.newest {
                continue;
            }
            self.newest = seq;
            self.waiting.push_back((seq, input));
        }
        while self.waiting.len() > INPUT_QUEUE {
            self.waiting.pop_front();
        }
    }
}

/// The avatar entity of a link.
#[derive(Component, Debug)]
pub struct HasAvatar(pub Entity);

/// Round-robin over spawn points so arrivals do not stack.
#[derive(Resource, Default)]
struct SpawnCounter(usize);

routed!(AvatarRequest, Avatar);

pub(crate) fn plugin(app: &mut App) {
    app.add_plugins((looks::plugin, gestures::plugin, seats::plugin));
    app.add_observer(spawn_on_login)
        .add_request::<Teleport>()
        .add_request::<AvatarRequest>()
        .init_resource::<SpawnCounter>()
        .add_observer(leave_with_link)
        .add_systems(FixedPreUpdate, read_inputs)
        .add_systems(FixedUpdate, move_avatars)
        .add_systems(Update, teleport.in_set(ServerSystems::Apply));
}

/// A link that goes (its client left) takes its avatar with it.
fn leave_with_link(trigger: On<Remove, HasAvatar>, links: Query<&HasAvatar>, mut commands: Commands) {
    if let Ok(has_avatar) = links.get(trigger.entity)
        && let Ok(mut avatar) = commands.get_entity(has_avatar.0)
    {
        avatar.despawn();
    }
}

/// Takes in each client's inputs. Malformed messages (no input, or more than
/// [`MAX_INPUTS_PER_MESSAGE`]) and messages past [`INPUT_MESSAGES_PER_FRAME`] are dropped,
/// and the client is told, at most every [`CLAMP_LOG_INTERVAL`].
fn read_inputs(
    mut links: Query<(
        Entity,
        &HasAvatar,
        &RemoteId,
        &mut MessageReceiver<AvatarInputs>,
        &mut MessageSender<ToClient>,
    )>,
    mut avatars: Query<&mut Inputs>,
    mut refusals: ResMut<RefusalLog>,
    time: Res<Time>,
) {
    let now = time.elapsed();
    for (link, has_avatar, remote, mut receiver, mut sender) in &mut links {
        let Ok(mut inputs) = avatars.get_mut(has_avatar.0) else {
            receiver.receive().for_each(drop);
            continue;
        };
        for (read, message) in receiver.receive().enumerate() {
            let well_formed =
                !message.inputs.is_empty() && message.inputs.len() <= MAX_INPUTS_PER_MESSAGE;
            if read >= INPUT_MESSAGES_PER_FRAME || !well_formed {
                inputs.dropped += 1;
                continue;
            }
            inputs.receive(&message);
        }
        if inputs.dropped > 0
            && inputs
                .dropped_told
                .is_none_or(|at| now - at >= CLAMP_LOG_INTERVAL)
        {
            let dropped = inputs.dropped;
            refuse(
                &mut refusals,
                link,
                &mut sender,
                remote.0,
                RequestRefusal::InputsDropped { dropped },
            );
            inputs.dropped = 0;
            inputs.dropped_told = Some(now);
        }
    }
}

/// Everyone arrives at the capital as they log in.
fn spawn_on_login(
    trigger: On<Add, LoggedIn>,
    mut commands: Commands,
    links: Query<&LoggedIn, Without<HasAvatar>>,
    world: Res<World>,
    mut counter: ResMut<SpawnCounter>,
    time: Res<Time>,
) {
    let link = trigger.entity;
    let Ok(member) = links.get(link) else {
        return;
    };
    let protocity = world.capital();
    {
        counter.0 += 1;
        let position = world.spawn_position(protocity, counter.0);
        let (look, look_budget) = looks::first_look(&member.public_key, time.elapsed());
        let avatar = commands
            .spawn((
                Name::new(format!("Avatar {}", member.name)),
                AvatarPose {
                    position,
                    yaw: world.arrival_yaw(protocity, position),
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
                Inputs::default(),
                look,
                look_budget,
                GestureBudget::full(time.elapsed()),
            ))
            .id();
        commands.entity(link).insert(HasAvatar(avatar));
        info!("{} arrived at {} ({position})", member.name, protocity.name);
    }
}

/// The authoritative movement step: each avatar applies its next waiting input (more to
/// catch up, within its credit), each clamped, by the shared rule; the owner predicted the
/// same steps from the same inputs.
fn move_avatars(
    mut avatars: Query<(
        Entity,
        &mut AvatarPose,
        &mut Avatar,
        &mut Inputs,
        &Name,
        Option<&Seated>,
    )>,
    colliders: Res<WorldColliders>,
    world: Res<World>,
    seats: Res<HallSeats>,
    mut commands: Commands,
    time: Res<Time<Fixed>>,
) {
    let dt = time.delta_secs();
    for (entity, mut pose, mut avatar, mut inputs, name, seated) in &mut avatars {
        avatar.clamp_log.tick(time.delta());
        inputs.credit = (inputs.credit + 1.0).min(CATCH_UP);
        let mut next = *pose;
        let mut stepped = false;
        let mut seated = seated.copied();
        while inputs.credit >= 1.0 {
            let Some((seq, requested)) = inputs.waiting.pop_front() else {
                break;
            };
            inputs.credit -= 1.0;
            inputs.applied = seq;
            if let Some(seat) = seated {
                // Sitting still holds the seat; walking or jumping gets up in front of it.
                if requested.direction == Vec2::ZERO && !requested.jump {
                    stepped = true;
                    continue;
                }
                if let Some(standing) = seats.standing_place(seat) {
                    next.position = standing;
                }
                commands.entity(entity).remove::<Seated>();
                seated = None;
            }
            let checked = sanitize(&requested);
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
            step(&mut next, &checked.input, dt, &colliders);
            stepped = true;
        }
        if stepped {
            inputs.idle = 0;
        } else if seated.is_some() {
            // A seat holds its sitter up without inputs.
        } else {
            inputs.idle += 1;
            if inputs.idle >= IDLE_TICKS {
                let none = AvatarInput {
                    yaw: next.yaw,
                    ..default()
                };
                step(&mut next, &none, dt, &colliders);
            }
        }
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
    mut commands: Commands,
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
        let yaw = if request.into_hall {
            pose.yaw
        } else {
            world.arrival_yaw(protocity, position)
        };
        *pose = AvatarPose {
            position,
            yaw,
            vertical_speed: 0.0,
            grounded: false,
        };
        commands.entity(has_avatar.0).remove::<Seated>();
        sender.send::<ControlChannel>(ToClient::Teleported {
            protocity: protocity.id.clone(),
        });
        info!("client {:?} teleported to {}", remote.0, protocity.name);
    }
}
