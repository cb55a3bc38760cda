//! The pure part of the packet guard: reading a transport packet as lightyear 0.30.1 lays it
//! out, at least as strictly as lightyear does, and keeping count of what each link makes
//! lightyear hold: partial fragmented messages, and on ordered reliable channels the
//! messages waiting for an earlier one. No Bevy, no lightyear: the fuzz target (`fuzz/`)
//! compiles this file on its own.
//!
//! Why "at least as strictly": lightyear stops reading a link's packets for the frame at the
//! first one it cannot read, so a packet it refuses after this guard let it through would
//! make the guard's count differ from lightyear's. Every packet lightyear would refuse, the
//! guard refuses first (and drops the link).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use super::{LINK_MTU, MAX_CLIENT_MESSAGE_BYTES};

/// Bytes of lightyear's packet header: type, packet id, last ack, ack bits, tick.
pub const HEADER_BYTES: usize = 13;
/// What lightyear reserves in a fragment packet besides the payload: the header, then the
/// largest encodings of channel id (a varint of a u16: 4), message id (2), fragment index (8),
/// count (8) and the compression byte.
const FRAGMENT_PACKET_OVERHEAD: usize = HEADER_BYTES + 4 + 2 + 8 + 8 + 1;
/// The payload of one fragment on a link of [`LINK_MTU`] bytes: lightyear fills what the
/// overhead leaves, less the payload's length prefix (two bytes for these sizes).
pub const FRAGMENT_BYTES: usize = LINK_MTU - FRAGMENT_PACKET_OVERHEAD - 2;
const _: () = assert!(FRAGMENT_BYTES >= 128 && FRAGMENT_BYTES < 16_384);
/// The most fragments a message from our client can need: anything more is not ours.
pub const MAX_FRAGMENTS: u64 = MAX_CLIENT_MESSAGE_BYTES.div_ceil(FRAGMENT_BYTES) as u64;
/// Partial messages a link may hold at once. A client sends one large message at a time.
pub const MAX_PARTIAL_MESSAGES: usize = 8;
/// Messages an ordered reliable channel may hold for a link while an earlier one is
/// missing, and their bytes. A lost packet is resent within a round trip; a client whose
/// messages run this far ahead of a gap is not losing packets.
pub const MAX_WAITING_MESSAGES: usize = 1024;
pub const MAX_WAITING_BYTES: usize = 2 * 1024 * 1024;
/// How long a partial message of an unreliable channel is counted (lightyear forgets it
/// after 3 s; counting it longer only errs on the strict side).
const UNRELIABLE_PARTIAL_LIFETIME: Duration = Duration::from_secs(10);
/// Completed messages remembered per link, so a reliable channel's late resend of a fragment
/// is not taken for a new partial message (lightyear ignores those).
const COMPLETED_REMEMBERED: usize = 64;

// The mask of fragments seen is a u64.
const _: () = assert!(MAX_FRAGMENTS <= 64);

/// lightyear's packet types.
const DATA: u8 = 0;
const DATA_FRAGMENT: u8 = 1;
const ACK_ONLY: u8 = 4;

/// How a channel delivers, as far as what lightyear holds for it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// No message ids; partial messages expire.
    UnreliableUnordered,
    /// Message ids; partial messages expire.
    UnreliableSequenced,
    /// Message ids; partial messages are kept; a whole message is delivered at once.
    ReliableUnordered,
    /// Message ids; partial messages are kept; a whole message waits for every earlier one.
    ReliableOrdered,
}

/// A fragment, as read from its packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentHeader {
    pub channel: u16,
    pub message: u16,
    pub index: u64,
    pub count: u64,
    /// The compression byte, which the first fragment carries.
    pub compression: Option<u8>,
    /// Length of the fragment's bytes.
    pub bytes: usize,
}

/// One thing a packet carries, in the order lightyear reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Fragment(FragmentHeader),
    Single {
        channel: u16,
        message: Option<u16>,
        bytes: usize,
    },
}

