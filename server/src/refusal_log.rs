//! Refused requests in the log without letting a client fill it: each link's refusals are
//! written at most once every 5 s, the later line saying how many were left out meanwhile.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;

/// At most one line per link this often.
const EVERY: Duration = Duration::from_secs(5);

/// When each link's last refusal was written, and how many were left out since.
#[derive(Resource, Debug, Default)]
pub struct RefusalLog {
    links: HashMap<Entity, (Instant, u32)>,
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
        match self.links.get_mut(&link) {
            Some((at, left_out)) if now.saturating_duration_since(*at) < EVERY => {
                *left_out += 1;
                None
            }
            Some((at, left_out)) => {
                let more = std::mem::take(left_out);
                *at = now;
                Some(match more {
                    0 => what(),
                    n => format!(
                        "{} (and {n} more refusals of this client since the last line)",
                        what()
                    ),
                })
            }
            None => {
                self.links.insert(link, (now, 0));
                Some(what())
            }
        }
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
}
