//! The real-estate footprint in the nation's standing is computed from the land registry:
//! buying a parcel grows its protocity's footprint by the parcel's area, at once for everyone
//! online, and the earlier totals stay in the history. (Recording recognitions and censuses,
//! over QUIC against the server binary: tests/tests/scenarios/recognition.rs.)

use std::time::Duration;

use archipelago_shared::parcels::{Owner, OwnerClaim, ParcelRequest};
use archipelago_shared::protocol::{Role, ToServer};
use archipelago_shared::recognition::footprint_m2;
use archipelago_tests::sim::SimServer;
use archipelago_tests::{TestClient, enter_world, wait_until, world};

#[test]
fn the_footprint_is_computed_from_the_land_registry_and_kept_as_history() {
    let server = SimServer::start();
    let mut founder = server.join("Fay", Some(Role::Founder));
    enter_world(&mut founder);
    let loaded = wait_until(&mut [&mut founder], Duration::from_secs(5), |c| {
        c[0].standing().is_some()
    });
    assert!(loaded, "the standing arrives");
    let registry_total = |client: &TestClient, protocity: &str| {
        let book = client
            .app
            .world()
            .resource::<archipelago_client::parcels::ParcelBook>();
        footprint_m2(book.parcels.values(), protocity)
    };
    let capital = world().capital().id.clone();
    let before = founder.standing().expect("standing").footprint_of(&capital);
    assert_eq!(
        before,
        registry_total(&founder, &capital),
        "footprint = registry's total"
    );

    let parcel = founder
        .app
        .world()
        .resource::<archipelago_client::parcels::ParcelBook>()
        .parcels
        .values()
        .find(|p| p.protocity == capital && p.owner == Owner::Unowned)
        .cloned()
        .expect("an unowned parcel in the capital");
    founder.request(ToServer::Parcel(ParcelRequest::Assign {
        parcel: parcel.id.clone(),
        owner: OwnerClaim::Group("Tagus housing cooperative".into()),
        expected_version: parcel.version,
    }));
    let grown = wait_until(&mut [&mut founder], Duration::from_secs(5), |c| {
        c[0].standing()
            .is_some_and(|s| s.footprint_of(&capital) == before + i64::from(parcel.area_m2))
    });
    assert!(
        grown,
        "buying a parcel grows the capital's footprint by its area"
    );
    let standing = founder.standing().expect("standing");
    assert_eq!(
        standing.footprint_of(&capital),
        registry_total(&founder, &capital)
    );
    let history: Vec<i64> = standing
        .footprints
        .iter()
        .filter(|f| f.protocity == capital)
        .map(|f| f.area_m2)
        .collect();
    assert!(
        history.ends_with(&[before, before + i64::from(parcel.area_m2)]),
        "the footprint's history keeps the earlier total: {history:?}"
    );
    assert!(
        history.len() > 2,
        "and the history computed from the world data's acquisition dates: {history:?}"
    );
}
