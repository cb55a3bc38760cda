//! Land in the window: each parcel drawn on its island by status and selectable with the
//! mouse (`plots`), and the panel that shows the selected parcel, its history and what the
//! viewer may do with it (`panel`).

mod panel;
pub mod plots;

use bevy::prelude::*;

pub(crate) fn plugin(app: &mut App) {
    app.add_plugins((plots::plugin, panel::plugin));
}
