//! The pure part of the packet guard: reading a fragment's header as lightyear 0.30.1 lays
//! it out, and counting a link's partial messages. No Bevy, no lightyear: the fuzz target
//! (`fuzz/`) compiles this file on its own.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::MAX_CLIENT_MESSAGE_BYTES;

/// Bytes of lightyear's packet header: type, packet id, last ack, ack bits, tick.
const HEADER_BYTES: usize = 13;
/// Packet type of a packet that carries one fragment (lightyear_transport's `DataFragment`).
const DATA_FRAGMENT: u8 = 1;
/// The payload of one fragment with lightyear's default 1200-byte MTU.
pub const FRAGMENT_BYTES: usize = 1162;
/// The most fragments a message from our client can need: anything more is not ours.
pub const MAX_FRAGMENTS: u64 = MAX_CLIENT_MESSAGE_BYTES.div_ceil(FRAGMENT_BYTES) as u64;
/// Partial messages a link may hold at once. A client sends one large message at a time.
pub const MAX_PARTIAL_MESSAGES: usize = 8;
/// How long a partial message of an unreliable channel is counted (lightyear forgets it
/// after 3 s; counting it longer only errs on the strict side).
const UNRELIABLE_PARTIAL_LIFETIME: Duration = Duration::from_secs(10);
/// Completed messages remembered per link, so a reliable channel's late resend of a fragment
/// is not taken for a new partial message (lightyear ignores those).
const COMPLETED_REMEMBERED: usize = 64;

// The mask of fragments seen is a u64.
const _: () = assert!(MAX_FRAGMENTS <= 64);

/// The fields of a fragment's header that decide what the transport allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentHeader {
    pub channel: u16,
    pub message: u16,
    pub index: u64,
    pub count: u64,
}

/// Reads a QUIC-style variable-length integer (the top two bits of the first byte give its
/// length: 1, 2, 4 or 8 bytes; big-endian), as lightyear writes them.
fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let first = *bytes.get(*at)?;
    let length = 1usize << (first >> 6);
    let rest = bytes.get(*at + 1..*at + length)?;
    *at += length;
    Some(rest.iter().fold(u64::from(first & 0x3f), |value, &b| {
        (value << 8) | u64::from(b)
    }))
}

/// The fragment a plaintext transport packet carries, if it is a fragment packet whose header
/// reads through the fragment count. Anything else (other packet types, a packet cut short)
/// is `None`: lightyear refuses those itself before allocating.
pub fn fragment_header(packet: &[u8]) -> Option<FragmentHeader> {
    if packet.len() < HEADER_BYTES || packet[0] != DATA_FRAGMENT {
        return None;
    }
    let mut at = HEADER_BYTES;
    // lightyear reads the channel as a varint and keeps its low 16 bits.
    let channel = varint(packet, &mut at)? as u16;
    let message = u16::from_be_bytes(packet.get(at..at + 2)?.try_into().ok()?);
    at += 2;
    let index = varint(packet, &mut at)?;
    let count = varint(packet, &mut at)?;
    Some(FragmentHeader {
        channel,
        message,
        index,
        count,
    })
}

/// Why a link was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketViolation {
    #[error(
        "a fragment claims {count} pieces (index {index}); our messages need at most {MAX_FRAGMENTS}"
    )]
    TooManyFragments { index: u64, count: u64 },
    #[error("a fragment is numbered {index} of {count}")]
    BadFragmentIndex { index: u64, count: u64 },
    #[error("a fragment names channel {0}, which does not exist")]
    UnknownChannel(u16),
    #[error("more than {MAX_PARTIAL_MESSAGES} partial messages at once")]
    TooManyPartials,
}

/// A partial message the transport is holding for a link.
#[derive(Debug, Clone)]
struct Partial {
    count: u64,
    /// Bit `i` set: fragment `i` arrived.
    seen: u64,
    last: Duration,
    reliable: bool,
}

/// What one link has sent in fragments: its partial messages and the last completed ones.
#[derive(Debug, Default)]
pub struct FragmentWatch {
    partial: HashMap<(u16, u16), Partial>,
    completed: VecDeque<(u16, u16)>,
}

impl FragmentWatch {
    /// Takes note of one fragment on a channel (`reliable`: whether its partial messages are
    /// kept until they complete), or says why the link must go.
    pub fn admit(
        &mut self,
        fragment: FragmentHeader,
        reliable: bool,
        now: Duration,
    ) -> Result<(), PacketViolation> {
        let FragmentHeader {
            channel,
            message,
            index,
            count,
        } = fragment;
        if count > MAX_FRAGMENTS {
            return Err(PacketViolation::TooManyFragments { index, count });
        }
        // A message is fragmented only when it does not fit one fragment.
        if count < 2 || index >= count {
            return Err(PacketViolation::BadFragmentIndex { index, count });
        }
        let key = (channel, message);
        if reliable && self.completed.contains(&key) {
            return Ok(());
        }
        self.partial
            .retain(|_, p| p.reliable || now.saturating_sub(p.last) < UNRELIABLE_PARTIAL_LIFETIME);
        if !self.partial.contains_key(&key) && self.partial.len() >= MAX_PARTIAL_MESSAGES {
            return Err(PacketViolation::TooManyPartials);
        }
        let partial = self.partial.entry(key).or_insert(Partial {
            count,
            seen: 0,
            last: now,
            reliable,
        });
        partial.seen |= 1 << index;
        partial.last = now;
        // A resend may disagree on the count; the message completes by what was first said.
        if partial.seen.count_ones() as u64 >= partial.count {
            self.partial.remove(&key);
            if self.completed.len() == COMPLETED_REMEMBERED {
                self.completed.pop_front();
            }
            self.completed.push_back(key);
        }
        Ok(())
    }

