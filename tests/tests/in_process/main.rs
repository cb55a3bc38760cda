//! Rule scenarios on a server and clients in one process (tests/src/sim.rs): no network,
//! game time stepped by hand, run in parallel. What depends on the transport stays in
//! tests/tests/scenarios, over real QUIC.

mod login;
