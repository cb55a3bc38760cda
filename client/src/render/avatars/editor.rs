//! The look editor: it opens by itself on a first arrival (while the server says the look is
//! only the one the key picked), and from the status bar's "Your look" or the B key. While it
//! is open the camera faces one's own avatar and the avatar turns, wearing the draft; Save
//! sends it to the server, which keeps it with the key, and Cancel puts the kept look back.

use archipelago_shared::avatars::appearance::{
    BODY_SHAPES, HAIR_COLOURS, OUTFIT_COLOURS, SKIN_TONES, Swatch,
};
use archipelago_shared::avatars::{Appearance, AvatarRequest, Look, Part};
use archipelago_shared::protocol::AvatarPose;
use bevy::prelude::*;
use bevy_egui::input::egui_wants_any_keyboard_input;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::super::OrbitCamera;
use crate::avatars::{OwnLook, SendAvatar};
use crate::connection::Session;

/// How fast the avatar turns from side to side in the preview (radians of phase a second).
const TURN_SPEED: f32 = 0.5;

/// The editor's state.
#[derive(Resource, Debug, Default)]
pub struct LookEditor {
    pub open: bool,
    /// The look being made, worn by one's own avatar while the editor is open.
    draft: Option<Appearance>,
    /// It opened by itself once this session.
    offered: bool,
    /// The camera as it was before the editor moved it.
    camera_before: Option<OrbitCamera>,
    /// Answers the server had given when Save was pressed: saving until one more comes.
    saving: Option<u32>,
}

/// Which avatar the preview turns, and how far.
#[derive(Resource, Debug, Default)]
pub struct Preview {
    pub showing: Option<Entity>,
    pub turn: f32,
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<LookEditor>()
        .init_resource::<Preview>()
        .add_systems(
            Update,
            (
                offer_on_arrival,
                toggle.run_if(not(egui_wants_any_keyboard_input)),
                preview,
            )
                .chain(),
        )
        .add_systems(EguiPrimaryContextPass, window);
}

/// Opens the editor once for someone who has not chosen a look yet.
fn offer_on_arrival(own: Res<OwnLook>, mut editor: ResMut<LookEditor>) {
    if own.appearance.is_some() && !own.chosen && !editor.offered {
        editor.offered = true;
        editor.open = true;
    }
}

fn toggle(keys: Res<ButtonInput<KeyCode>>, mut editor: ResMut<LookEditor>) {
    if keys.just_pressed(KeyCode::KeyB) {
        editor.open = !editor.open;
    }
}

/// While open: one's own avatar wears the draft and turns, and the camera faces it. On
/// closing, the camera goes back and the avatar wears its kept look.
fn preview(
    mut editor: ResMut<LookEditor>,
    mut shown: ResMut<Preview>,
    own: Res<OwnLook>,
    session: Res<Session>,
    mut looks: Query<&mut Look>,
    poses: Query<&AvatarPose>,
    mut orbit: ResMut<OrbitCamera>,
    time: Res<Time>,
) {
    let avatar = session.own_avatar;
    if !editor.open {
        if let Some(before) = editor.camera_before.take() {
            // The camera goes back where it was, but the avatar may have moved: it follows.
            *orbit = OrbitCamera {
                target: orbit.target,
                ..before
            };
        }
        if shown.showing.take().is_some()
            && let (Some(kept), Some(mut look)) = (
                own.appearance,
                avatar.and_then(|a| looks.get_mut(a).ok()),
            )
            && look.appearance != kept
        {
            look.appearance = kept;
        }
        editor.draft = None;
        editor.saving = None;
        return;
    }
    let Some(avatar) = avatar else {
        return;
    };
    if editor.draft.is_none() {
        editor.draft = own.appearance;
    }
    if editor.camera_before.is_none() {
        editor.camera_before = Some(*orbit);
    }
    shown.showing = Some(avatar);
    // The figure faces the camera and turns slowly from side to side, showing its front,
    // its profiles and a glimpse of its back.
    let facing = poses.get(avatar).map_or(0.0, |p| p.yaw);
    let swing = (time.elapsed_secs() * TURN_SPEED).sin() * 1.9;
    shown.turn = orbit.yaw + std::f32::consts::PI - facing + swing;
    // The whole body in view, close, from a little above the waist, beside the window.
    orbit.distance = 3.6;
    orbit.pitch = 0.1;
    orbit.lift = 1.0;
    if let (Some(draft), Ok(mut look)) = (editor.draft, looks.get_mut(avatar))
        && look.appearance != draft
    {
        look.appearance = draft;
    }
    if let Some(asked) = editor.saving
        && own.answers > asked
    {
        editor.saving = None;
        if own.chosen && own.appearance == editor.draft {
            editor.open = false;
        }
    }
}