/// Why a link was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketViolation {
    #[error("a packet lightyear cannot read: {0}")]
    Malformed(&'static str),
    #[error(
        "a fragment claims {count} pieces (index {index}); our messages need at most {MAX_FRAGMENTS}"
    )]
    TooManyFragments { index: u64, count: u64 },
    #[error("a fragment is numbered {index} of {count}")]
    BadFragmentIndex { index: u64, count: u64 },
    #[error("a fragment of {bytes} bytes where {expected} {size} belong")]
    BadFragmentSize {
        bytes: usize,
        expected: &'static str,
        size: usize,
    },
    #[error("a message's fragments disagree on their count")]
    FragmentCountMismatch,
    #[error("compressed data, which this server never uses")]
    Compressed,
    #[error("channel {0} does not exist")]
    UnknownChannel(u16),
    #[error("a message without the id its channel needs")]
    MissingMessageId,
    #[error("more than {MAX_PARTIAL_MESSAGES} partial messages at once")]
    TooManyPartials,
    #[error("messages far ahead of a missing one ({0} waiting)")]
    TooFarAhead(usize),
}

/// Reads a QUIC-style variable-length integer (the top two bits of the first byte give its
/// length: 1, 2, 4 or 8 bytes; big-endian), as lightyear writes them.
fn varint(bytes: &[u8], at: &mut usize) -> Result<u64, PacketViolation> {
    let first = *bytes
        .get(*at)
        .ok_or(PacketViolation::Malformed("cut short"))?;
    let length = 1usize << (first >> 6);
    let rest = bytes
        .get(*at + 1..*at + length)
        .ok_or(PacketViolation::Malformed("cut short"))?;
    *at += length;
    Ok(rest.iter().fold(u64::from(first & 0x3f), |value, &b| {
        (value << 8) | u64::from(b)
    }))
}

fn byte(bytes: &[u8], at: &mut usize) -> Result<u8, PacketViolation> {
    let b = *bytes
        .get(*at)
        .ok_or(PacketViolation::Malformed("cut short"))?;
    *at += 1;
    Ok(b)
}

fn id(bytes: &[u8], at: &mut usize) -> Result<u16, PacketViolation> {
    let pair = bytes
        .get(*at..*at + 2)
        .ok_or(PacketViolation::Malformed("cut short"))?;
    *at += 2;
    Ok(u16::from_be_bytes([pair[0], pair[1]]))
}

/// Skips a length-prefixed run of bytes; its length.
fn skip_bytes(bytes: &[u8], at: &mut usize) -> Result<usize, PacketViolation> {
    let length =
        usize::try_from(varint(bytes, at)?).map_err(|_| PacketViolation::Malformed("length"))?;
    if bytes.len().saturating_sub(*at) < length {
        return Err(PacketViolation::Malformed("cut short"));
    }
    *at += length;
    Ok(length)
}

/// Reads a whole plaintext transport packet, handing each fragment and message to `each` in
/// the order lightyear will; a packet lightyear could not read is refused.
pub fn read_packet(
    packet: &[u8],
    mut each: impl FnMut(Item) -> Result<(), PacketViolation>,
) -> Result<(), PacketViolation> {
    if packet.len() < HEADER_BYTES {
        return Err(PacketViolation::Malformed("shorter than a header"));
    }
    let mut at = HEADER_BYTES;
    match packet[0] {
        DATA | ACK_ONLY => {}
        DATA_FRAGMENT => {
            // lightyear reads the channel as a varint and keeps its low 16 bits.
            let channel = varint(packet, &mut at)? as u16;
            let message = id(packet, &mut at)?;
            let index = varint(packet, &mut at)?;
            let count = varint(packet, &mut at)?;
            // Decided before reading further: lightyear allocates by these two.
            if count > MAX_FRAGMENTS {
                return Err(PacketViolation::TooManyFragments { index, count });
            }
            let compression = if index == 0 {
                Some(byte(packet, &mut at)?)
            } else {
                None
            };
            let bytes = skip_bytes(packet, &mut at)?;
            each(Item::Fragment(FragmentHeader {
                channel,
                message,
                index,
                count,
                compression,
                bytes,
            }))?;
        }
        2 | 3 => return Err(PacketViolation::Compressed),
        _ => return Err(PacketViolation::Malformed("unknown packet type")),
    }
    while at < packet.len() {
        let channel = varint(packet, &mut at)? as u16;
        let messages = byte(packet, &mut at)?;
        for _ in 0..messages {
            let message = match byte(packet, &mut at)? {
                0 => None,
                _ => Some(id(packet, &mut at)?),
            };
            let bytes = skip_bytes(packet, &mut at)?;
            each(Item::Single {
                channel,
                message,
                bytes,
            })?;
        }
    }
    Ok(())
}

