//! Bodies built from shaped parts: every avatar's parts are the same few meshes (one per part
//! and hair style) and the same few materials (one per palette colour), so a crowd draws as a
//! handful of instanced batches whatever its looks. A body is a hierarchy of joints
//! ([`Rig`]) that the animation turns; far away a body is one simple figure instead
//! ([`FarBody`]).

use std::collections::HashMap;

use archipelago_shared::avatars::Appearance;
use archipelago_shared::avatars::appearance::{HAIR_STYLES, Swatch};
use archipelago_shared::movement::{CAPSULE_HALF_HEIGHT, CAPSULE_RADIUS};
use archipelago_shared::protocol::Role;
use bevy::prelude::*;

use super::super::role_color;

/// Height of the hip joints above the feet, for a figure of scale 1 (1.75 m tall).
pub const HIP_HEIGHT: f32 = 0.88;
const THIGH: f32 = 0.44;
const SHIN: f32 = 0.42;
const UPPER_ARM: f32 = 0.29;
const SHOULDER_HEIGHT: f32 = 0.52;
const SHOULDER_WIDTH: f32 = 0.23;
const HIP_WIDTH: f32 = 0.095;
const HEAD_HEIGHT: f32 = 0.74;
const HEAD_RADIUS: f32 = 0.12;

/// The shared meshes of every body part.
struct Meshes {
    pelvis: Handle<Mesh>,
    torso: Handle<Mesh>,
    head: Handle<Mesh>,
    eyes: Handle<Mesh>,
    badge: Handle<Mesh>,
    thigh: Handle<Mesh>,
    shin: Handle<Mesh>,
    shoe: Handle<Mesh>,
    upper_arm: Handle<Mesh>,
    forearm: Handle<Mesh>,
    /// One per hair style; none for shaved.
    hair: Vec<Option<Handle<Mesh>>>,
    /// One per accessory; none for none.
    accessory: Vec<Option<Handle<Mesh>>>,
    /// The far figure: one capsule, and a head.
    far_body: Handle<Mesh>,
    far_head: Handle<Mesh>,
}

/// Meshes and materials shared by all bodies; materials made as colours are first worn.
#[derive(Resource)]
pub struct Wardrobe {
    meshes: Meshes,
    colours: HashMap<[u8; 3], Handle<StandardMaterial>>,
    roles: Vec<(Role, Handle<StandardMaterial>)>,
    dark: Handle<StandardMaterial>,
    lenses: Handle<StandardMaterial>,
    /// The capsules avatars were before looks (the benchmark's baseline): a capsule and a
    /// visor, one flat material per role.
    capsule: Handle<Mesh>,
    visor: Handle<Mesh>,
    flat_roles: Vec<(Role, Handle<StandardMaterial>)>,
}

