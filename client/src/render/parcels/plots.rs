//! Parcels in the world: each plot is drawn as a tinted rectangle with a border coloured by
//! its status; the one under the mouse lights up and names itself; a click opens the parcel
//! panel.

use archipelago_shared::movement::WorldColliders;
use archipelago_shared::parcels::StatusKind;
use archipelago_shared::world::World;
use bevy::asset::RenderAssetUsages;
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::input::egui_wants_any_pointer_input;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use crate::parcels::{ParcelBook, pick_parcel, screen_ray};
use crate::render::egui_color;

const BORDER_WIDTH: f32 = 0.35;
/// A press and release farther apart than this (pixels) is a camera drag, not a click.
const CLICK_SLOP: f32 = 6.0;

/// The parcel under the mouse, if any.
#[derive(Resource, Debug, Default, Clone, PartialEq)]
pub struct HoveredParcel(pub Option<String>);

/// The parcel whose panel is open, if any.
#[derive(Resource, Debug, Default, Clone, PartialEq)]
pub struct SelectedParcel(pub Option<String>);

/// One drawn plot.
#[derive(Component, Debug)]
struct Plot {
    id: String,
}

/// The plot's border and fill, children of the [`Plot`].
#[derive(Component, Debug)]
enum PlotPart {
    Border,
    Fill,
}

/// Materials by status, plain and lit up.
#[derive(Resource)]
struct PlotMaterials {
    border: [Handle<StandardMaterial>; 5],
    fill: [Handle<StandardMaterial>; 5],
    border_lit: Handle<StandardMaterial>,
    fill_lit: Handle<StandardMaterial>,
}

/// The colour a status is drawn in, everywhere (plots, atlas, panel).
pub fn status_color(kind: Option<StatusKind>) -> Color {
    match kind {
        Some(StatusKind::Owned) => Color::srgb(0.36, 0.52, 0.98),
        Some(StatusKind::ForSale) => Color::srgb(1.0, 0.72, 0.12),
        Some(StatusKind::Crowdfunding) => Color::srgb(0.86, 0.3, 0.9),
        Some(StatusKind::Reserved) => Color::srgb(0.72, 0.72, 0.72),
        // Not known yet (before the registry arrives).
        None => Color::srgb(0.96, 0.94, 0.82),
    }
}

fn slot(kind: Option<StatusKind>) -> usize {
    kind.map_or(4, |k| k as usize)
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<HoveredParcel>()
        .init_resource::<SelectedParcel>()
        .add_systems(Startup, spawn_plots)
        .add_systems(
            Update,
            (
                hover.run_if(not(egui_wants_any_pointer_input)),
                clear_hover.run_if(egui_wants_any_pointer_input),
                click.run_if(not(egui_wants_any_pointer_input)),
                paint,
            )
                .chain(),
        )
        .add_systems(EguiPrimaryContextPass, tooltip);
}

/// A rectangle's border as four strips (one mesh), lying flat at height 0.
fn border_mesh(size: Vec2, width: f32) -> Mesh {
    let mut positions: Vec<[f32; 3]> = Vec::new();
    let mut indices: Vec<u32> = Vec::new();
    let half = size / 2.0;
    let strips = [
        (Vec2::new(0.0, -half.y), Vec2::new(size.x + width, width)),
        (Vec2::new(0.0, half.y), Vec2::new(size.x + width, width)),
        (Vec2::new(-half.x, 0.0), Vec2::new(width, size.y)),
        (Vec2::new(half.x, 0.0), Vec2::new(width, size.y)),
    ];
    for (center, extent) in strips {
        let base = positions.len() as u32;
        let h = extent / 2.0;
        for (dx, dz) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)] {
            positions.push([center.x + dx * h.x, 0.0, center.y + dz * h.y]);
        }
        indices.extend([base, base + 2, base + 1, base, base + 3, base + 2]);
    }
    let normals = vec![[0.0, 1.0, 0.0]; positions.len()];
    let mut mesh = Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::default(),
    );
    mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, positions);
    mesh.insert_attribute(Mesh::ATTRIBUTE_NORMAL, normals);
    mesh.insert_indices(Indices::U32(indices));
    mesh
}

