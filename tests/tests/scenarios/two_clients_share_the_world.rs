//! Two real clients over QUIC on loopback see each other move, lose each other when one
//! teleports to another protocity (people receive only those in the same place), meet again
//! there, and see each other leave.

use std::time::Duration;

use archipelago_client::connection::Request;
use archipelago_client::control::AvatarControl;
use archipelago_client::identity::ephemeral;
use archipelago_shared::protocol::ToServer;
use archipelago_tests::{TestClient, TestServer, enter_world, wait_until, world};
use bevy::prelude::*;

#[test]
fn a_second_client_sees_the_first_move_teleport_and_leave() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(dir.path());
    let mut a = TestClient::new(server.client_config("Ada", ephemeral()));
    let mut b = TestClient::new(server.client_config("Bo", ephemeral()));
    enter_world(&mut a);
    enter_world(&mut b);

    let seen = wait_until(&mut [&mut a, &mut b], Duration::from_secs(5), |c| {
        c[1].other("Ada").is_some()
    });
    assert!(seen, "B sees A's avatar");

    // A walks east for a while; B must see A's new position within a second of A's own.
    a.app.world_mut().resource_mut::<AvatarControl>().direction = Vec2::X;
    wait_until(&mut [&mut a, &mut b], Duration::from_millis(1500), |_| {
        false
    });
    a.app.world_mut().resource_mut::<AvatarControl>().direction = Vec2::ZERO;
    wait_until(&mut [&mut a, &mut b], Duration::from_millis(300), |_| false);
    let target = a.own_pose().expect("A has a pose").position;
    let start = world().spawn_position(world().capital(), 0);
    let caught_up = wait_until(&mut [&mut a, &mut b], Duration::from_secs(1), |c| {
        c[1].other("Ada")
            .is_some_and(|p| p.position.distance(target) < 0.3)
    });
    let seen_at = b.other("Ada").map(|p| p.position);
    assert!(
        caught_up,
        "B sees A at {target} within 1 s (B sees {seen_at:?}); A started near {start}"
    );

    // A teleports to another protocity: A is no longer in B's place, so B stops receiving A.
    let destination = world().protocities[1].clone();
    let on_destination = |p: &archipelago_shared::protocol::AvatarPose| {
        Vec2::new(p.position.x, p.position.z).distance(destination.island.position)
            < destination.island.radius
    };
    a.app.world_mut().write_message(Request(ToServer::Teleport {
        protocity: destination.id.clone(),
    }));
    let left = wait_until(&mut [&mut a, &mut b], Duration::from_secs(3), |c| {
        c[0].own_pose().is_some_and(|p| on_destination(&p)) && c[1].other("Ada").is_none()
    });
    assert!(
        left,
        "A is on {} and out of B's view (B sees {:?})",
        destination.name,
        b.other("Ada")
    );
    assert_eq!(
        a.session().protocity.as_deref(),
        Some(destination.id.as_str()),
        "A is told where it went"
    );

    // B follows; there B receives A again.
    b.app.world_mut().write_message(Request(ToServer::Teleport {
        protocity: destination.id.clone(),
    }));
    let met = wait_until(&mut [&mut a, &mut b], Duration::from_secs(3), |c| {
        c[1].other("Ada").is_some_and(|p| on_destination(&p))
    });
    assert!(met, "B sees A on {} after following", destination.name);

    // A leaves; B sees the avatar go.
    a.disconnect();
    let gone = wait_until(&mut [&mut b], Duration::from_secs(3), |c| {
        c[0].other("Ada").is_none()
    });
    assert!(gone, "A's avatar disappears for B after A disconnects");
    server.stop();
}
