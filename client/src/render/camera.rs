//! The third-person orbit camera: it follows one's own avatar; the right mouse button (or
//! Q and E) turns it, the wheel zooms. Before the avatar exists it looks over the capital.

use archipelago_shared::movement::WorldColliders;
use archipelago_shared::world::World;
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::pbr::{DistanceFog, FogFalloff};
use bevy::prelude::*;
use bevy_egui::PrimaryEguiContext;
use bevy_egui::input::egui_wants_any_pointer_input;

use archipelago_shared::protocol::{AvatarPose, ToClient};

use crate::connection::{FromServer, Session};
use crate::tours::TourPlayer;

/// Where the camera orbits.
#[derive(Resource, Debug, Clone, Copy)]
pub struct OrbitCamera {
    /// Radians around +Y; 0 puts the camera south of (behind, +Z from) the target.
    pub yaw: f32,
    /// Radians above the horizon.
    pub pitch: f32,
    pub distance: f32,
    pub target: Vec3,
    /// Height above one's own avatar's feet that the camera looks at.
    pub lift: f32,
}

impl Default for OrbitCamera {
    fn default() -> Self {
        Self {
            yaw: 0.0,
            pitch: 0.38,
            distance: 18.0,
            target: Vec3::ZERO,
            lift: 1.6,
        }
    }
}

impl OrbitCamera {
    /// Horizontal forward direction (away from the camera), as world `x`, `z`.
    pub fn forward(&self) -> Vec2 {
        Vec2::new(-self.yaw.sin(), -self.yaw.cos())
    }
}

/// Where the camera is placed each frame; a tour, when playing, places it after this.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CameraPlacement;

pub(crate) fn plugin(app: &mut App) {
    let touring = resource_exists::<TourPlayer>;
    app.init_resource::<OrbitCamera>()
        .add_systems(Startup, spawn_camera)
        .add_systems(
            Update,
            (
                face_arrival.after(crate::ClientSystems::Receive),
                orbit.run_if(not(egui_wants_any_pointer_input).and_then(not(touring))),
            )
                .chain(),
        )
        .add_systems(
            PostUpdate,
            place_camera
                .run_if(not(touring))
                .in_set(CameraPlacement)
                .after(super::avatars::follow_pose)
                .before(TransformSystems::Propagate),
        );
}

fn spawn_camera(mut commands: Commands, world: Res<World>, mut orbit: ResMut<OrbitCamera>) {
    let capital = world.capital();
    orbit.target = world.spawn_position(capital, 0);
    commands.spawn((
        Name::new("Camera"),
        Camera3d::default(),
        // The screen's UI; the town halls' boards have egui contexts of their own.
        PrimaryEguiContext,
        // Multisampling quadruples the fragment work; software renderers cannot afford it.
        Msaa::Off,
        Transform::from_xyz(0.0, 30.0, 60.0).looking_at(Vec3::ZERO, Vec3::Y),
        DistanceFog {
            color: Color::srgba(0.62, 0.78, 0.92, 1.0),
            falloff: FogFalloff::Linear {
                start: 250.0,
                end: 1300.0,
            },
            ..default()
        },
    ));
}

fn orbit(
    mut orbit: ResMut<OrbitCamera>,
    buttons: Res<ButtonInput<MouseButton>>,
    keys: Res<ButtonInput<KeyCode>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    time: Res<Time>,
) {
    if buttons.pressed(MouseButton::Right) {
        orbit.yaw -= motion.delta.x * 0.005;
        orbit.pitch = (orbit.pitch + motion.delta.y * 0.004).clamp(-0.1, 1.35);
    }
    let turn = f32::from(keys.pressed(KeyCode::KeyQ)) - f32::from(keys.pressed(KeyCode::KeyE));
    orbit.yaw += turn * 1.8 * time.delta_secs();
    let lines = match scroll.unit {
        MouseScrollUnit::Line => scroll.delta.y,
        MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
    };
    orbit.distance = (orbit.distance * (1.0 - lines * 0.1)).clamp(3.0, 120.0);
}

/// On arriving (at login, and after each teleport), the camera swings behind the avatar, so
/// the first thing seen is what the avatar faces: the plaza and the town hall's door.
fn face_arrival(
    mut orbit: ResMut<OrbitCamera>,
    session: Res<Session>,
    poses: Query<&AvatarPose>,
    mut messages: MessageReader<FromServer>,
    mut arrived: Local<Option<Entity>>,
    mut teleported: Local<bool>,
) {
    if messages
        .read()
        .any(|FromServer(m)| matches!(m, ToClient::Teleported { .. }))
    {
        *teleported = true;
    }
    let Some(own) = session.own_avatar else {
        *arrived = None;
        return;
    };
    let Ok(pose) = poses.get(own) else {
        return;
    };
    if *arrived != Some(own) || *teleported {
        *arrived = Some(own);
        *teleported = false;
        orbit.yaw = pose.yaw;
    }
}

fn place_camera(
    mut orbit: ResMut<OrbitCamera>,
    session: Res<Session>,
    targets: Query<&Transform, Without<Camera3d>>,
    mut camera: Single<&mut Transform, With<Camera3d>>,
    colliders: Res<WorldColliders>,
) {
    if let Some(own) = session.own_avatar.and_then(|e| targets.get(e).ok()) {
        orbit.target = own.translation + Vec3::Y * orbit.lift;
    }
    let direction = Vec3::new(
        orbit.yaw.sin() * orbit.pitch.cos(),
        orbit.pitch.sin(),
        orbit.yaw.cos() * orbit.pitch.cos(),
    );
    // Pull the camera in front of any wall between it and the avatar.
    let distance = colliders
        .cast_ray(orbit.target, direction, orbit.distance)
        .map_or(orbit.distance, |hit| (hit - 0.3).max(0.5));
    **camera = Transform::from_translation(orbit.target + direction * distance)
        .looking_at(orbit.target, Vec3::Y);
}
