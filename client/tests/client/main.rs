//! The client's logic without a window, one module per subject, in one test binary so the
//! renderer and its dependencies are linked once.

mod picking;
mod tours;
mod world_map;
