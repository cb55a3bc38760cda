//! Every way a ballot or a governance request can be wrong, in one process: each is refused
//! with a reason the sender can read, and none of them changes the count.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use archipelago_client::identity::ephemeral;
use archipelago_shared::governance::tally::{Choice, VoteType};
use archipelago_shared::governance::{
    Ballot, DraftError, Eligibility, GovernanceRefusal, GovernanceRequest, Phase, ProposalAct,
    ProposalDraft, ProposalId, Scope, SignedBallot, sign_ballot,
};
use archipelago_shared::protocol::Role;
use archipelago_tests::sim::SimServer;
use archipelago_tests::{TestClient, create_proposal, enter_world, pass_time, wait_until};
use ed25519_dalek::SigningKey;

fn draft(title: &str, eligibility: Eligibility, scope: Scope) -> ProposalDraft {
    ProposalDraft {
        title: title.into(),
        body: String::new(),
        scope,
        eligibility,
        vote_type: VoteType::Approval,
        options: vec!["Library".into(), "Workshop".into(), "Clinic".into()],
        opens_at: None,
        voting_secs: 600,
        quorum: 1,
        threshold_percent: 50,
        live_tally: true,
    }
}

fn millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// Sends a request and returns the server's answer about `proposal`.
fn answer_to(
    client: &mut TestClient,
    proposal: ProposalId,
    request: GovernanceRequest,
) -> Result<String, GovernanceRefusal> {
    let before = client.governance().answers.len();
    client.govern(request);
    let answered = wait_until(&mut [&mut *client], Duration::from_secs(3), |c| {
        c[0].governance().answers.len() > before
    });
    assert!(answered, "the server answers every request");
    // Governance answers one request at a time per client, in order.
    let (_, about, outcome) = client.governance().answers[before].clone();
    assert_eq!(about, Some(proposal), "the answer names the proposal");
    outcome
}

fn ballot(key: &SigningKey, proposal: ProposalId, digest: &str, choice: Choice) -> SignedBallot {
    sign_ballot(
        key,
        Ballot {
            proposal,
            digest: digest.to_owned(),
            voter: [0; 32],
            sequence: millis(),
            choice,
        },
    )
}

