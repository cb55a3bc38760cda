//! Voice on the server: a relay that never decodes. Each frame a client sends is checked
//! (size, rate, a mute in force) and forwarded to those who may hear it, by
//! [`archipelago_shared::voice::reach`]: the floor and the chair of a hall in session reach the
//! whole hall and its overflow; anyone else only those near them in the same room. What is
//! dropped is counted per reason, and logged at most every few seconds per speaker.

use std::time::Duration;

use archipelago_shared::assembly::InOverflow;
use archipelago_shared::budget::TokenBucket;
use archipelago_shared::clock::Clock;
use archipelago_shared::crowd::CrowdId;
use archipelago_shared::identity::to_hex;
use archipelago_shared::protocol::{AvatarPose, ControlChannel, RequestRefusal, ToClient};
use archipelago_shared::voice::{
    FRAME_BURST, MAX_FRAME_BYTES, MAX_FRAMES_PER_SECOND, SpeakerRole, Standing, VoiceChannel,
    VoiceDown, VoiceUp, reach,
};
use archipelago_shared::world::{Place, World};
use bevy::prelude::*;
use lightyear::prelude::*;

use crate::ServerSystems;
use crate::assembly::{HallSessions, Sanctions};
use crate::avatars::{Avatar, HasAvatar};
use crate::rooms::InPlace;
use crate::session::LoggedIn;

/// Least time between two log lines about one speaker's dropped frames.
const LOG_EVERY: Duration = Duration::from_secs(5);
/// A pause this long ends a stretch of speech (for the minutes).
const SPELL_GAP: Duration = Duration::from_secs(1);

/// Someone spoke in a hall in session for a while: the minutes note who and how long, never
/// what (no audio is kept).
#[derive(Message, Debug, Clone, PartialEq)]
pub struct Spoke {
    pub link: Entity,
    pub hall: usize,
    pub seconds: f32,
}

/// A stretch of speech in a hall in session, going on.
#[derive(Debug, Clone, Copy)]
struct Spell {
    hall: usize,
    started: Duration,
    last: Duration,
}

impl Spell {
    fn spoke(self, link: Entity) -> Spoke {
        Spoke {
            link,
            hall: self.hall,
            seconds: (self.last - self.started).as_secs_f32() + 0.02,
        }
    }
}

/// Why a frame was not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Empty, or larger than [`MAX_FRAME_BYTES`].
    Size,
    /// Over the speaker's rate.
    Rate,
    /// A moderator's mute holds where the speaker stands.
    Muted,
    /// The speaker has no avatar in the world.
    Nowhere,
}

impl Dropped {
    fn as_str(self) -> &'static str {
        match self {
            Dropped::Size => "size",
            Dropped::Rate => "rate",
            Dropped::Muted => "muted",
            Dropped::Nowhere => "nowhere",
        }
    }
}

/// One link's voice: its rate, and what was dropped since its last log line.
#[derive(Component, Debug)]
pub struct VoiceBudget {
    frames: TokenBucket,
    dropped: u32,
    last_logged: Option<Duration>,
    spell: Option<Spell>,
}

/// Totals since the server started, for tests and the metrics page.
#[derive(Resource, Debug, Default, Clone, PartialEq, Eq)]
pub struct VoiceStats {
    pub received: u64,
    /// Frames sent on, one per listener.
    pub forwarded: u64,
    pub dropped_size: u64,
    pub dropped_rate: u64,
    pub dropped_muted: u64,
    pub dropped_nowhere: u64,
}

