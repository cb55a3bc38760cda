//! The life of proposals in the running server: the snapshot each client gets at login,
//! founders' changes coming back from the database, the clock that opens and closes
//! proposals on time, and the poll that notices the admin CLI's changes.

use std::time::Duration;

use archipelago_shared::clock::Clock;
use archipelago_shared::governance::{
    BallotReceipt, GovernanceNews, GovernanceRefusal, Phase, Proposal, ProposalDraft, ProposalId,
};
use archipelago_shared::identity::to_hex;
use archipelago_shared::protocol::{ControlChannel, ToClient};
use bevy::prelude::*;
use lightyear::prelude::*;

use super::storage::GovernanceError;
use super::{GovernanceBudget, Proposals, answer};
use crate::ServerSystems;
use crate::session::LoggedIn;
use crate::session::broadcast;
use crate::storage::{BUSY, Done, StorageHandle};
use archipelago_shared::budget::TokenBucket;
use archipelago_shared::governance::{
    GOVERNANCE_REQUEST_BURST, MAX_GOVERNANCE_REQUESTS_PER_SECOND,
};
use archipelago_shared::parcels::Actor;

/// How often the clock looks for proposals to open or close, and the database for changes
/// made outside this server.
const CLOCK_INTERVAL: Duration = Duration::from_millis(500);

/// Database work in flight, so it is never asked twice at once.
#[derive(Resource, Debug, Default)]
struct Pending {
    advancing: bool,
    polling: bool,
}

/// A governance change a client (a founder, or a chair opening the vote) or the clock asks for.
#[derive(Debug, Clone)]
pub enum GovernanceCommand {
    Create(ProposalDraft),
    Open(ProposalId),
    Close(ProposalId),
}

/// A proposal created, opened or closed, or why not.
#[derive(Debug)]
struct ProposalStored {
    /// The proposal asked about (none for a new draft).
    asked: Option<ProposalId>,
    result: Result<Box<Proposal>, GovernanceRefusal>,
}

/// A member's last ballots, for their snapshot at login.
#[derive(Debug)]
struct MyBallots(Result<Vec<BallotReceipt>, String>);

/// Proposals whose time came, opened or closed by the clock.
#[derive(Debug)]
struct Advanced(Result<Vec<Proposal>, String>);

/// Every proposal, read to notice the admin CLI's changes.
#[derive(Debug)]
struct Polled(Result<Vec<Proposal>, String>);

/// Runs a governance change asked for by `link` (bounded, like all of a link's jobs), or by
/// the clock (`None`); the outcome is published and the asker answered.
pub(crate) fn govern(
    storage: &StorageHandle,
    link: Option<Entity>,
    actor: Actor,
    command: GovernanceCommand,
    protocities: Vec<String>,
) {
    let asked = match &command {
        GovernanceCommand::Create(_) => None,
        GovernanceCommand::Open(id) | GovernanceCommand::Close(id) => Some(*id),
    };
    let job = move |db: crate::storage::Storage| async move {
        let ids: Vec<&str> = protocities.iter().map(String::as_str).collect();
        let result = match &command {
            GovernanceCommand::Create(draft) => db.create_proposal(&actor, draft, &ids).await,
            GovernanceCommand::Open(id) => db.open_proposal(&actor, *id).await,
            GovernanceCommand::Close(id) => db.close_proposal(&actor, *id).await,
        };
        let result = result.map(Box::new).map_err(|e| {
            if !matches!(e, GovernanceError::Refused(_)) {
                error!("governance failed on {command:?}: {e}");
            }
            e.for_client()
        });
        ProposalStored { asked, result }
    };
    match link {
        Some(link) => storage.run_for(link, job, move || ProposalStored {
            asked,
            result: Err(GovernanceRefusal::Busy),
        }),
        None => storage.run(job),
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Pending>()
        .add_message::<Done<ProposalStored>>()
        .add_message::<Done<MyBallots>>()
        .add_message::<Done<Advanced>>()
        .add_message::<Done<Polled>>()
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
    time: Res<Time>,
) {
    let Ok(member) = members.get(trigger.entity) else {
        return;
    };
    commands
        .entity(trigger.entity)
        .insert(GovernanceBudget(TokenBucket::full(
            MAX_GOVERNANCE_REQUESTS_PER_SECOND,
            GOVERNANCE_REQUEST_BURST,
            time.elapsed(),
        )));
    let voter = to_hex(&member.public_key);
    storage.run_for(
        trigger.entity,
        move |db| async move { MyBallots(db.my_ballots(&voter).await.map_err(|e| e.to_string())) },
        || MyBallots(Err(BUSY.into())),
    );
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
        broadcast(
            &GovernanceNews::ProposalChanged(Box::new(tracked.view())).into(),
            links,
        );
    }
}

fn apply_replies(
    mut my_ballots: MessageReader<Done<MyBallots>>,
    mut changes: MessageReader<Done<ProposalStored>>,
    mut advanced: MessageReader<Done<Advanced>>,
    mut polled: MessageReader<Done<Polled>>,
    mut proposals: ResMut<Proposals>,
    mut pending: ResMut<Pending>,
    mut links: Query<&mut MessageSender<ToClient>, With<LoggedIn>>,
) {
    for Done { link, output } in my_ballots.read() {
        let Some(Ok(mut sender)) = link.map(|l| links.get_mut(l)) else {
            continue;
        };
        let my_ballots = output.0.clone().unwrap_or_else(|e| {
            error!("cannot read a member's ballots: {e}");
            Vec::new()
        });
        sender.send::<ControlChannel>(ToClient::from(GovernanceNews::Proposals {
            proposals: proposals.map.values().map(|t| t.view()).collect(),
            my_ballots,
        }));
    }
    for Done { link, output } in changes.read() {
        let ProposalStored { asked, result } = output;
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
    for Done { output, .. } in advanced.read() {
        pending.advancing = false;
        match &output.0 {
            Ok(changed) => {
                for proposal in changed {
                    publish(proposal.clone(), &mut proposals, &mut links);
                }
            }
            Err(e) => error!("cannot open or close proposals on time: {e}"),
        }
    }
    for Done { output, .. } in polled.read() {
        pending.polling = false;
        match &output.0 {
            Ok(all) => {
                for proposal in all {
                    publish(proposal.clone(), &mut proposals, &mut links);
                }
            }
            Err(e) => error!("cannot read the proposals: {e}"),
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
    clock: Res<Clock>,
    mut timer: Local<Option<Timer>>,
) {
    let timer = timer.get_or_insert_with(|| Timer::new(CLOCK_INTERVAL, TimerMode::Repeating));
    if !timer.tick(time.delta()).just_finished() || pending.advancing {
        return;
    }
    let at = clock.unix_seconds();
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
        storage.run(move |db| async move {
            Advanced(db.advance_proposals(at).await.map_err(|e| e.to_string()))
        });
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
        storage.run(|db| async move { Polled(db.proposals().await.map_err(|e| e.to_string())) });
    }
}
