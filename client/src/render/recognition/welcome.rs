//! The welcome card: on arrival, a short card with the nation's stage and its headline
//! census, and the way to the recognition window. It closes itself after a while.

use archipelago_shared::recognition::{Relation, date_words};
use archipelago_shared::world::World;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::window::{RecognitionWindow, relation_color};
use super::{dollars, grouped};
use crate::connection::{ConnectionState, Session};
use crate::recognition::StandingBook;

/// The card stays this long unless closed.
const CARD_SECONDS: f64 = 25.0;

/// When the card was first shown (seconds since start), and whether it was closed.
#[derive(Resource, Debug, Default)]
pub struct WelcomeCard {
    pub shown_at: Option<f64>,
    pub closed: bool,
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<WelcomeCard>()
        .add_systems(EguiPrimaryContextPass, card);
}

fn card(
    mut contexts: EguiContexts,
    mut state: ResMut<WelcomeCard>,
    mut window: ResMut<RecognitionWindow>,
    book: Res<StandingBook>,
    connection: Res<ConnectionState>,
    session: Res<Session>,
    world: Res<World>,
    time: Res<Time>,
) -> Result {
    if state.closed || *connection != ConnectionState::InWorld || session.own_avatar.is_none() {
        return Ok(());
    }
    let Some(standing) = &book.standing else {
        return Ok(());
    };
    let now = time.elapsed_secs_f64();
    let shown_at = *state.shown_at.get_or_insert(now);
    if now - shown_at > CARD_SECONDS {
        state.closed = true;
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let total = standing.total();
    let recognizers = standing.recognizers();
    egui::Area::new(egui::Id::new("welcome"))
        .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 56.0))
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style())
                .inner_margin(egui::Margin::same(14))
                .show(ui, |ui| {
                    ui.set_max_width(520.0);
                    ui.vertical_centered(|ui| {
                        ui.heading(format!("Welcome to {}", world.nation.name));
                        ui.label(egui::RichText::new(&world.nation.motto).italics());
                    });
                    ui.add_space(6.0);
                    if let Some(stage) = standing.stages.last() {
                        ui.horizontal_wrapped(|ui| {
                            ui.label("A");
                            ui.label(
                                egui::RichText::new(stage.stage.title())
                                    .strong()
                                    .color(egui::Color32::from_rgb(245, 200, 70)),
                            );
                            ui.label(format!(
                                "since {}, stage {} of 4.",
                                date_words(stage.at),
                                stage.stage as usize + 1
                            ));
                        });
                    }
                    ui.label(format!(
                        "{} people in {} protocities: {} residents and {} online members.",
                        grouped(total.population),
                        world.protocities.len(),
                        grouped(total.residents),
                        grouped(total.online_members),
                    ));
                    ui.label(format!(
                        "{} a year · {} m² of land held · {} parcels crowdfunded.",
                        dollars(total.yearly_income),
                        grouped(standing.total_footprint()),
                        total.parcels_crowdfunded
                    ));
                    if let Some(strongest) = recognizers.first() {
                        ui.horizontal_wrapped(|ui| {
                            let recognized = recognizers
                                .iter()
                                .filter(|r| r.relation >= Relation::DeFacto)
                                .count();
                            ui.label(format!(
                                "Recognized by {recognized} of the {} states and bodies in \
                                 relations with it; strongest:",
                                recognizers.len()
                            ));
                            ui.colored_label(
                                relation_color(strongest.relation),
                                format!("{}, {}", strongest.recognizer, strongest.relation.title()),
                            );
                        });
                    }
                    ui.add_space(6.0);
                    ui.horizontal(|ui| {
                        if ui.button("Recognition and census (R)").clicked() {
                            window.open = true;
                            state.closed = true;
                        }
                        if ui.button("Close").clicked() {
                            state.closed = true;
                        }
                        ui.weak(
                            "The embassy row stands on the avenue leaving the capital's plaza.",
                        );
                    });
                });
        });
    Ok(())
}