    /// Partial messages counted now.
    pub fn partials(&self) -> usize {
        self.partial.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fragment packet as lightyear lays it out, with each varint 8 bytes long.
    fn packet(channel: u16, message: u16, index: u64, count: u64) -> Vec<u8> {
        let mut bytes = vec![DATA_FRAGMENT];
        bytes.extend_from_slice(&[0; HEADER_BYTES - 1]);
        let wide = |v: u64| (v | (0b11 << 62)).to_be_bytes();
        bytes.extend_from_slice(&wide(u64::from(channel)));
        bytes.extend_from_slice(&message.to_be_bytes());
        bytes.extend_from_slice(&wide(index));
        bytes.extend_from_slice(&wide(count));
        bytes.push(0);
        bytes
    }

    fn fragment(message: u16, index: u64, count: u64) -> FragmentHeader {
        FragmentHeader {
            channel: 3,
            message,
            index,
            count,
        }
    }

    #[test]
    fn the_parser_reads_the_fields_lightyear_allocates_by() {
        assert_eq!(
            fragment_header(&packet(3, 513, 1, 1 << 40)),
            Some(fragment(513, 1, 1 << 40))
        );
        // One-byte varints: channel 2, index 0, count 5.
        let mut short = vec![DATA_FRAGMENT];
        short.extend_from_slice(&[0; HEADER_BYTES - 1]);
        short.extend_from_slice(&[2, 0x01, 0x02, 0, 5]);
        assert_eq!(
            fragment_header(&short),
            Some(FragmentHeader {
                channel: 2,
                message: 0x0102,
                index: 0,
                count: 5
            })
        );
        assert_eq!(
            fragment_header(&short[..short.len() - 1]),
            None,
            "cut short"
        );
        let mut data = packet(3, 1, 1, 2);
        data[0] = 0;
        assert_eq!(fragment_header(&data), None, "not a fragment packet");
        assert_eq!(fragment_header(&[]), None);
        assert_eq!(fragment_header(&[1; 5]), None);
    }

    #[test]
    fn a_fragment_claiming_more_pieces_than_any_message_of_ours_is_refused() {
        let mut watch = FragmentWatch::default();
        for count in [MAX_FRAGMENTS + 1, 1 << 20, 1 << 40, u64::MAX >> 2] {
            assert_eq!(
                watch.admit(fragment(1, 1, count), true, Duration::ZERO),
                Err(PacketViolation::TooManyFragments { index: 1, count })
            );
        }
        for (index, count) in [(0, 0), (0, 1), (5, 5), (9, 3)] {
            assert_eq!(
                watch.admit(fragment(1, index, count), true, Duration::ZERO),
                Err(PacketViolation::BadFragmentIndex { index, count })
            );
        }
        assert_eq!(watch.partials(), 0);
    }

    #[test]
    fn messages_that_complete_free_their_place_and_too_many_open_ones_are_refused() {
        let mut watch = FragmentWatch::default();
        let now = Duration::from_secs(1);
        // Many whole messages, fragments arriving out of order: always fine.
        for message in 0..200 {
            for index in [2, 0, 1] {
                watch
                    .admit(fragment(message, index, 3), true, now)
                    .expect("a whole message");
            }
        }
        assert_eq!(watch.partials(), 0);
        // A late resend of a completed reliable message is not a new partial.
        watch.admit(fragment(199, 1, 3), true, now).expect("resend");
        assert_eq!(watch.partials(), 0);
        for message in 0..MAX_PARTIAL_MESSAGES as u16 {
            watch
                .admit(fragment(1000 + message, 0, MAX_FRAGMENTS), true, now)
                .expect("a few partial messages");
        }
        assert_eq!(
            watch.admit(fragment(2000, 0, 2), true, now),
            Err(PacketViolation::TooManyPartials)
        );
        // More of a message already counted is fine.
        watch
            .admit(fragment(1000, 1, MAX_FRAGMENTS), true, now)
            .expect("more of one");
    }

    #[test]
    fn unreliable_partials_are_forgotten_as_lightyear_forgets_them_reliable_ones_are_not() {
        let mut watch = FragmentWatch::default();
        for message in 0..MAX_PARTIAL_MESSAGES as u16 {
            watch
                .admit(fragment(message, 0, 4), false, Duration::ZERO)
                .expect("partial");
        }
        let later = UNRELIABLE_PARTIAL_LIFETIME + Duration::from_secs(1);
        watch
            .admit(fragment(100, 0, 4), false, later)
            .expect("the old ones expired");

        let mut watch = FragmentWatch::default();
        for message in 0..MAX_PARTIAL_MESSAGES as u16 {
            watch
                .admit(fragment(message, 0, 4), true, Duration::ZERO)
                .expect("partial");
        }
        assert_eq!(
            watch.admit(fragment(100, 0, 4), true, Duration::from_secs(3600)),
            Err(PacketViolation::TooManyPartials),
            "reliable partials stay in lightyear, so they stay counted"
        );
    }
}
