//! Who goes into each client's crowd frame, and how it is written: the server's side of
//! [`super`], pure so it is tested without an App.
//!
//! A [`Place`] is everyone one room receives, bucketed in a grid so "the nearest K" costs the
//! few cells around the viewer rather than a scan of everyone. A [`Viewer`] is one client's
//! state: when each person was last sent to it, and what it acknowledged (the base of the
//! next delta). Each frame a viewer considers the nearest [`NEAR_COUNT`] and the stage, the
//! next [`MIDDLE_COUNT`], and a slice of everyone else taken in turn, ranks those that are due
//! by how overdue they are, and writes them until [`FRAME_BUDGET`] is spent.

use std::collections::HashMap;

use bevy::math::Vec3;

use super::pack::{FrameWriter, HEADER_BYTES, MAX_ID, Quantized};
use super::{CrowdAck, FRAMES_PER_SECOND};

/// People sent every frame: the nearest.
pub const NEAR_COUNT: usize = 30;
/// People after the nearest sent several times a second.
pub const MIDDLE_COUNT: usize = 100;
/// Frames between updates of the nearest (and the stage), the middle, and everyone else:
/// 15, 3.75 and 1.25 a second.
pub const NEAR_EVERY: u16 = 1;
pub const MIDDLE_EVERY: u16 = 4;
pub const FAR_EVERY: u16 = 12;
/// The longest anyone in the place may go without an update while they move: 2 s.
pub const STALE_FRAMES: u16 = 2 * FRAMES_PER_SECOND as u16;
/// Bytes of entries (and anchor) in one frame: with the message's own few bytes, one packet,
/// and about 11 KB/s at [`FRAMES_PER_SECOND`].
pub const FRAME_BUDGET: usize = 720;
/// Frames whose contents a viewer remembers until acknowledged; a delta refers to at most
/// this many frames back.
pub const HISTORY: usize = 16;
/// Side of a grid cell, metres.
pub const CELL: f32 = 4.0;

/// Someone a room receives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Member {
    pub id: u16,
    pub pose: Quantized,
    /// Whether they hold the stage (the chair, the speaker): sent every frame to everyone.
    pub stage: bool,
    /// Changes whenever who receives them may have changed (they changed rooms): a viewer
    /// then sends them afresh, since the client may have dropped and made them again.
    pub epoch: u16,
}

/// Everyone one room receives, sorted by id, with a grid over where they stand.
#[derive(Debug, Default)]
pub struct Place {
    members: Vec<Member>,
    /// Indices of those holding the stage.
    stage: Vec<u32>,
    cells: HashMap<(i32, i32), Vec<u32>>,
    low: (i32, i32),
    high: (i32, i32),
}

fn cell_of(cm: bevy::math::IVec3) -> (i32, i32) {
    let step = (CELL * 100.0) as i32;
    (cm.x.div_euclid(step), cm.z.div_euclid(step))
}

