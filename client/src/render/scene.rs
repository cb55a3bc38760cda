//! The archipelago built from the world data: ocean and lagoons with moving waves, islands with
//! beaches, buildings, town halls, trees, and the capital's plaza. The sky and the sun are the
//! sky plugin's.

use archipelago_shared::world::{BEACH_WIDTH, Island, SEA_FLOOR, SEA_LEVEL, SolidKind, World};
use bevy::asset::RenderAssetUsages;
use bevy::image::{ImageAddressMode, ImageSampler, ImageSamplerDescriptor};
use bevy::mesh::{PrimitiveTopology, VertexAttributeValues};
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};

/// Sides of an island's polygon.
const SEGMENTS: usize = 72;

/// Metres of sea one tile of the wave normal map covers.
const WAVE_TILE: f32 = 6.0;
/// Side of the wave normal map in pixels (a power of two, for its mipmaps).
const WAVE_PIXELS: usize = 64;
/// Frames of the waves' loop, and how fast they play: the loop lasts four seconds.
const WAVE_FRAMES: usize = 48;
const WAVE_FPS: f64 = 12.0;
/// The waves' slow drift with the wind, in tiles per second.
const WAVE_DRIFT: [f64; 2] = [0.021, 0.013];
/// The waves summed into the normal map: whole cycles across a tile along `u` and `v` (so the
/// map tiles), and each wave's greatest slope.
const WAVES: [(i32, i32, f32); 6] = [
    (1, 2, 0.12),
    (3, -1, 0.1),
    (-2, 3, 0.08),
    (4, 1, 0.07),
    (-1, -5, 0.05),
    (5, 3, 0.04),
];

/// Present once the scene is spawned.
#[derive(Resource)]
pub struct SceneReady;

/// The water's materials and the frames of its waves, played in turn by `animate_water`.
#[derive(Resource)]
struct Water {
    materials: Vec<Handle<StandardMaterial>>,
    frames: Vec<Handle<Image>>,
}

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(Startup, spawn_scene)
        .add_systems(Update, animate_water.run_if(resource_exists::<Water>));
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

/// A water mesh with UVs in wave tiles, taken from each vertex's world `x`, `z` by `world_xz`
/// (so neighbouring surfaces' waves line up), and the tangents its normal map needs.
fn water_surface(mut mesh: Mesh, world_xz: impl Fn(Vec3) -> Vec2) -> Mesh {
    let Some(VertexAttributeValues::Float32x3(positions)) =
        mesh.attribute(Mesh::ATTRIBUTE_POSITION)
    else {
        return mesh;
    };
    let uvs: Vec<[f32; 2]> = positions
        .iter()
        .map(|p| (world_xz(Vec3::from_array(*p)) / WAVE_TILE).to_array())
        .collect();
    mesh.insert_attribute(Mesh::ATTRIBUTE_UV_0, uvs);
    if let Err(error) = mesh.generate_tangents() {
        // Without tangents the normal map is ignored: calm water, not a failure.
        warn!("the water stays flat: {error}");
    }
    mesh
}

/// The sea's slope along `u` and `v` at a point of a wave tile (`u`, `v` in 0..1) at a moment
/// of the loop (`phase` in 0..1). Each wave moves along its own direction at about the speed
/// of deep-water waves of its length, a whole number of periods per loop, so both the tile and
/// the loop repeat seamlessly.
fn wave_slope(u: f32, v: f32, phase: f32) -> Vec2 {
    let loop_secs = (WAVE_FRAMES as f64 / WAVE_FPS) as f32;
    let mut slope = Vec2::ZERO;
    for (m, n, steepness) in WAVES {
        let k = Vec2::new(m as f32, n as f32);
        let length = WAVE_TILE / k.length();
        // Deep water: frequency = sqrt(g / (2 pi wavelength)).
        let periods = (9.81 / (std::f32::consts::TAU * length)).sqrt() * loop_secs;
        let periods = periods.round().max(1.0);
        let angle = std::f32::consts::TAU * (k.x * u + k.y * v - periods * phase);
        slope += k.normalize() * steepness * angle.cos();
    }
    slope
}

/// One frame of the waves' normal map: a tiling, mipmapped tangent-space normal map.
fn wave_image(frame: usize) -> Image {
    let phase = frame as f32 / WAVE_FRAMES as f32;
    let size = WAVE_PIXELS;
    let mut level: Vec<Vec3> = (0..size * size)
        .map(|i| {
            let (x, y) = (i % size, i / size);
            let (u, v) = (x as f32 / size as f32, y as f32 / size as f32);
            let slope = wave_slope(u, v, phase);
            Vec3::new(-slope.x, -slope.y, 1.0).normalize()
        })
        .collect();
    // Each mipmap averages the normals below it, so far-off water calms rather than shimmers.
    let mut data = Vec::new();
    let mut side = size;
    let mut levels = 0;
    loop {
        data.extend(level.iter().flat_map(|n| {
            let byte = |c: f32| ((c * 0.5 + 0.5) * 255.0).round() as u8;
            [byte(n.x), byte(n.y), byte(n.z), 255]
        }));
        levels += 1;
        if side == 1 {
            break;
        }
        let half = side / 2;
        level = (0..half * half)
            .map(|i| {
                let (x, y) = (i % half * 2, i / half * 2);
                let at = |dx: usize, dy: usize| level[(y + dy) * side + x + dx];
                (at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1)) / 4.0
            })
            .collect();
        side = half;
    }
    let mut image = Image::new_uninit(
        Extent3d {
            width: size as u32,
            height: size as u32,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        TextureFormat::Rgba8Unorm,
        RenderAssetUsages::default(),
    );
    image.texture_descriptor.mip_level_count = levels;
    image.data = Some(data);
    image.sampler = ImageSampler::Descriptor(ImageSamplerDescriptor {
        address_mode_u: ImageAddressMode::Repeat,
        address_mode_v: ImageAddressMode::Repeat,
        ..ImageSamplerDescriptor::linear()
    });
    image
}

