//! The rules of the nation's standing: stage changes in order, skipping or going back only
//! with a reason, dates between the founding and today; census figures that are not negative
//! and add up; the national totals.

use archipelago_shared::recognition::{
    Census, RecognitionRefusal, Stage, StageChange, census_total, check_census, check_stage_change,
};

const FOUNDED: i64 = 1_600_000_000;
const NOW: i64 = 1_800_000_000;

fn change(stage: Stage, at: i64, reason: Option<&str>) -> StageChange {
    StageChange {
        stage,
        at,
        reason: reason.map(str::to_owned),
        source: "charter.pdf".into(),
    }
}

#[test]
fn stages_are_climbed_one_at_a_time_between_the_founding_and_today() {
    let history = vec![change(Stage::StartupSociety, FOUNDED, None)];
    assert_eq!(
        check_stage_change(
            &history,
            &change(Stage::NetworkUnion, NOW - 10, None),
            FOUNDED,
            NOW
        ),
        Ok(())
    );
    assert_eq!(
        check_stage_change(
            &history,
            &change(Stage::NetworkUnion, NOW + 10, None),
            FOUNDED,
            NOW
        ),
        Err(RecognitionRefusal::FutureDate)
    );
    assert_eq!(
        check_stage_change(
            &[],
            &change(Stage::StartupSociety, FOUNDED - 1, None),
            FOUNDED,
            NOW
        ),
        Err(RecognitionRefusal::BeforeFounding)
    );
    let later = vec![
        change(Stage::StartupSociety, FOUNDED, None),
        change(Stage::NetworkUnion, FOUNDED + 1000, None),
    ];
    assert_eq!(
        check_stage_change(
            &later,
            &change(Stage::NetworkArchipelago, FOUNDED + 500, None),
            FOUNDED,
            NOW
        ),
        Err(RecognitionRefusal::OutOfOrder)
    );
    assert_eq!(
        check_stage_change(
            &later,
            &change(Stage::NetworkUnion, NOW, None),
            FOUNDED,
            NOW
        ),
        Err(RecognitionRefusal::SameStage("Network union"))
    );
}

#[test]
fn skipping_a_stage_or_going_back_needs_a_reason() {
    let history = vec![change(Stage::StartupSociety, FOUNDED, None)];
    assert_eq!(
        check_stage_change(
            &history,
            &change(Stage::NetworkArchipelago, NOW, None),
            FOUNDED,
            NOW
        ),
        Err(RecognitionRefusal::SkipsWithoutReason {
            from: "Startup society",
            to: "Network archipelago"
        })
    );
    assert_eq!(
        check_stage_change(
            &history,
            &change(
                Stage::NetworkArchipelago,
                NOW,
                Some("land bought in two countries at once")
            ),
            FOUNDED,
            NOW
        ),
        Ok(())
    );
    let union = vec![change(Stage::NetworkUnion, FOUNDED, None)];
    assert_eq!(
        check_stage_change(
            &union,
            &change(Stage::StartupSociety, NOW, Some("  ")),
            FOUNDED,
            NOW
        ),
        Err(RecognitionRefusal::BackwardsWithoutReason {
            from: "Network union",
            to: "Startup society"
        }),
        "a blank reason is no reason"
    );
    let mut no_source = change(Stage::NetworkArchipelago, NOW, None);
    no_source.source = " ".into();
    assert_eq!(
        check_stage_change(&union, &no_source, FOUNDED, NOW),
        Err(RecognitionRefusal::NoSource)
    );
}

#[test]
fn the_ladder_says_what_comes_next() {
    assert_eq!(Stage::StartupSociety.next(), Some(Stage::NetworkUnion));
    assert_eq!(Stage::NetworkState.next(), None);
    assert!(
        Stage::NetworkArchipelago
            .next_requires()
            .contains("recognition")
    );
}

#[test]
fn census_figures_are_not_negative_and_add_up() {
    let good = Census {
        population: 1200,
        residents: 300,
        online_members: 900,
        yearly_income: 4_500_000,
        parcels_crowdfunded: 12,
    };
    assert_eq!(check_census(&good), Ok(()));
    assert_eq!(
        check_census(&Census {
            yearly_income: -1,
            ..good
        }),
        Err(RecognitionRefusal::Negative("the yearly income"))
    );
    assert_eq!(
        check_census(&Census {
            residents: 301,
            ..good
        }),
        Err(RecognitionRefusal::PopulationMismatch(1201, 1200))
    );
}

#[test]
fn the_national_census_is_the_sum_of_the_protocities() {
    let a = Census {
        population: 10,
        residents: 4,
        online_members: 6,
        yearly_income: 100,
        parcels_crowdfunded: 1,
    };
    let b = Census {
        population: 5,
        residents: 5,
        online_members: 0,
        yearly_income: 50,
        parcels_crowdfunded: 2,
    };
    assert_eq!(
        census_total([&a, &b]),
        Census {
            population: 15,
            residents: 9,
            online_members: 6,
            yearly_income: 150,
            parcels_crowdfunded: 3,
        }
    );
    assert_eq!(census_total([]), Census::default());
}
