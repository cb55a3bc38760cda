//! Chat in one process: a line to the place reaches everyone there and nobody elsewhere;
//! nearby reaches only those in range; a direct line reaches one person; too long, too fast
//! and unknown names are refused with a reason the sender sees.

use std::time::Duration;

use archipelago_client::chat::ChatLog;
use archipelago_client::identity::ephemeral;
use archipelago_shared::chat::{ChatHeard, ChatRefusal, ChatTo, MAX_CHAT_CHARS, NEARBY_RANGE};
use archipelago_shared::protocol::{Role, ToServer};
use archipelago_tests::sim::SimServer;
use archipelago_tests::{TestClient, enter_world, wait_until, walk_to, world};

fn heard(client: &TestClient, text: &str) -> Option<ChatHeard> {
    client
        .app
        .world()
        .resource::<ChatLog>()
        .lines
        .iter()
        .find(|(_, line)| line.text == text)
        .map(|(_, line)| line.to.clone())
}

fn refusals(client: &TestClient) -> Vec<ChatRefusal> {
    let log = client.app.world().resource::<ChatLog>();
    log.refusals.iter().map(|(_, r)| r.clone()).collect()
}

#[test]
fn lines_reach_the_right_people_and_bad_ones_are_refused() {
    let server = SimServer::start();
    let mo_key = ephemeral();
    server.register(&mo_key, "Mo", Role::Member);
    let mut ada = server.client("Ada", ephemeral());
    let mut bo = server.client("Bo", ephemeral());
    let mut cy = server.client("Cy", ephemeral());
    let mut mo = server.client("Mo", mo_key);
    for client in [&mut ada, &mut bo, &mut cy, &mut mo] {
        enter_world(client);
    }
    // Mo goes to another protocity: another place.
    let elsewhere = world().protocities[1].id.clone();
    mo.request(ToServer::Teleport {
        protocity: elsewhere.clone(),
    });
    assert!(
        wait_until(&mut [&mut mo], Duration::from_secs(3), |c| {
            c[0].session().protocity.as_deref() == Some(elsewhere.as_str())
        }),
        "Mo arrives elsewhere"
    );
    // Bo stands next to Ada; Cy walks away, beyond nearby range but on the same grounds.
    let ada_at = ada.own_pose().expect("Ada is in the world").position;
    assert!(walk_to(
        &mut bo,
        &mut ada,
        ada_at + bevy::math::Vec3::X * 1.5
    ));
    let cy_at = cy.own_pose().expect("Cy").position;
    let away = (cy_at - ada_at).normalize_or_zero() * (NEARBY_RANGE + 6.0);
    assert!(walk_to(
        &mut cy,
        &mut ada,
        ada_at + bevy::math::Vec3::new(away.x, 0.0, away.z)
    ));

    let mut everyone = [&mut ada, &mut bo, &mut cy, &mut mo];
    everyone[0].say(ChatTo::Place, "welcome to Meridian");
    everyone[0].say(ChatTo::Nearby, "just between us two");
    everyone[0].say(ChatTo::Direct("mo".into()), "see you at the assembly");
    let delivered = wait_until(&mut everyone, Duration::from_secs(3), |c| {
        heard(c[1], "welcome to Meridian").is_some()
            && heard(c[2], "welcome to Meridian").is_some()
            && heard(c[1], "just between us two").is_some()
            && heard(c[3], "see you at the assembly").is_some()
    });
    assert!(
        delivered,
        "place, nearby and direct lines arrive: {:?}",
        everyone[1].app.world().resource::<ChatLog>().lines
    );
    // Let anything misrouted arrive too before checking who did not hear.
    wait_until(&mut everyone, Duration::from_millis(500), |_| false);
    let [ada, bo, cy, mo] = everyone;
    assert_eq!(
        heard(bo, "welcome to Meridian"),
        Some(ChatHeard::Place("Meridian".into()))
    );
    assert_eq!(
        heard(mo, "welcome to Meridian"),
        None,
        "Mo is in another place"
    );
    assert_eq!(heard(cy, "just between us two"), None, "Cy is out of range");
    assert_eq!(heard(mo, "just between us two"), None);
    assert_eq!(
        heard(mo, "see you at the assembly"),
        Some(ChatHeard::Direct { to: "Mo".into() })
    );
    assert_eq!(
        heard(bo, "see you at the assembly"),
        None,
        "direct means one person"
    );
    assert!(
        heard(ada, "see you at the assembly").is_some(),
        "the sender sees her line"
    );
    assert_eq!(
        bo.app.world().resource::<ChatLog>().received,
        2,
        "Bo heard the place line and the nearby one, nothing else"
    );

    // Refusals, each with its reason.
    ada.say(ChatTo::Place, &"a".repeat(MAX_CHAT_CHARS + 1));
    ada.say(ChatTo::Direct("Nobody Here".into()), "hello?");
    ada.say(ChatTo::Place, "   ");
    for n in 0..8 {
        ada.say(ChatTo::Place, &format!("spam {n}"));
    }
    let refused = wait_until(&mut [&mut *ada], Duration::from_secs(3), |c| {
        refusals(c[0]).contains(&ChatRefusal::TooFast)
    });
    let reasons = refusals(ada);
    assert!(refused, "flooding is refused: {reasons:?}");
    assert!(
        reasons.contains(&ChatRefusal::TooLong(MAX_CHAT_CHARS + 1)),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&ChatRefusal::NobodyCalled("Nobody Here".into())),
        "{reasons:?}"
    );
    assert!(reasons.contains(&ChatRefusal::Empty), "{reasons:?}");
}
