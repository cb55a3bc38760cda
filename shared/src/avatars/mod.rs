//! How people look and what they do with their bodies: an appearance of their own
//! ([`appearance`]), kept by the server with their key; short gestures, told as events to
//! those who can see them; and sitting on a town hall's seats.
//!
//! Who someone is and how they look travel together in the roster
//! ([`crate::crowd::RosterEntry`]), so a change reaches everyone who sees them with the next
//! roster pass. Gestures are not state: the server gathers them and, five times a second,
//! sends each client one [`AvatarNews::Gestured`] with those in its sight, each drawn for
//! [`Gesture::seconds`].

pub mod appearance;

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

pub use appearance::{APPEARANCE_VERSION, Appearance, BadAppearance, Part};

use crate::crowd::CrowdId;

/// Appearance changes a person may make per second over time, and in a burst: enough to try a
/// few looks in a row, not to strobe.
pub const APPEARANCE_CHANGES_PER_SECOND: f32 = 0.2;
pub const APPEARANCE_CHANGE_BURST: f32 = 3.0;
/// Gestures (sitting and standing among them) a person may make per second over time, and in
/// a burst. More are refused.
pub const GESTURES_PER_SECOND: f32 = 1.0;
pub const GESTURE_BURST: f32 = 4.0;

/// On an avatar: how it looks now, and whether it sits.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Look {
    pub appearance: Appearance,
    pub seated: bool,
}

/// A short movement of the body, seen by everyone in sight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Gesture {
    Wave,
    /// In a hall, many clapping at once reads as applause.
    Clap,
    Cheer,
    Point,
}

impl Gesture {
    pub const ALL: [Gesture; 4] = [Gesture::Wave, Gesture::Clap, Gesture::Cheer, Gesture::Point];

    /// How long it is drawn.
    pub fn seconds(self) -> f32 {
        match self {
            Gesture::Wave => 2.4,
            Gesture::Clap => 3.0,
            Gesture::Cheer => 2.0,
            Gesture::Point => 2.5,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Gesture::Wave => "wave",
            Gesture::Clap => "clap",
            Gesture::Cheer => "cheer",
            Gesture::Point => "point",
        }
    }

    pub fn parse(text: &str) -> Option<Gesture> {
        Gesture::ALL.into_iter().find(|g| g.as_str() == text)
    }
}

/// Asked of the server by a client, about its own avatar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AvatarRequest {
    /// Wear this look from now on, here and on any machine.
    SetAppearance(Appearance),
    Gesture(Gesture),
    /// Sit on the free seat nearest to me, in the town hall I stand in.
    Sit,
    /// Get up (walking or jumping does it too).
    Stand,
}

/// What the server tells a client about avatars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AvatarNews {
    /// The client's own look as the server keeps it: after login and after each change.
    /// `chosen` is false for the look a key wears until its owner picks one (the client
    /// offers the editor).
    Yours {
        appearance: Appearance,
        chosen: bool,
    },
    /// People in sight made these gestures (the client's own among them): those of the last
    /// fifth of a second in one message, so a hall's applause is a few messages a second per
    /// listener, not one per clap.
    Gestured(Vec<(CrowdId, Gesture)>),
    /// A request was not done.
    Refused(AvatarRefusal),
}

/// Why an avatar request was not done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AvatarRefusal {
    #[error("that look was refused, and your old one kept: {0}")]
    BadAppearance(BadAppearance),
    #[error("you changed your look a moment ago; wait a few seconds before the next change")]
    TooManyChanges,
    #[error("too many gestures; wait a moment")]
    TooManyGestures,
    #[error("there are seats only in a town hall")]
    NotInHall,
    #[error("every seat in this hall is taken")]
    NoFreeSeat,
    #[error("your look could not be saved just now; try again")]
    Unavailable,
}
