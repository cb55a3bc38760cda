//! The shared rules without a server or a window, one module per subject, in one test binary
//! so the dependencies are linked once.

mod ballots;
mod events;
mod identity;
mod kiosks;
mod movement;
mod parcels;
mod places;
mod procedure;
mod properties;
mod protocol;
mod recognition;
mod tallies;
mod tours;
mod world_data;
