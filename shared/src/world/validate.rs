//! The rules world data must follow that serde cannot express.

use std::collections::HashMap;

use bevy::math::Vec2;

use super::load::{Source, WorldError};
use super::{BEACH_WIDTH, Nation, Parcel, Protocity};
use crate::parcels::{MAX_GROUP_CHARS, MAX_PRICE, Owner, ParcelStatus, check_description};
use crate::protocol::Role;
use crate::recognition::{
    CensusRecord, RecognitionRequest, RelationChange, StageChange, Standing, parse_date,
};

/// How far (in degrees) a parcel's real plot may lie from its protocity's centre.
const PLOT_REACH_DEGREES: f64 = 1.0;

/// Margin kept between an avatar's spawn point and any solid.
const SPAWN_CLEARANCE: f32 = 0.6;

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("duplicate {kind} id `{id}`")]
    DuplicateId { kind: &'static str, id: String },
    #[error("parcel `{a}` overlaps parcel `{b}`")]
    OverlappingParcels { a: String, b: String },
    #[error("spawn point {index} is inside a {what}")]
    SpawnInsideSolid { index: usize, what: String },
    #[error("{what} lies outside the island's walkable top (radius {radius} m)")]
    OffIsland { what: String, radius: f32 },
    #[error("unknown {kind} `{id}`")]
    UnknownReference { kind: &'static str, id: String },
    #[error("{value} is out of range: expected {expected}")]
    OutOfRange {
        value: String,
        expected: &'static str,
    },
    #[error("`{0}` is not a date of the form YYYY-MM-DD")]
    BadDate(String),
    #[error("id `{0}` must be 1-32 characters of a-z, 0-9 and '-'")]
    BadId(String),
    #[error("islands `{a}` and `{b}` overlap")]
    IslandsOverlap { a: String, b: String },
    #[error("`{0}` is not a 64-character hex ed25519 public key")]
    BadPublicKey(String),
    #[error("the island needs at least one spawn point")]
    NoSpawnPoints,
    #[error("{0}")]
    Refused(String),
}

fn valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `YYYY-MM-DD` with a plausible month and day.
pub fn valid_date(date: &str) -> bool {
    let parts: Vec<&str> = date.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let num = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u32>().ok())
    };
    matches!(
        (num(y, 4), num(m, 2), num(d, 2)),
        (Some(Some(_)), Some(Some(1..=12)), Some(Some(1..=31)))
    )
}

fn out_of_range(value: impl ToString, expected: &'static str) -> Problem {
    Problem::OutOfRange {
        value: value.to_string(),
        expected,
    }
}

pub(super) fn validate(
    nation: &Source<Nation>,
    protocities: &[Source<Protocity>],
) -> Result<(), WorldError> {
    let n = &nation.value;
    if !valid_date(&n.founded) {
        return Err(nation.error(&n.founded, "founded", Problem::BadDate(n.founded.clone())));
    }
    if !(100.0..=10_000.0).contains(&n.ocean_half_extent) {
        return Err(nation.error(
            "ocean_half_extent",
            "ocean_half_extent",
            out_of_range(n.ocean_half_extent, "100 to 10000 metres"),
        ));
    }
    for founder in &n.founders {
        let ok = founder.public_key.len() == 64
            && founder.public_key.bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(nation.error(
                &founder.public_key,
                "founders.public_key",
                Problem::BadPublicKey(founder.public_key.clone()),
            ));
        }
    }
    validate_standing(nation, protocities)?;
    if !protocities.iter().any(|p| p.value.id == n.capital) {
        return Err(nation.error(
            "capital",
            "capital",
            Problem::UnknownReference {
                kind: "protocity",
                id: n.capital.clone(),
            },
        ));
    }

    let mut protocity_ids: HashMap<&str, &Source<Protocity>> = HashMap::new();
    let mut parcel_ids: HashMap<&str, &str> = HashMap::new();
    for source in protocities {
        let p = &source.value;
        if protocity_ids.insert(&p.id, source).is_some() {
            return Err(source.error(
                &format!("\"{}\"", p.id),
                "id",
                Problem::DuplicateId {
                    kind: "protocity",
                    id: p.id.clone(),
                },
            ));
        }
        for parcel in &p.island.parcels {
            if parcel_ids.insert(&parcel.id, &p.id).is_some() {
                return Err(source.error(
                    &format!("\"{}\"", parcel.id),
                    "parcels.id",
                    Problem::DuplicateId {
                        kind: "parcel",
                        id: parcel.id.clone(),
                    },
                ));
            }
        }
        validate_protocity(source, n.ocean_half_extent)?;
    }

    for (i, a) in protocities.iter().enumerate() {
        for b in &protocities[i + 1..] {
            let (ia, ib) = (&a.value.island, &b.value.island);
            let reach = ia.radius + ib.radius + 2.0 * BEACH_WIDTH;
            if ia.position.distance(ib.position) < reach {
                return Err(b.error(
                    "position",
                    "island.position",
                    Problem::IslandsOverlap {
                        a: a.value.id.clone(),
                        b: b.value.id.clone(),
                    },
                ));
            }
        }
    }
    Ok(())
}

