//! Voice: who hears whom, and how loud. The client sends Opus frames on an unreliable channel
//! ([`VoiceUp`]); the server forwards them, never decoding, to those who may hear them
//! ([`VoiceDown`]), choosing by the rules here: the floor and the chair of a hall in session
//! reach the whole hall and its overflow at full level; anyone else is heard only nearby, in
//! the same place and room, fading with distance and panned by bearing.

use bevy::math::Vec3;
use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use crate::world::Place;

/// Samples per second of every voice stream (Opus's own rate).
pub const SAMPLE_RATE: u32 = 48_000;
/// One frame: 20 ms.
pub const FRAME_MS: u32 = 20;
/// Samples in one frame of one channel (mono).
pub const FRAME_SAMPLES: usize = (SAMPLE_RATE / 1000 * FRAME_MS) as usize;
/// Frames a speaker sends each second.
pub const FRAMES_PER_SECOND: u32 = 1000 / FRAME_MS;
/// The encoder's target bitrate, bits per second.
pub const BITRATE: i32 = 24_000;
/// Largest frame the server forwards: a 24 kbit/s frame is about 60 bytes, 120 with in-band
/// error correction; more is not a voice.
pub const MAX_FRAME_BYTES: usize = 256;
/// Frames a speaker may send per second, and at once after a stall, before the server drops
/// them: a little over the 50 a second a voice needs.
pub const MAX_FRAMES_PER_SECOND: f32 = 60.0;
pub const FRAME_BURST: f32 = 15.0;

/// How far a voice carries on an island's grounds, metres.
pub const GROUNDS_RANGE: f32 = 20.0;
/// How far someone not on the floor is heard inside a hall in session, metres.
pub const HALL_RANGE: f32 = 3.0;
/// The level of a neighbour in a hall at the closest: quiet, under the floor.
pub const HALL_LEVEL: f32 = 0.35;
/// Within this distance a voice is at its full level.
pub const NEAR: f32 = 1.0;

/// Unreliable, unordered: a late voice frame is useless, and a lost one is concealed.
pub struct VoiceChannel;

/// A frame of this client's voice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceUp {
    /// Counts frames from the speaker's first, wrapping.
    pub seq: u16,
    /// The speaker's clock when the frame was captured, milliseconds, wrapping: for measuring
    /// latency.
    pub at_ms: u32,
    /// One Opus frame of [`FRAME_MS`].
    pub frame: Vec<u8>,
}

/// A frame of someone's voice, as the server forwards it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceDown {
    /// The speaker's avatar, by its number in the roster and crowd frames.
    pub speaker: crate::crowd::CrowdId,
    pub reach: Reach,
    pub seq: u16,
    pub at_ms: u32,
    pub frame: Vec<u8>,
}

/// How a voice reaches a listener, which sets its level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reach {
    /// The floor or the chair: the whole hall and its overflow, at full level, centred.
    Floor,
    /// A neighbour in a hall in session: within [`HALL_RANGE`], quietly.
    Hall,
    /// On the grounds, or in a hall with no session: within [`GROUNDS_RANGE`].
    Grounds,
}

impl Reach {
    /// Farthest a voice of this reach is heard; none: anywhere it reaches.
    pub fn range(self) -> Option<f32> {
        match self {
            Reach::Floor => None,
            Reach::Hall => Some(HALL_RANGE),
            Reach::Grounds => Some(GROUNDS_RANGE),
        }
    }

    /// The level at the closest.
    fn level(self) -> f32 {
        match self {
            Reach::Floor | Reach::Grounds => 1.0,
            Reach::Hall => HALL_LEVEL,
        }
    }
}

/// Where someone is, as the voice rules see them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    pub place: Place,
    /// In the overflow room of the hall at `place`.
    pub overflow: bool,
    pub position: Vec3,
}

/// What the server knows of a speaker besides where they stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpeakerRole {
    /// Holds the floor, or chairs, the session of the hall they stand in.
    pub on_floor: bool,
    /// The hall they stand in has a session open.
    pub in_session: bool,
    /// That session lets only the floor speak.
    pub floor_only: bool,
}

/// How `listener` hears `speaker`, or not at all.
pub fn reach(speaker: &Standing, role: SpeakerRole, listener: &Standing) -> Option<Reach> {
    if speaker.place != listener.place {
        return None;
    }
    let in_hall = matches!(speaker.place, Place::Hall(_));
    if in_hall && role.in_session && role.on_floor {
        return Some(Reach::Floor);
    }
    // Otherwise only the room one stands in: the overflow hears the overflow.
    if speaker.overflow != listener.overflow {
        return None;
    }
    let reach = if in_hall && role.in_session {
        if role.floor_only {
            return None;
        }
        Reach::Hall
    } else {
        Reach::Grounds
    };
    let range = reach.range().unwrap_or(f32::INFINITY);
    (speaker.position.distance(listener.position) <= range).then_some(reach)
}

/// The level (0 to 1) of a voice `distance` metres away: full within [`NEAR`], then falling
/// smoothly to nothing at the reach's range.
pub fn gain(reach: Reach, distance: f32) -> f32 {
    let Some(range) = reach.range() else {
        return reach.level();
    };
    if !distance.is_finite() || distance >= range {
        return 0.0;
    }
    let near = NEAR.min(range * 0.5);
    if distance <= near {
        return reach.level();
    }
    let t = (distance - near) / (range - near);
    reach.level() * (1.0 - t) * (1.0 - t)
}

