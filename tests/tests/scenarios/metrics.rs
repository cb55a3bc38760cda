//! An operator scrapes `--metrics`: the Prometheus text is served over HTTP and its counters
//! move as people arrive and vote.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use archipelago_client::identity::ephemeral;
use archipelago_tests::{ServerProcess, TestClient, enter_world, free_port, wait_until};

/// `GET /metrics` over a plain TCP connection; the body.
fn scrape(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).expect("the metrics port answers");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// The value of the first sample of `name` (with any labels) in the text.
fn value(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn the_metrics_page_counts_logins_frames_and_links() {
    let dir = tempfile::tempdir().expect("temp dir");
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = ServerProcess::start_with_args(dir.path(), &["--metrics", &metrics.to_string()]);
    let before = scrape(metrics);
    let frames_before = value(&before, "archipelago_frame_seconds_count");
    assert!(frames_before > 0.0, "frames are timed:\n{before}");
    assert_eq!(value(&before, "archipelago_logins_total"), 0.0);

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
    let after = scrape(metrics);
    assert_eq!(
        value(&after, "archipelago_logins_total"),
        2.0,
        "two logins:\n{after}"
    );
    assert!(
        value(&after, "archipelago_frame_seconds_count") > frames_before,
        "more frames were timed"
    );
    assert!(
        after.contains("archipelago_links{state=\"in_world\"} 2"),
        "two links in the world:\n{after}"
    );
    assert!(
        value(&after, "archipelago_resident_bytes") > 1e6,
        "the RSS is shown"
    );
}
