//! The governance furniture of every town hall. The tally board on the back wall is a
//! texture that its own egui context redraws every frame from [`Governance`]: the hall's open
//! proposals with countdowns, turnout against quorum, and the live count as bars (when the
//! proposal shows it), else the latest results. The ballot kiosk beside the door opens the
//! governance window for that hall when a member stands at it and presses F.

use archipelago_shared::governance::tally::{Outcome, Tally};
use archipelago_shared::governance::{Phase, ProposalView, Scope, countdown};
use archipelago_shared::world::{Protocity, World};
use bevy::camera::visibility::RenderLayers;
use bevy::camera::{ImageRenderTarget, RenderTarget};
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use bevy_egui::input::egui_wants_any_keyboard_input;
use bevy_egui::{
    EguiContext, EguiContextSettings, EguiContexts, EguiFullOutput, EguiInput, EguiPostUpdateSet,
    EguiPrimaryContextPass, egui,
};

use super::window::GovernanceWindow;
use crate::clock::ServerClock;
use crate::connection::Session;
use crate::governance::Governance;

/// Pixels of a board's texture; its shape is the board's shape.
const BOARD_PX: UVec2 = UVec2::new(1120, 640);
/// How near (metres, on the ground) a member must stand to use a kiosk.
pub const KIOSK_REACH: f32 = archipelago_shared::governance::KIOSK_REACH;
/// Boards farther than this from the camera are not re-rendered (nobody can read them).
const BOARD_RANGE: f32 = 180.0;
/// Proposals a board has room for.
const BOARD_ROWS: usize = 3;

/// A hall's tally board: the camera that renders its egui context into the board texture.
#[derive(Component, Debug)]
pub struct TallyBoard {
    pub protocity: String,
    /// Where the board hangs, for the distance check.
    pub centre: Vec3,
    /// Proposals it showed last frame.
    pub shown: usize,
}

/// A hall's ballot kiosk.
#[derive(Component, Debug)]
pub struct BallotKiosk {
    pub protocity: String,
}

/// The kiosk the own avatar stands at, if any.
#[derive(Resource, Debug, Default)]
pub struct NearKiosk(pub Option<String>);

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<NearKiosk>()
        .add_systems(Startup, furnish_halls)
        .add_systems(
            Update,
            (
                find_near_kiosk,
                use_kiosk
                    .after(find_near_kiosk)
                    .run_if(not(egui_wants_any_keyboard_input)),
            ),
        )
        .add_systems(EguiPrimaryContextPass, kiosk_hint)
        .add_systems(
            PostUpdate,
            draw_boards.before(EguiPostUpdateSet::ProcessOutput),
        );
}

/// The hall's frame in world axes: towards the door, and across (to the right of someone
/// walking in).
fn hall_axes(protocity: &Protocity) -> (Vec3, Vec3) {
    let door = protocity.island.town_hall.door_direction();
    let door = Vec3::new(door.x, 0.0, door.y);
    let across = Vec3::new(-door.z, 0.0, door.x);
    (door, across)
}

