//! Every tour file parses, every stop lies inside the world, and bad tours are reported with
//! file, line and field.

use std::path::Path;

use archipelago_shared::tours::{load_tours_dir, parse_and_check};
use archipelago_shared::world::{WorldError, checkout_world as world};

fn assets(dir: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../assets")
        .join(dir)
}

#[test]
fn every_tour_parses_and_every_stop_lies_inside_the_world() {
    let world = world();
    let tours = load_tours_dir(assets("tours"), &world).unwrap_or_else(|e| panic!("{e}"));
    assert!(tours.len() >= 2, "at least two tours, got {}", tours.len());
    let extent = world.nation.ocean_half_extent;
    for tour in &tours {
        for (i, stop) in tour.stops.iter().enumerate() {
            let protocity = world
                .protocity(&stop.protocity)
                .unwrap_or_else(|| panic!("{} stop {i}: unknown protocity", tour.id));
            assert!(
                stop.look_at.length() <= protocity.island.radius,
                "{} stop {i} looks at a point on {}",
                tour.id,
                protocity.id
            );
            let eye = stop.eye(&world).expect("stop has a camera");
            assert!(
                eye.x.abs() <= extent && eye.z.abs() <= extent && eye.y >= 1.0,
                "{} stop {i}: camera {eye} inside the world and above the sea",
                tour.id
            );
        }
    }
}

#[test]
fn one_tour_visits_every_protocity_and_one_shows_the_capital() {
    let world = world();
    let tours = load_tours_dir(assets("tours"), &world).expect("tours valid");
    let everywhere = tours.iter().any(|t| {
        world
            .protocities
            .iter()
            .all(|p| t.stops.iter().any(|s| s.protocity == p.id))
    });
    assert!(everywhere, "a tour visits every protocity");
    let capital = tours
        .iter()
        .any(|t| t.stops.len() >= 4 && t.stops.iter().all(|s| s.protocity == world.nation.capital));
    assert!(capital, "a tour of the capital with several stops");
}

#[test]
fn a_stop_off_the_island_is_named_with_file_line_and_field() {
    let world = world();
    let text = "Tour(\n    id: \"bad\",\n    title: \"Bad\",\n    summary: \"\",\n    stops: [\n        TourStop(\n            protocity: \"meridian\",\n            look_at: (500.0, 0.0),\n            bearing: 0.0,\n            elevation: 30.0,\n            distance: 40.0,\n            title: \"Nowhere\",\n            text: \"\",\n        ),\n    ],\n)\n";
    let error = parse_and_check(Path::new("bad.ron"), text, &world).expect_err("refused");
    let WorldError::Invalid { line, field, .. } = &error else {
        panic!("expected a validation error, got {error}");
    };
    assert_eq!((*line, field.as_str()), (8, "stops.look_at"), "{error}");
    assert!(
        error
            .to_string()
            .starts_with("bad.ron:8: field `stops.look_at`"),
        "{error}"
    );

    let unknown = text.replace("\"meridian\"", "\"atlantis\"");
    let error = parse_and_check(Path::new("bad.ron"), &unknown, &world).expect_err("refused");
    assert!(
        error.to_string().contains("unknown protocity `atlantis`"),
        "{error}"
    );
}
