//! Assembly tables: sessions and their minutes, sanctions (mutes and bans) and the moderation
//! log. Minutes are appended in order by one writer; a sanction and its log line are stored
//! in one transaction before anyone is told of them.

use archipelago_shared::assembly::{
    AgendaItem, AssemblyRefusal, MinuteEntry, ModerationAction, Person, SanctionKind, SanctionTerms,
    SessionId,
};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use archipelago_shared::protocol::Role;

use crate::storage::{Refusable, Storage, StorageError};

/// The columns a row of `sessions` is read from (never `SELECT *`: see `crate::storage`).
const SESSION_COLUMNS: &str = "id, protocity, title, agenda, chair_key, chair_name, opened_by, opened_at, closed_at, capacity";

/// The columns a row of `sanctions` is read from (never `SELECT *`: see `crate::storage`).
const SANCTION_COLUMNS: &str = "kind, subject_key, subject_name, protocity, until, reason, by_role";

/// The columns a row of `moderation_log` is read from (never `SELECT *`: see `crate::storage`).
const LOG_COLUMNS: &str =
    "id, at, actor_name, action, subject_name, subject_key, protocity, until, reason";

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionRecord {
    pub id: SessionId,
    pub protocity: String,
    pub title: String,
    pub agenda: Vec<AgendaItem>,
    pub chair_key: String,
    pub chair_name: String,
    pub opened_by: String,
    pub opened_at: i64,
    pub closed_at: Option<i64>,
    pub capacity: u32,
}

/// A line of minutes to append.
#[derive(Debug, Clone)]
pub struct MinuteLine {
    pub session: SessionId,
    pub seq: i64,
    pub entry: MinuteEntry,
    pub who_key: Option<String>,
}

/// Someone who was in the hall during a session, from the minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attendee {
    pub name: String,
    pub key: String,
    /// When they first came in and last went out (none if still there at the close).
    pub first_joined: i64,
    pub last_left: Option<i64>,
}

/// A session's minutes: the record, who attended, and every entry in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Minutes {
    pub session: SessionRecord,
    pub attendees: Vec<Attendee>,
    pub entries: Vec<MinuteEntry>,
}

/// A mute or ban in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sanction {
    pub kind: SanctionKind,
    pub subject_key: String,
    pub subject_name: String,
    /// Where it holds: a ban's hall, a chair's mute's hall; `None` for a founder's mute,
    /// which holds everywhere.
    pub protocity: Option<String>,
    /// Unix seconds; `None` until lifted.
    pub until: Option<i64>,
    pub reason: String,
    /// The role of whoever set it: nobody of a lower role lifts or shortens it.
    pub by_role: Role,
}

impl Sanction {
    pub fn in_force(&self, at: i64) -> bool {
        self.until.is_none_or(|until| until > at)
    }

    /// When it ends and why, as the person it holds is told.
    pub fn terms(&self) -> SanctionTerms {
        SanctionTerms {
            until: self.until,
            reason: self.reason.clone(),
        }
    }
}

/// A moderation request, checked for roles and shape by the simulation.
#[derive(Debug, Clone)]
pub struct Moderation {
    pub actor_name: String,
    pub actor_key: Option<String>,
    pub actor_role: Role,
    pub action: ModerationAction,
    pub subject_name: String,
    pub subject_key: String,
    pub protocity: String,
    pub reason: String,
}

/// A line of the moderation log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub subject_key: String,
    pub protocity: String,
    pub until: Option<i64>,
    pub reason: String,
    /// For a mute just set: whether it holds only in the hall (a chair's) or everywhere.
    /// Not kept in the log itself.
    #[serde(skip)]
    pub hall_only: bool,
}

impl From<&LogLine> for archipelago_shared::assembly::ModerationRecord {
    fn from(line: &LogLine) -> Self {
        Self {
            at: line.at,
            actor: line.actor.clone(),
            action: line.action.clone(),
            subject: line.subject.clone(),
            protocity: line.protocity.clone(),
            until: line.until,
            reason: line.reason.clone(),
            hall_only: line.hall_only,
        }
    }
}

