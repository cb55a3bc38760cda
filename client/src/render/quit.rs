//! Leaving politely: closing the window (or Quit) first tells the server, so others see the
//! avatar go at once instead of after the connection times out.

use bevy::prelude::*;
use bevy::window::WindowCloseRequested;
use lightyear::prelude::client::*;

/// Frames to keep running after asking to disconnect, so the packets go out.
const GOODBYE_FRAMES: u32 = 3;

/// Ask the client to disconnect and exit.
#[derive(Message, Debug, Clone, Copy, Default)]
pub struct Quit;

pub(crate) fn plugin(app: &mut App) {
    app.add_message::<Quit>()
        .add_systems(Update, (close_requested, leave).chain());
}

fn close_requested(mut closed: MessageReader<WindowCloseRequested>, mut quit: MessageWriter<Quit>) {
    if closed.read().count() > 0 {
        quit.write(Quit);
    }
}

fn leave(
    mut quits: MessageReader<Quit>,
    mut countdown: Local<Option<u32>>,
    client: Query<Entity, With<Client>>,
    mut commands: Commands,
    mut exit: MessageWriter<AppExit>,
) {
    if quits.read().count() > 0 && countdown.is_none() {
        for entity in &client {
            commands.trigger(Disconnect { entity });
        }
        *countdown = Some(GOODBYE_FRAMES);
    }
    if let Some(frames) = countdown.as_mut() {
        if *frames == 0 {
            exit.write(AppExit::Success);
        } else {
            *frames -= 1;
        }
    }
}
