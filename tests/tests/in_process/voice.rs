//! Voice in one process: real Opus frames from a headless client, relayed by the server's
//! rules to the others, decoded and mixed as a listener's device would play them.

use archipelago_tests::sim::SimServer;
use archipelago_tests::voice;

#[test]
fn the_floor_is_heard_in_the_hall_and_its_overflow_and_not_outside() {
    let server = SimServer::start();
    let scratch = tempfile::tempdir().expect("a scratch folder");
    voice::the_floor_is_heard_in_the_hall_and_its_overflow(
        |name, role| server.join(name, role),
        scratch.path(),
    );
}

#[test]
fn on_the_grounds_a_voice_carries_twenty_metres() {
    let server = SimServer::start();
    let scratch = tempfile::tempdir().expect("a scratch folder");
    voice::on_the_grounds_a_voice_carries_twenty_metres(
        |name, role| server.join(name, role),
        scratch.path(),
    );
}
