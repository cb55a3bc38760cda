//! The rules of a session's procedure, without a server: the queue keeps its order, the
//! floor goes to the first in line or to anyone named, runs out on time, and is lost by a
//! speaker who leaves; agendas and moderation requests are checked.

use archipelago_shared::assembly::{
    AgendaItem, AssemblyRefusal, HallSession, MAX_AGENDA_ITEMS, MAX_FLOOR_SECONDS,
    MAX_REASON_CHARS, MAX_SANCTION_MINUTES, MAX_SESSION_TITLE_CHARS, MIN_FLOOR_SECONDS,
    ModerationAction, Person, check_moderation, check_session, parse_agenda,
};

/// A person whose key is their name's bytes in hex, padded to a whole key's 64 characters.
fn person(name: &str) -> Person {
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    Person {
        name: name.into(),
        key: format!("{hex:0>64}"),
    }
}

fn item(title: &str) -> AgendaItem {
    AgendaItem {
        title: title.into(),
        proposal: None,
    }
}

fn session() -> HallSession {
    HallSession {
        id: 1,
        protocity: "meridian".into(),
        title: "Spring assembly".into(),
        chair: person("Ada"),
        agenda: vec![item("Welcome"), item("Harbour"), item("Other business")],
        current: 0,
        queue: Vec::new(),
        floor: None,
        opened_at: 0,
        capacity: 10,
        in_main: 0,
        in_overflow: 0,
        floor_only: false,
    }
}

#[test]
fn hands_queue_in_the_order_raised_and_only_once() {
    let mut s = session();
    assert_eq!(s.raise_hand(person("Bo")), Ok(1));
    assert_eq!(s.raise_hand(person("Cy")), Ok(2));
    assert_eq!(
        s.raise_hand(person("Bo")),
        Err(AssemblyRefusal::AlreadyQueued(1))
    );
    assert_eq!(s.queue_position(&person("Cy").key), Some(2));
    assert_eq!(s.lower_hand(&person("Bo").key), Ok(person("Bo")));
    assert_eq!(s.queue_position(&person("Cy").key), Some(1), "Cy moves up");
    assert_eq!(
        s.lower_hand(&person("Bo").key),
        Err(AssemblyRefusal::NotQueued)
    );
}

#[test]
fn the_floor_goes_to_the_first_in_line_and_runs_out_on_time() {
    let mut s = session();
    assert_eq!(
        s.give_floor(None, None, 60, 0),
        Err(AssemblyRefusal::QueueEmpty),
        "nobody to give it to"
    );
    s.raise_hand(person("Bo")).expect("queued");
    s.raise_hand(person("Cy")).expect("queued");
    let (speaker, previous) = s.give_floor(None, None, 60, 1_000).expect("given");
    assert_eq!((speaker, previous), (person("Bo"), None));
    assert_eq!(s.queue, vec![person("Cy")], "the speaker leaves the queue");
    assert_eq!(s.seconds_left(1_000), Some(60));
    assert_eq!(s.seconds_left(30_500), Some(31), "rounded up");
    assert_eq!(s.expire(60_999), None, "not yet");
    assert_eq!(s.expire(61_000), Some(person("Bo")), "time is up");
    assert_eq!(s.floor, None);
    assert_eq!(s.seconds_left(61_000), None);
}

#[test]
fn the_chair_may_give_the_floor_to_anyone_present_and_the_last_speaker_loses_it() {
    let mut s = session();
    s.raise_hand(person("Bo")).expect("queued");
    s.give_floor(None, None, 60, 0).expect("Bo speaks");
    let cy = person("Cy");
    let (speaker, previous) = s
        .give_floor(Some(&cy.key), Some(cy.clone()), 30, 5_000)
        .expect("Cy, who did not raise a hand, is given the floor");
    assert_eq!((speaker, previous), (cy, Some(person("Bo"))));
    assert_eq!(
        s.give_floor(Some("ffffffff"), None, 30, 5_000),
        Err(AssemblyRefusal::NobodyWithKey("ffffffff".into())),
        "only someone present or queued"
    );
    let long = "f".repeat(10_000);
    assert_eq!(
        s.give_floor(Some(&long), None, 30, 5_000),
        Err(AssemblyRefusal::NobodyWithKey("f".repeat(8))),
        "a long key is not echoed back whole"
    );
    assert_eq!(s.end_floor(), Ok(person("Cy")));
    assert_eq!(s.end_floor(), Err(AssemblyRefusal::NoFloor));
}

#[test]
fn floor_times_outside_the_limits_are_refused() {
    let mut s = session();
    s.raise_hand(person("Bo")).expect("queued");
    for seconds in [0, MIN_FLOOR_SECONDS - 1, MAX_FLOOR_SECONDS + 1] {
        assert_eq!(
            s.give_floor(None, None, seconds, 0),
            Err(AssemblyRefusal::BadFloorTime),
            "{seconds} s"
        );
    }
    assert_eq!(s.queue.len(), 1, "a refused request changes nothing");
}