impl Place {
    pub fn new(mut members: Vec<Member>) -> Self {
        members.sort_unstable_by_key(|m| m.id);
        let mut cells: HashMap<(i32, i32), Vec<u32>> = HashMap::new();
        let (mut low, mut high) = ((i32::MAX, i32::MAX), (i32::MIN, i32::MIN));
        for (index, member) in members.iter().enumerate() {
            let cell = cell_of(member.pose.cm);
            low = (low.0.min(cell.0), low.1.min(cell.1));
            high = (high.0.max(cell.0), high.1.max(cell.1));
            cells.entry(cell).or_default().push(index as u32);
        }
        let stage = (0..members.len() as u32)
            .filter(|&i| members[i as usize].stage)
            .collect();
        Self {
            members,
            stage,
            cells,
            low,
            high,
        }
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The member with this id.
    pub fn get(&self, id: u16) -> Option<&Member> {
        self.members
            .binary_search_by_key(&id, |m| m.id)
            .ok()
            .map(|i| &self.members[i])
    }

    /// Indices of the `k` members nearest `at` (`except` left out), nearest first. Visits
    /// rings of cells outwards until the rings left cannot hold anyone nearer; where the
    /// rings would look at more cells than people stand in (few people far apart: a quiet
    /// island, the grounds between islands), measures everyone instead.
    pub fn nearest(&self, at: Quantized, k: usize, except: Option<u16>, out: &mut Vec<u32>) {
        out.clear();
        if self.members.is_empty() || k == 0 {
            return;
        }
        let centre = cell_of(at.cm);
        let distance = |index: u32| {
            let d = (self.members[index as usize].pose.cm - at.cm).as_i64vec3();
            d.x * d.x + d.z * d.z
        };
        let everyone = || {
            (0..self.members.len() as u32)
                .filter(|&i| Some(self.members[i as usize].id) != except)
                .map(|i| (distance(i), i))
                .collect::<Vec<_>>()
        };
        let step = i64::from((CELL * 100.0) as i32);
        let reach = (self.high.0 - self.low.0)
            .max(self.high.1 - self.low.1)
            .max((centre.0 - self.low.0).abs())
            .max((centre.0 - self.high.0).abs())
            .max((centre.1 - self.low.1).abs())
            .max((centre.1 - self.high.1).abs());
        let mut found: Vec<(i64, u32)> = Vec::new();
        let mut looked_at = 0usize;
        for ring in 0..=reach {
            let cells = if ring == 0 { 1 } else { 8 * ring as usize };
            looked_at += cells;
            if looked_at > 2 * self.cells.len() + 8 {
                found = everyone();
                break;
            }
            for x in centre.0 - ring..=centre.0 + ring {
                for z in centre.1 - ring..=centre.1 + ring {
                    if (x - centre.0).abs() != ring && (z - centre.1).abs() != ring {
                        continue;
                    }
                    let Some(cell) = self.cells.get(&(x, z)) else {
                        continue;
                    };
                    for &index in cell {
                        if Some(self.members[index as usize].id) != except {
                            found.push((distance(index), index));
                        }
                    }
                }
            }
            // Everyone in rings further out is at least `ring` cells away.
            let bound = i64::from(ring) * step;
            if found.len() >= k {
                found.select_nth_unstable(k - 1);
                found.truncate(k);
                if found.iter().all(|&(d, _)| d <= bound * bound) {
                    break;
                }
            }
        }
        if found.len() > k {
            found.select_nth_unstable(k - 1);
            found.truncate(k);
        }
        found.sort_unstable();
        out.extend(found.into_iter().map(|(_, index)| index));
    }

    /// Indices of the members with these ids that are still here, nearest `at` first.
    pub fn rank(&self, at: Quantized, ids: &[u16], out: &mut Vec<u32>) {
        out.clear();
        let mut found: Vec<(i64, u32)> = ids
            .iter()
            .filter_map(|&id| {
                let index = self.members.binary_search_by_key(&id, |m| m.id).ok()?;
                let d = (self.members[index].pose.cm - at.cm).as_i64vec3();
                Some((d.x * d.x + d.z * d.z, index as u32))
            })
            .collect();
        found.sort_unstable();
        out.extend(found.into_iter().map(|(_, index)| index));
    }
}

/// Frames between two lookups of a viewer's nearest tiers in the grid; in the frames between,
/// the people found last time are ranked again by where they stand now, which costs a
/// fraction of a lookup in a dense crowd. Someone who walks up is in the near tier within
/// this many frames (a quarter of a second).
pub const LOOKUP_EVERY: u16 = 4;

/// What a viewer knows of one person.
#[derive(Debug, Clone, Copy, Default)]
struct Pair {
    /// The frame (counted by [`Viewer::frames`]) this person was last written in.
    last_sent: u16,
    ever_sent: bool,
    /// The last pose the client acknowledged, and the frame it came in.
    acked: Option<(u16, Quantized)>,
    /// Marks the frame this person was last considered in, so nobody is ranked twice.
    seen: u16,
    /// The member's epoch the rest was learnt in.
    epoch: u16,
}

/// A frame sent and not yet forgotten: its seq and whom it carried at which pose.
#[derive(Debug, Clone, Default)]
struct Sent {
    seq: u16,
    entries: Vec<(u16, Quantized)>,
    acked: bool,
}

/// One frame for one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub seq: u16,
    pub packed: Vec<u8>,
    pub entries: usize,
    /// Entries of the nearest (and the stage), the middle, and everyone else.
    pub tiers: [u16; 3],
    /// The longest anyone written had gone unsent to this viewer, frames.
    pub oldest: u16,
}

