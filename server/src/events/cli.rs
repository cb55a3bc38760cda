//! `archipelago-server admin event ...`: the calendar of live events in the town halls, for
//! founders at the command line.

use anyhow::Context;
use archipelago_shared::assembly::DEFAULT_HALL_CAPACITY;
use archipelago_shared::events::{Event, EventDraft, EventId, calendar};
use archipelago_shared::parcels::utc_date_time;
use archipelago_shared::protocol::Role;
use archipelago_shared::world::World;
use clap::Subcommand;

use crate::storage::Storage;

#[derive(Subcommand, Debug)]
pub enum EventAction {
    /// The calendar: events under way or to come (--all: past and called off too).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Schedule an event in a protocity's town hall (a running server announces it).
    Create {
        #[arg(long)]
        title: String,
        /// The protocity whose town hall holds it.
        #[arg(long)]
        hall: String,
        /// Starts this many minutes from now.
        #[arg(long, default_value_t = 0)]
        starts_in: u32,
        /// How long it lasts, in minutes.
        #[arg(long, default_value_t = 60)]
        minutes: u32,
        /// How many the main hall holds; more follow from the overflow room.
        #[arg(long, default_value_t = DEFAULT_HALL_CAPACITY)]
        capacity: u32,
        /// Who may attend: visitor (everyone), member, resident or founder, and above.
        #[arg(long, default_value = "visitor")]
        audience: String,
    },
    /// Call off an event that has not ended.
    Cancel { id: EventId },
}

fn print_event(event: &Event, now: i64) {
    let state = if event.cancelled_at.is_some() {
        "called off"
    } else if event.is_live(now) {
        "LIVE"
    } else if event.is_current(now) {
        "upcoming"
    } else {
        "over"
    };
    println!(
        "#{:<4} {:<10} {} for {} min  {:<12} {:<36} capacity {}, {}",
        event.id,
        state,
        utc_date_time(event.draft.starts_at),
        event.draft.minutes,
        event.draft.protocity,
        event.draft.title,
        event.draft.capacity,
        match event.draft.audience {
            Role::Visitor => "open to everyone".to_owned(),
            role => format!("{role}s and above"),
        }
    );
}

pub async fn events(
    storage: &Storage,
    world: &World,
    action: EventAction,
    json: bool,
) -> anyhow::Result<()> {
    let now = archipelago_shared::clock::unix_seconds();
    match action {
        EventAction::List { all } => {
            let events = storage.events().await?;
            let shown: Vec<&Event> = if all {
                events.iter().collect()
            } else {
                calendar(&events, now)
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&shown)?);
                return Ok(());
            }
            for event in &shown {
                print_event(event, now);
            }
            println!("{} events", shown.len());
        }
        EventAction::Create {
            title,
            hall,
            starts_in,
            minutes,
            capacity,
            audience,
        } => {
            let audience = Role::parse(&audience).with_context(|| {
                format!("`{audience}` is not a role: use visitor, member, resident or founder")
            })?;
            let draft = EventDraft {
                title,
                protocity: hall,
                starts_at: now + i64::from(starts_in) * 60,
                minutes,
                capacity,
                audience,
            };
            let ids: Vec<&str> = world.protocities.iter().map(|p| p.id.as_str()).collect();
            let event = storage.schedule_event("admin (CLI)", &draft, &ids).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&event)?);
            } else {
                print_event(&event, now);
            }
        }
        EventAction::Cancel { id } => {
            let event = storage.cancel_event(id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&event)?);
            } else {
                print_event(&event, now);
            }
        }
    }
    Ok(())
}
