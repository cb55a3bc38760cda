//! Assemblies as people meet them: stepping into a town hall with a session shows the
//! session panel (agenda, floor, queue; the chair's controls and moderation), a "now
//! speaking" banner with the countdown, and marks on the speaker's and raised hands' name
//! tags. H raises or lowers one's hand. Founders open sessions from the same panel.

mod banner;
mod panel;

use archipelago_shared::assembly::{AssemblyRequest, HallSession, InOverflow};
use archipelago_shared::protocol::AvatarPose;
use archipelago_shared::world::{Place, World};
use bevy::prelude::*;
use bevy_egui::input::egui_wants_any_keyboard_input;

use crate::assembly::SendAssembly;
use crate::connection::Session;
use crate::{ClientConfig, ClientSystems};

pub use banner::SPEAKING;
pub use panel::AssemblyPanel;

/// The hall this client stands in and its session, refreshed every frame.
#[derive(Resource, Debug, Default)]
pub struct HallView {
    /// Index and protocity id of the hall, when inside one.
    pub hall: Option<(usize, String)>,
    pub session: Option<HallSession>,
    /// This client's whole key (hex), as the procedure names people.
    pub me: String,
    /// The hall was full: this client follows the session from its overflow room.
    pub in_overflow: bool,
}

impl HallView {
    /// Whether this client's hand is up, and where in the queue.
    pub fn my_place_in_queue(&self) -> Option<usize> {
        self.session.as_ref()?.queue_position(&self.me)
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<HallView>()
        .add_plugins((panel::plugin, banner::plugin))
        .add_systems(
            Update,
            (
                look_around.in_set(ClientSystems::Present),
                raise_hand
                    .in_set(ClientSystems::Control)
                    .run_if(not(egui_wants_any_keyboard_input)),
            ),
        );
}

fn look_around(
    mut view: ResMut<HallView>,
    session: Res<Session>,
    poses: Query<(&AvatarPose, Has<InOverflow>)>,
    sessions: Query<&HallSession>,
    world: Res<World>,
    config: Res<ClientConfig>,
) {
    if view.me.is_empty() {
        view.me = archipelago_shared::identity::to_hex(&config.key.verifying_key().to_bytes());
    }
    let own = session.own_avatar.and_then(|e| poses.get(e).ok());
    let in_overflow = own.is_some_and(|(_, overflow)| overflow);
    if view.in_overflow != in_overflow {
        view.in_overflow = in_overflow;
    }
    let hall = own.and_then(|(pose, _)| match world.place_at(pose.position) {
        Place::Hall(i) => Some((i, world.protocities[i].id.clone())),
        Place::Grounds(_) => None,
    });
    let current = hall
        .as_ref()
        .and_then(|(_, id)| crate::assembly::session_in(sessions.iter(), id))
        .cloned();
    if view.hall != hall {
        view.hall = hall;
    }
    if view.session != current {
        view.session = current;
    }
}

/// H: raise one's hand, or lower it if it is up.
fn raise_hand(
    keys: Res<ButtonInput<KeyCode>>,
    view: Res<HallView>,
    mut send: MessageWriter<SendAssembly>,
) {
    if !keys.just_pressed(KeyCode::KeyH) || view.session.is_none() {
        return;
    }
    send.write(SendAssembly(if view.my_place_in_queue().is_some() {
        AssemblyRequest::LowerHand
    } else {
        AssemblyRequest::RaiseHand
    }));
}
