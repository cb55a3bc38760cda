//! Moderation over real QUIC against the server binary: a founder mutes, removes and bans;
//! a muted member's chat is refused until the mute is lifted, also after reconnecting and
//! after the server is killed and restarted; a banned member is kept out of the hall across
//! the restart too; founders cannot be silenced; and the moderation log lists every action
//! with who, whom, why and when.

use std::time::Duration;

use archipelago_client::assembly::AssemblyAnswers;
use archipelago_client::bots::bot_key;
use archipelago_client::chat::{ChatLog, SendChat};
use archipelago_shared::assembly::{
    AssemblyRefusal, AssemblyRequest, ModerationAction, SanctionKind,
};
use archipelago_shared::chat::{ChatRefusal, ChatTo};
use archipelago_shared::protocol::Role;
use archipelago_shared::world::Place;
use archipelago_tests::{
    ServerProcess, TestClient, enroll_with_cli, enter_hall, enter_world, server_cli, wait_until,
    world,
};
use ed25519_dalek::SigningKey;

fn say(client: &mut TestClient, text: &str) {
    client.app.world_mut().write_message(SendChat {
        to: ChatTo::Place,
        text: text.to_owned(),
    });
}

/// Says a line and waits until it comes back or is refused; returns the refusal.
fn try_to_say(client: &mut TestClient, text: &str) -> Option<ChatRefusal> {
    let refused_before = client.app.world().resource::<ChatLog>().refusals.len();
    say(client, text);
    let answered = wait_until(&mut [client], Duration::from_secs(3), |c| {
        let log = c[0].app.world().resource::<ChatLog>();
        log.refusals.len() > refused_before || log.lines.iter().any(|(_, l)| l.text == text)
    });
    assert!(answered, "a chat line is either heard or refused");
    let log = client.app.world().resource::<ChatLog>();
    log.refusals[refused_before..]
        .first()
        .map(|(_, r)| r.clone())
}

fn in_hall(client: &mut TestClient, hall: usize) -> bool {
    client
        .own_pose()
        .is_some_and(|p| world().place_at(p.position) == Place::Hall(hall))
}

/// The capital's id and the index of its town hall.
fn capital_hall() -> (String, usize) {
    let world = world();
    let capital = world.capital().id.clone();
    let hall = world
        .protocities
        .iter()
        .position(|p| p.id == capital)
        .expect("the capital");
    (capital, hall)
}

fn connect(server: &ServerProcess, name: &str, key: &SigningKey) -> TestClient {
    let mut client = TestClient::new(server.client_config(name, key.clone()));
    enter_world(&mut client);
    client
}