fn session_from_row(row: &SqliteRow) -> Result<SessionRecord, StorageError> {
    let agenda: String = row.try_get("agenda")?;
    Ok(SessionRecord {
        id: row.try_get("id")?,
        protocity: row.try_get("protocity")?,
        title: row.try_get("title")?,
        agenda: serde_json::from_str(&agenda)
            .map_err(|e| StorageError::Corrupt(format!("agenda of a session: {e}")))?,
        chair_key: row.try_get("chair_key")?,
        chair_name: row.try_get("chair_name")?,
        opened_by: row.try_get("opened_by")?,
        opened_at: row.try_get("opened_at")?,
        closed_at: row.try_get("closed_at")?,
        capacity: row.try_get("capacity")?,
    })
}

fn sanction_from_row(row: &SqliteRow) -> Result<Sanction, StorageError> {
    let kind: String = row.try_get("kind")?;
    Ok(Sanction {
        kind: if kind == "ban" {
            SanctionKind::Ban
        } else {
            SanctionKind::Mute
        },
        subject_key: row.try_get("subject_key")?,
        subject_name: row.try_get("subject_name")?,
        protocity: row.try_get("protocity")?,
        until: row.try_get("until")?,
        reason: row.try_get("reason")?,
        by_role: Role::parse(&row.try_get::<String, _>("by_role")?).unwrap_or(Role::Founder),
    })
}

