//! An operator scrapes `--metrics`: the Prometheus text is served over HTTP and its counters
//! move as people arrive and vote.

use std::net::SocketAddr;
use std::time::Duration;

use archipelago_client::identity::ephemeral;
use archipelago_tests::{
    ServerProcess, TestClient, enter_world, free_port, metric, scrape_metrics, wait_until,
};

#[test]
fn the_metrics_page_counts_logins_frames_and_links() {
    let dir = tempfile::tempdir().expect("temp dir");
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = ServerProcess::start_with_args(dir.path(), &["--metrics", &metrics.to_string()]);
    let before = scrape_metrics(metrics);
    let frames_before = metric(&before, "archipelago_frame_seconds_count");
    assert!(frames_before > 0.0, "frames are timed:\n{before}");
    assert_eq!(metric(&before, "archipelago_logins_total"), 0.0);

    let mut ada = TestClient::new(server.client_config("Ada", ephemeral()));
    let mut bo = TestClient::new(server.client_config("Bo", ephemeral()));
    enter_world(&mut ada);
    enter_world(&mut bo);
    // The gauges are read once a second.
    wait_until(
        &mut [&mut ada, &mut bo],
        Duration::from_millis(1500),
        |_| false,
    );
    let after = scrape_metrics(metrics);
    assert_eq!(
        metric(&after, "archipelago_logins_total"),
        2.0,
        "two logins:\n{after}"
    );
    assert!(
        metric(&after, "archipelago_frame_seconds_count") > frames_before,
        "more frames were timed"
    );
    assert!(
        after.contains("archipelago_links{state=\"in_world\"} 2"),
        "two links in the world:\n{after}"
    );
    assert!(
        metric(&after, "archipelago_resident_bytes") > 1e6,
        "the RSS is shown"
    );
}
