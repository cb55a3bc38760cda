//! Parts of the `archipelago-server` command line that are big enough for their own file.
//! Compiled into the binary only, never into the server library.

pub mod assembly;
pub mod proposals;
pub mod recognition;
