//! `check_ballot`: what the server checks of a ballot from memory when it arrives, and again
//! in the transaction that stores it.

use archipelago_shared::governance::tally::{Choice, VoteType};
use archipelago_shared::governance::{
    Ballot, Eligibility, GovernanceRefusal, Phase, Proposal, ProposalDraft, Scope, check_ballot,
    proposal_digest,
};
use archipelago_shared::protocol::Role;

const NOW: i64 = 1_796_083_200;
const VOTER: [u8; 32] = [7; 32];

fn open_proposal() -> Proposal {
    let draft = ProposalDraft {
        title: "Where should the second harbour go?".into(),
        body: String::new(),
        scope: Scope::Nation,
        eligibility: Eligibility::AtLeast(Role::Member),
        vote_type: VoteType::SingleChoice,
        options: vec!["North cove".into(), "Lagoon".into()],
        opens_at: None,
        voting_secs: 3600,
        quorum: 1,
        threshold_percent: 50,
        live_tally: true,
    };
    Proposal {
        id: 3,
        digest: proposal_digest(Some("rules"), 3, &draft),
        draft,
        author: "Fay".into(),
        created_at: NOW - 60,
        phase: Phase::Open,
        opened_at: Some(NOW - 60),
        closes_at: Some(NOW + 3600),
        closed_at: None,
        result: None,
        revision: 2,
    }
}

fn ballot_for(proposal: &Proposal, choice: Choice) -> Ballot {
    Ballot {
        proposal: proposal.id,
        digest: proposal.digest.clone(),
        voter: VOTER,
        sequence: 1,
        choice,
    }
}

#[test]
fn a_ballot_that_fits_an_open_proposal_passes() {
    let proposal = open_proposal();
    let ballot = ballot_for(&proposal, Choice::Single(1));
    assert_eq!(check_ballot(&ballot, &proposal, &VOTER, NOW), Ok(()));
}

#[test]
fn each_fault_is_refused_with_its_own_reason() {
    let proposal = open_proposal();
    let good = ballot_for(&proposal, Choice::Single(0));

    let draft = Proposal {
        phase: Phase::Draft,
        ..open_proposal()
    };
    assert!(matches!(
        check_ballot(&good, &draft, &VOTER, NOW),
        Err(GovernanceRefusal::WrongPhase { id: 3, .. })
    ));
    assert_eq!(
        check_ballot(&good, &proposal, &VOTER, NOW + 3600),
        Err(GovernanceRefusal::VotingEnded(3)),
        "the closing second itself is too late"
    );
    assert_eq!(
        check_ballot(&good, &proposal, &[8; 32], NOW),
        Err(GovernanceRefusal::NotYourKey),
        "a ballot for another key than the sender's"
    );
    let stale = Ballot {
        digest: "0".repeat(64),
        ..good.clone()
    };
    assert_eq!(
        check_ballot(&stale, &proposal, &VOTER, NOW),
        Err(GovernanceRefusal::WrongDigest),
        "a ballot for another text of the proposal"
    );
    let beyond = ballot_for(&proposal, Choice::Single(2));
    assert!(
        matches!(
            check_ballot(&beyond, &proposal, &VOTER, NOW),
            Err(GovernanceRefusal::Shape(_))
        ),
        "an option the proposal does not have"
    );
}
