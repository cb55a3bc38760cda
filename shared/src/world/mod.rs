//! The archipelago as data: the nation, its protocities and their islands, loaded from
//! `assets/world/*.ron` and validated before a server or client uses them.
//!
//! All island-local coordinates are metres in the island's own frame: `x` east, `z` south,
//! origin at the island's centre on its flat top. [`World`] turns them into world space.

mod geometry;
mod load;
mod validate;

pub use geometry::{SEAT_HEIGHT, Seat, SolidBox, SolidKind};
pub use load::{
    WorldError, checkout_world, checkout_world_dir, load_world_dir, load_world_texts, parse_nation,
    parse_protocity, parse_ron, read_ron_dir,
};
pub use validate::{Problem, valid_date};

use bevy::math::{Vec2, Vec3};
use serde::{Deserialize, Serialize};

use crate::parcels::{Owner, ParcelInfo, ParcelStatus, Title, Zoning};
use crate::protocol::Role;
use crate::recognition::{
    Census, CensusRecord, FootprintRecord, RecognizerKind, Relation, RelationChange, Stage,
    StageChange, Standing, parse_date,
};

/// Height of the ocean surface in world space.
pub const SEA_LEVEL: f32 = 0.0;
/// Depth of the sea floor an avatar stands on when wading off an island.
pub const SEA_FLOOR: f32 = -1.2;
/// Horizontal width of the sloped beach ring around every island's flat top.
pub const BEACH_WIDTH: f32 = 10.0;

/// `nation.ron`: the network state itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Nation {
    pub name: String,
    pub motto: String,
    /// Id of the protocity that is the capital.
    pub capital: String,
    /// Founding date, `YYYY-MM-DD`.
    pub founded: String,
    /// Half the side of the square ocean; an invisible wall stands at its edge.
    pub ocean_half_extent: f32,
    /// Members who are founders from the first start (hex ed25519 public keys).
    #[serde(default)]
    pub founders: Vec<FounderSeed>,
    /// The stages reached so far, oldest first: stored at the first start, then founders
    /// record new ones.
    #[serde(default)]
    pub stages: Vec<StageSeed>,
    /// States and bodies that hold a relation with the nation, in the order it happened.
    #[serde(default)]
    pub recognizers: Vec<RecognizerSeed>,
}

/// A stage reached, as the world data records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StageSeed {
    pub stage: Stage,
    /// `YYYY-MM-DD`.
    pub date: String,
    #[serde(default)]
    pub reason: Option<String>,
    pub source: String,
}

/// A relation with an existing state or body, as the world data records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RecognizerSeed {
    pub name: String,
    pub kind: RecognizerKind,
    pub relation: Relation,
    /// `YYYY-MM-DD`.
    pub date: String,
    pub source: String,
}

/// One census of a protocity, as the world data records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CensusSeed {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub population: i64,
    pub residents: i64,
    pub online_members: i64,
    /// Whole dollars a year.
    pub yearly_income: i64,
    pub parcels_crowdfunded: i64,
    pub source: String,
}

/// A founder named in the world data, granted the founder role when the server starts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FounderSeed {
    pub name: String,
    /// 64 hex characters: the founder's ed25519 public key.
    pub public_key: String,
}

/// One `*.ron` file per protocity: a real-world outpost and its island.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Protocity {
    /// Stable id used on the wire and in the database (lowercase, `a-z0-9-`).
    pub id: String,
    pub name: String,
    /// The real-world city the outpost sits in.
    pub city: String,
    /// The jurisdiction (country or special zone) whose law applies to the land.
    pub jurisdiction: String,
    pub continent: String,
    pub latitude: f64,
    pub longitude: f64,
    /// `YYYY-MM-DD`.
    pub founded: String,
    /// Its censuses so far, oldest first: stored at the first start, then founders record
    /// new ones.
    #[serde(default)]
    pub census: Vec<CensusSeed>,
    pub island: Island,
}

