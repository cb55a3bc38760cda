//! Overflow in one process: a session in a hall that holds 10, and 15 members walk in. Ten
//! stand in the hall, five follow from the overflow room; all fifteen see the speaker (the
//! overflow room receives the stage) and the procedure; a hand raised in the overflow joins
//! the one queue; the overflow has its own chat; every one of the fifteen ballots counts;
//! a founder arriving late still gets into the main hall; and when people leave the hall,
//! those waiting in the overflow move up into the places they freed.

use std::time::Duration;

use archipelago_client::chat::{ChatLog, SendChat};
use archipelago_client::identity::ephemeral;
use archipelago_shared::assembly::{AgendaItem, AssemblyNews, AssemblyRequest};
use archipelago_shared::chat::ChatTo;
use archipelago_shared::governance::Phase;
use archipelago_shared::governance::tally::{Choice, YesNo};
use archipelago_shared::protocol::{Role, ToServer};
use archipelago_tests::sim::SimServer;
use archipelago_tests::{
    TestClient, create_proposal, enter_hall, enter_world, enter_world_together, wait_until, world,
    yes_no_draft,
};

const CAPACITY: u32 = 10;
const ATTENDEES: usize = 15;

fn heard(client: &TestClient, text: &str) -> bool {
    let log = client.app.world().resource::<ChatLog>();
    log.lines.iter().any(|(_, line)| line.text == text)
}