/// A partial message the transport is holding for a link.
#[derive(Debug, Clone)]
struct Partial {
    count: u64,
    /// Bit `i` set: fragment `i` arrived.
    seen: u64,
    last: Duration,
    expires: bool,
}

/// An ordered reliable channel: the next message id it delivers, and the whole messages
/// waiting for it (id → bytes).
#[derive(Debug, Default)]
struct Ordered {
    next: u16,
    waiting: BTreeMap<u16, usize>,
    waiting_bytes: usize,
}

/// What one link has made lightyear hold: partial messages, the last completed ones, and
/// what waits on ordered channels.
#[derive(Debug, Default)]
pub struct LinkWatch {
    partial: HashMap<(u16, u16), Partial>,
    completed: VecDeque<(u16, u16)>,
    ordered: HashMap<u16, Ordered>,
}

impl LinkWatch {
    /// Takes note of one thing a packet carries on a channel that delivers as `delivery`,
    /// or says why the link must go.
    pub fn admit(
        &mut self,
        item: Item,
        delivery: Delivery,
        now: Duration,
    ) -> Result<(), PacketViolation> {
        match item {
            Item::Fragment(fragment) => self.fragment(fragment, delivery, now),
            Item::Single {
                channel,
                message,
                bytes,
            } => match (message, delivery) {
                (None, Delivery::UnreliableUnordered) => Ok(()),
                (None, _) => Err(PacketViolation::MissingMessageId),
                (Some(message), _) => self.whole(channel, message, bytes, delivery),
            },
        }
    }

    fn fragment(
        &mut self,
        fragment: FragmentHeader,
        delivery: Delivery,
        now: Duration,
    ) -> Result<(), PacketViolation> {
        let FragmentHeader {
            channel,
            message,
            index,
            count,
            compression,
            bytes,
        } = fragment;
        if count > MAX_FRAGMENTS {
            return Err(PacketViolation::TooManyFragments { index, count });
        }
        // A message is fragmented only when it does not fit one fragment.
        if count < 2 || index >= count {
            return Err(PacketViolation::BadFragmentIndex { index, count });
        }
        if compression.is_some_and(|c| c != 0) {
            return Err(PacketViolation::Compressed);
        }
        if index + 1 < count && bytes != FRAGMENT_BYTES {
            return Err(PacketViolation::BadFragmentSize {
                bytes,
                expected: "exactly",
                size: FRAGMENT_BYTES,
            });
        }
        if bytes > FRAGMENT_BYTES {
            return Err(PacketViolation::BadFragmentSize {
                bytes,
                expected: "at most",
                size: FRAGMENT_BYTES,
            });
        }
        let key = (channel, message);
        let reliable = matches!(
            delivery,
            Delivery::ReliableUnordered | Delivery::ReliableOrdered
        );
        if reliable && self.completed.contains(&key) {
            return Ok(());
        }
        self.partial
            .retain(|_, p| !p.expires || now.saturating_sub(p.last) < UNRELIABLE_PARTIAL_LIFETIME);
        if !self.partial.contains_key(&key) && self.partial.len() >= MAX_PARTIAL_MESSAGES {
            return Err(PacketViolation::TooManyPartials);
        }
        let partial = self.partial.entry(key).or_insert(Partial {
            count,
            seen: 0,
            last: now,
            expires: !reliable,
        });
        if partial.count != count {
            return Err(PacketViolation::FragmentCountMismatch);
        }
        partial.seen |= 1 << index;
        partial.last = now;
        if u64::from(partial.seen.count_ones()) < count {
            return Ok(());
        }
        self.partial.remove(&key);
        if self.completed.len() == COMPLETED_REMEMBERED {
            self.completed.pop_front();
        }
        self.completed.push_back(key);
        self.whole(channel, message, count as usize * FRAGMENT_BYTES, delivery)
    }

