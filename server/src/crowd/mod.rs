//! Crowds: every avatar's pose reaches the others in one packed frame per client per send
//! tick, chosen by interest tiers within a byte budget ([`archipelago_shared::crowd`]); its
//! owner gets its own pose with the input it answers ([`OwnPose`]); who is in sight comes
//! from the [`roster`]. Avatars are not replicated: replication's send pass costs every
//! replicated entity times every client each time it runs (BENCHMARKS.md, "A thousand in
//! one place").

pub mod roster;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use archipelago_shared::assembly::InOverflow;
use archipelago_shared::crowd::interest::{Member, Place as CrowdPlace, Viewer};
use archipelago_shared::crowd::pack::{MAX_ID, Quantized};
use archipelago_shared::crowd::{
    CrowdAck, CrowdChannel, CrowdFrame, CrowdId, FRAMES_PER_SECOND, OwnPose,
};
use archipelago_shared::protocol::AvatarPose;
use archipelago_shared::world::{Place, World};
use bevy::prelude::*;
use lightyear::prelude::*;

use crate::ServerSystems;
use crate::avatars::{Avatar, HasAvatar, Inputs};
use crate::rooms::{InPlace, PlaceRooms, SharedWithOverflow};
use roster::Roster;

/// A viewer's turns (a second's worth) between two [`OwnPose`]s that say nothing new: one
/// that was lost is made up.
const OWN_POSE_REPEAT: u32 = FRAMES_PER_SECOND;
/// Acks read from one client per frame; more are dropped (a client acks each frame once).
const ACKS_PER_FRAME: usize = 8;
/// At most one log line per client per this long about acks dropped.
const DROP_LOG_INTERVAL: Duration = Duration::from_secs(5);

/// Crowd ids in use and free, given again oldest-freed first so a client has long forgotten
/// an id's last owner before it comes back.
#[derive(Resource, Debug, Default)]
struct CrowdIds {
    next: u16,
    free: VecDeque<u16>,
}

/// A link's view of the crowd, and the send tick it takes its turn on.
#[derive(Component, Debug)]
pub struct CrowdView {
    viewer: Viewer,
    phase: u32,
    /// Acks dropped from this client since the last log line, and when that was.
    dropped: u64,
    logged: Option<Duration>,
    /// The own pose last sent (the input it answered, the pose), and frames since.
    own_sent: Option<(u32, AvatarPose)>,
    own_age: u32,
}

impl CrowdView {
    /// Bytes of crowd state held for this client.
    pub fn footprint(&self) -> usize {
        self.viewer.footprint()
    }
}

/// Totals since the start, for the benchmark (in `tick-stats.json`).
#[derive(Resource, Debug, Default, Clone, Copy, serde::Serialize)]
pub struct CrowdStats {
    pub frames: u64,
    /// Bytes of packed entries (the message adds a few).
    pub bytes: u64,
    pub entries: u64,
    /// Entries by tier: the nearest and the stage, the middle, everyone else.
    pub near: u64,
    pub middle: u64,
    pub far: u64,
    /// The longest anyone went unsent to a viewer that receives them, seconds.
    pub oldest_s: f64,
    pub acks_dropped: u64,
    /// Roster entries sent (arrivals and changes, departures), and the times a link that
    /// changed rooms went over everyone in its new rooms.
    pub roster_arrived: u64,
    pub roster_left: u64,
    pub roster_full: u64,
    /// Viewers now, and the bytes of crowd state held for them.
    pub viewers: u64,
    pub state_bytes: u64,
}

/// Counts an avatar's changes of rooms: see [`Member::epoch`].
#[derive(Component, Debug, Default)]
pub struct CrowdEpoch(u16);

/// Fixed ticks run so far: the clock crowd frames are stamped with.
#[derive(Resource, Debug, Default)]
struct CrowdTicks(u32);

pub(crate) fn plugin(app: &mut App) {
    app.add_plugins(roster::plugin)
        .init_resource::<CrowdIds>()
        .init_resource::<CrowdStats>()
        .init_resource::<CrowdTicks>()
        .add_observer(give_id)
        .add_observer(free_id)
        .add_observer(give_view)
        .add_systems(Update, read_acks.in_set(ServerSystems::Receive))
        .add_systems(FixedPostUpdate, (notice_moves, send_frames).chain());
}

fn give_id(
    trigger: On<Add, Avatar>,
    mut ids: ResMut<CrowdIds>,
    mut commands: Commands,
) {
    let id = match ids.free.pop_front() {
        Some(id) => id,
        None if ids.next <= MAX_ID => {
            ids.next += 1;
            ids.next - 1
        }
        None => {
            error!("no crowd id left for {}: the crowd is full", trigger.entity);
            return;
        }
    };
    commands
        .entity(trigger.entity)
        .insert((CrowdId(id), CrowdEpoch::default()));
}

fn free_id(trigger: On<Remove, CrowdId>, ids_of: Query<&CrowdId>, mut ids: ResMut<CrowdIds>) {
    if let Ok(id) = ids_of.get(trigger.entity) {
        ids.free.push_back(id.0);
    }
}

fn give_view(trigger: On<Add, HasAvatar>, mut commands: Commands, mut turns: Local<u32>) {
    *turns = turns.wrapping_add(1);
    commands.entity(trigger.entity).insert(CrowdView {
        viewer: Viewer::default(),
        phase: *turns,
        dropped: 0,
        logged: None,
        own_sent: None,
        own_age: 0,
    });
}

