//! Deadlines are the server's: at login the client learns the server's clock, and its
//! countdowns (proposals closing, the floor, events) are reckoned from it.

use archipelago_client::clock::ServerClock;
use archipelago_client::identity::ephemeral;
use archipelago_shared::clock::unix_millis;
use archipelago_tests::{TestClient, TestServer, enter_world};

#[test]
fn a_client_learns_the_servers_clock_at_login() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(dir.path());
    let mut client = TestClient::new(server.client_config("Punctual", ephemeral()));
    assert!(
        !client.app.world().resource::<ServerClock>().is_known(),
        "before login the client has only its own clock"
    );
    enter_world(&mut client);
    let clock = client.app.world().resource::<ServerClock>().clone();
    assert!(clock.is_known(), "the Welcome carried the server's time");
    // Server and client share this machine's clock: what is left is the trip and the frame.
    assert!(
        clock.offset_ms().abs() < 1_000,
        "same machine, same clock: {} ms apart",
        clock.offset_ms()
    );
    let now = unix_millis();
    assert!((clock.now_ms() - now - clock.offset_ms()).abs() < 100);
    server.stop();
}
