//! Every world file under assets/ parses and validates, and each kind of bad data is
//! reported with its own clear error naming file, line and field.

use std::path::Path;

use archipelago_shared::world::{Problem, WorldError, load_world_dir, load_world_texts};

fn assets() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/world")
}

fn text(file: &str) -> String {
    std::fs::read_to_string(assets().join(file)).expect("asset file readable")
}

/// The real nation plus the capital's file with one edit applied.
fn load_with_capital(edit: impl Fn(String) -> String) -> Result<(), WorldError> {
    let nation = text("nation.ron");
    let capital = edit(text("meridian.ron"));
    load_world_texts(&[("nation.ron", &nation), ("meridian.ron", &capital)]).map(|_| ())
}

fn invalid(result: Result<(), WorldError>) -> (String, usize, String, Problem) {
    match result {
        Err(WorldError::Invalid {
            file,
            line,
            field,
            problem,
        }) => (file.display().to_string(), line, field, problem),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn every_world_file_parses_and_validates() {
    let world = load_world_dir(assets()).unwrap_or_else(|e| panic!("world data invalid: {e}"));
    assert!(world.protocities.len() >= 5, "at least five protocities");
    let continents: std::collections::HashSet<_> = world
        .protocities
        .iter()
        .map(|p| p.continent.as_str())
        .collect();
    assert!(
        continents.len() >= 5,
        "protocities on at least five continents, got {continents:?}"
    );
    assert_eq!(
        world.protocities[0].id, world.nation.capital,
        "the capital comes first"
    );
    assert!(
        world.capital().island.plaza.is_some(),
        "the capital holds a plaza"
    );
    for p in &world.protocities {
        assert!(!p.island.parcels.is_empty(), "{} has parcels", p.id);
        assert!(
            !p.island.spawn_points.is_empty(),
            "{} has spawn points",
            p.id
        );
    }
}

#[test]
fn duplicate_parcel_id_is_named_with_its_line() {
    let (file, line, field, problem) = invalid(load_with_capital(|t| {
        t.replacen("\"lis-02\"", "\"lis-01\"", 1)
    }));
    assert_eq!(file, "meridian.ron");
    assert_eq!(field, "parcels.id");
    assert!(
        matches!(problem, Problem::DuplicateId { kind: "parcel", .. }),
        "{problem}"
    );
    assert!(line > 1, "the line of the duplicate is given, got {line}");
}

#[test]
fn overlapping_parcels_are_refused() {
    let (_, _, field, problem) = invalid(load_with_capital(|t| {
        t.replacen(
            "min: (22.0, -50.0),\n                max: (42.0, -34.0),",
            "min: (-40.0, -48.0),\n                max: (-30.0, -40.0),",
            1,
        )
    }));
    assert_eq!(field, "parcels");
    assert!(
        matches!(problem, Problem::OverlappingParcels { .. }),
        "{problem}"
    );
}

#[test]
fn spawn_point_inside_a_wall_is_refused() {
    let world = load_world_dir(assets()).expect("valid world");
    let hall = &world.capital().island.town_hall;
    // A point on the hall's back wall.
    let (min, _) = hall.footprint();
    let wall = format!(
        "spawn_points: [\n            ({:.1}, {:.1}),",
        hall.center.x,
        min.y + 0.2
    );
    let (_, _, field, problem) = invalid(load_with_capital(|t| {
        t.replacen("spawn_points: [", &wall, 1)
    }));
    assert_eq!(field, "spawn_points");
    assert!(
        matches!(problem, Problem::SpawnInsideSolid { .. }),
        "{problem}"
    );
}

#[test]
fn unknown_references_are_refused() {
    let (_, _, field, problem) = invalid(load_with_capital(|t| {
        t.replacen("Some(\"lis-01\")", "Some(\"nowhere-9\")", 1)
    }));
    assert_eq!(field, "buildings.parcel");
    assert!(
        matches!(problem, Problem::UnknownReference { kind: "parcel", .. }),
        "{problem}"
    );

    let nation = text("nation.ron").replace("capital: \"meridian\"", "capital: \"atlantis\"");
    let capital = text("meridian.ron");
    let result =
        load_world_texts(&[("nation.ron", &nation), ("meridian.ron", &capital)]).map(|_| ());
    let (file, _, field, _) = invalid(result);
    assert_eq!((file.as_str(), field.as_str()), ("nation.ron", "capital"));
}

#[test]
fn syntax_errors_name_file_and_line() {
    let result = load_with_capital(|t| t.replacen("radius: 90.0,", "radius: ninety,", 1));
    match result {
        Err(WorldError::Parse { file, line, .. }) => {
            assert_eq!(file.display().to_string(), "meridian.ron");
            assert!(line > 1, "parse errors carry the line");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn unknown_fields_and_bad_dates_are_refused() {
    let result = load_with_capital(|t| t.replacen("population:", "populace: 3, population:", 1));
    assert!(
        matches!(result, Err(WorldError::Parse { .. })),
        "unknown field refused: {result:?}"
    );
    let (_, _, field, problem) = invalid(load_with_capital(|t| {
        t.replacen("\"2023-09-01\"", "\"2023-13-01\"", 1)
    }));
    assert_eq!(field, "founded");
    assert!(matches!(problem, Problem::BadDate(_)), "{problem}");
}

#[test]
fn error_messages_read_as_file_line_field() {
    let err = load_with_capital(|t| t.replacen("\"lis-02\"", "\"lis-01\"", 1)).unwrap_err();
    let message = err.to_string();
    assert!(message.starts_with("meridian.ron:"), "{message}");
    assert!(
        message.contains("field `parcels.id`") && message.contains("lis-01"),
        "{message}"
    );
}

#[test]
fn a_parcel_seed_with_a_bad_deed_is_named_with_its_line() {
    let (file, line, field, problem) = invalid(load_with_capital(|t| {
        t.replacen(
            "deed: \"e573fa5d80b10ccc5ed6737d7142c4534f8556f75e0e7914918a20e08703193e\"",
            "deed: \"not-a-hash\"",
            1,
        )
    }));
    assert_eq!(file, "meridian.ron");
    assert_eq!(field, "parcels.deed");
    assert!(
        matches!(problem, Problem::OutOfRange { .. }),
        "a deed must be a hash: {problem}"
    );
    let fixture = text("meridian.ron");
    let lines: Vec<&str> = fixture.lines().collect();
    assert!(
        lines[line - 1].contains("deed:"),
        "line {line} is the deed's line: {}",
        lines[line - 1]
    );
}

#[test]
fn parcel_seeds_must_be_records_the_registry_would_accept() {
    let cases: [(&str, &str, &str); 4] = [
        ("area_m2: 890,", "area_m2: 0,", "parcels.area_m2"),
        (
            "latitude: 38.72456,",
            "latitude: 48.72456,",
            "parcels.latitude",
        ),
        (
            "residency: Member,",
            "residency: Visitor,",
            "parcels.residency",
        ),
        (
            "owner: Group(\"the treasury\"),\n                status: Owned,",
            "owner: Unowned,\n                status: Owned,",
            "parcels.status",
        ),
    ];
    for (from, to, expected_field) in cases {
        assert!(text("meridian.ron").contains(from), "fixture has `{from}`");
        let (_, _, field, problem) = invalid(load_with_capital(|t| t.replacen(from, to, 1)));
        assert_eq!(field, expected_field, "{to} is refused ({problem})");
    }
}

/// The real capital plus the nation's file with one edit applied.
fn load_with_nation(edit: impl Fn(String) -> String) -> Result<(), WorldError> {
    let nation = edit(text("nation.ron"));
    let capital = text("meridian.ron");
    load_world_texts(&[("nation.ron", &nation), ("meridian.ron", &capital)]).map(|_| ())
}

#[test]
fn a_seeded_standing_that_breaks_the_rules_is_refused_where_it_is_written() {
    let (file, line, field, problem) = invalid(load_with_capital(|t| {
        t.replacen(
            "residents: 9, online_members: 81",
            "residents: -9, online_members: 99",
            1,
        )
    }));
    assert_eq!((file.as_str(), field.as_str()), ("meridian.ron", "census"));
    assert!(
        problem.to_string().contains("residents cannot be negative"),
        "{problem}"
    );
    assert!(line > 10, "points at the census line, got {line}");

    let (_, _, field, problem) = invalid(load_with_capital(|t| {
        t.replacen("population: 90,", "population: 91,", 1)
    }));
    assert_eq!(field, "census");
    assert!(problem.to_string().contains("do not add up"), "{problem}");

    let (file, _, field, problem) = invalid(load_with_nation(|t| {
        t.replacen("stage: NetworkUnion", "stage: NetworkState", 1)
    }));
    assert_eq!((file.as_str(), field.as_str()), ("nation.ron", "stages"));
    assert!(problem.to_string().contains("skips a stage"), "{problem}");

    let (_, _, field, problem) = invalid(load_with_nation(|t| {
        t.replacen("date: \"2024-11-18\"", "date: \"2999-01-01\"", 1)
    }));
    assert_eq!(field, "recognizers");
    assert!(problem.to_string().contains("future"), "{problem}");

    let (_, _, field, problem) = invalid(load_with_nation(|t| {
        t.replacen("date: \"2023-06-12\"", "date: \"2020-01-01\"", 1)
    }));
    assert_eq!(field, "stages");
    assert!(
        problem.to_string().contains("before the nation's founding"),
        "{problem}"
    );
}
