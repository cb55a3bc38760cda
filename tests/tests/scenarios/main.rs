//! Scenario tests: a real server and real clients over QUIC on loopback, one module per
//! behaviour. They live in one test binary so that the server, the client with its renderer,
//! bevy and lightyear are linked once, not once per file.

mod a_crowd_in_one_place;
mod a_lossy_link;
mod a_narrow_path;
mod bots_fill_the_world;
mod certificates;
mod clock;
mod failures_are_explained;
mod floods_do_not_hold_up_the_vote;
mod governance_durability;
mod hostile_packets;
mod identity_and_roles;
mod looks_and_gestures;
mod metrics;
mod moderation;
mod places_are_kept;
mod recognition;
mod screenshot;
mod shutdown;
mod two_clients_share_the_world;
mod voice;
