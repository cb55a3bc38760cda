//! Every town hall's ballot kiosk can be reached on foot: an avatar walking in through the
//! door towards it, under the same movement rule the server runs, ends up within reach; from
//! outside the hall no kiosk is in reach.

use archipelago_shared::governance::KIOSK_REACH;
use archipelago_shared::movement::{WorldColliders, step};
use archipelago_shared::protocol::{AvatarInput, AvatarPose};
use archipelago_shared::world::checkout_world as world;
use bevy::math::{Vec2, Vec3};

/// Walks towards `target` for up to `seconds`, at 30 ticks a second; returns where it stood.
fn walk(colliders: &WorldColliders, from: Vec3, waypoints: &[Vec3], seconds: f32) -> Vec3 {
    let mut pose = AvatarPose {
        position: from,
        yaw: 0.0,
        vertical_speed: 0.0,
        grounded: false,
    };
    let dt = 1.0 / 30.0;
    let mut next = 0;
    for _ in 0..(seconds / dt) as usize {
        let Some(target) = waypoints.get(next) else {
            break;
        };
        let to = Vec2::new(target.x - pose.position.x, target.z - pose.position.z);
        if to.length() < 0.3 {
            next += 1;
            continue;
        }
        let input = AvatarInput {
            direction: to.normalize(),
            yaw: 0.0,
            run: false,
            jump: false,
        };
        step(&mut pose, &input, dt, colliders);
    }
    pose.position
}

#[test]
fn every_kiosk_is_reachable_from_the_door() {
    let world = world();
    let colliders = WorldColliders::new(&world);
    for protocity in &world.protocities {
        let island = &protocity.island;
        let hall = &island.town_hall;
        let door = island.to_world(hall.door_outside(), 0.1);
        let kiosk = island.to_world(hall.kiosk_position(), 0.1);
        // Through the door, a step inside, then to the kiosk.
        let back = island.to_world(hall.board_anchor().0, 0.1);
        let inside = door.lerp(back, 0.2);
        let stood = walk(&colliders, door, &[inside, kiosk], 30.0);
        let distance = Vec2::new(stood.x - kiosk.x, stood.z - kiosk.z).length();
        assert!(
            distance < KIOSK_REACH,
            "{}: the walk ended {distance:.2} m from the kiosk, at {stood}",
            protocity.id
        );
        assert_eq!(
            world.kiosk_near(stood, KIOSK_REACH).map(|p| p.id.as_str()),
            Some(protocity.id.as_str()),
            "{}: standing there is at this hall's kiosk",
            protocity.id
        );
        assert!(
            world.kiosk_near(door, KIOSK_REACH).is_none(),
            "{}: outside the door no kiosk is in reach",
            protocity.id
        );
    }
}