impl VoiceStats {
    fn count(&mut self, why: Dropped) {
        match why {
            Dropped::Size => self.dropped_size += 1,
            Dropped::Rate => self.dropped_rate += 1,
            Dropped::Muted => self.dropped_muted += 1,
            Dropped::Nowhere => self.dropped_nowhere += 1,
        }
        metrics::counter!("archipelago_voice_frames_dropped_total", "why" => why.as_str())
            .increment(1);
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<VoiceStats>()
        .add_message::<Spoke>()
        .add_observer(give_budget)
        .add_systems(
            Update,
            (relay, end_spells).chain().in_set(ServerSystems::Apply),
        );
}

fn give_budget(trigger: On<Add, LoggedIn>, mut commands: Commands, time: Res<Time>) {
    commands.entity(trigger.entity).insert(VoiceBudget {
        frames: TokenBucket::full(MAX_FRAMES_PER_SECOND, FRAME_BURST, time.elapsed()),
        dropped: 0,
        last_logged: None,
        spell: None,
    });
}

/// Someone who may hear: their link and where their avatar stands.
struct Ear {
    link: Entity,
    standing: Standing,
}

type Speakers<'w, 's> = Query<
    'w,
    's,
    (
        Entity,
        &'static LoggedIn,
        Option<&'static HasAvatar>,
        &'static mut MessageReceiver<VoiceUp>,
        &'static mut VoiceBudget,
        &'static mut MessageSender<ToClient>,
    ),
>;

type Senders<'w, 's> = Query<
    'w,
    's,
    (Entity, &'static HasAvatar, &'static mut MessageSender<VoiceDown>),
    With<LoggedIn>,
>;

type Avatars<'w, 's> = Query<
    'w,
    's,
    (
        &'static AvatarPose,
        &'static InPlace,
        Has<InOverflow>,
        &'static CrowdId,
    ),
    With<Avatar>,
>;

/// The speaker's avatar (by its crowd id), where it stands and its role there.
struct Voice {
    speaker: CrowdId,
    standing: Standing,
    role: SpeakerRole,
}

#[expect(
    clippy::too_many_arguments,
    reason = "one system doing one job over many parts"
)]
fn relay(
    mut speakers: Speakers,
    mut senders: Senders,
    avatars: Avatars,
    sessions: Query<&archipelago_shared::assembly::HallSession>,
    halls: Res<HallSessions>,
    sanctions: Res<Sanctions>,
    world: Res<World>,
    clock: Res<Clock>,
    time: Res<Time>,
    mut stats: ResMut<VoiceStats>,
    mut spoke: MessageWriter<Spoke>,
) {
    // Who may hear, gathered once for every frame of this update.
    let mut ears: Option<Vec<Ear>> = None;
    let now = time.elapsed();
    for (link, member, has_avatar, mut receiver, mut budget, mut told) in &mut speakers {
        let frames: Vec<VoiceUp> = receiver.receive().collect();
        if frames.is_empty() {
            continue;
        }
        let key = to_hex(&member.public_key);
        let voice = has_avatar.and_then(|a| {
            let standing = standing_of(&avatars, a.0)?;
            Some(Voice {
                speaker: *avatars.get(a.0).ok()?.3,
                standing,
                role: role_in(standing.place, &key, &halls, &sessions),
            })
        });
        for frame in frames {
            stats.received += 1;
            let checked = check(&frame, voice.as_ref(), &mut budget, now, || {
                let hall = match voice.as_ref().map(|v| v.standing.place) {
                    Some(Place::Hall(i)) => world.protocities.get(i).map(|p| p.id.as_str()),
                    _ => None,
                };
                sanctions
                    .muted(&key, hall, clock.unix_seconds())
                    .is_some()
            });
            let voice = match checked {
                Ok(voice) => voice,
                Err(why) => {
                    stats.count(why);
                    budget.dropped += 1;
                    continue;
                }
            };
            if let (Place::Hall(hall), true) = (voice.standing.place, voice.role.in_session) {
                match budget.spell.as_mut() {
                    Some(spell) if spell.hall == hall && now - spell.last < SPELL_GAP => {
                        spell.last = now;
                    }
                    _ => {
                        if let Some(ended) = budget.spell.take() {
                            spoke.write(ended.spoke(link));
                        }
                        budget.spell = Some(Spell {
                            hall,
                            started: now,
                            last: now,
                        });
                    }
                }
            }
            let ears = ears.get_or_insert_with(|| gather(&senders, &avatars));
            for ear in ears.iter().filter(|ear| ear.link != link) {
                let Some(reach) = reach(&voice.standing, voice.role, &ear.standing) else {
                    continue;
                };
                if let Ok((_, _, mut sender)) = senders.get_mut(ear.link) {
                    sender.send::<VoiceChannel>(VoiceDown {
                        speaker: voice.speaker,
                        reach,
                        seq: frame.seq,
                        at_ms: frame.at_ms,
                        frame: frame.frame.clone(),
                    });
                    stats.forwarded += 1;
                }
            }
        }
        if budget.dropped > 0 && budget.last_logged.is_none_or(|at| now >= at + LOG_EVERY) {
            warn!(
                "voice from {}: {} frames dropped (too large, too fast, muted or nowhere)",
                member.name, budget.dropped
            );
            // The speaker hears of it as often as the log does, not per frame.
            told.send::<ControlChannel>(ToClient::Refused(RequestRefusal::VoiceDropped {
                dropped: budget.dropped,
            }));
            budget.dropped = 0;
            budget.last_logged = Some(now);
        }
    }
    if stats.is_changed() {
        metrics::gauge!("archipelago_voice_frames_forwarded").set(stats.forwarded as f64);
    }
}

