//! The client's view of governance ([`Governance`]): every proposal, the live counts, this
//! member's ballots and receipts. [`CastVote`] signs a ballot with the member's key and sends
//! it. Runs without a window, so the bots and the tests vote through exactly this code.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use archipelago_shared::governance::tally::Choice;
use archipelago_shared::governance::{
    Ballot, BallotReceipt, GovernanceRequest, ProposalId, ProposalView, sign_ballot,
};
use archipelago_shared::protocol::{ToClient, ToServer};
use bevy::prelude::*;

use crate::connection::{FromServer, Request};
use crate::{ClientConfig, ClientSystems};

/// What this client knows of the nation's proposals.
#[derive(Resource, Debug, Default)]
pub struct Governance {
    /// The snapshot has arrived.
    pub loaded: bool,
    pub proposals: BTreeMap<ProposalId, ProposalView>,
    /// This member's counted ballot on each proposal, with its receipt.
    pub my_ballots: BTreeMap<ProposalId, BallotReceipt>,
    /// Ballots sent and not yet answered, by proposal: sequence and when sent.
    pub in_flight: BTreeMap<ProposalId, (u64, Instant)>,
    /// The server's answers to this client's requests, oldest first, with the time they
    /// came (seconds since start).
    pub answers: Vec<(f64, Option<ProposalId>, Result<String, String>)>,
    /// When each proposal's count last changed (seconds since start), for highlights.
    pub changed_at: BTreeMap<ProposalId, f64>,
    pub stats: BallotStats,
}

/// Counters for the bots' report.
#[derive(Debug, Default, Clone)]
pub struct BallotStats {
    pub sent: u32,
    pub acked: u32,
    pub refused: u32,
    /// Time from sending a ballot to its receipt.
    pub ack_latencies: Vec<Duration>,
}

impl Governance {
    /// The answer that came last for a proposal, if any.
    pub fn last_answer(
        &self,
        proposal: ProposalId,
    ) -> Option<&(f64, Option<ProposalId>, Result<String, String>)> {
        self.answers
            .iter()
            .rev()
            .find(|(_, p, _)| *p == Some(proposal))
    }
}

/// Vote on a proposal (replacing this member's earlier ballot on it).
#[derive(Message, Debug, Clone)]
pub struct CastVote {
    pub proposal: ProposalId,
    pub choice: Choice,
}

/// Answers kept for the UI.
const MAX_ANSWERS: usize = 64;

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<Governance>()
        .add_message::<CastVote>()
        .add_systems(
            Update,
            (
                receive.in_set(ClientSystems::Receive),
                cast_votes
                    .after(ClientSystems::Control)
                    .before(ClientSystems::Present),
            ),
        );
}

fn receive(mut messages: MessageReader<FromServer>, mut book: ResMut<Governance>, time: Res<Time>) {
    let now = time.elapsed_secs_f64();
    for FromServer(message) in messages.read() {
        match message {
            ToClient::Proposals {
                proposals,
                my_ballots,
            } => {
                book.proposals = proposals
                    .iter()
                    .map(|v| (v.proposal.id, v.clone()))
                    .collect();
                book.my_ballots = my_ballots.iter().map(|r| (r.proposal, r.clone())).collect();
                book.loaded = true;
            }
            ToClient::ProposalChanged(view) => {
                let newer = book
                    .proposals
                    .get(&view.proposal.id)
                    .is_none_or(|known| known.proposal.revision <= view.proposal.revision);
                if newer {
                    book.changed_at.insert(view.proposal.id, now);
                    book.proposals.insert(view.proposal.id, view.clone());
                }
            }
            ToClient::TallyChanged {
                proposal,
                turnout,
                tally,
            } => {
                if let Some(view) = book.proposals.get_mut(proposal)
                    && view.proposal.result.is_none()
                {
                    view.turnout = *turnout;
                    view.tally = tally.clone();
                    book.changed_at.insert(*proposal, now);
                }
            }
            ToClient::BallotStored(receipt) => {
                if let Some((sequence, sent)) = book.in_flight.get(&receipt.proposal).copied()
                    && sequence == receipt.sequence
                {
                    book.in_flight.remove(&receipt.proposal);
                    book.stats.ack_latencies.push(sent.elapsed());
                }
                book.stats.acked += 1;
                book.my_ballots.insert(receipt.proposal, receipt.clone());
                book.answers.push((
                    now,
                    Some(receipt.proposal),
                    // The receipt comes from the server: cut it on a character, whatever it is.
                    Ok(format!(
                        "your ballot is stored; receipt {}",
                        receipt.receipt.chars().take(16).collect::<String>()
                    )),
                ));
            }
            ToClient::GovernanceAnswer { proposal, outcome } => {
                if outcome.is_err()
                    && let Some(id) = proposal
                    && book.in_flight.remove(id).is_some()
                {
                    book.stats.refused += 1;
                }
                book.answers.push((now, *proposal, outcome.clone()));
            }
            _ => continue,
        }
        let excess = book.answers.len().saturating_sub(MAX_ANSWERS);
        book.answers.drain(..excess);
    }
}

/// Milliseconds since the epoch: ballot sequences grow with time, so a ballot from another
/// device of the same member still counts as the newer one.
fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Signs and sends each vote.
fn cast_votes(
    mut votes: MessageReader<CastVote>,
    mut book: ResMut<Governance>,
    config: Res<ClientConfig>,
    mut requests: MessageWriter<Request>,
) {
    for vote in votes.read() {
        let Some(view) = book.proposals.get(&vote.proposal) else {
            continue;
        };
        let previous = [
            book.my_ballots.get(&vote.proposal).map(|r| r.sequence),
            book.in_flight.get(&vote.proposal).map(|(s, _)| *s),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
        let ballot = Ballot {
            proposal: vote.proposal,
            digest: view.proposal.digest.clone(),
            voter: [0; 32],
            sequence: unix_millis().max(previous + 1),
            choice: vote.choice.clone(),
        };
        let signed = sign_ballot(&config.key, ballot);
        book.in_flight
            .insert(vote.proposal, (signed.ballot.sequence, Instant::now()));
        book.stats.sent += 1;
        requests.write(Request(ToServer::Governance(GovernanceRequest::Vote(
            signed,
        ))));
    }
}
