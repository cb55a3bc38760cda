//! The land registry against a real SQLite file: seeded from the world data, each role's
//! allowed and refused changes, a history line per change, conflicts and bad input leaving
//! nothing behind, and everything still there after the database is reopened.

use archipelago_server::parcels::storage::ParcelError;
use archipelago_server::storage::Storage;
use archipelago_shared::parcels::{
    Actor, Owner, OwnerClaim, ParcelRefusal, ParcelRequest, ParcelStatus, StatusChoice,
};
use archipelago_shared::protocol::Role;
use archipelago_tests::world;

const FOUNDER_KEY: &str = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";
const ALICE_KEY: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const BOB_KEY: &str = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";

fn actor(key: &str, name: &str, role: Role) -> Actor {
    Actor {
        key: Some(key.into()),
        name: name.into(),
        role,
    }
}

fn refusal(result: Result<impl std::fmt::Debug, ParcelError>) -> ParcelRefusal {
    match result {
        Err(ParcelError::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn open(dir: &std::path::Path) -> Storage {
    let storage = Storage::open(dir).await.expect("database opens");
    storage
        .seed_parcels(&world().parcel_seeds())
        .await
        .expect("seeding works");
    storage
}

/// A crowdfunding parcel of the capital in the world data.
fn crowdfunding_id() -> String {
    world()
        .parcel_seeds()
        .into_iter()
        .find(|p| matches!(p.status, ParcelStatus::Crowdfunding { .. }))
        .expect("the world data has a crowdfunding parcel")
        .id
}

#[tokio::test]
async fn the_registry_is_seeded_once_from_the_world_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = Storage::open(dir.path()).await.expect("opens");
    let seeds = world().parcel_seeds();
    let first = storage.seed_parcels(&seeds).await.expect("seed");
    assert_eq!(first.added, seeds.len(), "every parcel recorded");
    let again = storage.seed_parcels(&seeds).await.expect("seed again");
    assert_eq!(again.added, 0, "nothing recorded twice");
    let stored = storage.parcels().await.expect("read");
    assert_eq!(stored.len(), seeds.len());
    let seed = &seeds[0];
    let record = storage.parcel(&seed.id).await.expect("one parcel");
    assert_eq!(
        (&record.owner, &record.status, &record.title, record.version),
        (&seed.owner, &seed.status, &seed.title, 1),
        "the stored record is the seed"
    );
    let history = storage
        .parcel_history(&seed.id, None)
        .await
        .expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].by, "world data");
}

#[tokio::test]
async fn each_role_is_allowed_only_its_own_changes_and_the_history_records_each() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = open(dir.path()).await;
    storage.login(ALICE_KEY, "Alice").await.expect("alice");
    storage.login(BOB_KEY, "Bob").await.expect("bob");
    let founder = actor(FOUNDER_KEY, "Founder Fay", Role::Founder);
    let alice = actor(ALICE_KEY, "Alice", Role::Member);
    let bob = actor(BOB_KEY, "Bob", Role::Resident);
    let visitor = actor("ee", "Vic", Role::Visitor);
    let id = "lis-03".to_owned();

    let assign = |who: &str, version| ParcelRequest::Assign {
        parcel: id.clone(),
        owner: OwnerClaim::Member(who.into()),
        expected_version: version,
    };
    assert!(matches!(
        refusal(storage.change_parcel(&visitor, &assign("Alice", 1)).await),
        ParcelRefusal::FoundersOnly { .. }
    ));
    let (record, what) = storage
        .change_parcel(&founder, &assign("Alice", 1))
        .await
        .expect("a founder assigns");
    assert_eq!(
        record.owner,
        Owner::Member {
            key: ALICE_KEY.into(),
            name: "Alice".into()
        }
    );
    assert_eq!(record.version, 2);
    assert!(what.ends_with("→ Alice"), "{what}");

    let describe = |text: &str, version| ParcelRequest::Describe {
        parcel: id.clone(),
        text: text.into(),
        expected_version: version,
    };
    assert_eq!(
        refusal(storage.change_parcel(&bob, &describe("Bob's now", 2)).await),
        ParcelRefusal::NotOwner,
        "an owner cannot edit another's parcel"
    );
    assert!(matches!(
        refusal(storage.change_parcel(&alice, &assign("Bob", 2)).await),
        ParcelRefusal::FoundersOnly { .. }
    ));
    let (record, _) = storage
        .change_parcel(&alice, &describe("Alice's vegetable garden.", 2))
        .await
        .expect("the owner describes");
    assert_eq!(record.description, "Alice's vegetable garden.");

    let history = storage.parcel_history(&id, None).await.expect("history");
    let lines: Vec<(u32, &str)> = history.iter().map(|c| (c.version, c.by.as_str())).collect();
    assert_eq!(
        lines,
        vec![(1, "world data"), (2, "Founder Fay"), (3, "Alice")],
        "one history line per stored change, none for refusals"
    );
}

