//! What the Archipelago server and client must agree on: the wire protocol, the world data and
//! its validation, the movement rule and the identity rules.

pub mod identity;
pub mod movement;
pub mod protocol;
pub mod world;
