//! Scenario tests: a real server and real clients over QUIC on loopback, one module per
//! behaviour. They live in one test binary so that the server, the client with its renderer,
//! bevy and lightyear are linked once, not once per file.

mod a_lossy_link;
mod a_narrow_path;
mod assembly_procedure;
mod bots_fill_the_world;
mod certificates;
mod chat;
mod clock;
mod events;
mod failures_are_explained;
mod floods_do_not_hold_up_the_vote;
mod governance_clock;
mod governance_durability;
mod governance_in_the_hall;
mod governance_refusals;
mod hall_cohorts;
mod halls_are_rooms;
mod hostile_packets;
mod identity_and_roles;
mod metrics;
mod moderation;
mod names_are_held_by_one_key;
mod overflow;
mod parcel_registry;
mod parcels_live;
mod places_are_kept;
mod recognition;
mod rules_are_enforced;
mod screenshot;
mod shutdown;
mod two_clients_share_the_world;