fn swatch_colour(swatch: Swatch) -> egui::Color32 {
    let [r, g, b] = swatch.srgb;
    egui::Color32::from_rgb(r, g, b)
}

/// A row of colour buttons; the chosen one outlined.
fn swatches(ui: &mut egui::Ui, palette: &[Swatch], chosen: &mut u8) {
    ui.horizontal_wrapped(|ui| {
        for (i, swatch) in palette.iter().enumerate() {
            let selected = usize::from(*chosen) == i;
            let (rect, response) =
                ui.allocate_exact_size(egui::vec2(24.0, 24.0), egui::Sense::click());
            let stroke = if selected {
                egui::Stroke::new(3.0, egui::Color32::WHITE)
            } else {
                egui::Stroke::new(1.0, egui::Color32::from_gray(60))
            };
            ui.painter().rect_filled(rect, 4.0, swatch_colour(*swatch));
            ui.painter()
                .rect_stroke(rect, 4.0, stroke, egui::StrokeKind::Outside);
            if response.on_hover_text(swatch.name).clicked() {
                *chosen = i as u8;
            }
        }
    });
}

/// A row of named choices.
fn choices(ui: &mut egui::Ui, part: Part, chosen: &mut u8) {
    ui.horizontal_wrapped(|ui| {
        for i in 0..part.choices() {
            let name = part.choice_name(i as u8).unwrap_or("?");
            if ui
                .selectable_label(usize::from(*chosen) == i, name)
                .clicked()
            {
                *chosen = i as u8;
            }
        }
    });
}

fn window(
    mut contexts: EguiContexts,
    mut editor: ResMut<LookEditor>,
    own: Res<OwnLook>,
    mut send: MessageWriter<SendAvatar>,
    mut seed: Local<u64>,
) -> Result {
    if !editor.open {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let Some(mut draft) = editor.draft else {
        return Ok(());
    };
    let mut open = true;
    let mut save = false;
    let mut cancel = false;
    egui::Window::new("Your look")
        .open(&mut open)
        .anchor(egui::Align2::RIGHT_TOP, egui::vec2(-12.0, 60.0))
        .resizable(false)
        .collapsible(false)
        .default_width(300.0)
        .show(ctx, |ui| {
            if !own.chosen {
                ui.label("Welcome! Choose how others will see you. You can change it later with B or from the status bar.");
                ui.separator();
            }
            let mut part = |ui: &mut egui::Ui, title: &str, part: Part| {
                ui.strong(title);
                let mut value = draft.get(part);
                match part {
                    Part::Skin => swatches(ui, SKIN_TONES, &mut value),
                    Part::HairColour => swatches(ui, HAIR_COLOURS, &mut value),
                    Part::OutfitTop | Part::OutfitBottom => swatches(ui, OUTFIT_COLOURS, &mut value),
                    _ => choices(ui, part, &mut value),
                }
                draft.set(part, value);
                ui.add_space(4.0);
            };
            part(ui, "Body", Part::Body);
            part(ui, "Height", Part::Height);
            part(ui, "Skin tone", Part::Skin);
            part(ui, "Hair", Part::Hair);
            part(ui, "Hair colour", Part::HairColour);
            part(ui, "Top", Part::OutfitTop);
            part(ui, "Trousers", Part::OutfitBottom);
            part(ui, "Hat or accessory", Part::Accessory);
            ui.small(format!(
                "{} build · badge shows your role",
                BODY_SHAPES[usize::from(draft.body) % BODY_SHAPES.len()].name
            ));
            ui.separator();
            ui.horizontal(|ui| {
                if ui.button("Surprise me").clicked() {
                    *seed = seed.wrapping_add(1);
                    let nanos = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos() as u64);
                    draft = Appearance::from_seed(nanos ^ *seed);
                }
                let saving = editor.saving.is_some();
                if ui
                    .add_enabled(!saving, egui::Button::new(if saving { "Saving…" } else { "Save" }))
                    .clicked()
                {
                    save = true;
                }
                if ui.button("Cancel").clicked() {
                    cancel = true;
                }
            });
            if let Some((_, refusal)) = &own.refused {
                ui.colored_label(egui::Color32::from_rgb(240, 120, 100), refusal);
            }
        });
    editor.draft = Some(draft);
    if save {
        editor.saving = Some(own.answers);
        send.write(SendAvatar(AvatarRequest::SetAppearance(draft)));
    }
    if cancel || !open {
        editor.open = false;
    }
    Ok(())
}
