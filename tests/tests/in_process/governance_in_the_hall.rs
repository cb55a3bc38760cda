//! A vote in one process, start to finish: a founder writes and opens a proposal from the
//! client, three members vote (one changes their mind), everyone's board shows the count as
//! it moves, the founder closes it, the result is final, and the export recounts to the same
//! result offline.

use std::time::Duration;

use archipelago_client::identity::ephemeral;
use archipelago_server::storage::Storage;
use archipelago_shared::governance::tally::{Choice, Outcome, VoteType};
use archipelago_shared::governance::{
    Eligibility, GovernanceRefusal, GovernanceRequest, Phase, PhaseAct, ProposalDraft, Scope,
    verify_export,
};
use archipelago_shared::protocol::Role;
use archipelago_tests::sim::SimServer;
use archipelago_tests::{TestClient, create_proposal, enter_world, wait_until};

fn harbour_draft() -> ProposalDraft {
    ProposalDraft {
        title: "Where should the second harbour go?".into(),
        body: "Three sites were surveyed last spring.".into(),
        scope: Scope::Nation,
        eligibility: Eligibility::AtLeast(Role::Member),
        vote_type: VoteType::SingleChoice,
        options: vec!["North cove".into(), "Lagoon".into(), "Old pier".into()],
        opens_at: None,
        voting_secs: 3600,
        quorum: 3,
        threshold_percent: 50,
        live_tally: true,
    }
}

