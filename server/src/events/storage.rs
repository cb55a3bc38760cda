//! The events table: founders' live events in the town halls. A new event is checked against
//! those already scheduled inside the transaction that stores it, so two founders cannot
//! book the same hall for the same hour.

use archipelago_shared::events::{Event, EventDraft, EventId, EventRefusal, check_event};
use archipelago_shared::protocol::Role;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::storage::{Refusable, Storage, StorageError};

/// The columns a row of `events` is read from (never `SELECT *`: see `crate::storage`).
const EVENT_COLUMNS: &str =
    "id, title, protocity, starts_at, minutes, capacity, audience, created_by, cancelled_at";

fn event_from_row(row: &SqliteRow) -> Result<Event, StorageError> {
    let audience: String = row.try_get("audience")?;
    Ok(Event {
        id: row.try_get("id")?,
        draft: EventDraft {
            title: row.try_get("title")?,
            protocity: row.try_get("protocity")?,
            starts_at: row.try_get("starts_at")?,
            minutes: row.try_get("minutes")?,
            capacity: row.try_get("capacity")?,
            audience: Role::parse(&audience).ok_or(StorageError::BadRole(audience))?,
        },
        created_by: row.try_get("created_by")?,
        cancelled_at: row.try_get("cancelled_at")?,
    })
}

impl Storage {
    /// Every event, soonest first.
    pub async fn events(&self) -> Result<Vec<Event>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events ORDER BY starts_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Checks and stores a new event for `by` (a founder's name, or the CLI).
    pub async fn schedule_event(
        &self,
        by: &str,
        draft: &EventDraft,
        protocities: &[&str],
    ) -> Result<Event, Refusable<EventRefusal>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let at = self.now();
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE cancelled_at IS NULL"
        ))
        .fetch_all(&mut *tx)
        .await?;
        let scheduled = rows
            .iter()
            .map(event_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let draft = check_event(draft, protocities, &scheduled, at).map_err(Refusable::Refused)?;
        let id: EventId = sqlx::query(
            "INSERT INTO events (title, protocity, starts_at, minutes, capacity, audience, created_by, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&draft.title)
        .bind(&draft.protocity)
        .bind(draft.starts_at)
        .bind(draft.minutes)
        .bind(draft.capacity)
        .bind(draft.audience.as_str())
        .bind(by)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        tx.commit().await?;
        Ok(Event {
            id,
            draft,
            created_by: by.to_owned(),
            cancelled_at: None,
        })
    }

    /// Calls off an event that has not ended.
    pub async fn cancel_event(&self, id: EventId) -> Result<Event, Refusable<EventRefusal>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(Refusable::Refused(EventRefusal::UnknownEvent(id)))?;
        let mut event = event_from_row(&row)?;
        let at = self.now();
        if !event.is_current(at) {
            return Err(Refusable::Refused(EventRefusal::NotCurrent(id)));
        }
        sqlx::query("UPDATE events SET cancelled_at = ? WHERE id = ?")
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        event.cancelled_at = Some(at);
        Ok(event)
    }
}
