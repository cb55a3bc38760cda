//! The heads-up display: connection state, ping and people online; labels over islands; the
//! server's notices; and a clear screen when connecting fails. Name tags are the avatars'
//! (render/avatars/tags.rs).

use archipelago_shared::movement::WorldColliders;
use archipelago_shared::protocol::{AvatarPose, WorldStatus};
use archipelago_shared::world::World;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::{egui_color, role_color};
use crate::ClientConfig;
use crate::avatars::in_sight;
use crate::connection::{ConnectionState, RECONNECT_FOR, Retry, Session};

/// Notices stay on screen this long.
const NOTICE_SECONDS: f64 = 6.0;
/// Islands are labelled when the camera is closer than this.
const ISLAND_LABEL_RANGE: f32 = 900.0;

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(
        EguiPrimaryContextPass,
        (labels, status_bar, notices, connection_overlay).chain(),
    );
}

fn state_words(state: &ConnectionState) -> (egui::Color32, String) {
    match state {
        ConnectionState::Connecting { attempt, elapsed } => (
            egui::Color32::YELLOW,
            format!(
                "Connecting… {:.0} s (attempt {attempt})",
                elapsed.as_secs_f32()
            ),
        ),
        ConnectionState::LoggingIn => (egui::Color32::YELLOW, "Logging in…".into()),
        ConnectionState::Reconnecting { lost_for, .. } => (
            egui::Color32::YELLOW,
            format!("Reconnecting… {:.0} s", lost_for.as_secs_f32()),
        ),
        ConnectionState::InWorld => (egui::Color32::from_rgb(90, 220, 110), "Connected".into()),
        ConnectionState::Failed { .. } => {
            (egui::Color32::from_rgb(240, 90, 80), "Disconnected".into())
        }
    }
}

fn status_bar(
    mut contexts: EguiContexts,
    state: Res<ConnectionState>,
    session: Res<Session>,
    status: Query<&WorldStatus>,
    world: Res<World>,
    poses: Query<&AvatarPose>,
    mut look: ResMut<super::avatars::editor::LookEditor>,
    mut gestures: ResMut<super::avatars::gestures::GestureWheel>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let online = status.iter().next().map_or(0, |s| s.online);
    let here = session
        .own_avatar
        .and_then(|e| poses.get(e).ok())
        .and_then(|p| world.island_at(p.position))
        .map_or_else(
            || "the open sea".to_owned(),
            |p| format!("{} ({})", p.name, p.city),
        );
    egui::Area::new(egui::Id::new("status_bar"))
        .anchor(egui::Align2::LEFT_TOP, egui::vec2(10.0, 10.0))
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.strong(&world.nation.name);
                    ui.separator();
                    let (color, words) = state_words(&state);
                    let (dot, _) =
                        ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                    ui.painter().circle_filled(dot.center(), 5.0, color);
                    ui.label(words);
                    ui.separator();
                    ui.label(format!("ping {} ms", session.ping.as_millis()));
                    ui.separator();
                    ui.label(format!("{online} online"));
                    if let Some(role) = session.role {
                        ui.separator();
                        ui.colored_label(
                            egui_color(role_color(role)),
                            format!("{} · {role}", session.name),
                        );
                    }
                    ui.separator();
                    ui.label(format!("at {here}"));
                    ui.separator();
                    if ui.button("Your look").on_hover_text("B").clicked() {
                        look.open = !look.open;
                    }
                    if ui
                        .button("Gestures")
                        .on_hover_text("X, or 1 to 5")
                        .clicked()
                    {
                        gestures.open = !gestures.open;
                    }
                });
            });
        });
    egui::Area::new(egui::Id::new("controls"))
        .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-10.0, -10.0))
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.small(
                    "WASD walk · Shift run · Space jump · Q/E or right-drag turn · wheel zoom · \
                     click a plot · V talk · O voice · C chat · G governance · L events · H hand · \
                     M atlas · T tours · R recognition · B your look · X gestures · \
                     1 wave · 2 clap · 3 cheer · 4 point · 5 sit",
                );
            });
        });
    Ok(())
}

fn notices(mut contexts: EguiContexts, session: Res<Session>, time: Res<Time>) -> Result {
    let ctx = contexts.ctx_mut()?;
    let now = time.elapsed_secs_f64();
    let recent: Vec<&String> = session
        .notices
        .iter()
        .filter(|(at, _)| now - at < NOTICE_SECONDS)
        .map(|(_, text)| text)
        .collect();
    if recent.is_empty() {
        return Ok(());
    }
    egui::Area::new(egui::Id::new("notices"))
        .anchor(egui::Align2::LEFT_BOTTOM, egui::vec2(10.0, -10.0))
        .show(ctx, |ui| {
            for text in recent {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.label(text.as_str());
                });
            }
        });
    Ok(())
}

