//! Scenarios without a network, run in parallel: rules on a server and clients in one process
//! (tests/src/sim.rs), game time stepped by hand, and the database's own rules against a real
//! SQLite file. What depends on the transport stays in tests/tests/scenarios, over real QUIC.

mod assembly_procedure;
mod chat;
mod events;
mod governance_clock;
mod governance_in_the_hall;
mod governance_refusals;
mod hall_cohorts;
mod halls_are_rooms;
mod identity_and_roles;
mod login;
mod moderation;
mod names_are_held_by_one_key;
mod overflow;
mod parcel_registry;
mod parcels_live;
mod prediction;
mod recognition;
mod rules_are_enforced;
mod voice;