#[test]
fn members_vote_in_the_hall_and_the_result_is_final_and_verifiable() {
    let server = SimServer::start();
    let fay_key = ephemeral();
    server.register(&fay_key, "Fay", Role::Founder);
    let mut fay = server.client("Fay", fay_key);
    let mut voters: Vec<TestClient> = ["Mo", "Ana", "Lu"]
        .into_iter()
        .map(|name| {
            let key = ephemeral();
            server.register(&key, name, Role::Member);
            server.client(name, key)
        })
        .collect();
    enter_world(&mut fay);
    for voter in &mut voters {
        enter_world(voter);
    }

    // The founder writes the proposal; every member sees the draft.
    let id = create_proposal(&mut fay, harbour_draft());
    let mut everyone: Vec<&mut TestClient> =
        std::iter::once(&mut fay).chain(voters.iter_mut()).collect();
    let seen = wait_until(&mut everyone, Duration::from_secs(3), |c| {
        c.iter().all(|c| {
            c.proposal(id)
                .is_some_and(|v| v.proposal.phase == Phase::Draft)
        })
    });
    assert!(seen, "every member sees the new draft");

    // Voting before it opens is refused.
    voters[0].vote(id, Choice::Single(0));
    wait_until(&mut [&mut voters[0]], Duration::from_secs(3), |c| {
        c[0].governance_answer(id).is_some()
    });
    let early = voters[0].governance_answer(id);
    assert!(
        early
            .as_ref()
            .is_some_and(|a| a.as_ref().is_err_and(|r| matches!(
                r,
                GovernanceRefusal::WrongPhase {
                    phase: Phase::Draft,
                    action: PhaseAct::VotedOn,
                    ..
                }
            ))),
        "a ballot on a draft is refused with a reason: {early:?}"
    );

    // The founder opens it; the members see it open with a closing time.
    fay.govern(GovernanceRequest::Open(id));
    let mut everyone: Vec<&mut TestClient> =
        std::iter::once(&mut fay).chain(voters.iter_mut()).collect();
    let opened = wait_until(&mut everyone, Duration::from_secs(3), |c| {
        c.iter().all(|c| {
            c.proposal(id)
                .is_some_and(|v| v.proposal.phase == Phase::Open && v.proposal.closes_at.is_some())
        })
    });
    assert!(opened, "everyone sees the proposal open");

    // Three members vote; each gets a receipt and everyone's board counts three ballots.
    for (voter, option) in voters.iter_mut().zip([0u8, 1, 1]) {
        voter.vote(id, Choice::Single(option));
    }
    let mut everyone: Vec<&mut TestClient> =
        std::iter::once(&mut fay).chain(voters.iter_mut()).collect();
    let counted = wait_until(&mut everyone, Duration::from_secs(5), |c| {
        c.iter().all(|c| {
            c.proposal(id).is_some_and(|v| {
                v.turnout == 3 && v.tally.as_ref().is_some_and(|t| t.counts == [1, 2, 0])
            })
        }) && c[1..]
            .iter()
            .all(|c| c.governance().my_ballots.contains_key(&id))
    });
    assert!(
        counted,
        "every board shows 1 / 2 / 0 and every voter has a receipt; Fay sees {:?}",
        fay.proposal(id).map(|v| (v.turnout, v.tally))
    );
    let receipt = voters[0].governance().my_ballots[&id].clone();
    assert_eq!(receipt.choice, Choice::Single(0));
    assert_eq!(receipt.receipt.len(), 64, "the receipt is a SHA-256 in hex");

    // Mo changes his mind: his last ballot counts, and only once.
    voters[0].vote(id, Choice::Single(2));
    let mut everyone: Vec<&mut TestClient> =
        std::iter::once(&mut fay).chain(voters.iter_mut()).collect();
    let changed = wait_until(&mut everyone, Duration::from_secs(5), |c| {
        c.iter().all(|c| {
            c.proposal(id).is_some_and(|v| {
                v.turnout == 3 && v.tally.as_ref().is_some_and(|t| t.counts == [0, 2, 1])
            })
        })
    });
    assert!(
        changed,
        "the changed ballot replaces the first: {:?}",
        fay.proposal(id).map(|v| v.tally)
    );
    let new_receipt = voters[0].governance().my_ballots[&id].clone();
    assert_eq!(new_receipt.choice, Choice::Single(2));
    assert_ne!(
        new_receipt.receipt, receipt.receipt,
        "a new ballot, a new receipt"
    );

    // The founder closes it: a final result everyone sees.
    fay.govern(GovernanceRequest::Close(id));
    let mut everyone: Vec<&mut TestClient> =
        std::iter::once(&mut fay).chain(voters.iter_mut()).collect();
    let closed = wait_until(&mut everyone, Duration::from_secs(5), |c| {
        c.iter().all(|c| {
            c.proposal(id)
                .is_some_and(|v| v.proposal.phase == Phase::Closed && v.proposal.result.is_some())
        })
    });
    assert!(closed, "everyone sees the closed proposal with its result");
    let result = fay
        .proposal(id)
        .and_then(|v| v.proposal.result)
        .expect("result");
    assert_eq!(result.counts, vec![0, 2, 1]);
    assert_eq!(result.winner, Some(1), "the lagoon has two of three votes");
    assert_eq!(result.outcome, Outcome::Passed);

    // A ballot after closing is refused, and the result does not move.
    let answers_before = voters[2].governance().answers.len();
    voters[2].vote(id, Choice::Single(0));
    wait_until(&mut [&mut voters[2]], Duration::from_secs(3), |c| {
        c[0].governance().answers.len() > answers_before
    });
    let late = voters[2].governance_answer(id);
    assert!(
        late.as_ref()
            .is_some_and(|a| a.as_ref().is_err_and(|r| matches!(
                r,
                GovernanceRefusal::WrongPhase {
                    phase: Phase::Closed,
                    action: PhaseAct::VotedOn,
                    ..
                }
            ))),
        "a ballot on a closed proposal is refused: {late:?}"
    );
    // Closing twice is refused too: the result is fixed.
    fay.govern(GovernanceRequest::Close(id));
    wait_until(&mut [&mut fay], Duration::from_secs(3), |c| {
        c[0].governance_answer(id).is_some_and(|a| {
            a.is_err_and(|r| {
                matches!(
                    r,
                    GovernanceRefusal::WrongPhase {
                        phase: Phase::Closed,
                        action: PhaseAct::Closed,
                        ..
                    }
                )
            })
        })
    });
    assert_eq!(
        fay.proposal(id).and_then(|v| v.proposal.result),
        Some(result.clone()),
        "the result never changes"
    );

    // The export recounts to the published result, offline; a forged ballot is caught.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let export = runtime.block_on(async {
        let storage = Storage::open(&server.data_dir()).await.expect("opens");
        let export = storage.export(id, "Test nation").await.expect("export");
        storage.close().await;
        export
    });
    assert_eq!(
        export.ballots.len(),
        4,
        "every signed ballot, the changed one included"
    );
    let report = verify_export(&export);
    assert!(report.matches(), "the export verifies: {report:?}");
    assert_eq!(report.recount, result);

    let mut forged = export.clone();
    let last = forged
        .ballots
        .iter_mut()
        .find(|b| b.choice == Choice::Single(1))
        .expect("a ballot for the lagoon");
    last.choice = Choice::Single(0);
    let report = verify_export(&forged);
    assert!(!report.matches(), "a changed ballot breaks its signature");
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);

    for voter in voters {
        voter.disconnect();
    }
    fay.disconnect();
}