/// Ends the stretches of speech that paused, for the minutes.
fn end_spells(
    mut budgets: Query<(Entity, &mut VoiceBudget)>,
    mut spoke: MessageWriter<Spoke>,
    time: Res<Time>,
) {
    let now = time.elapsed();
    for (link, mut budget) in &mut budgets {
        if budget
            .spell
            .is_some_and(|spell| now - spell.last >= SPELL_GAP)
            && let Some(ended) = budget.spell.take()
        {
            spoke.write(ended.spoke(link));
        }
    }
}

/// The frame's speaker if it may be forwarded, or why not. The mute is looked up last: it
/// is the dearest check.
fn check<'v>(
    frame: &VoiceUp,
    voice: Option<&'v Voice>,
    budget: &mut VoiceBudget,
    now: Duration,
    muted: impl FnOnce() -> bool,
) -> Result<&'v Voice, Dropped> {
    if frame.frame.is_empty() || frame.frame.len() > MAX_FRAME_BYTES {
        return Err(Dropped::Size);
    }
    if !budget.frames.take(now) {
        return Err(Dropped::Rate);
    }
    let voice = voice.ok_or(Dropped::Nowhere)?;
    if muted() {
        return Err(Dropped::Muted);
    }
    Ok(voice)
}

/// Whether the speaker holds the floor or chairs the session of the hall they stand in.
fn role_in(
    place: Place,
    key: &str,
    halls: &HallSessions,
    sessions: &Query<&archipelago_shared::assembly::HallSession>,
) -> SpeakerRole {
    let Place::Hall(hall) = place else {
        return SpeakerRole::default();
    };
    let Some(session) = halls
        .by_hall
        .get(&hall)
        .and_then(|&entity| sessions.get(entity).ok())
    else {
        return SpeakerRole::default();
    };
    let speaking = session.floor.as_ref().is_some_and(|f| f.speaker.key == key);
    SpeakerRole {
        on_floor: speaking || session.chair.key == key,
        in_session: true,
        floor_only: session.floor_only,
    }
}

/// Where an avatar stands, as the voice rules see it.
fn standing_of(avatars: &Avatars, avatar: Entity) -> Option<Standing> {
    let (pose, place, overflow, _) = avatars.get(avatar).ok()?;
    Some(Standing {
        place: place.0,
        overflow,
        position: pose.position,
    })
}

fn gather(senders: &Senders, avatars: &Avatars) -> Vec<Ear> {
    senders
        .iter()
        .filter_map(|(link, has_avatar, _)| {
            Some(Ear {
                link,
                standing: standing_of(avatars, has_avatar.0)?,
            })
        })
        .collect()
}