fn spawn_plots(
    mut commands: Commands,
    world: Res<World>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let kinds = [
        Some(StatusKind::Owned),
        Some(StatusKind::ForSale),
        Some(StatusKind::Crowdfunding),
        Some(StatusKind::Reserved),
        None,
    ];
    let unlit = |materials: &mut Assets<StandardMaterial>, color: Color| {
        materials.add(StandardMaterial {
            base_color: color,
            unlit: true,
            alpha_mode: if color.alpha() < 1.0 {
                AlphaMode::Blend
            } else {
                AlphaMode::Opaque
            },
            ..default()
        })
    };
    let plot_materials = PlotMaterials {
        border: kinds.map(|k| unlit(&mut materials, status_color(k))),
        fill: kinds.map(|k| unlit(&mut materials, status_color(k).with_alpha(0.16))),
        border_lit: unlit(&mut materials, Color::WHITE),
        fill_lit: unlit(&mut materials, Color::srgba(1.0, 1.0, 0.85, 0.38)),
    };
    let square = meshes.add(Plane3d::default().mesh().size(1.0, 1.0));
    for protocity in &world.protocities {
        let island = &protocity.island;
        for parcel in &island.parcels {
            let size = parcel.max - parcel.min;
            let center = island.to_world(parcel.center(), 0.05);
            commands
                .spawn((
                    Name::new(format!("Plot {}", parcel.id)),
                    Plot {
                        id: parcel.id.clone(),
                    },
                    Transform::from_translation(center),
                    Visibility::default(),
                ))
                .with_children(|plot| {
                    plot.spawn((
                        PlotPart::Fill,
                        Mesh3d(square.clone()),
                        MeshMaterial3d(plot_materials.fill[4].clone()),
                        Transform::from_scale(Vec3::new(size.x, 1.0, size.y)),
                    ));
                    plot.spawn((
                        PlotPart::Border,
                        Mesh3d(meshes.add(border_mesh(size, BORDER_WIDTH))),
                        MeshMaterial3d(plot_materials.border[4].clone()),
                        Transform::from_xyz(0.0, 0.02, 0.0),
                    ));
                });
        }
    }
    commands.insert_resource(plot_materials);
}

fn hover(
    window: Single<&Window, With<PrimaryWindow>>,
    camera: Single<(&Transform, &Projection), With<Camera3d>>,
    world: Res<World>,
    colliders: Res<WorldColliders>,
    mut hovered: ResMut<HoveredParcel>,
) {
    let (transform, projection) = *camera;
    let next = match (window.cursor_position(), projection) {
        (Some(cursor), Projection::Perspective(perspective)) => {
            let ray = screen_ray(transform, perspective.fov, window.size(), cursor);
            pick_parcel(&world, &colliders, ray)
        }
        _ => None,
    };
    hovered.set_if_neq(HoveredParcel(next));
}

fn clear_hover(mut hovered: ResMut<HoveredParcel>) {
    hovered.set_if_neq(HoveredParcel(None));
}

/// A left click (not a drag) on a plot opens its panel; on open ground it closes the panel.
fn click(
    buttons: Res<ButtonInput<MouseButton>>,
    window: Single<&Window, With<PrimaryWindow>>,
    hovered: Res<HoveredParcel>,
    mut selected: ResMut<SelectedParcel>,
    mut pressed_at: Local<Option<Vec2>>,
) {
    let cursor = window.cursor_position();
    if buttons.just_pressed(MouseButton::Left) {
        *pressed_at = cursor;
    }
    if buttons.just_released(MouseButton::Left) {
        let still =
            matches!((*pressed_at, cursor), (Some(a), Some(b)) if a.distance(b) <= CLICK_SLOP);
        if still && hovered.0.is_some() {
            selected.0.clone_from(&hovered.0);
        }
        *pressed_at = None;
    }
}

/// Colours every plot by its status; the hovered and the selected one light up.
fn paint(
    book: Res<ParcelBook>,
    hovered: Res<HoveredParcel>,
    selected: Res<SelectedParcel>,
    materials: Option<Res<PlotMaterials>>,
    plots: Query<(&Plot, &Children)>,
    mut parts: Query<(&PlotPart, &mut MeshMaterial3d<StandardMaterial>)>,
) {
    let Some(materials) = materials else {
        return;
    };
    if !(book.is_changed() || hovered.is_changed() || selected.is_changed()) {
        return;
    }
    for (plot, children) in &plots {
        let kind = book.get(&plot.id).map(|p| p.status.kind());
        let lit = hovered.0.as_ref() == Some(&plot.id) || selected.0.as_ref() == Some(&plot.id);
        for child in children.iter() {
            let Ok((part, mut material)) = parts.get_mut(child) else {
                continue;
            };
            let handle = match (part, lit) {
                (PlotPart::Border, true) => &materials.border_lit,
                (PlotPart::Fill, true) => &materials.fill_lit,
                (PlotPart::Border, false) => &materials.border[slot(kind)],
                (PlotPart::Fill, false) => &materials.fill[slot(kind)],
            };
            if material.0 != *handle {
                material.0 = handle.clone();
            }
        }
    }
}

/// The hovered parcel's id and status beside the mouse.
fn tooltip(
    mut contexts: EguiContexts,
    hovered: Res<HoveredParcel>,
    book: Res<ParcelBook>,
    window: Single<&Window, With<PrimaryWindow>>,
) -> Result {
    let (Some(id), Some(cursor)) = (&hovered.0, window.cursor_position()) else {
        return Ok(());
    };
    let ctx = contexts.ctx_mut()?;
    let parcel = book.get(id);
    let status = parcel.map_or_else(|| "loading…".to_owned(), |p| p.status.display());
    let color = status_color(parcel.map(|p| p.status.kind()));
    egui::Area::new(egui::Id::new("parcel_tooltip"))
        .fixed_pos(egui::pos2(cursor.x + 16.0, cursor.y + 12.0))
        .interactable(false)
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.strong(id.as_str());
                    ui.colored_label(egui_color(color), status);
                });
                ui.small("Click to inspect");
            });
        });
    Ok(())
}
