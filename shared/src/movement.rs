//! The movement rule: how an avatar's pose advances one tick under an input, against the
//! world's static colliders. The server runs it as the authority; the client runs the very
//! same function to predict its own avatar.

use bevy::math::{Vec2, Vec3};
use bevy::prelude::Resource;
use bevy_rapier3d::parry::query::{DefaultQueryDispatcher, Ray};
use bevy_rapier3d::parry::shape::Capsule;
use bevy_rapier3d::rapier::control::{
    CharacterAutostep, CharacterLength, KinematicCharacterController,
};
use bevy_rapier3d::rapier::prelude::{
    BroadPhaseBvh, ColliderBuilder, ColliderSet, IntegrationParameters, Pose, QueryFilter,
    RigidBodySet,
};

use crate::protocol::{AvatarInput, AvatarPose};
use crate::world::{BEACH_WIDTH, Island, SEA_FLOOR, World};

pub const WALK_SPEED: f32 = 4.0;
pub const RUN_SPEED: f32 = 8.0;
pub const JUMP_SPEED: f32 = 6.5;
pub const GRAVITY: f32 = 20.0;
pub const MAX_FALL_SPEED: f32 = 40.0;
pub const CAPSULE_RADIUS: f32 = 0.35;
/// Half the length of the capsule's straight part; the avatar is 1.8 m tall.
pub const CAPSULE_HALF_HEIGHT: f32 = 0.55;
/// Anything below this is out of the world; the avatar is put back on the capital.
pub const KILL_DEPTH: f32 = -30.0;
/// Sides of the polygon an island's collider is built from.
const ISLAND_SEGMENTS: usize = 48;

/// The outcome of checking a client's input against the rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sanitized {
    pub input: AvatarInput,
    /// True when the input asked for more than the rules allow and was clamped.
    pub clamped: bool,
}

/// Clamps an input to what the rules allow: a finite direction of length at most 1 and a
/// finite yaw. Anything else is impossible input from a broken or cheating client.
pub fn sanitize(input: &AvatarInput) -> Sanitized {
    let mut out = *input;
    let mut clamped = false;
    if !out.direction.is_finite() {
        out.direction = Vec2::ZERO;
        clamped = true;
    } else if out.direction.length_squared() > 1.0 + 1e-4 {
        out.direction = out.direction.normalize();
        clamped = true;
    }
    if !out.yaw.is_finite() {
        out.yaw = 0.0;
        clamped = true;
    }
    Sanitized {
        input: out,
        clamped,
    }
}

/// Horizontal speed the rules allow for an input.
pub fn max_speed(input: &AvatarInput) -> f32 {
    if input.run { RUN_SPEED } else { WALK_SPEED }
}

/// Static colliders of the whole world: islands, buildings, halls, the sea floor and the
/// ocean's edge, with a query structure over them.
#[derive(Resource)]
pub struct WorldColliders {
    colliders: ColliderSet,
    bodies: RigidBodySet,
    broad_phase: BroadPhaseBvh,
    controller: KinematicCharacterController,
    character: Capsule,
}

impl WorldColliders {
    pub fn new(world: &World) -> Self {
        let mut colliders = ColliderSet::new();
        for protocity in &world.protocities {
            let island = &protocity.island;
            colliders.insert(island_collider(island));
            for solid in island.solids() {
                let h = solid.half_extents;
                colliders.insert(ColliderBuilder::cuboid(h.x, h.y, h.z).translation(solid.center));
            }
        }
        let edge = world.nation.ocean_half_extent;
        let floor_half = 1.0;
        colliders.insert(
            ColliderBuilder::cuboid(edge + 10.0, floor_half, edge + 10.0).translation(Vec3::new(
                0.0,
                SEA_FLOOR - floor_half,
                0.0,
            )),
        );
        for (center, half) in [
            (
                Vec3::new(edge + 1.0, 0.0, 0.0),
                Vec3::new(1.0, 50.0, edge + 2.0),
            ),
            (
                Vec3::new(-edge - 1.0, 0.0, 0.0),
                Vec3::new(1.0, 50.0, edge + 2.0),
            ),
            (
                Vec3::new(0.0, 0.0, edge + 1.0),
                Vec3::new(edge + 2.0, 50.0, 1.0),
            ),
            (
                Vec3::new(0.0, 0.0, -edge - 1.0),
                Vec3::new(edge + 2.0, 50.0, 1.0),
            ),
        ] {
            colliders.insert(ColliderBuilder::cuboid(half.x, half.y, half.z).translation(center));
        }

        let params = IntegrationParameters::default();
        let mut broad_phase = BroadPhaseBvh::new();
        for (handle, collider) in colliders.iter() {
            broad_phase.set_aabb(&params, handle, collider.compute_aabb());
        }
        let controller = KinematicCharacterController {
            autostep: Some(CharacterAutostep {
                max_height: CharacterLength::Absolute(0.5),
                min_width: CharacterLength::Absolute(0.2),
                include_dynamic_bodies: false,
            }),
            max_slope_climb_angle: 50f32.to_radians(),
            min_slope_slide_angle: 55f32.to_radians(),
            snap_to_ground: Some(CharacterLength::Absolute(0.3)),
            ..Default::default()
        };
        Self {
            colliders,
            bodies: RigidBodySet::new(),
            broad_phase,
            controller,
            character: Capsule::new_y(CAPSULE_HALF_HEIGHT, CAPSULE_RADIUS),
        }
    }

