//! Ballots survive a crash: the server binary runs as its own process, members vote, and the
//! moment every ballot is acknowledged the process is killed with SIGKILL. Every acknowledged
//! ballot is in the database afterwards, the restarted server gives each member their receipt
//! back, and the admin CLI closes, exports and verifies the vote.

use std::time::Duration;

use archipelago_client::bots::bot_key;
use archipelago_client::governance::Governance;
use archipelago_server::storage::Storage;
use archipelago_shared::governance::tally::Choice;
use archipelago_shared::governance::{Phase, Proposal};
use archipelago_shared::identity::to_hex;
use archipelago_tests::{ServerProcess, TestClient, enter_world, server_cli, wait_until};

const VOTERS: usize = 6;

#[test]
fn acknowledged_ballots_survive_a_killed_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");

    // The founders' tools, before the server runs: enroll members, write and open a vote.
    let keys: Vec<_> = (0..VOTERS).map(|i| bot_key(77, i)).collect();
    let roll: String = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{} Voter{i}\n", to_hex(k.verifying_key().as_bytes())))
        .collect();
    let enrolled = server_cli(&data, &["admin", "enroll", "-", "--json"], Some(&roll));
    assert!(
        enrolled.contains(&format!("\"enrolled\":{VOTERS}")),
        "{enrolled}"
    );
    let created = server_cli(
        &data,
        &[
            "admin",
            "proposal",
            "create",
            "--json",
            "--title",
            "Adopt the night market charter",
            "--type",
            "yes-no",
            "--quorum",
            "3",
            "--minutes",
            "30",
            "--open",
        ],
        None,
    );
    let proposal: Proposal = serde_json::from_str(&created).expect("the CLI prints the proposal");
    assert_eq!(proposal.phase, Phase::Open);
    let id = proposal.id;

    let server = ServerProcess::start(&data);
    let mut voters: Vec<TestClient> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| TestClient::new(server.client_config(&format!("Voter{i}"), key.clone())))
        .collect();
    for voter in &mut voters {
        enter_world(voter);
    }
    let loaded = wait_until(
        &mut voters.iter_mut().collect::<Vec<_>>(),
        Duration::from_secs(5),
        |c| c.iter().all(|c| c.proposal(id).is_some()),
    );
    assert!(loaded, "every voter sees the open proposal");

    // Everyone votes at once; we wait only for the acknowledgements, then pull the plug.
    use archipelago_shared::governance::tally::YesNo;
    let choices: Vec<YesNo> = (0..VOTERS)
        .map(|i| [YesNo::Yes, YesNo::No, YesNo::Yes, YesNo::Abstain][i % 4])
        .collect();
    for (voter, choice) in voters.iter_mut().zip(&choices) {
        voter.vote(id, Choice::YesNo(*choice));
    }
    let acked = wait_until(
        &mut voters.iter_mut().collect::<Vec<_>>(),
        Duration::from_secs(10),
        |c| {
            c.iter()
                .all(|c| c.governance().my_ballots.contains_key(&id))
        },
    );
    assert!(acked, "every ballot is acknowledged");
    server.kill();
    let receipts: Vec<String> = voters
        .iter()
        .map(|v| v.governance().my_ballots[&id].receipt.clone())
        .collect();

    // Every acknowledged ballot is stored, with the receipt its voter holds.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let stored = runtime.block_on(async {
        let storage = Storage::open(&data)
            .await
            .expect("the database opens after the crash");
        let mut stored = Vec::new();
        for key in &keys {
            let mine = storage
                .my_ballots(&to_hex(key.verifying_key().as_bytes()))
                .await
                .expect("ballots read");
            stored.push(mine);
        }
        storage.close().await;
        stored
    });
    for (i, mine) in stored.iter().enumerate() {
        assert_eq!(mine.len(), 1, "voter {i} has exactly one stored ballot");
        assert_eq!(mine[0].receipt, receipts[i], "voter {i}'s receipt matches");
        assert_eq!(mine[0].choice, Choice::YesNo(choices[i]));
    }

    // A restarted server hands each member their ballot and receipt back.
    for voter in voters {
        drop(voter);
    }
    let server = ServerProcess::start(&data);
    let mut again = TestClient::new(server.client_config("Voter0", keys[0].clone()));
    enter_world(&mut again);
    let restored = wait_until(&mut [&mut again], Duration::from_secs(5), |c| {
        c[0].app
            .world()
            .resource::<Governance>()
            .my_ballots
            .get(&id)
            .is_some_and(|r| r.receipt == receipts[0])
    });
    assert!(
        restored,
        "the member sees their counted ballot after the restart"
    );
    let counted = again.proposal(id).expect("the proposal survives");
    assert_eq!(counted.turnout, VOTERS as u32, "every ballot counts");
    again.disconnect();
    server.kill();

    // The CLI closes, exports and verifies: the recount matches.
    server_cli(
        &data,
        &["admin", "proposal", "close", &id.to_string()],
        None,
    );
    let file = dir.path().join("export.json");
    server_cli(
        &data,
        &[
            "admin",
            "proposal",
            "export",
            &id.to_string(),
            "--out",
            file.to_str().expect("UTF-8 path"),
        ],
        None,
    );
    let verdict = server_cli(
        &data,
        &["verify", file.to_str().expect("UTF-8 path"), "--json"],
        None,
    );
    let verdict: serde_json::Value = serde_json::from_str(&verdict).expect("verify prints JSON");
    assert_eq!(verdict["matches"], true, "{verdict}");
    assert_eq!(verdict["report"]["ballots"], VOTERS);

    // A tampered export fails verification, with a non-zero exit.
    let text = std::fs::read_to_string(&file).expect("export");
    let tampered = text.replacen("\"No\"", "\"Yes\"", 1);
    assert_ne!(text, tampered, "the export names each choice");
    std::fs::write(&file, tampered).expect("write");
    let status = std::process::Command::new(archipelago_tests::server_binary())
        .arg("verify")
        .arg(&file)
        .output()
        .expect("verify runs");
    assert!(!status.status.success(), "a tampered export is rejected");
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("problem"),
        "verify says what is wrong: {}",
        String::from_utf8_lossy(&status.stdout)
    );
}