/// Plays the waves' frames and drifts them with the wind: a material change a dozen times a
/// second, and nothing rebuilt.
fn animate_water(
    time: Res<Time>,
    water: Res<Water>,
    mut shown: Local<Option<usize>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let t = time.elapsed_secs_f64();
    let tick = (t * WAVE_FPS) as usize;
    if *shown == Some(tick) || water.frames.is_empty() {
        return;
    }
    *shown = Some(tick);
    let frame = water.frames[tick % water.frames.len()].clone();
    // Whole tiles of drift change nothing, so only the fraction is kept, for precision.
    let drift = Vec2::new(
        (t * WAVE_DRIFT[0]).fract() as f32,
        (t * WAVE_DRIFT[1]).fract() as f32,
    );
    for handle in &water.materials {
        if let Some(mut material) = materials.get_mut(handle) {
            material.normal_map_texture = Some(frame.clone());
            material.uv_transform = bevy::math::Affine2::from_translation(drift);
        }
    }
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
    mut images: ResMut<Assets<Image>>,
) {
    let extent = world.nation.ocean_half_extent;

    // The ocean, and a deeper floor under it so the horizon never shows the void.
    let frames: Vec<Handle<Image>> = (0..WAVE_FRAMES)
        .map(|frame| images.add(wave_image(frame)))
        .collect();
    let water = materials.add(StandardMaterial {
        base_color: Color::srgb(0.06, 0.3, 0.46),
        perceptual_roughness: 0.12,
        reflectance: 0.6,
        normal_map_texture: frames.first().cloned(),
        ..default()
    });
    let ocean = Plane3d::default()
        .mesh()
        .size(extent * 6.0, extent * 6.0)
        .build();
    commands.spawn((
        Name::new("Ocean"),
        Mesh3d(meshes.add(water_surface(ocean, |p| Vec2::new(p.x, p.z)))),
        MeshMaterial3d(water.clone()),
        Transform::from_xyz(0.0, SEA_LEVEL, 0.0),
    ));
    let lagoon = materials.add(StandardMaterial {
        base_color: Color::srgba(0.2, 0.72, 0.7, 0.55),
        alpha_mode: AlphaMode::Blend,
        perceptual_roughness: 0.1,
        normal_map_texture: frames.first().cloned(),
        ..default()
    });
    commands.insert_resource(Water {
        materials: vec![water, lagoon.clone()],
        frames,
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
        // The disc lies flat, its local y turned to world -z; its waves line up with the ocean's.
        let disc = Circle::new(island.radius + BEACH_WIDTH + 14.0)
            .mesh()
            .build();
        let disc = water_surface(disc, |p| Vec2::new(origin.x + p.x, origin.z - p.y));
        child((
            Mesh3d(meshes.add(disc)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_tile_across_the_map_and_loop_in_time() {
        for (u, v, phase) in [(0.1, 0.7, 0.0), (0.43, 0.2, 0.3), (0.9, 0.95, 0.77)] {
            let here = wave_slope(u, v, phase);
            for (other, what) in [
                (wave_slope(u + 1.0, v, phase), "the next tile along u"),
                (wave_slope(u, v + 1.0, phase), "the next tile along v"),
                (wave_slope(u, v, phase + 1.0), "the next loop"),
            ] {
                assert!(
                    here.distance(other) < 1e-3,
                    "{what} matches at ({u}, {v}, {phase}): {here} vs {other}"
                );
            }
        }
        assert!(
            wave_slope(0.1, 0.7, 0.0).distance(wave_slope(0.1, 0.7, 0.25)) > 1e-3,
            "the waves move within the loop"
        );
    }

    #[test]
    fn water_surfaces_get_tangents_and_uvs_in_tiles() {
        let ocean = water_surface(Plane3d::default().mesh().size(60.0, 60.0).build(), |p| {
            Vec2::new(p.x, p.z)
        });
        let disc = water_surface(Circle::new(30.0).mesh().build(), |p| Vec2::new(p.x, -p.y));
        for (mesh, what) in [(ocean, "ocean"), (disc, "lagoon")] {
            assert!(
                mesh.attribute(Mesh::ATTRIBUTE_TANGENT).is_some(),
                "the {what} has tangents for its normal map"
            );
            let Some(VertexAttributeValues::Float32x2(uvs)) = mesh.attribute(Mesh::ATTRIBUTE_UV_0)
            else {
                panic!("the {what} has UVs");
            };
            let widest = uvs.iter().map(|uv| uv[0].abs()).fold(0.0, f32::max);
            assert!(
                (widest - 30.0 / WAVE_TILE).abs() < 0.01,
                "the {what}'s UVs count wave tiles: {widest}"
            );
        }
    }

    #[test]
    fn wave_image_holds_every_mipmap() {
        let image = wave_image(0);
        let levels = WAVE_PIXELS.trailing_zeros() + 1;
        assert_eq!(image.texture_descriptor.mip_level_count, levels);
        let texels: usize = (0..levels).map(|l| (WAVE_PIXELS >> l).pow(2)).sum();
        assert_eq!(
            image.data.as_ref().map(Vec::len),
            Some(texels * 4),
            "four bytes for each texel of every level"
        );
    }
}
