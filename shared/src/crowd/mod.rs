//! Crowds: how each client learns where everyone around it stands, at a cost that grows with
//! the people it can usefully see rather than with everyone in the place.
//!
//! Avatar poses do not go through per-entity replication (whose cost is every avatar times
//! every client, every tick). The server sends each client one packed [`CrowdFrame`] per send
//! tick ([`FRAMES_PER_SECOND`]). Who goes into it is chosen by interest tiers
//! ([`interest`]): the nearest [`interest::NEAR_COUNT`] and whoever holds the stage every
//! frame, the next [`interest::MIDDLE_COUNT`] a few times a second, everyone else in the place
//! about once a second, all within a byte budget per frame. Poses are quantised ([`pack`]):
//! 1 cm and 1/256 of a turn, sent as small deltas against what the client last acknowledged
//! ([`CrowdAck`]).
//!
//! Avatars are not replicated entities at all: replication's send pass visits every
//! replicated entity for every client each time it runs, which at a thousand in one place
//! was most of a core. Who someone is (name, role, key, [`CrowdId`]) reaches the clients that
//! can see them as [`RosterNews`], reliably and only when it changes. One's own avatar is
//! moved by [`AvatarInputs`] and predicted by its owner, who reconciles with the
//! [`OwnPose`] the server answers with.

pub mod interest;
pub mod pack;
pub mod receive;

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use crate::protocol::{AvatarInput, AvatarPose, AvatarProfile, Role};

/// Crowd frames each client receives per second: the nearest tier's rate.
pub const FRAMES_PER_SECOND: u32 = 15;

/// Unreliable and unordered: a late frame is superseded by the next, and a lost one is
/// covered by the following deltas, which refer only to what the client acknowledged.
pub struct CrowdChannel;

/// An avatar's short number in crowd frames, given by the server when the avatar appears and
/// told with it in the roster. Numbers of avatars that left are given again later.
#[derive(
    Component, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[component(immutable)]
pub struct CrowdId(pub u16);

/// One client's view of the crowd around it for one send tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrowdFrame {
    /// Counts this client's frames, wrapping; acknowledged by [`CrowdAck`].
    pub seq: u16,
    /// The server tick the poses were taken at.
    pub tick: u32,
    /// The entries, packed by [`pack::FrameWriter`].
    #[serde(with = "bytes")]
    pub packed: Vec<u8>,
}

/// A `Vec<u8>` as serde bytes (its length, then the bytes), written in one copy rather than
/// one call per byte.
mod bytes {
    use serde::de::{Deserializer, SeqAccess, Visitor};
    use serde::ser::Serializer;

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        deserializer.deserialize_byte_buf(Bytes)
    }

    struct Bytes;

    impl<'de> Visitor<'de> for Bytes {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("bytes")
        }

        fn visit_bytes<E>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
            Ok(bytes.to_vec())
        }

        fn visit_byte_buf<E>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(bytes)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(byte) = seq.next_element()? {
                bytes.push(byte);
            }
            Ok(bytes)
        }
    }
}

/// What the client has received: the newest frame, and the 32 before it as bits (bit `i`
/// set: frame `latest - 1 - i` arrived). Sent for every frame, so a lost ack is made up by
/// the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrowdAck {
    pub latest: u16,
    pub earlier: u32,
}

impl CrowdAck {
    /// The frames this ack says arrived, newest first.
    pub fn frames(&self) -> impl Iterator<Item = u16> + '_ {
        std::iter::once(self.latest).chain(
            (0..32u16)
                .filter(|i| self.earlier & (1 << i) != 0)
                .map(|i| self.latest.wrapping_sub(1 + i)),
        )
    }
}

/// Inputs in one [`AvatarInputs`] at most: the newest and the few before it, so one lost
/// packet loses no input.
pub const MAX_INPUTS_PER_MESSAGE: usize = 4;
/// People in one [`RosterNews::Arrived`] at most: a client walking into a full hall hears of
/// everyone there in several messages rather than one huge one.
pub const MAX_PEOPLE_PER_MESSAGE: usize = 64;

/// The owner's inputs for its avatar, one per fixed tick, numbered: `inputs` ends with input
/// `last` and holds the ones just before it (at most [`MAX_INPUTS_PER_MESSAGE`]). Sent every
/// tick, unreliably; the server applies each number once, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvatarInputs {
    pub last: u32,
    pub inputs: Vec<AvatarInput>,
}

impl AvatarInputs {
    /// Each input with its number, oldest first. Numbers below 1 are not inputs.
    pub fn numbered(&self) -> impl Iterator<Item = (u32, AvatarInput)> + '_ {
        let first = self
            .last
            .wrapping_sub(self.inputs.len() as u32)
            .wrapping_add(1);
        self.inputs
            .iter()
            .enumerate()
            .map(move |(i, input)| (first.wrapping_add(i as u32), *input))
            .filter(|(seq, _)| *seq >= 1 && *seq <= self.last)
    }
}

/// The server's pose of the client's own avatar, after it applied input `input` (0: none
/// yet) at server tick `tick`: the client replays its later inputs from it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OwnPose {
    pub id: CrowdId,
    pub tick: u32,
    pub input: u32,
    pub pose: AvatarPose,
}

/// Someone a client can see: who they are, and their number in crowd frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterEntry {
    pub id: CrowdId,
    pub name: String,
    pub role: Role,
    /// The member's whole public key (hex).
    pub key: String,
    /// Whether they follow a full hall's session from its overflow.
    pub overflow: bool,
    pub look: crate::avatars::Look,
}

impl RosterEntry {
    pub fn profile(&self) -> AvatarProfile {
        AvatarProfile {
            name: self.name.clone(),
            role: self.role,
            key: self.key.clone(),
        }
    }
}

/// Who a client can see, as it changes: reliable and in order, on the control channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RosterNews {
    /// These people are now in sight, or something about them changed (role, overflow, look).
    Arrived(Vec<RosterEntry>),
    /// These are out of sight: they left the place, or this client did.
    Left(Vec<CrowdId>),
}