/// The seeded stages, relations and censuses must pass the same checks as a founder's
/// changes: real dates between the founding and today, stages in order, figures that add up.
fn validate_standing(
    nation: &Source<Nation>,
    protocities: &[Source<Protocity>],
) -> Result<(), WorldError> {
    let n = &nation.value;
    let now = crate::clock::unix_seconds();
    let founded = parse_date(&n.founded).unwrap_or_default();
    let date = |source_date: &str, error: &dyn Fn(Problem) -> WorldError| {
        parse_date(source_date).ok_or_else(|| error(Problem::BadDate(source_date.to_owned())))
    };
    let mut standing = Standing {
        founded,
        ..Standing::default()
    };
    // Relations first: a seeded network state needs its bootstrap recognizer.
    for seed in &n.recognizers {
        let error = |problem| nation.error_in("recognizers", &seed.name, "recognizers", problem);
        let change = RelationChange {
            recognizer: seed.name.clone(),
            kind: seed.kind,
            relation: seed.relation,
            at: date(&seed.date, &error)?,
            source: seed.source.clone(),
            recorded_by: String::new(),
        };
        let request = RecognitionRequest::Relation(change);
        standing
            .check(&request, &[], now)
            .map_err(|refusal| error(Problem::Refused(refusal.to_string())))?;
        standing.apply(request);
    }
    for seed in &n.stages {
        let error = |problem| nation.error_in("stages", &seed.date, "stages", problem);
        let change = StageChange {
            stage: seed.stage,
            at: date(&seed.date, &error)?,
            reason: seed.reason.clone(),
            source: seed.source.clone(),
            recorded_by: String::new(),
        };
        let request = RecognitionRequest::Stage(change);
        standing
            .check(&request, &[], now)
            .map_err(|refusal| error(Problem::Refused(refusal.to_string())))?;
        standing.apply(request);
    }
    for source in protocities {
        let p = &source.value;
        for seed in &p.census {
            let error = |problem| source.error_in("census", &seed.date, "census", problem);
            let record = CensusRecord {
                protocity: p.id.clone(),
                at: date(&seed.date, &error)?,
                census: seed.census(),
                source: seed.source.clone(),
                recorded_by: String::new(),
            };
            standing
                .check(&RecognitionRequest::Census(record), &[p.id.as_str()], now)
                .map_err(|refusal| error(Problem::Refused(refusal.to_string())))?;
        }
    }
    Ok(())
}

