//! Gestures: a wave, a clap, a cheer, a point. Each is an event told to the clients that can
//! see the avatar (their roster knows it), not state kept on it; a frame's gestures go to each
//! client as one message, so a hall of a thousand applauding costs each listener one message
//! a frame. The owner's budget caps how many go out ([`GESTURES_PER_SECOND`]), sitting and
//! standing included.

use archipelago_shared::avatars::{
    AvatarNews, AvatarRefusal, AvatarRequest, GESTURE_BURST, GESTURES_PER_SECOND, Gesture,
};
use archipelago_shared::budget::TokenBucket;
use archipelago_shared::crowd::CrowdId;
use archipelago_shared::protocol::{ControlChannel, ToClient};
use bevy::prelude::*;
use lightyear::prelude::*;

use super::HasAvatar;
use crate::ServerSystems;
use crate::crowd::roster::Roster;
use crate::refusal_log::RefusalLog;
use crate::session::{LoggedIn, Request};

/// On an avatar: the gestures its owner may still make, over time.
#[derive(Component, Debug)]
pub struct GestureBudget(TokenBucket);

impl GestureBudget {
    pub fn full(now: std::time::Duration) -> Self {
        Self(TokenBucket::full(GESTURES_PER_SECOND, GESTURE_BURST, now))
    }

    /// Spends one; whether there was one.
    pub fn take(&mut self, now: std::time::Duration) -> bool {
        self.0.take(now)
    }
}

pub(super) fn plugin(app: &mut App) {
    app.add_systems(Update, gesture.in_set(ServerSystems::Apply));
}

/// Tells the gesture to everyone who sees the avatar, or refuses it past the budget.
fn gesture(
    mut requests: MessageReader<Request<AvatarRequest>>,
    mut links: Query<(
        &LoggedIn,
        &HasAvatar,
        &Roster,
        &mut MessageSender<ToClient>,
    )>,
    mut avatars: Query<(&CrowdId, &mut GestureBudget)>,
    mut refusals: ResMut<RefusalLog>,
    time: Res<Time>,
) {
    let mut made: Vec<(CrowdId, Gesture)> = Vec::new();
    for Request { link, request } in requests.read() {
        let AvatarRequest::Gesture(gesture) = request else {
            continue;
        };
        let Ok((member, has_avatar, ..)) = links.get(*link) else {
            continue;
        };
        let (name, avatar) = (member.name.clone(), has_avatar.0);
        let Ok((id, mut budget)) = avatars.get_mut(avatar) else {
            continue;
        };
        if !budget.take(time.elapsed()) {
            refusals.note(*link, || format!("gesture of {name} refused: too many"));
            if let Ok((.., mut sender)) = links.get_mut(*link) {
                sender.send::<ControlChannel>(ToClient::from(AvatarNews::Refused(
                    AvatarRefusal::TooManyGestures,
                )));
            }
            continue;
        }
        made.push((*id, *gesture));
    }
    if made.is_empty() {
        return;
    }
    for (.., roster, mut sender) in &mut links {
        let seen: Vec<(CrowdId, Gesture)> = made
            .iter()
            .filter(|(id, _)| roster.knows(*id))
            .copied()
            .collect();
        if !seen.is_empty() {
            sender.send::<ControlChannel>(ToClient::from(AvatarNews::Gestured(seen)));
        }
    }
}
