//! The banner at the top of the screen in a hall with a session: who has the floor and the
//! time they have left, counting down for everyone; or, between speakers, the item under
//! discussion.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::HallView;
use crate::clock::ServerClock;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(EguiPrimaryContextPass, banner);
}

/// Gold, the colour of the floor.
pub const SPEAKING: egui::Color32 = egui::Color32::from_rgb(250, 210, 90);

fn banner(mut contexts: EguiContexts, view: Res<HallView>, clock: Res<ServerClock>) -> Result {
    let Some(session) = &view.session else {
        return Ok(());
    };
    let ctx = contexts.ctx_mut()?;
    let item = session
        .current_item()
        .map(|item| {
            format!(
                "Item {} of {}: {}",
                session.current + 1,
                session.agenda.len(),
                item.title
            )
        })
        .unwrap_or_default();
    egui::Area::new(egui::Id::new("assembly_banner"))
        .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 52.0))
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style())
                .fill(egui::Color32::from_rgb(24, 26, 32))
                .inner_margin(egui::Margin::symmetric(14, 8))
                .show(ui, |ui| {
                    ui.set_min_width(320.0);
                    ui.vertical_centered(|ui| {
                        match &session.floor {
                            Some(floor) => {
                                let left = session.seconds_left(clock.now_ms()).unwrap_or(0);
                                ui.label(
                                    egui::RichText::new("NOW SPEAKING").small().color(SPEAKING),
                                );
                                ui.label(
                                    egui::RichText::new(&floor.speaker.name)
                                        .heading()
                                        .strong()
                                        .color(egui::Color32::WHITE),
                                );
                                let warn = left <= 15;
                                ui.label(
                                    egui::RichText::new(format!(
                                        "{}:{:02} left",
                                        left / 60,
                                        left % 60
                                    ))
                                    .color(if warn {
                                        egui::Color32::from_rgb(240, 120, 100)
                                    } else {
                                        egui::Color32::LIGHT_GRAY
                                    }),
                                );
                            }
                            None => {
                                ui.label(
                                    egui::RichText::new(&session.title)
                                        .strong()
                                        .color(egui::Color32::WHITE),
                                );
                                ui.label(
                                    egui::RichText::new("The floor is free · H to raise your hand")
                                        .small()
                                        .color(egui::Color32::LIGHT_GRAY),
                                );
                            }
                        }
                        ui.label(egui::RichText::new(item).small().color(egui::Color32::GRAY));
                    });
                });
        });
    Ok(())
}