impl Wardrobe {
    pub fn new(meshes: &mut Assets<Mesh>, materials: &mut Assets<StandardMaterial>) -> Self {
        let part = |mesh: Mesh, top: f32, meshes: &mut Assets<Mesh>| {
            // Limbs hang from their joint: the mesh's origin is its top.
            meshes.add(mesh.translated_by(Vec3::Y * -top))
        };
        let capsule = |radius: f32, length: f32| capsule_mesh(radius, length);
        let hair = HAIR_STYLES
            .iter()
            .enumerate()
            .map(|(style, _)| hair_mesh(style).map(|m| meshes.add(m)))
            .collect();
        let accessory = (0..archipelago_shared::avatars::appearance::ACCESSORIES.len())
            .map(|a| accessory_mesh(a).map(|m| meshes.add(m)))
            .collect();
        let mut eyes = ball(0.02).translated_by(Vec3::new(
            -0.045,
            0.02,
            -HEAD_RADIUS + 0.01,
        ));
        merge(
            &mut eyes,
            ball(0.02)
                .translated_by(Vec3::new(0.045, 0.02, -HEAD_RADIUS + 0.01)),
        );
        let centre = CAPSULE_HALF_HEIGHT + CAPSULE_RADIUS;
        // The capsule exactly as avatars were drawn before looks: bevy's default resolution.
        let old_capsule = meshes.add(
            Capsule3d::new(CAPSULE_RADIUS, CAPSULE_HALF_HEIGHT * 2.0)
                .mesh()
                .build()
                .translated_by(Vec3::Y * centre),
        );
        let old_visor = meshes.add(
            Cuboid::new(0.42, 0.14, 0.2)
                .mesh()
                .build()
                .translated_by(Vec3::new(0.0, centre + 0.5, -0.26)),
        );
        let meshes = Meshes {
            pelvis: meshes.add(capsule(0.14, 0.12).scaled_by(Vec3::new(1.25, 1.0, 0.8))),
            torso: meshes.add(
                capsule(0.17, 0.26)
                    .scaled_by(Vec3::new(1.2, 1.0, 0.72))
                    .translated_by(Vec3::Y * 0.3),
            ),
            head: meshes.add(
                ball(HEAD_RADIUS)
                    .scaled_by(Vec3::new(0.92, 1.05, 1.0)),
            ),
            eyes: meshes.add(eyes),
            badge: meshes.add(
                disc(0.04, 0.015)
                    .rotated_by(Quat::from_rotation_x(std::f32::consts::FRAC_PI_2)),
            ),
            thigh: part(capsule(0.075, THIGH - 0.1), THIGH / 2.0 - 0.03, meshes),
            shin: part(capsule(0.06, SHIN - 0.09), SHIN / 2.0 - 0.02, meshes),
            shoe: meshes.add(Cuboid::new(0.11, 0.07, 0.22).mesh().build()),
            upper_arm: part(capsule(0.055, UPPER_ARM - 0.08), UPPER_ARM / 2.0 - 0.02, meshes),
            forearm: {
                let mut arm = capsule(0.047, 0.2).translated_by(Vec3::Y * -0.13);
                merge(
                    &mut arm,
                    ball(0.055)
                        .translated_by(Vec3::Y * -0.3),
                );
                meshes.add(arm)
            },
            hair,
            accessory,
            far_body: meshes.add(capsule(0.24, 1.0).translated_by(Vec3::Y * 0.74)),
            far_head: meshes.add(
                ball(0.14)
                    .translated_by(Vec3::Y * 1.6),
            ),
        };
        let roles = [Role::Visitor, Role::Member, Role::Resident, Role::Founder]
            .into_iter()
            .map(|role| {
                let colour = role_color(role);
                let material = materials.add(StandardMaterial {
                    base_color: colour,
                    emissive: colour.to_linear() * 0.6,
                    perceptual_roughness: 0.3,
                    metallic: 0.4,
                    ..default()
                });
                (role, material)
            })
            .collect();
        let flat_roles = [Role::Visitor, Role::Member, Role::Resident, Role::Founder]
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
        Self {
            meshes,
            colours: HashMap::new(),
            roles,
            capsule: old_capsule,
            visor: old_visor,
            flat_roles,
            dark: materials.add(StandardMaterial {
                base_color: Color::srgb(0.1, 0.09, 0.09),
                perceptual_roughness: 0.7,
                ..default()
            }),
            lenses: materials.add(StandardMaterial {
                base_color: Color::srgb(0.05, 0.06, 0.08),
                perceptual_roughness: 0.1,
                metallic: 0.5,
                ..default()
            }),
        }
    }

    /// The material of a palette colour, made the first time it is worn.
    fn colour(&mut self, swatch: Swatch, materials: &mut Assets<StandardMaterial>) -> Handle<StandardMaterial> {
        self.colours
            .entry(swatch.srgb)
            .or_insert_with(|| {
                let [r, g, b] = swatch.srgb;
                materials.add(StandardMaterial {
                    base_color: Color::srgb_u8(r, g, b),
                    perceptual_roughness: 0.75,
                    ..default()
                })
            })
            .clone()
    }

    fn role(&self, role: Role) -> Handle<StandardMaterial> {
        self.roles
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| self.dark.clone())
    }
}

