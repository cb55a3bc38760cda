//! A session in a town hall, start to finish: a founder opens it with an
//! agenda and names a member chair; attendees raise hands; the chair gives the floor, which
//! runs out or is yielded, moves through the agenda and opens the linked proposal's vote
//! from the stage; everyone inside sees each step within a second; out-of-role requests are
//! refused; and the minutes printed by `admin session minutes` list every attendee and
//! every step in order.

use std::time::Duration;

use archipelago_shared::assembly::{
    AgendaItem, AssemblyRefusal, AssemblyRequest, ChairAct, HallSession, ModerationAction,
};
use archipelago_shared::governance::tally::{Choice, YesNo};
use archipelago_shared::governance::{GovernanceRequest, Phase};
use archipelago_shared::protocol::{Role, ToServer};
use archipelago_tests::sim::SimServer;
use archipelago_tests::{
    TestClient, create_proposal, enter_hall, enter_world_together, server_cli, wait_until, world,
    yes_no_draft,
};

/// Each step must reach every attendee within this long.
const SEEN_WITHIN: Duration = Duration::from_secs(1);

/// Waits until every client's copy of the hall's session satisfies `check`.
fn all_see(
    clients: &mut [&mut TestClient],
    hall: &str,
    within: Duration,
    check: impl Fn(Option<&HallSession>) -> bool,
) -> bool {
    wait_until(clients, within, |c| {
        c.iter_mut()
            .all(|client| check(client.hall_session(hall).as_ref()))
    })
}

fn queue_names(session: Option<&HallSession>) -> Vec<String> {
    session.map_or_else(Vec::new, |s| {
        s.queue.iter().map(|p| p.name.clone()).collect()
    })
}

fn speaker(session: Option<&HallSession>) -> Option<String> {
    session?.floor.as_ref().map(|f| f.speaker.name.clone())
}

