//! Failure is visible: an unreachable server, a wrong certificate or a full server ends in a
//! clear message, never an endless wait.

use std::net::SocketAddr;
use std::time::Duration;

use archipelago_client::ClientConfig;
use archipelago_client::connection::ConnectionState;
use archipelago_client::identity::ephemeral;
use archipelago_tests::{
    ServerProcess, TestClient, TestServer, enter_world, free_port, wait_until,
};

fn failure_of(client: &mut TestClient, within: Duration) -> String {
    let failed = wait_until(&mut [client], within, |c| c[0].state().is_failed());
    assert!(
        failed,
        "the client gives up with a message; state is {:?}",
        client.state()
    );
    match client.state() {
        ConnectionState::Failed { reason } => reason,
        _ => unreachable!(),
    }
}

#[test]
fn an_unreachable_server_is_reported_in_words() {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut config = ClientConfig::new(addr, "00".repeat(32), "Nomad".into(), ephemeral());
    config.connect_timeout = Duration::from_secs(3);
    let mut client = TestClient::new(config);
    let reason = failure_of(&mut client, Duration::from_secs(10));
    assert!(
        reason.contains(&addr.to_string()),
        "the message names the address: {reason}"
    );
    assert!(
        reason.contains("running"),
        "the message suggests a cause: {reason}"
    );
}

#[test]
fn a_wrong_certificate_digest_is_reported_in_words() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(dir.path());
    let mut config = server.client_config("Wary", ephemeral());
    config.cert_digest = "ab".repeat(32);
    let mut client = TestClient::new(config);
    let reason = failure_of(&mut client, Duration::from_secs(15));
    assert!(
        reason.contains("certificate") && reason.contains("does not match the digest"),
        "the message explains the refusal: {reason}"
    );
    server.stop();
}

#[test]
fn a_full_server_says_so_and_lets_in_the_next_when_someone_leaves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServerProcess::start_with_args(dir.path(), &["--max-clients", "1"]);
    let mut first = TestClient::new(server.client_config("First", ephemeral()));
    enter_world(&mut first);

    let mut second = TestClient::new(server.client_config("Second", ephemeral()));
    let reason = {
        let failed = wait_until(
            &mut [&mut first, &mut second],
            Duration::from_secs(15),
            |c| c[1].state().is_failed(),
        );
        assert!(failed, "the second client is refused; {:?}", second.state());
        match second.state() {
            ConnectionState::Failed { reason } => reason,
            _ => unreachable!(),
        }
    };
    assert!(
        reason.contains("is full") && reason.contains(&server.addr.to_string()),
        "the message says the server is full: {reason}"
    );
    assert_eq!(
        first.state(),
        ConnectionState::InWorld,
        "the first stays in"
    );

    // The first leaves; Retry gets the second in (a retry may still find the place taken
    // while the server notices the leaving, so up to three).
    first.disconnect();
    let mut entered = false;
    for _ in 0..3 {
        second
            .app
            .world_mut()
            .write_message(archipelago_client::connection::Retry);
        entered = wait_until(&mut [&mut second], Duration::from_secs(20), |c| {
            c[0].state() == ConnectionState::InWorld || c[0].state().is_failed()
        }) && second.state() == ConnectionState::InWorld;
        if entered {
            break;
        }
    }
    assert!(
        entered,
        "the second gets in once the first has left: {:?}",
        second.state()
    );
}