fn furnish_halls(
    mut commands: Commands,
    world: Res<World>,
    mut images: ResMut<Assets<Image>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let aspect = BOARD_PX.x as f32 / BOARD_PX.y as f32;
    let frame = materials.add(StandardMaterial {
        base_color: Color::srgb(0.18, 0.13, 0.09),
        perceptual_roughness: 0.8,
        ..default()
    });
    let kiosk_body = materials.add(StandardMaterial {
        base_color: Color::srgb(0.16, 0.2, 0.26),
        metallic: 0.3,
        perceptual_roughness: 0.5,
        ..default()
    });
    let kiosk_screen = materials.add(StandardMaterial {
        base_color: Color::srgb(0.1, 0.35, 0.6),
        emissive: LinearRgba::rgb(0.4, 1.2, 2.4),
        ..default()
    });
    let kiosk_lamp = materials.add(StandardMaterial {
        base_color: Color::srgb(0.95, 0.78, 0.2),
        emissive: LinearRgba::rgb(3.0, 2.2, 0.4),
        ..default()
    });
    let cube = meshes.add(Cuboid::new(1.0, 1.0, 1.0));
    let quad = meshes.add(Rectangle::new(1.0, 1.0));
    for (index, protocity) in world.protocities.iter().enumerate() {
        let island = &protocity.island;
        let hall = &island.town_hall;
        let (door, across) = hall_axes(protocity);
        let facing = Quat::from_rotation_arc(Vec3::Z, door);

        // The board: as wide as the wall allows, below the top of the wall.
        let (anchor, max_width, lower) = hall.board_anchor();
        let height = (max_width / aspect)
            .min(hall.wall_height - lower - 0.3)
            .max(1.0);
        let width = height * aspect;
        let centre = island.to_world(anchor, lower + height / 2.0) + door * 0.08;
        let image = images.add(Image::new_target_texture(
            BOARD_PX.x,
            BOARD_PX.y,
            TextureFormat::Rgba8UnormSrgb,
            None,
        ));
        commands.spawn((
            Name::new(format!("Tally board camera: {}", protocity.id)),
            Camera2d,
            Camera {
                order: -1 - index as isize,
                clear_color: ClearColorConfig::Custom(Color::srgb(0.05, 0.09, 0.14)),
                ..default()
            },
            RenderTarget::Image(ImageRenderTarget {
                handle: image.clone(),
                scale_factor: 1.0,
            }),
            RenderLayers::none(),
            Msaa::Off,
            EguiContext::default(),
            EguiContextSettings {
                run_manually: true,
                ..default()
            },
            TallyBoard {
                protocity: protocity.id.clone(),
                centre,
                shown: 0,
            },
        ));
        commands.spawn((
            Name::new(format!("Tally board: {}", protocity.id)),
            Mesh3d(quad.clone()),
            MeshMaterial3d(materials.add(StandardMaterial {
                base_color_texture: Some(image),
                unlit: true,
                fog_enabled: false,
                ..default()
            })),
            Transform::from_translation(centre)
                .with_rotation(facing)
                .with_scale(Vec3::new(width, height, 1.0)),
        ));
        commands.spawn((
            Mesh3d(cube.clone()),
            MeshMaterial3d(frame.clone()),
            Transform::from_translation(centre - door * 0.05)
                .with_rotation(facing)
                .with_scale(Vec3::new(width + 0.3, height + 0.3, 0.06)),
        ));

        // The kiosk: a lectern whose screen faces the aisle, with a lamp on top.
        let at = island.to_world(hall.kiosk_position(), 0.0);
        let toward_aisle = -across;
        commands
            .spawn((
                Name::new(format!("Ballot kiosk: {}", protocity.id)),
                BallotKiosk {
                    protocity: protocity.id.clone(),
                },
                Transform::from_translation(at),
                Visibility::default(),
            ))
            .with_children(|kiosk| {
                kiosk.spawn((
                    Mesh3d(cube.clone()),
                    MeshMaterial3d(kiosk_body.clone()),
                    Transform::from_xyz(0.0, 0.625, 0.0)
                        .with_rotation(facing)
                        .with_scale(Vec3::new(0.9, 1.25, 0.6)),
                ));
                kiosk.spawn((
                    Mesh3d(quad.clone()),
                    MeshMaterial3d(kiosk_screen.clone()),
                    Transform::from_translation(toward_aisle * 0.455 + Vec3::Y * 0.9)
                        .with_rotation(Quat::from_rotation_arc(Vec3::Z, toward_aisle))
                        .with_scale(Vec3::new(0.48, 0.5, 1.0)),
                ));
                kiosk.spawn((
                    Mesh3d(cube.clone()),
                    MeshMaterial3d(kiosk_lamp.clone()),
                    Transform::from_xyz(0.0, 1.32, 0.0).with_scale(Vec3::new(0.5, 0.14, 0.3)),
                ));
            });
    }
}

