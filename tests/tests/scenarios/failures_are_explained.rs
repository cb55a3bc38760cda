//! Failure is visible: an unreachable server or a wrong certificate ends in a clear message,
//! never an endless wait.

use std::net::SocketAddr;
use std::time::Duration;

use archipelago_client::ClientConfig;
use archipelago_client::connection::ConnectionState;
use archipelago_client::identity::ephemeral;
use archipelago_tests::{TestClient, TestServer, free_port, wait_until};

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
