//! The archipelago built from the world data: ocean, islands with beaches and lagoons,
//! buildings, town halls, trees, the capital's plaza, sky and
//! sun.

use archipelago_shared::world::{BEACH_WIDTH, Island, SEA_FLOOR, SEA_LEVEL, SolidKind, World};
use bevy::asset::RenderAssetUsages;
use bevy::light::{CascadeShadowConfigBuilder, GlobalAmbientLight};
use bevy::mesh::PrimitiveTopology;
use bevy::prelude::*;

/// Sides of an island's polygon.
const SEGMENTS: usize = 72;

/// Present once the scene is spawned.
#[derive(Resource)]
pub struct SceneReady;

pub(crate) fn plugin(app: &mut App) {
    app.insert_resource(ClearColor(Color::srgb(0.56, 0.76, 0.93)))
        .insert_resource(GlobalAmbientLight {
            color: Color::srgb(0.75, 0.85, 1.0),
            brightness: 700.0,
            ..default()
        })
        .add_systems(Startup, spawn_scene);
}

/// Cheap deterministic noise in 0..1 from a position, for colour variation.
fn hash(x: f32, z: f32) -> f32 {
    let v = (x * 12.9898 + z * 78.233).sin() * 43_758.547;
    v - v.floor()
}

fn linear(c: [f32; 3]) -> Color {
    Color::linear_rgb(c[0], c[1], c[2])
}

/// A flat-shaded, vertex-coloured island: grass top, sand beach sloping into the sea.
fn island_mesh(island: &Island) -> Mesh {
    let grass = island.ground_color;
    let sand = [0.78, 0.67, 0.45];
    let wet_sand = [0.55, 0.47, 0.33];
    let rings = [0.0, 0.35, 0.6, 0.82, 1.0];
    let mut positions: Vec<[f32; 3]> = Vec::new();
    let mut colors: Vec<[f32; 4]> = Vec::new();
    let mut tri = |a: Vec3, b: Vec3, c: Vec3, color: [f32; 3], positions: &mut Vec<[f32; 3]>| {
        for p in [a, b, c] {
            positions.push(p.to_array());
            let shade = 0.9 + 0.2 * hash(p.x, p.z);
            colors.push([color[0] * shade, color[1] * shade, color[2] * shade, 1.0]);
        }
    };
    let at =
        |angle: f32, radius: f32, y: f32| Vec3::new(angle.cos() * radius, y, angle.sin() * radius);
    for i in 0..SEGMENTS {
        let a0 = i as f32 / SEGMENTS as f32 * std::f32::consts::TAU;
        let a1 = (i + 1) as f32 / SEGMENTS as f32 * std::f32::consts::TAU;
        let h = island.height;
        for pair in rings.windows(2) {
            let (r0, r1) = (pair[0] * island.radius, pair[1] * island.radius);
            let tint = 0.92 + 0.1 * pair[0];
            let color = [grass[0] * tint, grass[1] * tint, grass[2] * tint];
            if r0 == 0.0 {
                tri(
                    at(a0, 0.0, h),
                    at(a1, r1, h),
                    at(a0, r1, h),
                    color,
                    &mut positions,
                );
            } else {
                tri(
                    at(a0, r0, h),
                    at(a1, r1, h),
                    at(a0, r1, h),
                    color,
                    &mut positions,
                );
                tri(
                    at(a0, r0, h),
                    at(a1, r0, h),
                    at(a1, r1, h),
                    color,
                    &mut positions,
                );
            }
        }
        // Beach: a dry band, then wet sand down to the sea floor.
        let r = island.radius;
        let mid = r + BEACH_WIDTH * 0.45;
        let mid_y = SEA_LEVEL + 0.15;
        let out = r + BEACH_WIDTH;
        let low = SEA_FLOOR - 1.0;
        tri(
            at(a0, r, h),
            at(a1, mid, mid_y),
            at(a0, mid, mid_y),
            sand,
            &mut positions,
        );
        tri(
            at(a0, r, h),
            at(a1, r, h),
            at(a1, mid, mid_y),
            sand,
            &mut positions,
        );
        tri(
            at(a0, mid, mid_y),
            at(a1, out, low),
            at(a0, out, low),
            wet_sand,
            &mut positions,
        );
        tri(
            at(a0, mid, mid_y),
            at(a1, mid, mid_y),
            at(a1, out, low),
            wet_sand,
            &mut positions,
        );
    }
    let mut mesh = Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::default(),
    );
    mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, positions);
    mesh.insert_attribute(Mesh::ATTRIBUTE_COLOR, colors);
    mesh.compute_flat_normals();
    mesh
}

