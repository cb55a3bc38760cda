#![no_main]
//! Arbitrary bytes through the server's packet guard, as a hostile client's decrypted packets:
//! the reader and the counts must never panic, and a link the guard lets through never makes
//! lightyear hold more than the guard allows.
//!
//! The guard's pure part (`server/src/packet_guard/fragments.rs`) has no dependencies but
//! `thiserror`, so it is compiled here on its own instead of with the whole server.

use std::time::Duration;

use libfuzzer_sys::fuzz_target;

/// As `archipelago_shared::protocol::{MAX_CLIENT_MESSAGE_BYTES, LINK_MTU}` (the guard's file
/// reads them from its parent module).
const MAX_CLIENT_MESSAGE_BYTES: usize = 48 * 1024;
const LINK_MTU: usize = 1100;

#[path = "../../server/src/packet_guard/fragments.rs"]
mod fragments;

use fragments::{Delivery, Item};

fuzz_target!(|data: &[u8]| {
    let mut watch = fragments::LinkWatch::default();
    let mut now = Duration::ZERO;
    // Packets separated by a marker byte; each one's first byte moves the clock on. Channels
    // 0 to 3 exist, one of each delivery.
    for packet in data.split(|b| *b == 0xA5) {
        now += Duration::from_millis(u64::from(packet.first().copied().unwrap_or(0)) * 40);
        let checked = fragments::read_packet(packet, |item| {
            let channel = match item {
                Item::Fragment(fragment) => fragment.channel,
                Item::Single { channel, .. } => channel,
            };
            let delivery = match channel {
                0 => Delivery::UnreliableUnordered,
                1 => Delivery::UnreliableSequenced,
                2 => Delivery::ReliableUnordered,
                3 => Delivery::ReliableOrdered,
                _ => return Err(fragments::PacketViolation::UnknownChannel(channel)),
            };
            watch.admit(item, delivery, now)
        });
        if checked.is_err() {
            // The guard drops the link: nothing more of it is read.
            break;
        }
        assert!(watch.partials() <= fragments::MAX_PARTIAL_MESSAGES);
        assert!(watch.waiting() <= fragments::MAX_WAITING_MESSAGES);
    }
});