/// Body parts are small on screen and a crowd has hundreds: their meshes are coarse (bevy's
/// default sphere alone is 20,480 triangles). A body is about 3,000 triangles.
fn ball(radius: f32) -> Mesh {
    let (sectors, stacks) = if radius < 0.03 {
        (6, 4)
    } else if radius < 0.08 {
        (8, 6)
    } else {
        (16, 10)
    };
    Sphere::new(radius).mesh().uv(sectors, stacks)
}

fn capsule_mesh(radius: f32, length: f32) -> Mesh {
    Capsule3d::new(radius, length)
        .mesh()
        .latitudes(8)
        .longitudes(12)
        .build()
}

fn disc(radius: f32, height: f32) -> Mesh {
    Cylinder::new(radius, height)
        .mesh()
        .resolution(if radius > 0.1 { 20 } else { 10 })
        .build()
}

fn merge(into: &mut Mesh, other: Mesh) {
    // Meshes built here from bevy's primitives always share their attributes.
    if let Err(error) = into.merge(&other) {
        warn!("a body part's mesh could not be merged: {error}");
    }
}

/// A hair style's mesh around a head at the origin; none for shaved.
fn hair_mesh(style: usize) -> Option<Mesh> {
    let r = HEAD_RADIUS;
    let cap = || {
        ball(r * 1.08)
            .scaled_by(Vec3::new(0.98, 0.8, 1.04))
            .translated_by(Vec3::new(0.0, 0.035, 0.012))
    };
    match HAIR_STYLES.get(style).copied() {
        Some("short") => Some(cap()),
        Some("long") => {
            let mut hair = cap();
            merge(
                &mut hair,
                capsule_mesh(0.1, 0.16)
                    .scaled_by(Vec3::new(1.25, 1.0, 0.55))
                    .translated_by(Vec3::new(0.0, -0.1, 0.07)),
            );
            Some(hair)
        }
        Some("bun") => {
            let mut hair = cap();
            merge(
                &mut hair,
                ball(0.06)
                    .translated_by(Vec3::new(0.0, 0.1, 0.1)),
            );
            Some(hair)
        }
        Some("curls") => Some(
            ball(r * 1.32)
                .scaled_by(Vec3::new(1.0, 0.92, 1.0))
                .translated_by(Vec3::new(0.0, 0.05, 0.02)),
        ),
        _ => None,
    }
}

/// An accessory's mesh around a head at the origin; none for none.
fn accessory_mesh(accessory: usize) -> Option<Mesh> {
    let r = HEAD_RADIUS;
    match archipelago_shared::avatars::appearance::ACCESSORIES
        .get(accessory)
        .copied()
    {
        Some("cap") => {
            let mut cap = ball(r * 1.12)
                .scaled_by(Vec3::new(1.0, 0.7, 1.0))
                .translated_by(Vec3::Y * 0.05);
            merge(
                &mut cap,
                Cuboid::new(0.2, 0.02, 0.12)
                    .mesh()
                    .build()
                    .translated_by(Vec3::new(0.0, 0.05, -r - 0.03)),
            );
            Some(cap)
        }
        Some("sun hat") => {
            let mut hat = disc(0.27, 0.02)
                .translated_by(Vec3::Y * 0.07);
            merge(
                &mut hat,
                disc(0.125, 0.12)
                    .translated_by(Vec3::Y * 0.13),
            );
            Some(hat)
        }
        Some("beanie") => Some(
            ball(r * 1.14)
                .scaled_by(Vec3::new(1.0, 0.95, 1.0))
                .translated_by(Vec3::Y * 0.05),
        ),
        Some("glasses") => {
            let lens = |x: f32| {
                disc(0.032, 0.01)
                    .rotated_by(Quat::from_rotation_x(std::f32::consts::FRAC_PI_2))
                    .translated_by(Vec3::new(x, 0.02, -r - 0.005))
            };
            let mut glasses = lens(-0.047);
            merge(&mut glasses, lens(0.047));
            merge(
                &mut glasses,
                Cuboid::new(0.2, 0.012, 0.012)
                    .mesh()
                    .build()
                    .translated_by(Vec3::new(0.0, 0.035, -r)),
            );
            Some(glasses)
        }
        _ => None,
    }
}