impl Storage {
    /// Records a new session; returns it with its number.
    pub async fn open_session(
        &self,
        mut record: SessionRecord,
    ) -> Result<SessionRecord, StorageError> {
        let agenda = serde_json::to_string(&record.agenda)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        let id = sqlx::query(
            "INSERT INTO sessions (protocity, title, agenda, chair_key, chair_name, opened_by, opened_at, capacity)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&record.protocity)
        .bind(&record.title)
        .bind(agenda)
        .bind(&record.chair_key)
        .bind(&record.chair_name)
        .bind(&record.opened_by)
        .bind(record.opened_at)
        .bind(record.capacity)
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        record.id = id;
        Ok(record)
    }

    /// Appends lines of minutes, and closes the sessions named in `closed`, in one commit.
    pub async fn write_minutes(
        &self,
        lines: &[MinuteLine],
        closed: &[(SessionId, i64)],
    ) -> Result<(), StorageError> {
        let mut tx = self.pool.begin().await?;
        for line in lines {
            sqlx::query(
                "INSERT INTO session_minutes (session_id, seq, at, kind, who, who_key, detail)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(line.session)
            .bind(line.seq)
            .bind(line.entry.at)
            .bind(&line.entry.kind)
            .bind(&line.entry.who)
            .bind(&line.who_key)
            .bind(&line.entry.detail)
            .execute(&mut *tx)
            .await?;
        }
        for (id, at) in closed {
            sqlx::query("UPDATE sessions SET closed_at = ? WHERE id = ? AND closed_at IS NULL")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Closes sessions a stopped server left open, with a last line in their minutes;
    /// returns how many.
    pub async fn close_abandoned_sessions(&self) -> Result<usize, StorageError> {
        let at = self.now();
        let mut tx = self.pool.begin().await?;
        let open: Vec<SessionId> =
            sqlx::query_scalar("SELECT id FROM sessions WHERE closed_at IS NULL")
                .fetch_all(&mut *tx)
                .await?;
        for id in &open {
            let seq: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM session_minutes WHERE session_id = ?",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO session_minutes (session_id, seq, at, kind, who, who_key, detail)
                 VALUES (?, ?, ?, 'closed', NULL, NULL, 'the server stopped during the session')",
            )
            .bind(id)
            .bind(seq)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE sessions SET closed_at = ? WHERE id = ?")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(open.len())
    }

    /// Every session, newest first.
    pub async fn sessions(&self) -> Result<Vec<SessionRecord>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions ORDER BY id DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(session_from_row).collect()
    }

    /// A session's minutes, in order, with its attendance worked out from them.
    pub async fn minutes(&self, id: SessionId) -> Result<Minutes, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::UnknownSession(id))?;
        let session = session_from_row(&row)?;
        let rows = sqlx::query(
            "SELECT at, kind, who, who_key, detail FROM session_minutes WHERE session_id = ? ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut entries = Vec::with_capacity(rows.len());
        let mut attendees: Vec<Attendee> = Vec::new();
        for row in &rows {
            let entry = MinuteEntry {
                at: row.try_get("at")?,
                kind: row.try_get("kind")?,
                who: row.try_get("who")?,
                detail: row.try_get("detail")?,
            };
            let key: Option<String> = row.try_get("who_key")?;
            if let Some(key) = key {
                let name = entry.who.clone().unwrap_or_default();
                match entry.kind.as_str() {
                    "joined" => match attendees.iter_mut().find(|a| a.key == key) {
                        Some(known) => known.last_left = None,
                        None => attendees.push(Attendee {
                            name,
                            key,
                            first_joined: entry.at,
                            last_left: None,
                        }),
                    },
                    "left" => {
                        if let Some(known) = attendees.iter_mut().find(|a| a.key == key) {
                            known.last_left = Some(entry.at);
                        }
                    }
                    _ => {}
                }
            }
            entries.push(entry);
        }
        Ok(Minutes {
            session,
            attendees,
            entries,
        })
    }

    /// Stores a moderation action and its log line in one transaction. Mutes and bans
    /// replace the person's earlier one of the same kind (and hall); lifting one that is not
    /// in force is refused.
    /// Stores a moderation action and its log line, all or nothing; returns the line and
    /// the subject's sanctions in force afterwards. A ban holds in its hall, a founder's
    /// mute everywhere, a chair's mute in their hall; nobody lifts or shortens (replaces) a
    /// sanction set by a higher role.
    pub async fn moderate(
        &self,
        moderation: &Moderation,
    ) -> Result<(LogLine, Vec<Sanction>), Refusable<AssemblyRefusal>> {
        let at = self.now();
        let until = moderation
            .action
            .minutes()
            .map(|minutes| at + i64::from(minutes) * 60);
        let kind = match moderation.action {
            ModerationAction::Mute { .. } | ModerationAction::Unmute => Some(SanctionKind::Mute),
            ModerationAction::Ban { .. } | ModerationAction::Unban => Some(SanctionKind::Ban),
            ModerationAction::Remove => None,
        };
        let lifting = matches!(
            moderation.action,
            ModerationAction::Unmute | ModerationAction::Unban
        );
        let founder = moderation.actor_role == Role::Founder;
        let hall = Some(moderation.protocity.as_str());
        // The scopes the action touches (twice the same for one): what it sets is the first.
        // Lifting a mute touches the hall's and the one that holds everywhere (a founder's,
        // which a chair is then told they may not lift).
        let scopes = match (kind, founder, lifting) {
            (Some(SanctionKind::Mute), _, true) => (None, hall),
            (Some(SanctionKind::Mute), true, false) => (None, None),
            _ => (hall, hall),
        };
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(kind) = kind {
            const TOUCHED: &str =
                "subject_key = ? AND kind = ? AND (protocity IS ? OR protocity IS ?)
                 AND lifted_at IS NULL AND (until IS NULL OR until > ?)";
            let ranks: Vec<String> =
                sqlx::query_scalar(&format!("SELECT by_role FROM sanctions WHERE {TOUCHED}"))
                    .bind(&moderation.subject_key)
                    .bind(kind.as_str())
                    .bind(scopes.0)
                    .bind(scopes.1)
                    .bind(at)
                    .fetch_all(&mut *tx)
                    .await?;
            if let Some(by) = ranks
                .iter()
                .filter_map(|r| Role::parse(r))
                .filter(|r| *r > moderation.actor_role)
                .max()
            {
                return Err(Refusable::Refused(AssemblyRefusal::Outranked {
                    name: moderation.subject_name.clone(),
                    kind,
                    by,
                }));
            }
            let lifted = sqlx::query(&format!(
                "UPDATE sanctions SET lifted_at = ?, lifted_by = ? WHERE {TOUCHED}"
            ))
            .bind(at)
            .bind(&moderation.actor_name)
            .bind(&moderation.subject_key)
            .bind(kind.as_str())
            .bind(scopes.0)
            .bind(scopes.1)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if lifting && lifted == 0 {
                return Err(Refusable::Refused(AssemblyRefusal::NotSanctioned {
                    name: moderation.subject_name.clone(),
                    kind,
                }));
            }
            if !lifting {
                sqlx::query(
                    "INSERT INTO sanctions (kind, subject_key, subject_name, protocity, until, reason, by_name, by_role, at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(kind.as_str())
                .bind(&moderation.subject_key)
                .bind(&moderation.subject_name)
                .bind(scopes.0)
                .bind(until)
                .bind(&moderation.reason)
                .bind(&moderation.actor_name)
                .bind(moderation.actor_role.as_str())
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query(
            "INSERT INTO moderation_log (at, actor_name, actor_key, action, subject_name, subject_key, protocity, until, reason)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(at)
        .bind(&moderation.actor_name)
        .bind(&moderation.actor_key)
        .bind(moderation.action.as_str())
        .bind(&moderation.subject_name)
        .bind(&moderation.subject_key)
        .bind(&moderation.protocity)
        .bind(until)
        .bind(&moderation.reason)
        .execute(&mut *tx)
        .await?;
        let in_force = sqlx::query(&format!(
            "SELECT {SANCTION_COLUMNS} FROM sanctions WHERE subject_key = ? AND lifted_at IS NULL
               AND (until IS NULL OR until > ?) ORDER BY id"
        ))
        .bind(&moderation.subject_key)
        .bind(at)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(sanction_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await?;
        let line = LogLine {
            at,
            actor: moderation.actor_name.clone(),
            action: moderation.action.as_str().to_owned(),
            subject: moderation.subject_name.clone(),
            subject_key: moderation.subject_key.clone(),
            protocity: moderation.protocity.clone(),
            until,
            reason: moderation.reason.clone(),
            hall_only: kind == Some(SanctionKind::Mute) && !founder,
        };
        Ok((line, in_force))
    }

    /// Mutes and bans in force now.
    pub async fn sanctions_in_force(&self) -> Result<Vec<Sanction>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {SANCTION_COLUMNS} FROM sanctions WHERE lifted_at IS NULL AND (until IS NULL OR until > ?) ORDER BY id"
        ))
        .bind(self.now())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(sanction_from_row).collect()
    }

    /// Logs a microphone cut: the chair took the floor back from a speaker, whose voice the
    /// server stopped forwarding to the hall at once.
    pub async fn log_mic_cut(
        &self,
        actor: &Person,
        subject: &Person,
        protocity: &str,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO moderation_log (at, actor_name, actor_key, action, subject_name, subject_key, protocity, until, reason)
             VALUES (?, ?, ?, 'cut', ?, ?, ?, NULL, 'the floor was taken back')",
        )
        .bind(self.now())
        .bind(&actor.name)
        .bind(&actor.key)
        .bind(&subject.name)
        .bind(&subject.key)
        .bind(protocity)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest `newest` lines of the moderation log (all of it with `None`), oldest first.
    pub async fn moderation_log(&self, newest: Option<u32>) -> Result<Vec<LogLine>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {LOG_COLUMNS} FROM (SELECT {LOG_COLUMNS} FROM moderation_log ORDER BY id DESC LIMIT ?) ORDER BY id",
        ))
        .bind(newest.map_or(-1, i64::from))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(LogLine {
                    at: row.try_get("at")?,
                    actor: row.try_get("actor_name")?,
                    action: row.try_get("action")?,
                    subject: row.try_get("subject_name")?,
                    subject_key: row.try_get("subject_key")?,
                    protocity: row.try_get("protocity")?,
                    until: row.try_get("until")?,
                    reason: row.try_get("reason")?,
                    hall_only: false,
                })
            })
            .collect()
    }
}
