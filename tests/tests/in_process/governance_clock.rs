//! Proposals on the clock, against a real SQLite file: a draft scheduled to open opens when
//! its time comes, closes at its announced time with the count of the ballots cast, and from
//! then on nothing changes it: no ballot, no second close, not even a raw UPDATE.

use archipelago_server::governance::storage::{CastBallot, GovernanceError};
use archipelago_server::storage::{DATABASE_FILE, Storage};
use archipelago_shared::clock::unix_seconds as unix_now;
use archipelago_shared::governance::tally::{Choice, Outcome, VoteType, YesNo};
use archipelago_shared::governance::{
    Ballot, Eligibility, GovernanceRefusal, Phase, PhaseAct, ProposalDraft, Scope,
};
use archipelago_shared::identity::to_hex;
use archipelago_shared::parcels::Actor;
use archipelago_shared::protocol::Role;
use ed25519_dalek::SigningKey;

fn key(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[i; 32])
}

fn cast(key: &SigningKey, proposal: u64, digest: &str, choice: YesNo) -> CastBallot {
    let ballot = Ballot {
        proposal,
        digest: digest.to_owned(),
        voter: [0; 32],
        sequence: 1,
        choice: Choice::YesNo(choice),
    };
    CastBallot::signed_by(key, ballot, "voter")
}

#[tokio::test]
async fn a_scheduled_proposal_opens_and_closes_by_the_clock_and_then_never_changes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = Storage::open(dir.path()).await.expect("database");
    let voters: Vec<SigningKey> = (1..=3).map(key).collect();
    let roll: Vec<(String, String)> = voters
        .iter()
        .enumerate()
        .map(|(i, k)| (to_hex(k.verifying_key().as_bytes()), format!("Voter {i}")))
        .collect();
    storage
        .enroll(&roll, Role::Member, "test")
        .await
        .expect("enrolled");

    let opens_at = unix_now() + 1;
    let draft = ProposalDraft {
        title: "Night market on Fridays".into(),
        body: String::new(),
        scope: Scope::Nation,
        eligibility: Eligibility::AtLeast(Role::Member),
        vote_type: VoteType::YesNo,
        options: Vec::new(),
        opens_at: Some(opens_at),
        voting_secs: 60,
        quorum: 2,
        threshold_percent: 50,
        live_tally: true,
    };
    let admin = Actor::admin();
    let created = storage
        .create_proposal(&admin, &draft, &[])
        .await
        .expect("created");
    assert_eq!(created.phase, Phase::Draft);

    // Not yet: nothing moves a second early.
    let early = storage
        .advance_proposals(opens_at - 1)
        .await
        .expect("clock");
    assert!(early.is_empty(), "nothing is due yet: {early:?}");

    // Its time: it opens, and closes one voting period later.
    let opened = storage.advance_proposals(opens_at).await.expect("clock");
    assert_eq!(opened.len(), 1);
    let opened = &opened[0];
    assert_eq!(opened.phase, Phase::Open);
    assert_eq!(opened.opened_at, Some(opens_at));
    let closes_at = opens_at + 60;
    assert_eq!(opened.closes_at, Some(closes_at));

    let results = storage
        .cast_ballots(&[
            cast(&voters[0], opened.id, &opened.digest, YesNo::Yes),
            cast(&voters[1], opened.id, &opened.digest, YesNo::Yes),
            cast(&voters[2], opened.id, &opened.digest, YesNo::No),
        ])
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    assert!(
        storage
            .advance_proposals(closes_at - 1)
            .await
            .expect("clock")
            .is_empty(),
        "still open a second before the end"
    );
    let closed = storage
        .advance_proposals(closes_at + 30)
        .await
        .expect("clock");
    assert_eq!(closed.len(), 1);
    let closed = closed[0].clone();
    assert_eq!(closed.phase, Phase::Closed);
    assert_eq!(
        closed.closed_at,
        Some(closes_at),
        "closed at the announced time, not when the clock noticed"
    );
    let result = closed.result.clone().expect("a result");
    assert_eq!(result.counts, vec![2, 1, 0]);
    assert_eq!(result.outcome, Outcome::Passed);

    // Final: a late ballot, a second close and a raw UPDATE are all refused.
    let late = storage
        .cast_ballots(&[cast(&voters[2], closed.id, &closed.digest, YesNo::Yes)])
        .await;
    let refusal = late[0].as_ref().expect_err("no ballot after closing");
    assert!(
        matches!(
            refusal,
            GovernanceError::Refused(
                GovernanceRefusal::WrongPhase {
                    phase: Phase::Closed,
                    ..
                } | GovernanceRefusal::VotingEnded(_)
            )
        ),
        "{refusal:?}"
    );
    let again = storage
        .close_proposal(&admin, closed.id)
        .await
        .expect_err("no second close");
    assert!(
        matches!(
            again,
            GovernanceError::Refused(GovernanceRefusal::WrongPhase {
                phase: Phase::Closed,
                action: PhaseAct::Closed,
                ..
            })
        ),
        "{again:?}"
    );

    let raw = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join(DATABASE_FILE).display()
    ))
    .await
    .expect("the file opens");
    let tampered = sqlx::query("UPDATE proposals SET result = NULL WHERE id = ?")
        .bind(closed.id as i64)
        .execute(&raw)
        .await;
    assert!(
        tampered
            .as_ref()
            .is_err_and(|e| e.to_string().contains("never changes")),
        "the database itself refuses: {tampered:?}"
    );
    raw.close().await;
    assert_eq!(
        storage.proposal(closed.id).await.expect("read"),
        closed,
        "the stored proposal is exactly as it closed"
    );
    storage.close().await;
}
