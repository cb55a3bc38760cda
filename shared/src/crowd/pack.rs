//! Quantised poses and the byte layout of a crowd frame.
//!
//! A frame is an anchor (the receiver's island, whole centimetres on x and z) followed by
//! entries, each one of:
//!
//! | kind | bytes | layout |
//! |---|---|---|
//! | delta | 7 | id+kind (u16), yaw (u8), frames back to the base (u8), dx dy dz (i8 cm) |
//! | near | 9 | id+kind (u16), yaw (u8), x y z from the anchor (i16 cm) |
//! | wide | 15 | id+kind (u16), yaw (u8), x y z (i32 cm) |
//!
//! A delta is against the pose this client acknowledged for that avatar, `frames back` frames
//! before this one; near covers ±327 m around the anchor, which holds any island; wide is for
//! whoever swims beyond. All integers are little-endian.

use bevy::math::{IVec3, Vec3};

/// Size of a position step: 1 cm.
pub const POSITION_STEP: f32 = 0.01;
/// Steps of yaw in a whole turn (about 1.4° each).
pub const YAW_STEPS: f32 = 256.0;
/// Bytes of a frame's anchor.
pub const HEADER_BYTES: usize = 8;
/// Largest id an entry can carry (14 bits).
pub const MAX_ID: u16 = (1 << 14) - 1;

const DELTA: u16 = 0;
const NEAR: u16 = 1;
const WIDE: u16 = 2;

/// A pose as crowd frames carry it: whole centimetres in world space, and a yaw in 1/256 of
/// a turn. Two clients that decode the same entries hold the very same values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quantized {
    pub cm: IVec3,
    pub yaw: u8,
}

impl Quantized {
    pub fn new(position: Vec3, yaw: f32) -> Self {
        let turns = yaw / std::f32::consts::TAU;
        Self {
            cm: (position / POSITION_STEP).round().as_ivec3(),
            yaw: ((turns.rem_euclid(1.0) * YAW_STEPS).round() as u32 % YAW_STEPS as u32) as u8,
        }
    }

    pub fn position(&self) -> Vec3 {
        self.cm.as_vec3() * POSITION_STEP
    }

    /// Yaw in radians, in `[0, 2π)`.
    pub fn yaw(&self) -> f32 {
        f32::from(self.yaw) / YAW_STEPS * std::f32::consts::TAU
    }
}

/// How an entry gives its pose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Centimetres added to the pose acknowledged `frames_back` frames before this frame.
    Delta { frames_back: u8, by: IVec3 },
    /// The whole position.
    Full(IVec3),
}

/// One entry of a frame, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub id: u16,
    pub yaw: u8,
    pub position: Position,
}

impl Entry {
    /// The pose this entry gives, with `base` the pose it is a delta against (ignored for a
    /// full entry).
    pub fn resolve(&self, base: Option<Quantized>) -> Option<Quantized> {
        let cm = match self.position {
            Position::Full(cm) => cm,
            Position::Delta { by, .. } => base?.cm + by,
        };
        Some(Quantized { cm, yaw: self.yaw })
    }
}

/// Writes a frame's entries, choosing the smallest form for each.
#[derive(Debug, Clone)]
pub struct FrameWriter {
    anchor: IVec3,
    bytes: Vec<u8>,
}

impl FrameWriter {
    /// A frame around `anchor` (only x and z count).
    pub fn new(anchor: Vec3) -> Self {
        let anchor = Quantized::new(anchor, 0.0).cm * IVec3::new(1, 0, 1);
        let mut bytes = Vec::with_capacity(1024);
        bytes.extend_from_slice(&anchor.x.to_le_bytes());
        bytes.extend_from_slice(&anchor.z.to_le_bytes());
        Self { anchor, bytes }
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.len() == HEADER_BYTES
    }

    /// Bytes an entry for `pose` takes, given its acknowledged base (and how many frames
    /// back that was).
    pub fn entry_len(&self, pose: Quantized, base: Option<(u8, Quantized)>) -> usize {
        match self.form(pose, base) {
            Form::Delta(..) => 7,
            Form::Near(_) => 9,
            Form::Wide => 15,
        }
    }

