//! Who is in sight and where they stand. The roster ([`RosterNews`]) makes and removes an
//! entity per avatar (our own among them), with its [`CrowdId`], [`AvatarProfile`], [`Look`]
//! and [`InOverflow`]. Everyone else's pose comes from the server's crowd frames
//! ([`archipelago_shared::crowd`]): each frame is decoded against what this client
//! acknowledged, acknowledged in turn, and its poses are kept per avatar as samples in
//! server time. Each avatar is drawn a little in the
//! past, between two samples, by as much as its updates are apart: the nearest (15 a second)
//! about 170 ms behind, someone across the plaza (about once a second) about a second and a
//! half, so everyone moves smoothly whatever their rate.

use std::collections::{HashMap, VecDeque};

use archipelago_shared::assembly::InOverflow;
use archipelago_shared::avatars::Look;
use archipelago_shared::crowd::receive::Received;
use archipelago_shared::crowd::{CrowdAck, CrowdChannel, CrowdFrame, CrowdId, RosterNews};
use archipelago_shared::protocol::{AvatarPose, AvatarProfile, ToClient};
use bevy::prelude::*;
use lightyear::prelude::*;

use crate::ClientSystems;
use crate::connection::{ConnectionState, FromServer, Session};

/// Drawn this far behind the newest sample at least, seconds: room for a frame that comes
/// late.
const MARGIN: f64 = 0.1;
/// How fast an avatar's delay may change, seconds per second: one that moves from the far
/// tier to the near one catches up over a second or two instead of jumping.
const DELAY_EASE: f64 = 0.5;
/// Samples kept per avatar.
const SAMPLES: usize = 8;
/// A jump longer than this between samples is a teleport: drawn at once, not slid along.
const TELEPORT: f32 = 8.0;
/// Samples for an id whose avatar has not arrived yet are kept this long, seconds.
const PENDING_FOR: f64 = 5.0;

/// One pose at one server time.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    at: f64,
    position: Vec3,
    yaw: f32,
}

/// The samples of one avatar, and how far behind it is drawn.
#[derive(Component, Debug, Default)]
pub struct CrowdTrack {
    samples: VecDeque<Sample>,
    delay: Option<f64>,
}

impl CrowdTrack {
    fn push(&mut self, sample: Sample) {
        if let Some(last) = self.samples.back() {
            if sample.at <= last.at {
                return;
            }
            if last.position.distance(sample.position) > TELEPORT {
                self.samples.clear();
            }
        }
        self.samples.push_back(sample);
        while self.samples.len() > SAMPLES {
            self.samples.pop_front();
        }
    }

    /// How far behind this avatar should be drawn: the gap between its last two samples,
    /// and a margin.
    fn wanted_delay(&self) -> f64 {
        let n = self.samples.len();
        let gap = if n >= 2 {
            self.samples[n - 1].at - self.samples[n - 2].at
        } else {
            0.0
        };
        gap.min(2.0) + MARGIN
    }

    /// The pose at server time `at`: between the samples around it, or the nearest end.
    fn pose_at(&self, at: f64) -> Option<(Vec3, f32)> {
        let first = self.samples.front()?;
        if at <= first.at {
            return Some((first.position, first.yaw));
        }
        for pair in self.samples.iter().zip(self.samples.iter().skip(1)) {
            let (a, b) = pair;
            if at <= b.at {
                let t = ((at - a.at) / (b.at - a.at)) as f32;
                return Some((a.position.lerp(b.position, t), lerp_angle(a.yaw, b.yaw, t)));
            }
        }
        let last = self.samples.back()?;
        Some((last.position, last.yaw))
    }
}

/// Interpolates angles the short way round.
fn lerp_angle(a: f32, b: f32, t: f32) -> f32 {
    let delta =
        (b - a + std::f32::consts::PI).rem_euclid(std::f32::consts::TAU) - std::f32::consts::PI;
    a + delta * t
}

/// What this client has of the crowd.
#[derive(Resource, Default)]
pub struct Crowd {
    received: Received,
    avatars: HashMap<u16, Entity>,
    /// Samples for ids the roster has not told of yet, with when they came.
    pending: HashMap<u16, (f64, CrowdTrack)>,
    /// Server time minus local time, as the least delayed frame showed it.
    offset: Option<f64>,
    /// Seconds between updates of the drawn poses: 0, every frame; bots, which only count
    /// who is around, ask for less.
    pub draw_every: f64,
    last_drawn: f64,
    /// Frames and entries received, frames that did not parse.
    pub frames: u64,
    pub entries: u64,
    pub malformed: u64,
}