/// The own avatar's position on the ground, if it has one.
fn own_position(session: &Session, transforms: &Query<&GlobalTransform>) -> Option<Vec3> {
    session
        .own_avatar
        .and_then(|e| transforms.get(e).ok())
        .map(GlobalTransform::translation)
}

fn find_near_kiosk(
    session: Res<Session>,
    transforms: Query<&GlobalTransform>,
    world: Res<World>,
    mut near: ResMut<NearKiosk>,
) {
    let found = own_position(&session, &transforms)
        .and_then(|me| world.kiosk_near(me, KIOSK_REACH))
        .map(|p| p.id.clone());
    if near.0 != found {
        near.0 = found;
    }
}

/// F at a kiosk opens the governance window for that hall, on its first open proposal.
fn use_kiosk(
    keys: Res<ButtonInput<KeyCode>>,
    near: Res<NearKiosk>,
    book: Res<Governance>,
    clock: Res<ServerClock>,
    mut window: ResMut<GovernanceWindow>,
) {
    let Some(protocity) = &near.0 else {
        return;
    };
    if !keys.just_pressed(KeyCode::KeyF) {
        return;
    }
    open_at_kiosk(&mut window, protocity, &book, clock.now());
}

/// Opens the window as the kiosk of `protocity`'s hall, on the first proposal that takes
/// ballots at `now` (Unix seconds, server clock).
pub fn open_at_kiosk(window: &mut GovernanceWindow, protocity: &str, book: &Governance, now: i64) {
    window.open = true;
    window.kiosk = Some(protocity.to_owned());
    if let Some(first) = hall_proposals(book, protocity, now)
        .into_iter()
        .find(|v| v.proposal.accepts_ballots(now))
    {
        window.selected = Some(first.proposal.id);
    }
}

fn kiosk_hint(
    mut contexts: EguiContexts,
    near: Res<NearKiosk>,
    window: Res<GovernanceWindow>,
    world: Res<World>,
) -> Result {
    let Some(id) = &near.0 else {
        return Ok(());
    };
    if window.open && window.kiosk.as_ref() == Some(id) {
        return Ok(());
    }
    let name = world.protocity(id).map_or(id.as_str(), |p| p.name.as_str());
    let ctx = contexts.ctx_mut()?;
    egui::Area::new(egui::Id::new("kiosk_hint"))
        .anchor(egui::Align2::CENTER_BOTTOM, egui::vec2(0.0, -60.0))
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.label(
                    egui::RichText::new(format!("Press F to vote at the ballot kiosk of {name}"))
                        .size(16.0)
                        .strong(),
                );
            });
        });
    Ok(())
}

/// What a hall shows: proposals for the nation or for this protocity, open ones first
/// (closing soonest first), then the latest results.
pub fn hall_proposals<'a>(
    book: &'a Governance,
    protocity: &str,
    now: i64,
) -> Vec<&'a ProposalView> {
    let in_scope = |v: &&ProposalView| match &v.proposal.draft.scope {
        Scope::Nation => true,
        Scope::Protocity(id) => id == protocity,
    };
    let mut open: Vec<&ProposalView> = book
        .proposals
        .values()
        .filter(in_scope)
        .filter(|v| v.proposal.phase == Phase::Open)
        .collect();
    open.sort_by_key(|v| v.proposal.closes_at.unwrap_or(now));
    let mut closed: Vec<&ProposalView> = book
        .proposals
        .values()
        .filter(in_scope)
        .filter(|v| v.proposal.phase == Phase::Closed)
        .collect();
    closed.sort_by_key(|v| std::cmp::Reverse(v.proposal.closed_at));
    open.into_iter().chain(closed).take(BOARD_ROWS).collect()
}

