//! A town hall is a room of its own, in one process: a member who walks in through the door
//! stops receiving the people outside and they stop receiving her; outside, everyone still
//! learns how many people are in the hall; walking out, she is seen again.

use std::time::Duration;

use archipelago_client::identity::ephemeral;
use archipelago_shared::protocol::WorldStatus;
use archipelago_shared::world::Place;
use archipelago_tests::sim::SimServer;
use archipelago_tests::{TestClient, enter_world, wait_until, walk_to, world};

fn in_hall(client: &mut TestClient, protocity: &str) -> Option<u32> {
    let world = client.app.world_mut();
    let mut status = world.query::<&WorldStatus>();
    let status = status.iter(world).next()?;
    status
        .in_hall
        .iter()
        .find(|(id, _)| id == protocity)
        .map(|(_, n)| *n)
}

#[test]
fn walking_into_a_hall_changes_who_receives_whom() {
    let world = world();
    let capital = world.capital().clone();
    let index = world
        .protocities
        .iter()
        .position(|p| p.id == capital.id)
        .expect("the capital");
    let server = SimServer::start();
    let mut ada = server.client("Ada", ephemeral());
    let mut bo = server.client("Bo", ephemeral());
    enter_world(&mut ada);
    enter_world(&mut bo);
    let together = wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |c| {
        c[0].other("Bo").is_some() && c[1].other("Ada").is_some()
    });
    assert!(
        together,
        "both start on the capital's grounds and see each other"
    );

    // Into the hall: to the door, then a few metres inside.
    let island = &capital.island;
    let hall = &island.town_hall;
    let door = island.to_world(hall.door_outside(), 0.0);
    let back = island.to_world(hall.board_anchor().0, 0.0);
    let inside = door.lerp(back, 0.35);
    assert_eq!(world.place_at(inside), Place::Hall(index));
    assert!(walk_to(&mut ada, &mut bo, door), "Ada reaches the door");
    assert!(
        walk_to(&mut ada, &mut bo, inside),
        "Ada walks into the hall"
    );
    let apart = wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(3), |c| {
        c[0].other("Bo").is_none() && c[1].other("Ada").is_none()
    });
    assert!(
        apart,
        "inside and outside no longer receive each other: Ada sees Bo {:?}, Bo sees Ada {:?}",
        ada.other("Bo"),
        bo.other("Ada")
    );
    let counted = wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(3), |c| {
        in_hall(c[1], &capital.id) == Some(1)
    });
    assert!(
        counted,
        "Bo, outside, learns one person is in the hall: {:?}",
        in_hall(&mut bo, &capital.id)
    );

    // And out again.
    assert!(walk_to(&mut ada, &mut bo, door), "Ada walks out");
    let again = wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(3), |c| {
        c[0].other("Bo").is_some() && c[1].other("Ada").is_some()
    });
    assert!(again, "outside, they see each other again");
    let empty = wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(3), |c| {
        in_hall(c[1], &capital.id) == Some(0)
    });
    assert!(empty, "the hall is empty again");
}
