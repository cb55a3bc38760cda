//! Everything a person sees: the archipelago's scene, avatars, the orbit camera, keyboard and
//! mouse, and the egui interface. Added only by the windowed binary (feature `render`).

// Each feature's drawing: the client's list of features (lib.rs) declares them here.
features!(declare);

mod camera;
mod hud;
mod input;
pub mod map;
mod quit;
mod scene;
pub mod screenshot;
mod sky;
pub mod tours;

use bevy::prelude::*;
use bevy_egui::EguiPlugin;

pub use camera::OrbitCamera;
pub use quit::Quit;

/// Composes the client's visual plugins.
pub fn plugin(app: &mut App) {
    app.add_plugins(EguiPlugin::default());
    app.add_plugins((
        scene::plugin,
        sky::plugin,
        camera::plugin,
        input::plugin,
        hud::plugin,
        map::plugin,
    ));
    add_features(app);
    app.add_plugins((tours::plugin, quit::plugin));
    app.add_plugins(screenshot::plugin);
}

/// Colour of an avatar's body for a role: visitors orange, members blue, residents green,
/// founders gold.
pub fn role_color(role: archipelago_shared::protocol::Role) -> Color {
    use archipelago_shared::protocol::Role;
    match role {
        Role::Visitor => Color::srgb(0.95, 0.5, 0.12),
        Role::Member => Color::srgb(0.22, 0.5, 0.95),
        Role::Resident => Color::srgb(0.2, 0.72, 0.36),
        Role::Founder => Color::srgb(0.96, 0.78, 0.18),
    }
}

/// A Bevy colour as egui's.
pub fn egui_color(color: Color) -> bevy_egui::egui::Color32 {
    let c = color.to_srgba();
    bevy_egui::egui::Color32::from_rgba_unmultiplied(
        (c.red * 255.0) as u8,
        (c.green * 255.0) as u8,
        (c.blue * 255.0) as u8,
        (c.alpha * 255.0) as u8,
    )
}
