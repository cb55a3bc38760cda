//! Live events: a founder schedules an assembly from the client; everyone's
//! calendar shows it within a second; bad drafts and visitors are refused with reasons; when
//! it starts, the members it is for are told (the toast) and go to the hall, while a visitor
//! is kept out; a session opened there takes the event's capacity; events scheduled with
//! `admin event` reach the running server's clients; a cancelled event says so.

use std::time::Duration;

use archipelago_client::events::{EventBook, SendEvent};
use archipelago_shared::assembly::{AgendaItem, AssemblyRequest};
use archipelago_shared::events::{Event, EventDraft, EventRefusal, EventRequest};
use archipelago_shared::protocol::{Role, ToServer};
use archipelago_shared::world::Place;
use archipelago_tests::sim::SimServer;
use archipelago_tests::{
    TestClient, enter_hall, enter_world_together, server_cli, wait_until, world,
};

fn book(client: &TestClient) -> &EventBook {
    client.app.world().resource::<EventBook>()
}

/// Sends an event request and waits for the answer.
fn ask(client: &mut TestClient, request: EventRequest) -> Result<String, EventRefusal> {
    let before = book(client).answers.len();
    client.app.world_mut().write_message(SendEvent(request));
    let answered = wait_until(&mut [client], Duration::from_secs(3), |c| {
        book(c[0]).answers.len() > before
    });
    assert!(answered, "the server answers every event request");
    book(client).answers.last().expect("an answer").1.clone()
}

fn draft(title: &str, protocity: &str, starts_at: i64) -> EventDraft {
    EventDraft {
        title: title.into(),
        protocity: protocity.into(),
        starts_at,
        minutes: 30,
        capacity: 10,
        audience: Role::Member,
    }
}

fn event_called(client: &TestClient, title: &str) -> Option<Event> {
    book(client)
        .events
        .values()
        .find(|e| e.draft.title == title)
        .cloned()
}