    /// Appends an entry; returns the bytes it took.
    pub fn push(&mut self, id: u16, pose: Quantized, base: Option<(u8, Quantized)>) -> usize {
        debug_assert!(id <= MAX_ID);
        let before = self.bytes.len();
        let form = self.form(pose, base);
        let kind = match form {
            Form::Delta(..) => DELTA,
            Form::Near(_) => NEAR,
            Form::Wide => WIDE,
        };
        self.bytes
            .extend_from_slice(&((id & MAX_ID) | kind << 14).to_le_bytes());
        self.bytes.push(pose.yaw);
        match form {
            Form::Delta(frames_back, by) => {
                self.bytes.push(frames_back);
                self.bytes.extend(by.map(|v| v as u8));
            }
            Form::Near(local) => {
                for v in local {
                    self.bytes.extend_from_slice(&v.to_le_bytes());
                }
            }
            Form::Wide => {
                for v in pose.cm.to_array() {
                    self.bytes.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        self.bytes.len() - before
    }

    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }

    fn form(&self, pose: Quantized, base: Option<(u8, Quantized)>) -> Form {
        if let Some((frames_back, base)) = base {
            let by = pose.cm - base.cm;
            let small = |v: i32| i8::try_from(v).ok();
            if let (Some(x), Some(y), Some(z)) = (small(by.x), small(by.y), small(by.z)) {
                return Form::Delta(frames_back, [x, y, z]);
            }
        }
        let local = pose.cm - self.anchor;
        let near = |v: i32| i16::try_from(v).ok();
        match (near(local.x), near(local.y), near(local.z)) {
            (Some(x), Some(y), Some(z)) => Form::Near([x, y, z]),
            _ => Form::Wide,
        }
    }
}

enum Form {
    Delta(u8, [i8; 3]),
    Near([i16; 3]),
    Wide,
}

/// A frame that does not parse: cut short, or of an unknown kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("crowd frame malformed at byte {at}")]
pub struct Malformed {
    pub at: usize,
}

/// Reads a frame's entries in order.
pub fn read(packed: &[u8]) -> Result<Vec<Entry>, Malformed> {
    let mut cursor = Cursor {
        bytes: packed,
        at: 0,
    };
    let anchor = IVec3::new(cursor.i32()?, 0, cursor.i32()?);
    let mut entries = Vec::with_capacity(packed.len() / 7);
    while cursor.at < packed.len() {
        let start = cursor.at;
        let word = cursor.u16()?;
        let yaw = cursor.u8()?;
        let position = match word >> 14 {
            DELTA => {
                let frames_back = cursor.u8()?;
                let by = IVec3::new(
                    i32::from(cursor.u8()? as i8),
                    i32::from(cursor.u8()? as i8),
                    i32::from(cursor.u8()? as i8),
                );
                Position::Delta { frames_back, by }
            }
            NEAR => Position::Full(
                anchor
                    + IVec3::new(
                        i32::from(cursor.i16()?),
                        i32::from(cursor.i16()?),
                        i32::from(cursor.i16()?),
                    ),
            ),
            WIDE => Position::Full(IVec3::new(cursor.i32()?, cursor.i32()?, cursor.i32()?)),
            _ => return Err(Malformed { at: start }),
        };
        entries.push(Entry {
            id: word & MAX_ID,
            yaw,
            position,
        });
    }
    Ok(entries)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        let slice = self
            .bytes
            .get(self.at..self.at + N)
            .ok_or(Malformed { at: self.at })?;
        self.at += N;
        let mut out = [0; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, Malformed> {
        Ok(u16::from_le_bytes(self.take()?))
    }

    fn i16(&mut self) -> Result<i16, Malformed> {
        Ok(i16::from_le_bytes(self.take()?))
    }

    fn i32(&mut self) -> Result<i32, Malformed> {
        Ok(i32::from_le_bytes(self.take()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn angle_between(a: f32, b: f32) -> f32 {
        let d = (a - b).rem_euclid(std::f32::consts::TAU);
        d.min(std::f32::consts::TAU - d)
    }

    #[test]
    fn round_trip_within_a_centimetre_and_one_and_a_half_degrees() {
        let mut worst_position = 0.0f32;
        let mut worst_yaw = 0.0f32;
        let anchor = Vec3::new(120.0, 0.0, -340.0);
        for i in 0..20_000 {
            let t = i as f32 * 0.618_034;
            let position = anchor
                + Vec3::new(
                    (t * 7.3).sin() * 300.0,
                    (t * 1.1).cos() * 20.0,
                    (t * 3.7).cos() * 300.0,
                );
            let yaw = (t * 13.1).sin() * 10.0;
            let q = Quantized::new(position, yaw);
            let mut writer = FrameWriter::new(anchor);
            writer.push(7, q, None);
            let entries = read(&writer.finish()).unwrap();
            let back = entries[0].resolve(None).unwrap();
            assert_eq!(back, q);
            worst_position = worst_position.max(back.position().distance(position));
            worst_yaw = worst_yaw.max(angle_between(back.yaw(), yaw));
        }
        assert!(worst_position <= 0.01, "position off by {worst_position} m");
        assert!(
            worst_yaw.to_degrees() <= 1.5,
            "yaw off by {}°",
            worst_yaw.to_degrees()
        );
    }

    #[test]
    fn smallest_form_is_chosen() {
        let anchor = Vec3::ZERO;
        let base = Quantized::new(Vec3::new(10.0, 2.0, 10.0), 0.0);
        let writer = FrameWriter::new(anchor);
        let step = Quantized::new(Vec3::new(10.5, 2.0, 9.2), 1.0);
        assert_eq!(writer.entry_len(step, Some((3, base))), 7);
        let stride = Quantized::new(Vec3::new(12.0, 2.0, 10.0), 1.0);
        assert_eq!(writer.entry_len(stride, Some((3, base))), 9);
        assert_eq!(writer.entry_len(step, None), 9);
        let far = Quantized::new(Vec3::new(900.0, 0.0, 0.0), 0.0);
        assert_eq!(writer.entry_len(far, None), 15);

        let mut writer = FrameWriter::new(anchor);
        let mut total = HEADER_BYTES;
        total += writer.push(1, step, Some((3, base)));
        total += writer.push(2, stride, Some((3, base)));
        total += writer.push(MAX_ID, far, None);
        let packed = writer.finish();
        assert_eq!(packed.len(), total);
        let entries = read(&packed).unwrap();
        assert_eq!(
            entries[0].position,
            Position::Delta {
                frames_back: 3,
                by: step.cm - base.cm
            }
        );
        assert_eq!(entries[0].resolve(Some(base)), Some(step));
        assert_eq!(entries[1].resolve(None), Some(stride));
        assert_eq!(entries[2].id, MAX_ID);
        assert_eq!(entries[2].resolve(None), Some(far));
    }

    #[test]
    fn a_delta_needs_its_base() {
        let base = Quantized::new(Vec3::ONE, 0.0);
        let mut writer = FrameWriter::new(Vec3::ZERO);
        writer.push(1, Quantized::new(Vec3::splat(1.2), 0.0), Some((1, base)));
        let entries = read(&writer.finish()).unwrap();
        assert_eq!(entries[0].resolve(None), None);
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        let mut writer = FrameWriter::new(Vec3::ZERO);
        writer.push(1, Quantized::new(Vec3::ONE, 0.0), None);
        let packed = writer.finish();
        for cut in 0..packed.len() {
            if cut == HEADER_BYTES {
                assert_eq!(read(&packed[..cut]).unwrap(), vec![]);
            } else {
                assert!(read(&packed[..cut]).is_err(), "cut at {cut}");
            }
        }
        let mut unknown = packed.clone();
        unknown[HEADER_BYTES + 1] |= 0xC0;
        assert_eq!(read(&unknown), Err(Malformed { at: HEADER_BYTES }));
    }
}