fn moderate(
    whom: &TestClient,
    hall: &str,
    action: ModerationAction,
    reason: &str,
) -> AssemblyRequest {
    AssemblyRequest::Moderate {
        protocity: hall.to_owned(),
        whom: whom.key_hex(),
        action,
        reason: reason.to_owned(),
    }
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
    assert_eq!(
        try_to_say(&mut bo, "hello, hall"),
        None,
        "Bo may speak at first"
    );

    // Founders cannot be silenced; members can.
    let untouchable = fay.ask(moderate(
        &fay,
        &capital,
        ModerationAction::Mute { minutes: None },
        "",
    ));
    assert!(
        untouchable
            .as_ref()
            .is_err_and(|r| matches!(r, AssemblyRefusal::Untouchable)),
        "{untouchable:?}"
    );
    let muted = fay.ask(moderate(
        &bo,
        &capital,
        ModerationAction::Mute { minutes: Some(30) },
        "shouting over the speaker",
    ));
    assert!(
        muted
            .as_ref()
            .is_ok_and(|a| a.contains("Bo is muted everywhere for 30 more minutes")),
        "the founder is told what was done: {muted:?}"
    );
    let refused = try_to_say(&mut bo, "let me finish");
    assert!(
        refused
            .as_ref()
            .is_some_and(|r| matches!(r, ChatRefusal::Muted(words)
                if words.contains(" for ") && words.contains("shouting"))),
        "a muted member's line is refused with how long and why: {refused:?}"
    );
    assert!(
        bo.session()
            .notices
            .iter()
            .any(|(_, n)| n.contains("muted") && n.contains("by Fay")),
        "Bo is told who muted them: {:?}",
        bo.session().notices
    );

    // Removing puts Cy outside the door, but Cy may come back; a ban keeps Cy out.
    let removed = fay.ask(moderate(
        &cy,
        &capital,
        ModerationAction::Remove,
        "blocking the aisle",
    ));
    assert!(removed.is_ok(), "{removed:?}");
    assert!(
        wait_until(&mut [&mut cy], Duration::from_secs(3), |c| !in_hall(
            c[0], hall
        )),
        "a removed member is put outside"
    );
    enter_hall(&mut [&mut cy], &capital);
    let banned = fay.ask(moderate(
        &cy,
        &capital,
        ModerationAction::Ban { minutes: Some(60) },
        "again",
    ));
    assert!(banned.is_ok(), "{banned:?}");
    assert!(
        wait_until(&mut [&mut cy], Duration::from_secs(3), |c| !in_hall(
            c[0], hall
        )),
        "a banned member is put outside"
    );
    let kept_out = |cy: &mut TestClient| {
        let notices_before = cy.session().notices.len();
        cy.request(archipelago_shared::protocol::ToServer::EnterHall {
            protocity: capital.clone(),
        });
        wait_until(&mut [cy], Duration::from_secs(5), |c| {
            c[0].session().notices[notices_before..]
                .iter()
                .any(|(_, n)| n.contains("you are banned from the"))
        }) && wait_until(&mut [cy], Duration::from_secs(3), |c| !in_hall(c[0], hall))
    };
    assert!(
        kept_out(&mut cy),
        "stepping back in, a banned member is put out again and told why"
    );

    // Reconnecting changes nothing.
    bo.disconnect();
    let mut bo = connect(&server, "Bo", &bo_key);
    let refused = try_to_say(&mut bo, "I am back");
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
    let refused = try_to_say(&mut bo, "after the restart");
    assert!(
        matches!(refused, Some(ChatRefusal::Muted(_))),
        "still muted after a restart: {refused:?}"
    );
    assert!(kept_out(&mut cy), "still banned after a restart");

    // Lifting the mute lets Bo speak again.
    enter_hall(&mut [&mut fay, &mut bo], &capital);
    let lifted = fay.ask(moderate(
        &bo,
        &capital,
        ModerationAction::Unmute,
        "apologised",
    ));
    assert!(
        lifted.as_ref().is_ok_and(|a| a.contains("may speak again")),
        "{lifted:?}"
    );
    assert_eq!(
        try_to_say(&mut bo, "thank you"),
        None,
        "Bo speaks again once unmuted"
    );
    let twice = fay.ask(moderate(&bo, &capital, ModerationAction::Unmute, ""));
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

#[test]
fn a_chairs_mute_holds_in_their_hall_and_nobody_undoes_a_founders_sanction() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (fay_key, cal_key, bo_key, cy_key) =
        (bot_key(6, 0), bot_key(6, 1), bot_key(6, 2), bot_key(6, 3));
    enroll_with_cli(&data, &[(&fay_key, "Fay")], "founder");
    enroll_with_cli(
        &data,
        &[(&cal_key, "Cal"), (&bo_key, "Bo"), (&cy_key, "Cy")],
        "member",
    );
    let (capital, hall) = capital_hall();

    let server = ServerProcess::start(&data);
    let mut fay = connect(&server, "Fay", &fay_key);
    let mut cal = connect(&server, "Cal", &cal_key);
    let mut bo = connect(&server, "Bo", &bo_key);
    let mut cy = connect(&server, "Cy", &cy_key);
    // Fay opens a session with Cal, a member, in the chair.
    let opened = fay.ask(AssemblyRequest::Open {
        protocity: capital.clone(),
        title: "Harbour assembly".into(),
        agenda: vec![archipelago_shared::assembly::AgendaItem {
            title: "The harbour".into(),
            proposal: None,
        }],
        chair: Some(cal.key_hex()),
        capacity: None,
    });
    assert!(opened.is_ok(), "{opened:?}");
    enter_hall(&mut [&mut cal, &mut bo, &mut cy], &capital);

    // The chair's mute holds in the hall only.
    let muted = cal.ask(moderate(
        &bo,
        &capital,
        ModerationAction::Mute { minutes: Some(10) },
        "off topic",
    ));
    assert!(
        muted
            .as_ref()
            .is_ok_and(|a| a.contains("Bo is muted in the") && a.contains("town hall")),
        "{muted:?}"
    );
    assert!(
        try_to_say(&mut bo, "in the hall").is_some_and(|r| matches!(r, ChatRefusal::Muted(_))),
        "Bo is muted in the hall"
    );
    bo.request(archipelago_shared::protocol::ToServer::Teleport {
        protocity: capital.clone(),
    });
    let outside = wait_until(&mut [&mut bo], Duration::from_secs(10), |c| {
        !in_hall(c[0], hall)
    });
    assert!(outside, "Bo steps out onto the grounds");
    assert_eq!(
        try_to_say(&mut bo, "on the grounds"),
        None,
        "the chair's mute does not follow Bo out of the hall"
    );

    // A founder's mute holds everywhere, and the chair may not lift or shorten it.
    let muted = fay.ask(moderate(
        &cy,
        &capital,
        ModerationAction::Mute { minutes: None },
        "disruption",
    ));
    assert!(
        muted
            .as_ref()
            .is_ok_and(|a| a.contains("Cy is muted everywhere")),
        "{muted:?}"
    );
    let lifted = cal.ask(moderate(&cy, &capital, ModerationAction::Unmute, ""));
    assert!(
        lifted.as_ref().is_err_and(|r| matches!(
            r,
            AssemblyRefusal::Outranked {
                kind: SanctionKind::Mute,
                by: Role::Founder,
                ..
            }
        )),
        "the chair cannot lift a founder's mute: {lifted:?}"
    );
    assert!(
        try_to_say(&mut cy, "am I back?").is_some_and(|r| matches!(r, ChatRefusal::Muted(_))),
        "Cy stays muted"
    );
    // Nor shorten a founder's ban.
    let banned = fay.ask(moderate(
        &cy,
        &capital,
        ModerationAction::Ban { minutes: None },
        "disruption",
    ));
    assert!(banned.is_ok(), "{banned:?}");
    let shortened = cal.ask(moderate(
        &cy,
        &capital,
        ModerationAction::Ban { minutes: Some(1) },
        "",
    ));
    assert!(
        shortened.as_ref().is_err_and(|r| matches!(
            r,
            AssemblyRefusal::Outranked {
                kind: SanctionKind::Ban,
                by: Role::Founder,
                ..
            }
        )),
        "the chair cannot shorten a founder's ban: {shortened:?}"
    );
    // The founder can lift what a founder set.
    let lifted = fay.ask(moderate(&cy, &capital, ModerationAction::Unmute, ""));
    assert!(lifted.is_ok(), "{lifted:?}");
    assert_eq!(try_to_say(&mut cy, "thank you"), None, "Cy may speak again");
}