#[test]
fn a_chair_runs_the_agenda_with_a_queue_and_a_timed_floor_and_the_minutes_record_it() {
    let server = SimServer::start();
    let clock = server.clock();
    let hall = world().capital().id.clone();
    let other_hall = world()
        .protocities
        .iter()
        .find(|p| p.id != hall)
        .expect("a second protocity")
        .id
        .clone();
    let mut fay = server.join("Fay", Some(Role::Founder));
    let mut ada = server.join("Ada", Some(Role::Member));
    let mut bo = server.join("Bo", Some(Role::Member));
    let mut cy = server.join("Cy", Some(Role::Member));
    let mut vic = server.join("Vic", None);
    enter_world_together(&mut [&mut fay, &mut ada, &mut bo, &mut cy, &mut vic]);
    let charter = create_proposal(&mut fay, yes_no_draft("Adopt the harbour charter"));
    enter_hall(&mut [&mut fay, &mut ada, &mut bo, &mut cy, &mut vic], &hall);

    // Only founders open sessions.
    let agenda = vec![
        AgendaItem {
            title: "Welcome".into(),
            proposal: None,
        },
        AgendaItem {
            title: "The harbour charter".into(),
            proposal: Some(charter),
        },
        AgendaItem {
            title: "Any other business".into(),
            proposal: None,
        },
    ];
    let open = AssemblyRequest::Open {
        protocity: hall.clone(),
        title: "Spring assembly".into(),
        agenda: agenda.clone(),
        chair: Some(ada.key_hex()),
        capacity: None,
    };
    let refused = vic.ask(open.clone());
    assert!(
        refused
            .as_ref()
            .is_err_and(|r| matches!(r, AssemblyRefusal::NotFounder)),
        "a visitor cannot open a session: {refused:?}"
    );
    let opened = fay.ask(open.clone());
    assert!(opened.is_ok(), "the founder opens the session: {opened:?}");
    let again = fay.ask(open);
    assert!(
        again
            .as_ref()
            .is_err_and(|r| matches!(r, AssemblyRefusal::AlreadyOpen(_))),
        "one session per hall: {again:?}"
    );
    let mut everyone = [&mut fay, &mut ada, &mut bo, &mut cy, &mut vic];
    assert!(
        all_see(&mut everyone, &hall, SEEN_WITHIN, |s| s.is_some_and(|s| {
            s.title == "Spring assembly" && s.chair.name == "Ada" && s.current == 0
        })),
        "everyone in the hall sees the session, chaired by Ada, on its first item"
    );

    // Hands go up in order; a second hand, a visitor's hand and a member's floor are refused.
    let bo_hand = everyone[2].ask(AssemblyRequest::RaiseHand);
    assert!(bo_hand.is_ok(), "{bo_hand:?}");
    let cy_hand = everyone[3].ask(AssemblyRequest::RaiseHand);
    assert!(cy_hand.is_ok(), "{cy_hand:?}");
    assert!(
        all_see(&mut everyone, &hall, SEEN_WITHIN, |s| queue_names(s)
            == ["Bo", "Cy"]),
        "everyone sees the queue Bo, Cy"
    );
    let twice = everyone[2].ask(AssemblyRequest::RaiseHand);
    assert!(
        twice
            .as_ref()
            .is_err_and(|r| matches!(r, AssemblyRefusal::AlreadyQueued(_))),
        "{twice:?}"
    );
    let visitor = everyone[4].ask(AssemblyRequest::RaiseHand);
    assert!(
        visitor
            .as_ref()
            .is_err_and(|r| matches!(r, AssemblyRefusal::VisitorsListen)),
        "{visitor:?}"
    );
    let usurp = everyone[2].ask(AssemblyRequest::GiveFloor {
        protocity: hall.clone(),
        to: None,
        seconds: 60,
    });
    assert!(
        usurp
            .as_ref()
            .is_err_and(|r| matches!(r, AssemblyRefusal::NotChair(ChairAct::GiveFloor))),
        "a member who is not the chair cannot give the floor: {usurp:?}"
    );

    // The chair gives the floor to the first in the queue; it runs out by itself.
    let given = everyone[1].ask(AssemblyRequest::GiveFloor {
        protocity: hall.clone(),
        to: None,
        seconds: 10,
    });
    assert!(given.is_ok(), "the chair gives the floor: {given:?}");
    let given_at = clock.unix_millis();
    assert!(
        all_see(&mut everyone, &hall, SEEN_WITHIN, |s| {
            speaker(s).as_deref() == Some("Bo") && queue_names(s) == ["Cy"]
        }),
        "everyone sees Bo speaking and Cy waiting"
    );
    let countdown = everyone[4]
        .hall_session(&hall)
        .and_then(|s| s.seconds_left(clock.unix_millis()));
    assert!(
        countdown.is_some_and(|left| (8..=10).contains(&left)),
        "the countdown shows about ten seconds: {countdown:?}"
    );
    assert!(
        all_see(&mut everyone, &hall, Duration::from_secs(12), |s| {
            s.is_some_and(|s| s.floor.is_none())
        }),
        "the floor runs out for everyone"
    );
    assert!(
        clock.unix_millis() - given_at >= 9_000,
        "the floor lasted its ten seconds, not less: {} ms",
        clock.unix_millis() - given_at
    );

    // The chair gives the floor to Cy by key; Cy yields it.
    let cy_key = everyone[3].key_hex();
    let given = everyone[1].ask(AssemblyRequest::GiveFloor {
        protocity: hall.clone(),
        to: Some(cy_key),
        seconds: 60,
    });
    assert!(given.is_ok(), "{given:?}");
    assert!(
        all_see(&mut everyone, &hall, SEEN_WITHIN, |s| {
            speaker(s).as_deref() == Some("Cy") && queue_names(s).is_empty()
        }),
        "everyone sees Cy speaking"
    );
    let yielded = everyone[3].ask(AssemblyRequest::EndFloor {
        protocity: hall.clone(),
    });
    assert!(yielded.is_ok(), "the speaker yields: {yielded:?}");
    assert!(
        all_see(&mut everyone, &hall, SEEN_WITHIN, |s| s
            .is_some_and(|s| s.floor.is_none())),
        "everyone sees the floor free again"
    );

    // The chair moves to the charter and opens its vote from the stage.
    let early = everyone[1].ask(AssemblyRequest::OpenVote {
        protocity: hall.clone(),
    });
    assert!(
        early
            .as_ref()
            .is_err_and(|r| matches!(r, AssemblyRefusal::NoProposal)),
        "the welcome has nothing to vote on: {early:?}"
    );
    let moved = everyone[1].ask(AssemblyRequest::Agenda {
        protocity: hall.clone(),
        item: 1,
    });
    assert!(moved.is_ok(), "{moved:?}");
    assert!(
        all_see(&mut everyone, &hall, SEEN_WITHIN, |s| s
            .is_some_and(|s| s.current == 1)),
        "everyone sees the second item"
    );
    let vote = everyone[1].ask(AssemblyRequest::OpenVote {
        protocity: hall.clone(),
    });
    assert!(vote.is_ok(), "the chair opens the vote: {vote:?}");
    assert!(
        wait_until(&mut everyone, SEEN_WITHIN, |c| c.iter().all(|c| {
            c.proposal(charter)
                .is_some_and(|v| v.proposal.phase == Phase::Open)
        })),
        "everyone sees the charter's vote open"
    );
    everyone[2].vote(charter, Choice::YesNo(YesNo::Yes));
    everyone[3].vote(charter, Choice::YesNo(YesNo::Yes));
    assert!(
        wait_until(&mut everyone, Duration::from_secs(3), |c| {
            c[0].proposal(charter).is_some_and(|v| v.turnout == 2)
        }),
        "both ballots are counted"
    );

    // Roles: the chair has no powers in another hall; a visitor mutes nobody.
    let bo_key = everyone[2].key_hex();
    let elsewhere = everyone[1].ask(AssemblyRequest::Moderate {
        protocity: other_hall,
        whom: bo_key.clone(),
        action: ModerationAction::Mute { minutes: Some(5) },
        reason: String::new(),
    });
    assert!(
        elsewhere
            .as_ref()
            .is_err_and(|r| matches!(r, AssemblyRefusal::NotChair(ChairAct::Moderate))),
        "a chair cannot moderate outside their hall: {elsewhere:?}"
    );
    let by_visitor = everyone[4].ask(AssemblyRequest::Moderate {
        protocity: hall.clone(),
        whom: bo_key,
        action: ModerationAction::Mute { minutes: Some(5) },
        reason: String::new(),
    });
    assert!(
        by_visitor
            .as_ref()
            .is_err_and(|r| matches!(r, AssemblyRefusal::NotChair(ChairAct::Moderate))),
        "a visitor cannot mute anyone: {by_visitor:?}"
    );

    // Bo leaves; the founder closes the vote; the chair closes the session.
    everyone[2].request(ToServer::Teleport {
        protocity: hall.clone(),
    });
    assert!(
        wait_until(&mut everyone, Duration::from_secs(3), |c| c[2]
            .hall_session(&hall)
            .is_none()),
        "outside the hall, Bo no longer receives the session"
    );
    everyone[0].govern(GovernanceRequest::Close(charter));
    assert!(
        wait_until(&mut everyone, Duration::from_secs(3), |c| {
            c[0].proposal(charter)
                .is_some_and(|v| v.proposal.phase == Phase::Closed)
        }),
        "the vote closes"
    );
    let closed = everyone[1].ask(AssemblyRequest::Close {
        protocity: hall.clone(),
    });
    assert!(closed.is_ok(), "the chair closes the session: {closed:?}");
    assert!(
        all_see(&mut everyone, &hall, SEEN_WITHIN, |s| s.is_none()),
        "the session is gone for everyone"
    );

    // The minutes: every attendee, and every step in order.
    let mut minutes = serde_json::Value::Null;
    let written = wait_until(&mut everyone, Duration::from_secs(5), |_| {
        let text = server_cli(
            &server.data_dir(),
            &["admin", "session", "minutes", "1", "--json"],
            None,
        );
        minutes = serde_json::from_str(&text).expect("minutes are JSON");
        minutes["session"]["closed_at"].is_i64()
    });
    assert!(written, "the session is closed in the minutes: {minutes}");
    let attendees: Vec<String> = minutes["attendees"]
        .as_array()
        .expect("attendees")
        .iter()
        .map(|a| a["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    for name in ["Fay", "Ada", "Bo", "Cy", "Vic"] {
        assert!(
            attendees
                .iter()
                .any(|a| a.starts_with(&format!("{name} ("))),
            "{name} attended: {attendees:?}"
        );
    }
    let entries: Vec<(String, String)> = minutes["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            let who = e["who"].as_str().unwrap_or("").to_owned();
            let kind = e["kind"].as_str().unwrap_or("").to_owned();
            (kind, who)
        })
        .collect();
    let expected = [
        ("opened", ""),
        ("item", ""),
        ("hand", "Bo"),
        ("hand", "Cy"),
        ("floor", "Bo"),
        ("floor-ended", "Bo"),
        ("floor", "Cy"),
        ("floor-ended", "Cy"),
        ("item", ""),
        ("vote-opened", ""),
        ("left", "Bo"),
        ("result", ""),
        ("closed", "Ada"),
    ];
    let mut next = 0;
    for (kind, who) in &entries {
        if next < expected.len() && *kind == expected[next].0 && who.starts_with(expected[next].1) {
            next += 1;
        }
    }
    assert_eq!(
        next,
        expected.len(),
        "the minutes hold every step in order; got {entries:?}"
    );
    let text = server_cli(
        &server.data_dir(),
        &["admin", "session", "minutes", "1"],
        None,
    );
    assert!(
        text.contains("Spring assembly") && text.contains("time ran out"),
        "the text minutes read well:\n{text}"
    );
}
