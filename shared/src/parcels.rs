//! Land: the parcel registry's records and the rules for changing them.
//!
//! Every parcel of the world data has a [`ParcelInfo`] in the server's database. Who may change
//! what is decided here, by [`apply_change`], a pure function the server calls inside its
//! database transaction and the client calls to grey out controls a person may not use. The
//! two can therefore never disagree.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::protocol::Role;

/// Longest description an owner may write, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 600;
/// Longest group name (an owner such as "the treasury"), in characters.
pub const MAX_GROUP_CHARS: usize = 48;
/// Highest price or crowdfunding goal, in whole dollars.
pub const MAX_PRICE: u64 = 1_000_000_000;
/// Highest single pledge, in whole dollars.
pub const MAX_PLEDGE: u64 = 10_000_000;
/// Most lines of a parcel's history sent to a client (the newest).
pub const PARCEL_HISTORY_LINES: u32 = 200;

/// What the land may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Zoning {
    Residential,
    Commercial,
    Civic,
    Agricultural,
    Reserved,
}

impl Zoning {
    pub const ALL: [Zoning; 5] = [
        Zoning::Residential,
        Zoning::Commercial,
        Zoning::Civic,
        Zoning::Agricultural,
        Zoning::Reserved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Zoning::Residential => "residential",
            Zoning::Commercial => "commercial",
            Zoning::Civic => "civic",
            Zoning::Agricultural => "agricultural",
            Zoning::Reserved => "reserved",
        }
    }

    pub fn parse(text: &str) -> Option<Zoning> {
        Zoning::ALL.into_iter().find(|z| z.as_str() == text)
    }
}

/// Who holds a parcel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Owner {
    /// Nobody yet.
    #[default]
    Unowned,
    /// A member of the nation, by public key (hex) and the name they last used.
    Member { key: String, name: String },
    /// A group such as "the treasury" or a housing cooperative.
    Group(String),
}

impl Owner {
    /// The owner as a person reads it.
    pub fn display(&self) -> String {
        match self {
            Owner::Unowned => "nobody".into(),
            Owner::Member { name, .. } => name.clone(),
            Owner::Group(name) => name.clone(),
        }
    }

    /// Whether `text` names this owner (case-insensitive name, or the key's first digits).
    pub fn matches(&self, text: &str) -> bool {
        let text = text.trim().to_lowercase();
        match self {
            Owner::Unowned => text == "nobody" || text == "unowned",
            Owner::Member { key, name } => {
                name.to_lowercase().contains(&text) || (text.len() >= 6 && key.starts_with(&text))
            }
            Owner::Group(name) => name.to_lowercase().contains(&text),
        }
    }
}

/// Whether a parcel is held, for sale, being crowdfunded, or kept back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ParcelStatus {
    Owned,
    /// Offered at a price, in whole dollars.
    ForSale {
        price: u64,
    },
    /// Members pledge towards the goal; `raised` is the sum pledged so far.
    Crowdfunding {
        goal: u64,
        raised: u64,
    },
    /// Kept back by the founders.
    Reserved,
}

impl ParcelStatus {
    /// The status's kind, for search and colours.
    pub fn kind(&self) -> StatusKind {
        match self {
            ParcelStatus::Owned => StatusKind::Owned,
            ParcelStatus::ForSale { .. } => StatusKind::ForSale,
            ParcelStatus::Crowdfunding { .. } => StatusKind::Crowdfunding,
            ParcelStatus::Reserved => StatusKind::Reserved,
        }
    }

    /// One line, e.g. "crowdfunding: $120,000 of $400,000 (30%)".
    pub fn display(&self) -> String {
        match self {
            ParcelStatus::Owned => "owned".into(),
            ParcelStatus::ForSale { price } => format!("for sale at {}", dollars(*price)),
            ParcelStatus::Crowdfunding { goal, raised } => format!(
                "crowdfunding: {} of {} ({}%)",
                dollars(*raised),
                dollars(*goal),
                percent(*raised, *goal)
            ),
            ParcelStatus::Reserved => "reserved".into(),
        }
    }
}

/// The kinds of [`ParcelStatus`], without their numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StatusKind {
    Owned,
    ForSale,
    Crowdfunding,
    Reserved,
}

impl StatusKind {
    pub const ALL: [StatusKind; 4] = [
        StatusKind::Owned,
        StatusKind::ForSale,
        StatusKind::Crowdfunding,
        StatusKind::Reserved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StatusKind::Owned => "owned",
            StatusKind::ForSale => "for-sale",
            StatusKind::Crowdfunding => "crowdfunding",
            StatusKind::Reserved => "reserved",
        }
    }

    pub fn parse(text: &str) -> Option<StatusKind> {
        StatusKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Percentage of `part` in `whole`, rounded down, for progress.
pub fn percent(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        0
    } else {
        (u128::from(part) * 100 / u128::from(whole)) as u64
    }
}

