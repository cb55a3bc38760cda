//! Gestures: a wave, a clap, a cheer, a point. Each is an event told to the clients that can
//! see the avatar (their roster knows it), not state kept on it. They are gathered and sent
//! [`FLUSHES_PER_SECOND`] times a second, each client getting one message with those it can
//! see: a crowd gesturing costs each listener a few messages a second however many gesture.
//! The owner's budget caps how many a person makes ([`GESTURES_PER_SECOND`]), sitting and
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

/// How often the gestures made are sent out: a gesture shows at most a fifth of a second
/// later than it was made (at once after a quiet spell).
pub const FLUSHES_PER_SECOND: u64 = 5;
const FLUSH: std::time::Duration = std::time::Duration::from_millis(1000 / FLUSHES_PER_SECOND);

/// Gestures made since the last flush.
#[derive(Resource, Debug, Default)]
struct Made {
    gestures: Vec<(CrowdId, Gesture)>,
    since: Option<std::time::Duration>,
}

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
    app.init_resource::<Made>().add_systems(
        Update,
        (
            gesture.in_set(ServerSystems::Apply),
            tell.in_set(ServerSystems::Publish),
        ),
    );
}

/// Takes each gesture in, or refuses it past the budget.
fn gesture(
    mut requests: MessageReader<Request<AvatarRequest>>,
    mut links: Query<(&LoggedIn, &HasAvatar, &mut MessageSender<ToClient>)>,
    mut avatars: Query<(&CrowdId, &mut GestureBudget)>,
    mut made: ResMut<Made>,
    mut refusals: ResMut<RefusalLog>,
    time: Res<Time>,
) {
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
        made.gestures.push((*id, *gesture));
    }
}

/// Sends the gestures made since the last flush: to each client, those it can see.
fn tell(
    mut made: ResMut<Made>,
    mut links: Query<(&Roster, &mut MessageSender<ToClient>), With<LoggedIn>>,
    time: Res<Time>,
) {
    let now = time.elapsed();
    let since = *made.since.get_or_insert(now);
    if made.gestures.is_empty() || now - since < FLUSH {
        return;
    }
    made.since = Some(now);
    let gestures = std::mem::take(&mut made.gestures);
    for (roster, mut sender) in &mut links {
        let seen: Vec<(CrowdId, Gesture)> = gestures
            .iter()
            .filter(|(id, _)| roster.knows(*id))
            .copied()
            .collect();
        if !seen.is_empty() {
            sender.send::<ControlChannel>(ToClient::from(AvatarNews::Gestured(seen)));
        }
    }
}
