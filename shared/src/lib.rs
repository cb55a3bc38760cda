//! What the Archipelago server and client must agree on: the wire protocol, the world data and
//! its validation, the movement rule, the identity rules, land, governance, chat, assemblies, events and the nation's standing.

pub mod assembly;
pub mod budget;
pub mod chat;
pub mod clock;
pub mod events;
pub mod governance;
pub mod identity;
pub mod movement;
pub mod parcels;
pub mod protocol;
pub mod recognition;
pub mod tours;
pub mod world;