#[test]
fn a_scheduled_assembly_reaches_the_calendar_starts_and_brings_its_members_to_the_hall() {
    let server = SimServer::start();
    let unix_now = || server.clock().unix_seconds();
    let capital = world().capital().id.clone();
    let elsewhere = world()
        .protocities
        .iter()
        .find(|p| p.id != capital)
        .expect("a second protocity")
        .id
        .clone();
    let mut fay = server.join("Fay", Some(Role::Founder));
    let mut mo = server.join("Mo", Some(Role::Member));
    let mut vic = server.join("Vic", None);
    enter_world_together(&mut [&mut fay, &mut mo, &mut vic]);
    assert!(
        wait_until(
            &mut [&mut fay, &mut mo, &mut vic],
            Duration::from_secs(3),
            |c| c.iter().all(|c| book(c).loaded)
        ),
        "everyone gets the calendar at login"
    );

    // Refusals, each with its reason.
    let now = unix_now();
    let refused = ask(
        &mut vic,
        EventRequest::Schedule(draft("Open mic", &capital, now + 60)),
    );
    assert!(
        refused == Err(EventRefusal::NotFounder),
        "a visitor cannot schedule: {refused:?}"
    );
    let cases = [
        (
            draft("Atlantis day", "atlantis", now + 60),
            EventRefusal::UnknownProtocity("atlantis".into()),
        ),
        (
            draft("Last year", &capital, now - 3600),
            EventRefusal::StartsInThePast,
        ),
        (
            EventDraft {
                capacity: 0,
                ..draft("Empty hall", &capital, now + 60)
            },
            EventRefusal::BadCapacity,
        ),
    ];
    for (bad, reason) in cases {
        let answer = ask(&mut fay, EventRequest::Schedule(bad.clone()));
        assert_eq!(answer, Err(reason), "`{}` is refused", bad.title);
    }

    // The founder schedules an assembly for members, starting in a moment.
    let starts_at = unix_now() + 3;
    let scheduled = ask(
        &mut fay,
        EventRequest::Schedule(draft("Harbour assembly", &capital, starts_at)),
    );
    assert!(scheduled.is_ok(), "{scheduled:?}");
    assert!(
        wait_until(
            &mut [&mut fay, &mut mo, &mut vic],
            Duration::from_secs(1),
            |c| c
                .iter()
                .all(|c| event_called(c, "Harbour assembly").is_some())
        ),
        "every calendar shows the new event within a second"
    );
    let clash = ask(
        &mut fay,
        EventRequest::Schedule(draft("Double booking", &capital, starts_at + 600)),
    );
    assert!(
        matches!(clash, Err(EventRefusal::Overlaps { .. })),
        "one event per hall at a time: {clash:?}"
    );

    // It starts: members are told, visitors (not its audience) are not.
    let id = event_called(&mo, "Harbour assembly").expect("scheduled").id;
    assert!(
        wait_until(
            &mut [&mut fay, &mut mo, &mut vic],
            Duration::from_secs(8),
            |c| { book(c[1]).started.iter().any(|(_, e)| *e == id) }
        ),
        "the member is told the event started"
    );
    assert!(
        !book(&vic).started.iter().any(|(_, e)| *e == id),
        "the visitor is not invited"
    );

    // The toast's button takes the member in; the visitor is kept out.
    enter_hall(&mut [&mut mo], &capital);
    let hall = world()
        .protocities
        .iter()
        .position(|p| p.id == capital)
        .expect("capital");
    vic.request(ToServer::EnterHall {
        protocity: capital.clone(),
    });
    assert!(
        wait_until(&mut [&mut vic], Duration::from_secs(5), |c| {
            book(c[0]).kept_out.iter().any(|(_, e)| *e == id)
        }),
        "the visitor is told the hall holds the event for members"
    );
    assert!(
        wait_until(&mut [&mut vic], Duration::from_secs(3), |c| c[0]
            .own_pose()
            .is_some_and(|p| world().place_at(p.position) != Place::Hall(hall))),
        "and is put outside"
    );

    // A session opened during the event takes its capacity.
    let opened = fay.ask(AssemblyRequest::Open {
        protocity: capital.clone(),
        title: "Harbour assembly".into(),
        agenda: vec![AgendaItem {
            title: "The harbour".into(),
            proposal: None,
        }],
        chair: None,
        capacity: None,
    });
    assert!(opened.is_ok(), "{opened:?}");
    assert!(
        wait_until(&mut [&mut mo], Duration::from_secs(2), |c| c[0]
            .hall_session(&capital)
            .is_some_and(|s| s.capacity == 10)),
        "the session holds the event's 10"
    );

    // From the command line: the running server picks it up and tells everyone.
    let created = server_cli(
        &server.data_dir(),
        &[
            "admin",
            "event",
            "create",
            "--json",
            "--title",
            "Night market",
            "--hall",
            &elsewhere,
            "--starts-in",
            "90",
            "--minutes",
            "120",
        ],
        None,
    );
    let created: Event = serde_json::from_str(&created).expect("the CLI prints the event");
    assert_eq!(
        created.draft.audience,
        Role::Visitor,
        "open to everyone by default"
    );
    assert!(
        wait_until(
            &mut [&mut fay, &mut mo, &mut vic],
            Duration::from_secs(5),
            |c| c.iter().all(|c| event_called(c, "Night market").is_some())
        ),
        "the CLI's event reaches every calendar"
    );
    let listed = server_cli(
        &server.data_dir(),
        &["admin", "event", "list", "--json"],
        None,
    );
    let listed: Vec<Event> = serde_json::from_str(&listed).expect("a JSON calendar");
    let titles: Vec<&str> = listed.iter().map(|e| e.draft.title.as_str()).collect();
    assert_eq!(
        titles,
        ["Harbour assembly", "Night market"],
        "soonest first"
    );

    // Calling it off reaches everyone too.
    let cancelled = ask(&mut fay, EventRequest::Cancel(created.id));
    assert!(cancelled.is_ok(), "{cancelled:?}");
    assert!(
        wait_until(
            &mut [&mut fay, &mut mo, &mut vic],
            Duration::from_secs(1),
            |c| c
                .iter()
                .all(|c| event_called(c, "Night market").is_some_and(|e| e.cancelled_at.is_some()))
        ),
        "everyone sees the night market called off"
    );
}