/// The island a protocity is drawn as.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Island {
    /// Centre of the island in the ocean (world `x`, `z`).
    pub position: Vec2,
    /// Radius of the flat, walkable top. A beach slopes down to the sea floor around it.
    pub radius: f32,
    /// Height of the flat top above sea level.
    pub height: f32,
    /// Colour of the grass, as linear RGB.
    pub ground_color: [f32; 3],
    pub parcels: Vec<Parcel>,
    #[serde(default)]
    pub buildings: Vec<Building>,
    pub town_hall: TownHall,
    /// Where avatars appear (island-local `x`, `z`; they are dropped onto the ground).
    pub spawn_points: Vec<Vec2>,
    /// The capital's open square, if this island is the capital.
    #[serde(default)]
    pub plaza: Option<Plaza>,
    /// Trees, purely for looks and shade (island-local `x`, `z`).
    #[serde(default)]
    pub trees: Vec<Vec2>,
}

/// A plot of land, an axis-aligned rectangle on the island's top, and the registry record it
/// starts with. Once the server has stored the record, the database owns it: editing these
/// fields later changes nothing for a parcel the registry already holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Parcel {
    /// Unique across the whole world, e.g. `"lis-03"`.
    pub id: String,
    pub min: Vec2,
    pub max: Vec2,
    pub zoning: Zoning,
    /// Area of the real plot in square metres (the island's rectangle is a sketch of it).
    pub area_m2: u32,
    /// When its owner came to hold the real plot, `YYYY-MM-DD` (owned parcels only): the
    /// footprint's history before the server first started is computed from these.
    #[serde(default)]
    pub acquired: Option<String>,
    #[serde(default)]
    pub owner: Owner,
    #[serde(default = "reserved")]
    pub status: ParcelStatus,
    /// Residency tier needed to build or live there.
    #[serde(default = "member")]
    pub residency: Role,
    /// Street address of the real plot.
    pub address: String,
    pub latitude: f64,
    pub longitude: f64,
    /// SHA-256 of the deed or title document, 64 hex characters.
    pub deed: String,
    #[serde(default)]
    pub description: String,
}

fn reserved() -> ParcelStatus {
    ParcelStatus::Reserved
}

fn member() -> Role {
    Role::Member
}

impl Parcel {
    /// Whether an island-local point lies on the parcel (borders included).
    pub fn contains(&self, local: Vec2) -> bool {
        local.cmpge(self.min).all() && local.cmple(self.max).all()
    }

    pub fn center(&self) -> Vec2 {
        (self.min + self.max) / 2.0
    }
}

/// A solid building: a box with a roof, for walking around, not into.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Building {
    pub id: String,
    pub name: String,
    /// Centre of the footprint (island-local `x`, `z`).
    pub center: Vec2,
    /// Width (`x`), height, depth (`z`) in metres.
    pub size: Vec3,
    /// Wall colour, linear RGB.
    pub color: [f32; 3],
    /// The parcel it stands on, if any.
    #[serde(default)]
    pub parcel: Option<String>,
}

/// Which side of a hall its door is on.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Side {
    North,
    South,
    East,
    West,
}

/// A town hall: four walls with a door, a stage against the back wall, rows of seats.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TownHall {
    pub center: Vec2,
    /// Inner width (`x`) and depth (`z`).
    pub size: Vec2,
    pub wall_height: f32,
    pub door_side: Side,
    pub door_width: f32,
    /// Depth of the stage, against the wall opposite the door.
    pub stage_depth: f32,
    pub stage_height: f32,
    pub seat_rows: u32,
    pub seats_per_row: u32,
}

/// The capital's plaza: a paved circle with a monument at its centre.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Plaza {
    pub center: Vec2,
    pub radius: f32,
    pub monument_height: f32,
}

/// A part of the world people are grouped by: a protocity's grounds (its island and the sea
/// around it) or the inside of its town hall. Indices into [`World::protocities`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place {
    Grounds(usize),
    Hall(usize),
}

impl Place {
    /// The protocity (index) this place belongs to.
    pub fn protocity(self) -> usize {
        match self {
            Place::Grounds(i) | Place::Hall(i) => i,
        }
    }
}

