//! SIGTERM stops the server without losing anything. Members stream ballots; in the middle the
//! server gets SIGTERM. Every ballot sent before the signal is either acknowledged and stored
//! or refused with the reason, none is silently lost; the open session's minutes end with the
//! shutdown; the process exits 0.

use std::time::Duration;

use archipelago_client::bots::bot_key;
use archipelago_client::governance::Governance;
use archipelago_server::storage::Storage;
use archipelago_shared::assembly::{AgendaItem, AssemblyRequest};
use archipelago_shared::governance::tally::{Choice, YesNo};
use archipelago_shared::governance::{Proposal, ProposalId};
use archipelago_shared::identity::to_hex;
use archipelago_tests::{
    ServerProcess, TestClient, enter_world, enter_world_together, server_cli, wait_until,
};

const VOTERS: usize = 6;
const PROPOSALS: usize = 6;
/// The round of ballots after which the signal comes.
const SIGNAL_AFTER: usize = 3;

fn open_proposal(data: &std::path::Path, title: &str) -> ProposalId {
    let created = server_cli(
        data,
        &[
            "admin",
            "proposal",
            "create",
            "--json",
            "--title",
            title,
            "--type",
            "yes-no",
            "--quorum",
            "1",
            "--minutes",
            "30",
            "--open",
        ],
        None,
    );
    let proposal: Proposal = serde_json::from_str(&created).expect("the CLI prints the proposal");
    proposal.id
}

#[test]
fn sigterm_during_a_ballot_stream_loses_no_ballot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let keys: Vec<_> = (0..=VOTERS).map(|i| bot_key(91, i)).collect();
    let roll: String = keys[1..]
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{} Voter{i}\n", to_hex(k.verifying_key().as_bytes())))
        .collect();
    server_cli(&data, &["admin", "enroll", "-"], Some(&roll));
    server_cli(
        &data,
        &["admin", "enroll", "-", "--role", "founder"],
        Some(&format!(
            "{} Fay\n",
            to_hex(keys[0].verifying_key().as_bytes())
        )),
    );
    let ids: Vec<ProposalId> = (0..PROPOSALS)
        .map(|i| open_proposal(&data, &format!("Harbour question {i}")))
        .collect();

    let mut server = ServerProcess::start(&data);
    let mut fay = TestClient::new(server.client_config("Fay", keys[0].clone()));
    enter_world(&mut fay);
    let opened = fay.ask(AssemblyRequest::Open {
        protocity: "meridian".into(),
        title: "Harbour assembly".into(),
        agenda: vec![AgendaItem {
            title: "Questions".into(),
            proposal: None,
        }],
        chair: None,
        capacity: None,
    });
    assert!(opened.is_ok(), "Fay opens a session: {opened:?}");

    let mut voters: Vec<TestClient> = keys[1..]
        .iter()
        .enumerate()
        .map(|(i, key)| TestClient::new(server.client_config(&format!("Voter{i}"), key.clone())))
        .collect();
    enter_world_together(&mut voters.iter_mut().collect::<Vec<_>>());
    let loaded = wait_until(
        &mut voters.iter_mut().collect::<Vec<_>>(),
        Duration::from_secs(10),
        |c| {
            c.iter()
                .all(|c| ids.iter().all(|id| c.proposal(*id).is_some()))
        },
    );
    assert!(loaded, "every voter sees every open proposal");

    // Rounds of ballots, one proposal a round, a third of a second apart (inside the
    // governance allowance); the signal comes right after round SIGNAL_AFTER is sent.
    for (round, id) in ids.iter().enumerate() {
        for (i, voter) in voters.iter_mut().enumerate() {
            let choice = if (i + round) % 2 == 0 {
                YesNo::Yes
            } else {
                YesNo::No
            };
            voter.vote(*id, Choice::YesNo(choice));
        }
        // A few frames, so the ballots are on the wire before the signal.
        for _ in 0..3 {
            for voter in voters.iter_mut() {
                voter.app.update();
            }
            std::thread::sleep(Duration::from_millis(16));
        }
        if round == SIGNAL_AFTER {
            server.terminate();
            break;
        }
        wait_until(
            &mut voters.iter_mut().collect::<Vec<_>>(),
            Duration::from_millis(350),
            |_| false,
        );
    }
    let mut everyone: Vec<&mut TestClient> = voters.iter_mut().collect();
    everyone.push(&mut fay);
    let status = server
        .wait_for_exit(&mut everyone, Duration::from_secs(30))
        .expect("the server stops after SIGTERM");
    assert!(
        status.success(),
        "SIGTERM ends the server with success: {status}"
    );

    // Every ballot sent before the signal has its answer: stored, or refused with a reason.
    let sent = &ids[..=SIGNAL_AFTER];
    let mut acknowledged = vec![Vec::new(); VOTERS];
    for (i, voter) in voters.iter().enumerate() {
        let book = voter.app.world().resource::<Governance>();
        for id in sent {
            let stored = book.my_ballots.contains_key(id);
            let refused = book
                .answers
                .iter()
                .any(|(_, proposal, outcome)| *proposal == Some(*id) && outcome.is_err());
            assert!(
                stored || refused,
                "voter {i}'s ballot on proposal {id} was answered: {:?}",
                book.answers
            );
            if stored {
                acknowledged[i].push(*id);
            }
        }
    }
    assert!(
        acknowledged.iter().all(|a| !a.is_empty()),
        "ballots sent well before the signal were stored: {acknowledged:?}"
    );

    // What was acknowledged is on disk, and nothing else.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (stored, minutes) = runtime.block_on(async {
        let storage = Storage::open(&data).await.expect("the database opens");
        let mut stored = Vec::new();
        for key in &keys[1..] {
            let mine = storage
                .my_ballots(&to_hex(key.verifying_key().as_bytes()))
                .await
                .expect("ballots read");
            let mut ids: Vec<ProposalId> = mine.iter().map(|r| r.proposal).collect();
            ids.sort_unstable();
            stored.push(ids);
        }
        let sessions = storage.sessions().await.expect("sessions read");
        let session = sessions.last().expect("Fay's session is recorded");
        assert!(session.closed_at.is_some(), "the session was closed");
        let minutes = storage.minutes(session.id).await.expect("minutes read");
        storage.close().await;
        (stored, minutes)
    });
    for (i, (stored, acknowledged)) in stored.iter().zip(&acknowledged).enumerate() {
        assert_eq!(
            stored, acknowledged,
            "voter {i}: the stored ballots are exactly the acknowledged ones"
        );
    }
    let last = minutes.entries.last().expect("the minutes have lines");
    assert_eq!(last.kind, "closed");
    assert!(
        last.detail.contains("the server shut down"),
        "the minutes end with the shutdown: {:?}",
        last.detail
    );
}
