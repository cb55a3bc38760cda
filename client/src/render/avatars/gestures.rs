//! Gestures from the keyboard (1 wave, 2 clap, 3 cheer, 4 point, 5 sit or stand) and from a
//! radial menu (X, or the status bar). In a hall, several people clapping at once shows as
//! applause.

use archipelago_shared::avatars::{AvatarRequest, Gesture, Look};
use archipelago_shared::protocol::AvatarPose;
use archipelago_shared::world::Place;
use bevy::prelude::*;
use bevy_egui::input::egui_wants_any_keyboard_input;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::super::assembly::HallView;
use crate::avatars::{Gesturing, SendAvatar};
use crate::connection::Session;

/// People clapping at once in the hall one stands in that make applause.
const APPLAUSE: usize = 3;

/// What the radial menu offers, in order around it, with its key.
const WHEEL: [(Choice, &str, &str); 5] = [
    (Choice::Gesture(Gesture::Wave), "1", "Wave"),
    (Choice::Gesture(Gesture::Clap), "2", "Clap"),
    (Choice::Gesture(Gesture::Cheer), "3", "Cheer"),
    (Choice::Gesture(Gesture::Point), "4", "Point"),
    (Choice::SitOrStand, "5", "Sit / stand"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Gesture(Gesture),
    SitOrStand,
}

/// Whether the radial menu is open.
#[derive(Resource, Debug, Default)]
pub struct GestureWheel {
    pub open: bool,
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<GestureWheel>()
        .add_systems(Update, keys.run_if(not(egui_wants_any_keyboard_input)))
        .add_systems(EguiPrimaryContextPass, (wheel, applause));
}

fn request(choice: Choice, seated: bool) -> AvatarRequest {
    match choice {
        Choice::Gesture(gesture) => AvatarRequest::Gesture(gesture),
        Choice::SitOrStand if seated => AvatarRequest::Stand,
        Choice::SitOrStand => AvatarRequest::Sit,
    }
}

fn own_seated(session: &Session, looks: &Query<&Look>) -> bool {
    session
        .own_avatar
        .and_then(|a| looks.get(a).ok())
        .is_some_and(|l| l.seated)
}

fn keys(
    keys: Res<ButtonInput<KeyCode>>,
    mut wheel: ResMut<GestureWheel>,
    session: Res<Session>,
    looks: Query<&Look>,
    mut send: MessageWriter<SendAvatar>,
) {
    if keys.just_pressed(KeyCode::KeyX) {
        wheel.open = !wheel.open;
    }
    let digits = [
        KeyCode::Digit1,
        KeyCode::Digit2,
        KeyCode::Digit3,
        KeyCode::Digit4,
        KeyCode::Digit5,
    ];
    for (key, (choice, ..)) in digits.iter().zip(WHEEL) {
        if keys.just_pressed(*key) {
            send.write(SendAvatar(request(choice, own_seated(&session, &looks))));
            wheel.open = false;
        }
    }
}

/// The radial menu: five wedges around the middle of the screen; a click makes the gesture.
fn wheel(
    mut contexts: EguiContexts,
    mut wheel: ResMut<GestureWheel>,
    session: Res<Session>,
    looks: Query<&Look>,
    mut send: MessageWriter<SendAvatar>,
) -> Result {
    if !wheel.open {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let centre = ctx.content_rect().center();
    let radius = 110.0;
    egui::Area::new(egui::Id::new("gesture_wheel"))
        .fixed_pos(centre - egui::vec2(radius + 60.0, radius + 40.0))
        .show(ctx, |ui| {
            let size = egui::vec2(2.0 * radius + 120.0, 2.0 * radius + 80.0);
            let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
            let middle = rect.center();
            let painter = ui.painter();
            painter.circle_filled(middle, radius + 40.0, egui::Color32::from_black_alpha(120));
            painter.text(
                middle,
                egui::Align2::CENTER_CENTER,
                "Gestures\nX closes",
                egui::FontId::proportional(13.0),
                egui::Color32::from_gray(220),
            );
            for (i, (choice, key, label)) in WHEEL.iter().enumerate() {
                let angle = -std::f32::consts::FRAC_PI_2
                    + i as f32 * std::f32::consts::TAU / WHEEL.len() as f32;
                let at = middle + egui::vec2(angle.cos(), angle.sin()) * radius;
                let button = egui::Rect::from_center_size(at, egui::vec2(96.0, 44.0));
                let response = ui.put(
                    button,
                    egui::Button::new(format!("{label}\n[{key}]")).corner_radius(22.0),
                );
                if response.clicked() {
                    send.write(SendAvatar(request(*choice, own_seated(&session, &looks))));
                    wheel.open = false;
                }
            }
        });
    Ok(())
}

/// A banner over the hall while several people there clap at once.
fn applause(
    mut contexts: EguiContexts,
    hall: Res<HallView>,
    clapping: Query<(&Gesturing, &AvatarPose)>,
    world: Res<archipelago_shared::world::World>,
    time: Res<Time>,
) -> Result {
    let Some((index, _)) = &hall.hall else {
        return Ok(());
    };
    let now = time.elapsed_secs_f64();
    let count = clapping
        .iter()
        .filter(|(g, pose)| {
            g.gesture == Gesture::Clap
                && g.progress(now).is_some()
                && world.place_at(pose.position) == Place::Hall(*index)
        })
        .count();
    if count < APPLAUSE {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    egui::Area::new(egui::Id::new("applause"))
        .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 150.0))
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style())
                .fill(egui::Color32::from_rgb(250, 214, 90))
                .show(ui, |ui| {
                    ui.colored_label(
                        egui::Color32::BLACK,
                        egui::RichText::new(format!("Applause · {count} clapping"))
                            .strong()
                            .size(18.0),
                    );
                });
        });
    Ok(())
}