#[test]
fn wrong_ballots_and_requests_are_refused_with_reasons() {
    let server = SimServer::start();
    let fay_key = ephemeral();
    let mo_key = ephemeral();
    server.register(&fay_key, "Fay", Role::Founder);
    server.register(&mo_key, "Mo", Role::Member);
    let mut fay = server.client("Fay", fay_key);
    let mut mo = server.client("Mo", mo_key.clone());
    let vic_key = ephemeral();
    let mut vic = server.client("Vic", vic_key.clone());
    for client in [&mut fay, &mut mo, &mut vic] {
        enter_world(client);
    }

    // Only founders write proposals, and a bad draft is refused whole.
    let before = mo.governance().answers.len();
    mo.govern(GovernanceRequest::Create(draft(
        "Members cannot propose",
        Eligibility::AtLeast(Role::Member),
        Scope::Nation,
    )));
    wait_until(&mut [&mut mo], Duration::from_secs(3), |c| {
        c[0].governance().answers.len() > before
    });
    let outcome = mo.governance().answers[before].2.clone();
    assert!(
        matches!(
            outcome,
            Err(GovernanceRefusal::NotFounder(ProposalAct::Create))
        ),
        "{outcome:?}"
    );
    let mut bad = draft("", Eligibility::AtLeast(Role::Member), Scope::Nation);
    bad.title.clear();
    let before = fay.governance().answers.len();
    fay.govern(GovernanceRequest::Create(bad));
    wait_until(&mut [&mut fay], Duration::from_secs(3), |c| {
        c[0].governance().answers.len() > before
    });
    let outcome = fay.governance().answers[before].2.clone();
    assert!(
        matches!(
            outcome,
            Err(GovernanceRefusal::BadDraft(DraftError::NoTitle))
        ),
        "{outcome:?}"
    );

    let id = create_proposal(
        &mut fay,
        draft(
            "Which building first?",
            Eligibility::AtLeast(Role::Member),
            Scope::Nation,
        ),
    );
    assert!(
        answer_to(&mut fay, id, GovernanceRequest::Open(id)).is_ok(),
        "the founder opens it"
    );
    wait_until(&mut [&mut mo, &mut vic], Duration::from_secs(3), |c| {
        c.iter().all(|c| {
            c.proposal(id)
                .is_some_and(|v| v.proposal.phase == Phase::Open)
        })
    });
    let digest = mo.proposal(id).expect("Mo sees it").proposal.digest;

    // A visitor is not eligible, whatever their ballot says.
    let outcome = answer_to(
        &mut vic,
        id,
        GovernanceRequest::Vote(ballot(&vic_key, id, &digest, Choice::Approval(vec![0]))),
    );
    assert!(
        matches!(outcome, Err(GovernanceRefusal::NotEligible { .. })),
        "{outcome:?}"
    );

    // A ballot that names an option the proposal does not have.
    let outcome = answer_to(
        &mut mo,
        id,
        GovernanceRequest::Vote(ballot(&mo_key, id, &digest, Choice::Approval(vec![0, 5]))),
    );
    assert!(
        matches!(outcome, Err(GovernanceRefusal::Shape(_))),
        "{outcome:?}"
    );
    // A ballot of another type.
    let outcome = answer_to(
        &mut mo,
        id,
        GovernanceRequest::Vote(ballot(
            &mo_key,
            id,
            &digest,
            Choice::YesNo(archipelago_shared::governance::tally::YesNo::Yes),
        )),
    );
    assert!(
        matches!(outcome, Err(GovernanceRefusal::Shape(_))),
        "{outcome:?}"
    );

    // A signature that does not match: one byte of it changed.
    let mut forged = ballot(&mo_key, id, &digest, Choice::Approval(vec![1]));
    forged.signature[7] ^= 0x40;
    let outcome = answer_to(&mut mo, id, GovernanceRequest::Vote(forged));
    assert!(
        matches!(outcome, Err(GovernanceRefusal::BadSignature)),
        "{outcome:?}"
    );

    // A ballot signed by someone else's key, sent over Mo's connection.
    let outcome = answer_to(
        &mut mo,
        id,
        GovernanceRequest::Vote(ballot(&vic_key, id, &digest, Choice::Approval(vec![1]))),
    );
    assert!(
        matches!(outcome, Err(GovernanceRefusal::NotYourKey)),
        "{outcome:?}"
    );

    // A good ballot is stored; the same bytes again (a client whose answer was lost with its
    // connection sends it once more) are acknowledged with the same receipt, stored once.
    let good = ballot(&mo_key, id, &digest, Choice::Approval(vec![0, 2]));
    let outcome = answer_to(&mut mo, id, GovernanceRequest::Vote(good.clone()));
    assert!(outcome.is_ok(), "a good ballot is stored: {outcome:?}");
    let receipt = mo.governance().my_ballots[&id].receipt.clone();
    pass_time(&mut [&mut mo], Duration::from_millis(700)); // the request budget refills
    let outcome = answer_to(&mut mo, id, GovernanceRequest::Vote(good.clone()));
    assert!(
        outcome.is_ok(),
        "the same ballot again is acknowledged: {outcome:?}"
    );
    assert_eq!(mo.governance().my_ballots[&id].receipt, receipt);
    pass_time(&mut [&mut mo], Duration::from_secs(1)); // counts go out every 200 ms
    assert_eq!(
        mo.proposal(id).map(|v| v.turnout),
        Some(1),
        "and counted once"
    );

    // A newer ballot (the same choice) replaces it; the older one sent again is a replay.
    pass_time(&mut [&mut mo], Duration::from_millis(700));
    let newer = ballot(&mo_key, id, &digest, Choice::Approval(vec![0, 2]));
    let outcome = answer_to(&mut mo, id, GovernanceRequest::Vote(newer));
    assert!(outcome.is_ok(), "a newer ballot is stored: {outcome:?}");
    pass_time(&mut [&mut mo], Duration::from_millis(700));
    let outcome = answer_to(&mut mo, id, GovernanceRequest::Vote(good));
    assert!(
        matches!(outcome, Err(GovernanceRefusal::Replayed { .. })),
        "{outcome:?}"
    );

    // A ballot signed for a different version of the proposal.
    let outcome = answer_to(
        &mut mo,
        id,
        GovernanceRequest::Vote(ballot(
            &mo_key,
            id,
            &"0".repeat(64),
            Choice::Approval(vec![1]),
        )),
    );
    assert!(
        matches!(outcome, Err(GovernanceRefusal::WrongDigest)),
        "{outcome:?}"
    );

    // None of that moved the count: one ballot, for the library and the clinic.
    let counted = wait_until(&mut [&mut fay], Duration::from_secs(3), |c| {
        c[0].proposal(id)
            .is_some_and(|v| v.turnout == 1 && v.tally.is_some_and(|t| t.counts == [1, 0, 1]))
    });
    assert!(
        counted,
        "only the good ballot counts: {:?}",
        fay.proposal(id)
    );

    // Landholders only: Mo holds no land in the capital.
    pass_time(&mut [&mut mo], Duration::from_millis(1000));
    let capital = archipelago_tests::world().protocities[0].id.clone();
    let land = create_proposal(
        &mut fay,
        draft(
            "Landholders decide the plaza",
            Eligibility::Landholders,
            Scope::Protocity(capital.clone()),
        ),
    );
    assert!(answer_to(&mut fay, land, GovernanceRequest::Open(land)).is_ok());
    wait_until(&mut [&mut mo], Duration::from_secs(3), |c| {
        c[0].proposal(land)
            .is_some_and(|v| v.proposal.phase == Phase::Open)
    });
    let land_digest = mo.proposal(land).expect("Mo sees it").proposal.digest;
    let outcome = answer_to(
        &mut mo,
        land,
        GovernanceRequest::Vote(ballot(
            &mo_key,
            land,
            &land_digest,
            Choice::Approval(vec![0]),
        )),
    );
    assert!(
        matches!(&outcome, Err(GovernanceRefusal::NotLandholder(p)) if *p == capital),
        "{outcome:?}"
    );

    // An unknown proposal (a member hears only that founders open proposals: the role is
    // checked first, before anything reaches the database), and a closed one.
    let outcome = answer_to(&mut mo, 9_999, GovernanceRequest::Open(9_999));
    assert!(
        matches!(
            outcome,
            Err(GovernanceRefusal::NotFounder(ProposalAct::Open))
        ),
        "{outcome:?}"
    );
    let outcome = answer_to(&mut fay, 9_999, GovernanceRequest::Open(9_999));
    assert!(
        matches!(outcome, Err(GovernanceRefusal::UnknownProposal(9_999))),
        "{outcome:?}"
    );
    assert!(answer_to(&mut fay, id, GovernanceRequest::Close(id)).is_ok());
    wait_until(&mut [&mut mo], Duration::from_secs(3), |c| {
        c[0].proposal(id)
            .is_some_and(|v| v.proposal.phase == Phase::Closed)
    });
    pass_time(&mut [&mut mo], Duration::from_millis(1000));
    let outcome = answer_to(
        &mut mo,
        id,
        GovernanceRequest::Vote(ballot(&mo_key, id, &digest, Choice::Approval(vec![1]))),
    );
    assert!(
        matches!(
            outcome,
            Err(GovernanceRefusal::WrongPhase {
                phase: Phase::Closed,
                ..
            })
        ),
        "{outcome:?}"
    );
    // A member cannot open or close proposals.
    let outcome = answer_to(&mut mo, land, GovernanceRequest::Close(land));
    assert!(
        matches!(
            outcome,
            Err(GovernanceRefusal::NotFounder(ProposalAct::Close))
        ),
        "{outcome:?}"
    );

    // The connections still work after all that: the server never dropped anyone.
    for client in [&mut fay, &mut mo, &mut vic] {
        assert_eq!(
            client.state(),
            archipelago_client::connection::ConnectionState::InWorld
        );
    }
}

