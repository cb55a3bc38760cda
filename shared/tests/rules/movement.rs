//! The movement rule against the real world's colliders: walking, running, gravity, jumping,
//! walls, and clamping of impossible input.

use archipelago_shared::movement::{RUN_SPEED, WALK_SPEED, WorldColliders, sanitize, step};
use archipelago_shared::protocol::{AvatarInput, AvatarPose};
use archipelago_shared::world::{World, checkout_world as world};
use bevy::math::{Vec2, Vec3};

const DT: f32 = 1.0 / 30.0;

fn run(pose: &mut AvatarPose, input: AvatarInput, ticks: usize, colliders: &WorldColliders) {
    for _ in 0..ticks {
        step(pose, &input, DT, colliders);
    }
}

fn standing_at_spawn(world: &World, colliders: &WorldColliders) -> AvatarPose {
    let mut pose = AvatarPose {
        position: world.spawn_position(world.capital(), 0),
        ..Default::default()
    };
    run(&mut pose, AvatarInput::default(), 30, colliders);
    pose
}

#[test]
fn an_avatar_falls_onto_the_island_and_stands() {
    let world = world();
    let colliders = WorldColliders::new(&world);
    let mut pose = AvatarPose {
        position: world.spawn_position(world.capital(), 0) + Vec3::Y * 3.0,
        ..Default::default()
    };
    run(&mut pose, AvatarInput::default(), 60, &colliders);
    let ground = world.capital().island.height;
    assert!(pose.grounded, "the avatar lands");
    assert!(
        (pose.position.y - ground).abs() < 0.15,
        "feet at ground height {ground}, got {}",
        pose.position.y
    );
}

#[test]
fn walking_and_running_cover_their_speed() {
    let world = world();
    let colliders = WorldColliders::new(&world);
    for (run_flag, speed) in [(false, WALK_SPEED), (true, RUN_SPEED)] {
        let mut pose = standing_at_spawn(&world, &colliders);
        let start = pose.position;
        let input = AvatarInput {
            direction: Vec2::new(0.0, 1.0),
            run: run_flag,
            ..Default::default()
        };
        run(&mut pose, input, 15, &colliders);
        let moved = Vec2::new(pose.position.x - start.x, pose.position.z - start.z).length();
        let expected = speed * 15.0 * DT;
        assert!(
            (moved - expected).abs() < expected * 0.1,
            "moved {moved} m, expected about {expected} m"
        );
    }
}

#[test]
fn impossible_input_is_clamped_to_the_rules() {
    let world = world();
    let colliders = WorldColliders::new(&world);
    let cheat = AvatarInput {
        direction: Vec2::new(0.0, 50.0),
        run: true,
        ..Default::default()
    };
    let checked = sanitize(&cheat);
    assert!(checked.clamped, "a direction of length 50 is impossible");
    assert!((checked.input.direction.length() - 1.0).abs() < 1e-4);
    let nan = AvatarInput {
        direction: Vec2::new(f32::NAN, 0.0),
        yaw: f32::INFINITY,
        ..Default::default()
    };
    assert_eq!(
        sanitize(&nan).input.direction,
        Vec2::ZERO,
        "non-finite input is dropped"
    );

    let mut pose = standing_at_spawn(&world, &colliders);
    let start = pose.position;
    run(&mut pose, cheat, 15, &colliders);
    let moved = Vec2::new(pose.position.x - start.x, pose.position.z - start.z).length();
    assert!(
        moved <= RUN_SPEED * 15.0 * DT * 1.05,
        "moved {moved} m, no faster than running"
    );
}

#[test]
fn jumping_leaves_the_ground_and_gravity_brings_it_back() {
    let world = world();
    let colliders = WorldColliders::new(&world);
    let mut pose = standing_at_spawn(&world, &colliders);
    let ground = pose.position.y;
    step(
        &mut pose,
        &AvatarInput {
            jump: true,
            ..Default::default()
        },
        DT,
        &colliders,
    );
    let mut peak = pose.position.y;
    for _ in 0..60 {
        step(&mut pose, &AvatarInput::default(), DT, &colliders);
        peak = peak.max(pose.position.y);
    }
    assert!(
        peak > ground + 0.8,
        "a jump rises, peak {peak} over ground {ground}"
    );
    assert!(
        pose.grounded && (pose.position.y - ground).abs() < 0.1,
        "and lands again"
    );
}

#[test]
fn walls_stop_an_avatar() {
    let world = world();
    let colliders = WorldColliders::new(&world);
    let capital = world.capital();
    let hall = &capital.island.town_hall;
    // Stand inside the hall and walk straight into its back wall, away from the door.
    let inside = hall.center + hall.door_direction() * (hall.size.min_element() / 2.0 - 2.0);
    let mut pose = AvatarPose {
        position: capital.island.to_world(inside, 0.05),
        ..Default::default()
    };
    run(&mut pose, AvatarInput::default(), 10, &colliders);
    let back = -hall.door_direction();
    let input = AvatarInput {
        direction: back,
        run: true,
        ..Default::default()
    };
    run(&mut pose, input, 150, &colliders);
    let (min, max) = hall.footprint();
    let local = Vec2::new(pose.position.x, pose.position.z) - capital.island.position;
    assert!(
        local.x > min.x && local.x < max.x && local.y > min.y && local.y < max.y,
        "the avatar stays inside the hall, got {local}"
    );
}

#[test]
fn standing_still_on_the_ground_stays_put_facing_where_it_was() {
    let world = world();
    let colliders = WorldColliders::new(&world);
    let standing = standing_at_spawn(&world, &colliders);
    assert!(standing.grounded);
    let mut pose = standing;
    let turned = AvatarInput {
        yaw: 1.0,
        ..Default::default()
    };
    run(&mut pose, turned, 90, &colliders);
    assert_eq!(
        pose.position, standing.position,
        "three seconds standing still"
    );
    assert!(pose.grounded && pose.vertical_speed == 0.0);
    assert_eq!(
        pose.yaw, standing.yaw,
        "standing does not turn: the facing the server gave (the plaza, the stage) stays"
    );

    // Walking from there, and stopping again, still go through the controller.
    let walk = AvatarInput {
        direction: Vec2::X,
        ..Default::default()
    };
    run(&mut pose, walk, 15, &colliders);
    assert!(pose.position.x > standing.position.x + 0.5, "it walks off");
    let stopped = pose;
    run(&mut pose, AvatarInput::default(), 30, &colliders);
    assert_eq!(
        pose.position, stopped.position,
        "and stands where it stopped"
    );
}
