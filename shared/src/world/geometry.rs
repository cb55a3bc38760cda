//! The solid boxes an island is made of, derived once from its data so the server's colliders
//! and the client's meshes can never disagree.

use bevy::math::{Vec2, Vec3};

use super::{Island, Side, TownHall};

/// Thickness of a town hall's walls.
pub const WALL_THICKNESS: f32 = 0.4;
/// Height of a door opening; the wall above it is closed.
pub const DOOR_HEIGHT: f32 = 3.0;
/// Height of a hall's seats: where someone sitting has their feet drawn.
pub const SEAT_HEIGHT: f32 = 0.45;
const SEAT_SIZE: Vec3 = Vec3::new(0.6, SEAT_HEIGHT, 0.5);

/// What a solid box is, for colouring and for the validator's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolidKind {
    Building,
    HallWall,
    Stage,
    Seat,
    Monument,
    /// The ballot kiosk beside a town hall's door.
    Kiosk,
}

/// Where someone sits: the top of a seat (world space), facing `yaw` (radians around +Y, the
/// movement rule's facing).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seat {
    pub position: Vec3,
    pub yaw: f32,
}

/// An axis-aligned solid box in world space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolidBox {
    pub kind: SolidKind,
    pub center: Vec3,
    pub half_extents: Vec3,
}

impl SolidBox {
    fn on_ground(island: &Island, kind: SolidKind, center: Vec2, size: Vec3, lift: f32) -> Self {
        Self {
            kind,
            center: island.to_world(center, lift + size.y / 2.0),
            half_extents: size / 2.0,
        }
    }

    /// Whether a world-space point lies inside the box's footprint (ignoring height).
    pub fn contains_xz(&self, point: Vec2, margin: f32) -> bool {
        (point.x - self.center.x).abs() < self.half_extents.x + margin
            && (point.y - self.center.z).abs() < self.half_extents.z + margin
    }
}

impl Island {
    /// Every solid box on this island: buildings, the town hall's walls, stage and seats, the
    /// plaza's monument.
    pub fn solids(&self) -> Vec<SolidBox> {
        let mut solids: Vec<SolidBox> = self
            .buildings
            .iter()
            .map(|b| SolidBox::on_ground(self, SolidKind::Building, b.center, b.size, 0.0))
            .collect();
        solids.extend(self.town_hall.solids(self));
        if let Some(plaza) = &self.plaza {
            let size = Vec3::new(2.0, plaza.monument_height, 2.0);
            solids.push(SolidBox::on_ground(
                self,
                SolidKind::Monument,
                plaza.center,
                size,
                0.0,
            ));
        }
        solids
    }
}

impl TownHall {
    /// Unit vector (island-local `x`, `z`) from the hall's centre towards its door.
    pub fn door_direction(&self) -> Vec2 {
        match self.door_side {
            Side::North => Vec2::new(0.0, -1.0),
            Side::South => Vec2::new(0.0, 1.0),
            Side::East => Vec2::new(1.0, 0.0),
            Side::West => Vec2::new(-1.0, 0.0),
        }
    }

    /// Half of the hall's inner extent along the door axis and across it.
    fn half_depth_and_width(&self) -> (f32, f32) {
        match self.door_side {
            Side::North | Side::South => (self.size.y / 2.0, self.size.x / 2.0),
            Side::East | Side::West => (self.size.x / 2.0, self.size.y / 2.0),
        }
    }

    /// Rotates a vector given in the hall's frame (`x` across, `y` towards the door) into
    /// island-local coordinates.
    fn to_local(&self, v: Vec2) -> Vec2 {
        let door = self.door_direction();
        let across = Vec2::new(-door.y, door.x);
        self.center + across * v.x + door * v.y
    }

    /// Rotates a size given in the hall's frame into island-local axes.
    fn size_to_local(&self, across: f32, height: f32, along: f32) -> Vec3 {
        match self.door_side {
            Side::North | Side::South => Vec3::new(across, height, along),
            Side::East | Side::West => Vec3::new(along, height, across),
        }
    }