/// The loaded, validated world.
#[derive(Debug, Clone, PartialEq, bevy::prelude::Resource)]
pub struct World {
    pub nation: Nation,
    /// Sorted by id, the capital first.
    pub protocities: Vec<Protocity>,
}

impl World {
    pub fn protocity(&self, id: &str) -> Option<&Protocity> {
        self.protocities.iter().find(|p| p.id == id)
    }

    pub fn capital(&self) -> &Protocity {
        self.protocity(&self.nation.capital)
            .unwrap_or(&self.protocities[0])
    }

    /// The protocity whose island (beach included) contains the world point, if any.
    pub fn island_at(&self, point: Vec3) -> Option<&Protocity> {
        self.protocities.iter().find(|p| {
            p.island.position.distance(Vec2::new(point.x, point.z)) <= p.island.radius + BEACH_WIDTH
        })
    }

    /// Where a world point is, for interest management: inside a town hall (within its
    /// walls), else on the grounds of the island it is on or, at sea, the nearest one.
    pub fn place_at(&self, point: Vec3) -> Place {
        let flat = Vec2::new(point.x, point.z);
        let nearest = self
            .protocities
            .iter()
            .enumerate()
            .min_by(|(_, a), (_, b)| {
                let da = a.island.position.distance_squared(flat);
                let db = b.island.position.distance_squared(flat);
                da.total_cmp(&db)
            })
            .map_or(0, |(i, _)| i);
        let island = &self.protocities[nearest].island;
        let local = flat - island.position;
        let hall = &island.town_hall;
        let inside = (local - hall.center).abs().cmple(hall.size / 2.0).all();
        if inside && point.y > island.height - 1.0 {
            Place::Hall(nearest)
        } else {
            Place::Grounds(nearest)
        }
    }

    /// The protocity whose town hall's ballot kiosk is within `reach` metres (on the ground,
    /// and at most 2 m above or below) of a world point, if any.
    pub fn kiosk_near(&self, point: Vec3, reach: f32) -> Option<&Protocity> {
        self.protocities.iter().find(|p| {
            let kiosk = p.island.to_world(p.island.town_hall.kiosk_position(), 0.0);
            Vec2::new(kiosk.x - point.x, kiosk.z - point.z).length() < reach
                && (kiosk.y - point.y).abs() < 2.0
        })
    }

    /// The protocity and parcel under a world point, if any.
    pub fn parcel_at(&self, point: Vec3) -> Option<(&Protocity, &Parcel)> {
        let protocity = self.island_at(point)?;
        let local = Vec2::new(point.x, point.z) - protocity.island.position;
        let parcel = protocity
            .island
            .parcels
            .iter()
            .find(|p| p.contains(local))?;
        Some((protocity, parcel))
    }

    /// Finds a parcel by id.
    pub fn parcel(&self, id: &str) -> Option<(&Protocity, &Parcel)> {
        self.protocities.iter().find_map(|protocity| {
            let parcel = protocity.island.parcels.iter().find(|p| p.id == id)?;
            Some((protocity, parcel))
        })
    }

    /// Every parcel's starting registry record (version 1), in world order.
    pub fn parcel_seeds(&self) -> Vec<ParcelInfo> {
        self.protocities
            .iter()
            .flat_map(|protocity| {
                protocity
                    .island
                    .parcels
                    .iter()
                    .map(move |parcel| ParcelInfo {
                        id: parcel.id.clone(),
                        protocity: protocity.id.clone(),
                        owner: parcel.owner.clone(),
                        area_m2: parcel.area_m2,
                        zoning: parcel.zoning,
                        status: parcel.status,
                        residency: parcel.residency,
                        jurisdiction: format!("{}, {}", protocity.city, protocity.jurisdiction),
                        description: parcel.description.clone(),
                        version: 1,
                        updated_at: 0,
                        title: Some(Title {
                            address: parcel.address.clone(),
                            latitude: parcel.latitude,
                            longitude: parcel.longitude,
                            deed_hash: parcel.deed.clone(),
                        }),
                    })
            })
            .collect()
    }