/// Whole dollars with thousands separators: `$1,250,000`.
pub fn dollars(amount: u64) -> String {
    let digits = amount.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("${out}")
}

/// The physical title behind a parcel: shown to members, withheld from visitors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Title {
    /// Street address of the real plot.
    pub address: String,
    pub latitude: f64,
    pub longitude: f64,
    /// SHA-256 of the deed or title document, hex.
    pub deed_hash: String,
}

/// A parcel's record in the registry, as the server keeps it and (less [`Title`] for
/// visitors) as clients receive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParcelInfo {
    pub id: String,
    /// The protocity whose island it lies on.
    pub protocity: String,
    pub owner: Owner,
    /// Area of the real plot.
    pub area_m2: u32,
    pub zoning: Zoning,
    pub status: ParcelStatus,
    /// The residency tier needed to build or live there.
    pub residency: Role,
    /// Whose law applies to the real plot.
    pub jurisdiction: String,
    /// Written by the owner.
    pub description: String,
    /// Bumped by every change; a change made against an older version is refused.
    pub version: u32,
    /// Unix seconds of the last change.
    pub updated_at: i64,
    /// `None` in what visitors receive.
    pub title: Option<Title>,
}

impl ParcelInfo {
    /// What a person of `role` may see of this record.
    pub fn seen_by(&self, role: Role) -> ParcelInfo {
        let mut view = self.clone();
        if role == Role::Visitor {
            view.title = None;
        }
        view
    }
}

/// One line of a parcel's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParcelChange {
    /// The version this change produced.
    pub version: u32,
    /// Unix seconds.
    pub at: i64,
    /// Who made it, by name ("world data" for the seed, "admin (CLI)" for the server's CLI).
    pub by: String,
    /// What changed, in words.
    pub what: String,
}

/// A status a founder can set. Crowdfunding starts at nothing raised unless the parcel was
/// already crowdfunding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatusChoice {
    Owned,
    ForSale { price: u64 },
    Crowdfunding { goal: u64 },
    Reserved,
}

/// Who a founder names as the new owner, before the server looks the name up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OwnerClaim {
    Unowned,
    /// A member, by exact name or full public key (hex).
    Member(String),
    Group(String),
}

/// A request about one parcel, as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParcelRequest {
    /// Founders: give the parcel to someone (or nobody).
    Assign {
        parcel: String,
        owner: OwnerClaim,
        /// The version the founder was looking at.
        expected_version: u32,
    },
    /// Founders: set status, price or goal.
    SetStatus {
        parcel: String,
        status: StatusChoice,
        expected_version: u32,
    },
    /// The owner (or a founder): rewrite the description.
    Describe {
        parcel: String,
        text: String,
        expected_version: u32,
    },
    /// Members: pledge dollars to a crowdfunding parcel.
    Pledge { parcel: String, amount: u64 },
    /// Anyone: send me this parcel's history.
    History { parcel: String },
}

impl ParcelRequest {
    pub fn parcel(&self) -> &str {
        match self {
            ParcelRequest::Assign { parcel, .. }
            | ParcelRequest::SetStatus { parcel, .. }
            | ParcelRequest::Describe { parcel, .. }
            | ParcelRequest::Pledge { parcel, .. }
            | ParcelRequest::History { parcel } => parcel,
        }
    }

    /// The version the sender saw, for changes that must not overwrite someone else's.
    pub fn expected_version(&self) -> Option<u32> {
        match self {
            ParcelRequest::Assign {
                expected_version, ..
            }
            | ParcelRequest::SetStatus {
                expected_version, ..
            }
            | ParcelRequest::Describe {
                expected_version, ..
            } => Some(*expected_version),
            ParcelRequest::Pledge { .. } | ParcelRequest::History { .. } => None,
        }
    }
}

/// A change with its owner already resolved, ready for [`apply_change`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Assign(Owner),
    SetStatus(StatusChoice),
    Describe(String),
    Pledge(u64),
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Public key (hex); `None` for the server's own CLI.
    pub key: Option<String>,
    pub name: String,
    pub role: Role,
}

impl Actor {
    /// The operator at the server's command line, who holds founder powers.
    pub fn admin() -> Actor {
        Actor {
            key: None,
            name: "admin (CLI)".into(),
            role: Role::Founder,
        }
    }
}

