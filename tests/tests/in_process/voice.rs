//! Voice in one process: real Opus frames from a headless client, relayed by the server's
//! rules to the others, decoded and mixed as a listener's device would play them.

use std::time::Duration;

use archipelago_server::voice::VoiceStats;
use archipelago_shared::assembly::{
    AgendaItem, AssemblyRefusal, AssemblyRequest, ChairAct, ModerationAction,
};
use archipelago_shared::protocol::{RequestRefusal, Role};
use archipelago_shared::voice::{FRAME_SAMPLES, HALL_LEVEL, VoiceUp};
use archipelago_tests::sim::SimServer;
use archipelago_tests::{
    TestClient, capital_hall, enter_hall, enter_world_together, pass_time, server_cli, voice,
    wait_until, walk_together, world,
};
use bevy::math::{Vec2, Vec3};

#[test]
fn the_floor_is_heard_in_the_hall_and_its_overflow_and_not_outside() {
    let server = SimServer::start();
    let scratch = tempfile::tempdir().expect("a scratch folder");
    voice::the_floor_is_heard_in_the_hall_and_its_overflow(
        |name, role| server.join(name, role),
        scratch.path(),
    );
}

#[test]
fn on_the_grounds_a_voice_carries_twenty_metres() {
    let server = SimServer::start();
    let scratch = tempfile::tempdir().expect("a scratch folder");
    voice::on_the_grounds_a_voice_carries_twenty_metres(
        |name, role| server.join(name, role),
        scratch.path(),
    );
}

/// Seconds of 48 kHz samples.
fn seconds(samples: usize) -> f32 {
    samples as f32 / 48_000.0
}

/// Where the last loud 20 ms of a recording ends, in samples.
fn last_sound(recording: &[i16]) -> usize {
    voice::envelope(recording)
        .iter()
        .rposition(|&e| e > 0.01)
        .map_or(0, |block| (block + 1) * FRAME_SAMPLES)
}

fn stats(server: &SimServer) -> VoiceStats {
    server.with_app(|app| app.world().resource::<VoiceStats>().clone())
}