    /// A whole message arrived: on an ordered channel, it waits unless it is the next.
    fn whole(
        &mut self,
        channel: u16,
        message: u16,
        bytes: usize,
        delivery: Delivery,
    ) -> Result<(), PacketViolation> {
        if delivery != Delivery::ReliableOrdered {
            return Ok(());
        }
        // lightyear's ids start at 0 on each channel and wrap; it takes any id up to half the
        // range ahead of the next.
        let ordered = self.ordered.entry(channel).or_default();
        let ahead = message.wrapping_sub(ordered.next) as i16;
        if ahead < 0 || ordered.waiting.contains_key(&message) {
            return Ok(());
        }
        if ahead > 0 {
            ordered.waiting.insert(message, bytes);
            ordered.waiting_bytes += bytes;
            if ordered.waiting.len() > MAX_WAITING_MESSAGES
                || ordered.waiting_bytes > MAX_WAITING_BYTES
            {
                return Err(PacketViolation::TooFarAhead(ordered.waiting.len()));
            }
            return Ok(());
        }
        ordered.next = ordered.next.wrapping_add(1);
        while let Some(bytes) = ordered.waiting.remove(&ordered.next) {
            ordered.waiting_bytes -= bytes;
            ordered.next = ordered.next.wrapping_add(1);
        }
        Ok(())
    }

    /// Partial messages counted now.
    pub fn partials(&self) -> usize {
        self.partial.len()
    }