impl Crowd {
    /// The entity of the avatar with this id, once the roster has told of it.
    pub fn avatar(&self, id: CrowdId) -> Option<Entity> {
        self.avatars.get(&id.0).copied()
    }

    /// The server's time now, seconds, as far as frames tell.
    fn server_now(&self, local: f64) -> Option<f64> {
        self.offset.map(|offset| local + offset)
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<Crowd>().add_systems(
        Update,
        (
            (forget_on_leaving, read_roster, read_frames)
                .chain()
                .in_set(ClientSystems::Receive)
                .after(crate::connection::receive_messages),
            place_avatars
                .after(ClientSystems::Receive)
                .before(ClientSystems::Present),
        ),
    );
}

/// Out of the world (the connection lost or closed), nobody is in sight: a new login
/// starts from an empty roster and fresh crowd frames.
fn forget_on_leaving(
    state: Res<ConnectionState>,
    mut crowd: ResMut<Crowd>,
    mut commands: Commands,
) {
    if !state.is_changed() || *state == ConnectionState::InWorld {
        return;
    }
    for (_, entity) in crowd.avatars.drain() {
        commands.entity(entity).despawn();
    }
    let draw_every = crowd.draw_every;
    *crowd = Crowd {
        draw_every,
        ..default()
    };
}

/// Makes, changes and removes the avatars the roster tells of.
pub(crate) fn read_roster(
    mut messages: MessageReader<FromServer>,
    mut crowd: ResMut<Crowd>,
    profiles: Query<(&AvatarProfile, &Look, Has<InOverflow>)>,
    mut commands: Commands,
) {
    for FromServer(message) in messages.read() {
        let ToClient::Roster(news) = message else {
            continue;
        };
        match news {
            RosterNews::Arrived(people) => {
                for person in people {
                    let profile = person.profile();
                    match crowd.avatars.get(&person.id.0) {
                        Some(&entity) => {
                            let Ok((before, look, overflow)) = profiles.get(entity) else {
                                continue;
                            };
                            let mut avatar = commands.entity(entity);
                            if *before != profile {
                                avatar.insert(profile);
                            }
                            if *look != person.look {
                                avatar.insert(person.look);
                            }
                            match (overflow, person.overflow) {
                                (false, true) => {
                                    avatar.insert(InOverflow);
                                }
                                (true, false) => {
                                    avatar.remove::<InOverflow>();
                                }
                                _ => {}
                            }
                        }
                        None => {
                            let mut avatar = commands.spawn((
                                Name::new(format!("Avatar {}", person.name)),
                                person.id,
                                profile,
                                person.look,
                            ));
                            if person.overflow {
                                avatar.insert(InOverflow);
                            }
                            if let Some((_, track)) = crowd.pending.remove(&person.id.0) {
                                avatar.insert(track);
                            }
                            let entity = avatar.id();
                            crowd.avatars.insert(person.id.0, entity);
                        }
                    }
                }
            }
            RosterNews::Left(ids) => {
                for id in ids {
                    if let Some(entity) = crowd.avatars.remove(&id.0) {
                        commands.entity(entity).despawn();
                    }
                }
            }
        }
    }
}

fn read_frames(
    mut links: Query<
        (
            &mut MessageReceiver<CrowdFrame>,
            &mut MessageSender<CrowdAck>,
        ),
        With<Client>,
    >,
    mut tracks: Query<&mut CrowdTrack>,
    mut crowd: ResMut<Crowd>,
    session: Res<Session>,
    time: Res<Time<Real>>,
    mut commands: Commands,
) {
    let now = time.elapsed_secs_f64();
    let hz = f64::from(session.server_tick_hz.max(1));
    let crowd = &mut *crowd;
    for (mut receiver, mut sender) in &mut links {
        // One ack for all the frames read now: each ack also tells the 32 frames before its
        // newest, so a client that reads several frames at once (a slow frame, a starved bot)
        // need not send one for each.
        let mut ack = None;
        for frame in receiver.receive() {
            let got = match crowd.received.read(&frame) {
                Ok(got) => got,
                Err(error) => {
                    crowd.malformed += 1;
                    warn!("{error}");
                    continue;
                }
            };
            ack = got.ack.or(ack);
            let at = f64::from(frame.tick) / hz;
            let offset = at - now;
            crowd.offset = Some(match crowd.offset {
                // A frame that came quicker than any before sets the clock; slower ones pull
                // it back only slowly, so one late frame does not shift everyone.
                Some(old) if offset < old => old + (offset - old) * 0.01,
                _ => offset,
            });
            crowd.frames += 1;
            crowd.entries += got.poses.len() as u64;
            for (id, pose) in got.poses {
                let sample = Sample {
                    at,
                    position: pose.position(),
                    yaw: pose.yaw(),
                };
                match crowd.avatars.get(&id) {
                    Some(&entity) => match tracks.get_mut(entity) {
                        Ok(mut track) => track.push(sample),
                        Err(_) => {
                            let mut track = CrowdTrack::default();
                            track.push(sample);
                            commands.entity(entity).try_insert(track);
                        }
                    },
                    None => {
                        let (when, track) = crowd.pending.entry(id).or_default();
                        *when = now;
                        track.push(sample);
                    }
                }
            }
        }
        if let Some(ack) = ack {
            sender.send::<CrowdChannel>(ack);
        }
    }
    crowd
        .pending
        .retain(|_, (when, _)| now - *when < PENDING_FOR);
}

/// Writes each avatar's drawn pose for now: its samples, a little in the past.
fn place_avatars(
    mut avatars: Query<(Entity, &mut CrowdTrack, Option<&mut AvatarPose>)>,
    mut crowd: ResMut<Crowd>,
    time: Res<Time<Real>>,
    mut commands: Commands,
) {
    let now = time.elapsed_secs_f64();
    let Some(server_now) = crowd.server_now(now) else {
        return;
    };
    let dt = now - crowd.last_drawn;
    if dt < crowd.draw_every {
        return;
    }
    crowd.last_drawn = now;
    for (entity, mut track, pose) in &mut avatars {
        let wanted = track.wanted_delay();
        let delay = match track.delay {
            Some(delay) => delay + (wanted - delay).clamp(-DELAY_EASE * dt, DELAY_EASE * dt),
            None => wanted,
        };
        track.delay = Some(delay);
        let Some((position, yaw)) = track.pose_at(server_now - delay) else {
            continue;
        };
        let drawn = AvatarPose {
            position,
            yaw,
            vertical_speed: 0.0,
            grounded: true,
        };
        match pose {
            Some(mut pose) => {
                if *pose != drawn {
                    *pose = drawn;
                }
            }
            None => {
                commands.entity(entity).try_insert(drawn);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: f64, x: f32) -> Sample {
        Sample {
            at,
            position: Vec3::new(x, 0.0, 0.0),
            yaw: 0.0,
        }
    }

    #[test]
    fn drawn_between_samples_and_held_at_the_ends() {
        let mut track = CrowdTrack::default();
        track.push(sample(1.0, 0.0));
        track.push(sample(2.0, 4.0));
        assert_eq!(track.pose_at(0.5).unwrap().0.x, 0.0);
        assert_eq!(track.pose_at(1.5).unwrap().0.x, 2.0);
        assert_eq!(track.pose_at(3.0).unwrap().0.x, 4.0);
        assert!((track.wanted_delay() - (1.0 + MARGIN)).abs() < 1e-9);
    }

    #[test]
    fn late_samples_are_ignored_and_teleports_restart() {
        let mut track = CrowdTrack::default();
        track.push(sample(1.0, 0.0));
        track.push(sample(0.5, 1.0));
        assert_eq!(track.samples.len(), 1);
        track.push(sample(2.0, 100.0));
        assert_eq!(track.samples.len(), 1);
        assert_eq!(track.pose_at(1.5).unwrap().0.x, 100.0);
    }

    #[test]
    fn angles_go_the_short_way() {
        let halfway = lerp_angle(0.1, std::f32::consts::TAU - 0.1, 0.5);
        assert!(halfway.abs() < 1e-5 || (halfway - std::f32::consts::TAU).abs() < 1e-5);
    }
}
