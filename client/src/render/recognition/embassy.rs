//! The embassy row in the capital: one plinth, plaque and flag per recognizing state or body,
//! along the avenue leaving the plaza. The relation shows in the look: a grey stone plinth
//! and a small pennant for talks, bronze for a memorandum, silver and a full flag for de
//! facto recognition, gold and the tallest pole for de jure. A plaque added while someone
//! watches rises out of the ground; names and relations are written over the plaques.

use archipelago_shared::recognition::Relation;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::window::relation_color;
use crate::recognition::{EmbassyRow, Plaque};

/// How long a new plaque takes to rise.
const RISE_SECONDS: f32 = 1.5;
/// Plaques are labelled when the camera is closer than this.
const LABEL_RANGE: f32 = 45.0;

/// One recognizer's plaque (the root of its plinth, pole and flag).
#[derive(Component, Debug)]
pub struct EmbassyPlaque {
    pub recognizer: String,
}

/// A plaque rising out of the ground since this time (seconds since start).
#[derive(Component, Debug)]
struct Rising(f32);

/// Meshes and materials shared by every plaque.
#[derive(Resource)]
struct Kit {
    cube: Handle<Mesh>,
    pole: Handle<Mesh>,
    face: Handle<StandardMaterial>,
    pole_metal: Handle<StandardMaterial>,
    plinths: [Handle<StandardMaterial>; 4],
    stripes: Vec<Handle<StandardMaterial>>,
}

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(Startup, make_kit)
        .add_systems(Update, (build_row, rise).chain())
        .add_systems(EguiPrimaryContextPass, labels);
}

fn metal(color: Color, metallic: f32, roughness: f32) -> StandardMaterial {
    StandardMaterial {
        base_color: color,
        metallic,
        perceptual_roughness: roughness,
        ..default()
    }
}

fn make_kit(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let plinths = [
        metal(Color::srgb(0.62, 0.62, 0.6), 0.0, 0.9),
        metal(Color::srgb(0.72, 0.45, 0.22), 0.7, 0.4),
        metal(Color::srgb(0.78, 0.8, 0.84), 0.8, 0.3),
        metal(Color::srgb(0.95, 0.76, 0.25), 0.9, 0.25),
    ]
    .map(|m| materials.add(m));
    // Flag colours: each recognizer gets two from this palette, by its name.
    let stripes = [
        (0.75, 0.12, 0.14),
        (0.1, 0.25, 0.6),
        (0.95, 0.95, 0.95),
        (0.1, 0.5, 0.25),
        (0.98, 0.8, 0.1),
        (0.05, 0.55, 0.75),
        (0.55, 0.1, 0.35),
        (0.1, 0.1, 0.12),
    ]
    .into_iter()
    .map(|(r, g, b)| {
        materials.add(StandardMaterial {
            base_color: Color::srgb(r, g, b),
            perceptual_roughness: 0.8,
            double_sided: true,
            ..default()
        })
    })
    .collect();
    commands.insert_resource(Kit {
        cube: meshes.add(Cuboid::new(1.0, 1.0, 1.0)),
        pole: meshes.add(Cylinder::new(0.06, 1.0)),
        face: materials.add(metal(Color::srgb(0.12, 0.14, 0.17), 0.2, 0.6)),
        pole_metal: materials.add(metal(Color::srgb(0.85, 0.86, 0.88), 0.9, 0.3)),
        plinths,
        stripes,
    });
}

/// Pole height and flag size (width, height) for a relation.
fn proportions(relation: Relation) -> (f32, Vec2) {
    match relation {
        Relation::Talks => (3.0, Vec2::new(0.9, 0.5)),
        Relation::Memorandum => (4.0, Vec2::new(1.3, 0.8)),
        Relation::DeFacto => (5.0, Vec2::new(1.8, 1.1)),
        Relation::DeJure => (6.2, Vec2::new(2.3, 1.45)),
    }
}

fn name_hash(name: &str) -> usize {
    name.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    }) as usize
}

