//! Ballots coming back from the database: each sender gets its receipt (the ballot is on
//! disk) or the reason it was refused, the count is updated, and a few times a second every
//! client is sent the new turnout and, when the proposal shows it, the live count.

use std::time::Duration;

use archipelago_shared::protocol::{ControlChannel, ToClient};
use bevy::prelude::*;
use lightyear::prelude::*;

use super::{Proposals, answer, broadcast};
use crate::ServerSystems;
use crate::login::LoggedIn;
use crate::storage::StorageReply;

/// How often changed counts are sent out.
const TALLY_INTERVAL: Duration = Duration::from_millis(200);

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        Update,
        (
            apply_ballots.in_set(ServerSystems::Apply),
            publish_tallies.in_set(ServerSystems::Publish),
        ),
    );
}

fn apply_ballots(
    mut replies: MessageReader<StorageReply>,
    mut proposals: ResMut<Proposals>,
    mut links: Query<&mut MessageSender<ToClient>, With<LoggedIn>>,
) {
    for reply in replies.read() {
        let StorageReply::Ballots(outcomes) = reply else {
            continue;
        };
        for outcome in outcomes {
            let sender = links.get_mut(outcome.link).ok();
            match &outcome.result {
                Ok(receipt) => {
                    if let Some(tracked) = proposals.map.get_mut(&outcome.proposal) {
                        tracked
                            .ballots
                            .insert(outcome.voter.clone(), receipt.choice.clone());
                        tracked.dirty = true;
                    }
                    debug!(
                        "ballot {} on proposal {} stored in {:?}",
                        receipt.receipt,
                        outcome.proposal,
                        outcome.received.elapsed()
                    );
                    if let Some(mut sender) = sender {
                        sender.send::<ControlChannel>(ToClient::BallotStored(receipt.clone()));
                    }
                }
                Err(reason) => {
                    warn!(
                        "ballot on proposal {} by {} refused: {reason}",
                        outcome.proposal, outcome.voter
                    );
                    if let Some(mut sender) = sender {
                        answer(&mut sender, Some(outcome.proposal), Err(reason.clone()));
                    }
                }
            }
        }
    }
}

fn publish_tallies(
    mut proposals: ResMut<Proposals>,
    mut links: Query<&mut MessageSender<ToClient>, With<LoggedIn>>,
    time: Res<Time>,
    mut timer: Local<Option<Timer>>,
) {
    let timer = timer.get_or_insert_with(|| Timer::new(TALLY_INTERVAL, TimerMode::Repeating));
    if !timer.tick(time.delta()).just_finished() {
        return;
    }
    for tracked in proposals.map.values_mut().filter(|t| t.dirty) {
        tracked.dirty = false;
        tracked.recount();
        broadcast(
            &ToClient::TallyChanged {
                proposal: tracked.proposal.id,
                turnout: tracked.turnout(),
                tally: tracked.visible_tally(),
            },
            &mut links,
        );
    }
}