/// One client's crowd state.
#[derive(Debug)]
pub struct Viewer {
    /// Frames written so far (wrapping); also the next frame's seq.
    frames: u16,
    pairs: Vec<Pair>,
    history: Vec<Sent>,
    /// Where the turn of "everyone else" continues: the next id to consider.
    far_cursor: u16,
    budget: usize,
    /// The nearest tiers' ids as last looked up, and the frame then.
    neighbours: Vec<u16>,
    looked_up: Option<u16>,
}

impl Default for Viewer {
    fn default() -> Self {
        Self::new(FRAME_BUDGET)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tier {
    Near,
    Middle,
}

impl Tier {
    fn every(self) -> u16 {
        match self {
            Tier::Near => NEAR_EVERY,
            Tier::Middle => MIDDLE_EVERY,
        }
    }
}

impl Viewer {
    /// A viewer whose frames hold at most `budget` bytes of entries and anchor.
    pub fn new(budget: usize) -> Self {
        Self {
            frames: 0,
            pairs: Vec::new(),
            history: vec![Sent::default(); HISTORY],
            far_cursor: 0,
            budget: budget.max(HEADER_BYTES + 15),
            neighbours: Vec::new(),
            looked_up: None,
        }
    }

    fn pair(&mut self, id: u16) -> &mut Pair {
        let index = usize::from(id);
        if index >= self.pairs.len() {
            self.pairs.resize(index + 1, Pair::default());
        }
        &mut self.pairs[index]
    }

    /// The pair of a member, started afresh if the member changed rooms since.
    fn pair_of(&mut self, member: &Member) -> &mut Pair {
        let pair = self.pair(member.id);
        if pair.epoch != member.epoch {
            *pair = Pair {
                epoch: member.epoch,
                seen: pair.seen,
                ..Pair::default()
            };
        }
        pair
    }

    /// Forgets what the client holds: after the viewer changed rooms, its client drops
    /// those it no longer receives and makes again those it receives anew.
    pub fn forget_all(&mut self) {
        self.pairs.clear();
        self.looked_up = None;
    }

    /// Writes the next frame for someone standing at `at` (their own id `me`, left out) in
    /// `place`. `anchor` is where near entries count from: the viewer's island.
    pub fn frame(
        &mut self,
        place: &Place,
        me: Option<u16>,
        at: Quantized,
        anchor: Vec3,
    ) -> Written {
        let seq = self.frames;
        self.frames = self.frames.wrapping_add(1);
        let now = seq;
        let stamp = now.wrapping_add(1);
        let members = place.members();

        // The stage and the nearest two tiers, ranked by urgency: the stage first, then
        // anyone near the stale limit, then the nearest, then the middle by how overdue.
        let mut nearest = Vec::with_capacity(NEAR_COUNT + MIDDLE_COUNT);
        if self
            .looked_up
            .is_none_or(|then| now.wrapping_sub(then) >= LOOKUP_EVERY)
        {
            place.nearest(at, NEAR_COUNT + MIDDLE_COUNT, me, &mut nearest);
            self.neighbours.clear();
            self.neighbours
                .extend(nearest.iter().map(|&i| members[i as usize].id));
            self.looked_up = Some(now);
        } else {
            place.rank(at, &self.neighbours, &mut nearest);
        }
        let stage = place.stage.iter().map(|&i| (i, Tier::Near));
        let tiers = nearest.iter().enumerate().map(|(rank, &index)| {
            let tier = if rank < NEAR_COUNT {
                Tier::Near
            } else {
                Tier::Middle
            };
            (index, tier)
        });
        let mut ranked: Vec<(u32, u32, Tier)> = Vec::with_capacity(nearest.len() + 2);
        for (index, tier) in stage.chain(tiers) {
            let member = &members[index as usize];
            if Some(member.id) == me {
                continue;
            }
            let pair = self.pair_of(member);
            if pair.seen == stamp {
                continue;
            }
            pair.seen = stamp;
            if pair.acked.is_some_and(|(_, pose)| pose == member.pose) {
                // The client already holds this very pose.
                pair.last_sent = now;
                pair.ever_sent = true;
                continue;
            }
            if !pair.ever_sent {
                // Someone new to this viewer is due now, and overdue from now on.
                pair.last_sent = now.wrapping_sub(tier.every());
                pair.ever_sent = true;
            }
            let age = now.wrapping_sub(pair.last_sent);
            if age < tier.every() {
                continue;
            }
            let urgency = if member.stage {
                u32::MAX
            } else if age >= STALE_FRAMES - FAR_EVERY / 2 {
                100_000 + u32::from(age)
            } else if tier == Tier::Near {
                50_000
            } else {
                u32::from(age) * 100 / u32::from(tier.every())
            };
            ranked.push((urgency, index, tier));
        }
        ranked.sort_unstable_by_key(|r| std::cmp::Reverse(r.0));

        // Everyone else, in turn: the next slice of the place after the cursor, so that a
        // whole turn takes at least FAR_EVERY frames, and longer only when the budget is
        // short.
        let start = members.partition_point(|m| m.id < self.far_cursor);
        let others = members.len().saturating_sub(nearest.len() + 1);
        let slice = others.div_ceil(usize::from(FAR_EVERY)).max(1);
        let mut far: Vec<u32> = Vec::with_capacity(slice);
        let mut after_slice = None;
        for offset in 0..members.len() {
            let index = (start + offset) % members.len();
            let member = &members[index];
            if Some(member.id) == me || self.pair(member.id).seen == stamp {
                continue;
            }
            if far.len() == slice {
                after_slice = Some(member.id);
                break;
            }
            far.push(index as u32);
        }

        let mut writer = FrameWriter::new(anchor);
        let slot = usize::from(seq) % HISTORY;
        let mut sent = std::mem::take(&mut self.history[slot].entries);
        sent.clear();
        let mut tiers = [0u16; 3];
        let mut oldest = 0u16;
        let mut write = |viewer: &mut Viewer, member: Member, tier: usize| -> bool {
            let pair = viewer.pair(member.id);
            let age = now.wrapping_sub(pair.last_sent);
            let base = pair.acked.and_then(|(acked_seq, pose)| {
                let back = seq.wrapping_sub(acked_seq);
                (usize::from(back) < HISTORY && back > 0).then_some((back as u8, pose))
            });
            let len = writer.entry_len(member.pose, base);
            if writer.len() + len > viewer.budget {
                return false;
            }
            writer.push(member.id.min(MAX_ID), member.pose, base);
            sent.push((member.id, member.pose));
            tiers[tier] += 1;
            oldest = oldest.max(age);
            let pair = viewer.pair(member.id);
            pair.last_sent = now;
            pair.ever_sent = true;
            true
        };
        for &(_, index, tier) in &ranked {
            let tier = if tier == Tier::Near { 0 } else { 1 };
            write(self, members[index as usize], tier);
        }
        // The turn stops at the first who does not fit, and goes on from them next frame.
        let mut cursor = after_slice.or(members.first().map(|m| m.id));
        for &index in &far {
            let member = members[index as usize];
            let pair = self.pair_of(&member);
            if !pair.ever_sent {
                pair.last_sent = now;
                pair.ever_sent = true;
            }
            if pair.acked.is_some_and(|(_, pose)| pose == member.pose) {
                pair.last_sent = now;
                continue;
            }
            if !write(self, member, 2) {
                cursor = Some(member.id);
                break;
            }
        }
        self.far_cursor = cursor.unwrap_or(0);
        let entries = sent.len();
        // A first frame to a crowd is large; the frames after it seldom are: do not keep its
        // capacity in every slot of the history.
        if sent.capacity() > 2 * entries.max(32) {
            sent.shrink_to(entries.max(32));
        }
        self.history[slot] = Sent {
            seq,
            entries: sent,
            acked: false,
        };
        Written {
            seq,
            packed: writer.finish(),
            entries,
            tiers,
            oldest,
        }
    }

    /// The client got these frames: what they carried becomes the base of later deltas.
    pub fn acked(&mut self, ack: &CrowdAck) {
        for seq in ack.frames() {
            let slot = usize::from(seq) % HISTORY;
            // Only frames still remembered, and not from the future.
            let back = self.frames.wrapping_sub(seq);
            if back == 0 || usize::from(back) > HISTORY {
                continue;
            }
            if self.history[slot].seq != seq || self.history[slot].acked {
                continue;
            }
            self.history[slot].acked = true;
            let entries = std::mem::take(&mut self.history[slot].entries);
            for &(id, pose) in &entries {
                let pair = self.pair(id);
                let newer = pair
                    .acked
                    .is_none_or(|(old, _)| (seq.wrapping_sub(old) as i16) > 0);
                if newer {
                    pair.acked = Some((seq, pose));
                }
            }
            self.history[slot].entries = entries;
        }
    }

    /// Bytes this viewer holds, for the memory benchmark.
    pub fn footprint(&self) -> usize {
        self.pairs.capacity() * std::mem::size_of::<Pair>()
            + self.neighbours.capacity() * std::mem::size_of::<u16>()
            + self
                .history
                .iter()
                .map(|s| s.entries.capacity() * std::mem::size_of::<(u16, Quantized)>())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::super::CrowdFrame;
    use super::super::receive::Received;
    use super::*;

    fn member(id: u16, x: f32, z: f32) -> Member {
        Member {
            id,
            pose: Quantized::new(Vec3::new(x, 2.0, z), 0.0),
            stage: false,
            epoch: 0,
        }
    }

    fn ids(place: &Place, indices: &[u32]) -> Vec<u16> {
        indices
            .iter()
            .map(|&i| place.members()[i as usize].id)
            .collect()
    }

    #[test]
    fn nearest_matches_a_full_sort() {
        let members: Vec<Member> = (0..500u16)
            .map(|i| {
                let t = f32::from(i) * 2.399;
                let r = f32::from(i).sqrt() * 1.7;
                member(i, r * t.cos() + 3.0, r * t.sin() - 5.0)
            })
            .collect();
        // And a few people far apart, fewer than asked for: the grounds between islands.
        let sparse: Vec<Member> = (0..40u16)
            .map(|i| {
                let t = f32::from(i) * 2.399;
                member(i, 900.0 * t.cos(), 700.0 * t.sin())
            })
            .collect();
        for (members, at, k) in [
            (&members, Vec3::ZERO, 30),
            (&members, Vec3::new(20.0, 0.0, 9.0), 130),
            (&members, Vec3::new(300.0, 0.0, 0.0), 10),
            (&sparse, Vec3::ZERO, 130),
            (&sparse, Vec3::new(-850.0, 0.0, 40.0), 5),
            (&sparse, Vec3::new(5000.0, 0.0, 0.0), 39),
        ] {
            let place = Place::new(members.clone());
            let at = Quantized::new(at, 0.0);
            let mut out = Vec::new();
            place.nearest(at, k, Some(3), &mut out);
            let mut sorted: Vec<(i64, u16)> = members
                .iter()
                .filter(|m| m.id != 3)
                .map(|m| {
                    let d = (m.pose.cm - at.cm).as_i64vec3();
                    (d.x * d.x + d.z * d.z, m.id)
                })
                .collect();
            sorted.sort_unstable();
            let expected: Vec<i64> = sorted.iter().take(k).map(|(d, _)| *d).collect();
            let got: Vec<i64> = out
                .iter()
                .map(|&i| {
                    let d = (place.members()[i as usize].pose.cm - at.cm).as_i64vec3();
                    d.x * d.x + d.z * d.z
                })
                .collect();
            assert_eq!(got, expected, "nearest {k} from {at:?}");
            assert!(!ids(&place, &out).contains(&3));
        }
    }

    /// A plaza of `n` people on a spiral (id order is distance order from the middle, one
    /// person per 3 m²), each stepping outwards `step` metres a frame, so nobody is ever up
    /// to date for free.
    fn plaza(n: u16, frame: u32, step: f32) -> Place {
        Place::new(
            (0..n)
                .map(|i| {
                    let r = f32::from(i + 1).sqrt() + frame as f32 * step;
                    let angle = f32::from(i) * 2.399_963;
                    member(i, r * angle.cos(), r * angle.sin())
                })
                .collect(),
        )
    }

    /// Runs frames with acks arriving `delay` frames late (every `lose`-th lost, if any),
    /// through a real receiver; returns, per id, the frames it appeared in.
    fn run(
        n: u16,
        step: f32,
        frames: u32,
        budget: usize,
        delay: usize,
        lose: Option<u32>,
    ) -> (HashMap<u16, Vec<u32>>, usize) {
        let mut viewer = Viewer::new(budget);
        let mut received = Received::default();
        let mut acks: std::collections::VecDeque<Option<CrowdAck>> = Default::default();
        let mut seen: HashMap<u16, Vec<u32>> = HashMap::new();
        let mut largest = 0;
        for f in 0..frames {
            let place = plaza(n, f, step);
            let written = viewer.frame(&place, None, Quantized::default(), Vec3::ZERO);
            largest = largest.max(written.packed.len());
            let frame = CrowdFrame {
                seq: written.seq,
                tick: f,
                packed: written.packed,
            };
            let got = received.read(&frame).unwrap();
            assert_eq!(got.poses.len(), written.entries, "every entry resolves");
            for (id, pose) in got.poses {
                assert_eq!(Some(pose), place.get(id).map(|m| m.pose), "decoded exactly");
                seen.entry(id).or_default().push(f);
            }
            let lost = lose.is_some_and(|every| f % every == every - 1);
            acks.push_back(if lost { None } else { got.ack });
            if acks.len() > delay
                && let Some(Some(ack)) = acks.pop_front()
            {
                viewer.acked(&ack);
            }
        }
        (seen, largest)
    }

    fn longest_gap(frames: &[u32], total: u32) -> u32 {
        let mut gaps: Vec<u32> = frames.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.push(frames.first().copied().unwrap_or(total));
        gaps.push(total - frames.last().copied().unwrap_or(0));
        gaps.into_iter().max().unwrap_or(total)
    }

    #[test]
    fn tiers_by_distance() {
        // Budget enough for all: the rate each distance gets is the tiers' own.
        let (seen, _) = run(400, 0.02, 120, 64 * 1024, 2, None);
        let rate = |id: u16| seen.get(&id).map_or(0, Vec::len);
        for id in 0..NEAR_COUNT as u16 {
            assert!(rate(id) >= 119, "near {id}: {}", rate(id));
        }
        for id in NEAR_COUNT as u16..(NEAR_COUNT + MIDDLE_COUNT) as u16 {
            let r = rate(id);
            assert!((28..=32).contains(&r), "middle {id}: {r} in 120 frames");
        }
        for id in (NEAR_COUNT + MIDDLE_COUNT) as u16..400 {
            let r = rate(id);
            assert!((7..=12).contains(&r), "far {id}: {r} in 120 frames");
        }
    }

    #[test]
    fn stage_goes_every_frame_from_anywhere() {
        let mut viewer = Viewer::default();
        let mut received = Received::default();
        for f in 0..60 {
            let mut members: Vec<Member> = (0..600)
                .map(|i| member(i, f32::from(i) + 1.0, f as f32 * 0.1))
                .collect();
            members[599].stage = true;
            let place = Place::new(members);
            let written = viewer.frame(&place, None, Quantized::default(), Vec3::ZERO);
            let got = received
                .read(&CrowdFrame {
                    seq: written.seq,
                    tick: f,
                    packed: written.packed,
                })
                .unwrap();
            assert!(got.poses.iter().any(|(id, _)| *id == 599), "frame {f}");
            viewer.acked(&got.ack.unwrap());
        }
    }

    #[test]
    fn budget_holds_and_nobody_goes_stale_in_a_thousand() {
        // Strolling (deltas fit) and walking briskly (4.5 m/s: most entries whole).
        for step in [0.02, 0.3] {
            let total = 20 * FRAMES_PER_SECOND;
            let (seen, largest) = run(1000, step, total, FRAME_BUDGET, 3, Some(10));
            assert!(largest <= FRAME_BUDGET, "a frame of {largest} bytes");
            for id in 0..1000u16 {
                let frames = seen.get(&id).map_or(&[][..], Vec::as_slice);
                let gap = longest_gap(frames, total);
                assert!(
                    gap <= u32::from(STALE_FRAMES),
                    "at {step} m a frame, id {id} went {gap} frames without an update"
                );
            }
            for id in 0..NEAR_COUNT as u16 {
                let n = seen[&id].len() as u32;
                assert!(n + 5 >= total, "near {id} sent {n} times in {total} frames");
            }
        }
    }

    #[test]
    fn the_viewer_is_never_sent_to_itself() {
        let mut viewer = Viewer::default();
        let place = plaza(50, 0, 0.0);
        let written = viewer.frame(&place, Some(4), Quantized::default(), Vec3::ZERO);
        let entries = super::super::pack::read(&written.packed).unwrap();
        assert!(entries.iter().all(|e| e.id != 4));
        assert_eq!(entries.len(), 49);
    }

    #[test]
    fn deltas_survive_a_lost_ack() {
        let mut viewer = Viewer::default();
        let mut received = Received::default();
        let at = |x: f32| Place::new(vec![member(1, x, 0.0)]);
        let frame = |viewer: &mut Viewer, place: &Place| {
            let w = viewer.frame(place, None, Quantized::default(), Vec3::ZERO);
            CrowdFrame {
                seq: w.seq,
                tick: 0,
                packed: w.packed,
            }
        };
        let kinds = |frame: &CrowdFrame| {
            super::super::pack::read(&frame.packed)
                .unwrap()
                .iter()
                .map(|e| e.position)
                .collect::<Vec<_>>()
        };
        use super::super::pack::Position;

        // Frame 0 arrives, its ack is lost: frame 1 cannot be a delta.
        let f0 = frame(&mut viewer, &at(1.0));
        received.read(&f0).unwrap();
        let f1 = frame(&mut viewer, &at(1.1));
        assert!(matches!(kinds(&f1)[..], [Position::Full(_)]));
        let ack1 = received.read(&f1).unwrap().ack.unwrap();
        viewer.acked(&ack1);
        // Frame 2 is a delta against frame 1; it is lost on the way.
        let f2 = frame(&mut viewer, &at(1.2));
        assert!(matches!(
            kinds(&f2)[..],
            [Position::Delta { frames_back: 1, .. }]
        ));
        // Frame 3 still refers to frame 1, the last acknowledged, and decodes without frame 2.
        let f3 = frame(&mut viewer, &at(1.3));
        assert!(matches!(
            kinds(&f3)[..],
            [Position::Delta { frames_back: 2, .. }]
        ));
        let got = received.read(&f3).unwrap();
        assert_eq!(got.poses, vec![(1, at(1.3).members()[0].pose)]);
        // The ack of frame 3 also covers frame 1; frame 2 stays missing.
        let ack3 = got.ack.unwrap();
        assert_eq!(ack3.frames().collect::<Vec<_>>(), vec![3, 1, 0]);
        viewer.acked(&ack3);
        let f4 = frame(&mut viewer, &at(1.4));
        assert!(matches!(
            kinds(&f4)[..],
            [Position::Delta { frames_back: 1, .. }]
        ));
    }

    #[test]
    fn moving_rooms_sends_afresh() {
        let mut viewer = Viewer::default();
        let mut received = Received::default();
        let mut place = plaza(20, 0, 0.0);
        let mut frame = |viewer: &mut Viewer, place: &Place| {
            let w = viewer.frame(place, None, Quantized::default(), Vec3::ZERO);
            let got = received
                .read(&CrowdFrame {
                    seq: w.seq,
                    tick: 0,
                    packed: w.packed,
                })
                .unwrap();
            viewer.acked(&got.ack.unwrap());
            got.poses.into_iter().map(|(id, _)| id).collect::<Vec<_>>()
        };
        assert_eq!(frame(&mut viewer, &place).len(), 20);
        assert!(frame(&mut viewer, &place).is_empty(), "nobody moved");
        // One of them changed rooms (and back): sent again though they stand where they were.
        let mut members = place.members().to_vec();
        members[3].epoch += 1;
        place = Place::new(members);
        assert_eq!(frame(&mut viewer, &place), vec![3]);
        assert!(frame(&mut viewer, &place).is_empty());
        // The viewer changed rooms: everyone again.
        viewer.forget_all();
        assert_eq!(frame(&mut viewer, &place).len(), 20);
    }

    #[test]
    fn standing_still_costs_nothing_once_acknowledged() {
        let mut viewer = Viewer::default();
        let mut received = Received::default();
        let place = plaza(100, 0, 0.0);
        let mut sizes = Vec::new();
        for f in 0..5 {
            let w = viewer.frame(&place, None, Quantized::default(), Vec3::ZERO);
            sizes.push(w.entries);
            let got = received
                .read(&CrowdFrame {
                    seq: w.seq,
                    tick: f,
                    packed: w.packed,
                })
                .unwrap();
            viewer.acked(&got.ack.unwrap());
        }
        // The first 100 take two frames of budget; then nothing more is sent.
        assert_eq!(sizes[0] + sizes[1], 100);
        assert_eq!(&sizes[2..], &[0, 0, 0]);
    }
}