/// What the server tells clients about the land registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ParcelNews {
    /// Every parcel of the registry, as this client may see it; sent after login.
    All(Vec<ParcelInfo>),
    /// A parcel changed (by anyone); replaces the client's copy.
    Changed(ParcelInfo),
    /// A parcel's history, oldest first, as asked for.
    History {
        parcel: String,
        changes: Vec<ParcelChange>,
    },
    /// The outcome of this client's parcel request: what was done, or why not.
    Answer {
        parcel: String,
        outcome: Result<String, ParcelRefusal>,
    },
}

/// Why a parcel request was refused. It goes to whoever asked as it is
/// ([`ParcelNews::Answer`]); its `Display` is the one place that puts it into words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ParcelRefusal {
    #[error("there is no parcel `{0}`")]
    UnknownParcel(String),
    #[error(
        "no member is called `{0}` (give their name, or their key's first 16 or more hex digits)"
    )]
    UnknownMember(String),
    #[error("`{0}` matches several members; give more of their public key")]
    AmbiguousMember(String),
    #[error("only founders can {action}; you are a {role}")]
    FoundersOnly { action: ParcelAct, role: Role },
    #[error("only the parcel's owner or a founder can edit its description")]
    NotOwner,
    #[error("visitors cannot pledge; ask a founder to make you a member")]
    VisitorPledge,
    #[error("parcel `{0}` is not crowdfunding")]
    NotCrowdfunding(String),
    #[error("parcel `{0}` has reached its goal; it needs no more pledges")]
    FullyFunded(String),
    #[error("a goal of {goal} is below the {raised} already pledged")]
    GoalBelowRaised { goal: String, raised: String },
    #[error("{what} must be between $1 and {max}, not {value}")]
    AmountOutOfRange {
        what: Amount,
        value: u64,
        max: String,
    },
    #[error("the description is {chars} characters; at most {max} fit")]
    DescriptionTooLong { chars: usize, max: usize },
    #[error("the description may not contain control characters")]
    DescriptionControlCharacters,
    #[error("a group's name must be 1 to {max} characters")]
    BadGroupName { max: usize },
    #[error("a parcel nobody holds cannot be marked owned; assign an owner first")]
    OwnedWithoutOwner,
    #[error("nothing to change: the parcel is already so")]
    NoChange,
    #[error(
        "parcel `{parcel}` was changed by someone else meanwhile (you saw version {seen}, it is \
         now {now}); look at it again and retry"
    )]
    Conflict { parcel: String, seen: u32, now: u32 },
    #[error("too many parcel requests; wait a moment")]
    TooFast,
    #[error("the land registry is unavailable; try again shortly")]
    Unavailable,
    #[error("the server is busy; try again in a moment")]
    Busy,
}

/// What only founders may do to parcels, as a refusal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParcelAct {
    Assign,
    SetStatus,
}

impl fmt::Display for ParcelAct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParcelAct::Assign => "assign or transfer parcels",
            ParcelAct::SetStatus => "change a parcel's status",
        })
    }
}

/// An amount of money a request names, as a refusal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Amount {
    Price,
    Goal,
    Pledge,
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Amount::Price => "a price",
            Amount::Goal => "a crowdfunding goal",
            Amount::Pledge => "a pledge",
        })
    }
}

