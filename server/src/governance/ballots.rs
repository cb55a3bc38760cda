//! Ballots on their way to disk and back: checked ballots queue for the ballot writer,
//! which stores as many per commit as are waiting; each sender then gets its receipt (the
//! ballot is on disk) or the reason it was refused, the count is updated, and a few times a
//! second every client is sent the new turnout and, when the proposal shows it, the live
//! count.

use std::time::{Duration, Instant};

use archipelago_shared::governance::{
    BallotReceipt, GovernanceNews, GovernanceRefusal, ProposalId,
};
use archipelago_shared::identity::to_hex;
use archipelago_shared::protocol::{ControlChannel, ToClient};
use bevy::prelude::*;
use lightyear::prelude::*;

use super::storage::{CastBallot, GovernanceError};
use super::{Proposals, answer};
use crate::ServerSystems;
use crate::session::LoggedIn;
use crate::session::broadcast;
use crate::storage::{Batches, Done, NotQueued, Replies, Storage, StorageHandle, WriteQueue};

/// Most ballots stored by one commit.
const MAX_BALLOT_BATCH: usize = 2048;
/// Most ballots waiting for a commit: a whole nation voting at once fits many times over.
pub const BALLOTS_WAITING: usize = 16 * 1024;

/// A ballot waiting for the writer: who sent it, and when it arrived.
type Queued = (Entity, CastBallot, Instant);

/// The queue into the ballot writer.
#[derive(Resource)]
pub struct BallotQueue(WriteQueue<Queued>);

impl BallotQueue {
    /// Starts the ballot writer on the storage runtime and opens its queue.
    pub fn start(storage: &mut StorageHandle) -> Self {
        Self(storage.start_writer(BALLOTS_WAITING, write_ballots))
    }

    /// Queues a checked ballot for the next commit; the answer comes once it is on disk or
    /// refused, as a [`Done<Committed>`]. Refused at once when [`BALLOTS_WAITING`] are already
    /// waiting.
    pub fn cast(&self, link: Entity, cast: CastBallot) -> Result<(), NotQueued> {
        self.0
            .send((link, cast, Instant::now()))
            .map(|()| metrics::counter!("archipelago_ballots_queued_total").increment(1))
    }
}

/// What became of one ballot.
#[derive(Debug)]
pub struct BallotOutcome {
    pub link: Entity,
    pub proposal: ProposalId,
    /// The voter's key, hex.
    pub voter: String,
    pub result: Result<BallotReceipt, GovernanceRefusal>,
    /// When the server received it, to measure the time to acknowledge.
    pub received: Instant,
}

/// The outcomes of one commit.
#[derive(Debug)]
pub struct Committed(pub Vec<BallotOutcome>);

fn start_writer(mut commands: Commands, mut storage: ResMut<StorageHandle>) {
    commands.insert_resource(BallotQueue::start(&mut storage));
}

/// Stores queued ballots, as many per commit as are waiting, and answers each.
async fn write_ballots(storage: Storage, mut queue: Batches<Queued>, replies: Replies) {
    let mut batch = Vec::new();
    while queue.next(&mut batch, MAX_BALLOT_BATCH).await > 0 {
        let casts: Vec<_> = batch.iter().map(|(_, cast, _)| cast.clone()).collect();
        let results = storage.cast_ballots(&casts).await;
        let outcomes = batch
            .drain(..)
            .zip(results)
            .map(|((link, cast, received), result)| BallotOutcome {
                link,
                proposal: cast.signed.ballot.proposal,
                voter: to_hex(&cast.signed.ballot.voter),
                result: result.map_err(|e| {
                    if !matches!(e, GovernanceError::Refused(_)) {
                        error!("storing a ballot failed: {e}");
                    }
                    e.for_client()
                }),
                received,
            })
            .collect::<Vec<_>>();
        let committed = outcomes.iter().filter(|o| o.result.is_ok()).count();
        metrics::counter!("archipelago_ballots_committed_total").increment(committed as u64);
        if !replies.send(None, Committed(outcomes)) {
            break;
        }
    }
}

/// How often changed counts are sent out.
const TALLY_INTERVAL: Duration = Duration::from_millis(200);

pub(super) fn plugin(app: &mut App) {
    app.add_message::<Done<Committed>>()
        .add_systems(Startup, start_writer)
        .add_systems(
            Update,
            (
                apply_ballots.in_set(ServerSystems::Apply),
                publish_tallies.in_set(ServerSystems::Publish),
            ),
        );
}

fn apply_ballots(
    mut commits: MessageReader<Done<Committed>>,
    mut proposals: ResMut<Proposals>,
    mut links: Query<&mut MessageSender<ToClient>, With<LoggedIn>>,
) {
    for Done { output, .. } in commits.read() {
        for outcome in &output.0 {
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
                        sender.send::<ControlChannel>(ToClient::from(
                            GovernanceNews::BallotStored(receipt.clone()),
                        ));
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
            &GovernanceNews::TallyChanged {
                proposal: tracked.proposal.id,
                turnout: tracked.turnout(),
                tally: tracked.visible_tally(),
            }
            .into(),
            &mut links,
        );
    }
}