/// Labels over islands, drawn behind every window; one hidden behind a building or a hall's
/// walls is not drawn.
fn labels(
    mut contexts: EguiContexts,
    camera: Single<(&Camera, &GlobalTransform), With<Camera3d>>,
    world: Res<World>,
    status: Query<&WorldStatus>,
    standing: Res<crate::recognition::StandingBook>,
    colliders: Res<WorldColliders>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let (camera, camera_transform) = *camera;
    let eye = camera_transform.translation();
    let painter = ctx.layer_painter(egui::LayerId::background());
    let status = status.iter().next();
    for protocity in &world.protocities {
        let island = &protocity.island;
        let top = island.to_world(Vec2::ZERO, 16.0);
        if top.distance(eye) > ISLAND_LABEL_RANGE || !in_sight(&colliders, eye, top) {
            continue;
        }
        let Ok(at) = camera.world_to_viewport(camera_transform, top) else {
            continue;
        };
        let online = status
            .and_then(|s| s.per_island.iter().find(|(id, _)| *id == protocity.id))
            .map_or(0, |(_, n)| *n);
        let in_hall = status
            .and_then(|s| s.in_hall.iter().find(|(id, _)| *id == protocity.id))
            .map_or(0, |(_, n)| *n);
        let hall_line = match in_hall {
            0 => String::new(),
            1 => "\n1 person in the town hall".to_owned(),
            n => format!("\n{n} people in the town hall"),
        };
        let in_session = status
            .and_then(|s| s.sessions.iter().find(|(id, _)| *id == protocity.id))
            .map(|(_, title)| format!("\nIn session: {title}"))
            .unwrap_or_default();
        let population = standing
            .standing
            .as_ref()
            .and_then(|s| s.census_of(&protocity.id))
            .map(|c| format!(" · population {}", c.census.population))
            .unwrap_or_default();
        let text = format!(
            "{}\n{}, {}{population} · {online} here now{hall_line}{in_session}",
            protocity.name, protocity.city, protocity.jurisdiction
        );
        let galley = painter.layout(
            text,
            egui::FontId::proportional(15.0),
            egui::Color32::WHITE,
            400.0,
        );
        let rect = egui::Rect::from_center_size(egui::pos2(at.x, at.y), galley.size()).expand(6.0);
        painter.rect_filled(rect, 6.0, egui::Color32::from_black_alpha(140));
        painter.galley(
            rect.min + egui::vec2(6.0, 6.0),
            galley,
            egui::Color32::WHITE,
        );
    }
    Ok(())
}

/// While not in the world: a clear message in the middle of the screen, and on failure the
/// reason with a way to retry.
fn connection_overlay(
    mut contexts: EguiContexts,
    state: Res<ConnectionState>,
    config: Res<ClientConfig>,
    mut retry: MessageWriter<Retry>,
    mut quit: MessageWriter<super::Quit>,
) -> Result {
    if *state == ConnectionState::InWorld {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    egui::Window::new("Archipelago")
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .collapsible(false)
        .resizable(false)
        .show(ctx, |ui| {
            ui.set_width(420.0);
            match &*state {
                ConnectionState::Connecting { attempt, elapsed } => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(format!("Connecting to {} …", config.server));
                    });
                    let left = config.connect_timeout.saturating_sub(*elapsed);
                    ui.add(
                        egui::ProgressBar::new(
                            elapsed.as_secs_f32() / config.connect_timeout.as_secs_f32(),
                        )
                        .text(format!(
                            "attempt {attempt}, giving up in {} s",
                            left.as_secs()
                        )),
                    );
                }
                ConnectionState::LoggingIn => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(format!("Connected. Logging in as {} …", config.name));
                    });
                }
                ConnectionState::Reconnecting {
                    attempt,
                    lost_for,
                    why,
                } => {
                    ui.heading("Connection lost");
                    ui.label(why.as_str());
                    ui.add_space(4.0);
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(if *attempt == 0 {
                            "Getting back in…".to_owned()
                        } else {
                            format!("Getting back in… (attempt {attempt})")
                        });
                    });
                    let left = RECONNECT_FOR.saturating_sub(*lost_for);
                    ui.add(
                        egui::ProgressBar::new(
                            lost_for.as_secs_f32() / RECONNECT_FOR.as_secs_f32(),
                        )
                        .text(format!("trying for {} s more", left.as_secs())),
                    );
                    ui.add_space(8.0);
                    if ui.button("Quit").clicked() {
                        quit.write(super::Quit);
                    }
                }
                ConnectionState::Failed { reason } => {
                    ui.heading("Could not join the world");
                    ui.label(reason.as_str());
                    ui.add_space(8.0);
                    ui.horizontal(|ui| {
                        if ui.button("Retry").clicked() {
                            retry.write(Retry);
                        }
                        if ui.button("Quit").clicked() {
                            quit.write(super::Quit);
                        }
                    });
                }
                ConnectionState::InWorld => {}
            }
        });
    Ok(())
}
