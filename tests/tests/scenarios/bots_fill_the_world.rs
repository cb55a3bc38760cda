//! Twenty bots for twenty seconds on the capital's grounds: all connect and each sees the
//! others (people receive those in the same place; see `server/src/rooms.rs`).

use std::time::Duration;

use archipelago_client::bots::{SwarmConfig, run_swarm};
use archipelago_client::identity::ephemeral;
use archipelago_tests::{TestServer, world};

#[test]
fn twenty_bots_all_connect_and_see_each_other() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(dir.path());
    let config = SwarmConfig {
        seed: 7,
        ..SwarmConfig::gathering(
            server.client_config("", ephemeral()),
            20,
            Duration::from_secs(20),
        )
    };
    let report = run_swarm(&config, &world());
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
    assert_eq!(
        report.connected, 20,
        "all 20 bots connect: {:?}",
        report.errors
    );
    assert!(
        report.errors.is_empty(),
        "no bot failed: {:?}",
        report.errors
    );
    assert_eq!(
        report.min_avatars_seen, 19,
        "every bot saw all 19 others at some point"
    );
    assert!(report.median_down_bytes_per_s > 0.0, "bytes flowed down");
    server.stop();
}