fn read_acks(
    mut links: Query<(Entity, &mut MessageReceiver<CrowdAck>, &mut CrowdView)>,
    mut stats: ResMut<CrowdStats>,
    time: Res<Time>,
) {
    let now = time.elapsed();
    for (link, mut receiver, mut view) in &mut links {
        let mut read = 0;
        for ack in receiver.receive() {
            read += 1;
            if read > ACKS_PER_FRAME {
                stats.acks_dropped += 1;
                view.dropped += 1;
                continue;
            }
            view.viewer.acked(&ack);
        }
        if view.dropped > 0 && view.logged.is_none_or(|at| now - at >= DROP_LOG_INTERVAL) {
            warn!(
                "link {link}: {} crowd acks dropped unread (more than {ACKS_PER_FRAME} in a frame)",
                view.dropped
            );
            view.dropped = 0;
            view.logged = Some(now);
        }
    }
}

/// Whoever changed rooms may have been dropped by some clients and made again by others: an
/// avatar that moved is sent afresh to everyone, and a viewer that moved sends everyone
/// afresh.
fn notice_moves(
    mut avatars: Query<&mut CrowdEpoch, Changed<Rooms>>,
    mut viewers: Query<&mut CrowdView, Changed<Rooms>>,
) {
    for mut epoch in &mut avatars {
        epoch.0 = epoch.0.wrapping_add(1);
    }
    for mut view in &mut viewers {
        view.viewer.forget_all();
    }
}

/// The room a viewer receives the crowd of: the place its avatar stands in, or its hall's
/// overflow.
fn room_of(place: Place, overflow: bool, rooms: &PlaceRooms) -> RoomId {
    match place {
        Place::Hall(hall) if overflow => rooms.overflow(hall),
        other => rooms.room(other),
    }
}

#[expect(clippy::type_complexity, reason = "one query per kind of entity read")]
fn send_frames(
    avatars: Query<(
        &CrowdId,
        &CrowdEpoch,
        &AvatarPose,
        &Rooms,
        Has<SharedWithOverflow>,
        Option<&InPlace>,
        Has<InOverflow>,
        &Inputs,
    )>,
    mut links: Query<(
        &HasAvatar,
        &mut CrowdView,
        &mut MessageSender<CrowdFrame>,
        &mut MessageSender<OwnPose>,
        &Roster,
    )>,
    rooms: Res<PlaceRooms>,
    world: Res<World>,
    time: Res<Time<Fixed>>,
    mut ticks: ResMut<CrowdTicks>,
    mut stats: ResMut<CrowdStats>,
) {
    ticks.0 = ticks.0.wrapping_add(1);
    let every = ((1.0 / FRAMES_PER_SECOND as f32) / time.timestep().as_secs_f32())
        .round()
        .max(1.0) as u32;
    let turn = ticks.0 % every;

    let mut places: HashMap<RoomId, Vec<Member>> = HashMap::new();
    for (id, epoch, pose, in_rooms, stage, ..) in &avatars {
        let member = Member {
            id: id.0,
            pose: Quantized::new(pose.position, pose.yaw),
            stage,
            epoch: epoch.0,
        };
        for room in in_rooms.rooms() {
            places.entry(room).or_default().push(member);
        }
    }
    let places: HashMap<RoomId, CrowdPlace> = places
        .into_iter()
        .map(|(room, members)| (room, CrowdPlace::new(members)))
        .collect();

    if turn == 0 {
        stats.viewers = links.iter().count() as u64;
        stats.state_bytes = links
            .iter()
            .map(|(_, view, .., roster)| (view.footprint() + roster.footprint()) as u64)
            .sum();
    }
    for (has_avatar, mut view, mut sender, mut own_sender, _) in &mut links {
        if view.phase % every != turn {
            continue;
        }
        let Ok((id, _, pose, _, _, in_place, overflow, inputs)) = avatars.get(has_avatar.0) else {
            continue;
        };
        view.own_age += 1;
        let own = (inputs.applied, *pose);
        if view.own_sent != Some(own) || view.own_age >= OWN_POSE_REPEAT {
            own_sender.send::<CrowdChannel>(OwnPose {
                id: *id,
                tick: ticks.0,
                input: inputs.applied,
                pose: *pose,
            });
            view.own_sent = Some(own);
            view.own_age = 0;
        }
        let Some(in_place) = in_place else {
            continue;
        };
        let Some(place) = places.get(&room_of(in_place.0, overflow, &rooms)) else {
            continue;
        };
        let island = world.protocities[in_place.0.protocity()].island.position;
        let written = view.viewer.frame(
            place,
            Some(id.0),
            Quantized::new(pose.position, pose.yaw),
            Vec3::new(island.x, 0.0, island.y),
        );
        if written.entries == 0 {
            continue;
        }
        stats.frames += 1;
        stats.bytes += written.packed.len() as u64;
        stats.entries += written.entries as u64;
        stats.near += u64::from(written.tiers[0]);
        stats.middle += u64::from(written.tiers[1]);
        stats.far += u64::from(written.tiers[2]);
        stats.oldest_s = stats
            .oldest_s
            .max(f64::from(written.oldest) / f64::from(FRAMES_PER_SECOND));
        sender.send::<CrowdChannel>(CrowdFrame {
            seq: written.seq,
            tick: ticks.0,
            packed: written.packed,
        });
    }
}