#[test]
fn a_floor_taken_back_goes_silent_at_once_and_a_muted_speaker_is_heard_by_nobody() {
    let server = SimServer::start();
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let sentence = voice::speech(
        "Order, order. The chair will now hear the report on the harbour works.",
        scratch.path(),
    );
    let (capital, _) = capital_hall();
    let mut fay = server.join("Fay", Some(Role::Founder));
    let mut bo = server.join("Bo", Some(Role::Member));
    let mut ada = server.join("Ada", Some(Role::Member));
    let mut cy = server.join("Cy", Some(Role::Member));
    enter_world_together(&mut [&mut fay, &mut bo, &mut ada, &mut cy]);
    let opened = fay.ask(AssemblyRequest::Open {
        protocity: capital.clone(),
        title: "Harbour assembly".into(),
        agenda: vec![AgendaItem {
            title: "Works".into(),
            proposal: None,
        }],
        chair: None,
        capacity: Some(3),
    });
    assert!(opened.is_ok(), "{opened:?}");
    enter_hall(&mut [&mut fay, &mut bo, &mut ada], &capital);
    enter_hall(&mut [&mut cy], &capital);
    assert!(wait_until(&mut [&mut cy], Duration::from_secs(5), |c| c[0]
        .in_overflow()));
    let give = |fay: &mut TestClient, bo: &TestClient| {
        fay.ask(AssemblyRequest::GiveFloor {
            protocity: capital.clone(),
            to: Some(bo.key_hex()),
            seconds: 120,
        })
    };
    let given = give(&mut fay, &bo);
    assert!(given.is_ok(), "{given:?}");

    // Two seconds into Bo's speech, the chair takes the floor back: Cy, in the overflow,
    // hears nothing more within 200 ms.
    cy.record_voice();
    bo.speak(&sentence);
    pass_time(
        &mut [&mut fay, &mut bo, &mut ada, &mut cy],
        Duration::from_secs(2),
    );
    let ended = fay.ask(AssemblyRequest::EndFloor {
        protocity: capital.clone(),
    });
    assert!(ended.is_ok(), "{ended:?}");
    let cut_at = cy.recording().len();
    pass_time(
        &mut [&mut fay, &mut bo, &mut ada, &mut cy],
        Duration::from_secs(2),
    );
    let heard = cy.recording();
    assert!(
        seconds(cut_at) > 1.5,
        "Cy heard Bo before the cut: {:.2} s recorded",
        seconds(cut_at)
    );
    let after = seconds(last_sound(&heard).saturating_sub(cut_at));
    assert!(
        after <= 0.2,
        "Cy hears Bo for {after:.3} s after the floor was taken back"
    );
    let log = server_cli(
        &server.data_dir(),
        &["admin", "moderation", "log", "--json"],
        None,
    );
    let log: serde_json::Value = serde_json::from_str(&log).expect("the log as JSON");
    assert!(
        log.as_array().is_some_and(|lines| lines
            .iter()
            .any(|l| l["action"] == "cut" && l["actor"] == "Fay" && l["subject"] == "Bo")),
        "the moderation log records the microphone cut: {log}"
    );

    // Given the floor again, then muted by the founder: nobody hears Bo, and the server
    // counts what it dropped.
    bo.app
        .world_mut()
        .resource_mut::<archipelago_client::voice::Mouth>()
        .clear();
    let given = give(&mut fay, &bo);
    assert!(given.is_ok(), "{given:?}");
    let muted = fay.ask(bo.moderation(
        &capital,
        ModerationAction::Mute { minutes: Some(10) },
        "testing the mute",
    ));
    assert!(muted.is_ok(), "{muted:?}");
    // What Bo said as a member of the audience before has been played out by now.
    pass_time(
        &mut [&mut fay, &mut bo, &mut ada, &mut cy],
        Duration::from_millis(500),
    );
    let dropped_before = stats(&server).dropped_muted;
    ada.record_voice();
    cy.record_voice();
    bo.speak(&sentence);
    pass_time(
        &mut [&mut fay, &mut bo, &mut ada, &mut cy],
        Duration::from_secs(3),
    );
    for (name, listener) in [("Ada", &ada), ("Cy", &cy)] {
        let peak = voice::peak(&listener.recording());
        assert!(peak < 0.001, "{name} hears the muted Bo: peak {peak}");
    }
    let dropped = stats(&server).dropped_muted - dropped_before;
    assert!(
        dropped >= 100,
        "the server dropped the muted speaker's frames: {dropped}"
    );

    // The minutes note who spoke and for how long (what Bo said before the mute), and keep
    // no audio.
    let written = wait_until(&mut [&mut fay], Duration::from_secs(3), |_| {
        spoke_in_minutes(&server).is_some()
    });
    let spoke = spoke_in_minutes(&server);
    assert!(written, "the minutes note that Bo spoke: {spoke:?}");
    let seconds: f32 = spoke
        .as_deref()
        .and_then(|d| d.strip_suffix(" s"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    assert!(
        (2.0..=8.0).contains(&seconds),
        "Bo spoke for about his sentence's length: {spoke:?}"
    );
}

/// The detail of the first "spoke" line by Bo in session 1's minutes.
fn spoke_in_minutes(server: &SimServer) -> Option<String> {
    let text = server_cli(
        &server.data_dir(),
        &["admin", "session", "minutes", "1", "--json"],
        None,
    );
    let minutes: serde_json::Value = serde_json::from_str(&text).expect("minutes as JSON");
    minutes["entries"]
        .as_array()?
        .iter()
        .find(|e| e["kind"] == "spoke" && e["who"].as_str().is_some_and(|w| w.starts_with("Bo")))
        .and_then(|e| e["detail"].as_str().map(str::to_owned))
}

#[test]
fn oversized_empty_and_flooding_frames_are_dropped_and_counted_and_voices_go_on() {
    let server = SimServer::start();
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let sentence = voice::speech("Can everyone hear me on the plaza?", scratch.path());
    let mut bo = server.join("Bo", Some(Role::Member));
    let mut cy = server.join("Cy", Some(Role::Member));
    let mut eve = server.join("Eve", None);
    enter_world_together(&mut [&mut bo, &mut cy, &mut eve]);
    let ground = |x: f32, z: f32| Vec3::new(x, 0.0, z);
    assert!(walk_together(
        &mut [&mut bo, &mut cy, &mut eve],
        &[ground(-8.0, 22.0), ground(2.0, 22.0), ground(-3.0, 22.0)],
        Duration::from_secs(30),
    ));

    // Bo sends garbage while Cy talks: Eve hears Cy as said.
    let silence = archipelago_client::voice::encode_frame(&[]).expect("an encoder");
    let frame = |seq: u16, bytes: Vec<u8>| VoiceUp {
        seq,
        at_ms: 0,
        frame: bytes,
    };
    bo.send_voice(frame(0, vec![0x55; 1000]));
    bo.send_voice(frame(1, Vec::new()));
    for seq in 2..202 {
        bo.send_voice(frame(seq, silence.clone()));
    }
    eve.record_voice();
    cy.speak(&sentence);
    pass_time(
        &mut [&mut bo, &mut cy, &mut eve],
        Duration::from_secs_f32(seconds(sentence.len()) + 1.5),
    );
    let counted = stats(&server);
    assert_eq!(counted.dropped_size, 2, "{counted:?}");
    assert!(
        counted.dropped_rate >= 150,
        "a flood of 200 frames at once is cut to the burst: {counted:?}"
    );
    let r = voice::envelope_correlation(&sentence, &eve.recording());
    assert!(r >= 0.8, "Eve hears Cy through Bo's flood: r = {r:.3}");
    let told = bo.session().refusals;
    assert!(
        told.iter()
            .any(|(_, r)| matches!(r, RequestRefusal::VoiceDropped { dropped } if *dropped >= 150)),
        "Bo is told his frames were dropped: {told:?}"
    );

    // Bo's own next words get through.
    eve.record_voice();
    bo.speak(&sentence);
    pass_time(
        &mut [&mut bo, &mut cy, &mut eve],
        Duration::from_secs_f32(seconds(sentence.len()) + 1.5),
    );
    let r = voice::envelope_correlation(&sentence, &eve.recording());
    assert!(r >= 0.8, "Eve hears Bo once he speaks properly: r = {r:.3}");
}

#[test]
fn neighbours_murmur_in_a_hall_until_the_chair_lets_only_the_floor_speak() {
    let server = SimServer::start();
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let sentence = voice::speech("I agree with the harbour plan.", scratch.path());
    let (capital, _) = capital_hall();
    let mut fay = server.join("Fay", Some(Role::Founder));
    let mut bo = server.join("Bo", Some(Role::Member));
    let mut ada = server.join("Ada", Some(Role::Member));
    enter_world_together(&mut [&mut fay, &mut bo, &mut ada]);
    let opened = fay.ask(AssemblyRequest::Open {
        protocity: capital.clone(),
        title: "Harbour assembly".into(),
        agenda: vec![AgendaItem {
            title: "The plan".into(),
            proposal: None,
        }],
        chair: None,
        capacity: None,
    });
    assert!(opened.is_ok(), "{opened:?}");
    enter_hall(&mut [&mut fay, &mut bo, &mut ada], &capital);
    let world = world();
    let island = &world.capital().island;
    let hall = &island.town_hall;
    let front = hall.stage_front();
    let down = (hall.door_inside() - front).normalize();
    let across = Vec2::new(-down.y, down.x);
    let spot = |along: f32, side: f32| island.to_world(front + down * along + across * side, 0.0);
    assert!(walk_together(
        &mut [&mut fay, &mut bo, &mut ada],
        &[spot(2.0, 0.0), spot(6.0, 0.0), spot(6.0, 1.5)],
        Duration::from_secs(30),
    ));
    let length = Duration::from_secs_f32(seconds(sentence.len()) + 1.5);

    // Bo, seated, murmurs to Ada beside him: she hears him, quietly.
    ada.record_voice();
    bo.speak(&sentence);
    pass_time(&mut [&mut fay, &mut bo, &mut ada], length);
    let heard = ada.recording();
    let r = voice::envelope_correlation(&sentence, &heard);
    assert!(r >= 0.8, "Ada hears her neighbour: r = {r:.3}");
    let level = voice::peak(&heard) / voice::peak(&sentence);
    assert!(
        level <= HALL_LEVEL + 0.05,
        "a neighbour is heard quietly, under the floor: {level:.2} of the source"
    );

    // The chair makes it a formal session: only the floor speaks.
    let formal = fay.ask(AssemblyRequest::FloorOnly {
        protocity: capital.clone(),
        on: true,
    });
    assert!(formal.is_ok(), "{formal:?}");
    let refused = bo.ask(AssemblyRequest::FloorOnly {
        protocity: capital.clone(),
        on: false,
    });
    assert!(
        matches!(
            refused,
            Err(AssemblyRefusal::NotChair(ChairAct::ChooseWhoIsHeard))
        ),
        "only the chair chooses: {refused:?}"
    );
    ada.record_voice();
    bo.speak(&sentence);
    pass_time(&mut [&mut fay, &mut bo, &mut ada], length);
    let peak = voice::peak(&ada.recording());
    assert!(peak < 0.001, "Ada hears nothing of Bo now: peak {peak}");
}

#[test]
fn at_a_live_event_a_founder_gives_a_guest_the_floor_and_the_hall_hears_them() {
    use archipelago_client::events::{EventBook, SendEvent};
    use archipelago_shared::events::{EventDraft, EventRequest};

    let server = SimServer::start();
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let sentence = voice::speech("Thank you for inviting me to the capital.", scratch.path());
    let (capital, _) = capital_hall();
    let mut fay = server.join("Fay", Some(Role::Founder));
    let mut ada = server.join("Ada", Some(Role::Member));
    let mut gus = server.join("Gus", None);
    enter_world_together(&mut [&mut fay, &mut ada, &mut gus]);
    let starts_at = server.clock().unix_seconds() + 2;
    fay.app
        .world_mut()
        .write_message(SendEvent(EventRequest::Schedule(EventDraft {
            title: "A guest from Tallinn".into(),
            protocity: capital.clone(),
            starts_at,
            minutes: 30,
            capacity: 50,
            audience: Role::Visitor,
        })));
    let live = wait_until(
        &mut [&mut fay, &mut ada, &mut gus],
        Duration::from_secs(6),
        |c| !c[2].app.world().resource::<EventBook>().started.is_empty(),
    );
    assert!(live, "the event starts, and a visitor may attend it");
    let opened = fay.ask(AssemblyRequest::Open {
        protocity: capital.clone(),
        title: "A guest from Tallinn".into(),
        agenda: vec![AgendaItem {
            title: "Our guest speaks".into(),
            proposal: None,
        }],
        chair: None,
        capacity: None,
    });
    assert!(opened.is_ok(), "{opened:?}");
    enter_hall(&mut [&mut fay, &mut ada, &mut gus], &capital);
    let given = fay.ask(AssemblyRequest::GiveFloor {
        protocity: capital.clone(),
        to: Some(gus.key_hex()),
        seconds: 300,
    });
    assert!(
        given.is_ok(),
        "a founder gives the visiting guest the floor: {given:?}"
    );
    ada.record_voice();
    gus.speak(&sentence);
    pass_time(
        &mut [&mut fay, &mut ada, &mut gus],
        Duration::from_secs_f32(seconds(sentence.len()) + 1.5),
    );
    let r = voice::envelope_correlation(&sentence, &ada.recording());
    assert!(r >= 0.8, "the hall hears the guest: r = {r:.3}");
}