#[test]
fn leaving_the_hall_costs_the_place_in_line_and_the_floor() {
    let mut s = session();
    s.raise_hand(person("Bo")).expect("queued");
    s.raise_hand(person("Cy")).expect("queued");
    s.give_floor(None, None, 60, 0).expect("Bo speaks");
    assert_eq!(s.left(&person("Bo").key), (false, true));
    assert_eq!(s.left(&person("Cy").key), (true, false));
    assert_eq!(s.left(&person("Dee").key), (false, false));
    assert!(s.floor.is_none() && s.queue.is_empty());
}

#[test]
fn the_agenda_moves_only_to_items_it_has() {
    let mut s = session();
    assert_eq!(
        s.move_to(2).map(|i| i.title.clone()),
        Ok("Other business".into())
    );
    assert_eq!(s.current, 2);
    assert_eq!(s.move_to(3), Err(AssemblyRefusal::NoSuchItem(4)));
    assert_eq!(s.current, 2, "a refused move stays put");
    assert_eq!(
        s.move_to(usize::MAX),
        Err(AssemblyRefusal::NoSuchItem(usize::MAX)),
        "a client's huge item number is refused, not overflowed"
    );
}

#[test]
fn sessions_need_a_title_and_a_sensible_agenda() {
    let long = "x".repeat(MAX_SESSION_TITLE_CHARS + 1);
    assert_eq!(
        check_session("  Spring assembly ", &[item(" Welcome ")]),
        Ok(("Spring assembly".into(), vec![item("Welcome")])),
        "trimmed"
    );
    assert_eq!(
        check_session("   ", &[item("a")]),
        Err(AssemblyRefusal::BadTitle)
    );
    assert_eq!(
        check_session(&long, &[item("a")]),
        Err(AssemblyRefusal::BadTitle)
    );
    assert_eq!(check_session("t", &[]), Err(AssemblyRefusal::BadAgenda));
    assert_eq!(
        check_session("t", &[item(" ")]),
        Err(AssemblyRefusal::BadAgenda)
    );
    assert_eq!(
        check_session("t", &[item(&long)]),
        Err(AssemblyRefusal::BadAgenda)
    );
    let too_many: Vec<AgendaItem> = (0..=MAX_AGENDA_ITEMS)
        .map(|i| item(&i.to_string()))
        .collect();
    assert_eq!(
        check_session("t", &too_many),
        Err(AssemblyRefusal::BadAgenda)
    );
}

#[test]
fn moderation_needs_a_short_reason_and_a_sensible_duration() {
    let mute = |minutes| ModerationAction::Mute { minutes };
    assert_eq!(
        check_moderation(mute(Some(10)), " spam "),
        Ok("spam".into())
    );
    assert_eq!(
        check_moderation(mute(None), ""),
        Ok(String::new()),
        "until lifted"
    );
    assert_eq!(
        check_moderation(mute(Some(0)), ""),
        Err(AssemblyRefusal::BadDuration)
    );
    assert_eq!(
        check_moderation(
            ModerationAction::Ban {
                minutes: Some(MAX_SANCTION_MINUTES + 1)
            },
            ""
        ),
        Err(AssemblyRefusal::BadDuration)
    );
    assert_eq!(
        check_moderation(ModerationAction::Remove, &"r".repeat(MAX_REASON_CHARS + 1)),
        Err(AssemblyRefusal::ReasonTooLong)
    );
}

#[test]
fn an_agenda_is_written_one_item_per_line_with_linked_proposals() {
    let agenda = parse_agenda("Welcome\n\n  The harbour charter #12 \nItem #two\n#5\n");
    assert_eq!(
        agenda,
        vec![
            item("Welcome"),
            AgendaItem {
                title: "The harbour charter".into(),
                proposal: Some(12),
            },
            item("Item #two"),
            item("#5"),
        ]
    );
}

#[test]
fn an_impostor_sharing_the_chairs_fingerprint_is_nobody_but_themselves() {
    let chair = Person {
        name: "Ada".into(),
        key: format!("a1b2c3d4{}", "0".repeat(56)),
    };
    let impostor = Person {
        name: "Ada".into(),
        key: format!("a1b2c3d4{}", "f".repeat(56)),
    };
    assert_eq!(
        chair.fingerprint(),
        impostor.fingerprint(),
        "the keys share their first 4 bytes"
    );
    let mut s = session();
    s.chair = chair.clone();
    assert!(s.is_chair(&chair.key));
    assert!(!s.is_chair(&impostor.key), "the impostor is not the chair");
    s.raise_hand(chair.clone()).expect("the chair queues");
    assert_eq!(
        s.raise_hand(impostor.clone()),
        Ok(2),
        "the impostor is someone else in the queue"
    );
    assert_eq!(s.lower_hand(&impostor.key), Ok(impostor.clone()));
    assert_eq!(s.queue, vec![chair.clone()], "the chair's hand stays up");
    let (speaker, _) = s
        .give_floor(Some(&chair.key), None, 60, 0)
        .expect("the chair speaks");
    assert_eq!(speaker, chair);
    assert_eq!(
        s.left(&impostor.key),
        (false, false),
        "the impostor leaving takes nobody's floor"
    );
    assert_eq!(s.floor.map(|f| f.speaker), Some(chair));
}
