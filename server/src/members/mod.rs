//! The member registry: who is who (a key, a unique display name, a role), stored in the
//! database and followed live while people are online.

pub mod cli;
pub mod roles;
pub mod storage;

use bevy::prelude::*;

pub use storage::Member;
pub(crate) use storage::members_named;

pub(crate) fn plugin(app: &mut App) {
    app.add_plugins(roles::plugin);
}
