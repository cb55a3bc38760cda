//! The tour player without a window: it flies to each stop, waits there, pauses, skips, and
//! ends after the last stop.

use archipelago_client::tours::{CameraShot, FLIGHT_SECONDS, TourPlayer};
use archipelago_shared::tours::load_tours_dir;
use archipelago_shared::world::{World, load_world_dir};
use bevy::prelude::*;

fn load() -> (World, Vec<archipelago_shared::tours::Tour>) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets");
    let world = load_world_dir(format!("{root}/world")).expect("world");
    let tours = load_tours_dir(format!("{root}/tours"), &world).expect("tours");
    (world, tours)
}

fn start() -> (World, TourPlayer) {
    let (world, tours) = load();
    let tour = tours
        .into_iter()
        .max_by_key(|t| t.stops.len())
        .expect("a tour");
    let from = CameraShot {
        eye: Vec3::new(0.0, 300.0, 0.0),
        focus: Vec3::ZERO,
    };
    let player = TourPlayer::start(tour, Some(from)).expect("the tour has stops");
    (world, player)
}

#[test]
fn the_camera_flies_to_each_stop_and_rests_there() {
    let (world, mut player) = start();
    let first = player.current().clone();
    assert_eq!(
        player.shot(&world).map(|s| s.eye),
        Some(Vec3::new(0.0, 300.0, 0.0)),
        "the flight starts where the camera was"
    );
    player.advance(FLIGHT_SECONDS / 2.0, &world);
    assert!(!player.arrived(), "still flying half way");
    player.advance(FLIGHT_SECONDS / 2.0 + 0.01, &world);
    assert!(player.arrived(), "arrived after the flight");
    let shot = player.shot(&world).expect("shot");
    assert!(
        shot.eye.distance(first.eye(&world).expect("eye")) < 1e-3,
        "the camera rests at the stop's view"
    );
    assert_eq!(player.stop, 0);
    player.advance(first.seconds, &world);
    assert_eq!(player.stop, 1, "after the stop's time it moves on");
}

#[test]
fn pause_skip_and_the_end_of_the_tour() {
    let (world, mut player) = start();
    player.paused = true;
    player.advance(1_000.0, &world);
    assert_eq!(
        (player.stop, player.elapsed),
        (0, 0.0),
        "paused time does not count"
    );
    player.paused = false;
    player.next(&world);
    player.next(&world);
    assert_eq!(player.stop, 2);
    player.previous(&world);
    assert_eq!(player.stop, 1);
    let stops = player.tour.stops.len();
    player.go_to(stops + 10, &world);
    assert_eq!(
        player.stop,
        stops - 1,
        "skipping past the end stops at the last stop"
    );
    assert!(player.is_last());
    let mut running = true;
    for _ in 0..10_000 {
        running = player.advance(0.1, &world);
        if !running {
            break;
        }
    }
    assert!(!running, "the tour ends after its last stop");
}

#[test]
fn long_flights_rise_over_the_sea() {
    let (world, tours) = load();
    let tour = tours
        .into_iter()
        .find(|t| {
            let mut ids: Vec<&str> = t.stops.iter().map(|s| s.protocity.as_str()).collect();
            ids.dedup();
            ids.len() > 1
        })
        .expect("a tour across islands");
    let hop = tour
        .stops
        .windows(2)
        .position(|w| w[0].protocity != w[1].protocity)
        .expect("a hop between islands");
    let mut player = TourPlayer::start(tour, None).expect("stops");
    player.go_to(hop, &world);
    let from = player.shot(&world).expect("shot");
    player.next(&world);
    let to = player.current().eye(&world).expect("eye");
    player.advance(FLIGHT_SECONDS / 2.0, &world);
    let middle = player.shot(&world).expect("shot");
    assert!(
        middle.eye.y > from.eye.y.max(to.y) + 10.0,
        "half way between islands the camera flies high: {} vs {} and {}",
        middle.eye.y,
        from.eye.y,
        to.y
    );
}
