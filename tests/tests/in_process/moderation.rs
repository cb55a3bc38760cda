//! A chair moderates their own hall: a chair's mute holds in that hall only, a chair may lift
//! what a chair set, and nobody but a founder undoes a founder's mute or ban. (Sanctions that
//! hold across reconnects and restarts, and the moderation log: tests/tests/scenarios.)

use std::time::Duration;

use archipelago_shared::assembly::{
    AssemblyNews, AssemblyRefusal, AssemblyRequest, ModerationAction, SanctionKind,
};
use archipelago_shared::chat::ChatRefusal;
use archipelago_shared::protocol::Role;
use archipelago_shared::world::Place;
use archipelago_tests::sim::SimServer;
use archipelago_tests::{capital_hall, enter_hall, enter_world_together, wait_until};

#[test]
fn a_chairs_mute_holds_in_their_hall_and_nobody_undoes_a_founders_sanction() {
    let (capital, hall) = capital_hall();
    let server = SimServer::start();
    let mut fay = server.join("Fay", Some(Role::Founder));
    let mut cal = server.join("Cal", Some(Role::Member));
    let mut bo = server.join("Bo", Some(Role::Member));
    let mut cy = server.join("Cy", Some(Role::Member));
    enter_world_together(&mut [&mut fay, &mut cal, &mut bo, &mut cy]);
    // Fay opens a session with Cal, a member, in the chair.
    let opened = fay.ask(AssemblyRequest::Open {
        protocity: capital.clone(),
        title: "Harbour assembly".into(),
        agenda: vec![archipelago_shared::assembly::AgendaItem {
            title: "The harbour".into(),
            proposal: None,
        }],
        chair: Some(cal.key_hex()),
        capacity: None,
    });
    assert!(opened.is_ok(), "{opened:?}");
    enter_hall(&mut [&mut cal, &mut bo, &mut cy], &capital);

    // The chair's mute holds in the hall only.
    let muted = cal.ask(bo.moderation(
        &capital,
        ModerationAction::Mute { minutes: Some(10) },
        "off topic",
    ));
    assert!(muted.is_ok(), "{muted:?}");
    assert!(
        wait_until(&mut [&mut bo], Duration::from_secs(1), |c| {
            c[0].told().iter().any(|news| {
                matches!(news, AssemblyNews::Sanctioned(record)
                    if record.action == "mute" && record.hall_only && record.actor == "Cal")
            })
        }),
        "Bo is told the chair muted them in the hall: {:?}",
        bo.told()
    );
    assert!(
        bo.try_to_say("in the hall")
            .is_some_and(|r| matches!(r, ChatRefusal::Muted(_))),
        "Bo is muted in the hall"
    );
    bo.request(archipelago_shared::protocol::ToServer::Teleport {
        protocity: capital.clone(),
    });
    let outside = wait_until(&mut [&mut bo], Duration::from_secs(10), |c| {
        !c[0].stands_in(Place::Hall(hall))
    });
    assert!(outside, "Bo steps out onto the grounds");
    assert_eq!(
        bo.try_to_say("on the grounds"),
        None,
        "the chair's mute does not follow Bo out of the hall"
    );

    // A founder's mute holds everywhere, and the chair may not lift or shorten it.
    let muted = fay.ask(cy.moderation(
        &capital,
        ModerationAction::Mute { minutes: None },
        "disruption",
    ));
    assert!(muted.is_ok(), "{muted:?}");
    assert!(
        wait_until(&mut [&mut cy], Duration::from_secs(1), |c| {
            c[0].told().iter().any(|news| {
                matches!(news, AssemblyNews::Sanctioned(record)
                    if record.action == "mute" && !record.hall_only && record.until.is_none())
            })
        }),
        "Cy is told the founder's mute holds everywhere until lifted: {:?}",
        cy.told()
    );
    let lifted = cal.ask(cy.moderation(&capital, ModerationAction::Unmute, ""));
    assert!(
        lifted.as_ref().is_err_and(|r| matches!(
            r,
            AssemblyRefusal::Outranked {
                kind: SanctionKind::Mute,
                by: Role::Founder,
                ..
            }
        )),
        "the chair cannot lift a founder's mute: {lifted:?}"
    );
    assert!(
        cy.try_to_say("am I back?")
            .is_some_and(|r| matches!(r, ChatRefusal::Muted(_))),
        "Cy stays muted"
    );
    // Nor shorten a founder's ban.
    let banned = fay.ask(cy.moderation(
        &capital,
        ModerationAction::Ban { minutes: None },
        "disruption",
    ));
    assert!(banned.is_ok(), "{banned:?}");
    let shortened =
        cal.ask(cy.moderation(&capital, ModerationAction::Ban { minutes: Some(1) }, ""));
    assert!(
        shortened.as_ref().is_err_and(|r| matches!(
            r,
            AssemblyRefusal::Outranked {
                kind: SanctionKind::Ban,
                by: Role::Founder,
                ..
            }
        )),
        "the chair cannot shorten a founder's ban: {shortened:?}"
    );
    // The founder can lift what a founder set.
    let lifted = fay.ask(cy.moderation(&capital, ModerationAction::Unmute, ""));
    assert!(lifted.is_ok(), "{lifted:?}");
    assert_eq!(cy.try_to_say("thank you"), None, "Cy may speak again");
}
