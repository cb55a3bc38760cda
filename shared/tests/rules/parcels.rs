//! The land rules: who may change what, and how amounts, descriptions and dates read.

use archipelago_shared::parcels::{
    Actor, Change, MAX_DESCRIPTION_CHARS, MAX_PLEDGE, MAX_PRICE, Owner, ParcelAct, ParcelFilter,
    ParcelInfo, ParcelRefusal, ParcelStatus, StatusChoice, StatusKind, Title, Zoning, apply_change,
    dollars, utc_date_time,
};
use archipelago_shared::protocol::Role;

fn parcel(owner: Owner, status: ParcelStatus) -> ParcelInfo {
    ParcelInfo {
        id: "lis-03".into(),
        protocity: "meridian".into(),
        owner,
        area_m2: 800,
        zoning: Zoning::Residential,
        status,
        residency: Role::Resident,
        jurisdiction: "Lisbon, Portugal".into(),
        description: "A corner plot.".into(),
        version: 4,
        updated_at: 0,
        title: Some(Title {
            address: "Rua da Maré 3".into(),
            latitude: 38.7,
            longitude: -9.1,
            deed_hash: "ab".repeat(32),
        }),
    }
}

fn actor(role: Role, key: &str) -> Actor {
    Actor {
        key: Some(key.into()),
        name: format!("{role} {key}"),
        role,
    }
}

fn alice() -> Owner {
    Owner::Member {
        key: "a1".into(),
        name: "Alice".into(),
    }
}

#[test]
fn only_founders_assign_and_set_status() {
    let record = parcel(Owner::Unowned, ParcelStatus::ForSale { price: 90_000 });
    for role in [Role::Visitor, Role::Member, Role::Resident] {
        let who = actor(role, "k");
        assert!(
            matches!(
                apply_change(&record, &who, &Change::Assign(alice())),
                Err(ParcelRefusal::FoundersOnly { .. })
            ),
            "a {role} cannot assign"
        );
        assert!(
            matches!(
                apply_change(&record, &who, &Change::SetStatus(StatusChoice::Reserved)),
                Err(ParcelRefusal::FoundersOnly { .. })
            ),
            "a {role} cannot set the status"
        );
    }
    let founder = actor(Role::Founder, "f");
    let (next, what) =
        apply_change(&record, &founder, &Change::Assign(alice())).expect("a founder can assign");
    assert_eq!(next.owner, alice());
    assert_eq!(what, "owner: nobody → Alice");
    let (next, what) = apply_change(
        &next,
        &founder,
        &Change::SetStatus(StatusChoice::Crowdfunding { goal: 400_000 }),
    )
    .expect("a founder can start crowdfunding");
    assert_eq!(
        next.status,
        ParcelStatus::Crowdfunding {
            goal: 400_000,
            raised: 0
        }
    );
    assert!(
        what.contains("for sale at $90,000 → crowdfunding"),
        "{what}"
    );
}

#[test]
fn an_owner_describes_their_own_parcel_but_not_anothers() {
    let record = parcel(alice(), ParcelStatus::Owned);
    let owner = actor(Role::Member, "a1");
    let (next, _) = apply_change(&record, &owner, &Change::Describe("  Our garden.  ".into()))
        .expect("the owner can describe");
    assert_eq!(next.description, "Our garden.", "stored trimmed");

    let neighbour = actor(Role::Resident, "b2");
    assert_eq!(
        apply_change(&record, &neighbour, &Change::Describe("Mine now".into())),
        Err(ParcelRefusal::NotOwner)
    );
    assert_eq!(
        apply_change(
            &record,
            &neighbour,
            &Change::Assign(Owner::Group("B".into()))
        ),
        Err(ParcelRefusal::FoundersOnly {
            action: ParcelAct::Assign,
            role: Role::Resident
        }),
        "an owner cannot transfer another's parcel either"
    );
}