fn validate_protocity(
    source: &Source<Protocity>,
    ocean_half_extent: f32,
) -> Result<(), WorldError> {
    let p = &source.value;
    let island = &p.island;
    let err = |needle: &str, field: &str, problem| Err(source.error(needle, field, problem));
    if !valid_id(&p.id) {
        return err("id", "id", Problem::BadId(p.id.clone()));
    }
    if !valid_date(&p.founded) {
        return err(&p.founded, "founded", Problem::BadDate(p.founded.clone()));
    }
    if !(-90.0..=90.0).contains(&p.latitude) {
        return err(
            "latitude",
            "latitude",
            out_of_range(p.latitude, "-90 to 90 degrees"),
        );
    }
    if !(-180.0..=180.0).contains(&p.longitude) {
        return err(
            "longitude",
            "longitude",
            out_of_range(p.longitude, "-180 to 180 degrees"),
        );
    }
    if !(20.0..=400.0).contains(&island.radius) {
        return err(
            "radius",
            "island.radius",
            out_of_range(island.radius, "20 to 400 metres"),
        );
    }
    if !(0.5..=30.0).contains(&island.height) {
        return err(
            "height",
            "island.height",
            out_of_range(island.height, "0.5 to 30 metres"),
        );
    }
    let reach = island.position.abs().max_element() + island.radius + BEACH_WIDTH;
    if reach > ocean_half_extent {
        return err(
            "position",
            "island.position",
            out_of_range(island.position, "an island wholly inside the ocean"),
        );
    }

    let inside_top = |point: Vec2| point.length() <= island.radius;
    for (i, parcel) in island.parcels.iter().enumerate() {
        let quoted = format!("\"{}\"", parcel.id);
        if !valid_id(&parcel.id) {
            return err(&quoted, "parcels.id", Problem::BadId(parcel.id.clone()));
        }
        if parcel.min.x >= parcel.max.x || parcel.min.y >= parcel.max.y {
            return err(
                &quoted,
                "parcels.max",
                out_of_range(parcel.max, "max greater than min"),
            );
        }
        let corners = [
            parcel.min,
            parcel.max,
            Vec2::new(parcel.min.x, parcel.max.y),
            Vec2::new(parcel.max.x, parcel.min.y),
        ];
        if !corners.into_iter().all(inside_top) {
            let what = format!("parcel `{}`", parcel.id);
            return err(
                &quoted,
                "parcels",
                Problem::OffIsland {
                    what,
                    radius: island.radius,
                },
            );
        }
        for other in &island.parcels[i + 1..] {
            let overlap = parcel.min.x < other.max.x
                && other.min.x < parcel.max.x
                && parcel.min.y < other.max.y
                && other.min.y < parcel.max.y;
            if overlap {
                return err(
                    &format!("\"{}\"", other.id),
                    "parcels",
                    Problem::OverlappingParcels {
                        a: parcel.id.clone(),
                        b: other.id.clone(),
                    },
                );
            }
        }
    }

    for parcel in &island.parcels {
        validate_parcel_seed(source, parcel)?;
    }

    let mut building_ids = std::collections::HashSet::new();
    for building in &island.buildings {
        let quoted = format!("\"{}\"", building.id);
        if !building_ids.insert(&building.id) {
            return err(
                &quoted,
                "buildings.id",
                Problem::DuplicateId {
                    kind: "building",
                    id: building.id.clone(),
                },
            );
        }
        if let Some(parcel) = &building.parcel
            && !island.parcels.iter().any(|p| &p.id == parcel)
        {
            return err(
                &format!("\"{parcel}\""),
                "buildings.parcel",
                Problem::UnknownReference {
                    kind: "parcel",
                    id: parcel.clone(),
                },
            );
        }
        if building.size.min_element() <= 0.0 {
            return err(
                &quoted,
                "buildings.size",
                out_of_range(building.size, "positive sizes"),
            );
        }
        let half = Vec2::new(building.size.x, building.size.z) / 2.0;
        if !inside_top(building.center + half) || !inside_top(building.center - half) {
            let what = format!("building `{}`", building.id);
            return err(
                &quoted,
                "buildings",
                Problem::OffIsland {
                    what,
                    radius: island.radius,
                },
            );
        }
    }

    let hall = &island.town_hall;
    if hall.door_width < 1.0 || hall.door_width > hall.size.min_element() - 1.0 {
        return err(
            "door_width",
            "town_hall.door_width",
            out_of_range(hall.door_width, "1 m up to the hall's width less 1 m"),
        );
    }
    if hall.wall_height < 2.5 || hall.size.min_element() < 8.0 {
        return err(
            "town_hall",
            "town_hall.size",
            out_of_range(hall.size, "at least 8 m square and 2.5 m high"),
        );
    }
    let (min, max) = hall.footprint();
    if !inside_top(min)
        || !inside_top(max)
        || !inside_top(Vec2::new(min.x, max.y))
        || !inside_top(Vec2::new(max.x, min.y))
    {
        let what = "the town hall".to_owned();
        return err(
            "town_hall",
            "town_hall",
            Problem::OffIsland {
                what,
                radius: island.radius,
            },
        );
    }
    if let Some(plaza) = &island.plaza
        && !inside_top(plaza.center)
    {
        let what = "the plaza".to_owned();
        return err(
            "plaza",
            "plaza.center",
            Problem::OffIsland {
                what,
                radius: island.radius,
            },
        );
    }

    if island.spawn_points.is_empty() {
        return err("spawn_points", "spawn_points", Problem::NoSpawnPoints);
    }
    let solids = island.solids();
    for (index, spawn) in island.spawn_points.iter().enumerate() {
        if spawn.length() > island.radius - SPAWN_CLEARANCE {
            let what = format!("spawn point {index}");
            return err(
                "spawn_points",
                "spawn_points",
                Problem::OffIsland {
                    what,
                    radius: island.radius,
                },
            );
        }
        let world = island.position + *spawn;
        if let Some(solid) = solids
            .iter()
            .find(|s| s.contains_xz(world, SPAWN_CLEARANCE))
        {
            let what = format!("{:?}", solid.kind).to_lowercase();
            return err(
                "spawn_points",
                "spawn_points",
                Problem::SpawnInsideSolid { index, what },
            );
        }
    }
    Ok(())
}