/// Runs every board's egui pass: each context must produce output every frame.
fn draw_boards(
    mut boards: Query<(
        &mut TallyBoard,
        &mut Camera,
        &mut EguiContext,
        &mut EguiInput,
        &mut EguiFullOutput,
    )>,
    eye: Query<&GlobalTransform, With<Camera3d>>,
    book: Res<Governance>,
    world: Res<World>,
    clock: Res<ServerClock>,
    time: Res<Time>,
) {
    let eye = eye.iter().next().map(GlobalTransform::translation);
    let now = clock.now();
    let flash = time.elapsed_secs_f64();
    for (mut board, mut camera, mut context, mut input, mut output) in &mut boards {
        let near = eye.is_some_and(|eye| eye.distance(board.centre) < BOARD_RANGE);
        if camera.is_active != near {
            camera.is_active = near;
        }
        let Some(protocity) = world.protocity(&board.protocity) else {
            continue;
        };
        let shown = hall_proposals(&book, &protocity.id, now);
        board.shown = shown.len();
        let ctx = context.get_mut().clone();
        output.0 = Some(ctx.run_ui(input.take(), |ui| {
            board_ui(ui, protocity, &book, &shown, now, flash);
        }));
    }
}

/// Text sizes in board pixels: read from across the hall.
const HEADING: f32 = 44.0;
const TITLE: f32 = 34.0;
const TEXT: f32 = 27.0;

const INK: egui::Color32 = egui::Color32::from_rgb(236, 240, 245);
const DIM: egui::Color32 = egui::Color32::from_rgb(150, 166, 186);
const GOLD: egui::Color32 = egui::Color32::from_rgb(242, 196, 70);
const BAR: egui::Color32 = egui::Color32::from_rgb(70, 150, 235);
const BAR_LEAD: egui::Color32 = egui::Color32::from_rgb(242, 196, 70);
const TRACK: egui::Color32 = egui::Color32::from_rgb(28, 40, 56);
const PASSED: egui::Color32 = egui::Color32::from_rgb(110, 210, 120);
const FAILED: egui::Color32 = egui::Color32::from_rgb(235, 110, 95);

fn board_ui(
    ui: &mut egui::Ui,
    protocity: &Protocity,
    book: &Governance,
    shown: &[&ProposalView],
    now: i64,
    flash: f64,
) {
    egui::CentralPanel::default()
        .frame(
            egui::Frame::NONE
                .fill(egui::Color32::from_rgb(12, 22, 34))
                .inner_margin(egui::Margin::symmetric(28, 20)),
        )
        .show(ui, |ui| {
            ui.spacing_mut().item_spacing.y = 3.0;
            ui.horizontal(|ui| {
                ui.label(
                    egui::RichText::new(format!("Town hall of {}", protocity.name))
                        .size(HEADING)
                        .color(INK)
                        .strong(),
                );
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    let open = shown
                        .iter()
                        .filter(|v| v.proposal.phase == Phase::Open)
                        .count();
                    ui.label(
                        egui::RichText::new(match open {
                            0 => "no vote open".to_owned(),
                            1 => "1 vote open".to_owned(),
                            n => format!("{n} votes open"),
                        })
                        .size(TEXT)
                        .color(GOLD),
                    );
                });
            });
            ui.add_space(6.0);
            if !book.loaded {
                ui.label(egui::RichText::new("Connecting…").size(TITLE).color(DIM));
                return;
            }
            if shown.is_empty() {
                ui.add_space(60.0);
                ui.vertical_centered(|ui| {
                    ui.label(
                        egui::RichText::new("No proposals yet")
                            .size(HEADING)
                            .color(INK),
                    );
                    ui.label(
                        egui::RichText::new(
                            "Founders write and open proposals in the governance window (G).",
                        )
                        .size(TEXT)
                        .color(DIM),
                    );
                });
                return;
            }
            let row_height = (ui.available_height() / shown.len() as f32).min(300.0);
            for view in shown {
                let recent = book
                    .changed_at
                    .get(&view.proposal.id)
                    .is_some_and(|at| flash - at < 1.5);
                ui.allocate_ui(egui::vec2(ui.available_width(), row_height), |ui| {
                    proposal_row(ui, view, now, recent);
                });
            }
        });
}