#[test]
fn pledges_move_progress_and_are_checked() {
    let record = parcel(
        Owner::Unowned,
        ParcelStatus::Crowdfunding {
            goal: 200_000,
            raised: 50_000,
        },
    );
    let member = actor(Role::Member, "m");
    let (next, what) = apply_change(&record, &member, &Change::Pledge(25_000)).expect("pledge");
    assert_eq!(
        next.status,
        ParcelStatus::Crowdfunding {
            goal: 200_000,
            raised: 75_000
        }
    );
    assert!(what.contains("(37%)"), "{what}");
    assert_eq!(
        apply_change(&record, &actor(Role::Visitor, "v"), &Change::Pledge(10)),
        Err(ParcelRefusal::VisitorPledge)
    );
    assert!(matches!(
        apply_change(&record, &member, &Change::Pledge(0)),
        Err(ParcelRefusal::AmountOutOfRange { .. })
    ));
    assert!(matches!(
        apply_change(&record, &member, &Change::Pledge(MAX_PLEDGE + 1)),
        Err(ParcelRefusal::AmountOutOfRange { .. })
    ));
    let (full, what) =
        apply_change(&record, &member, &Change::Pledge(1_000_000)).expect("capped pledge");
    assert_eq!(
        full.status,
        ParcelStatus::Crowdfunding {
            goal: 200_000,
            raised: 200_000
        },
        "a pledge past the goal takes only what the goal still needs"
    );
    assert!(
        what.starts_with("pledged $150,000 (of $1,000,000 offered"),
        "{what}"
    );
    assert_eq!(
        apply_change(&full, &member, &Change::Pledge(10)),
        Err(ParcelRefusal::FullyFunded("lis-03".into())),
        "a funded parcel takes no more"
    );
    assert!(
        matches!(
            apply_change(
                &full,
                &actor(Role::Founder, "f"),
                &Change::SetStatus(StatusChoice::Crowdfunding { goal: 100_000 })
            ),
            Err(ParcelRefusal::GoalBelowRaised { .. })
        ),
        "a goal cannot fall below what was pledged"
    );
    let for_sale = parcel(Owner::Unowned, ParcelStatus::ForSale { price: 5 });
    assert_eq!(
        apply_change(&for_sale, &member, &Change::Pledge(10)),
        Err(ParcelRefusal::NotCrowdfunding("lis-03".into()))
    );
}

#[test]
fn absurd_amounts_and_bad_text_are_refused() {
    let founder = actor(Role::Founder, "f");
    let record = parcel(Owner::Unowned, ParcelStatus::Reserved);
    for price in [0, MAX_PRICE + 1, u64::MAX] {
        let refused = apply_change(
            &record,
            &founder,
            &Change::SetStatus(StatusChoice::ForSale { price }),
        );
        assert!(
            matches!(refused, Err(ParcelRefusal::AmountOutOfRange { .. })),
            "price {price} refused: {refused:?}"
        );
    }
    let long = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
    assert!(matches!(
        apply_change(&record, &founder, &Change::Describe(long)),
        Err(ParcelRefusal::DescriptionTooLong { .. })
    ));
    assert_eq!(
        apply_change(&record, &founder, &Change::Describe("bell\u{7}".into())),
        Err(ParcelRefusal::DescriptionControlCharacters)
    );
    assert_eq!(
        apply_change(&record, &founder, &Change::SetStatus(StatusChoice::Owned)),
        Err(ParcelRefusal::OwnedWithoutOwner),
        "nobody holds it, so it cannot be owned"
    );
    assert_eq!(
        apply_change(
            &record,
            &founder,
            &Change::SetStatus(StatusChoice::Reserved)
        ),
        Err(ParcelRefusal::NoChange)
    );
    assert!(matches!(
        apply_change(&record, &founder, &Change::Assign(Owner::Group(" ".into()))),
        Err(ParcelRefusal::BadGroupName { .. })
    ));
}

#[test]
fn giving_an_owned_parcel_to_nobody_reserves_it() {
    let founder = actor(Role::Founder, "f");
    let record = parcel(alice(), ParcelStatus::Owned);
    let (next, what) =
        apply_change(&record, &founder, &Change::Assign(Owner::Unowned)).expect("allowed");
    assert_eq!(next.status, ParcelStatus::Reserved);
    assert!(what.ends_with("status: owned → reserved"), "{what}");
}

#[test]
fn visitors_do_not_see_the_title() {
    let record = parcel(alice(), ParcelStatus::Owned);
    assert!(record.seen_by(Role::Visitor).title.is_none());
    assert_eq!(record.seen_by(Role::Member), record);
}

#[test]
fn the_search_matches_id_owner_status_and_island() {
    let record = parcel(alice(), ParcelStatus::Owned);
    let filter = |text: &str, status: Option<StatusKind>, protocity: Option<&str>| ParcelFilter {
        text: text.into(),
        status,
        protocity: protocity.map(str::to_owned),
    };
    assert!(filter("", None, None).matches(&record));
    assert!(filter("lis-0", None, None).matches(&record));
    assert!(filter("alice", Some(StatusKind::Owned), Some("meridian")).matches(&record));
    assert!(!filter("bob", None, None).matches(&record));
    assert!(!filter("", Some(StatusKind::ForSale), None).matches(&record));
    assert!(!filter("", None, Some("southerly")).matches(&record));
}

#[test]
fn amounts_and_dates_read_well() {
    assert_eq!(dollars(0), "$0");
    assert_eq!(dollars(999), "$999");
    assert_eq!(dollars(1_000), "$1,000");
    assert_eq!(dollars(1_250_000), "$1,250,000");
    assert_eq!(utc_date_time(0), "1970-01-01 00:00 UTC");
    assert_eq!(utc_date_time(1_795_000_000), "2026-11-18 11:06 UTC");
    assert_eq!(utc_date_time(951_782_400), "2000-02-29 00:00 UTC");
}
