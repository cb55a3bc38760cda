//! People as they are drawn: a body built from their look ([`body`]), moved by what they do
//! ([`animation`]), their name tags ([`tags`]), the look editor ([`editor`]) and gestures from
//! the keyboard and the radial menu ([`gestures`]). Bodies follow the poses the crowd module
//! writes; beyond [`NEAR`] a body is a simple figure, and beyond [`MOVING`] it stands still.

pub mod animation;
pub mod bench;
pub mod body;
pub mod editor;
pub mod gestures;
pub mod tags;

use archipelago_shared::avatars::Look;
use archipelago_shared::protocol::{AvatarPose, AvatarProfile};
use bevy::prelude::*;

use self::animation::{Activity, advance_phase};
use self::bench::BodyStyle;
use self::body::{CapsuleBody, Rig, Wardrobe};
use crate::avatars::Gesturing;

/// How quickly a drawn avatar catches up with its pose (per second).
const SMOOTHING: f32 = 18.0;
/// How quickly a body turns towards where it faces (per second): a turn eases in.
const TURNING: f32 = 9.0;
/// Bodies nearer the camera than this are drawn jointed; farther ones as a simple figure.
pub const NEAR: f32 = 40.0;
/// Bodies farther than this are not animated at all.
pub const MOVING: f32 = 80.0;

/// On an avatar: what its body was built for; a body is built again only when one changes
/// (not when its owner sits down or stands up).
#[derive(Component, Debug, Clone, Copy, PartialEq)]
struct Worn {
    appearance: archipelago_shared::avatars::Appearance,
    role: archipelago_shared::protocol::Role,
    style: BodyStyle,
}

/// On an avatar: how its body moves, kept between frames.
#[derive(Component, Debug, Default)]
pub struct Gait {
    phase: f32,
    /// Smoothed horizontal speed, m/s.
    speed: f32,
    last: Option<Vec3>,
    vertical: f32,
    /// Seconds this body has lived, for breathing.
    age: f32,
    near: bool,
}

pub(crate) fn plugin(app: &mut App) {
    app.add_plugins((
        tags::plugin,
        editor::plugin,
        gestures::plugin,
        bench::plugin,
    ))
        .add_systems(Startup, open_wardrobe)
        .add_systems(
            PostUpdate,
            (
                dress,
                follow_pose,
                animate.after(follow_pose),
            )
                .chain()
                .before(TransformSystems::Propagate),
        );
}

fn open_wardrobe(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    commands.insert_resource(Wardrobe::new(&mut meshes, &mut materials));
}

/// Gives each avatar a body for its look, and a new one when its look or role changes.
#[expect(clippy::type_complexity, reason = "one query per kind of entity read")]
fn dress(
    avatars: Query<
        (
            Entity,
            &Look,
            &AvatarProfile,
            Option<&AvatarPose>,
            Option<&Rig>,
            Option<&CapsuleBody>,
            Option<&Worn>,
        ),
        Or<(Changed<Look>, Changed<AvatarProfile>)>,
    >,
    wardrobe: Option<ResMut<Wardrobe>>,
    style: Res<BodyStyle>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut commands: Commands,
) {
    let Some(mut wardrobe) = wardrobe else {
        return;
    };
    for (avatar, look, profile, pose, rig, capsule, worn) in &avatars {
        let wanted = Worn {
            appearance: look.appearance,
            role: profile.role,
            style: *style,
        };
        let dressed_before = rig.is_some() || capsule.is_some();
        if dressed_before && worn == Some(&wanted) {
            continue;
        }
        if let Some(old) = rig {
            commands.entity(old.figure).despawn();
        }
        if let Some(old) = capsule {
            commands.entity(old.figure).despawn();
        }
        let mut entity = commands.entity(avatar);
        entity.remove::<(Rig, CapsuleBody)>().insert(wanted);
        match *style {
            BodyStyle::Jointed => {
                let rig = body::dress(
                    &mut commands,
                    avatar,
                    &look.appearance,
                    profile.role,
                    &mut wardrobe,
                    &mut materials,
                );
                commands.entity(avatar).insert(rig);
            }
            BodyStyle::Capsule => {
                let capsule = body::capsule(&mut commands, avatar, profile.role, &wardrobe);
                commands.entity(avatar).insert(capsule);
            }
        }
        let mut entity = commands.entity(avatar);
        if !dressed_before {
            let position = pose.map_or(Vec3::ZERO, |p| p.position);
            let yaw = pose.map_or(0.0, |p| p.yaw);
            entity.insert((
                Transform::from_translation(position).with_rotation(Quat::from_rotation_y(yaw)),
                Visibility::default(),
                Gait::default(),
            ));
        }
    }
}

