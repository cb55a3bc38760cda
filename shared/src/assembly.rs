//! Assemblies: sessions in a town hall, run by a chair through an agenda, with a queue of
//! raised hands and a floor given for a set time. The procedure is a plain state machine
//! ([`HallSession`]) that the server drives and every attendee receives; moderation requests
//! and their limits live here too.

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use crate::governance::{Phase, ProposalId};

/// Longest session title or agenda item, in characters.
pub const MAX_SESSION_TITLE_CHARS: usize = 80;
/// Most items on one agenda.
pub const MAX_AGENDA_ITEMS: usize = 20;
/// Longest reason given for a moderation action, in characters.
pub const MAX_REASON_CHARS: usize = 200;
/// Shortest and longest time the floor may be given for, in seconds.
pub const MIN_FLOOR_SECONDS: u32 = 10;
pub const MAX_FLOOR_SECONDS: u32 = 30 * 60;
/// The floor time the client offers first.
pub const DEFAULT_FLOOR_SECONDS: u32 = 120;
/// Longest mute or ban that has an end, in minutes (a week); longer ones are "until lifted".
pub const MAX_SANCTION_MINUTES: u32 = 7 * 24 * 60;
/// How many may stand in a hall during a session unless its opener says otherwise; more go
/// to the hall's overflow room.
pub const DEFAULT_HALL_CAPACITY: u32 = 150;
/// The largest capacity a session may set.
pub const MAX_HALL_CAPACITY: u32 = 5_000;

/// A session's number in the minutes.
pub type SessionId = i64;

/// Someone in the procedure: who they are called and their whole public key (lowercase
/// hex), which is how the procedure and requests name a person. The short fingerprint is only
/// shown, never compared: a key sharing its first bytes with a chair's is cheap to grind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    pub key: String,
}

impl Person {
    /// The short form of the key shown beside the name.
    pub fn fingerprint(&self) -> &str {
        crate::identity::short_key(&self.key)
    }
}

impl std::fmt::Display for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name, self.fingerprint())
    }
}

/// One item of business, optionally the proposal it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgendaItem {
    pub title: String,
    pub proposal: Option<ProposalId>,
}

/// Who has the floor, and until when (Unix milliseconds, server clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Floor {
    pub speaker: Person,
    pub until_ms: i64,
}

/// An open session in one town hall: everything its attendees see of the procedure.
/// Replicated to the people inside the hall only; those outside learn the title from
/// [`crate::protocol::WorldStatus`].
#[derive(Component, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HallSession {
    pub id: SessionId,
    /// The protocity whose town hall this is.
    pub protocity: String,
    pub title: String,
    pub chair: Person,
    pub agenda: Vec<AgendaItem>,
    /// Index into `agenda` of the item under discussion.
    pub current: usize,
    /// Raised hands, first come first served.
    pub queue: Vec<Person>,
    pub floor: Option<Floor>,
    /// Unix seconds.
    pub opened_at: i64,
    /// How many the main hall holds; later arrivals (founders excepted) follow the session
    /// from the overflow room.
    pub capacity: u32,
    /// People in the main hall and in the overflow room now.
    pub in_main: u32,
    pub in_overflow: u32,
    /// Only the floor and the chair are heard; nobody murmurs to their neighbours (the
    /// chair's choice for a formal session).
    pub floor_only: bool,
}

/// On an avatar placed in a hall's overflow room: the hall was full when it came in. Its
/// owner follows the session from there (the stage is shared with the overflow room; the
/// queue and the votes are one).
#[derive(Component, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InOverflow;

