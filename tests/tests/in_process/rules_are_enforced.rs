//! The server is the authority: impossible input is clamped, bad requests get a clear answer.

use std::time::Duration;

use archipelago_client::connection::{ConnectionState, Request};
use archipelago_client::control::{ControlSystems, NextInput};
use archipelago_client::identity::ephemeral;
use archipelago_shared::identity::{LoginError, LoginRefusal, NameError};
use archipelago_shared::movement::RUN_SPEED;
use archipelago_shared::protocol::{RequestRefusal, ToServer};
use archipelago_tests::sim::SimServer;
use archipelago_tests::{TestClient, enter_world, wait_until, world};
use bevy::prelude::*;

/// A cheating client: after the honest input is written, it asks for 20 times running speed.
fn cheat(mut next: ResMut<NextInput>) {
    next.0.direction = Vec2::new(20.0, 0.0);
    next.0.run = true;
}

/// Whether the client has been told something containing `text`.
/// The requests the server refused this client, oldest first.
fn refusals(client: &TestClient) -> Vec<RequestRefusal> {
    let session = client.session();
    session.refusals.into_iter().map(|(_, r)| r).collect()
}

#[test]
fn a_client_sending_impossible_speed_moves_only_as_fast_as_the_rules_allow() {
    let server = SimServer::start();
    let mut cheater = server.client("Speedy", ephemeral());
    cheater.app.add_systems(
        FixedUpdate,
        cheat
            .after(ControlSystems::Input)
            .before(ControlSystems::Predict),
    );
    let mut watcher = server.client("Watcher", ephemeral());
    enter_world(&mut cheater);
    enter_world(&mut watcher);
    assert!(wait_until(
        &mut [&mut cheater, &mut watcher],
        Duration::from_secs(5),
        |c| c[1].other("Speedy").is_some()
    ));

    // The window opens once the cheater is seen moving: its first inputs reach the server
    // only when its input timeline has synced, which on a loaded machine takes a moment.
    let spawn = watcher
        .other("Speedy")
        .expect("watcher sees the cheater")
        .position;
    let moving = wait_until(
        &mut [&mut cheater, &mut watcher],
        Duration::from_secs(10),
        |c| {
            c[1].other("Speedy").is_some_and(|p| {
                Vec2::new(p.position.x - spawn.x, p.position.z - spawn.z).length() > 0.2
            })
        },
    );
    assert!(moving, "the cheater's inputs reach the server");
    let start = watcher.other("Speedy").expect("still there").position;
    let seconds = 1.5;
    wait_until(
        &mut [&mut cheater, &mut watcher],
        Duration::from_secs_f32(seconds),
        |_| false,
    );
    let end = watcher.other("Speedy").expect("still there").position;
    let moved = Vec2::new(end.x - start.x, end.z - start.z).length();
    // Allow for replication delay at either end of the window.
    let allowed = RUN_SPEED * (seconds + 0.5);
    assert!(moved > 1.0, "the cheater did move ({moved} m)");
    assert!(
        moved <= allowed,
        "moved {moved} m in {seconds} s; the rules allow at most {allowed} m"
    );
}

#[test]
fn an_invalid_name_is_refused_with_a_reason() {
    let server = SimServer::start();
    let mut client = server.client("<script>", ephemeral());
    let refused = wait_until(&mut [&mut client], Duration::from_secs(15), |c| {
        c[0].state().is_failed()
    });
    assert!(refused, "the login is refused");
    let ConnectionState::Failed { reason } = client.state() else {
        unreachable!()
    };
    assert!(
        reason.contains("invalid name"),
        "the person reads the problem: {reason}"
    );
    assert_eq!(
        client.session().refused,
        Some(LoginRefusal::Login(LoginError::BadName(
            NameError::BadCharacter
        )))
    );

    let long = "x".repeat(100_000);
    let mut client = server.client(&long, ephemeral());
    let refused = wait_until(&mut [&mut client], Duration::from_secs(15), |c| {
        c[0].state().is_failed()
    });
    assert!(
        refused,
        "an oversized name is refused: {:?}",
        client.state()
    );

    // The server is unharmed: a well-behaved client still gets in.
    let mut fine = server.client("Fine", ephemeral());
    enter_world(&mut fine);
}

#[test]
fn unknown_teleport_targets_and_bad_requests_get_a_notice() {
    let server = SimServer::start();
    let mut client = server.client("Curious", ephemeral());
    enter_world(&mut client);
    let requests = [
        ToServer::Teleport {
            protocity: "atlantis".into(),
        },
        ToServer::Teleport {
            protocity: "y".repeat(5000),
        },
        ToServer::Login {
            protocol_version: 1,
            name: "Again".into(),
            public_key: [0; 32],
            signature: vec![],
        },
    ];
    for request in requests {
        client.app.world_mut().write_message(Request(request));
    }
    let told = wait_until(&mut [&mut client], Duration::from_secs(5), |c| {
        refusals(c[0]).len() >= 3
    });
    let refused = refusals(&client);
    assert!(told, "three refusals arrive, got {refused:?}");
    // Each is answered by the part of the server that handles it, in its own order.
    for expected in [
        RequestRefusal::UnknownProtocity("atlantis".into()),
        RequestRefusal::IdTooLong,
        RequestRefusal::AlreadyLoggedIn,
    ] {
        assert!(refused.contains(&expected), "{expected:?} in {refused:?}");
    }
    let notices = client.session().notices;
    assert!(
        notices
            .iter()
            .any(|(_, n)| n == "there is no protocity `atlantis`"),
        "and the person reads each: {notices:?}"
    );
    assert_eq!(
        client.state(),
        ConnectionState::InWorld,
        "the client stays in the world"
    );

    // Teleport flooding is refused too.
    for _ in 0..6 {
        client.request(ToServer::Teleport {
            protocity: "meridian".into(),
        });
    }
    let limited = wait_until(&mut [&mut client], Duration::from_secs(5), |c| {
        refusals(c[0]).contains(&RequestRefusal::TooManyTeleports)
    });
    assert!(limited, "a teleport flood is rate limited");
}