pub(crate) fn follow_pose(
    mut avatars: Query<(&AvatarPose, &mut Transform), Or<(With<Rig>, With<CapsuleBody>)>>,
    time: Res<Time>,
) {
    let dt = time.delta_secs();
    let blend = 1.0 - (-SMOOTHING * dt).exp();
    let turn = 1.0 - (-TURNING * dt).exp();
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
            .slerp(Quat::from_rotation_y(pose.yaw), turn);
    }
}

/// Turns every near body's joints for what it is doing; switches bodies between near and far
/// by their distance from the camera.
#[expect(clippy::type_complexity, reason = "one query per kind of entity read")]
fn animate(
    mut avatars: Query<(
        Entity,
        &Transform,
        Ref<Rig>,
        &mut Gait,
        &Look,
        &AvatarProfile,
        Option<&Gesturing>,
    )>,
    mut parts: Query<(&mut Transform, &mut Visibility), Without<Rig>>,
    camera: Query<&GlobalTransform, With<Camera3d>>,
    hall: Res<super::assembly::HallView>,
    preview: Res<editor::Preview>,
    time: Res<Time>,
) {
    let dt = time.delta_secs();
    let now = time.elapsed_secs_f64();
    let eye = camera.iter().next().map(|c| c.translation());
    let session_now = hall.session.as_ref();
    for (entity, transform, rig, mut gait, look, profile, gesturing) in &mut avatars {
        let position = transform.translation;
        gait.age += dt;
        let distance = eye.map_or(0.0, |e| e.distance(position));
        // A little slack either way, so a body at the boundary does not flicker.
        let near = if gait.near {
            distance < NEAR + 2.0
        } else {
            distance < NEAR - 2.0
        };
        // A body just (re)built starts near: set its level of detail at once.
        if near != gait.near || gait.last.is_none() || rig.is_added() || rig.is_changed() {
            gait.near = near;
            if let Ok((_, mut visibility)) = parts.get_mut(rig.near) {
                *visibility = if near {
                    Visibility::Inherited
                } else {
                    Visibility::Hidden
                };
            }
            if let Ok((_, mut visibility)) = parts.get_mut(rig.far) {
                *visibility = if near {
                    Visibility::Hidden
                } else {
                    Visibility::Inherited
                };
            }
        }
        // Speed from how far the drawn body moved, smoothed over a few frames.
        if let Some(last) = gait.last
            && dt > 0.0
        {
            let moved = position - last;
            let speed = Vec2::new(moved.x, moved.z).length() / dt;
            let ease = 1.0 - (-10.0 * dt).exp();
            gait.speed += (speed.min(20.0) - gait.speed) * ease;
            gait.vertical += (moved.y / dt - gait.vertical) * ease;
        }
        gait.last = Some(position);
        if distance > MOVING {
            continue;
        }
        let (speed, phase) = (gait.speed, gait.phase);
        gait.phase = advance_phase(phase, speed, dt);
        if let Ok((mut figure, _)) = parts.get_mut(rig.figure) {
            let spin = if preview.showing == Some(entity) {
                Quat::from_rotation_y(preview.turn)
            } else {
                Quat::IDENTITY
            };
            if figure.rotation != spin {
                figure.rotation = spin;
            }
        }
        if !near {
            continue;
        }
        let in_queue = session_now.is_some_and(|s| s.queue_position(&profile.key).is_some());
        let speaking = session_now
            .and_then(|s| s.floor.as_ref())
            .is_some_and(|f| f.speaker.key == profile.key);
        let activity = Activity {
            speed: if look.seated { 0.0 } else { gait.speed },
            airborne: !look.seated && gait.vertical.abs() > 1.5,
            seated: look.seated,
            hand_raised: in_queue,
            speaking,
            gesture: gesturing.and_then(|g| g.progress(now).map(|t| (g.gesture, t))),
        };
        let pose = animation::pose(&activity, gait.phase, gait.age);
        let mut turn = |part: Entity, rotation: Quat| {
            if let Ok((mut transform, _)) = parts.get_mut(part) {
                transform.rotation = rotation;
            }
        };
        turn(rig.torso, Quat::from_rotation_x(-pose.lean));
        turn(rig.head, Quat::from_rotation_x(-pose.nod));
        for i in 0..2 {
            let outward = if i == 0 { -1.0 } else { 1.0 };
            turn(rig.thighs[i], Quat::from_rotation_x(pose.hips[i]));
            turn(rig.shins[i], Quat::from_rotation_x(-pose.knees[i]));
            let shoulder = pose.shoulders[i];
            turn(
                rig.upper_arms[i],
                Quat::from_rotation_x(shoulder.x) * Quat::from_rotation_z(outward * shoulder.y),
            );
            turn(rig.forearms[i], Quat::from_rotation_x(pose.elbows[i]));
        }
        let lift = rig.pelvis_rest + Vec3::Y * pose.bob;
        for part in [rig.pelvis, rig.torso, rig.thighs[0], rig.thighs[1]] {
            if let Ok((mut transform, _)) = parts.get_mut(part) {
                transform.translation.y = lift.y;
            }
        }
    }
}
