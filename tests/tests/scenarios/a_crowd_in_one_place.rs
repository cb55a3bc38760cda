//! Sixty people in one place, over QUIC: 58 light bots (one App for all, see
//! `client/src/bots/light.rs`) mill about the capital's plaza with a watcher among them. A newcomer arrives: within 2 s it sees everyone online and the watcher sees it
//! (poses come in crowd frames, see `shared/src/crowd`). Then it walks across the plaza,
//! and what the watcher shows of it is never more than 2 s behind where it really was.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use archipelago_client::bots::{SwarmConfig, run_swarm};
use archipelago_client::identity::ephemeral;
use archipelago_shared::protocol::WorldStatus;
use archipelago_tests::{TestClient, TestServer, wait_until, walk_to, world};
use bevy::math::{Vec2, Vec3};

const BOTS: usize = 58;

fn online(client: &mut TestClient) -> u32 {
    let world = client.app.world_mut();
    let mut status = world.query::<&WorldStatus>();
    status.iter(world).next().map_or(0, |s| s.online)
}

#[test]
fn sixty_in_one_place_see_each_other_and_keep_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(dir.path());
    let stop = Arc::new(AtomicBool::new(false));
    let config = SwarmConfig {
        seed: 17,
        stop: stop.clone(),
        light: true,
        ..SwarmConfig::gathering(
            server.client_config("", ephemeral()),
            BOTS,
            Duration::from_secs(150),
        )
    };
    let swarm = std::thread::spawn(move || run_swarm(&config, &world()));

    let mut watcher = TestClient::new(server.client_config("Watcher", ephemeral()));
    let everyone = wait_until(&mut [&mut watcher], Duration::from_secs(90), |c| {
        c[0].in_world() && online(c[0]) as usize >= BOTS
    });
    assert!(
        everyone,
        "the bots and the watcher are all in: {} online",
        online(&mut watcher)
    );

    // A newcomer: everyone within 2 s of its arrival (the server's welcome), and it to the
    // watcher.
    let mut walker = TestClient::new(server.client_config("Walker", ephemeral()));
    let welcomed = wait_until(
        &mut [&mut walker, &mut watcher],
        Duration::from_secs(30),
        |c| c[0].session().role.is_some(),
    );
    assert!(welcomed, "the newcomer is let in");
    let at = Instant::now();
    let mut saw_all = None;
    let mut seen = None;
    wait_until(
        &mut [&mut walker, &mut watcher],
        Duration::from_secs(5),
        |c| {
            let here = online(c[0]) as usize;
            if saw_all.is_none()
                && c[0].in_world()
                && here > BOTS
                && c[0].others().len() + 1 >= here
            {
                saw_all = Some(at.elapsed());
            }
            if seen.is_none() && c[1].other("Walker").is_some() {
                seen = Some(at.elapsed());
            }
            saw_all.is_some() && seen.is_some()
        },
    );
    println!(
        "after its welcome, the newcomer saw all {} others after {saw_all:?}; the watcher saw it \
         after {seen:?}",
        online(&mut walker).saturating_sub(1)
    );
    assert!(
        saw_all.is_some_and(|t| t <= Duration::from_secs(2)),
        "the newcomer sees all {} others within 2 s: {saw_all:?}, saw {}",
        online(&mut walker).saturating_sub(1),
        walker.others().len()
    );
    assert!(
        seen.is_some_and(|t| t <= Duration::from_secs(2)),
        "the watcher sees the newcomer within 2 s: {seen:?}"
    );

    // Along the front of the town hall, walking, 24 m: where the watcher shows the walker is
    // where the walker was at most 2 s before.
    let capital = world().capital().clone();
    let from = capital.island.to_world(Vec2::new(-10.0, -12.5), 0.0);
    let target = capital.island.to_world(Vec2::new(14.0, -12.5), 0.0);
    assert!(
        walk_to(&mut walker, &mut watcher, from),
        "the walker gets to the start"
    );
    let start = walker.own_pose().expect("own pose").position;
    let mut path: Vec<(Instant, Vec3)> = Vec::new();
    let mut shown: Vec<(Instant, Vec3)> = Vec::new();
    let crossed = wait_until(
        &mut [&mut walker, &mut watcher],
        Duration::from_secs(20),
        |c| {
            let now = Instant::now();
            let Some(pose) = c[0].own_pose() else {
                return false;
            };
            path.push((now, pose.position));
            if let Some(other) = c[1].other("Walker") {
                shown.push((now, other.position));
            }
            let to = Vec2::new(target.x - pose.position.x, target.z - pose.position.z);
            let arrived = to.length() < 0.5;
            c[0].app
                .world_mut()
                .resource_mut::<archipelago_client::control::AvatarControl>()
                .direction = if arrived { Vec2::ZERO } else { to.normalize() };
            arrived
        },
    );
    assert!(crossed, "the walker crosses the plaza");
    // Two seconds more, standing, for the watcher to catch up with the end of the walk.
    wait_until(
        &mut [&mut walker, &mut watcher],
        Duration::from_secs(2),
        |c| {
            let now = Instant::now();
            if let Some(pose) = c[0].own_pose() {
                path.push((now, pose.position));
            }
            if let Some(other) = c[1].other("Walker") {
                shown.push((now, other.position));
            }
            false
        },
    );

    let walked = path.first().map(|p| p.0).expect("a path");
    let mut worst = Duration::ZERO;
    for &(when, position) in shown.iter().filter(|(when, _)| *when >= walked) {
        // The last time the walker stood where it was shown (as near as it came to it).
        let before = || path.iter().filter(|(t, _)| *t <= when);
        let nearest = before()
            .map(|(_, p)| p.distance(position))
            .fold(f32::INFINITY, f32::min);
        let Some(&(was, _)) = before().rfind(|(_, p)| p.distance(position) <= nearest + 0.05)
        else {
            continue;
        };
        worst = worst.max(when - was);
    }
    println!(
        "walked {:.1} m; the watcher showed it at most {worst:?} behind ({} samples)",
        start.distance(target),
        shown.len()
    );
    assert!(
        shown.len() > 20,
        "the watcher saw the walker while it walked"
    );
    assert!(
        worst <= Duration::from_secs(2),
        "the watcher showed the walker {worst:?} behind"
    );

    stop.store(true, Ordering::Relaxed);
    let report = swarm.join().expect("the swarm ends");
    // Under this load the load generator's own QUIC handshake fails now and then (one of
    // the 58 once, as in the ballots benchmark); the crowd is measured on who got in.
    assert!(
        report.connected + 1 >= BOTS,
        "the bots connected ({} of {BOTS}): {:?}",
        report.connected,
        report.errors
    );
    // The light bots were a crowd like any other: each saw all the others, read the crowd
    // frames and walked, sending its inputs a few to a message.
    println!("light bots: {report:?}");
    assert!(
        report.min_avatars_seen as usize + 2 >= report.connected,
        "every light bot saw the others: at least {} of {}",
        report.min_avatars_seen,
        report.connected
    );
    assert!(
        report.median_crowd_frames_per_s > 5.0,
        "light bots read crowd frames: {} a second",
        report.median_crowd_frames_per_s
    );
    assert!(
        report.median_inputs_per_s > 15.0
            && report
                .median_input_messages_per_s
                .is_some_and(|m| m > 3.0 && m < report.median_inputs_per_s / 2.0),
        "light bots sent their inputs, several to a message: {} inputs in {:?} messages a \
         second",
        report.median_inputs_per_s,
        report.median_input_messages_per_s
    );
    server.stop();
}
