//! Looks, gestures and seats between real clients over QUIC: a look chosen by one reaches the
//! other within a second and is worn again after the server restarts; a bad look is refused
//! with its reason and the old one kept; a gesture reaches those in sight, and past the
//! budget is refused; two people asking to sit at once never get the same seat, and walking
//! gets them up.

use std::time::{Duration, Instant};

use archipelago_client::avatars::{GesturesSeen, OwnLook};
use archipelago_client::control::AvatarControl;
use archipelago_client::identity::ephemeral;
use archipelago_shared::avatars::{
    APPEARANCE_VERSION, Appearance, AvatarRefusal, AvatarRequest, BadAppearance, GESTURE_BURST,
    Gesture, Look, Part,
};
use archipelago_shared::crowd::CrowdId;
use archipelago_shared::protocol::{AvatarProfile, ToServer};
use archipelago_shared::world::{Place, SEAT_HEIGHT};
use archipelago_tests::{TestClient, TestServer, enter_world, pass_time, wait_until, world};
use bevy::prelude::*;

/// The look `viewer` sees `name` wearing.
fn look_of(viewer: &mut TestClient, name: &str) -> Option<Look> {
    let world = viewer.app.world_mut();
    let mut people = world.query::<(&AvatarProfile, &Look)>();
    people
        .iter(world)
        .find(|(p, _)| p.name == name)
        .map(|(_, l)| *l)
}

fn own_look(client: &TestClient) -> (Option<Appearance>, bool, Option<String>) {
    let own = client.app.world().resource::<OwnLook>();
    (
        own.appearance,
        own.chosen,
        own.refused.as_ref().map(|(_, r)| r.clone()),
    )
}

fn id_of(viewer: &mut TestClient, name: &str) -> Option<CrowdId> {
    let world = viewer.app.world_mut();
    let mut people = world.query::<(&AvatarProfile, &CrowdId)>();
    people
        .iter(world)
        .find(|(p, _)| p.name == name)
        .map(|(_, id)| *id)
}

fn gestures_of(viewer: &TestClient, id: CrowdId) -> Vec<Gesture> {
    viewer
        .app
        .world()
        .resource::<GesturesSeen>()
        .0
        .iter()
        .filter(|(who, _)| *who == id)
        .map(|(_, g)| *g)
        .collect()
}

fn ask(client: &mut TestClient, request: AvatarRequest) {
    client.request(ToServer::Avatar(request));
}

/// A server, and Ada (with this key) and Bo in the world on it.
fn ada_and_bo(
    ada_key: ed25519_dalek::SigningKey,
) -> (tempfile::TempDir, TestServer, TestClient, TestClient) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(dir.path());
    let mut ada = TestClient::new(server.client_config("Ada", ada_key));
    let mut bo = TestClient::new(server.client_config("Bo", ephemeral()));
    enter_world(&mut ada);
    enter_world(&mut bo);
    (dir, server, ada, bo)
}