    /// Whole messages waiting on ordered channels now.
    pub fn waiting(&self) -> usize {
        self.ordered.values().map(|o| o.waiting.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELIABLE: Delivery = Delivery::ReliableUnordered;

    /// A fragment packet as lightyear lays it out, with each varint 8 bytes long.
    fn packet(channel: u16, message: u16, index: u64, count: u64, bytes: usize) -> Vec<u8> {
        let mut packet = vec![DATA_FRAGMENT];
        packet.extend_from_slice(&[0; HEADER_BYTES - 1]);
        let wide = |v: u64| (v | (0b11 << 62)).to_be_bytes();
        packet.extend_from_slice(&wide(u64::from(channel)));
        packet.extend_from_slice(&message.to_be_bytes());
        packet.extend_from_slice(&wide(index));
        packet.extend_from_slice(&wide(count));
        if index == 0 {
            packet.push(0);
        }
        packet.extend_from_slice(&wide(bytes as u64));
        packet.extend(std::iter::repeat_n(7, bytes));
        packet
    }

    fn items(packet: &[u8]) -> Result<Vec<Item>, PacketViolation> {
        let mut items = Vec::new();
        read_packet(packet, |item| {
            items.push(item);
            Ok(())
        })?;
        Ok(items)
    }

    fn fragment(message: u16, index: u64, count: u64) -> Item {
        Item::Fragment(FragmentHeader {
            channel: 3,
            message,
            index,
            count,
            compression: (index == 0).then_some(0),
            bytes: if index + 1 < count {
                FRAGMENT_BYTES
            } else {
                10
            },
        })
    }

    fn single(message: u16) -> Item {
        Item::Single {
            channel: 2,
            message: Some(message),
            bytes: 100,
        }
    }

    #[test]
    fn the_reader_reads_what_lightyear_reads_and_refuses_what_it_cannot() {
        assert_eq!(
            items(&packet(3, 513, 1, 2, 10)),
            Ok(vec![Item::Fragment(FragmentHeader {
                channel: 3,
                message: 513,
                index: 1,
                count: 2,
                compression: None,
                bytes: 10
            })])
        );
        // A count past ours is refused before the rest is read (it may be cut short).
        let huge = packet(3, 9, 1, 1 << 40, 0);
        assert_eq!(
            items(&huge[..huge.len() - 8]),
            Err(PacketViolation::TooManyFragments {
                index: 1,
                count: 1 << 40
            })
        );
        // A Data packet: channel 2 with two messages, one with an id, one without.
        let mut data = vec![DATA];
        data.extend_from_slice(&[0; HEADER_BYTES - 1]);
        data.extend_from_slice(&[2, 2, 1, 0, 5, 3, b'a', b'b', b'c', 0, 1, b'z']);
        assert_eq!(
            items(&data),
            Ok(vec![
                Item::Single {
                    channel: 2,
                    message: Some(5),
                    bytes: 3
                },
                Item::Single {
                    channel: 2,
                    message: None,
                    bytes: 1
                },
            ])
        );
        assert!(matches!(
            items(&data[..data.len() - 1]),
            Err(PacketViolation::Malformed(_))
        ));
        let mut compressed = data.clone();
        compressed[0] = 2;
        assert_eq!(items(&compressed), Err(PacketViolation::Compressed));
        compressed[0] = 9;
        assert!(matches!(
            items(&compressed),
            Err(PacketViolation::Malformed(_))
        ));
        assert!(items(&[]).is_err());
        assert!(items(&[1; 5]).is_err());
        let mut ack_only = vec![ACK_ONLY];
        ack_only.extend_from_slice(&[0; HEADER_BYTES - 1]);
        assert_eq!(items(&ack_only), Ok(Vec::new()));
    }

    #[test]
    fn fragments_lightyear_would_refuse_after_allocating_are_refused_first() {
        let mut watch = LinkWatch::default();
        let now = Duration::ZERO;
        for count in [MAX_FRAGMENTS + 1, 1 << 20, 1 << 40] {
            assert!(matches!(
                watch.admit(fragment(1, 1, count), RELIABLE, now),
                Err(PacketViolation::TooManyFragments { .. })
            ));
        }
        for (index, count) in [(0, 0), (0, 1), (5, 5), (9, 3)] {
            assert!(matches!(
                watch.admit(fragment(1, index, count), RELIABLE, now),
                Err(PacketViolation::BadFragmentIndex { .. })
            ));
        }
        let short = Item::Fragment(FragmentHeader {
            bytes: 100,
            ..match fragment(1, 0, 3) {
                Item::Fragment(f) => f,
                _ => unreachable!(),
            }
        });
        assert!(matches!(
            watch.admit(short, RELIABLE, now),
            Err(PacketViolation::BadFragmentSize { .. })
        ));
        let lz4 = Item::Fragment(FragmentHeader {
            compression: Some(1),
            ..match fragment(1, 0, 3) {
                Item::Fragment(f) => f,
                _ => unreachable!(),
            }
        });
        assert_eq!(
            watch.admit(lz4, RELIABLE, now),
            Err(PacketViolation::Compressed)
        );
        watch
            .admit(fragment(1, 0, 3), RELIABLE, now)
            .expect("first of three");
        assert_eq!(
            watch.admit(fragment(1, 1, 4), RELIABLE, now),
            Err(PacketViolation::FragmentCountMismatch),
            "lightyear refuses a second count for the same message"
        );
        assert_eq!(
            watch.admit(
                Item::Single {
                    channel: 2,
                    message: None,
                    bytes: 1
                },
                RELIABLE,
                now
            ),
            Err(PacketViolation::MissingMessageId)
        );
    }

    #[test]
    fn messages_that_complete_free_their_place_and_too_many_open_ones_are_refused() {
        let mut watch = LinkWatch::default();
        let now = Duration::from_secs(1);
        for message in 0..200 {
            for index in [2, 0, 1] {
                watch
                    .admit(fragment(message, index, 3), RELIABLE, now)
                    .expect("a whole message");
            }
        }
        assert_eq!(watch.partials(), 0);
        watch
            .admit(fragment(199, 1, 3), RELIABLE, now)
            .expect("a late resend of a completed message");
        assert_eq!(watch.partials(), 0);
        for message in 0..MAX_PARTIAL_MESSAGES as u16 {
            watch
                .admit(fragment(1000 + message, 0, MAX_FRAGMENTS), RELIABLE, now)
                .expect("a few partial messages");
        }
        assert_eq!(
            watch.admit(fragment(2000, 0, 2), RELIABLE, now),
            Err(PacketViolation::TooManyPartials)
        );
        watch
            .admit(fragment(1000, 1, MAX_FRAGMENTS), RELIABLE, now)
            .expect("more of one already counted");
    }

    #[test]
    fn unreliable_partials_are_forgotten_as_lightyear_forgets_them_reliable_ones_are_not() {
        let mut watch = LinkWatch::default();
        for message in 0..MAX_PARTIAL_MESSAGES as u16 {
            watch
                .admit(
                    fragment(message, 0, 4),
                    Delivery::UnreliableSequenced,
                    Duration::ZERO,
                )
                .expect("partial");
        }
        let later = UNRELIABLE_PARTIAL_LIFETIME + Duration::from_secs(1);
        watch
            .admit(fragment(100, 0, 4), Delivery::UnreliableSequenced, later)
            .expect("the old ones expired");

        let mut watch = LinkWatch::default();
        for message in 0..MAX_PARTIAL_MESSAGES as u16 {
            watch
                .admit(fragment(message, 0, 4), RELIABLE, Duration::ZERO)
                .expect("partial");
        }
        assert_eq!(
            watch.admit(fragment(100, 0, 4), RELIABLE, Duration::from_secs(3600)),
            Err(PacketViolation::TooManyPartials),
            "reliable partials stay in lightyear, so they stay counted"
        );
    }

    #[test]
    fn an_ordered_channel_holds_only_so_much_behind_a_missing_message() {
        let ordered = Delivery::ReliableOrdered;
        let now = Duration::ZERO;
        // In order, and with the gaps a lossy link makes, nothing piles up.
        let mut watch = LinkWatch::default();
        for message in [0, 2, 3, 1, 4, 6, 5] {
            watch.admit(single(message), ordered, now).expect("in time");
        }
        assert_eq!(watch.waiting(), 0);
        // Ids run on past the wrap.
        for message in 7..=u16::MAX {
            watch
                .admit(single(message), ordered, now)
                .expect("in order");
        }
        watch.admit(single(0), ordered, now).expect("wrapped");
        assert_eq!(watch.waiting(), 0);

        // Never sending the first, and everything after it, is refused.
        let mut watch = LinkWatch::default();
        let refused = (1..=u16::MAX / 2)
            .map(|message| watch.admit(single(message), ordered, now))
            .find(Result::is_err);
        assert_eq!(
            refused,
            Some(Err(PacketViolation::TooFarAhead(MAX_WAITING_MESSAGES + 1)))
        );
        // Whole fragmented messages count by their bytes.
        let mut watch = LinkWatch::default();
        let refused = (1..200u16)
            .flat_map(|message| (0..MAX_FRAGMENTS).map(move |index| (message, index)))
            .map(|(message, index)| {
                watch.admit(fragment(message, index, MAX_FRAGMENTS), ordered, now)
            })
            .find(Result::is_err);
        assert!(
            matches!(refused, Some(Err(PacketViolation::TooFarAhead(n))) if n < 100),
            "{refused:?}"
        );
    }
}
