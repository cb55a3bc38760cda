//! Moderation over real QUIC against the server binary: a founder mutes, removes and bans;
//! a muted member's chat is refused until the mute is lifted, also after reconnecting and
//! after the server is killed and restarted; a banned member is kept out of the hall across
//! the restart too; founders cannot be silenced; and the moderation log lists every action
//! with who, whom, why and when.

use std::time::Duration;

use archipelago_client::assembly::AssemblyAnswers;
use archipelago_client::bots::bot_key;
use archipelago_shared::assembly::{
    AssemblyNews, AssemblyRefusal, AssemblyRequest, ModerationAction, SanctionKind,
};
use archipelago_shared::chat::ChatRefusal;
use archipelago_shared::world::Place;
use archipelago_tests::{
    ServerProcess, TestClient, capital_hall, enroll_with_cli, enter_hall, enter_world, server_cli,
    wait_until,
};
use ed25519_dalek::SigningKey;

fn connect(server: &ServerProcess, name: &str, key: &SigningKey) -> TestClient {
    let mut client = TestClient::new(server.client_config(name, key.clone()));
    enter_world(&mut client);
    client
}

#[test]
fn mutes_and_bans_hold_across_reconnects_and_restarts_and_are_logged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (fay_key, bo_key, cy_key) = (bot_key(5, 0), bot_key(5, 1), bot_key(5, 2));
    enroll_with_cli(&data, &[(&fay_key, "Fay")], "founder");
    enroll_with_cli(&data, &[(&bo_key, "Bo"), (&cy_key, "Cy")], "member");
    let (capital, hall) = capital_hall();

    let server = ServerProcess::start(&data);
    let mut fay = connect(&server, "Fay", &fay_key);
    let mut bo = connect(&server, "Bo", &bo_key);
    let mut cy = connect(&server, "Cy", &cy_key);
    enter_hall(&mut [&mut fay, &mut bo, &mut cy], &capital);
    assert_eq!(bo.try_to_say("hello, hall"), None, "Bo may speak at first");

    // Founders cannot be silenced; members can.
    let untouchable =
        fay.ask(fay.moderation(&capital, ModerationAction::Mute { minutes: None }, ""));
    assert!(
        untouchable
            .as_ref()
            .is_err_and(|r| matches!(r, AssemblyRefusal::Untouchable)),
        "{untouchable:?}"
    );
    let muted = fay.ask(bo.moderation(
        &capital,
        ModerationAction::Mute { minutes: Some(30) },
        "shouting over the speaker",
    ));
    assert!(muted.is_ok(), "the founder is told it was done: {muted:?}");
    let refused = bo.try_to_say("let me finish");
    assert!(
        refused
            .as_ref()
            .is_some_and(|r| matches!(r, ChatRefusal::Muted(terms)
            if terms.reason == "shouting over the speaker"
                && terms.until.is_some_and(|until| {
                    (until - archipelago_shared::clock::unix_seconds() - 30 * 60).abs() <= 60
                }))),
        "a muted member's line is refused with how long and why: {refused:?}"
    );
    assert!(
        bo.told()
            .iter()
            .any(|news| matches!(news, AssemblyNews::Sanctioned(record)
            if record.action == "mute" && record.actor == "Fay")),
        "Bo is told who muted them: {:?}",
        bo.told()
    );

    // Removing puts Cy outside the door, but Cy may come back; a ban keeps Cy out.
    let removed = fay.ask(cy.moderation(&capital, ModerationAction::Remove, "blocking the aisle"));
    assert!(removed.is_ok(), "{removed:?}");
    assert!(
        wait_until(&mut [&mut cy], Duration::from_secs(3), |c| !c[0]
            .stands_in(Place::Hall(hall))),
        "a removed member is put outside"
    );
    enter_hall(&mut [&mut cy], &capital);
    let banned = fay.ask(cy.moderation(
        &capital,
        ModerationAction::Ban { minutes: Some(60) },
        "again",
    ));
    assert!(banned.is_ok(), "{banned:?}");
    assert!(
        wait_until(&mut [&mut cy], Duration::from_secs(3), |c| !c[0]
            .stands_in(Place::Hall(hall))),
        "a banned member is put outside"
    );
    let kept_out = |cy: &mut TestClient| {
        let told_before = cy.told().len();
        cy.request(archipelago_shared::protocol::ToServer::EnterHall {
            protocity: capital.clone(),
        });
        wait_until(&mut [cy], Duration::from_secs(5), |c| {
            c[0].told()[told_before..].iter().any(|news| {
                matches!(news, AssemblyNews::KeptOut { protocity, .. } if *protocity == capital)
            })
        }) && wait_until(&mut [cy], Duration::from_secs(3), |c| {
            !c[0].stands_in(Place::Hall(hall))
        })
    };
    assert!(
        kept_out(&mut cy),
        "stepping back in, a banned member is put out again and told why"
    );

    // Reconnecting changes nothing.
    bo.disconnect();
    let mut bo = connect(&server, "Bo", &bo_key);
    let refused = bo.try_to_say("I am back");
    assert!(
        matches!(refused, Some(ChatRefusal::Muted(_))),
        "still muted after reconnecting: {refused:?}"
    );

    // Nor does a crash: kill the server, start it again on the same data.
    fay.disconnect();
    bo.disconnect();
    cy.disconnect();
    server.kill();
    let server = ServerProcess::start(&data);
    let mut fay = connect(&server, "Fay", &fay_key);
    let mut bo = connect(&server, "Bo", &bo_key);
    let mut cy = connect(&server, "Cy", &cy_key);
    let refused = bo.try_to_say("after the restart");
    assert!(
        matches!(refused, Some(ChatRefusal::Muted(_))),
        "still muted after a restart: {refused:?}"
    );
    assert!(kept_out(&mut cy), "still banned after a restart");

    // Lifting the mute lets Bo speak again.
    enter_hall(&mut [&mut fay, &mut bo], &capital);
    let lifted = fay.ask(bo.moderation(&capital, ModerationAction::Unmute, "apologised"));
    assert!(lifted.is_ok(), "{lifted:?}");
    assert_eq!(
        bo.try_to_say("thank you"),
        None,
        "Bo speaks again once unmuted"
    );
    let twice = fay.ask(bo.moderation(&capital, ModerationAction::Unmute, ""));
    assert!(
        twice.as_ref().is_err_and(|r| matches!(
            r,
            AssemblyRefusal::NotSanctioned {
                kind: SanctionKind::Mute,
                ..
            }
        )),
        "lifting a mute that is not there is refused: {twice:?}"
    );

    // Founders read the log in the client too; members do not.
    let before = fay.assembly_answers().len();
    fay.assembly(AssemblyRequest::ModerationLog);
    let read = wait_until(&mut [&mut fay], Duration::from_secs(3), |c| {
        c[0].app
            .world()
            .resource::<AssemblyAnswers>()
            .moderation_log
            .as_ref()
            .is_some_and(|lines| lines.len() == 4)
    });
    assert!(
        read,
        "the founder's client receives the four lines of the log"
    );
    assert_eq!(fay.assembly_answers().len(), before, "with no refusal");
    let refused = bo.ask(AssemblyRequest::ModerationLog);
    assert!(
        refused
            .as_ref()
            .is_err_and(|r| matches!(r, AssemblyRefusal::LogForFounders)),
        "{refused:?}"
    );

    // The log: every action, in order, with who, whom, why and when.
    let log = server_cli(&data, &["admin", "moderation", "log", "--json"], None);
    let log: serde_json::Value = serde_json::from_str(&log).expect("the log is JSON");
    let actions: Vec<(String, String, String, String)> = log
        .as_array()
        .expect("a list")
        .iter()
        .map(|l| {
            let field = |name: &str| l[name].as_str().unwrap_or_default().to_owned();
            (
                field("actor"),
                field("action"),
                field("subject"),
                field("reason"),
            )
        })
        .collect();
    let expected = [
        ("Fay", "mute", "Bo", "shouting over the speaker"),
        ("Fay", "remove", "Cy", "blocking the aisle"),
        ("Fay", "ban", "Cy", "again"),
        ("Fay", "unmute", "Bo", "apologised"),
    ];
    let expected: Vec<(String, String, String, String)> = expected
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(actions, expected, "the moderation log lists every action");
    assert!(
        log.as_array()
            .expect("a list")
            .iter()
            .all(|l| l["at"].as_i64().is_some_and(|at| at > 1_700_000_000)),
        "every action has its time"
    );
    server.kill();
}