/// Asked of the server by a client, about assemblies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AssemblyRequest {
    /// Open a session in a protocity's town hall (founders). The chair is named by their
    /// whole key (hex) among the people online; none makes the founder the chair.
    Open {
        protocity: String,
        title: String,
        agenda: Vec<AgendaItem>,
        chair: Option<String>,
        /// How many the main hall holds ([`DEFAULT_HALL_CAPACITY`] if none).
        capacity: Option<u32>,
    },
    /// End the session in a hall (its chair or a founder).
    Close { protocity: String },
    /// Ask for the floor in the session of the hall one stands in.
    RaiseHand,
    /// Leave the queue.
    LowerHand,
    /// Give the floor (chair): to someone by their whole key (hex), or to the first in the
    /// queue.
    GiveFloor {
        protocity: String,
        to: Option<String>,
        seconds: u32,
    },
    /// Take the floor back before its time is up (chair), or yield it (the speaker).
    EndFloor { protocity: String },
    /// Move to an agenda item (chair).
    Agenda { protocity: String, item: usize },
    /// Open the vote on the current item's proposal (chair).
    OpenVote { protocity: String },
    /// The newest lines of the moderation log (founders).
    ModerationLog,
    /// Mute, remove or ban someone (a chair in their hall, or a founder).
    Moderate {
        protocity: String,
        /// The person's whole key (hex).
        whom: String,
        action: ModerationAction,
        reason: String,
    },
    /// Let only the floor and the chair be heard, or everyone by their neighbours too
    /// (chair).
    FloorOnly { protocity: String, on: bool },
}

/// A line of the moderation log, as founders read it in the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModerationRecord {
    /// Unix seconds.
    pub at: i64,
    pub actor: String,
    /// `mute`, `unmute`, `remove`, `ban` or `unban`.
    pub action: String,
    pub subject: String,
    /// The hall's protocity.
    pub protocity: String,
    /// Unix seconds, for mutes and bans with an end.
    pub until: Option<i64>,
    pub reason: String,
    /// A mute held in the hall only (a chair's), not everywhere.
    pub hall_only: bool,
}

/// Most lines of the moderation log sent to a client (the newest).
pub const MODERATION_LOG_LINES: usize = 200;

/// What a moderator does to someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModerationAction {
    /// Refuse their chat lines and raised hands, for minutes or (`None`) until lifted.
    Mute {
        minutes: Option<u32>,
    },
    Unmute,
    /// Put them outside the hall's door; they may come back in.
    Remove,
    /// Put them outside and keep them out of this hall, for minutes or until lifted.
    Ban {
        minutes: Option<u32>,
    },
    Unban,
}

impl ModerationAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ModerationAction::Mute { .. } => "mute",
            ModerationAction::Unmute => "unmute",
            ModerationAction::Remove => "remove",
            ModerationAction::Ban { .. } => "ban",
            ModerationAction::Unban => "unban",
        }
    }

    /// How long it lasts, for the actions that last.
    pub fn minutes(self) -> Option<u32> {
        match self {
            ModerationAction::Mute { minutes } | ModerationAction::Ban { minutes } => minutes,
            _ => None,
        }
    }
}

/// What the server tells clients about assemblies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AssemblyNews {
    /// The outcome of this client's assembly request: what was done, or why not.
    Answer {
        outcome: Result<String, AssemblyRefusal>,
    },
    /// The newest lines of the moderation log, oldest first, as a founder asked.
    ModerationLog(Vec<ModerationRecord>),
    /// A moderator acted on this client's person (sent to its subject only).
    Sanctioned(ModerationRecord),
    /// This client stepped into a hall it is banned from and was put back outside.
    KeptOut {
        protocity: String,
        terms: SanctionTerms,
    },
    /// A place freed up: this client moved up from the hall's overflow into the hall.
    MovedUp { protocity: String },
}

/// How long a sanction in force lasts and why, as refusals and news carry it. Its `Display`
/// is the end of a sentence: " until 2026-12-02 14:05 UTC (spam)".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SanctionTerms {
    /// Unix seconds; none: until a moderator lifts it.
    pub until: Option<i64>,
    pub reason: String,
}

impl std::fmt::Display for SanctionTerms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.until {
            Some(until) => write!(f, " until {}", crate::parcels::utc_date_time(until))?,
            None => f.write_str(" until a moderator lifts it")?,
        }
        match self.reason.as_str() {
            "" => Ok(()),
            reason => write!(f, " ({reason})"),
        }
    }
}