#[test]
fn a_ballot_cast_on_one_deployment_is_refused_by_another_with_the_same_proposal() {
    let fay_key = ephemeral();
    let mo_key = ephemeral();
    // Two deployments of the same world data: the same founder and member on each, and the
    // same proposal, with the same number, on each.
    let servers = [SimServer::start(), SimServer::start()];
    let mut views = Vec::new();
    for server in &servers {
        server.register(&fay_key, "Fay", Role::Founder);
        server.register(&mo_key, "Mo", Role::Member);
        let mut fay = server.client("Fay", fay_key.clone());
        let mut mo = server.client("Mo", mo_key.clone());
        enter_world(&mut fay);
        enter_world(&mut mo);
        let id = create_proposal(
            &mut fay,
            draft(
                "Which building first",
                Eligibility::AtLeast(Role::Member),
                Scope::Nation,
            ),
        );
        assert!(answer_to(&mut fay, id, GovernanceRequest::Open(id)).is_ok());
        let open = wait_until(&mut [&mut mo], Duration::from_secs(3), |c| {
            c[0].proposal(id)
                .is_some_and(|v| v.proposal.phase == Phase::Open)
        });
        assert!(open, "Mo sees the proposal open");
        let digest = mo.proposal(id).expect("Mo sees it").proposal.digest;
        views.push((mo, id, digest));
    }
    let (first_id, first_digest) = (views[0].1, views[0].2.clone());
    assert_eq!(first_id, views[1].1, "the same number on both");
    assert_ne!(
        first_digest, views[1].2,
        "the same text on two deployments has two digests"
    );

    // Mo's ballot for the first deployment, replayed on the second, is refused there.
    let signed = ballot(&mo_key, first_id, &first_digest, Choice::Approval(vec![0]));
    let replayed = answer_to(
        &mut views[1].0,
        first_id,
        GovernanceRequest::Vote(signed.clone()),
    );
    assert!(
        matches!(replayed, Err(GovernanceRefusal::WrongDigest)),
        "a ballot from another deployment is refused: {replayed:?}"
    );
    let cast = answer_to(&mut views[0].0, first_id, GovernanceRequest::Vote(signed));
    assert!(cast.is_ok(), "where it was cast for, it counts: {cast:?}");
}