#[tokio::test]
async fn pledges_add_up_and_visitors_cannot_pledge() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = open(dir.path()).await;
    let id = crowdfunding_id();
    let before = storage.parcel(&id).await.expect("parcel");
    let ParcelStatus::Crowdfunding { raised, .. } = before.status else {
        unreachable!("chosen as crowdfunding");
    };
    let pledge = |amount| ParcelRequest::Pledge {
        parcel: id.clone(),
        amount,
    };
    assert_eq!(
        refusal(
            storage
                .change_parcel(&actor("ee", "Vic", Role::Visitor), &pledge(100))
                .await
        ),
        ParcelRefusal::VisitorPledge
    );
    let member = actor(ALICE_KEY, "Alice", Role::Member);
    storage
        .change_parcel(&member, &pledge(1_500))
        .await
        .expect("pledge");
    let (after, _) = storage
        .change_parcel(&member, &pledge(500))
        .await
        .expect("pledge");
    assert_eq!(
        after.status,
        ParcelStatus::Crowdfunding {
            goal: match before.status {
                ParcelStatus::Crowdfunding { goal, .. } => goal,
                _ => 0,
            },
            raised: raised + 2_000
        }
    );
    assert_eq!(storage.pledges(&id).await.expect("pledges"), (2_000, 2));
}

#[tokio::test]
async fn bad_requests_leave_nothing_behind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = open(dir.path()).await;
    let founder = Actor::admin();
    let before = storage.parcels().await.expect("read");

    assert_eq!(
        refusal(
            storage
                .change_parcel(
                    &founder,
                    &ParcelRequest::SetStatus {
                        parcel: "nowhere-1".into(),
                        status: StatusChoice::Reserved,
                        expected_version: 1,
                    },
                )
                .await
        ),
        ParcelRefusal::UnknownParcel("nowhere-1".into())
    );
    assert!(matches!(
        refusal(
            storage
                .change_parcel(
                    &founder,
                    &ParcelRequest::SetStatus {
                        parcel: "lis-03".into(),
                        status: StatusChoice::ForSale { price: u64::MAX },
                        expected_version: 1,
                    },
                )
                .await
        ),
        ParcelRefusal::AmountOutOfRange { .. }
    ));
    assert!(matches!(
        refusal(
            storage
                .change_parcel(
                    &founder,
                    &ParcelRequest::Describe {
                        parcel: "lis-03".into(),
                        text: "x".repeat(10_000),
                        expected_version: 1,
                    },
                )
                .await
        ),
        ParcelRefusal::DescriptionTooLong { .. }
    ));
    assert_eq!(
        refusal(
            storage
                .change_parcel(
                    &founder,
                    &ParcelRequest::Assign {
                        parcel: "lis-03".into(),
                        owner: OwnerClaim::Member("Nobody Known".into()),
                        expected_version: 1,
                    },
                )
                .await
        ),
        ParcelRefusal::UnknownMember("Nobody Known".into())
    );
    assert_eq!(
        storage.parcels().await.expect("read"),
        before,
        "nothing changed"
    );
    assert_eq!(
        storage
            .parcel_history("lis-03", None)
            .await
            .expect("history")
            .len(),
        1,
        "no history for refused requests"
    );
}

#[tokio::test]
async fn of_two_concurrent_edits_one_wins_and_the_other_is_told() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = open(dir.path()).await;
    let fay = actor(FOUNDER_KEY, "Fay", Role::Founder);
    let gus = actor(BOB_KEY, "Gus", Role::Founder);
    let sell = |price| ParcelRequest::SetStatus {
        parcel: "lis-03".into(),
        status: StatusChoice::ForSale { price },
        expected_version: 1,
    };
    let (fays, guss) = (sell(100_000), sell(200_000));
    let (first, second) = tokio::join!(
        storage.change_parcel(&fay, &fays),
        storage.change_parcel(&gus, &guss),
    );
    let outcomes = [first.is_ok(), second.is_ok()];
    assert_eq!(
        outcomes.iter().filter(|ok| **ok).count(),
        1,
        "exactly one wins: {first:?} / {second:?}"
    );
    let loser = if first.is_ok() { second } else { first };
    assert_eq!(
        refusal(loser),
        ParcelRefusal::Conflict {
            parcel: "lis-03".into(),
            seen: 1,
            now: 2
        }
    );
    let history = storage
        .parcel_history("lis-03", None)
        .await
        .expect("history");
    assert_eq!(
        history.iter().map(|c| c.version).collect::<Vec<_>>(),
        vec![1, 2],
        "the history has no fork"
    );
}

