//! Logging in over the in-process link: the session, the login gate and arrival.

use archipelago_shared::protocol::Role;
use archipelago_tests::sim::Sim;

#[test]
fn a_founder_and_a_visitor_log_in_and_the_server_knows_who_they_are() {
    let mut sim = Sim::new();
    let fay = sim.join("Fay", Some(Role::Founder));
    let vic = sim.join("Vic", None);
    sim.enter_world(&[fay, vic]);
    let on_server = |i| sim.logged_in(i).map(|m| (m.name, m.role));
    assert_eq!(on_server(fay), Some(("Fay".into(), Role::Founder)));
    assert_eq!(on_server(vic), Some(("Vic".into(), Role::Visitor)));
    assert_eq!(sim.clients[fay].session().role, Some(Role::Founder));
    assert_eq!(sim.clients[vic].session().role, Some(Role::Visitor));
}