    /// The standing the world data starts with (no footprints: those come from the
    /// registry). Dates were checked when the world was loaded.
    pub fn seed_standing(&self) -> Standing {
        let date = |d: &str| parse_date(d).unwrap_or_default();
        let seeded = "world data".to_owned();
        Standing {
            founded: date(&self.nation.founded),
            stages: self
                .nation
                .stages
                .iter()
                .map(|s| StageChange {
                    stage: s.stage,
                    at: date(&s.date),
                    reason: s.reason.clone(),
                    source: s.source.clone(),
                    recorded_by: seeded.clone(),
                })
                .collect(),
            relations: self
                .nation
                .recognizers
                .iter()
                .map(|r| RelationChange {
                    recognizer: r.name.clone(),
                    kind: r.kind,
                    relation: r.relation,
                    at: date(&r.date),
                    source: r.source.clone(),
                    recorded_by: seeded.clone(),
                })
                .collect(),
            census: {
                let mut records: Vec<CensusRecord> = self
                    .protocities
                    .iter()
                    .flat_map(|p| p.census.iter().map(move |c| (p, c)))
                    .map(|(p, c)| CensusRecord {
                        protocity: p.id.clone(),
                        at: date(&c.date),
                        census: c.census(),
                        source: c.source.clone(),
                        recorded_by: seeded.clone(),
                    })
                    .collect();
                records.sort_by_key(|r| r.at);
                records
            },
            footprints: Vec::new(),
        }
    }

    /// Each protocity's footprint over time as the world data tells it: at each acquisition
    /// date, the area of the parcels with an owner acquired by then (a parcel without a date
    /// counts from the protocity's founding). The last one equals what the registry starts
    /// with.
    pub fn footprint_seeds(&self) -> Vec<FootprintRecord> {
        let mut records = Vec::new();
        for protocity in &self.protocities {
            let founded = parse_date(&protocity.founded).unwrap_or_default();
            let mut held: Vec<(i64, i64)> = protocity
                .island
                .parcels
                .iter()
                .filter(|p| p.owner != crate::parcels::Owner::Unowned)
                .map(|p| {
                    let at = p
                        .acquired
                        .as_deref()
                        .and_then(parse_date)
                        .unwrap_or(founded);
                    (at, i64::from(p.area_m2))
                })
                .collect();
            held.sort();
            let mut total = 0;
            for (i, (at, area)) in held.iter().enumerate() {
                total += area;
                if held.get(i + 1).is_none_or(|(next, _)| next != at) {
                    records.push(FootprintRecord {
                        protocity: protocity.id.clone(),
                        at: *at,
                        area_m2: total,
                    });
                }
            }
        }
        records.sort_by_key(|r| r.at);
        records
    }

    /// World-space spawn position for the `index`-th spawn point of a protocity, standing on
    /// the island's top.
    pub fn spawn_position(&self, protocity: &Protocity, index: usize) -> Vec3 {
        let island = &protocity.island;
        let local = island.spawn_points[index % island.spawn_points.len()];
        let p = island.position + local;
        Vec3::new(p.x, island.height + 0.05, p.y)
    }

    /// The facing (yaw, radians around +Y) of someone arriving at `position` on a protocity:
    /// towards the town hall's door, across the plaza where there is one, so the first thing
    /// a newcomer sees is where the nation meets.
    pub fn arrival_yaw(&self, protocity: &Protocity, position: Vec3) -> f32 {
        let island = &protocity.island;
        let door = island.to_world(island.town_hall.door_outside(), 0.0);
        let towards = Vec2::new(door.x - position.x, door.z - position.z);
        if towards.length_squared() < 1e-6 {
            return 0.0;
        }
        (-towards.x).atan2(-towards.y)
    }
}

impl CensusSeed {
    pub fn census(&self) -> Census {
        Census {
            population: self.population,
            residents: self.residents,
            online_members: self.online_members,
            yearly_income: self.yearly_income,
            parcels_crowdfunded: self.parcels_crowdfunded,
        }
    }
}

impl Island {
    /// World-space point of an island-local position at ground height.
    pub fn to_world(&self, local: Vec2, height_above_ground: f32) -> Vec3 {
        let p = self.position + local;
        Vec3::new(p.x, self.height + height_above_ground, p.y)
    }
}
