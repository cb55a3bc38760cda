//! The atlas's world map: the coastline file parses, and every protocity stands on (or just
//! off) land, so the dots on the map sit where people expect them.

use archipelago_shared::world::load_world_dir;

type Polygon = Vec<(f32, f32)>;

fn inside(x: f32, y: f32, polygon: &Polygon) -> bool {
    let mut crossing = false;
    for (i, &(x1, y1)) in polygon.iter().enumerate() {
        let (x2, y2) = polygon[(i + polygon.len() - 1) % polygon.len()];
        if (y1 > y) != (y2 > y) && x < (x2 - x1) * (y - y1) / (y2 - y1) + x1 {
            crossing = !crossing;
        }
    }
    crossing
}

#[test]
fn every_protocity_lies_on_the_world_maps_land() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets");
    let text = std::fs::read_to_string(format!("{root}/maps/continents.ron")).expect("file");
    let land: Vec<Polygon> = ron::from_str(&text).expect("continents.ron parses");
    assert!(
        land.len() >= 7,
        "the continents are drawn: {} polygons",
        land.len()
    );
    let world = load_world_dir(format!("{root}/world")).expect("world");
    for p in &world.protocities {
        let (lon, lat) = (p.longitude as f32, p.latitude as f32);
        let near_land = [-1.5, 0.0, 1.5].iter().any(|dx| {
            [-1.5, 0.0, 1.5]
                .iter()
                .any(|dy| land.iter().any(|poly| inside(lon + dx, lat + dy, poly)))
        });
        assert!(near_land, "{} ({}) is on land on the map", p.name, p.city);
    }
}