/// Whether a sanction silences someone or keeps them out of a hall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SanctionKind {
    Mute,
    Ban,
}

impl SanctionKind {
    /// Stable name for storage and the log.
    pub fn as_str(self) -> &'static str {
        match self {
            SanctionKind::Mute => "mute",
            SanctionKind::Ban => "ban",
        }
    }
}

impl std::fmt::Display for SanctionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What only a session's chair (or a founder) may do, as a refusal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChairAct {
    Close,
    GiveFloor,
    TakeFloorBack,
    MoveAgenda,
    OpenVotes,
    Moderate,
    ChooseWhoIsHeard,
}

impl std::fmt::Display for ChairAct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChairAct::Close => "close the session",
            ChairAct::GiveFloor => "give the floor",
            ChairAct::TakeFloorBack => "take the floor back",
            ChairAct::ChooseWhoIsHeard => "choose who is heard",
            ChairAct::MoveAgenda => "move through the agenda",
            ChairAct::OpenVotes => "open votes",
            ChairAct::Moderate => "mute, remove or ban people here",
        })
    }
}

/// Why an assembly request was refused. It goes to whoever asked as it is
/// ([`AssemblyNews::Answer`]); its `Display` is the one place that puts it into words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AssemblyRefusal {
    #[error("there is no protocity `{0}`")]
    UnknownProtocity(String),
    #[error("only founders open sessions")]
    NotFounder,
    #[error("only the chair or a founder may {0}")]
    NotChair(ChairAct),
    #[error("a session is already open in this hall: {0}")]
    AlreadyOpen(String),
    #[error("no session is open in this hall")]
    NoSession,
    #[error("step into a town hall with a session first")]
    NotInHall,
    #[error("visitors may listen; members and above may ask for the floor")]
    VisitorsListen,
    #[error("the title is empty or longer than {MAX_SESSION_TITLE_CHARS} characters")]
    BadTitle,
    #[error(
        "an agenda has 1 to {MAX_AGENDA_ITEMS} items of at most {MAX_SESSION_TITLE_CHARS} characters"
    )]
    BadAgenda,
    #[error("a hall holds 1 to {MAX_HALL_CAPACITY} people")]
    BadCapacity,
    #[error("agenda item {0} links to proposal #{1}, which does not exist")]
    UnknownProposal(usize, ProposalId),
    #[error("nobody with key {0} is online")]
    NobodyWithKey(String),
    #[error("your hand is already raised (number {0} in the queue)")]
    AlreadyQueued(usize),
    #[error("your hand is not raised")]
    NotQueued,
    #[error("nobody is waiting for the floor")]
    QueueEmpty,
    #[error("nobody has the floor")]
    NoFloor,
    #[error("the floor is given for {MIN_FLOOR_SECONDS} to {MAX_FLOOR_SECONDS} seconds")]
    BadFloorTime,
    #[error("the agenda has no item {0}")]
    NoSuchItem(usize),
    #[error("this agenda item has no proposal to vote on")]
    NoProposal,
    #[error("proposal #{0} is {1}, not a draft waiting to open")]
    VoteNotDraft(ProposalId, Phase),
    #[error("the reason is longer than {MAX_REASON_CHARS} characters")]
    ReasonTooLong,
    #[error("a mute or ban lasts 1 to {MAX_SANCTION_MINUTES} minutes, or until lifted")]
    BadDuration,
    #[error("founders cannot be muted, removed or banned")]
    Untouchable,
    #[error("only founders read the moderation log")]
    LogForFounders,
    #[error("you are muted{0}")]
    Muted(SanctionTerms),
    #[error("you are sending requests too fast; wait a moment")]
    TooFast,
    #[error("{name} has no {kind} in force to lift")]
    NotSanctioned { name: String, kind: SanctionKind },
    #[error("a {by} set {name}'s {kind}; only a {by} may lift or shorten it")]
    Outranked {
        name: String,
        kind: SanctionKind,
        by: crate::protocol::Role,
    },
    #[error("assemblies are unavailable right now; try again shortly")]
    Unavailable,
    #[error("the server is busy; try again in a moment")]
    Busy,
}