/// The registry record a parcel starts with must be one the registry would accept.
fn validate_parcel_seed(source: &Source<Protocity>, parcel: &Parcel) -> Result<(), WorldError> {
    let p = &source.value;
    let anchor = format!("\"{}\"", parcel.id);
    let err = |needle: &str, field: &str, problem| {
        Err(source.error_in(&anchor, needle, &format!("parcels.{field}"), problem))
    };
    if !(1..=10_000_000).contains(&parcel.area_m2) {
        return err(
            "area_m2",
            "area_m2",
            out_of_range(parcel.area_m2, "1 to 10000000 square metres"),
        );
    }
    if !(1..=160).contains(&parcel.address.trim().chars().count()) {
        return err(
            "address",
            "address",
            out_of_range(&parcel.address, "an address of 1 to 160 characters"),
        );
    }
    if (parcel.latitude - p.latitude).abs() > PLOT_REACH_DEGREES {
        return err(
            "latitude",
            "latitude",
            out_of_range(parcel.latitude, "within 1 degree of the protocity"),
        );
    }
    if (parcel.longitude - p.longitude).abs() > PLOT_REACH_DEGREES {
        return err(
            "longitude",
            "longitude",
            out_of_range(parcel.longitude, "within 1 degree of the protocity"),
        );
    }
    if parcel.deed.len() != 64 || !parcel.deed.bytes().all(|b| b.is_ascii_hexdigit()) {
        return err(
            "deed",
            "deed",
            out_of_range(&parcel.deed, "a SHA-256 hash: 64 hex characters"),
        );
    }
    if let Err(refusal) = check_description(&parcel.description) {
        return err(
            "description",
            "description",
            Problem::Refused(refusal.to_string()),
        );
    }
    if parcel.residency == Role::Visitor {
        return err(
            "residency",
            "residency",
            out_of_range("Visitor", "Member, Resident or Founder"),
        );
    }
    if let Owner::Group(name) = &parcel.owner
        && !(1..=MAX_GROUP_CHARS).contains(&name.trim().chars().count())
    {
        return err(
            "owner",
            "owner",
            out_of_range(name, "a group name of 1 to 48 characters"),
        );
    }
    if let Owner::Member { key, .. } = &parcel.owner
        && (key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return err("owner", "owner", Problem::BadPublicKey(key.clone()));
    }
    match parcel.status {
        ParcelStatus::Owned if parcel.owner == Owner::Unowned => {
            return err(
                "status",
                "status",
                Problem::Refused("a parcel nobody holds cannot be owned".into()),
            );
        }
        ParcelStatus::ForSale { price: amount }
        | ParcelStatus::Crowdfunding { goal: amount, .. }
            if !(1..=MAX_PRICE).contains(&amount) =>
        {
            return err(
                "status",
                "status",
                out_of_range(amount, "1 to 1000000000 dollars"),
            );
        }
        _ => {}
    }
    if let Some(acquired) = &parcel.acquired {
        let Some(at) = parse_date(acquired) else {
            return err(acquired, "acquired", Problem::BadDate(acquired.clone()));
        };
        if at > crate::clock::unix_seconds() {
            return err(
                acquired,
                "acquired",
                Problem::Refused("the parcel is acquired in the future".into()),
            );
        }
        if parcel.owner == Owner::Unowned {
            return err(
                acquired,
                "acquired",
                Problem::Refused("a parcel with an acquisition date needs an owner".into()),
            );
        }
    }
    Ok(())
}
