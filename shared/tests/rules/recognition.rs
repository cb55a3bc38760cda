//! The rules of the nation's standing: stage changes in order, skipping or going back only
//! with a reason, dates between the founding and today; census figures that are not negative
//! and add up; the national totals.

use archipelago_shared::parcels::Owner;
use archipelago_shared::recognition::{
    Census, CensusFigure, CensusRecord, Figure, FootprintRecord, RecognitionRefusal,
    RecognitionRequest, RecognizerKind, Relation, RelationChange, Stage, StageChange, Standing,
    census_total, check_census, check_stage_change, date_words, footprint_m2, parse_date,
};
use archipelago_shared::world::load_world_dir;

const FOUNDED: i64 = 1_600_000_000;
const NOW: i64 = 1_800_000_000;

fn change(stage: Stage, at: i64, reason: Option<&str>) -> StageChange {
    StageChange {
        stage,
        at,
        reason: reason.map(str::to_owned),
        source: "charter.pdf".into(),
        recorded_by: String::new(),
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
        Err(RecognitionRefusal::SameStage(Stage::NetworkUnion))
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
            from: Stage::StartupSociety,
            to: Stage::NetworkArchipelago
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
            from: Stage::NetworkUnion,
            to: Stage::StartupSociety
        }),
        "a blank reason is no reason"
    );
    // The first stage recorded is the ladder's first rung, unless a reason says otherwise.
    assert_eq!(
        check_stage_change(&[], &change(Stage::NetworkUnion, NOW, None), FOUNDED, NOW),
        Err(RecognitionRefusal::FirstSkipsWithoutReason {
            first: Stage::StartupSociety,
            to: Stage::NetworkUnion
        })
    );
    assert_eq!(
        check_stage_change(
            &[],
            &change(
                Stage::NetworkUnion,
                NOW,
                Some("founded by two societies merging")
            ),
            FOUNDED,
            NOW
        ),
        Ok(())
    );
    assert_eq!(
        check_stage_change(&[], &change(Stage::StartupSociety, NOW, None), FOUNDED, NOW),
        Ok(())
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
        Err(RecognitionRefusal::Negative(CensusFigure::YearlyIncome))
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

fn relation(name: &str, relation: Relation, at: i64) -> RelationChange {
    RelationChange {
        recognizer: name.into(),
        kind: RecognizerKind::State,
        relation,
        at,
        source: "letter".into(),
        recorded_by: String::new(),
    }
}

fn census(protocity: &str, at: i64, residents: i64, online: i64, income: i64) -> CensusRecord {
    CensusRecord {
        protocity: protocity.into(),
        at,
        census: Census {
            population: residents + online,
            residents,
            online_members: online,
            yearly_income: income,
            parcels_crowdfunded: 0,
        },
        source: "count".into(),
        recorded_by: String::new(),
    }
}

fn standing() -> Standing {
    Standing {
        founded: FOUNDED,
        ..Standing::default()
    }
}

#[test]
fn a_relation_changes_forward_in_time_and_never_to_itself() {
    let mut s = standing();
    let first = RecognitionRequest::Relation(relation("Palau", Relation::Talks, FOUNDED + 10));
    assert_eq!(s.check(&first, &[], NOW), Ok(()));
    s.apply(first);
    let same = RecognitionRequest::Relation(relation("palau ", Relation::Talks, FOUNDED + 20));
    assert_eq!(
        s.check(&same, &[], NOW),
        Err(RecognitionRefusal::SameRelation("Palau".into())),
        "names match whatever their case and spacing"
    );
    let earlier = RecognitionRequest::Relation(relation("Palau", Relation::DeJure, FOUNDED + 5));
    assert_eq!(
        s.check(&earlier, &[], NOW),
        Err(RecognitionRefusal::RelationOutOfOrder("Palau".into()))
    );
    let unnamed = RecognitionRequest::Relation(relation("  ", Relation::DeJure, FOUNDED + 50));
    assert_eq!(s.check(&unnamed, &[], NOW), Err(RecognitionRefusal::NoName));
    let future = RecognitionRequest::Relation(relation("Estonia", Relation::Talks, NOW + 1));
    assert_eq!(
        s.check(&future, &[], NOW),
        Err(RecognitionRefusal::FutureDate)
    );
    let long = RecognitionRequest::Relation(relation(&"x".repeat(65), Relation::Talks, NOW));
    assert!(matches!(
        s.check(&long, &[], NOW),
        Err(RecognitionRefusal::TooLong { .. })
    ));
    let upgrade = RecognitionRequest::Relation(relation("Palau", Relation::DeJure, FOUNDED + 30));
    assert_eq!(s.check(&upgrade, &[], NOW), Ok(()));
    s.apply(upgrade);
    s.apply(RecognitionRequest::Relation(relation(
        "Estonia",
        Relation::Memorandum,
        FOUNDED + 40,
    )));
    let present: Vec<(&str, Relation)> = s
        .recognizers()
        .iter()
        .map(|r| (r.recognizer.as_str(), r.relation))
        .collect();
    assert_eq!(
        present,
        vec![
            ("Palau", Relation::DeJure),
            ("Estonia", Relation::Memorandum)
        ],
        "one entry per recognizer, its latest relation, strongest first"
    );
    assert_eq!(s.relations.len(), 3, "the history keeps every change");
}

#[test]
fn a_census_needs_a_known_protocity_and_a_date_in_the_nations_life() {
    let s = standing();
    let ok = RecognitionRequest::Census(census("meridian", NOW - 5, 10, 20, 100));
    assert_eq!(s.check(&ok, &["meridian"], NOW), Ok(()));
    let unknown = RecognitionRequest::Census(census("atlantis", NOW - 5, 10, 20, 100));
    assert_eq!(
        s.check(&unknown, &["meridian"], NOW),
        Err(RecognitionRefusal::UnknownProtocity("atlantis".into()))
    );
    let early = RecognitionRequest::Census(census("meridian", FOUNDED - 1, 10, 20, 100));
    assert_eq!(
        s.check(&early, &["meridian"], NOW),
        Err(RecognitionRefusal::BeforeFounding)
    );
    let negative = RecognitionRequest::Census(census("meridian", NOW, -1, 20, 100));
    assert_eq!(
        s.check(&negative, &["meridian"], NOW),
        Err(RecognitionRefusal::Negative(CensusFigure::Residents))
    );
    let huge = RecognitionRequest::Census(census("meridian", NOW, 1, 1, i64::MAX));
    assert_eq!(
        s.check(&huge, &["meridian"], NOW),
        Err(RecognitionRefusal::TooLarge(CensusFigure::YearlyIncome))
    );
}

#[test]
fn the_nations_series_sums_each_protocitys_latest_figure_at_every_date() {
    let mut s = standing();
    for record in [
        census("a", 100, 1, 9, 1000),
        census("b", 200, 2, 18, 2000),
        census("a", 300, 3, 27, 3000),
    ] {
        s.apply(RecognitionRequest::Census(record));
    }
    // Filled in later, for an earlier date: still in date order.
    s.apply(RecognitionRequest::Census(census("b", 50, 0, 5, 500)));
    assert_eq!(
        s.series(Figure::Population, None),
        vec![(50, 5), (100, 15), (200, 30), (300, 50)]
    );
    assert_eq!(
        s.series(Figure::YearlyIncome, Some("a")),
        vec![(100, 1000), (300, 3000)]
    );
    assert_eq!(s.total().population, 50);
    assert_eq!(s.census_of("b").map(|c| c.at), Some(200));
    s.footprints = vec![
        FootprintRecord {
            protocity: "a".into(),
            at: 100,
            area_m2: 500,
        },
        FootprintRecord {
            protocity: "b".into(),
            at: 150,
            area_m2: 700,
        },
        FootprintRecord {
            protocity: "a".into(),
            at: 400,
            area_m2: 900,
        },
    ];
    assert_eq!(
        s.series(Figure::Footprint, None),
        vec![(100, 500), (150, 1200), (400, 1600)]
    );
    assert_eq!(s.total_footprint(), 1600);
    assert_eq!(s.footprint_of("a"), 900);
}

#[test]
fn the_footprint_is_the_area_of_every_parcel_with_an_owner() {
    let world = load_world_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/world"))
        .expect("the world data loads");
    let parcels = world.parcel_seeds();
    for protocity in &world.protocities {
        let expected: i64 = parcels
            .iter()
            .filter(|p| p.protocity == protocity.id && p.owner != Owner::Unowned)
            .map(|p| i64::from(p.area_m2))
            .sum();
        assert_eq!(footprint_m2(&parcels, &protocity.id), expected);
    }
    let meridian = footprint_m2(&parcels, "meridian");
    assert!(meridian > 0, "the capital holds land");
    let mut sold = parcels.clone();
    let unowned = sold
        .iter_mut()
        .find(|p| p.protocity == "meridian" && p.owner == Owner::Unowned)
        .expect("the capital has an unowned parcel");
    unowned.owner = Owner::Group("a cooperative".into());
    let area = i64::from(unowned.area_m2);
    assert_eq!(footprint_m2(&sold, "meridian"), meridian + area);
}

#[test]
fn the_world_data_seeds_a_standing_that_passes_its_own_checks() {
    let world = load_world_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/world"))
        .expect("the world data loads");
    let seed = world.seed_standing();
    assert_eq!(seed.stage(), Some(Stage::NetworkArchipelago));
    assert!(!seed.recognizers().is_empty());
    for protocity in &world.protocities {
        assert!(
            seed.census_of(&protocity.id).is_some(),
            "{} has a census",
            protocity.id
        );
    }
    let total = seed.total();
    assert_eq!(total.population, total.residents + total.online_members);
    let parcels = world.parcel_seeds();
    let footprints = world.footprint_seeds();
    for protocity in &world.protocities {
        let series: Vec<&archipelago_shared::recognition::FootprintRecord> = footprints
            .iter()
            .filter(|f| f.protocity == protocity.id)
            .collect();
        assert_eq!(
            series.last().map(|f| f.area_m2),
            Some(footprint_m2(&parcels, &protocity.id)),
            "{}'s seeded footprint ends at the registry's total",
            protocity.id
        );
        assert!(
            series
                .windows(2)
                .all(|w| w[0].at < w[1].at && w[0].area_m2 < w[1].area_m2),
            "{}'s footprint grows with each acquisition",
            protocity.id
        );
    }
}

#[test]
fn dates_read_and_print_the_same() {
    assert_eq!(parse_date("1970-01-01"), Some(0));
    assert_eq!(
        parse_date("2024-02-29").map(date_words).as_deref(),
        Some("2024-02-29")
    );
    assert_eq!(
        parse_date("2026-11-25").map(date_words).as_deref(),
        Some("2026-11-25")
    );
    assert_eq!(parse_date("2026-13-01"), None);
    assert_eq!(parse_date("2025-02-31"), None, "no 31 February");
    assert_eq!(parse_date("2025-04-31"), None);
    assert_eq!(parse_date("yesterday"), None);
}

#[test]
fn a_network_state_needs_its_bootstrap_recognizer_first() {
    let mut s = standing();
    for (stage, at) in [
        (Stage::StartupSociety, FOUNDED),
        (Stage::NetworkUnion, FOUNDED + 10),
        (Stage::NetworkArchipelago, FOUNDED + 20),
    ] {
        s.apply(RecognitionRequest::Stage(change(stage, at, None)));
    }
    let becoming = RecognitionRequest::Stage(change(Stage::NetworkState, FOUNDED + 40, None));
    s.apply(RecognitionRequest::Relation(relation(
        "Palau",
        Relation::DeFacto,
        FOUNDED + 30,
    )));
    assert_eq!(
        s.check(&becoming, &[], NOW),
        Err(RecognitionRefusal::NoBootstrapRecognizer),
        "de facto is not enough"
    );
    let argued = RecognitionRequest::Stage(change(
        Stage::NetworkState,
        FOUNDED + 40,
        Some("recognized by treaty, recorded later"),
    ));
    assert_eq!(s.check(&argued, &[], NOW), Ok(()), "a reason overrides");
    s.apply(RecognitionRequest::Relation(relation(
        "Palau",
        Relation::DeJure,
        FOUNDED + 35,
    )));
    assert_eq!(s.check(&becoming, &[], NOW), Ok(()));
}

#[test]
fn an_unknown_protocity_is_echoed_cut_on_a_character_boundary() {
    let s = standing();
    let id = format!("a{}", "é".repeat(40));
    let request = RecognitionRequest::Census(census(&id, NOW - 5, 1, 1, 1));
    let Err(RecognitionRefusal::UnknownProtocity(echoed)) = s.check(&request, &["meridian"], NOW)
    else {
        panic!("an unknown protocity is refused");
    };
    assert_eq!(echoed.chars().count(), 32);
}

#[test]
fn a_later_de_jure_recognition_does_not_back_an_earlier_network_state() {
    let mut s = standing();
    s.apply(RecognitionRequest::Stage(change(
        Stage::StartupSociety,
        FOUNDED,
        None,
    )));
    s.apply(RecognitionRequest::Stage(change(
        Stage::NetworkUnion,
        FOUNDED + 10,
        None,
    )));
    s.apply(RecognitionRequest::Stage(change(
        Stage::NetworkArchipelago,
        FOUNDED + 20,
        None,
    )));
    s.apply(RecognitionRequest::Relation(relation(
        "Palau",
        Relation::DeJure,
        FOUNDED + 100,
    )));
    let backdated = RecognitionRequest::Stage(change(Stage::NetworkState, FOUNDED + 50, None));
    assert_eq!(
        s.check(&backdated, &[], NOW),
        Err(RecognitionRefusal::NoBootstrapRecognizer)
    );
    let after = RecognitionRequest::Stage(change(Stage::NetworkState, FOUNDED + 150, None));
    assert_eq!(s.check(&after, &[], NOW), Ok(()));
}

#[test]
fn requests_are_trimmed_before_they_are_checked_and_stored() {
    let request = RecognitionRequest::Relation(RelationChange {
        recognizer: "  Estonia ".into(),
        source: " letter ".into(),
        ..relation("x", Relation::Talks, NOW)
    })
    .normalized();
    let RecognitionRequest::Relation(change) = request else {
        unreachable!()
    };
    assert_eq!(
        (change.recognizer.as_str(), change.source.as_str()),
        ("Estonia", "letter")
    );
    let stage = RecognitionRequest::Stage(change_with_reason("   ")).normalized();
    let RecognitionRequest::Stage(stage) = stage else {
        unreachable!()
    };
    assert_eq!(stage.reason, None, "a blank reason is none");
}

fn change_with_reason(reason: &str) -> StageChange {
    change(Stage::NetworkUnion, FOUNDED + 1, Some(reason))
}