impl AssemblyRefusal {
    /// Nobody online has this key; shown by its short form, since a client may send
    /// anything there.
    pub fn nobody_with(key: &str) -> Self {
        AssemblyRefusal::NobodyWithKey(key.chars().take(8).collect())
    }
}

fn fits(text: &str) -> bool {
    let length = text.trim().chars().count();
    (1..=MAX_SESSION_TITLE_CHARS).contains(&length)
}

/// Checks a session's title and agenda and returns them trimmed.
pub fn check_session(
    title: &str,
    agenda: &[AgendaItem],
) -> Result<(String, Vec<AgendaItem>), AssemblyRefusal> {
    if !fits(title) {
        return Err(AssemblyRefusal::BadTitle);
    }
    if agenda.is_empty()
        || agenda.len() > MAX_AGENDA_ITEMS
        || agenda.iter().any(|item| !fits(&item.title))
    {
        return Err(AssemblyRefusal::BadAgenda);
    }
    let agenda = agenda
        .iter()
        .map(|item| AgendaItem {
            title: item.title.trim().to_owned(),
            proposal: item.proposal,
        })
        .collect();
    Ok((title.trim().to_owned(), agenda))
}

/// Reads an agenda written one item per line, as the opening form takes it: a line ending
/// in "#N" links proposal N; blank lines are skipped.
pub fn parse_agenda(text: &str) -> Vec<AgendaItem> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let linked = line.rsplit_once('#').and_then(|(title, id)| {
                let id: ProposalId = id.trim().parse().ok()?;
                Some((title.trim(), id))
            });
            match linked {
                Some((title, id)) if !title.is_empty() => AgendaItem {
                    title: title.to_owned(),
                    proposal: Some(id),
                },
                _ => AgendaItem {
                    title: line.to_owned(),
                    proposal: None,
                },
            }
        })
        .collect()
}

/// Checks a moderation request's reason and duration; returns the reason trimmed.
pub fn check_moderation(action: ModerationAction, reason: &str) -> Result<String, AssemblyRefusal> {
    if reason.trim().chars().count() > MAX_REASON_CHARS {
        return Err(AssemblyRefusal::ReasonTooLong);
    }
    if action
        .minutes()
        .is_some_and(|m| !(1..=MAX_SANCTION_MINUTES).contains(&m))
    {
        return Err(AssemblyRefusal::BadDuration);
    }
    Ok(reason.trim().to_owned())
}

/// How the floor ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FloorEnd {
    /// The time ran out.
    Expired,
    /// The chair took it back.
    TakenBack,
    /// The speaker yielded it.
    Yielded,
    /// The speaker left the hall.
    Left,
}

impl FloorEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            FloorEnd::Expired => "time ran out",
            FloorEnd::TakenBack => "taken back by the chair",
            FloorEnd::Yielded => "yielded",
            FloorEnd::Left => "speaker left the hall",
        }
    }
}

impl HallSession {
    /// The item under discussion.
    pub fn current_item(&self) -> Option<&AgendaItem> {
        self.agenda.get(self.current)
    }

    /// Position in the queue (from 1) of the person with this key.
    pub fn queue_position(&self, key: &str) -> Option<usize> {
        self.queue.iter().position(|p| p.key == key).map(|i| i + 1)
    }

    /// Whether this person may run the procedure: the chair (founders are checked by the
    /// caller, who knows roles).
    pub fn is_chair(&self, key: &str) -> bool {
        self.chair.key == key
    }

