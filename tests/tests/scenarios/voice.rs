//! Voice over real QUIC: the same scenarios as in one process (tests/src/voice.rs), on the
//! unreliable channel of a real connection, paced by the wall clock.

use archipelago_tests::{TestServer, voice};

#[test]
fn the_floor_is_heard_in_the_hall_and_its_overflow_and_not_outside() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(dir.path());
    voice::the_floor_is_heard_in_the_hall_and_its_overflow(
        |name, role| server.join(name, role),
        dir.path(),
    );
}

#[test]
fn on_the_grounds_a_voice_carries_twenty_metres() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(dir.path());
    voice::on_the_grounds_a_voice_carries_twenty_metres(
        |name, role| server.join(name, role),
        dir.path(),
    );
}
