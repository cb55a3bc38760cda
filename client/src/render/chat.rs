//! The chat window (C): lines heard since joining, coloured by how they came, and a line to
//! say something to everyone in this place, to those nearby, or to one person.

use archipelago_shared::chat::{ChatHeard, ChatTo, MAX_CHAT_CHARS, NEARBY_RANGE};
use bevy::prelude::*;
use bevy_egui::input::egui_wants_any_keyboard_input;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::{egui_color, role_color};
use crate::chat::{ChatLog, SendChat};

/// Refusals older than this fade from the window.
const REFUSAL_SECONDS: f64 = 10.0;

/// Where the chat window is and what is being typed.
#[derive(Resource, Debug, Default)]
pub struct ChatWindow {
    pub open: bool,
    draft: String,
    /// 0: this place, 1: nearby, 2: one person.
    to: usize,
    direct: String,
    /// [`ChatLog::received`] when the window was last open.
    seen: u64,
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<ChatWindow>()
        .add_systems(Update, toggle.run_if(not(egui_wants_any_keyboard_input)))
        .add_systems(EguiPrimaryContextPass, window);
}

fn toggle(keys: Res<ButtonInput<KeyCode>>, mut state: ResMut<ChatWindow>) {
    if keys.just_pressed(KeyCode::KeyC) {
        state.open = !state.open;
    }
}

fn window(
    mut contexts: EguiContexts,
    mut state: ResMut<ChatWindow>,
    log: Res<ChatLog>,
    time: Res<Time>,
    mut send: MessageWriter<SendChat>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    if !state.open {
        let unread = log.received - state.seen.min(log.received);
        if unread > 0 {
            egui::Area::new(egui::Id::new("chat_unread"))
                .anchor(egui::Align2::LEFT_BOTTOM, egui::vec2(10.0, -44.0))
                .show(ctx, |ui| {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        ui.label(match unread {
                            1 => "1 new chat line: C to read".to_owned(),
                            n => format!("{n} new chat lines: C to read"),
                        });
                    });
                });
        }
        return Ok(());
    }
    state.seen = log.received;
    let now = time.elapsed_secs_f64();
    let mut open = true;
    egui::Window::new("Chat (C)")
        .id(egui::Id::new("chat"))
        .open(&mut open)
        .default_width(380.0)
        .default_height(220.0)
        .anchor(egui::Align2::LEFT_BOTTOM, egui::vec2(10.0, -44.0))
        .collapsible(true)
        .show(ctx, |ui| {
            egui::ScrollArea::vertical()
                .max_height(160.0)
                .stick_to_bottom(true)
                .auto_shrink([false, true])
                .show(ui, |ui| {
                    if log.lines.is_empty() {
                        ui.weak("Nothing said yet. Lines to this place reach everyone here.");
                    }
                    for (_, line) in &log.lines {
                        let (tag, colour) = match &line.to {
                            ChatHeard::Place(place) => (format!("[{place}]"), egui::Color32::GRAY),
                            ChatHeard::Nearby => {
                                ("[nearby]".to_owned(), egui::Color32::LIGHT_GREEN)
                            }
                            ChatHeard::Direct { to } => {
                                (format!("[to {to}]"), egui::Color32::from_rgb(230, 150, 230))
                            }
                        };
                        ui.horizontal_wrapped(|ui| {
                            ui.colored_label(colour, tag);
                            ui.colored_label(egui_color(role_color(line.role)), &line.from);
                            ui.label(&line.text);
                        });
                    }
                });
            for (_, reason) in log
                .refusals
                .iter()
                .filter(|(at, _)| now - at < REFUSAL_SECONDS)
            {
                ui.colored_label(egui::Color32::from_rgb(240, 120, 100), reason.to_string());
            }
            ui.separator();
            ui.horizontal(|ui| {
                egui::ComboBox::from_id_salt("chat-to")
                    .width(90.0)
                    .selected_text(["here", "nearby", "one person"][state.to])
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut state.to, 0, "here").on_hover_text(
                            "everyone in this place: the hall you are in, or this island",
                        );
                        ui.selectable_value(&mut state.to, 1, "nearby")
                            .on_hover_text(format!("everyone within {NEARBY_RANGE} m"));
                        ui.selectable_value(&mut state.to, 2, "one person");
                    });
                if state.to == 2 {
                    ui.add(
                        egui::TextEdit::singleline(&mut state.direct)
                            .hint_text("name")
                            .desired_width(80.0),
                    );
                }
                let input = ui.add(
                    egui::TextEdit::singleline(&mut state.draft)
                        .char_limit(MAX_CHAT_CHARS)
                        .hint_text("say something, Enter to send")
                        .desired_width(f32::INFINITY),
                );
                if input.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    let text = std::mem::take(&mut state.draft);
                    let to = match state.to {
                        0 => ChatTo::Place,
                        1 => ChatTo::Nearby,
                        _ => ChatTo::Direct(state.direct.clone()),
                    };
                    if !text.trim().is_empty() {
                        send.write(SendChat { to, text });
                    }
                    input.request_focus();
                }
            });
        });
    state.open = open;
    Ok(())
}