fn spawn_plaque(commands: &mut Commands, kit: &Kit, plaque: &Plaque, rising: Option<f32>) {
    let (pole_height, flag) = proportions(plaque.relation);
    let hash = name_hash(&plaque.recognizer);
    let first = hash % kit.stripes.len();
    let mut second = (hash / 7) % kit.stripes.len();
    if second == first {
        second = (second + 1) % kit.stripes.len();
    }
    let mut root = commands.spawn((
        Name::new(format!("Embassy plaque: {}", plaque.recognizer)),
        EmbassyPlaque {
            recognizer: plaque.recognizer.clone(),
        },
        Transform::from_translation(plaque.position)
            .with_rotation(Quat::from_rotation_y(plaque.yaw))
            .with_scale(Vec3::new(
                1.0,
                if rising.is_some() { 0.01 } else { 1.0 },
                1.0,
            )),
        Visibility::default(),
    ));
    if let Some(since) = rising {
        root.insert(Rising(since));
    }
    root.with_children(|parent| {
        let part =
            |mesh: &Handle<Mesh>, material: &Handle<StandardMaterial>, at: Vec3, size: Vec3| {
                (
                    Mesh3d(mesh.clone()),
                    MeshMaterial3d(material.clone()),
                    Transform::from_translation(at).with_scale(size),
                )
            };
        let plinth = &kit.plinths[plaque.relation as usize];
        parent.spawn(part(
            &kit.cube,
            plinth,
            Vec3::new(0.0, 0.5, 0.0),
            Vec3::new(1.6, 1.0, 0.6),
        ));
        parent.spawn(part(
            &kit.cube,
            &kit.face,
            Vec3::new(0.0, 0.55, 0.31),
            Vec3::new(1.3, 0.6, 0.04),
        ));
        parent.spawn(part(
            &kit.pole,
            &kit.pole_metal,
            Vec3::new(-0.6, pole_height / 2.0, -0.45),
            Vec3::new(1.0, pole_height, 1.0),
        ));
        let top = pole_height - 0.1 - flag.y / 4.0;
        for (i, stripe) in [first, second].into_iter().enumerate() {
            parent.spawn(part(
                &kit.cube,
                &kit.stripes[stripe],
                Vec3::new(
                    -0.6 + flag.x / 2.0 + 0.06,
                    top - flag.y / 2.0 * i as f32,
                    -0.45,
                ),
                Vec3::new(flag.x, flag.y / 2.0, 0.04),
            ));
        }
    });
}

/// Rebuilds the row when it changes; plaques that were not there before rise.
fn build_row(
    mut commands: Commands,
    row: Res<EmbassyRow>,
    kit: Option<Res<Kit>>,
    existing: Query<(Entity, &EmbassyPlaque)>,
    time: Res<Time>,
    mut built_once: Local<bool>,
) {
    let Some(kit) = kit else {
        return;
    };
    if !row.is_changed() || row.plaques.is_empty() && !*built_once {
        return;
    }
    let before: Vec<String> = existing.iter().map(|(_, p)| p.recognizer.clone()).collect();
    for (entity, _) in &existing {
        commands.entity(entity).despawn();
    }
    for plaque in &row.plaques {
        let new = *built_once && !before.contains(&plaque.recognizer);
        spawn_plaque(
            &mut commands,
            &kit,
            plaque,
            new.then(|| time.elapsed_secs()),
        );
    }
    *built_once = true;
}

fn rise(
    mut commands: Commands,
    mut rising: Query<(Entity, &Rising, &mut Transform)>,
    time: Res<Time>,
) {
    for (entity, since, mut transform) in &mut rising {
        let t = ((time.elapsed_secs() - since.0) / RISE_SECONDS).clamp(0.0, 1.0);
        // Ease out: fast at first, settling gently.
        transform.scale.y = (1.0 - (1.0 - t).powi(3)).max(0.01);
        if t >= 1.0 {
            commands.entity(entity).remove::<Rising>();
        }
    }
}

/// Each plaque's name and relation, written over it when the camera is near.
fn labels(
    mut contexts: EguiContexts,
    camera: Single<(&Camera, &GlobalTransform), With<Camera3d>>,
    row: Res<EmbassyRow>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let (camera, camera_transform) = *camera;
    let eye = camera_transform.translation();
    let painter = ctx.layer_painter(egui::LayerId::background());
    for plaque in &row.plaques {
        let anchor = plaque.position + Vec3::Y * 1.6;
        if anchor.distance(eye) > LABEL_RANGE {
            continue;
        }
        let Ok(at) = camera.world_to_viewport(camera_transform, anchor) else {
            continue;
        };
        let mut job = egui::text::LayoutJob::default();
        job.append(
            &plaque.recognizer,
            0.0,
            egui::TextFormat::simple(egui::FontId::proportional(13.0), egui::Color32::WHITE),
        );
        job.append(
            &format!("\n{}", plaque.relation.title()),
            0.0,
            egui::TextFormat::simple(
                egui::FontId::proportional(11.0),
                relation_color(plaque.relation),
            ),
        );
        job.halign = egui::Align::Center;
        let galley = painter.layout_job(job);
        let rect = egui::Rect::from_center_size(egui::pos2(at.x, at.y), galley.size()).expand(4.0);
        painter.rect_filled(rect, 4.0, egui::Color32::from_black_alpha(200));
        painter.galley(
            egui::pos2(at.x, rect.min.y + 4.0),
            galley,
            egui::Color32::WHITE,
        );
    }
    Ok(())
}
