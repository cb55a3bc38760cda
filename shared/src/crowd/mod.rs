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
//! Who someone is (name, role, key) and that they are there at all still travel by
//! replication, on the avatar entity, with its [`CrowdId`]: that changes rarely.

pub mod interest;
pub mod pack;
pub mod receive;

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

/// Crowd frames each client receives per second: the nearest tier's rate.
pub const FRAMES_PER_SECOND: u32 = 15;

/// Unreliable and unordered: a late frame is superseded by the next, and a lost one is
/// covered by the following deltas, which refer only to what the client acknowledged.
pub struct CrowdChannel;

/// An avatar's short number in crowd frames, given by the server when the avatar appears and
/// replicated with it. Numbers of avatars that left are given again later.
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
    pub packed: Vec<u8>,
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