/// The joints of one body, turned by the animation each frame.
#[derive(Component, Debug, Clone)]
pub struct Rig {
    /// The figure: scaled to the person's height; turns in the editor's preview.
    pub figure: Entity,
    /// Near: the jointed body; far: one simple figure.
    pub near: Entity,
    pub far: Entity,
    pub pelvis: Entity,
    pub torso: Entity,
    pub head: Entity,
    pub thighs: [Entity; 2],
    pub shins: [Entity; 2],
    pub upper_arms: [Entity; 2],
    pub forearms: [Entity; 2],
    /// The rest positions of the pelvis and the shoulders, for this body's shape.
    pub pelvis_rest: Vec3,
}

/// On an avatar drawn as a capsule (the benchmark's baseline): its figure.
#[derive(Component, Debug, Clone, Copy)]
pub struct CapsuleBody {
    pub figure: Entity,
}

/// Draws `avatar` as the capsule of its role, the way avatars were drawn before looks.
pub fn capsule(commands: &mut Commands, avatar: Entity, role: Role, wardrobe: &Wardrobe) -> CapsuleBody {
    let material = wardrobe
        .flat_roles
        .iter()
        .find(|(r, _)| *r == role)
        .map_or_else(|| wardrobe.dark.clone(), |(_, m)| m.clone());
    let figure = commands
        .spawn((Transform::default(), Visibility::default()))
        .id();
    let body = commands
        .spawn((
            Mesh3d(wardrobe.capsule.clone()),
            MeshMaterial3d(material),
            Transform::default(),
        ))
        .id();
    let visor = commands
        .spawn((
            Mesh3d(wardrobe.visor.clone()),
            MeshMaterial3d(wardrobe.lenses.clone()),
            Transform::default(),
        ))
        .id();
    commands.entity(figure).add_children(&[body, visor]);
    commands.entity(avatar).add_child(figure);
    CapsuleBody { figure }
}

/// Marks the far figure of a body.
#[derive(Component)]
pub struct FarBody;

