//! Strangers cannot take every place: visitors filling a server leave its last places to
//! members and founders, one address holds only a few connections, and connections that do
//! not log in give way to people who do.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use archipelago_client::bots::{SwarmConfig, run_swarm};
use archipelago_client::connection::ConnectionState;
use archipelago_client::identity::ephemeral;
use archipelago_server::admission::ARRIVAL_GRACE;
use archipelago_shared::identity::{AdmissionRefusal, LoginRefusal};
use archipelago_shared::protocol::Role;
use archipelago_tests::{
    ServerProcess, TestClient, enroll_with_cli, enter_world, free_port, metric, scrape_metrics,
    wait_until, world,
};

/// Waits for `client`'s login to be answered and returns the refusal, if any.
#[test]
fn visitors_filling_the_server_leave_the_last_places_to_a_founder_and_a_member() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let founder = ephemeral();
    let member = ephemeral();
    enroll_with_cli(&data, &[(&founder, "Fay")], "founder");
    enroll_with_cli(&data, &[(&member, "Max")], "member");
    let metrics = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = ServerProcess::start_with_args(
        &data,
        &["--max-clients", "40", "--metrics", &metrics.to_string()],
    );

    // 44 visitors arrive for 40 places, 4 of them kept for members.
    let stop = Arc::new(AtomicBool::new(false));
    let config = SwarmConfig {
        rate_hz: 20.0,
        seed: 5,
        stop: stop.clone(),
        ..SwarmConfig::gathering(
            server.client_config("", ephemeral()),
            44,
            Duration::from_secs(90),
        )
    };
    let swarm = std::thread::spawn(move || run_swarm(&config, &world()));
    // Until the visitors hold every place but the kept ones (the operator's view of it).
    let start = std::time::Instant::now();
    loop {
        let in_world = metric(
            &scrape_metrics(metrics),
            "archipelago_links{state=\"in_world\"}",
        );
        if in_world >= 36.0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the visitors fill the server ({in_world} in)"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    let mut fay = TestClient::new(server.client_config("Fay", founder));
    let mut max = TestClient::new(server.client_config("Max", member));
    enter_world(&mut fay);
    enter_world(&mut max);
    assert_eq!(fay.session().role, Some(Role::Founder));
    assert_eq!(max.session().role, Some(Role::Member));

    // One more visitor is told why it may not come in.
    let mut late = TestClient::new(server.client_config("Late", ephemeral()));
    let refused = late.login_refusal();
    assert!(
        matches!(
            refused,
            Some(LoginRefusal::Admission(AdmissionRefusal::FullForVisitors(
                4
            )))
        ),
        "the late visitor is turned away, told the last 4 places are kept: {refused:?}"
    );

    stop.store(true, Ordering::Relaxed);
    let report = swarm.join().expect("the swarm ends");
    assert_eq!(
        report.connected, 36,
        "visitors took every place but the 4 kept: {:?}",
        report.errors
    );
    assert!(
        report.login_refusals.iter().any(|r| matches!(
            r,
            LoginRefusal::Admission(AdmissionRefusal::FullForVisitors(_))
        )),
        "the visitors turned away were told why: {:?}",
        report.errors
    );
}

#[test]
fn one_address_holds_only_a_few_connections() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server =
        ServerProcess::start_with_args(dir.path(), &["--max-per-ip", "2", "--limit-loopback"]);
    let mut first = TestClient::new(server.client_config("One", ephemeral()));
    let mut second = TestClient::new(server.client_config("Two", ephemeral()));
    enter_world(&mut first);
    enter_world(&mut second);
    let mut third = TestClient::new(server.client_config("Three", ephemeral()));
    let refused = third.login_refusal();
    assert!(
        matches!(
            refused,
            Some(LoginRefusal::Admission(
                AdmissionRefusal::TooManyFromAddress(2)
            ))
        ),
        "a third connection is turned away: {refused:?}"
    );
    // The first two stay in.
    wait_until(
        &mut [&mut first, &mut second],
        Duration::from_secs(2),
        |_| false,
    );
    assert_eq!(first.state(), ConnectionState::InWorld);
    assert_eq!(second.state(), ConnectionState::InWorld);
}

#[test]
fn connections_that_do_not_log_in_give_way_to_someone_who_does() {
    let dir = tempfile::tempdir().expect("temp dir");
    let metrics = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = ServerProcess::start_with_args(
        dir.path(),
        &["--limit-loopback", "--metrics", &metrics.to_string()],
    );
    // Two connections that never answer the server's challenge: all that one address may
    // have arriving at once.
    let mut silent: Vec<TestClient> = (0..2)
        .map(|i| {
            let mut config = server.client_config(&format!("Silent{i}"), ephemeral());
            config.log_in = false;
            TestClient::new(config)
        })
        .collect();
    for client in &mut silent {
        let connected = wait_until(&mut [client], Duration::from_secs(20), |c| {
            c[0].state() == ConnectionState::LoggingIn
        });
        assert!(connected, "a silent arrival connects: {:?}", client.state());
    }
    let closed = |text: &str| metric(text, "archipelago_arrivals_closed_total");
    assert_eq!(closed(&scrape_metrics(metrics)), 0.0);

    // Ada arrives once they have held their places past the grace: the one that waited longest
    // gives way, and she gets in.
    std::thread::sleep(ARRIVAL_GRACE + Duration::from_millis(500));
    let mut ada = TestClient::new(server.client_config("Ada", ephemeral()));
    let (mut first, mut second) = (silent.remove(0), silent.remove(0));
    let answered = wait_until(
        &mut [&mut ada, &mut first, &mut second],
        Duration::from_secs(30),
        |c| c[0].state().is_failed() || c[0].state() == ConnectionState::InWorld,
    );
    assert!(answered, "Ada's login is answered: {:?}", ada.state());
    assert_eq!(ada.state(), ConnectionState::InWorld, "Ada gets in");
    assert_eq!(
        closed(&scrape_metrics(metrics)),
        1.0,
        "one silent arrival was closed to make room"
    );

    // The one that gave way was told why.
    let told = wait_until(
        &mut [&mut first, &mut second],
        Duration::from_secs(5),
        |c| c.iter().any(|c| c.state().is_failed()),
    );
    let reasons: Vec<_> = [&first, &second].map(|c| c.session().refused).into();
    assert!(told, "{reasons:?}");
    assert!(
        reasons.contains(&Some(LoginRefusal::Admission(AdmissionRefusal::GaveWay))),
        "{reasons:?}"
    );
}