fn proposal_row(ui: &mut egui::Ui, view: &ProposalView, now: i64, recent: bool) {
    let p = &view.proposal;
    let draft = &p.draft;
    let stroke = if recent {
        egui::Stroke::new(3.0, GOLD)
    } else {
        egui::Stroke::new(1.0, egui::Color32::from_rgb(44, 62, 84))
    };
    egui::Frame::NONE
        .fill(egui::Color32::from_rgb(18, 32, 48))
        .stroke(stroke)
        .corner_radius(8)
        .inner_margin(egui::Margin::symmetric(16, 10))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            // Status on the right; the title takes what is left and is cut short if long.
            let line = egui::vec2(ui.available_width(), TITLE + 6.0);
            let right_to_left = egui::Layout::right_to_left(egui::Align::Center);
            ui.allocate_ui_with_layout(line, right_to_left, |ui| {
                let (text, colour) = match (p.phase, &p.result) {
                    (Phase::Open, _) => (
                        format!("closes in {}", countdown(p.closes_at.unwrap_or(now) - now)),
                        GOLD,
                    ),
                    (_, Some(result)) => match result.outcome {
                        Outcome::Passed => ("PASSED".to_owned(), PASSED),
                        Outcome::Failed => ("FAILED".to_owned(), FAILED),
                        Outcome::NoQuorum => ("NO QUORUM".to_owned(), FAILED),
                    },
                    _ => ("closed".to_owned(), DIM),
                };
                ui.label(egui::RichText::new(text).size(TEXT).color(colour).strong());
                ui.label(
                    egui::RichText::new(format!("{} of {} ballots ·", view.turnout, draft.quorum))
                        .size(TEXT)
                        .color(DIM),
                );
                ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                    let title = egui::RichText::new(format!("#{} {}", p.id, draft.title))
                        .size(TITLE)
                        .color(INK)
                        .strong();
                    ui.add(egui::Label::new(title).truncate());
                });
            });
            // Turnout against quorum: a thin bar under the title, green once reached.
            let fraction = (view.turnout as f32 / draft.quorum.max(1) as f32).min(1.0);
            let colour = if view.turnout >= draft.quorum {
                PASSED
            } else {
                BAR
            };
            bar(ui, fraction, colour, 6.0);
            match &view.tally {
                Some(tally) => counts(ui, &draft.labels(), tally),
                None => {
                    ui.label(
                        egui::RichText::new("the count is shown when voting closes")
                            .size(TEXT)
                            .italics()
                            .color(DIM),
                    );
                }
            }
        });
    ui.add_space(8.0);
}

/// One bar per option, longest first in gold.
fn counts(ui: &mut egui::Ui, labels: &[String], tally: &Tally) {
    let most = tally.counts.iter().copied().max().unwrap_or(0).max(1);
    // Fit as many options as the row allows; the window shows the rest.
    let line = TEXT + 7.0;
    let room = ((ui.available_height() + 2.0) / line).floor().max(1.0) as usize;
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(tally.counts.get(i).copied().unwrap_or(0)));
    for &i in order.iter().take(room) {
        let count = tally.counts.get(i).copied().unwrap_or(0);
        let lead = tally.winner == Some(i as u8) || (count == most && count > 0);
        ui.horizontal(|ui| {
            let label = egui::RichText::new(&labels[i]).size(TEXT).color(INK);
            ui.add_sized([300.0, line - 3.0], egui::Label::new(label).truncate());
            ui.label(
                egui::RichText::new(count.to_string())
                    .size(TEXT)
                    .color(INK)
                    .strong(),
            );
            bar(
                ui,
                count as f32 / most as f32,
                if lead { BAR_LEAD } else { BAR },
                22.0,
            );
        });
    }
}

fn bar(ui: &mut egui::Ui, fraction: f32, colour: egui::Color32, height: f32) {
    let width = ui.available_width().max(20.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(width, height), egui::Sense::hover());
    let painter = ui.painter();
    painter.rect_filled(rect, 4.0, TRACK);
    let mut filled = rect;
    filled.set_width(rect.width() * fraction.clamp(0.0, 1.0));
    if filled.width() > 0.5 {
        painter.rect_filled(filled, 4.0, colour);
    }
}
