//! One's own avatar is predicted from one's inputs and reconciled with the server's answers:
//! after walking, stopping and being teleported, the client shows its avatar where the
//! server has it, and an honest client seldom needs correcting.

use std::time::Duration;

use archipelago_client::control::Prediction;
use archipelago_shared::protocol::{AvatarPose, AvatarProfile, ToServer};
use archipelago_tests::sim::SimServer;
use archipelago_tests::{TestClient, enter_world, wait_until, walk_to, world};
use bevy::prelude::*;

/// The server's pose of the avatar named `name`.
fn server_pose(server: &SimServer, name: &str) -> AvatarPose {
    server.with_app(|app| {
        let world = app.world_mut();
        let mut avatars = world.query::<(&AvatarProfile, &AvatarPose)>();
        avatars
            .iter(world)
            .find(|(profile, _)| profile.name == name)
            .map(|(_, pose)| *pose)
            .expect("the server has the avatar")
    })
}

/// Lets a second pass so the last inputs and answers cross.
fn settle(walker: &mut TestClient, other: &mut TestClient) {
    wait_until(&mut [walker, other], Duration::from_secs(1), |_| false);
}

fn corrections(client: &TestClient) -> u64 {
    client.app.world().resource::<Prediction>().corrections
}

#[test]
fn the_own_avatar_is_where_the_server_has_it_after_walking_and_a_teleport() {
    let server = SimServer::start();
    let mut walker = server.join("Walker", None);
    let mut other = server.join("Other", None);
    enter_world(&mut walker);
    enter_world(&mut other);
    settle(&mut walker, &mut other);
    let start = walker.own_pose().expect("own pose").position;
    let before = corrections(&walker);

    let target = start + Vec3::new(6.0, 0.0, 2.0);
    assert!(
        walk_to(&mut walker, &mut other, target),
        "the walker gets there"
    );
    settle(&mut walker, &mut other);
    let shown = walker.own_pose().expect("own pose");
    let held = server_pose(&server, "Walker");
    assert!(
        shown.position.distance(held.position) < 0.01,
        "after walking, shown {shown:?}, server {held:?}"
    );
    assert_eq!(
        corrections(&walker),
        before,
        "walking over flat ground is predicted exactly"
    );
    assert!(
        other
            .other("Walker")
            .is_some_and(|p| p.position.distance(held.position) < 0.05),
        "the other client sees the walker where it stopped"
    );

    // A move the client did not predict: the server's answer is taken.
    let destination = &world().protocities[1];
    walker.request(ToServer::Teleport {
        protocity: destination.id.clone(),
    });
    let island = destination.island.position;
    let arrived = wait_until(
        &mut [&mut walker, &mut other],
        Duration::from_secs(5),
        |c| {
            c[0].own_pose().is_some_and(|p| {
                Vec2::new(p.position.x - island.x, p.position.z - island.y).length()
                    < destination.island.radius
            })
        },
    );
    assert!(arrived, "the teleport reaches the client's own avatar");
    settle(&mut walker, &mut other);
    let shown = walker.own_pose().expect("own pose");
    let held = server_pose(&server, "Walker");
    assert!(
        shown.position.distance(held.position) < 0.01,
        "after the teleport, shown {shown:?}, server {held:?}"
    );
    assert!(
        corrections(&walker) > before,
        "the teleport was a correction"
    );
}
