//! Visitors flooding founder-only requests while members vote: the floods are refused before
//! they reach the database, and every ballot is stored and acknowledged. (How fast the
//! acknowledgements come under this load is measured by `tests/bench/flood.sh`, recorded in
//! BENCHMARKS.md.)

use std::time::Duration;

use archipelago_client::bots::{Behaviour, SwarmConfig, Voting, bot_key, bot_name, run_swarm};
use archipelago_client::identity::ephemeral;
use archipelago_shared::governance::GovernanceRequest;
use archipelago_shared::governance::Phase;
use archipelago_shared::protocol::Role;
use archipelago_tests::{
    TestClient, TestServer, create_proposal, enter_world, wait_until, world, yes_no_draft,
};

const VOTERS: usize = 16;
const FLOODERS: usize = 16;
const SEED: u64 = 31;

#[test]
fn visitors_flooding_founder_requests_do_not_cost_a_members_ballot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(dir.path());
    for i in 0..VOTERS {
        let key = bot_key(SEED, i);
        server.register(&key, &bot_name(i, &key.verifying_key()), Role::Member);
    }
    let founder_key = ephemeral();
    server.register(&founder_key, "Fay", Role::Founder);
    let mut fay = TestClient::new(server.client_config("Fay", founder_key));
    enter_world(&mut fay);
    let id = create_proposal(&mut fay, yes_no_draft("Open the harbour at night?"));
    fay.govern(GovernanceRequest::Open(id));
    let opened = wait_until(&mut [&mut fay], Duration::from_secs(5), |c| {
        c[0].proposal(id)
            .is_some_and(|v| v.proposal.phase == Phase::Open)
    });
    assert!(opened, "the proposal opens");

    let swarm = |count: usize, seed: u64, voting: Option<Voting>, flood: bool| SwarmConfig {
        template: server.client_config("", ephemeral()),
        count,
        duration: Duration::from_secs(20),
        rate_hz: 30.0,
        seed,
        behaviour: Behaviour::Gather,
        voting,
        flood,
        stable_keys: voting.is_some(),
        stop: Default::default(),
        voice: Default::default(),
        hall_capacity: None,
        // The voters are light bots (one App for all): their ballots are the game's own.
        light: voting.is_some(),
        plain: false,
    };
    let flooders = swarm(FLOODERS, SEED + 1000, None, true);
    let voters = swarm(
        VOTERS,
        SEED,
        Some(Voting {
            proposal: id,
            every: Duration::from_secs(2),
        }),
        false,
    );
    let flooding = std::thread::spawn(move || run_swarm(&flooders, &world()));
    let voting = std::thread::spawn(move || run_swarm(&voters, &world()));
    // The founder stays connected meanwhile.
    wait_until(&mut [&mut fay], Duration::from_secs(60), |_| {
        flooding.is_finished() && voting.is_finished()
    });
    let voted = voting.join().expect("the voters' thread");
    let flooded = flooding.join().expect("the flooders' thread");
    println!(
        "voters: {}",
        serde_json::to_string_pretty(&voted).unwrap_or_default()
    );
    println!(
        "flooders: {}",
        serde_json::to_string_pretty(&flooded).unwrap_or_default()
    );

    assert!(
        flooded.requests_flooded as usize >= FLOODERS * 100,
        "the visitors flooded: {} requests",
        flooded.requests_flooded
    );
    assert_eq!(voted.errors, Vec::<String>::new(), "no voter failed");
    assert_eq!(voted.connected, VOTERS);
    assert!(
        voted.ballots_sent as usize >= VOTERS,
        "every voter voted: {} ballots",
        voted.ballots_sent
    );
    assert_eq!(
        (voted.ballots_acked, voted.ballots_refused),
        (voted.ballots_sent, 0),
        "every ballot was stored and acknowledged, none refused (busy or unavailable)"
    );

    // Nothing the visitors asked for happened, and every voter is counted.
    let counted = wait_until(&mut [&mut fay], Duration::from_secs(5), |c| {
        c[0].proposal(id)
            .is_some_and(|v| v.turnout as usize == VOTERS)
    });
    let view = fay.proposal(id).expect("the proposal");
    assert!(
        counted,
        "every voter is counted once: turnout {}",
        view.turnout
    );
    assert_eq!(view.proposal.phase, Phase::Open, "no visitor closed it");
    server.stop();
}