/// Checks `change` against the rules and the actor's role and returns the record it produces,
/// with the words the history records. Does not bump the version or the time: the registry
/// does that when it stores the result.
pub fn apply_change(
    record: &ParcelInfo,
    actor: &Actor,
    change: &Change,
) -> Result<(ParcelInfo, String), ParcelRefusal> {
    let mut next = record.clone();
    let what = match change {
        Change::Assign(owner) => {
            may_assign(actor)?;
            if let Owner::Group(name) = owner
                && !(1..=MAX_GROUP_CHARS).contains(&name.trim().chars().count())
            {
                return Err(ParcelRefusal::BadGroupName {
                    max: MAX_GROUP_CHARS,
                });
            }
            if *owner == record.owner {
                return Err(ParcelRefusal::NoChange);
            }
            next.owner = owner.clone();
            let mut what = format!("owner: {} → {}", record.owner.display(), owner.display());
            if *owner == Owner::Unowned && record.status == ParcelStatus::Owned {
                next.status = ParcelStatus::Reserved;
                what.push_str("; status: owned → reserved");
            }
            what
        }
        Change::SetStatus(choice) => {
            may_set_status(actor)?;
            let status = match *choice {
                StatusChoice::Owned => {
                    if record.owner == Owner::Unowned {
                        return Err(ParcelRefusal::OwnedWithoutOwner);
                    }
                    ParcelStatus::Owned
                }
                StatusChoice::ForSale { price } => {
                    check_amount(Amount::Price, price, MAX_PRICE)?;
                    ParcelStatus::ForSale { price }
                }
                StatusChoice::Crowdfunding { goal } => {
                    check_amount(Amount::Goal, goal, MAX_PRICE)?;
                    let raised = match record.status {
                        ParcelStatus::Crowdfunding { raised, .. } => raised,
                        _ => 0,
                    };
                    // What members pledged stays pledged: the goal cannot fall below it.
                    if goal < raised {
                        return Err(ParcelRefusal::GoalBelowRaised {
                            goal: dollars(goal),
                            raised: dollars(raised),
                        });
                    }
                    ParcelStatus::Crowdfunding { goal, raised }
                }
                StatusChoice::Reserved => ParcelStatus::Reserved,
            };
            if status == record.status {
                return Err(ParcelRefusal::NoChange);
            }
            next.status = status;
            format!("status: {} → {}", record.status.display(), status.display())
        }
        Change::Describe(text) => {
            let own = matches!(&record.owner, Owner::Member { key, .. } if Some(key) == actor.key.as_ref());
            if !own && actor.role != Role::Founder {
                return Err(ParcelRefusal::NotOwner);
            }
            let text = check_description(text)?;
            if text == record.description {
                return Err(ParcelRefusal::NoChange);
            }
            next.description = text;
            "description rewritten".into()
        }
        Change::Pledge(amount) => {
            if actor.role == Role::Visitor {
                return Err(ParcelRefusal::VisitorPledge);
            }
            check_amount(Amount::Pledge, *amount, MAX_PLEDGE)?;
            let ParcelStatus::Crowdfunding { goal, raised } = record.status else {
                return Err(ParcelRefusal::NotCrowdfunding(record.id.clone()));
            };
            // Nobody pledges past the goal: a pledge takes what the goal still needs.
            let needed = goal.saturating_sub(raised);
            if needed == 0 {
                return Err(ParcelRefusal::FullyFunded(record.id.clone()));
            }
            let taken = (*amount).min(needed);
            let raised = raised + taken;
            next.status = ParcelStatus::Crowdfunding { goal, raised };
            let offered = if taken < *amount {
                format!(
                    " (of {} offered: the goal needed no more)",
                    dollars(*amount)
                )
            } else {
                String::new()
            };
            format!(
                "pledged {}{offered}; raised {} of {} ({}%)",
                dollars(taken),
                dollars(raised),
                dollars(goal),
                percent(raised, goal)
            )
        }
    };
    Ok((next, what))
}

/// Whether the actor may assign or transfer parcels at all (founders only).
pub fn may_assign(actor: &Actor) -> Result<(), ParcelRefusal> {
    founders_only(actor, ParcelAct::Assign)
}

/// Whether the actor may set statuses, prices and goals (founders only).
pub fn may_set_status(actor: &Actor) -> Result<(), ParcelRefusal> {
    founders_only(actor, ParcelAct::SetStatus)
}

fn founders_only(actor: &Actor, action: ParcelAct) -> Result<(), ParcelRefusal> {
    if actor.role == Role::Founder {
        Ok(())
    } else {
        Err(ParcelRefusal::FoundersOnly {
            action,
            role: actor.role,
        })
    }
}

fn check_amount(what: Amount, value: u64, max: u64) -> Result<(), ParcelRefusal> {
    if (1..=max).contains(&value) {
        Ok(())
    } else {
        Err(ParcelRefusal::AmountOutOfRange {
            what,
            value,
            max: dollars(max),
        })
    }
}

/// A description as it will be stored: trimmed, within the length limit, no control
/// characters other than line breaks.
pub fn check_description(text: &str) -> Result<String, ParcelRefusal> {
    let text = text.trim();
    let chars = text.chars().count();
    if chars > MAX_DESCRIPTION_CHARS {
        return Err(ParcelRefusal::DescriptionTooLong {
            chars,
            max: MAX_DESCRIPTION_CHARS,
        });
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ParcelRefusal::DescriptionControlCharacters);
    }
    Ok(text.to_owned())
}

/// A search over the registry: by id or owner text, status and protocity. Used by the atlas's
/// search box and the admin CLI, so both find the same parcels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParcelFilter {
    /// Matches part of the id, or the owner's name (or key prefix); empty matches all.
    pub text: String,
    pub status: Option<StatusKind>,
    pub protocity: Option<String>,
}

impl ParcelFilter {
    pub fn matches(&self, parcel: &ParcelInfo) -> bool {
        let text = self.text.trim().to_lowercase();
        let text_ok = text.is_empty() || parcel.id.contains(&text) || parcel.owner.matches(&text);
        text_ok
            && self.status.is_none_or(|s| parcel.status.kind() == s)
            && self
                .protocity
                .as_ref()
                .is_none_or(|p| *p == parcel.protocity)
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC` (the proleptic Gregorian calendar).
pub fn utc_date_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3_600,
        rest % 3_600 / 60
    )
}
