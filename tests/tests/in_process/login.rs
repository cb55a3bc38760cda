//! Logging in over the in-process link: the session, the login gate and arrival.

use archipelago_shared::protocol::Role;
use archipelago_tests::enter_world_together;
use archipelago_tests::sim::SimServer;

#[test]
fn a_founder_and_a_visitor_log_in_and_the_server_knows_who_they_are() {
    let server = SimServer::start();
    let mut fay = server.join("Fay", Some(Role::Founder));
    let mut vic = server.join("Vic", None);
    enter_world_together(&mut [&mut fay, &mut vic]);
    let on_server = |c| server.logged_in(c).map(|m| (m.name, m.role));
    assert_eq!(on_server(&fay), Some(("Fay".into(), Role::Founder)));
    assert_eq!(on_server(&vic), Some(("Vic".into(), Role::Visitor)));
    assert_eq!(fay.session().role, Some(Role::Founder));
    assert_eq!(vic.session().role, Some(Role::Visitor));
}
