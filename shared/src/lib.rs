//! What the Archipelago server and client must agree on: the wire protocol, the world data and
//! its validation, the movement rule, the identity rules, land, governance, chat, assemblies, events and the nation's standing.

pub mod budget;
pub mod clock;
pub mod crowd;
pub mod identity;
pub mod movement;
#[macro_use]
pub mod protocol;
pub mod tours;
pub mod voice;
pub mod world;

// Each feature's shared types, declared from the wire's list of features (protocol.rs).
feature_modules!();