/// Builds the body for `appearance` under `avatar`: its figure and joints, returned as a rig.
pub fn dress(
    commands: &mut Commands,
    avatar: Entity,
    appearance: &Appearance,
    role: Role,
    wardrobe: &mut Wardrobe,
    materials: &mut Assets<StandardMaterial>,
) -> Rig {
    let shape = appearance.body_shape();
    let skin = wardrobe.colour(appearance.skin_tone(), materials);
    let top = wardrobe.colour(appearance.outfit_swatch(0), materials);
    let bottom = wardrobe.colour(appearance.outfit_swatch(1), materials);
    let hair_colour = wardrobe.colour(appearance.hair_swatch(), materials);
    let badge = wardrobe.role(role);
    let dark = wardrobe.dark.clone();
    let m = &wardrobe.meshes;
    let limbs = Vec3::new(shape.limbs, 1.0, shape.limbs);
    let mesh = |commands: &mut Commands, mesh: &Handle<Mesh>, material: &Handle<StandardMaterial>, transform: Transform| {
        commands
            .spawn((Mesh3d(mesh.clone()), MeshMaterial3d(material.clone()), transform))
            .id()
    };

    let figure = commands
        .spawn((
            Transform::from_scale(Vec3::splat(appearance.height_scale())),
            Visibility::default(),
        ))
        .id();
    let near = commands.spawn((Transform::default(), Visibility::default())).id();
    let pelvis_rest = Vec3::Y * HIP_HEIGHT;
    let pelvis = mesh(
        commands,
        &m.pelvis,
        &bottom,
        Transform::from_translation(pelvis_rest).with_scale(Vec3::new(shape.width, 1.0, shape.depth)),
    );
    // The torso is not under the pelvis's scale: its own shape scale is on its mesh.
    let torso = mesh(
        commands,
        &m.torso,
        &top,
        Transform::from_translation(pelvis_rest).with_scale(Vec3::new(shape.width, 1.0, shape.depth)),
    );
    let head = mesh(
        commands,
        &m.head,
        &skin,
        Transform::from_translation(Vec3::Y * HEAD_HEIGHT).with_scale(Vec3::new(
            1.0 / shape.width,
            1.0,
            1.0 / shape.depth,
        )),
    );
    let eyes = mesh(commands, &m.eyes, &dark, Transform::default());
    commands.entity(head).add_child(eyes);
    if let Some(Some(hair)) = m.hair.get(usize::from(appearance.hair)) {
        let hair = mesh(commands, hair, &hair_colour, Transform::default());
        commands.entity(head).add_child(hair);
    }
    if let Some(Some(accessory)) = m.accessory.get(usize::from(appearance.accessory)) {
        let glasses = archipelago_shared::avatars::appearance::ACCESSORIES
            .get(usize::from(appearance.accessory))
            == Some(&"glasses");
        let material = if glasses {
            wardrobe.lenses.clone()
        } else {
            bottom.clone()
        };
        let worn = mesh(commands, accessory, &material, Transform::default());
        commands.entity(head).add_child(worn);
    }
    let badge = mesh(
        commands,
        &m.badge,
        &badge,
        Transform::from_xyz(-0.09, 0.42, -0.13),
    );
    commands.entity(torso).add_children(&[head, badge]);

    let side = |i: usize| if i == 0 { -1.0 } else { 1.0 };
    let mut thighs = [Entity::PLACEHOLDER; 2];
    let mut shins = [Entity::PLACEHOLDER; 2];
    let mut upper_arms = [Entity::PLACEHOLDER; 2];
    let mut forearms = [Entity::PLACEHOLDER; 2];
    for i in 0..2 {
        let shoulder = Vec3::new(side(i) * SHOULDER_WIDTH, SHOULDER_HEIGHT, 0.0);
        upper_arms[i] = mesh(
            commands,
            &m.upper_arm,
            &top,
            // Undo the torso's shape scale, then thicken the limb by the body's.
            Transform::from_translation(shoulder)
                .with_scale(limbs / Vec3::new(shape.width, 1.0, shape.depth)),
        );
        forearms[i] = mesh(
            commands,
            &m.forearm,
            &skin,
            Transform::from_translation(Vec3::Y * -UPPER_ARM),
        );
        commands.entity(upper_arms[i]).add_child(forearms[i]);
        commands.entity(torso).add_child(upper_arms[i]);

        thighs[i] = mesh(
            commands,
            &m.thigh,
            &bottom,
            Transform::from_translation(pelvis_rest + Vec3::X * side(i) * HIP_WIDTH * shape.width)
                .with_scale(limbs),
        );
        shins[i] = mesh(
            commands,
            &m.shin,
            &bottom,
            Transform::from_translation(Vec3::Y * -THIGH),
        );
        let shoe = mesh(
            commands,
            &m.shoe,
            &dark,
            Transform::from_xyz(0.0, -SHIN + 0.035, -0.04),
        );
        commands.entity(shins[i]).add_child(shoe);
        commands.entity(thighs[i]).add_child(shins[i]);
    }
    commands.entity(near).add_children(&[pelvis, torso]);
    commands.entity(near).add_children(&thighs);

    let far = commands
        .spawn((FarBody, Transform::default(), Visibility::Hidden))
        .id();
    let far_body = mesh(commands, &m.far_body, &top, Transform::default());
    let far_head = mesh(commands, &m.far_head, &skin, Transform::default());
    commands.entity(far).add_children(&[far_body, far_head]);

    commands.entity(figure).add_children(&[near, far]);
    commands.entity(avatar).add_child(figure);
    Rig {
        figure,
        near,
        far,
        pelvis,
        torso,
        head,
        thighs,
        shins,
        upper_arms,
        forearms,
        pelvis_rest,
    }
}
