//! Avatar visuals, attached when a replicated avatar appears. Replicated entities carry only
//! gameplay data; this plugin gives them a body and follows their pose smoothly.

use archipelago_shared::movement::{CAPSULE_HALF_HEIGHT, CAPSULE_RADIUS};
use archipelago_shared::protocol::{AvatarPose, AvatarProfile, Role};
use bevy::prelude::*;

use super::role_color;

/// How quickly a drawn avatar catches up with its pose (per second).
const SMOOTHING: f32 = 18.0;

/// Marks an avatar that has been given a body.
#[derive(Component)]
pub struct AvatarBody;

/// The meshes and materials every avatar shares, one material per role: drawn as a few
/// instanced batches however many people are in view.
#[derive(Resource)]
struct Bodies {
    capsule: Handle<Mesh>,
    visor_mesh: Handle<Mesh>,
    visor: Handle<StandardMaterial>,
    by_role: Vec<(Role, Handle<StandardMaterial>)>,
}

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(Startup, make_bodies)
        .add_observer(attach_body)
        .add_systems(PostUpdate, follow_pose.before(TransformSystems::Propagate));
}

fn make_bodies(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let by_role = [Role::Visitor, Role::Member, Role::Resident, Role::Founder]
        .into_iter()
        .map(|role| {
            let material = materials.add(StandardMaterial {
                base_color: role_color(role),
                perceptual_roughness: 0.6,
                ..default()
            });
            (role, material)
        })
        .collect();
    commands.insert_resource(Bodies {
        capsule: meshes.add(Capsule3d::new(CAPSULE_RADIUS, CAPSULE_HALF_HEIGHT * 2.0)),
        visor_mesh: meshes.add(Cuboid::new(0.42, 0.14, 0.2)),
        visor: materials.add(StandardMaterial {
            base_color: Color::srgb(0.08, 0.1, 0.14),
            perceptual_roughness: 0.2,
            ..default()
        }),
        by_role,
    });
}

fn attach_body(
    trigger: On<Add, AvatarProfile>,
    profiles: Query<(&AvatarProfile, Option<&AvatarPose>)>,
    bodies: Option<Res<Bodies>>,
    mut commands: Commands,
) {
    let Ok((profile, pose)) = profiles.get(trigger.entity) else {
        return;
    };
    let Some(bodies) = bodies else {
        return;
    };
    let Some((_, body)) = bodies
        .by_role
        .iter()
        .find(|(role, _)| *role == profile.role)
    else {
        return;
    };
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
                Mesh3d(bodies.capsule.clone()),
                MeshMaterial3d(body.clone()),
                Transform::from_xyz(0.0, center, 0.0),
            ));
            // A visor shows which way the avatar faces (-Z is forward).
            parent.spawn((
                Mesh3d(bodies.visor_mesh.clone()),
                MeshMaterial3d(bodies.visor.clone()),
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
