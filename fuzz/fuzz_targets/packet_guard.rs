#![no_main]
//! Arbitrary bytes through the server's packet guard, as a hostile client's decrypted packets:
//! the parser and the partial-message count must never panic, and a link the guard lets
//! through never holds more partial messages than allowed.
//!
//! The guard's pure part (`server/src/packet_guard/fragments.rs`) has no dependencies but
//! `thiserror`, so it is compiled here on its own instead of with the whole server.

use std::time::Duration;

use libfuzzer_sys::fuzz_target;

/// As `archipelago_shared::protocol::MAX_CLIENT_MESSAGE_BYTES` (the fragment file reads it
/// from its parent module).
const MAX_CLIENT_MESSAGE_BYTES: usize = 48 * 1024;

#[path = "../../server/src/packet_guard/fragments.rs"]
mod fragments;

fuzz_target!(|data: &[u8]| {
    let mut watch = fragments::FragmentWatch::default();
    let mut now = Duration::ZERO;
    // Packets separated by a marker byte; each one's first byte moves the clock on.
    for (n, packet) in data.split(|b| *b == 0xA5).enumerate() {
        now += Duration::from_millis(u64::from(packet.first().copied().unwrap_or(0)) * 40);
        let Some(header) = fragments::fragment_header(packet) else {
            continue;
        };
        if watch.admit(header, n % 3 != 0, now).is_err() {
            // The guard drops the link: nothing more of it is read.
            break;
        }
        assert!(watch.partials() <= fragments::MAX_PARTIAL_MESSAGES);
        assert!(header.count <= fragments::MAX_FRAGMENTS && header.index < header.count);
    }
});
