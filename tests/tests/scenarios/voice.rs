//! Voice over real QUIC: the same scenarios as in one process (tests/src/voice.rs), on the
//! unreliable channel of a real connection, paced by the wall clock.

use archipelago_client::identity::ephemeral;
use archipelago_shared::protocol::Role;
use archipelago_tests::relay::{Impairment, LossyRelay};
use archipelago_tests::{TestClient, TestServer, voice};

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

/// Eve hears through a relay that loses a tenth of the datagrams: the sentence still comes
/// through, concealed and rebuilt where frames were lost.
#[test]
fn a_tenth_of_the_packets_lost_and_the_sentence_still_comes_through() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(dir.path());
    let relay = LossyRelay::start(server.addr, Impairment::none());
    let join = |name: &str, role: Option<Role>| {
        if name != "Eve" {
            return server.join(name, role);
        }
        let mut config = server.client_config(name, ephemeral());
        config.relay = Some(relay.addr);
        TestClient::new(config)
    };
    voice::grounds(join, dir.path(), 0.6, || {
        relay.impair(Impairment {
            loss: 0.1,
            ..Impairment::none()
        })
    });
}
