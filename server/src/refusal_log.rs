//! Refused requests in the log without letting clients fill it: each link's refusals are
//! written at most once every 5 s, the later line saying how many were left out meanwhile,
//! and all links together write at most [`LINES_PER_SECOND`] lines a second (a thousand
//! overloaded or hostile connections would otherwise write two hundred), the next line
//! saying how many were left out for that.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;

/// At most one line per link this often.
const EVERY: Duration = Duration::from_secs(5);
/// At most this many lines a second for all links together.
const LINES_PER_SECOND: u32 = 20;

/// When each link's last refusal was written, and how many were left out since; and the
/// lines of the present second.
#[derive(Resource, Debug, Default)]
pub struct RefusalLog {
    links: HashMap<Entity, (Instant, u32)>,
    second: Option<Instant>,
    written: u32,
    /// Lines left out because the second had its share.
    crowded_out: u32,
}

impl RefusalLog {
    /// Logs a refusal of `link`'s request unless one was logged in the last 5 s.
    pub fn note(&mut self, link: Entity, what: impl FnOnce() -> String) {
        metrics::counter!("archipelago_request_refusals_total").increment(1);
        if let Some(line) = self.note_at(link, Instant::now(), what) {
            warn!("{line}");
        }
    }

    /// The line to write now, if any.
    fn note_at(
        &mut self,
        link: Entity,
        now: Instant,
        what: impl FnOnce() -> String,
    ) -> Option<String> {
        // Links gone quiet for a while are forgotten, so the map stays as small as the crowd.
        if self.links.len() > 256 {
            self.links
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < EVERY * 12);
        }
        let more = match self.links.get_mut(&link) {
            Some((at, left_out)) if now.saturating_duration_since(*at) < EVERY => {
                *left_out += 1;
                return None;
            }
            Some((_, left_out)) => *left_out,
            None => 0,
        };
        if self
            .second
            .is_none_or(|second| now.saturating_duration_since(second) >= Duration::from_secs(1))
        {
            self.second = Some(now);
            self.written = 0;
        }
        if self.written >= LINES_PER_SECOND {
            self.crowded_out += 1;
            if let Some((_, left_out)) = self.links.get_mut(&link) {
                *left_out += 1;
            }
            return None;
        }
        self.written += 1;
        self.links.insert(link, (now, 0));
        let mut line = match more {
            0 => what(),
            n => format!(
                "{} (and {n} more refusals of this client since the last line)",
                what()
            ),
        };
        let crowded_out = std::mem::take(&mut self.crowded_out);
        if crowded_out > 0 {
            line.push_str(&format!(
                "; {crowded_out} refusals of other clients were left out of the log before \
                 this line (too many at once)"
            ));
        }
        Some(line)
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<RefusalLog>();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_refusals_writes_one_line_every_five_seconds_with_a_count() {
        let mut log = RefusalLog::default();
        let link = Entity::from_raw_u32(7).expect("an entity");
        let other = Entity::from_raw_u32(8).expect("an entity");
        let start = Instant::now();
        let lines: Vec<String> = (0..100)
            .filter_map(|i| {
                log.note_at(link, start + Duration::from_millis(i * 10), || {
                    "too fast".into()
                })
            })
            .collect();
        assert_eq!(lines, vec!["too fast".to_owned()], "one line for the burst");
        assert!(
            log.note_at(other, start, || "other".into()).is_some(),
            "each link has its own allowance"
        );
        let later = log
            .note_at(link, start + EVERY + Duration::from_secs(1), || {
                "too fast".into()
            })
            .expect("a line after 5 s");
        assert!(later.contains("and 99 more"), "{later}");
    }

    #[test]
    fn many_clients_refused_at_once_write_a_few_lines_a_second_and_say_how_many_were_left_out() {
        let mut log = RefusalLog::default();
        let start = Instant::now();
        let link = |i: u32| Entity::from_raw_u32(100 + i).expect("an entity");
        let written = (0..100)
            .filter(|&i| log.note_at(link(i), start, || "dropped".into()).is_some())
            .count();
        assert_eq!(
            written, LINES_PER_SECOND as usize,
            "a second's share of lines"
        );
        let next = log
            .note_at(link(99), start + Duration::from_millis(1_100), || {
                "dropped".into()
            })
            .expect("a line in the next second");
        assert!(
            next.starts_with("dropped; 80 refusals of other clients were left out"),
            "{next}"
        );
        assert!(
            log.note_at(link(0), start + Duration::from_millis(1_200), || "again"
                .into())
                .is_none(),
            "a link written in the busy second still waits its 5 s"
        );
    }
}
