//! The member registry in the database: one row per key, with its unique display name and
//! its role, and the history of role changes. Logins write it; the admin CLI and the world
//! data's founders change roles.

use archipelago_shared::identity::name_key;
use archipelago_shared::protocol::Role;
use archipelago_shared::world::FounderSeed;
use bevy::prelude::*;
use sqlx::Row;

use crate::storage::{Storage, StorageError};

/// The columns a row of `members` is read from (never `SELECT *`: see `crate::storage`).
const MEMBER_COLUMNS: &str = "public_key, name, name_key, role, first_seen, last_seen";

/// A member's `last_seen` is written at most this often (seconds).
pub const LAST_SEEN_STEP: i64 = 3600;
/// Visitors not seen for this many days are forgotten, and their names freed.
pub const VISITOR_RETENTION_DAYS: i64 = 90;

pub use archipelago_shared::identity::MIN_KEY_PREFIX;

/// A row of the member registry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Member {
    pub public_key: String,
    pub name: String,
    pub role: Role,
    pub first_seen: i64,
    pub last_seen: i64,
}

impl Storage {
    /// Gives rows from before names were unique their name key, the longest-known key first;
    /// a later row whose name someone already holds keeps no name key (its owner is asked for
    /// another name at the next login).
    pub(crate) async fn claim_old_names(&self) -> Result<(), StorageError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT public_key, name FROM members WHERE name_key IS NULL ORDER BY first_seen, public_key",
        )
        .fetch_all(&self.pool)
        .await?;
        for (key, name) in rows {
            let claimed = sqlx::query("UPDATE members SET name_key = ? WHERE public_key = ?")
                .bind(name_key(&name))
                .bind(&key)
                .execute(&self.pool)
                .await;
            match claimed {
                Ok(_) => {}
                Err(error) if is_unique_violation(&error) => {
                    warn!(
                        "member {key}: the name `{name}` is held by an older key; it will be asked for another"
                    )
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    pub(crate) fn member_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Member, StorageError> {
        let role: String = row.try_get("role")?;
        Ok(Member {
            public_key: row.try_get("public_key")?,
            name: row.try_get("name")?,
            role: Role::parse(&role).ok_or(StorageError::BadRole(role))?,
            first_seen: row.try_get("first_seen")?,
            last_seen: row.try_get("last_seen")?,
        })
    }

    /// Records a login: a new key joins the registry as a visitor; a known key keeps its role
    /// and takes the name it logged in with, unless another key holds that name
    /// ([`StorageError::NameTaken`]).
    pub async fn login(&self, public_key: &str, name: &str) -> Result<Member, StorageError> {
        let at = self.now();
        // Someone coming back under the name they hold, seen within the hour, costs a read,
        // not a write: a crowd of visitors arriving does not queue on the single writer.
        let known = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS} FROM members WHERE public_key = ?"
        ))
        .bind(public_key)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = known {
            let holds_name = row.try_get::<Option<String>, _>("name_key")?.is_some();
            let member = Self::member_from_row(&row)?;
            if holds_name && member.name == name && at - member.last_seen < LAST_SEEN_STEP {
                return Ok(member);
            }
        }
        let row = sqlx::query(
            "INSERT INTO members (public_key, name, name_key, role, first_seen, last_seen)
             VALUES (?, ?, ?, 'visitor', ?, ?)
             ON CONFLICT (public_key) DO UPDATE SET name = excluded.name,
               name_key = excluded.name_key, last_seen = excluded.last_seen
             RETURNING public_key, name, role, first_seen, last_seen",
        )
        .bind(public_key)
        .bind(name)
        .bind(name_key(name))
        .bind(at)
        .bind(at)
        .fetch_one(&self.pool)
        .await
        .map_err(|error| name_taken(error, name))?;
        Self::member_from_row(&row)
    }

    /// Forgets visitors not seen for [`VISITOR_RETENTION_DAYS`] who left nothing behind (no
    /// role change, parcel or pledge), so their names are free again; returns how many.
    pub async fn prune_visitors(&self, at: i64) -> Result<u64, StorageError> {
        let pruned = sqlx::query(
            "DELETE FROM members WHERE role = 'visitor' AND last_seen < ?
               AND public_key NOT IN (SELECT public_key FROM role_changes)
               AND public_key NOT IN (SELECT owner_key FROM parcels WHERE owner_key IS NOT NULL)
               AND public_key NOT IN (SELECT public_key FROM pledges)",
        )
        .bind(at - VISITOR_RETENTION_DAYS * 24 * 3600)
        .execute(&self.pool)
        .await?;
        // Their looks go with them.
        sqlx::query(
            "DELETE FROM appearances WHERE public_key NOT IN (SELECT public_key FROM members)",
        )
        .execute(&self.pool)
        .await?;
        Ok(pruned.rows_affected())
    }

    /// Makes sure every founder named in the world data is registered as a founder.
    pub async fn seed_founders(&self, founders: &[FounderSeed]) -> Result<(), StorageError> {
        for founder in founders {
            let key = founder.public_key.to_lowercase();
            let at = self.now();
            let mut tx = self.pool.begin().await?;
            let previous: Option<String> =
                sqlx::query_scalar("SELECT role FROM members WHERE public_key = ?")
                    .bind(&key)
                    .fetch_optional(&mut *tx)
                    .await?;
            // The world data names its founders: whoever else took a founder's name first
            // gives it up, and is asked for another at their next login. The founder's row
            // takes the name, whatever it logged in under before.
            let taken = sqlx::query(
                "UPDATE members SET name_key = NULL WHERE name_key = ? AND public_key <> ?",
            )
            .bind(name_key(&founder.name))
            .bind(&key)
            .execute(&mut *tx)
            .await?;
            if taken.rows_affected() > 0 {
                warn!(
                    "founder {}'s name was held by another key, which gives it up",
                    founder.name
                );
            }
            sqlx::query(
                "INSERT INTO members (public_key, name, name_key, role, first_seen, last_seen)
                 VALUES (?, ?, ?, 'founder', ?, ?)
                 ON CONFLICT (public_key) DO UPDATE SET role = 'founder', name = excluded.name,
                   name_key = excluded.name_key",
            )
            .bind(&key)
            .bind(&founder.name)
            .bind(name_key(&founder.name))
            .bind(at)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|error| name_taken(error, &founder.name))?;
            if previous.as_deref() != Some("founder") {
                sqlx::query("INSERT INTO role_changes (public_key, role, changed_by, at) VALUES (?, 'founder', 'world data', ?)")
                    .bind(&key)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// Finds one member by name, whole key or key prefix ([`members_named`]).
    pub async fn find(&self, who: &str) -> Result<Member, StorageError> {
        let mut conn = self.pool.acquire().await?;
        let rows = members_named(&mut conn, who).await?;
        match rows.as_slice() {
            [] => Err(StorageError::UnknownMember(who.to_owned())),
            [row] => Self::member_from_row(row),
            _ => Err(StorageError::AmbiguousMember(who.to_owned())),
        }
    }

    /// Gives a member a role and records who did it.
    pub async fn grant_role(
        &self,
        who: &str,
        role: Role,
        by: &str,
    ) -> Result<Member, StorageError> {
        let member = self.find(who).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE members SET role = ? WHERE public_key = ?")
            .bind(role.as_str())
            .bind(&member.public_key)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO role_changes (public_key, role, changed_by, at) VALUES (?, ?, ?, ?)",
        )
        .bind(&member.public_key)
        .bind(role.as_str())
        .bind(by)
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Member { role, ..member })
    }

    /// Registers every `(key, name)` with `role` in one transaction (existing members keep
    /// their name and take the role); returns how many rows were written.
    pub async fn enroll(
        &self,
        members: &[(String, String)],
        role: Role,
        by: &str,
    ) -> Result<usize, StorageError> {
        let at = self.now();
        let mut tx = self.pool.begin().await?;
        for (key, name) in members {
            sqlx::query(
                "INSERT INTO members (public_key, name, name_key, role, first_seen, last_seen)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (public_key) DO UPDATE SET role = excluded.role",
            )
            .bind(key)
            .bind(name)
            .bind(name_key(name))
            .bind(role.as_str())
            .bind(at)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|error| name_taken(error, name))?;
            sqlx::query(
                "INSERT INTO role_changes (public_key, role, changed_by, at) VALUES (?, ?, ?, ?)",
            )
            .bind(key)
            .bind(role.as_str())
            .bind(by)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(members.len())
    }

    /// The role changes recorded after `cursor`, oldest first, with the newest cursor. With
    /// no cursor, only the newest cursor (what happened before is in force at login anyway).
    pub async fn role_changes_since(
        &self,
        cursor: Option<i64>,
    ) -> Result<(Vec<(String, Role)>, i64), StorageError> {
        let newest: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM role_changes")
            .fetch_one(&self.pool)
            .await?;
        let Some(cursor) = cursor else {
            return Ok((Vec::new(), newest));
        };
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT public_key, role FROM role_changes WHERE id > ? AND id <= ? ORDER BY id",
        )
        .bind(cursor)
        .bind(newest)
        .fetch_all(&self.pool)
        .await?;
        let changes = rows
            .into_iter()
            .map(|(key, role)| Ok((key, Role::parse(&role).ok_or(StorageError::BadRole(role))?)))
            .collect::<Result<_, StorageError>>()?;
        Ok((changes, newest))
    }

    /// Every member, founders first, then by name.
    pub async fn members(&self) -> Result<Vec<Member>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS} FROM members ORDER BY CASE role WHEN 'founder' THEN 0 WHEN 'resident' THEN 1
             WHEN 'member' THEN 2 ELSE 3 END, name"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::member_from_row).collect()
    }
}

/// The rows of the members `who` may mean: those whose name reads the same
/// ([`name_key`]), and, when `who` is {MIN_KEY_PREFIX} to 64 hex digits, those whose key
/// starts with it. More than one row means the caller must say more.
pub(crate) async fn members_named(
    conn: &mut sqlx::SqliteConnection,
    who: &str,
) -> Result<Vec<sqlx::sqlite::SqliteRow>, sqlx::Error> {
    let who = who.trim();
    let prefix = who.to_ascii_lowercase();
    let is_prefix = (MIN_KEY_PREFIX..=64).contains(&prefix.len())
        && prefix.bytes().all(|b| b.is_ascii_hexdigit());
    sqlx::query(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE name_key = ?1
           OR (?2 <> '' AND substr(public_key, 1, length(?2)) = ?2)"
    ))
    .bind(name_key(who))
    .bind(if is_prefix { prefix.as_str() } else { "" })
    .fetch_all(&mut *conn)
    .await
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A write that broke the one-name-one-key rule says whose name it was.
fn name_taken(error: sqlx::Error, name: &str) -> StorageError {
    if is_unique_violation(&error) {
        StorageError::NameTaken(name.to_owned())
    } else {
        error.into()
    }
}
