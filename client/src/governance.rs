//! The client's view of governance ([`Governance`]): every proposal, the live counts, this
//! member's ballots and receipts. [`CastVote`] signs a ballot with the member's key and sends
//! it. Runs without a window, so the bots and the tests vote through exactly this code.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use archipelago_shared::clock::unix_millis;

use archipelago_shared::governance::tally::Choice;
use archipelago_shared::governance::{
    Ballot, BallotReceipt, GovernanceNews, GovernanceRefusal, GovernanceRequest, ProposalId,
    ProposalView, SignedBallot, sign_ballot,
};
use archipelago_shared::protocol::{ToClient, ToServer};
use bevy::prelude::*;

use crate::connection::{ConnectionState, FromServer, Request, push_capped};
use crate::{ClientConfig, ClientSystems};

/// What this client knows of the nation's proposals.
#[derive(Resource, Debug, Default)]
pub struct Governance {
    /// The snapshot has arrived.
    pub loaded: bool,
    pub proposals: BTreeMap<ProposalId, ProposalView>,
    /// This member's counted ballot on each proposal, with its receipt.
    pub my_ballots: BTreeMap<ProposalId, BallotReceipt>,
    /// Ballots sent and not yet answered, by proposal: at most one each.
    pub in_flight: BTreeMap<ProposalId, InFlight>,
    /// A choice made while that proposal's ballot was still waiting for its answer: it is
    /// signed and sent once the answer comes (a later choice replaces it).
    pub next: BTreeMap<ProposalId, Choice>,
    /// The server's answers to this client's requests, oldest first, with the time they
    /// came (seconds since start).
    pub answers: Vec<(f64, Option<ProposalId>, Result<String, GovernanceRefusal>)>,
    /// When each proposal's count last changed (seconds since start), for highlights.
    pub changed_at: BTreeMap<ProposalId, f64>,
    pub stats: BallotStats,
}

/// A ballot sent and not answered yet. Kept whole: if the connection is lost before its
/// answer comes, it is sent again once back in, unless the server says it already has it.
#[derive(Debug, Clone)]
pub struct InFlight {
    pub ballot: SignedBallot,
    pub sent: Instant,
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
    ) -> Option<&(f64, Option<ProposalId>, Result<String, GovernanceRefusal>)> {
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

fn receive(
    mut messages: MessageReader<FromServer>,
    mut book: ResMut<Governance>,
    time: Res<Time>,
    mut requests: MessageWriter<Request>,
) {
    let now = time.elapsed_secs_f64();
    for FromServer(message) in messages.read() {
        let ToClient::Governance(news) = message else {
            continue;
        };
        match news {
            GovernanceNews::Proposals {
                proposals,
                my_ballots,
            } => {
                book.proposals = proposals
                    .iter()
                    .map(|v| (v.proposal.id, v.clone()))
                    .collect();
                book.my_ballots = my_ballots.iter().map(|r| (r.proposal, r.clone())).collect();
                book.loaded = true;
                settle_after_login(&mut book, now, &mut requests);
            }
            GovernanceNews::ProposalChanged(view) => {
                let newer = book
                    .proposals
                    .get(&view.proposal.id)
                    .is_none_or(|known| known.proposal.revision <= view.proposal.revision);
                if newer {
                    book.changed_at.insert(view.proposal.id, now);
                    book.proposals.insert(view.proposal.id, (**view).clone());
                }
            }
            GovernanceNews::TallyChanged {
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
            GovernanceNews::BallotStored(receipt) => {
                if let Some(flight) = book.in_flight.get(&receipt.proposal)
                    && flight.ballot.ballot.sequence == receipt.sequence
                {
                    let waited = flight.sent.elapsed();
                    book.in_flight.remove(&receipt.proposal);
                    book.stats.ack_latencies.push(waited);
                }
                stored(&mut book, receipt, now);
            }
            GovernanceNews::Answer { proposal, outcome } => {
                if outcome.is_err()
                    && let Some(id) = proposal
                    && book.in_flight.remove(id).is_some()
                {
                    book.stats.refused += 1;
                }
                push_capped(
                    &mut book.answers,
                    (now, *proposal, outcome.clone()),
                    MAX_ANSWERS,
                );
            }
        }
    }
}

/// Counts a stored ballot and tells the member.
fn stored(book: &mut Governance, receipt: &BallotReceipt, now: f64) {
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

/// After a login (the first, or back in after a lost connection), each ballot still waiting
/// for its answer gets one: the server's list shows whether it was stored before the
/// connection went; if not, it is sent again, the same signed ballot, so it counts once.
fn settle_after_login(book: &mut Governance, now: f64, requests: &mut MessageWriter<Request>) {
    let waiting = std::mem::take(&mut book.in_flight);
    for (proposal, flight) in waiting {
        let sequence = flight.ballot.ballot.sequence;
        match book.my_ballots.get(&proposal).cloned() {
            Some(receipt) if receipt.sequence >= sequence => {
                if receipt.sequence == sequence {
                    book.stats.ack_latencies.push(flight.sent.elapsed());
                }
                stored(book, &receipt, now);
            }
            _ => {
                requests.write(Request(ToServer::Governance(GovernanceRequest::Vote(
                    flight.ballot.clone(),
                ))));
                book.in_flight.insert(proposal, flight);
            }
        }
    }
}

/// Signs and sends each vote: at once if no ballot on that proposal is waiting for its
/// answer, else once it is answered (so each ballot gets one answer, and the last choice is
/// the one that counts).
fn cast_votes(
    mut votes: MessageReader<CastVote>,
    mut book: ResMut<Governance>,
    config: Res<ClientConfig>,
    state: Res<ConnectionState>,
    mut requests: MessageWriter<Request>,
) {
    for vote in votes.read() {
        book.next.insert(vote.proposal, vote.choice.clone());
    }
    // Cut off, a choice waits here rather than in a ballot nobody can send.
    if *state != ConnectionState::InWorld {
        return;
    }
    let ready: Vec<ProposalId> = book
        .next
        .keys()
        .filter(|id| !book.in_flight.contains_key(id))
        .copied()
        .collect();
    for proposal in ready {
        let Some(choice) = book.next.remove(&proposal) else {
            continue;
        };
        let Some(view) = book.proposals.get(&proposal) else {
            continue;
        };
        let previous = book.my_ballots.get(&proposal).map_or(0, |r| r.sequence);
        let ballot = Ballot {
            proposal,
            digest: view.proposal.digest.clone(),
            voter: [0; 32],
            // Ballot sequences grow with time, so a ballot from another device of the same
            // member still counts as the newer one.
            sequence: u64::try_from(unix_millis()).unwrap_or(0).max(previous + 1),
            choice,
        };
        let signed = sign_ballot(&config.key, ballot);
        book.in_flight.insert(
            proposal,
            InFlight {
                ballot: signed.clone(),
                sent: Instant::now(),
            },
        );
        book.stats.sent += 1;
        requests.write(Request(ToServer::Governance(GovernanceRequest::Vote(
            signed,
        ))));
    }
}
