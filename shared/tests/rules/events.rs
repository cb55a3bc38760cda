//! The rules of live events: what a draft must hold, no double booking of a hall, and the
//! calendar's order and timing.

use archipelago_shared::assembly::MAX_HALL_CAPACITY;
use archipelago_shared::events::{
    Event, EventDraft, EventRefusal, MAX_DAYS_AHEAD, MAX_EVENT_MINUTES, START_GRACE_SECS, calendar,
    check_event,
};
use archipelago_shared::protocol::Role;

const NOW: i64 = 1_800_000_000;
const HALLS: &[&str] = &["meridian", "lantern-bay"];

fn draft(title: &str, hall: &str, starts_at: i64, minutes: u32) -> EventDraft {
    EventDraft {
        title: title.into(),
        protocity: hall.into(),
        starts_at,
        minutes,
        capacity: 100,
        audience: Role::Member,
    }
}

fn event(id: i64, draft: EventDraft) -> Event {
    Event {
        id,
        draft,
        created_by: "Fay".into(),
        cancelled_at: None,
    }
}

#[test]
fn a_good_draft_is_accepted_tidied() {
    let checked = check_event(
        &draft("  Harbour assembly ", "meridian", NOW + 60, 90),
        HALLS,
        &[],
        NOW,
    );
    assert_eq!(checked.map(|d| d.title), Ok("Harbour assembly".into()));
}

#[test]
fn bad_drafts_are_refused_with_their_reason() {
    let ok = draft("Assembly", "meridian", NOW + 60, 60);
    let cases = [
        (
            EventDraft {
                title: " ".into(),
                ..ok.clone()
            },
            EventRefusal::BadTitle,
        ),
        (
            EventDraft {
                protocity: "atlantis".into(),
                ..ok.clone()
            },
            EventRefusal::UnknownProtocity("atlantis".into()),
        ),
        (
            EventDraft {
                starts_at: NOW - START_GRACE_SECS - 1,
                ..ok.clone()
            },
            EventRefusal::StartsInThePast,
        ),
        (
            EventDraft {
                starts_at: NOW + MAX_DAYS_AHEAD * 86_400 + 1,
                ..ok.clone()
            },
            EventRefusal::TooFarAhead,
        ),
        (
            EventDraft {
                minutes: 4,
                ..ok.clone()
            },
            EventRefusal::BadLength,
        ),
        (
            EventDraft {
                minutes: MAX_EVENT_MINUTES + 1,
                ..ok.clone()
            },
            EventRefusal::BadLength,
        ),
        (
            EventDraft {
                capacity: 0,
                ..ok.clone()
            },
            EventRefusal::BadCapacity,
        ),
        (
            EventDraft {
                capacity: MAX_HALL_CAPACITY + 1,
                ..ok.clone()
            },
            EventRefusal::BadCapacity,
        ),
    ];
    for (bad, refusal) in cases {
        assert_eq!(check_event(&bad, HALLS, &[], NOW), Err(refusal), "{bad:?}");
    }
    assert!(
        check_event(
            &EventDraft {
                starts_at: NOW - 30,
                ..ok
            },
            HALLS,
            &[],
            NOW
        )
        .is_ok(),
        "a start a few seconds ago counts as now"
    );
}

#[test]
fn a_hall_holds_one_event_at_a_time() {
    let booked = vec![event(
        1,
        draft("Harbour assembly", "meridian", NOW + 3600, 60),
    )];
    let overlapping = draft("Night market", "meridian", NOW + 3600 + 1800, 60);
    assert_eq!(
        check_event(&overlapping, HALLS, &booked, NOW),
        Err(EventRefusal::Overlaps {
            hall: "meridian".into(),
            title: "Harbour assembly".into()
        })
    );
    let after = draft("Night market", "meridian", NOW + 7200, 60);
    assert!(
        check_event(&after, HALLS, &booked, NOW).is_ok(),
        "back to back is fine"
    );
    let elsewhere = draft("Night market", "lantern-bay", NOW + 3600, 60);
    assert!(
        check_event(&elsewhere, HALLS, &booked, NOW).is_ok(),
        "another hall is free"
    );
    let mut cancelled = booked.clone();
    cancelled[0].cancelled_at = Some(NOW);
    assert!(
        check_event(&overlapping, HALLS, &cancelled, NOW).is_ok(),
        "a called-off event frees the hall"
    );
}

#[test]
fn the_calendar_lists_what_is_on_and_coming_soonest_first() {
    let mut events = vec![
        event(1, draft("Later", "meridian", NOW + 7200, 60)),
        event(2, draft("Live", "lantern-bay", NOW - 600, 60)),
        event(3, draft("Over", "meridian", NOW - 7200, 60)),
        event(4, draft("Called off", "meridian", NOW + 600, 60)),
    ];
    events[3].cancelled_at = Some(NOW - 10);
    let on: Vec<&str> = calendar(&events, NOW)
        .iter()
        .map(|e| e.draft.title.as_str())
        .collect();
    assert_eq!(on, ["Live", "Later"]);
    assert!(events[1].is_live(NOW) && !events[0].is_live(NOW));
    assert!(events[1].admits(Role::Member) && !events[1].admits(Role::Visitor));
    assert!(
        !events[1].is_live(events[1].ends_at()),
        "an event ends on time"
    );
}