    /// Walls (with the door gap and a lintel above it), stage and seats.
    pub fn solids(&self, island: &Island) -> Vec<SolidBox> {
        let (half_depth, half_width) = self.half_depth_and_width();
        let t = WALL_THICKNESS;
        let h = self.wall_height;
        let mut out = Vec::new();
        let mut push = |kind, center: Vec2, across: f32, height: f32, along: f32, lift: f32| {
            let size = self.size_to_local(across, height, along);
            out.push(SolidBox::on_ground(
                island,
                kind,
                self.to_local(center),
                size,
                lift,
            ));
        };
        let wall = SolidKind::HallWall;
        // Back wall and the two side walls.
        push(
            wall,
            Vec2::new(0.0, -half_depth - t / 2.0),
            2.0 * (half_width + t),
            h,
            t,
            0.0,
        );
        push(
            wall,
            Vec2::new(-half_width - t / 2.0, 0.0),
            t,
            h,
            2.0 * half_depth,
            0.0,
        );
        push(
            wall,
            Vec2::new(half_width + t / 2.0, 0.0),
            t,
            h,
            2.0 * half_depth,
            0.0,
        );
        // Front wall in two pieces either side of the door, and a lintel above the door.
        let piece = half_width + t - self.door_width / 2.0;
        let front = half_depth + t / 2.0;
        let piece_center = self.door_width / 2.0 + piece / 2.0;
        push(wall, Vec2::new(-piece_center, front), piece, h, t, 0.0);
        push(wall, Vec2::new(piece_center, front), piece, h, t, 0.0);
        if h > DOOR_HEIGHT {
            push(
                wall,
                Vec2::new(0.0, front),
                self.door_width,
                h - DOOR_HEIGHT,
                t,
                DOOR_HEIGHT,
            );
        }
        // Stage against the back wall.
        let stage_center = Vec2::new(0.0, -half_depth + self.stage_depth / 2.0);
        push(
            SolidKind::Stage,
            stage_center,
            2.0 * half_width,
            self.stage_height,
            self.stage_depth,
            0.0,
        );
        // The ballot kiosk beside the door.
        push(
            SolidKind::Kiosk,
            Vec2::new(half_width - 1.2, half_depth - 1.6),
            0.9,
            1.25,
            0.6,
            0.0,
        );
        // Seats in rows facing the stage, with a centre aisle.
        for (row, across) in self.seat_positions() {
            push(
                SolidKind::Seat,
                Vec2::new(across, row),
                SEAT_SIZE.x,
                SEAT_SIZE.y,
                SEAT_SIZE.z,
                0.0,
            );
        }
        out
    }

    /// The hall's seats, front row first: where a person sitting on one has their feet (the
    /// seat's top, world space) and which way they face (towards the stage).
    pub fn seats(&self, island: &Island) -> Vec<Seat> {
        let towards_stage = -self.door_direction();
        let yaw = (-towards_stage.x).atan2(-towards_stage.y);
        self.seat_positions()
            .into_iter()
            .map(|(row, across)| Seat {
                position: island.to_world(self.to_local(Vec2::new(across, row)), SEAT_SIZE.y),
                yaw,
            })
            .collect()
    }

    /// Seat centres in the hall's frame: (distance towards the door, offset across).
    fn seat_positions(&self) -> Vec<(f32, f32)> {
        let (half_depth, half_width) = self.half_depth_and_width();
        let first_row = -half_depth + self.stage_depth + 2.0;
        let per_side = self.seats_per_row.div_ceil(2);
        let spacing = ((half_width - 1.5) / per_side.max(1) as f32).min(1.0);
        let mut seats = Vec::new();
        for row in 0..self.seat_rows {
            let z = first_row + row as f32 * 1.4;
            for i in 0..self.seats_per_row {
                let side = if i % 2 == 0 { -1.0 } else { 1.0 };
                let k = (i / 2) as f32;
                seats.push((z, side * (1.2 + k * spacing)));
            }
        }
        seats
    }

    /// Island-local point on the stage, at its front centre.
    pub fn stage_front(&self) -> Vec2 {
        let (half_depth, _) = self.half_depth_and_width();
        self.to_local(Vec2::new(0.0, -half_depth + self.stage_depth))
    }

    /// Where the tally board hangs: island-local centre of the back wall's inner face, its
    /// width, and the height of its lower edge above the floor. It faces the door.
    pub fn board_anchor(&self) -> (Vec2, f32, f32) {
        let (half_depth, half_width) = self.half_depth_and_width();
        let width = (2.0 * half_width - 3.0).clamp(3.0, 9.0);
        (
            self.to_local(Vec2::new(0.0, -half_depth + 0.05)),
            width,
            self.stage_height + 1.3,
        )
    }

    /// Island-local position of the ballot kiosk: inside, beside the door.
    pub fn kiosk_position(&self) -> Vec2 {
        let (half_depth, half_width) = self.half_depth_and_width();
        self.to_local(Vec2::new(half_width - 1.2, half_depth - 1.6))
    }

    /// Island-local point in the centre aisle just inside the door.
    pub fn door_inside(&self) -> Vec2 {
        let (half_depth, _) = self.half_depth_and_width();
        self.to_local(Vec2::new(0.0, half_depth - 1.0))
    }

    /// Island-local point just outside the door.
    pub fn door_outside(&self) -> Vec2 {
        let (half_depth, _) = self.half_depth_and_width();
        self.to_local(Vec2::new(0.0, half_depth + WALL_THICKNESS + 1.5))
    }

    /// Island-local corners (min, max) of the hall including its walls.
    pub fn footprint(&self) -> (Vec2, Vec2) {
        let half = self.size / 2.0 + Vec2::splat(WALL_THICKNESS);
        (self.center - half, self.center + half)
    }
}
