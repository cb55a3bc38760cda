//! Properties over generated inputs: a count never depends on the order ballots arrived in,
//! and no change the land rule accepts leaves a record the registry could not hold.

use archipelago_shared::governance::tally::{Choice, Rules, VoteType, YesNo, tally};
use archipelago_shared::parcels::{
    Actor, Change, MAX_DESCRIPTION_CHARS, MAX_PRICE, Owner, ParcelInfo, ParcelStatus, StatusChoice,
    Zoning, apply_change,
};
use archipelago_shared::protocol::Role;
use proptest::prelude::*;

fn vote_type() -> impl Strategy<Value = VoteType> {
    prop_oneof![
        Just(VoteType::YesNo),
        Just(VoteType::SingleChoice),
        Just(VoteType::Approval),
        Just(VoteType::RankedChoice),
        (1u32..200).prop_map(|credits| VoteType::Quadratic { credits }),
    ]
}

/// Any ballot at all, valid for the rules or not: the tally must skip the misshapen ones the
/// same way whatever their place in the list.
fn choice(options: usize) -> impl Strategy<Value = Choice> {
    let option = 0u8..(options as u8 + 2);
    prop_oneof![
        prop_oneof![Just(YesNo::Yes), Just(YesNo::No), Just(YesNo::Abstain)]
            .prop_map(Choice::YesNo),
        option.clone().prop_map(Choice::Single),
        prop::collection::vec(option.clone(), 0..5).prop_map(Choice::Approval),
        prop::collection::vec(option, 0..5).prop_map(Choice::Ranked),
        prop::collection::vec(0u32..6, options..=options).prop_map(Choice::Quadratic),
    ]
}

fn rules_and_ballots() -> impl Strategy<Value = (Rules, Vec<Choice>)> {
    (vote_type(), 2usize..6, 0u32..6, 1u32..101).prop_flat_map(
        |(vote_type, options, quorum, threshold_percent)| {
            let rules = Rules {
                vote_type,
                options,
                quorum,
                threshold_percent,
            };
            (Just(rules), prop::collection::vec(choice(options), 0..40))
        },
    )
}

proptest! {
    #[test]
    fn a_tally_does_not_depend_on_the_order_of_the_ballots(
        (rules, ballots) in rules_and_ballots(),
        seed in any::<u64>(),
    ) {
        let mut shuffled = ballots.clone();
        // A Fisher-Yates shuffle driven by the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(tally(&rules, &ballots), tally(&rules, &shuffled));
    }
}

fn status() -> impl Strategy<Value = ParcelStatus> {
    prop_oneof![
        Just(ParcelStatus::Owned),
        (1..=MAX_PRICE).prop_map(|price| ParcelStatus::ForSale { price }),
        (1..=MAX_PRICE)
            .prop_flat_map(|goal| (Just(goal), 0..=goal))
            .prop_map(|(goal, raised)| ParcelStatus::Crowdfunding { goal, raised }),
        Just(ParcelStatus::Reserved),
    ]
}

fn change() -> impl Strategy<Value = Change> {
    let amount = prop_oneof![0..=20u64, 0..=u64::MAX, 1..=MAX_PRICE];
    prop_oneof![
        Just(Change::Assign(Owner::Unowned)),
        Just(Change::Assign(Owner::Group("the treasury".into()))),
        Just(Change::SetStatus(StatusChoice::Owned)),
        Just(Change::SetStatus(StatusChoice::Reserved)),
        amount
            .clone()
            .prop_map(|price| Change::SetStatus(StatusChoice::ForSale { price })),
        amount
            .clone()
            .prop_map(|goal| Change::SetStatus(StatusChoice::Crowdfunding { goal })),
        ".{0,700}".prop_map(Change::Describe),
        amount.prop_map(Change::Pledge),
    ]
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::Visitor),
        Just(Role::Member),
        Just(Role::Resident),
        Just(Role::Founder),
    ]
}

/// What every record in the registry must be.
fn holds(record: &ParcelInfo) -> Result<(), String> {
    if record.description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err("description too long".into());
    }
    match record.status {
        ParcelStatus::ForSale { price } if !(1..=MAX_PRICE).contains(&price) => {
            Err(format!("price {price}"))
        }
        ParcelStatus::Crowdfunding { goal, raised } if !(1..=MAX_PRICE).contains(&goal) => {
            Err(format!("goal {goal} (raised {raised})"))
        }
        ParcelStatus::Crowdfunding { goal, raised } if raised > goal => {
            Err(format!("raised {raised} past the goal {goal}"))
        }
        _ => Ok(()),
    }
}

proptest! {
    #[test]
    fn every_accepted_change_keeps_the_registrys_invariants(
        start in status(),
        changes in prop::collection::vec((role(), change()), 1..12),
    ) {
        let mut record = ParcelInfo {
            id: "lis-03".into(),
            protocity: "meridian".into(),
            owner: Owner::Unowned,
            area_m2: 800,
            zoning: Zoning::Residential,
            status: start,
            residency: Role::Resident,
            jurisdiction: "Lisbon, Portugal".into(),
            description: String::new(),
            version: 1,
            updated_at: 0,
            title: None,
        };
        for (role, change) in changes {
            let actor = Actor { key: Some("k".into()), name: "someone".into(), role };
            if let Ok((next, _)) = apply_change(&record, &actor, &change) {
                prop_assert!(holds(&next).is_ok(), "{:?} after {:?}: {:?}", holds(&next), change, next.status);
                record = next;
            }
        }
    }
}