#[test]
fn a_look_reaches_others_within_a_second_and_survives_a_restart() {
    let ada_key = ephemeral();
    let (_dir, server, mut ada, mut bo) = ada_and_bo(ada_key.clone());

    // Ada first wears the look her key picks, and is told it is not chosen yet.
    let told = wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |c| {
        own_look(c[0]).0.is_some() && look_of(c[1], "Ada").is_some()
    });
    assert!(told, "Ada hears of her look and Bo sees her");
    let (first, chosen, _) = own_look(&ada);
    let first = first.expect("a first look");
    assert!(!chosen, "a new key has not chosen a look");
    assert_eq!(
        first,
        Appearance::for_key(&ada_key.verifying_key().to_bytes())
    );
    assert_eq!(look_of(&mut bo, "Ada").map(|l| l.appearance), Some(first));

    // She chooses another; Bo sees it within a second.
    let mut chosen_look = first;
    chosen_look.hair = (first.hair + 1) % Part::Hair.choices() as u8;
    chosen_look.outfit[0] = (first.outfit[0] + 3) % Part::OutfitTop.choices() as u8;
    chosen_look.accessory = (first.accessory + 1) % Part::Accessory.choices() as u8;
    ask(&mut ada, AvatarRequest::SetAppearance(chosen_look));
    let asked = Instant::now();
    let seen = wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(1), |c| {
        look_of(c[1], "Ada").is_some_and(|l| l.appearance == chosen_look)
    });
    assert!(
        seen,
        "Bo sees Ada's new look within a second (after {:?} Bo sees {:?})",
        asked.elapsed(),
        look_of(&mut bo, "Ada")
    );
    wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(2), |c| {
        own_look(c[0]) == (Some(chosen_look), true, None)
    });
    assert_eq!(own_look(&ada), (Some(chosen_look), true, None));

    // Bad looks are refused with the part named, and the chosen look is kept.
    let mut bad = chosen_look;
    bad.skin = Part::Skin.choices() as u8 + 7;
    ask(&mut ada, AvatarRequest::SetAppearance(bad));
    let refused = wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(3), |c| {
        own_look(c[0]).2.is_some()
    });
    let words = own_look(&ada).2.unwrap_or_default();
    assert!(refused, "the bad look is refused");
    assert!(
        words.contains("skin tone") && words.contains("old one kept"),
        "the refusal names the part: {words}"
    );
    let newer = Appearance {
        version: APPEARANCE_VERSION + 1,
        ..chosen_look
    };
    ask(&mut ada, AvatarRequest::SetAppearance(newer));
    wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(3), |c| {
        own_look(c[0]).2.is_some_and(|w| w.contains("version"))
    });
    assert!(
        own_look(&ada).2.is_some_and(|w| w.contains(
            &BadAppearance::UnknownVersion {
                version: APPEARANCE_VERSION + 1,
                supported: APPEARANCE_VERSION
            }
            .to_string()
        )),
        "an unknown version is refused: {:?}",
        own_look(&ada).2
    );
    pass_time(&mut [&mut ada, &mut bo], Duration::from_millis(300));
    assert_eq!(
        look_of(&mut bo, "Ada").map(|l| l.appearance),
        Some(chosen_look),
        "the old look is kept"
    );
    // Changes past the budget are refused too (the first two changes spent two of three).
    let mut tries = 0;
    let mut too_many = false;
    while tries < 6 && !too_many {
        tries += 1;
        let mut next = chosen_look;
        next.height = tries % Part::Height.choices() as u8;
        ask(&mut ada, AvatarRequest::SetAppearance(next));
        pass_time(&mut [&mut ada], Duration::from_millis(150));
        too_many = own_look(&ada)
            .2
            .is_some_and(|w| w == AvatarRefusal::TooManyChanges.to_string());
    }
    assert!(too_many, "changes past the budget are refused");
    let kept = own_look(&ada).0.expect("a look");

    // After a restart, Ada wears the look she chose last.
    drop(ada);
    drop(bo);
    let data_dir = server.data_dir.clone();
    server.stop();
    let server = TestServer::start_with_data(data_dir);
    let mut ada = TestClient::new(server.client_config("Ada", ada_key));
    let mut cy = TestClient::new(server.client_config("Cy", ephemeral()));
    enter_world(&mut ada);
    enter_world(&mut cy);
    let back = wait_until(&mut [&mut ada, &mut cy], Duration::from_secs(5), |c| {
        own_look(c[0]).1 && look_of(c[1], "Ada").is_some_and(|l| l.appearance == kept)
    });
    assert!(
        back,
        "Ada's look survives the restart: she is told {:?}, Cy sees {:?}, kept {kept:?}",
        own_look(&ada),
        look_of(&mut cy, "Ada")
    );
    server.stop();
}

#[test]
fn gestures_reach_those_in_sight_and_are_capped() {
    let (_dir, server, mut ada, mut bo) = ada_and_bo(ephemeral());
    wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |c| {
        id_of(c[1], "Ada").is_some()
    });
    let ada_id = id_of(&mut bo, "Ada").expect("Bo sees Ada");

    ask(&mut ada, AvatarRequest::Gesture(Gesture::Wave));
    let waved = wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(2), |c| {
        gestures_of(c[1], ada_id) == [Gesture::Wave] && gestures_of(c[0], ada_id) == [Gesture::Wave]
    });
    assert!(waved, "Bo and Ada see Ada wave");

    // A burst past the budget: the rest are refused, and only the budget's worth goes out.
    for _ in 0..10 {
        ask(&mut ada, AvatarRequest::Gesture(Gesture::Clap));
    }
    pass_time(&mut [&mut ada, &mut bo], Duration::from_millis(800));
    let claps = gestures_of(&bo, ada_id)
        .iter()
        .filter(|g| **g == Gesture::Clap)
        .count();
    assert!(
        claps >= GESTURE_BURST as usize - 2 && claps < GESTURE_BURST as usize + 1,
        "{claps} claps went out of 10 asked (burst {GESTURE_BURST})"
    );
    assert_eq!(
        own_look(&ada).2,
        Some(AvatarRefusal::TooManyGestures.to_string()),
        "Ada is told"
    );

    // Someone on another island does not see it.
    let away = world().protocities[1].id.clone();
    bo.request(ToServer::Teleport { protocity: away });
    wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(3), |c| {
        c[1].other("Ada").is_none()
    });
    pass_time(&mut [&mut ada, &mut bo], Duration::from_secs(2));
    let before = gestures_of(&bo, ada_id).len();
    ask(&mut ada, AvatarRequest::Gesture(Gesture::Cheer));
    pass_time(&mut [&mut ada, &mut bo], Duration::from_secs(1));
    assert_eq!(
        gestures_of(&bo, ada_id).len(),
        before,
        "out of sight, unseen"
    );
    assert!(gestures_of(&ada, ada_id).contains(&Gesture::Cheer));
    server.stop();
}

