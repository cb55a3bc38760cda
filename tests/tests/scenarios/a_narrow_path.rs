//! A founder whose network path carries UDP datagrams of 1232 bytes at most: IPv6's minimum
//! MTU, as through many VPNs and tunnels. QUIC works there, so Archipelago must too: all that
//! comes at login arrives, and so does a long proposal, both ways.

use std::time::Duration;

use archipelago_client::connection::ConnectionState;
use archipelago_client::identity::ephemeral;
use archipelago_client::parcels::ParcelBook;
use archipelago_shared::governance::MAX_BODY_CHARS;
use archipelago_shared::protocol::{LINK_MTU, Role};
use archipelago_tests::relay::{Impairment, LossyRelay};
use archipelago_tests::{TestClient, TestServer, create_proposal, wait_until, yes_no_draft};

#[test]
fn a_path_with_the_smallest_mtu_carries_the_login_and_a_long_proposal_both_ways() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(dir.path());
    let relay = LossyRelay::start(server.addr, Impairment::narrow());
    let key = ephemeral();
    server.register(&key, "Ada", Role::Founder);
    let mut config = server.client_config("Ada", key);
    config.relay = Some(relay.addr);
    let mut ada = TestClient::new(config);

    // The land registry, the proposals and the standing are each larger than one packet.
    let entered = wait_until(&mut [&mut ada], Duration::from_secs(30), |c| {
        c[0].state() == ConnectionState::InWorld
            && c[0].own_pose().is_some()
            && c[0].app.world().resource::<ParcelBook>().loaded
            && c[0].governance().loaded
            && c[0].standing().is_some()
    });
    assert!(
        entered,
        "Ada logs in over the narrow path: {:?}, own avatar {:?}, parcels {}, proposals {}, \
         standing {}",
        ada.state(),
        ada.own_pose(),
        ada.app.world().resource::<ParcelBook>().loaded,
        ada.governance().loaded,
        ada.standing().is_some()
    );

    // A charter as long as a proposal may be, in a script of two and three bytes a letter:
    // seven of our packets up, and as many down when it comes back.
    let mut draft = yes_no_draft("Adopt the harbour charter?");
    draft.body = "Ἀρχιπέλαγος, ὁ λιμήν. "
        .chars()
        .cycle()
        .take(MAX_BODY_CHARS)
        .collect();
    assert!(
        draft.body.len() > 6 * LINK_MTU,
        "{} bytes",
        draft.body.len()
    );
    let body = draft.body.clone();
    let id = create_proposal(&mut ada, draft);
    assert_eq!(
        ada.proposal(id).map(|v| v.proposal.draft.body),
        Some(body),
        "the charter came back whole"
    );
    server.stop();
}
