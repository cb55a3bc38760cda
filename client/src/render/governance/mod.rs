//! Governance as people meet it: the governance window (G), the ballot kiosk by each town
//! hall's door, and the tally board on each hall's back wall.

pub mod hall;
pub mod window;

use bevy::prelude::*;
use bevy_egui::input::egui_wants_any_keyboard_input;

pub use hall::{NearKiosk, TallyBoard, open_at_kiosk};
pub use window::GovernanceWindow;

pub(crate) fn plugin(app: &mut App) {
    app.add_plugins((window::plugin, hall::plugin))
        .add_systems(Update, toggle.run_if(not(egui_wants_any_keyboard_input)));
}

fn toggle(keys: Res<ButtonInput<KeyCode>>, mut window: ResMut<GovernanceWindow>) {
    if keys.just_pressed(KeyCode::KeyG) {
        window.open = !window.open;
        window.kiosk = None;
    }
}
