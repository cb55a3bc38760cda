//! Avatar visuals, attached when a replicated avatar appears. Replicated entities carry only
//! gameplay data; this plugin gives them a body and follows their pose smoothly.

use archipelago_shared::movement::{CAPSULE_HALF_HEIGHT, CAPSULE_RADIUS};
use archipelago_shared::protocol::{AvatarPose, AvatarProfile};
use bevy::prelude::*;

use super::role_color;

/// How quickly a drawn avatar catches up with its pose (per second).
const SMOOTHING: f32 = 18.0;

/// Marks an avatar that has been given a body.
#[derive(Component)]
pub struct AvatarBody;

pub(crate) fn plugin(app: &mut App) {
    app.add_observer(attach_body)
        .add_systems(PostUpdate, follow_pose.before(TransformSystems::Propagate));
}

fn attach_body(
    trigger: On<Add, AvatarProfile>,
    profiles: Query<(&AvatarProfile, Option<&AvatarPose>)>,
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let Ok((profile, pose)) = profiles.get(trigger.entity) else {
        return;
    };
    let body = materials.add(StandardMaterial {
        base_color: role_color(profile.role),
        perceptual_roughness: 0.6,
        ..default()
    });
    let visor = materials.add(StandardMaterial {
        base_color: Color::srgb(0.08, 0.1, 0.14),
        perceptual_roughness: 0.2,
        ..default()
    });
    let center = CAPSULE_HALF_HEIGHT + CAPSULE_RADIUS;
    let position = pose.map_or(Vec3::ZERO, |p| p.position);
    commands
        .entity(trigger.entity)
        .insert((
            AvatarBody,
            Transform::from_translation(position),
            Visibility::default(),
        ))
        .with_children(|parent| {
            parent.spawn((
                Mesh3d(meshes.add(Capsule3d::new(CAPSULE_RADIUS, CAPSULE_HALF_HEIGHT * 2.0))),
                MeshMaterial3d(body),
                Transform::from_xyz(0.0, center, 0.0),
            ));
            // A visor shows which way the avatar faces (-Z is forward).
            parent.spawn((
                Mesh3d(meshes.add(Cuboid::new(0.42, 0.14, 0.2))),
                MeshMaterial3d(visor),
                Transform::from_xyz(0.0, center + 0.5, -0.26),
            ));
        });
}

pub(crate) fn follow_pose(
    mut avatars: Query<(&AvatarPose, &mut Transform), With<AvatarBody>>,
    time: Res<Time>,
) {
    let blend = 1.0 - (-SMOOTHING * time.delta_secs()).exp();
    for (pose, mut transform) in &mut avatars {
        let target = pose.position;
        if transform.translation.distance(target) > 8.0 {
            // Teleports snap instead of sliding across the sea.
            transform.translation = target;
        } else {
            transform.translation = transform.translation.lerp(target, blend);
        }
        transform.rotation = transform
            .rotation
            .slerp(Quat::from_rotation_y(pose.yaw), blend);
    }
}
