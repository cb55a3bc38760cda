//! Keyboard to avatar: WASD walk relative to the camera, Shift runs, Space jumps.

use bevy::prelude::*;
use bevy_egui::input::egui_wants_any_keyboard_input;

use super::OrbitCamera;
use crate::ClientSystems;
use crate::control::AvatarControl;
use crate::tours::TourPlayer;

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(
        Update,
        (
            read_keys.run_if(not(
                egui_wants_any_keyboard_input.or_else(resource_exists::<TourPlayer>)
            )),
            release_keys
                .run_if(egui_wants_any_keyboard_input.or_else(resource_exists::<TourPlayer>)),
        )
            .in_set(ClientSystems::Control),
    );
}

fn read_keys(
    keys: Res<ButtonInput<KeyCode>>,
    orbit: Res<OrbitCamera>,
    mut control: ResMut<AvatarControl>,
) {
    let axis = |plus: KeyCode, alt_plus: KeyCode, minus: KeyCode, alt_minus: KeyCode| {
        f32::from(keys.pressed(plus) || keys.pressed(alt_plus))
            - f32::from(keys.pressed(minus) || keys.pressed(alt_minus))
    };
    let ahead = axis(
        KeyCode::KeyW,
        KeyCode::ArrowUp,
        KeyCode::KeyS,
        KeyCode::ArrowDown,
    );
    let side = axis(
        KeyCode::KeyD,
        KeyCode::ArrowRight,
        KeyCode::KeyA,
        KeyCode::ArrowLeft,
    );
    let forward = orbit.forward();
    let right = Vec2::new(-forward.y, forward.x);
    let direction = (forward * ahead + right * side).normalize_or_zero();
    control.direction = direction;
    if direction != Vec2::ZERO {
        control.yaw = (-direction.x).atan2(-direction.y);
    }
    control.run = keys.pressed(KeyCode::ShiftLeft) || keys.pressed(KeyCode::ShiftRight);
    if keys.just_pressed(KeyCode::Space) {
        control.jump = true;
    }
}

/// While typing in a text field, or touring, the avatar stands still.
fn release_keys(mut control: ResMut<AvatarControl>) {
    control.direction = Vec2::ZERO;
    control.run = false;
}
