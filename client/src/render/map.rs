//! The atlas (M): every protocity on a chart of the ocean, where it is in the real world, how
//! many people are there, and a teleport to its spawn (checked by the server).

use archipelago_shared::protocol::{AvatarPose, ToServer, WorldStatus};
use archipelago_shared::world::World;
use bevy::prelude::*;
use bevy_egui::input::egui_wants_any_keyboard_input;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use crate::connection::{Request, Session};

/// Whether the atlas window is open.
#[derive(Resource, Debug, Default)]
pub struct AtlasOpen(pub bool);

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<AtlasOpen>()
        .add_systems(Update, toggle.run_if(not(egui_wants_any_keyboard_input)))
        .add_systems(EguiPrimaryContextPass, atlas);
}

fn toggle(keys: Res<ButtonInput<KeyCode>>, mut open: ResMut<AtlasOpen>) {
    if keys.just_pressed(KeyCode::KeyM) {
        open.0 = !open.0;
    }
}

fn atlas(
    mut contexts: EguiContexts,
    mut open: ResMut<AtlasOpen>,
    world: Res<World>,
    session: Res<Session>,
    poses: Query<&AvatarPose>,
    status: Query<&WorldStatus>,
    mut requests: MessageWriter<Request>,
) -> Result {
    if !open.0 {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let own = session
        .own_avatar
        .and_then(|e| poses.get(e).ok())
        .map(|p| p.position);
    let status = status.iter().next();
    let online = |id: &str| {
        status
            .and_then(|s| s.per_island.iter().find(|(i, _)| i == id))
            .map_or(0, |(_, n)| *n)
    };
    let mut teleport_to: Option<String> = None;
    let mut still_open = true;
    egui::Window::new("Atlas of the archipelago (M)")
        .open(&mut still_open)
        .default_width(560.0)
        .show(ctx, |ui| {
            ui.label(format!("{} — {}", world.nation.name, world.nation.motto));
            let size = egui::vec2(ui.available_width().min(520.0), 300.0);
            let (response, painter) = ui.allocate_painter(size, egui::Sense::click());
            let rect = response.rect;
            painter.rect_filled(rect, 6.0, egui::Color32::from_rgb(22, 78, 112));
            let extent = world.nation.ocean_half_extent;
            let scale = (rect.width().min(rect.height()) / 2.0 - 10.0) / (extent * 0.6);
            let to_screen = |p: Vec2| rect.center() + egui::vec2(p.x, p.y) * scale;
            for protocity in &world.protocities {
                let island = &protocity.island;
                let center = to_screen(island.position);
                let radius = (island.radius * scale).max(6.0);
                let g = island.ground_color;
                let fill = egui::Color32::from_rgb(
                    (g[0] * 400.0) as u8,
                    (g[1] * 400.0).min(255.0) as u8,
                    (g[2] * 400.0) as u8,
                );
                painter.circle(
                    center,
                    radius,
                    fill,
                    egui::Stroke::new(2.0, egui::Color32::from_rgb(225, 205, 150)),
                );
                let capital = if protocity.id == world.nation.capital {
                    " ★"
                } else {
                    ""
                };
                painter.text(
                    center + egui::vec2(0.0, radius + 8.0),
                    egui::Align2::CENTER_TOP,
                    format!("{}{capital} · {}", protocity.name, online(&protocity.id)),
                    egui::FontId::proportional(12.0),
                    egui::Color32::WHITE,
                );
                if response.clicked()
                    && let Some(click) = response.interact_pointer_pos()
                    && click.distance(center) <= radius + 4.0
                {
                    teleport_to = Some(protocity.id.clone());
                }
            }
            if let Some(p) = own {
                painter.circle_filled(to_screen(Vec2::new(p.x, p.z)), 4.0, egui::Color32::RED);
            }
            ui.small("Click an island to teleport there. The red dot is you.");
            ui.separator();
            egui::Grid::new("protocities").striped(true).show(ui, |ui| {
                ui.strong("Protocity");
                ui.strong("Where");
                ui.strong("Founded");
                ui.strong("Population");
                ui.strong("Online");
                ui.end_row();
                for protocity in &world.protocities {
                    ui.label(&protocity.name);
                    ui.label(format!(
                        "{}, {} ({})",
                        protocity.city, protocity.jurisdiction, protocity.continent
                    ));
                    ui.label(&protocity.founded);
                    ui.label(protocity.population.to_string());
                    ui.label(online(&protocity.id).to_string());
                    if ui.button("Teleport").clicked() {
                        teleport_to = Some(protocity.id.clone());
                    }
                    ui.end_row();
                }
            });
        });
    open.0 = still_open;
    if let Some(protocity) = teleport_to {
        requests.write(Request(ToServer::Teleport { protocity }));
    }
    Ok(())
}