/// Where a voice sits between the ears, -1 (left) to 1 (right), for a listener at `listener`
/// facing `yaw` (radians around +Y, facing -Z at 0, as avatars turn).
pub fn pan(listener: Vec3, yaw: f32, speaker: Vec3) -> f32 {
    let to = Vec3::new(speaker.x - listener.x, 0.0, speaker.z - listener.z);
    let Some(to) = to.try_normalize() else {
        return 0.0;
    };
    let right = Vec3::new(yaw.cos(), 0.0, -yaw.sin());
    to.dot(right).clamp(-1.0, 1.0)
}

/// Left and right gains for a level and a pan, keeping the power constant across the field.
pub fn stereo(level: f32, pan: f32) -> (f32, f32) {
    let angle = (pan.clamp(-1.0, 1.0) + 1.0) * std::f32::consts::FRAC_PI_4;
    (level * angle.cos(), level * angle.sin())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(place: Place, x: f32) -> Standing {
        Standing {
            place,
            overflow: false,
            position: Vec3::new(x, 0.0, 0.0),
        }
    }

    #[test]
    fn the_floor_reaches_the_whole_hall_and_its_overflow_and_nobody_outside() {
        let hall = Place::Hall(0);
        let floor = SpeakerRole {
            on_floor: true,
            in_session: true,
            floor_only: false,
        };
        let speaker = at(hall, 0.0);
        assert_eq!(reach(&speaker, floor, &at(hall, 40.0)), Some(Reach::Floor));
        let overflow = Standing {
            overflow: true,
            ..at(hall, 60.0)
        };
        assert_eq!(reach(&speaker, floor, &overflow), Some(Reach::Floor));
        assert_eq!(reach(&speaker, floor, &at(Place::Grounds(0), 1.0)), None);
        assert_eq!(reach(&speaker, floor, &at(Place::Hall(1), 1.0)), None);
        assert_eq!(gain(Reach::Floor, 40.0), 1.0);
    }

    #[test]
    fn neighbours_in_a_hall_are_heard_within_three_metres_quietly_unless_only_the_floor_speaks() {
        let hall = Place::Hall(0);
        let seated = SpeakerRole {
            on_floor: false,
            in_session: true,
            floor_only: false,
        };
        let speaker = at(hall, 0.0);
        assert_eq!(reach(&speaker, seated, &at(hall, 2.5)), Some(Reach::Hall));
        assert_eq!(reach(&speaker, seated, &at(hall, 3.5)), None);
        assert!(gain(Reach::Hall, 0.5) <= HALL_LEVEL);
        let formal = SpeakerRole {
            floor_only: true,
            ..seated
        };
        assert_eq!(reach(&speaker, formal, &at(hall, 1.0)), None);
        // The overflow does not hear the hall's murmur, nor the hall the overflow's.
        let overflow = Standing {
            overflow: true,
            ..at(hall, 1.0)
        };
        assert_eq!(reach(&speaker, seated, &overflow), None);
    }

    #[test]
    fn on_the_grounds_a_voice_fades_with_distance_and_is_gone_past_twenty_metres() {
        let grounds = Place::Grounds(2);
        let speaker = at(grounds, 0.0);
        let anyone = SpeakerRole::default();
        assert_eq!(
            reach(&speaker, anyone, &at(grounds, 19.0)),
            Some(Reach::Grounds)
        );
        assert_eq!(reach(&speaker, anyone, &at(grounds, 30.0)), None);
        let levels: Vec<f32> = [0.5, 1.0, 5.0, 10.0, 15.0, 19.9, 20.0, 30.0]
            .iter()
            .map(|&d| gain(Reach::Grounds, d))
            .collect();
        assert_eq!(levels[0], 1.0);
        assert_eq!(levels[1], 1.0);
        assert!(levels.windows(2).all(|w| w[1] <= w[0]), "{levels:?}");
        assert!(levels[2] > levels[3] && levels[3] > levels[4]);
        assert!(levels[5] < 0.01);
        assert_eq!(levels[6], 0.0);
        assert_eq!(levels[7], 0.0);
        assert_eq!(gain(Reach::Grounds, f32::NAN), 0.0);
    }

    #[test]
    fn a_voice_on_the_right_is_panned_right_and_one_ahead_is_centred() {
        // Facing -Z (yaw 0): +X is on the right.
        let me = Vec3::ZERO;
        assert!((pan(me, 0.0, Vec3::new(5.0, 0.0, 0.0)) - 1.0).abs() < 1e-5);
        assert!((pan(me, 0.0, Vec3::new(-5.0, 0.0, 0.0)) + 1.0).abs() < 1e-5);
        assert!(pan(me, 0.0, Vec3::new(0.0, 0.0, -5.0)).abs() < 1e-5);
        // Turned to face +X (yaw -90°), the same voice is straight ahead.
        let facing_x = -std::f32::consts::FRAC_PI_2;
        assert!(pan(me, facing_x, Vec3::new(5.0, 0.0, 0.0)).abs() < 1e-5);
        assert_eq!(pan(me, 0.0, me), 0.0);
        // Constant power: centre is -3 dB on each side; hard right is all right.
        let (l, r) = stereo(1.0, 0.0);
        assert!((l - r).abs() < 1e-6 && (l * l + r * r - 1.0).abs() < 1e-5);
        let (l, r) = stereo(1.0, 1.0);
        assert!(l.abs() < 1e-6 && (r - 1.0).abs() < 1e-6);
    }
}
