//! Picking without a window: the ray through a screen point finds the parcel drawn there.

use archipelago_client::parcels::{pick_parcel, screen_ray};
use archipelago_shared::movement::WorldColliders;
use archipelago_shared::world::{World, checkout_world as world};
use bevy::prelude::*;

const VIEWPORT: Vec2 = Vec2::new(1280.0, 720.0);
const FOV: f32 = std::f32::consts::FRAC_PI_4;

/// A camera south of and above `focus`, looking at it.
fn camera_over(focus: Vec3) -> Transform {
    Transform::from_translation(focus + Vec3::new(0.0, 30.0, 30.0)).looking_at(focus, Vec3::Y)
}

/// Where a world point lands on the screen, by the projection Bevy's cameras use.
fn project(camera: &Transform, point: Vec3) -> Vec2 {
    let clip_from_view = Mat4::perspective_infinite_reverse_rh(FOV, VIEWPORT.x / VIEWPORT.y, 0.1);
    let view_from_world = camera.to_matrix().inverse();
    let ndc = clip_from_view.project_point3(view_from_world.transform_point3(point));
    Vec2::new(
        (ndc.x + 1.0) / 2.0 * VIEWPORT.x,
        (1.0 - ndc.y) / 2.0 * VIEWPORT.y,
    )
}

fn parcel_center(world: &World, id: &str) -> Vec3 {
    let (protocity, parcel) = world.parcel(id).expect("parcel exists");
    protocity.island.to_world(parcel.center(), 0.0)
}

#[test]
fn the_parcel_at_the_middle_of_the_screen_is_picked() {
    let world = world();
    let colliders = WorldColliders::new(&world);
    for id in ["lis-04", "lis-12", "rtb-02"] {
        let camera = camera_over(parcel_center(&world, id));
        let ray = screen_ray(&camera, FOV, VIEWPORT, VIEWPORT / 2.0);
        assert_eq!(
            pick_parcel(&world, &colliders, ray).as_deref(),
            Some(id),
            "the middle of the screen looks at {id}"
        );
    }
}

#[test]
fn every_parcel_is_picked_where_the_camera_draws_it() {
    let world = world();
    let colliders = WorldColliders::new(&world);
    let capital = world.capital();
    // High above the capital, looking straight down, north at the top of the screen.
    let camera = Transform::from_translation(capital.island.to_world(Vec2::ZERO, 150.0))
        .looking_to(Vec3::NEG_Y, Vec3::NEG_Z);
    for parcel in &capital.island.parcels {
        // A point off the parcel's centre, towards its north-west corner.
        let local = parcel.center() + (parcel.min - parcel.center()) * 0.6;
        let cursor = project(&camera, capital.island.to_world(local, 0.0));
        assert!(
            cursor.cmpge(Vec2::ZERO).all() && cursor.cmple(VIEWPORT).all(),
            "{} is on screen: {cursor}",
            parcel.id
        );
        let ray = screen_ray(&camera, FOV, VIEWPORT, cursor);
        assert_eq!(
            pick_parcel(&world, &colliders, ray).as_deref(),
            Some(parcel.id.as_str()),
            "the point drawn at {cursor} belongs to {}",
            parcel.id
        );
    }
}

#[test]
fn a_building_picks_the_parcel_it_stands_on_and_the_sea_picks_nothing() {
    let world = world();
    let colliders = WorldColliders::new(&world);
    let capital = world.capital();
    let library = capital
        .island
        .buildings
        .iter()
        .find(|b| b.parcel.is_some())
        .expect("a building on a parcel");
    let wall_height = capital
        .island
        .to_world(library.center, library.size.y * 0.5);
    // From the north, where nothing stands between the camera and the building.
    let camera = Transform::from_translation(wall_height + Vec3::new(0.0, 2.0, -30.0))
        .looking_at(wall_height, Vec3::Y);
    let ray = screen_ray(&camera, FOV, VIEWPORT, VIEWPORT / 2.0);
    assert_eq!(
        pick_parcel(&world, &colliders, ray),
        library.parcel.clone(),
        "clicking {} picks its parcel",
        library.name
    );

    let sea = Vec3::new(
        capital.island.position.x,
        0.0,
        capital.island.position.y + 200.0,
    );
    let camera = camera_over(sea);
    let ray = screen_ray(&camera, FOV, VIEWPORT, VIEWPORT / 2.0);
    assert_eq!(
        pick_parcel(&world, &colliders, ray),
        None,
        "open sea holds no parcel"
    );
}
