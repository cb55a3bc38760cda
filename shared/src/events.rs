//! Live events: founders schedule them in a town hall (title, start, length, capacity, who
//! may attend); everyone sees the calendar, and those who may attend are told when one
//! starts. The checks here are shared by the server, the admin CLI and the client's form.

use serde::{Deserialize, Serialize};

use crate::assembly::{MAX_HALL_CAPACITY, MAX_SESSION_TITLE_CHARS};
use crate::protocol::Role;

/// An event's number.
pub type EventId = i64;

/// Shortest and longest event, in minutes.
pub const MIN_EVENT_MINUTES: u32 = 5;
pub const MAX_EVENT_MINUTES: u32 = 12 * 60;
/// How far ahead an event may be scheduled, in days.
pub const MAX_DAYS_AHEAD: i64 = 366;
/// A start this many seconds in the past still counts as "now" (clocks and typing differ).
pub const START_GRACE_SECS: i64 = 60;

/// What a founder asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDraft {
    pub title: String,
    /// The protocity whose town hall holds it.
    pub protocity: String,
    /// Unix seconds.
    pub starts_at: i64,
    pub minutes: u32,
    /// How many the main hall holds during it; more follow from the overflow room.
    pub capacity: u32,
    /// Who may attend: this role and above ([`Role::Visitor`]: everyone).
    pub audience: Role,
}

/// A scheduled event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub draft: EventDraft,
    pub created_by: String,
    /// Unix seconds, if it was called off.
    pub cancelled_at: Option<i64>,
}

impl Event {
    pub fn ends_at(&self) -> i64 {
        self.draft.starts_at + i64::from(self.draft.minutes) * 60
    }

    /// Under way now (and not called off).
    pub fn is_live(&self, now: i64) -> bool {
        self.cancelled_at.is_none() && (self.draft.starts_at..self.ends_at()).contains(&now)
    }

    /// Still to come or under way (and not called off).
    pub fn is_current(&self, now: i64) -> bool {
        self.cancelled_at.is_none() && self.ends_at() > now
    }

    /// Whether someone with this role may attend.
    pub fn admits(&self, role: Role) -> bool {
        role >= self.draft.audience
    }
}

/// Founders' requests about events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventRequest {
    Schedule(EventDraft),
    Cancel(EventId),
}

/// What the server tells clients about live events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventNews {
    /// The calendar: every event under way or to come; sent after login.
    Calendar(Vec<Event>),
    /// An event was scheduled or called off; replaces the client's copy.
    Changed(Event),
    /// The outcome of this client's event request: what was done, or why not.
    Answer {
        outcome: Result<String, EventRefusal>,
    },
    /// This client stepped into a hall that holds an event it is not invited to, and was put
    /// back outside.
    KeptOut { event: EventId },
}

/// Why an event request was refused. It goes to whoever asked as it is
/// ([`EventNews::Answer`]); its `Display` is the one place that puts it into words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum EventRefusal {
    #[error("only founders schedule or cancel events")]
    NotFounder,
    #[error("the title is empty or longer than {MAX_SESSION_TITLE_CHARS} characters")]
    BadTitle,
    #[error("there is no protocity `{0}`")]
    UnknownProtocity(String),
    #[error("the start is in the past")]
    StartsInThePast,
    #[error("the start is more than {MAX_DAYS_AHEAD} days ahead")]
    TooFarAhead,
    #[error("an event lasts {MIN_EVENT_MINUTES} to {MAX_EVENT_MINUTES} minutes")]
    BadLength,
    #[error("a hall holds 1 to {MAX_HALL_CAPACITY} people")]
    BadCapacity,
    #[error("the {hall} town hall already holds \"{title}\" then")]
    Overlaps { hall: String, title: String },
    #[error("there is no event {0}")]
    UnknownEvent(EventId),
    #[error("event {0} is already over or called off")]
    NotCurrent(EventId),
    #[error("you are sending requests too fast; wait a moment")]
    TooFast,
    #[error("events are unavailable right now; try again shortly")]
    Unavailable,
    #[error("the server is busy; try again in a moment")]
    Busy,
}

/// Checks a draft against the known protocities, the clock and the events already
/// scheduled; returns it tidied.
pub fn check_event(
    draft: &EventDraft,
    protocities: &[&str],
    scheduled: &[Event],
    now: i64,
) -> Result<EventDraft, EventRefusal> {
    let mut draft = draft.clone();
    draft.title = draft.title.trim().to_owned();
    if !(1..=MAX_SESSION_TITLE_CHARS).contains(&draft.title.chars().count()) {
        return Err(EventRefusal::BadTitle);
    }
    if !protocities.contains(&draft.protocity.as_str()) {
        let shown: String = draft.protocity.chars().take(32).collect();
        return Err(EventRefusal::UnknownProtocity(shown));
    }
    if draft.starts_at < now - START_GRACE_SECS {
        return Err(EventRefusal::StartsInThePast);
    }
    if draft.starts_at > now + MAX_DAYS_AHEAD * 86_400 {
        return Err(EventRefusal::TooFarAhead);
    }
    if !(MIN_EVENT_MINUTES..=MAX_EVENT_MINUTES).contains(&draft.minutes) {
        return Err(EventRefusal::BadLength);
    }
    if !(1..=MAX_HALL_CAPACITY).contains(&draft.capacity) {
        return Err(EventRefusal::BadCapacity);
    }
    let ends_at = draft.starts_at + i64::from(draft.minutes) * 60;
    if let Some(clash) = scheduled.iter().find(|e| {
        e.cancelled_at.is_none()
            && e.draft.protocity == draft.protocity
            && e.draft.starts_at < ends_at
            && draft.starts_at < e.ends_at()
    }) {
        return Err(EventRefusal::Overlaps {
            hall: clash.draft.protocity.clone(),
            title: clash.draft.title.clone(),
        });
    }
    Ok(draft)
}

/// The events under way or to come, soonest first: the calendar.
pub fn calendar(events: &[Event], now: i64) -> Vec<&Event> {
    let mut current: Vec<&Event> = events.iter().filter(|e| e.is_current(now)).collect();
    current.sort_by_key(|e| (e.draft.starts_at, e.id));
    current
}
