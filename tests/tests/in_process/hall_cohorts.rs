//! Fifteen members stand together on the capital's grounds and all walk into its town hall at
//! once; everyone in the hall then receives everyone else there.
//!
//! A regression test: the server moves such a crowd into the hall's room over two or three
//! frames. When leaving the grounds' room hid each newcomer at once from those still outside,
//! who were shown it again a frame later as they came in too, the clients kept only their own
//! cohort (13 saw 12 others, 2 saw 1) in most runs, and at scale each of 200 attendees saw
//! about 32 others (BENCHMARKS.md). Losing sight of an avatar and regaining it within a few
//! ticks loses it for good on the client (lightyear delays despawning interpolated entities,
//! `lightyear_interpolation/src/despawn.rs`, which is where we suspect the re-spawn is lost).
//! Avatars now linger in the room they left for a moment (`rooms::LINGER`).

use std::time::Duration;

use archipelago_shared::protocol::Role;
use archipelago_tests::sim::SimServer;
use archipelago_tests::{TestClient, enter_hall, enter_world_together, wait_until, world};

#[test]
fn fifteen_who_walk_in_together_all_receive_each_other() {
    let server = SimServer::start();
    let hall = world().capital().id.clone();
    let mut clients: Vec<TestClient> = (0..15)
        .map(|i| server.join(&format!("Member{i:02}"), Some(Role::Member)))
        .collect();
    let mut everyone: Vec<&mut TestClient> = clients.iter_mut().collect();
    enter_world_together(&mut everyone);
    enter_hall(&mut everyone, &hall);
    let together = wait_until(&mut everyone, Duration::from_secs(5), |c| {
        c.iter_mut().all(|c| c.others().len() == 14)
    });
    let seen: Vec<usize> = everyone.iter_mut().map(|c| c.others().len()).collect();
    assert!(
        together,
        "each of the fifteen receives the fourteen others; received {seen:?}"
    );
}
