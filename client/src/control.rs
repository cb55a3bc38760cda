//! Driving one's own avatar: whatever decides the movement (keyboard and mouse, or a bot's
//! brain) writes [`AvatarControl`]; each tick it becomes the avatar's input, and the avatar is
//! predicted with the same movement rule the server runs.

use archipelago_shared::movement::{WorldColliders, step};
use archipelago_shared::protocol::{AvatarInput, AvatarPose};
use bevy::prelude::*;
use lightyear::prelude::client::input::InputSystems;
use lightyear::prelude::input::native::{ActionState, InputMarker};
use lightyear::prelude::*;

/// What the local person (or bot) wants their avatar to do right now.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct AvatarControl {
    /// Desired horizontal direction in world space (`x`, `z`), length at most 1.
    pub direction: Vec2,
    /// Facing, radians around +Y.
    pub yaw: f32,
    pub run: bool,
    /// Set to jump; cleared once a tick has taken it.
    pub jump: bool,
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<AvatarControl>()
        .add_systems(
            FixedPreUpdate,
            write_input.in_set(InputSystems::WriteClientInputs),
        )
        .add_systems(FixedUpdate, predict_own_avatar);
}

pub fn write_input(
    mut control: ResMut<AvatarControl>,
    mut own: Query<&mut ActionState<AvatarInput>, With<InputMarker<AvatarInput>>>,
) {
    let Ok(mut action) = own.single_mut() else {
        return;
    };
    action.0 = AvatarInput {
        direction: control.direction.clamp_length_max(1.0),
        yaw: control.yaw,
        run: control.run,
        jump: control.jump,
    };
    control.jump = false;
}

/// Prediction: the same [`step`] the server runs, on our own avatar only. Others are
/// interpolated from the server's states.
fn predict_own_avatar(
    mut own: Query<(&mut AvatarPose, &ActionState<AvatarInput>), With<Predicted>>,
    colliders: Res<WorldColliders>,
    time: Res<Time<Fixed>>,
) {
    for (mut pose, action) in &mut own {
        let mut next = *pose;
        step(&mut next, &action.0, time.delta_secs(), &colliders);
        if next != *pose {
            *pose = next;
        }
    }
}