#[test]
fn latecomers_past_capacity_follow_from_the_overflow_and_still_count() {
    let server = SimServer::start();
    let hall = world().capital().id.clone();
    let fay_key = ephemeral();
    server.register(&fay_key, "Fay", Role::Founder);
    let mut fay = server.client("Fay", fay_key);
    enter_world(&mut fay);
    let charter = create_proposal(&mut fay, yes_no_draft("Adopt the harbour charter"));
    let opened = fay.ask(AssemblyRequest::Open {
        protocity: hall.clone(),
        title: "Harbour assembly".into(),
        agenda: vec![AgendaItem {
            title: "The harbour charter".into(),
            proposal: Some(charter),
        }],
        chair: None,
        capacity: Some(CAPACITY),
    });
    assert!(opened.is_ok(), "the founder opens the session: {opened:?}");

    let mut members: Vec<TestClient> = (0..ATTENDEES)
        .map(|i| {
            let key = ephemeral();
            let name = format!("Member{i:02}");
            server.register(&key, &name, Role::Member);
            server.client(&name, key)
        })
        .collect();
    let mut everyone: Vec<&mut TestClient> = members.iter_mut().collect();
    enter_world_together(&mut everyone);
    everyone.push(&mut fay);
    let (attendees, founder) = everyone.split_at_mut(ATTENDEES);
    enter_hall(attendees, &hall);

    // Ten in the hall, five in the overflow, and everyone knows it.
    let counted = wait_until(attendees, Duration::from_secs(3), |c| {
        c.iter_mut().all(|c| {
            c.hall_session(&hall)
                .is_some_and(|s| (s.in_main, s.in_overflow) == (CAPACITY, 5))
        })
    });
    assert!(
        counted,
        "every attendee sees 10 in the hall and 5 in the overflow"
    );
    let overflow: Vec<usize> = (0..ATTENDEES)
        .filter(|&i| attendees[i].in_overflow())
        .collect();
    assert_eq!(overflow.len(), 5, "five are told they are in the overflow");
    let main: Vec<usize> = (0..ATTENDEES).filter(|i| !overflow.contains(i)).collect();

    // Someone in the hall gets the floor; the overflow sees and receives the speaker.
    let speaker = main[0];
    let raised = attendees[speaker].ask(AssemblyRequest::RaiseHand);
    assert!(raised.is_ok(), "{raised:?}");
    let given = founder[0].ask(AssemblyRequest::GiveFloor {
        protocity: hall.clone(),
        to: None,
        seconds: 120,
    });
    assert!(
        given.is_ok(),
        "the chair gives the floor from afar: {given:?}"
    );
    let speaker_name = format!("Member{speaker:02}");
    let bystander_name = format!("Member{:02}", main[1]);
    let seen = wait_until(attendees, Duration::from_secs(2), |c| {
        c.iter_mut().all(|c| {
            c.hall_session(&hall).is_some_and(|s| {
                s.floor
                    .as_ref()
                    .is_some_and(|f| f.speaker.name == speaker_name)
            })
        }) && overflow
            .iter()
            .all(|&i| c[i].other(&speaker_name).is_some())
    });
    assert!(
        seen,
        "all fifteen see {speaker_name} speaking; the overflow sees the avatar"
    );
    // (Once everyone has stopped lingering in the grounds' room they came from.)
    let apart = wait_until(attendees, Duration::from_secs(3), |c| {
        overflow
            .iter()
            .all(|&i| c[i].other(&bystander_name).is_none())
    });
    assert!(apart, "the overflow does not receive the rest of the hall");

    // A hand from the overflow joins the one queue.
    let late = overflow[0];
    let raised = attendees[late].ask(AssemblyRequest::RaiseHand);
    assert!(raised.is_ok(), "{raised:?}");
    let late_name = format!("Member{late:02}");
    let queued = wait_until(attendees, Duration::from_secs(2), |c| {
        c.iter_mut().all(|c| {
            c.hall_session(&hall)
                .is_some_and(|s| s.queue.iter().any(|p| p.name == late_name))
        })
    });
    assert!(
        queued,
        "everyone sees the overflow's raised hand in the queue"
    );

    // The overflow room has its own chat.
    attendees[late].app.world_mut().write_message(SendChat {
        to: ChatTo::Place,
        text: "greetings from the overflow".into(),
    });
    let spread = wait_until(attendees, Duration::from_secs(2), |c| {
        overflow
            .iter()
            .all(|&i| heard(c[i], "greetings from the overflow"))
    });
    assert!(spread, "the overflow hears its own chat");
    assert!(
        main.iter()
            .all(|&i| !heard(attendees[i], "greetings from the overflow")),
        "the hall does not hear the overflow's chat"
    );

    // The vote is opened from the stage and all fifteen ballots count.
    let vote = founder[0].ask(AssemblyRequest::OpenVote {
        protocity: hall.clone(),
    });
    assert!(vote.is_ok(), "{vote:?}");
    let open = wait_until(attendees, Duration::from_secs(3), |c| {
        c.iter().all(|c| {
            c.proposal(charter)
                .is_some_and(|v| v.proposal.phase == Phase::Open)
        })
    });
    assert!(open, "every attendee sees the vote open");
    for attendee in attendees.iter_mut() {
        attendee.vote(charter, Choice::YesNo(YesNo::Yes));
    }
    let counted = wait_until(attendees, Duration::from_secs(5), |c| {
        c[0].proposal(charter)
            .is_some_and(|v| v.turnout == ATTENDEES as u32)
    });
    assert!(counted, "all fifteen ballots count, the overflow's too");

    // A founder arriving late still gets into the main hall.
    enter_hall(founder, &hall);
    assert!(
        !founder[0].in_overflow(),
        "founders always get into the main hall"
    );
    let sixteen = wait_until(attendees, Duration::from_secs(3), |c| {
        c[0].hall_session(&hall)
            .is_some_and(|s| (s.in_main, s.in_overflow) == (CAPACITY + 1, 5))
    });
    assert!(sixteen, "the hall holds the founder beyond its capacity");

    // Three leave the hall: with the founder, eight are left in a hall for ten, so the two
    // who have waited longest in the overflow move up, are told so, and receive the hall.
    let leaving = [main[2], main[3], main[4]];
    for &i in &leaving {
        attendees[i].request(ToServer::Teleport {
            protocity: hall.clone(),
        });
    }
    let moved = wait_until(attendees, Duration::from_secs(5), |c| {
        c[main[1]]
            .hall_session(&hall)
            .is_some_and(|s| (s.in_main, s.in_overflow) == (CAPACITY, 3))
            && overflow.iter().filter(|&&i| !c[i].in_overflow()).count() == 2
    });
    let still: Vec<bool> = overflow
        .iter()
        .map(|&i| attendees[i].in_overflow())
        .collect();
    assert!(
        moved,
        "two move up from the overflow, three stay: {:?}, in overflow: {still:?}",
        attendees[main[1]]
            .hall_session(&hall)
            .map(|s| (s.in_main, s.in_overflow))
    );
    let up: Vec<usize> = overflow
        .iter()
        .copied()
        .filter(|&i| !attendees[i].in_overflow())
        .collect();
    for &i in &up {
        let told = attendees[i]
            .told()
            .iter()
            .any(|news| matches!(news, AssemblyNews::MovedUp { .. }));
        assert!(told, "Member{i:02} is told it moved up");
    }
    let see_hall = wait_until(attendees, Duration::from_secs(3), |c| {
        up.iter().all(|&i| c[i].other(&bystander_name).is_some())
    });
    assert!(
        see_hall,
        "those who moved up receive the rest of the hall ({bystander_name})"
    );
    let apart = wait_until(attendees, Duration::from_secs(3), |c| {
        overflow
            .iter()
            .filter(|i| !up.contains(i))
            .all(|&i| c[i].other(&bystander_name).is_none())
    });
    assert!(apart, "those still waiting stay in the overflow");
}
