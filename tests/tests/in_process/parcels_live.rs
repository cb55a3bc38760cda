//! Parcels in one process: a founder's change reaches another client within a second, a
//! member's pledge moves the progress everyone sees, visitors see public fields only and
//! cannot pledge, and a change made beside the running server (the admin CLI's path)
//! reaches clients too.

use std::time::{Duration, Instant};

use archipelago_client::identity::ephemeral;
use archipelago_server::storage::Storage;
use archipelago_shared::parcels::{
    Actor, ParcelRefusal, ParcelRequest, ParcelStatus, StatusChoice,
};
use archipelago_shared::protocol::{Role, ToServer};
use archipelago_tests::sim::SimServer;
use archipelago_tests::{enter_world, wait_until, world};

fn crowdfunding_id() -> String {
    world()
        .parcel_seeds()
        .into_iter()
        .find(|p| matches!(p.status, ParcelStatus::Crowdfunding { .. }))
        .expect("a crowdfunding parcel in the world data")
        .id
}

#[test]
fn a_founders_change_and_a_members_pledge_reach_everyone() {
    let server = SimServer::start();
    let fay_key = ephemeral();
    let mo_key = ephemeral();
    server.register(&fay_key, "Fay", Role::Founder);
    server.register(&mo_key, "Mo", Role::Member);
    let mut fay = server.client("Fay", fay_key);
    let mut mo = server.client("Mo", mo_key);
    let mut vic = server.client("Vic", ephemeral());
    for client in [&mut fay, &mut mo, &mut vic] {
        enter_world(client);
    }
    assert_eq!(fay.session().role, Some(Role::Founder));

    let seen_by_vic = vic.parcel("lis-04").expect("visitors see every parcel");
    assert!(seen_by_vic.title.is_none(), "visitors do not see the title");
    assert!(
        mo.parcel("lis-04").and_then(|p| p.title).is_some(),
        "members see the address and deed"
    );

    // The founder puts lis-04 up for sale; the visitor's copy follows within a second.
    fay.request(ToServer::Parcel(ParcelRequest::SetStatus {
        parcel: "lis-04".into(),
        status: StatusChoice::ForSale { price: 123_456 },
        expected_version: seen_by_vic.version,
    }));
    let sent = Instant::now();
    let arrived = wait_until(&mut [&mut fay, &mut vic], Duration::from_secs(1), |c| {
        c[1].parcel("lis-04")
            .is_some_and(|p| p.status == ParcelStatus::ForSale { price: 123_456 })
    });
    assert!(
        arrived,
        "the visitor's panel data shows the change within 1 s; it shows {:?} after {:?}",
        vic.parcel("lis-04").map(|p| p.status),
        sent.elapsed()
    );
    wait_until(&mut [&mut fay], Duration::from_secs(3), |c| {
        c[0].parcel_answer("lis-04").is_some()
    });
    let answer = fay
        .parcel_answer("lis-04")
        .expect("the founder is answered");
    assert!(
        answer.is_ok(),
        "the founder is told it was done: {answer:?}"
    );

    // A stale edit (the version the visitor saw before) is refused with a reason.
    fay.request(ToServer::Parcel(ParcelRequest::SetStatus {
        parcel: "lis-04".into(),
        status: StatusChoice::Reserved,
        expected_version: seen_by_vic.version,
    }));
    let refused = wait_until(&mut [&mut fay], Duration::from_secs(3), |c| {
        c[0].parcel_answer("lis-04")
            .is_some_and(|a| a.is_err_and(|r| matches!(r, ParcelRefusal::Conflict { .. })))
    });
    assert!(
        refused,
        "a stale edit is refused: {:?}",
        fay.parcel_answer("lis-04")
    );

    // A member's pledge moves the progress everyone sees.
    let funded = crowdfunding_id();
    let ParcelStatus::Crowdfunding { raised, .. } =
        vic.parcel(&funded).expect("crowdfunding parcel").status
    else {
        unreachable!("chosen as crowdfunding");
    };
    mo.request(ToServer::Parcel(ParcelRequest::Pledge {
        parcel: funded.clone(),
        amount: 2_500,
    }));
    let moved = wait_until(&mut [&mut mo, &mut vic], Duration::from_secs(3), |c| {
        c[1].parcel(&funded).is_some_and(|p| {
            matches!(p.status, ParcelStatus::Crowdfunding { raised: r, .. } if r == raised + 2_500)
        })
    });
    assert!(moved, "the pledge shows: {:?}", vic.parcel(&funded));

    // The visitor's pledge is refused, with a reason.
    vic.request(ToServer::Parcel(ParcelRequest::Pledge {
        parcel: funded.clone(),
        amount: 10,
    }));
    let told = wait_until(&mut [&mut vic], Duration::from_secs(3), |c| {
        c[0].parcel_answer(&funded).is_some()
    });
    assert!(told, "the visitor hears back");
    let answer = vic.parcel_answer(&funded).expect("answer");
    assert!(
        answer
            .as_ref()
            .is_err_and(|r| matches!(r, ParcelRefusal::VisitorPledge)),
        "{answer:?}"
    );

    // An unknown parcel id gets a clear answer.
    vic.request(ToServer::Parcel(ParcelRequest::History {
        parcel: "atlantis-9".into(),
    }));
    let told = wait_until(&mut [&mut vic], Duration::from_secs(3), |c| {
        c[0].parcel_answer("atlantis-9").is_some()
    });
    assert!(told, "the unknown parcel is answered");
    assert!(vic.parcel_answer("atlantis-9").is_some_and(|a| {
        a.is_err_and(|r| matches!(r, ParcelRefusal::UnknownParcel(id) if id == "atlantis-9"))
    }));

    // The history shows the founder's change.
    mo.request(ToServer::Parcel(ParcelRequest::History {
        parcel: "lis-04".into(),
    }));
    let history = wait_until(&mut [&mut mo], Duration::from_secs(3), |c| {
        c[0].app
            .world()
            .resource::<archipelago_client::parcels::ParcelBook>()
            .history
            .get("lis-04")
            .is_some_and(|h| h.iter().any(|change| change.by == "Fay"))
    });
    assert!(history, "the history names who changed the parcel");

    // A change made beside the running server, as the admin CLI does, reaches clients.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let storage = Storage::open(&server.data_dir()).await.expect("opens");
        let current = storage.parcel("lis-06").await.expect("parcel");
        storage
            .change_parcel(
                &Actor::admin(),
                &ParcelRequest::SetStatus {
                    parcel: "lis-06".into(),
                    status: StatusChoice::Crowdfunding { goal: 777_000 },
                    expected_version: current.version,
                },
            )
            .await
            .expect("the CLI's change is stored");
        storage.close().await;
    });
    let outside = wait_until(&mut [&mut mo, &mut vic], Duration::from_secs(3), |c| {
        c.iter().all(|client| {
            client.parcel("lis-06").is_some_and(|p| {
                p.status
                    == ParcelStatus::Crowdfunding {
                        goal: 777_000,
                        raised: 0,
                    }
            })
        })
    });
    assert!(outside, "the CLI's change reached the clients");
}