#[test]
fn two_people_asking_at_once_never_share_a_seat_and_walking_gets_up() {
    let (_dir, server, mut ada, mut bo) = ada_and_bo(ephemeral());
    let capital = world().capital().id.clone();
    let hall = world()
        .protocities
        .iter()
        .position(|p| p.id == capital)
        .expect("the capital");

    // Outside a hall there is nothing to sit on.
    ask(&mut ada, AvatarRequest::Sit);
    wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(2), |c| {
        own_look(c[0]).2.is_some()
    });
    assert_eq!(own_look(&ada).2, Some(AvatarRefusal::NotInHall.to_string()));

    for client in [&mut ada, &mut bo] {
        client.request(ToServer::EnterHall {
            protocity: capital.clone(),
        });
    }
    let inside = wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(5), |c| {
        c[0].stands_in(Place::Hall(hall)) && c[1].stands_in(Place::Hall(hall))
    });
    assert!(
        inside,
        "both step into the hall, at the same spot by the door"
    );
    pass_time(&mut [&mut ada, &mut bo], Duration::from_millis(500));
    ask(&mut ada, AvatarRequest::Sit);
    ask(&mut bo, AvatarRequest::Sit);
    let seated = wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(3), |c| {
        look_of(c[0], "Ada").is_some_and(|l| l.seated)
            && look_of(c[0], "Bo").is_some_and(|l| l.seated)
            && c[0].own_pose().is_some_and(|p| p.grounded)
    });
    assert!(seated, "both sit");
    pass_time(&mut [&mut ada, &mut bo], Duration::from_millis(600));
    let a = ada.own_pose().expect("Ada's pose").position;
    let b = bo.own_pose().expect("Bo's pose").position;
    let floor = world().capital().island.height;
    assert!(
        a.distance(b) > 0.5,
        "two seats, not one: Ada at {a}, Bo at {b}"
    );
    for seat in [a, b] {
        assert!(
            (seat.y - floor - SEAT_HEIGHT).abs() < 0.1,
            "on a seat's top: {seat}, floor {floor}"
        );
    }

    // Walking gets Ada up; Bo stays seated.
    ada.app
        .world_mut()
        .resource_mut::<AvatarControl>()
        .direction = Vec2::X;
    let up = wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(3), |c| {
        look_of(c[1], "Ada").is_some_and(|l| !l.seated)
    });
    ada.app
        .world_mut()
        .resource_mut::<AvatarControl>()
        .direction = Vec2::ZERO;
    assert!(up, "walking stands Ada up, and Bo sees it");
    assert_eq!(look_of(&mut ada, "Bo").map(|l| l.seated), Some(true));
    // Her seat is free again: she can sit down once more.
    pass_time(&mut [&mut ada, &mut bo], Duration::from_millis(500));
    ask(&mut ada, AvatarRequest::Sit);
    let again = wait_until(&mut [&mut ada, &mut bo], Duration::from_secs(3), |c| {
        look_of(c[1], "Ada").is_some_and(|l| l.seated)
    });
    assert!(again, "Ada sits again");
    let again_at = ada.own_pose().expect("Ada's pose").position;
    assert!(again_at.distance(bo.own_pose().expect("Bo").position) > 0.5);
    server.stop();
}

#[test]
fn a_newcomer_arrives_facing_the_town_hall_door_and_keeps_facing_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(dir.path());
    let mut ada = TestClient::new(server.client_config("Ada", ephemeral()));
    enter_world(&mut ada);
    // Standing still for a while (inputs keep going out, facing nowhere in particular).
    pass_time(&mut [&mut ada], Duration::from_secs(2));
    let pose = ada.own_pose().expect("Ada's pose");
    let capital = world().capital().clone();
    let island = &capital.island;
    let door = island.to_world(island.town_hall.door_outside(), 0.0);
    let towards = (door - pose.position).with_y(0.0).normalize();
    let facing = Vec3::new(-pose.yaw.sin(), 0.0, -pose.yaw.cos());
    assert!(
        facing.dot(towards) > 0.99,
        "Ada faces the hall's door: facing {facing}, the door is towards {towards}"
    );
    assert!(
        (pose.yaw - world().arrival_yaw(&capital, pose.position)).abs() < 0.05,
        "as the server turned her on arrival"
    );
    server.stop();
}
