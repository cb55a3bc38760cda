//! Chat: what people say to the place they are in, to those near them, or to one person.
//! The server checks every line ([`check_text`], a rate budget) and decides who hears it.

use serde::{Deserialize, Serialize};

use crate::protocol::Role;

/// Longest line, in characters.
pub const MAX_CHAT_CHARS: usize = 300;
/// Lines per second a person may send, on average, and in a burst.
pub const CHAT_LINES_PER_SECOND: f32 = 1.0;
pub const CHAT_BURST: f32 = 5.0;
/// How far (metres) "nearby" carries, within the same place.
pub const NEARBY_RANGE: f32 = 12.0;

/// Who a line is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatTo {
    /// Everyone in the sender's place: the town hall they are in, or their island's grounds.
    Place,
    /// Everyone within [`NEARBY_RANGE`] in the same place.
    Nearby,
    /// One person online, by display name.
    Direct(String),
}

/// A line as everyone who hears it receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    pub from: String,
    pub role: Role,
    /// How it was sent: for [`ChatTo::Place`] the place's name, for [`ChatTo::Direct`] the
    /// recipient's name.
    pub to: ChatHeard,
    pub text: String,
    /// Unix seconds, server time.
    pub at: i64,
}

/// How a received line reached its reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatHeard {
    Place(String),
    Nearby,
    Direct { to: String },
}

/// What the server tells clients about chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatNews {
    /// A chat line this client hears (its own included).
    Line(ChatLine),
    /// Why this client's chat line was not sent.
    Refused(ChatRefusal),
}

/// Why a line was not sent. It goes to the sender as it is ([`ChatNews::Refused`]), so
/// clients and tests tell refusals apart by variant; its `Display` is the one place that puts
/// it into words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ChatRefusal {
    #[error("say something first")]
    Empty,
    #[error("a line may be at most {MAX_CHAT_CHARS} characters; yours has {0}")]
    TooLong(usize),
    #[error("you are sending lines too fast; wait a moment")]
    TooFast,
    #[error("nobody called `{0}` is online")]
    NobodyCalled(String),
    #[error("walk into the world before chatting")]
    NotInWorld,
    /// Muted by a moderator, for how long and why.
    #[error("you are muted{0}")]
    Muted(crate::assembly::SanctionTerms),
}

/// The line as it will be shown: trimmed, control characters removed; or why it cannot be.
pub fn check_text(text: &str) -> Result<String, ChatRefusal> {
    let clean: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let length = clean.chars().count();
    if length == 0 {
        return Err(ChatRefusal::Empty);
    }
    if length > MAX_CHAT_CHARS {
        return Err(ChatRefusal::TooLong(length));
    }
    Ok(clean)
}