#[test]
fn a_flood_of_requests_is_dropped_with_one_notice_and_others_are_still_served() {
    let server = SimServer::start();
    let mut flooder = server.client("Flood", ephemeral());
    let mut neighbour = server.client("Calm", ephemeral());
    enter_world(&mut flooder);
    enter_world(&mut neighbour);

    // 500 requests in one frame, each of which would be answered with a notice of its own.
    for _ in 0..500 {
        flooder.request(ToServer::Teleport {
            protocity: "atlantis".into(),
        });
    }
    let told = wait_until(
        &mut [&mut flooder, &mut neighbour],
        Duration::from_secs(5),
        |c| {
            refusals(c[0])
                .iter()
                .any(|r| matches!(r, RequestRefusal::Flood { .. }))
        },
    );
    // Whatever else was in flight arrives meanwhile.
    wait_until(
        &mut [&mut flooder, &mut neighbour],
        Duration::from_secs(1),
        |_| false,
    );
    let refused = refusals(&flooder);
    assert!(told, "the flooder is told: {:?}", refused.last());
    let atlantis = RequestRefusal::UnknownProtocity("atlantis".into());
    let answered = refused.iter().filter(|r| **r == atlantis).count();
    let flood: Vec<u32> = refused
        .iter()
        .filter_map(|r| match r {
            RequestRefusal::Flood { dropped } => Some(*dropped),
            _ => None,
        })
        .collect();
    // The burst allowance is 60; a little more refills while the flood arrives.
    assert!(
        (1..=80).contains(&answered),
        "only the burst allowance is read and answered, not all 500: {answered}"
    );
    // One notice, or one more if the flood took frames spread over two seconds to arrive.
    assert!(
        (1..=2).contains(&flood.len()),
        "one notice for the flood: {flood:?}"
    );
    assert_eq!(
        flood.iter().sum::<u32>() as usize,
        500 - answered,
        "the notices say how many were dropped: {flood:?}"
    );
    assert_eq!(flooder.state(), ConnectionState::InWorld, "still connected");

    // The neighbour is served as usual, and so is the flooder once it calms down.
    neighbour.request(ToServer::Teleport {
        protocity: "atlantis".into(),
    });
    let served = wait_until(
        &mut [&mut flooder, &mut neighbour],
        Duration::from_secs(5),
        |c| refusals(c[1]).contains(&RequestRefusal::UnknownProtocity("atlantis".into())),
    );
    assert!(served, "another client's request is answered");
    wait_until(
        &mut [&mut flooder, &mut neighbour],
        Duration::from_secs(2),
        |_| false,
    );
    let before = flooder.session().teleports;
    flooder.request(ToServer::Teleport {
        protocity: world().protocities[1].id.clone(),
    });
    let moved = wait_until(
        &mut [&mut flooder, &mut neighbour],
        Duration::from_secs(5),
        |c| c[0].session().teleports > before,
    );
    assert!(
        moved,
        "the flooder's next request, after a pause, is served"
    );
}

#[test]
fn malformed_input_messages_are_dropped_and_the_sender_told() {
    use archipelago_shared::crowd::{AvatarInputs, CrowdChannel, MAX_INPUTS_PER_MESSAGE};
    use archipelago_shared::protocol::AvatarInput;
    use lightyear::prelude::{Client, MessageSender};

    let server = SimServer::start();
    let mut sender = server.client("Noisy", ephemeral());
    let mut watcher = server.client("Calm", ephemeral());
    enter_world(&mut sender);
    enter_world(&mut watcher);
    let spawn = sender.own_pose().expect("own pose").position;

    // Too many inputs in one message, and none at all; the first asks to run away at full
    // speed.
    let run = AvatarInput {
        direction: Vec2::X,
        run: true,
        ..Default::default()
    };
    {
        let world = sender.app.world_mut();
        let mut links = world.query_filtered::<&mut MessageSender<AvatarInputs>, With<Client>>();
        let mut link = links.single_mut(world).expect("one client link");
        link.send::<CrowdChannel>(AvatarInputs {
            last: 1_000,
            inputs: vec![run; MAX_INPUTS_PER_MESSAGE + 1],
        });
        link.send::<CrowdChannel>(AvatarInputs {
            last: 1_001,
            inputs: Vec::new(),
        });
    }
    let told = wait_until(
        &mut [&mut sender, &mut watcher],
        Duration::from_secs(5),
        |c| {
            refusals(c[0])
                .iter()
                .any(|r| matches!(r, RequestRefusal::InputsDropped { .. }))
        },
    );
    assert!(told, "the sender is told its input messages were dropped");
    // Nothing of them moved the avatar: the two messages carried no input it took.
    let seen = watcher
        .other("Noisy")
        .expect("the watcher sees it")
        .position;
    assert!(
        Vec2::new(seen.x - spawn.x, seen.z - spawn.z).length() < 0.5,
        "dropped inputs do not move the avatar ({spawn} -> {seen})"
    );
    // The sender goes on as before.
    let target = spawn + Vec3::new(3.0, 0.0, 0.0);
    assert!(
        archipelago_tests::walk_to(&mut sender, &mut watcher, target),
        "the sender still walks"
    );
}