    /// Adds a raised hand at the back of the queue; returns the position (from 1).
    pub fn raise_hand(&mut self, person: Person) -> Result<usize, AssemblyRefusal> {
        if let Some(position) = self.queue_position(&person.key) {
            return Err(AssemblyRefusal::AlreadyQueued(position));
        }
        self.queue.push(person);
        Ok(self.queue.len())
    }

    /// Takes a hand out of the queue.
    pub fn lower_hand(&mut self, key: &str) -> Result<Person, AssemblyRefusal> {
        let index = self
            .queue
            .iter()
            .position(|p| p.key == key)
            .ok_or(AssemblyRefusal::NotQueued)?;
        Ok(self.queue.remove(index))
    }

    /// Gives the floor to the first in the queue, or to the person with `to`'s key
    /// (found in the queue, or given as `outside`: someone present who did not raise a hand).
    /// Whoever had the floor loses it. Returns the new speaker and the previous one.
    pub fn give_floor(
        &mut self,
        to: Option<&str>,
        outside: Option<Person>,
        seconds: u32,
        now_ms: i64,
    ) -> Result<(Person, Option<Person>), AssemblyRefusal> {
        if !(MIN_FLOOR_SECONDS..=MAX_FLOOR_SECONDS).contains(&seconds) {
            return Err(AssemblyRefusal::BadFloorTime);
        }
        let speaker = match to {
            None if self.queue.is_empty() => return Err(AssemblyRefusal::QueueEmpty),
            None => self.queue.remove(0),
            Some(key) => match self.lower_hand(key) {
                Ok(person) => person,
                Err(_) => outside
                    .filter(|p| p.key == key)
                    .ok_or_else(|| AssemblyRefusal::nobody_with(key))?,
            },
        };
        let previous = self.floor.take().map(|f| f.speaker);
        self.floor = Some(Floor {
            speaker: speaker.clone(),
            until_ms: now_ms + i64::from(seconds) * 1000,
        });
        Ok((speaker, previous))
    }

    /// Ends the floor; returns who had it.
    pub fn end_floor(&mut self) -> Result<Person, AssemblyRefusal> {
        self.floor
            .take()
            .map(|f| f.speaker)
            .ok_or(AssemblyRefusal::NoFloor)
    }

    /// Ends the floor if its time is up; returns who had it.
    pub fn expire(&mut self, now_ms: i64) -> Option<Person> {
        if self.floor.as_ref().is_some_and(|f| f.until_ms <= now_ms) {
            self.floor.take().map(|f| f.speaker)
        } else {
            None
        }
    }

    /// Whole seconds of floor left (rounded up), or `None` when nobody has it.
    pub fn seconds_left(&self, now_ms: i64) -> Option<u32> {
        self.floor.as_ref().map(|f| {
            let left = (f.until_ms - now_ms).max(0);
            u32::try_from((left + 999) / 1000).unwrap_or(u32::MAX)
        })
    }

    /// Moves to an agenda item.
    pub fn move_to(&mut self, item: usize) -> Result<&AgendaItem, AssemblyRefusal> {
        if item >= self.agenda.len() {
            // The item number comes from a client: no overflow on a huge one.
            return Err(AssemblyRefusal::NoSuchItem(item.saturating_add(1)));
        }
        self.current = item;
        Ok(&self.agenda[item])
    }

    /// Someone left the hall: out of the queue, and off the floor.
    pub fn left(&mut self, key: &str) -> (bool, bool) {
        let was_queued = self.lower_hand(key).is_ok();
        let had_floor = self.floor.as_ref().is_some_and(|f| f.speaker.key == key);
        if had_floor {
            self.floor = None;
        }
        (was_queued, had_floor)
    }
}

/// One line of a session's minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinuteEntry {
    /// Unix seconds.
    pub at: i64,
    /// What happened: `opened`, `joined`, `left`, `hand`, `floor`, `floor-ended`, `item`,
    /// `vote-opened`, `result`, `moderation`, `closed`.
    pub kind: String,
    /// Who it was about (a name, with the key fingerprint), if anyone.
    pub who: Option<String>,
    pub detail: String,
}