#[tokio::test]
async fn changes_survive_reopening_the_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let storage = open(dir.path()).await;
        storage
            .change_parcel(
                &Actor::admin(),
                &ParcelRequest::Assign {
                    parcel: "lis-04".into(),
                    owner: OwnerClaim::Group("Meridian Bakers' Guild".into()),
                    expected_version: 1,
                },
            )
            .await
            .expect("assign");
        storage.close().await;
    }
    let storage = open(dir.path()).await;
    let record = storage.parcel("lis-04").await.expect("parcel");
    assert_eq!(record.owner, Owner::Group("Meridian Bakers' Guild".into()));
    assert_eq!(record.version, 2, "the seed did not overwrite the change");
    let history = storage
        .parcel_history("lis-04", None)
        .await
        .expect("history");
    assert_eq!(history.last().map(|c| c.by.as_str()), Some("admin (CLI)"));
    let (changed, cursor) = storage.parcels_changed_since(0).await.expect("poll");
    assert!(cursor > 0 && changed.iter().any(|p| p.id == "lis-04"));
    let (none, same) = storage.parcels_changed_since(cursor).await.expect("poll");
    assert!(
        none.is_empty() && same == cursor,
        "nothing new after the cursor"
    );
}

#[tokio::test]
async fn a_founders_edit_does_not_conflict_with_pledges_made_meanwhile() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = open(dir.path()).await;
    let fay = actor(FOUNDER_KEY, "Fay", Role::Founder);
    let gus = actor(BOB_KEY, "Gus", Role::Founder);
    let alice = actor(ALICE_KEY, "Alice", Role::Member);
    let (crowdfunding, _) = storage
        .change_parcel(
            &fay,
            &ParcelRequest::SetStatus {
                parcel: "lis-03".into(),
                status: StatusChoice::Crowdfunding { goal: 500_000 },
                expected_version: 1,
            },
        )
        .await
        .expect("crowdfunding");
    let seen = crowdfunding.version;
    storage
        .change_parcel(
            &alice,
            &ParcelRequest::Pledge {
                parcel: "lis-03".into(),
                amount: 5_000,
            },
        )
        .await
        .expect("a pledge");
    // Fay still looks at the version before the pledge: her edit goes through, on the record
    // as it is now.
    let (described, _) = storage
        .change_parcel(
            &fay,
            &ParcelRequest::Describe {
                parcel: "lis-03".into(),
                text: "A corner plot for the bakery.".into(),
                expected_version: seen,
            },
        )
        .await
        .expect("a pledge meanwhile is no conflict");
    assert_eq!(
        described.status,
        ParcelStatus::Crowdfunding {
            goal: 500_000,
            raised: 208_000
        },
        "the pledge stays (the world data had $203,000 raised)"
    );
    // Ending the crowdfunding on a version from before a pledge would undo it: a conflict.
    let later_seen = described.version;
    storage
        .change_parcel(
            &alice,
            &ParcelRequest::Pledge {
                parcel: "lis-03".into(),
                amount: 1_000,
            },
        )
        .await
        .expect("another pledge");
    let ended = storage
        .change_parcel(
            &fay,
            &ParcelRequest::SetStatus {
                parcel: "lis-03".into(),
                status: StatusChoice::Owned,
                expected_version: later_seen,
            },
        )
        .await;
    assert!(
        matches!(refusal(ended), ParcelRefusal::Conflict { .. }),
        "a pledge meanwhile conflicts with ending the crowdfunding"
    );
    // An edit meanwhile still is.
    let late = storage
        .change_parcel(
            &gus,
            &ParcelRequest::SetStatus {
                parcel: "lis-03".into(),
                status: StatusChoice::Reserved,
                expected_version: seen,
            },
        )
        .await;
    assert!(
        matches!(refusal(late), ParcelRefusal::Conflict { .. }),
        "Fay's edit came between"
    );
}