fn matte(
    materials: &mut Assets<StandardMaterial>,
    color: Color,
    roughness: f32,
) -> Handle<StandardMaterial> {
    materials.add(StandardMaterial {
        base_color: color,
        perceptual_roughness: roughness,
        ..default()
    })
}

fn spawn_scene(
    mut commands: Commands,
    world: Res<World>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let extent = world.nation.ocean_half_extent;

    // The sun, low enough in the afternoon for long shadows.
    commands.spawn((
        Name::new("Sun"),
        DirectionalLight {
            illuminance: 11_000.0,
            shadow_maps_enabled: true,
            ..default()
        },
        Transform::from_xyz(0.0, 0.0, 0.0).looking_to(Vec3::new(-0.45, -0.75, -0.35), Vec3::Y),
        CascadeShadowConfigBuilder {
            num_cascades: 2,
            maximum_distance: 120.0,
            first_cascade_far_bound: 40.0,
            ..default()
        }
        .build(),
    ));

    // The ocean, and a deeper floor under it so the horizon never shows the void.
    let water = materials.add(StandardMaterial {
        base_color: Color::srgb(0.06, 0.3, 0.46),
        perceptual_roughness: 0.12,
        reflectance: 0.6,
        ..default()
    });
    commands.spawn((
        Name::new("Ocean"),
        Mesh3d(meshes.add(Plane3d::default().mesh().size(extent * 6.0, extent * 6.0))),
        MeshMaterial3d(water),
        Transform::from_xyz(0.0, SEA_LEVEL, 0.0),
    ));
    let lagoon = materials.add(StandardMaterial {
        base_color: Color::srgba(0.2, 0.72, 0.7, 0.55),
        alpha_mode: AlphaMode::Blend,
        perceptual_roughness: 0.1,
        ..default()
    });

    let vertex_colored = matte(&mut materials, Color::WHITE, 0.95);
    let wall = matte(&mut materials, Color::srgb(0.86, 0.83, 0.76), 0.85);
    let stage = matte(&mut materials, Color::srgb(0.52, 0.33, 0.18), 0.7);
    let seat = matte(&mut materials, Color::srgb(0.62, 0.13, 0.14), 0.7);
    let floor = matte(&mut materials, Color::srgb(0.72, 0.6, 0.45), 0.8);
    let trunk = matte(&mut materials, Color::srgb(0.4, 0.27, 0.16), 0.9);
    let leaves = [
        matte(&mut materials, Color::srgb(0.13, 0.42, 0.16), 0.9),
        matte(&mut materials, Color::srgb(0.2, 0.5, 0.2), 0.9),
        matte(&mut materials, Color::srgb(0.1, 0.36, 0.2), 0.9),
    ];
    let paving = matte(&mut materials, Color::srgb(0.84, 0.81, 0.74), 0.9);
    let monument = materials.add(StandardMaterial {
        base_color: Color::srgb(0.95, 0.85, 0.55),
        metallic: 0.6,
        perceptual_roughness: 0.35,
        ..default()
    });
    let roof = matte(&mut materials, Color::srgb(0.55, 0.22, 0.16), 0.8);
    let cube = meshes.add(Cuboid::new(1.0, 1.0, 1.0));
    let trunk_mesh = meshes.add(Cylinder::new(0.22, 3.2));
    let crown = meshes.add(
        Sphere::new(1.9)
            .mesh()
            .ico(2)
            .unwrap_or_else(|_| Sphere::new(1.9).mesh().build()),
    );

    for protocity in &world.protocities {
        let island = &protocity.island;
        let origin = Vec3::new(island.position.x, 0.0, island.position.y);
        let root = commands
            .spawn((
                Name::new(format!("Island {}", protocity.name)),
                Transform::from_translation(origin),
                Visibility::default(),
            ))
            .id();
        let mut children = Vec::new();
        let mut child = |bundle: (Mesh3d, MeshMaterial3d<StandardMaterial>, Transform)| {
            children.push(commands.spawn(bundle).id());
        };
        child((
            Mesh3d(meshes.add(island_mesh(island))),
            MeshMaterial3d(vertex_colored.clone()),
            Transform::IDENTITY,
        ));
        child((
            Mesh3d(meshes.add(Circle::new(island.radius + BEACH_WIDTH + 14.0))),
            MeshMaterial3d(lagoon.clone()),
            Transform::from_xyz(0.0, SEA_LEVEL + 0.02, 0.0)
                .with_rotation(Quat::from_rotation_x(-std::f32::consts::FRAC_PI_2)),
        ));

        // Parcels are drawn by the plots plugin, coloured by their status.
        let ground = island.height;

        for building in &island.buildings {
            let color = linear(building.color);
            let body = materials.add(StandardMaterial {
                base_color: color,
                perceptual_roughness: 0.85,
                ..default()
            });
            let s = building.size;
            child((
                Mesh3d(cube.clone()),
                MeshMaterial3d(body),
                Transform::from_xyz(building.center.x, ground + s.y / 2.0, building.center.y)
                    .with_scale(s),
            ));
            child((
                Mesh3d(cube.clone()),
                MeshMaterial3d(roof.clone()),
                Transform::from_xyz(building.center.x, ground + s.y + 0.2, building.center.y)
                    .with_scale(Vec3::new(s.x + 0.8, 0.4, s.z + 0.8)),
            ));
        }

        let hall = &island.town_hall;
        child((
            Mesh3d(cube.clone()),
            MeshMaterial3d(floor.clone()),
            Transform::from_xyz(hall.center.x, ground + 0.02, hall.center.y).with_scale(Vec3::new(
                hall.size.x,
                0.04,
                hall.size.y,
            )),
        ));
        for solid in island.solids() {
            let material = match solid.kind {
                SolidKind::HallWall => wall.clone(),
                SolidKind::Stage => stage.clone(),
                SolidKind::Seat => seat.clone(),
                SolidKind::Monument => monument.clone(),
                // The governance plugin draws the kiosk with its screen.
                SolidKind::Kiosk => continue,
                // Buildings were drawn above with their own colours and roofs.
                SolidKind::Building => continue,
            };
            child((
                Mesh3d(cube.clone()),
                MeshMaterial3d(material),
                Transform::from_translation(solid.center - origin)
                    .with_scale(solid.half_extents * 2.0),
            ));
        }

        if let Some(plaza) = &island.plaza {
            child((
                Mesh3d(meshes.add(Circle::new(plaza.radius))),
                MeshMaterial3d(paving.clone()),
                Transform::from_xyz(plaza.center.x, ground + 0.03, plaza.center.y)
                    .with_rotation(Quat::from_rotation_x(-std::f32::consts::FRAC_PI_2)),
            ));
        }

        for tree in &island.trees {
            let scale = 0.8 + 0.5 * hash(tree.x, tree.y);
            child((
                Mesh3d(trunk_mesh.clone()),
                MeshMaterial3d(trunk.clone()),
                Transform::from_xyz(tree.x, ground + 1.6 * scale, tree.y)
                    .with_scale(Vec3::splat(scale)),
            ));
            let pick = (hash(tree.y, tree.x) * leaves.len() as f32) as usize % leaves.len();
            child((
                Mesh3d(crown.clone()),
                MeshMaterial3d(leaves[pick].clone()),
                Transform::from_xyz(tree.x, ground + 4.0 * scale, tree.y).with_scale(Vec3::new(
                    scale,
                    scale * 1.15,
                    scale,
                )),
            ));
        }
        commands.entity(root).add_children(&children);
    }
    commands.insert_resource(SceneReady);
}