    /// Number of colliders, for logs.
    pub fn len(&self) -> usize {
        self.colliders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.colliders.is_empty()
    }

    /// Distance along a ray (direction of unit length) to the first collider, if any within
    /// `max`. The camera uses it to stay out of walls.
    pub fn cast_ray(&self, origin: Vec3, direction: Vec3, max: f32) -> Option<f32> {
        let queries = self.broad_phase.as_query_pipeline(
            &DefaultQueryDispatcher,
            &self.bodies,
            &self.colliders,
            QueryFilter::default(),
        );
        queries
            .cast_ray(&Ray::new(origin, direction), max, true)
            .map(|(_, distance)| distance)
    }

    /// Moves the character capsule whose feet are at `feet` by `desired`, sliding along and
    /// stepping over what it meets. Returns the new feet position and whether it stands on
    /// ground.
    pub fn move_character(&self, feet: Vec3, desired: Vec3, dt: f32) -> (Vec3, bool) {
        let queries = self.broad_phase.as_query_pipeline(
            &DefaultQueryDispatcher,
            &self.bodies,
            &self.colliders,
            QueryFilter::default(),
        );
        let center = feet + Vec3::Y * (CAPSULE_HALF_HEIGHT + CAPSULE_RADIUS);
        let movement = self.controller.move_shape(
            dt,
            &queries,
            &self.character,
            &Pose::from_translation(center),
            desired,
            |_| {},
        );
        (feet + movement.translation, movement.grounded)
    }
}

/// A flat-topped frustum: the island's top at `height`, its beach sloping to the sea floor.
fn island_collider(island: &Island) -> ColliderBuilder {
    let mut points = Vec::with_capacity(ISLAND_SEGMENTS * 2);
    for i in 0..ISLAND_SEGMENTS {
        let angle = i as f32 / ISLAND_SEGMENTS as f32 * std::f32::consts::TAU;
        let dir = Vec3::new(angle.cos(), 0.0, angle.sin());
        points.push(dir * island.radius + Vec3::Y * island.height);
        points.push(dir * (island.radius + BEACH_WIDTH) + Vec3::Y * (SEA_FLOOR - 1.0));
    }
    let builder = ColliderBuilder::convex_hull(&points)
        .unwrap_or_else(|| ColliderBuilder::cylinder(island.height / 2.0, island.radius));
    builder.translation(Vec3::new(island.position.x, 0.0, island.position.y))
}

/// Advances a pose by one tick of `dt` seconds under an input. The input must already be
/// sanitized on the server; the function clamps again so it can never exceed the rules.
/// The avatar turns to the input's facing only while it walks: standing (or jumping on the
/// spot) keeps the facing the server gave it, towards the plaza on arrival or the stage on a
/// seat.
pub fn step(pose: &mut AvatarPose, input: &AvatarInput, dt: f32, colliders: &WorldColliders) {
    let input = sanitize(input).input;
    if pose.grounded && input.direction == Vec2::ZERO && !input.jump {
        // Standing on the ground and asked for nothing: the world is static, so nothing
        // moves, and the character controller (most of the server's tick in a crowd) is not
        // asked. Most of an assembly stands still.
        pose.vertical_speed = 0.0;
        return;
    }
    let horizontal = input.direction * max_speed(&input);
    if pose.grounded {
        pose.vertical_speed = if input.jump { JUMP_SPEED } else { 0.0 };
    } else {
        pose.vertical_speed = (pose.vertical_speed - GRAVITY * dt).max(-MAX_FALL_SPEED);
    }
    let desired = Vec3::new(horizontal.x, pose.vertical_speed, horizontal.y) * dt;
    let (position, grounded) = colliders.move_character(pose.position, desired, dt);
    // Hitting a ceiling while rising stops the rise.
    if pose.vertical_speed > 0.0 && position.y - pose.position.y < desired.y * 0.5 {
        pose.vertical_speed = 0.0;
    }
    pose.position = position;
    pose.grounded = grounded && pose.vertical_speed <= 0.0;
    if input.direction != Vec2::ZERO {
        pose.yaw = input.yaw;
    }
}
