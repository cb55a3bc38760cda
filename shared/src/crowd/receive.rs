//! The client's side of [`super`]: turning frames back into poses, and saying what arrived.

use super::interest::HISTORY;
use super::pack::{Malformed, Position, Quantized, read};
use super::{CrowdAck, CrowdFrame};

/// What one frame gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    /// Poses by crowd id, in the frame's order.
    pub poses: Vec<(u16, Quantized)>,
    /// The ack to send back, if the frame was taken whole; `None` when an entry referred to
    /// a pose this client no longer holds (the server then sends it whole, once its base
    /// falls out of its history).
    pub ack: Option<CrowdAck>,
}

/// The poses received lately per crowd id (the bases of later deltas), and which frames
/// arrived.
#[derive(Debug, Default)]
pub struct Received {
    /// By crowd id, the poses of the last [`HISTORY`] frames, each in the slot of its
    /// frame's number modulo [`HISTORY`] with that number ([`EMPTY`] where none): a delta
    /// refers to fewer than [`HISTORY`] frames back, so its base is found in one look.
    bases: Vec<[(u32, Quantized); HISTORY]>,
    latest: Option<u16>,
    earlier: u32,
}

/// The frame number of a slot holding nothing.
const EMPTY: u32 = u32::MAX;

fn slot(seq: u16) -> usize {
    usize::from(seq) % HISTORY
}

fn newer(a: u16, b: u16) -> bool {
    (a.wrapping_sub(b) as i16) > 0
}

impl Received {
    pub fn read(&mut self, frame: &CrowdFrame) -> Result<Got, Malformed> {
        let entries = read(&frame.packed)?;
        let mut poses = Vec::with_capacity(entries.len());
        let mut whole = true;
        for entry in &entries {
            let base = match entry.position {
                Position::Delta { frames_back, .. } => {
                    let at = frame.seq.wrapping_sub(u16::from(frames_back));
                    self.bases
                        .get(usize::from(entry.id))
                        .map(|slots| slots[slot(at)])
                        .filter(|(seq, _)| *seq == u32::from(at))
                        .map(|(_, pose)| pose)
                }
                Position::Full(_) => None,
            };
            match entry.resolve(base) {
                Some(pose) => poses.push((entry.id, pose)),
                None => whole = false,
            }
        }
        if !whole {
            return Ok(Got { poses, ack: None });
        }
        for &(id, pose) in &poses {
            let id = usize::from(id);
            if id >= self.bases.len() {
                self.bases
                    .resize(id + 1, [(EMPTY, Quantized::default()); HISTORY]);
            }
            self.bases[id][slot(frame.seq)] = (u32::from(frame.seq), pose);
        }
        match self.latest {
            Some(latest) if !newer(frame.seq, latest) => {
                let back = latest.wrapping_sub(frame.seq);
                if (1..=32).contains(&back) {
                    self.earlier |= 1 << (back - 1);
                }
            }
            Some(latest) => {
                let ahead = u32::from(frame.seq.wrapping_sub(latest));
                self.earlier = if ahead > 32 {
                    0
                } else {
                    self.earlier.checked_shl(ahead).unwrap_or(0) | 1 << (ahead - 1)
                };
                self.latest = Some(frame.seq);
            }
            None => self.latest = Some(frame.seq),
        }
        Ok(Got {
            poses,
            ack: self.latest.map(|latest| CrowdAck {
                latest,
                earlier: self.earlier,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use bevy::math::Vec3;

    use super::super::pack::FrameWriter;
    use super::*;

    fn frame(seq: u16) -> CrowdFrame {
        let mut writer = FrameWriter::new(Vec3::ZERO);
        writer.push(1, Quantized::new(Vec3::splat(f32::from(seq)), 0.0), None);
        CrowdFrame {
            seq,
            tick: 0,
            packed: writer.finish(),
        }
    }

    #[test]
    fn acks_cover_late_and_missing_frames() {
        let mut received = Received::default();
        received.read(&frame(65_534)).unwrap();
        received.read(&frame(1)).unwrap();
        let ack = received.read(&frame(65_535)).unwrap().ack.unwrap();
        assert_eq!(ack.frames().collect::<Vec<_>>(), vec![1, 65_535, 65_534]);
        let ack = received.read(&frame(40)).unwrap().ack.unwrap();
        assert_eq!(ack.frames().collect::<Vec<_>>(), vec![40]);
    }

    #[test]
    fn a_delta_without_its_base_is_not_acked() {
        let mut received = Received::default();
        let mut writer = FrameWriter::new(Vec3::ZERO);
        writer.push(
            1,
            Quantized::new(Vec3::ONE, 0.0),
            Some((1, Quantized::default())),
        );
        let got = received
            .read(&CrowdFrame {
                seq: 5,
                tick: 0,
                packed: writer.finish(),
            })
            .unwrap();
        assert_eq!(
            got,
            Got {
                poses: vec![],
                ack: None
            }
        );
    }
}
