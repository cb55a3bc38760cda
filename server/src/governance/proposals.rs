//! The life of proposals in the running server: the snapshot each client gets at login,
//! founders' changes coming back from the database, the clock that opens and closes
//! proposals on time, and the poll that notices the admin CLI's changes.

use std::time::Duration;

use archipelago_shared::governance::{Phase, Proposal};
use archipelago_shared::identity::to_hex;
use archipelago_shared::protocol::{ControlChannel, ToClient};
use bevy::prelude::*;
use lightyear::prelude::*;

use super::{GovernanceBudget, Proposals, answer, broadcast};
use crate::ServerSystems;
use crate::login::LoggedIn;
use crate::storage::{StorageHandle, StorageReply, now};
use archipelago_shared::governance::GOVERNANCE_REQUEST_BURST;

/// How often the clock looks for proposals to open or close, and the database for changes
/// made outside this server.
const CLOCK_INTERVAL: Duration = Duration::from_millis(500);

/// Database work in flight, so it is never asked twice at once.
#[derive(Resource, Debug, Default)]
struct Pending {
    advancing: bool,
    polling: bool,
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Pending>()
        .add_observer(on_login)
        .add_systems(
            Update,
            (
                apply_replies.in_set(ServerSystems::Apply),
                (run_clock, poll_database).in_set(ServerSystems::Publish),
            ),
        );
}

/// A new arrival gets a request budget; its snapshot goes out once its ballots are read.
fn on_login(
    trigger: On<Add, LoggedIn>,
    members: Query<&LoggedIn>,
    storage: Res<StorageHandle>,
    mut commands: Commands,
) {
    let Ok(member) = members.get(trigger.entity) else {
        return;
    };
    commands
        .entity(trigger.entity)
        .insert(GovernanceBudget(GOVERNANCE_REQUEST_BURST));
    storage.my_ballots(trigger.entity, to_hex(&member.public_key));
}

/// Records a newer proposal and tells everyone.
fn publish(
    proposal: Proposal,
    proposals: &mut Proposals,
    links: &mut Query<&mut MessageSender<ToClient>, With<LoggedIn>>,
) {
    let id = proposal.id;
    if proposals.accept(proposal)
        && let Some(tracked) = proposals.map.get(&id)
    {
        info!(
            "proposal {id} ({}) is {} (revision {})",
            tracked.proposal.draft.title,
            tracked.proposal.phase.as_str(),
            tracked.proposal.revision
        );
        broadcast(&ToClient::ProposalChanged(tracked.view()), links);
    }
}

fn apply_replies(
    mut replies: MessageReader<StorageReply>,
    mut proposals: ResMut<Proposals>,
    mut pending: ResMut<Pending>,
    mut links: Query<&mut MessageSender<ToClient>, With<LoggedIn>>,
) {
    for reply in replies.read() {
        match reply {
            StorageReply::MyBallots { link, result } => {
                let Ok(mut sender) = links.get_mut(*link) else {
                    continue;
                };
                let my_ballots = result.clone().unwrap_or_else(|e| {
                    error!("cannot read a member's ballots: {e}");
                    Vec::new()
                });
                sender.send::<ControlChannel>(ToClient::Proposals {
                    proposals: proposals.map.values().map(|t| t.view()).collect(),
                    my_ballots,
                });
            }
            StorageReply::ProposalChange {
                link,
                asked,
                result,
            } => {
                if let Some(mut sender) = link.and_then(|l| links.get_mut(l).ok()) {
                    let outcome = match result {
                        Ok(p) => Ok(format!(
                            "proposal {} \"{}\" is {}",
                            p.id,
                            p.draft.title,
                            p.phase.as_str()
                        )),
                        Err(reason) => Err(reason.clone()),
                    };
                    let about = result.as_ref().ok().map(|p| p.id).or(*asked);
                    answer(&mut sender, about, outcome);
                }
                match result {
                    Ok(proposal) => publish((**proposal).clone(), &mut proposals, &mut links),
                    Err(reason) => warn!("governance request refused: {reason}"),
                }
            }
            StorageReply::ProposalsAdvanced { result } => {
                pending.advancing = false;
                match result {
                    Ok(changed) => {
                        for proposal in changed {
                            publish(proposal.clone(), &mut proposals, &mut links);
                        }
                    }
                    Err(e) => error!("cannot open or close proposals on time: {e}"),
                }
            }
            StorageReply::ProposalsPolled { result } => {
                pending.polling = false;
                match result {
                    Ok(all) => {
                        for proposal in all {
                            publish(proposal.clone(), &mut proposals, &mut links);
                        }
                    }
                    Err(e) => error!("cannot read the proposals: {e}"),
                }
            }
            _ => {}
        }
    }
}

/// Asks the database to open drafts whose time has come and close proposals whose voting
/// time is over.
fn run_clock(
    proposals: Res<Proposals>,
    mut pending: ResMut<Pending>,
    storage: Res<StorageHandle>,
    time: Res<Time>,
    mut timer: Local<Option<Timer>>,
) {
    let timer = timer.get_or_insert_with(|| Timer::new(CLOCK_INTERVAL, TimerMode::Repeating));
    if !timer.tick(time.delta()).just_finished() || pending.advancing {
        return;
    }
    let at = now();
    let due = proposals.map.values().any(|t| {
        let p = &t.proposal;
        match p.phase {
            Phase::Draft => p.draft.opens_at.is_some_and(|open| open <= at),
            Phase::Open => p.closes_at.is_some_and(|end| end <= at),
            Phase::Closed => false,
        }
    });
    if due {
        pending.advancing = true;
        storage.advance_proposals(at);
    }
}

fn poll_database(
    mut pending: ResMut<Pending>,
    storage: Res<StorageHandle>,
    time: Res<Time>,
    mut timer: Local<Option<Timer>>,
) {
    let timer = timer.get_or_insert_with(|| Timer::new(CLOCK_INTERVAL, TimerMode::Repeating));
    if timer.tick(time.delta()).just_finished() && !pending.polling {
        pending.polling = true;
        storage.poll_proposals();
    }
}
