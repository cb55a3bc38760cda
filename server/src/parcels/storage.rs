//! The land registry's tables: parcels, their history and pledges. A change is checked by the
//! shared rule ([`apply_change`]) inside the same transaction that stores it, against the
//! version the sender saw, so two founders editing one parcel at once cannot both win and the
//! history never forks.

use archipelago_shared::parcels::{
    Actor, Change, Owner, OwnerClaim, ParcelChange, ParcelInfo, ParcelRefusal, ParcelRequest,
    ParcelStatus, StatusChoice, Title, Zoning, apply_change, may_assign,
};
use archipelago_shared::protocol::Role;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::storage::Storage;

/// The columns a row of `parcels` is read from (never `SELECT *`: see `crate::storage`).
const PARCEL_COLUMNS: &str = "id, protocity, owner_kind, owner_key, owner_name, status, amount, raised, zoning, residency, area_m2, jurisdiction, description, version, updated_at, address, latitude, longitude, deed_hash";

/// Why a parcel change was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ParcelError {
    #[error(transparent)]
    Refused(#[from] ParcelRefusal),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored parcel `{parcel}` is unreadable: {problem}")]
    Corrupt { parcel: String, problem: String },
}

impl ParcelError {
    /// What the person who asked is told: the refusal, or that the registry failed (the
    /// details go to the log, not to the client).
    pub fn for_client(&self) -> ParcelRefusal {
        match self {
            ParcelError::Refused(refusal) => refusal.clone(),
            _ => ParcelRefusal::Unavailable,
        }
    }
}

/// What seeding found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Parcels the registry did not hold yet and now does.
    pub added: usize,
    /// Parcels the registry holds that the world data no longer names. Kept, never deleted.
    pub orphans: Vec<String>,
}

fn corrupt(parcel: &str, problem: impl Into<String>) -> ParcelError {
    ParcelError::Corrupt {
        parcel: parcel.to_owned(),
        problem: problem.into(),
    }
}

fn parcel_from_row(row: &SqliteRow) -> Result<ParcelInfo, ParcelError> {
    let id: String = row.try_get("id")?;
    let owner_kind: String = row.try_get("owner_kind")?;
    let owner_name: Option<String> = row.try_get("owner_name")?;
    let owner = match (owner_kind.as_str(), owner_name) {
        ("unowned", _) => Owner::Unowned,
        ("member", Some(name)) => Owner::Member {
            key: row
                .try_get::<Option<String>, _>("owner_key")?
                .ok_or_else(|| corrupt(&id, "a member owner without a key"))?,
            name,
        },
        ("group", Some(name)) => Owner::Group(name),
        (kind, _) => return Err(corrupt(&id, format!("owner kind `{kind}`"))),
    };
    let status: String = row.try_get("status")?;
    let amount: Option<i64> = row.try_get("amount")?;
    let raised: i64 = row.try_get("raised")?;
    let amount = |what: &str| {
        amount
            .and_then(|a| u64::try_from(a).ok())
            .ok_or_else(|| corrupt(&id, format!("{what} without an amount")))
    };
    let status = match status.as_str() {
        "owned" => ParcelStatus::Owned,
        "for-sale" => ParcelStatus::ForSale {
            price: amount("for sale")?,
        },
        "crowdfunding" => ParcelStatus::Crowdfunding {
            goal: amount("crowdfunding")?,
            raised: u64::try_from(raised).unwrap_or(0),
        },
        "reserved" => ParcelStatus::Reserved,
        other => return Err(corrupt(&id, format!("status `{other}`"))),
    };
    let zoning: String = row.try_get("zoning")?;
    let residency: String = row.try_get("residency")?;
    Ok(ParcelInfo {
        protocity: row.try_get("protocity")?,
        owner,
        area_m2: row.try_get("area_m2")?,
        zoning: Zoning::parse(&zoning).ok_or_else(|| corrupt(&id, format!("zoning `{zoning}`")))?,
        status,
        residency: Role::parse(&residency)
            .ok_or_else(|| corrupt(&id, format!("residency `{residency}`")))?,
        jurisdiction: row.try_get("jurisdiction")?,
        description: row.try_get("description")?,
        version: row.try_get("version")?,
        updated_at: row.try_get("updated_at")?,
        title: Some(Title {
            address: row.try_get("address")?,
            latitude: row.try_get("latitude")?,
            longitude: row.try_get("longitude")?,
            deed_hash: row.try_get("deed_hash")?,
        }),
        id,
    })
}

/// The owner as the three owner columns.
fn owner_columns(owner: &Owner) -> (&'static str, Option<&str>, Option<&str>) {
    match owner {
        Owner::Unowned => ("unowned", None, None),
        Owner::Member { key, name } => ("member", Some(key), Some(name)),
        Owner::Group(name) => ("group", None, Some(name)),
    }
}

/// The status as the three status columns.
fn status_columns(status: &ParcelStatus) -> (&'static str, Option<i64>, i64) {
    let dollars = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    match *status {
        ParcelStatus::Owned => ("owned", None, 0),
        ParcelStatus::ForSale { price } => ("for-sale", Some(dollars(price)), 0),
        ParcelStatus::Crowdfunding { goal, raised } => {
            ("crowdfunding", Some(dollars(goal)), dollars(raised))
        }
        ParcelStatus::Reserved => ("reserved", None, 0),
    }
}

async fn load(conn: &mut SqliteConnection, id: &str) -> Result<ParcelInfo, ParcelError> {
    let row = sqlx::query(&format!(
        "SELECT {PARCEL_COLUMNS} FROM parcels WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ParcelRefusal::UnknownParcel(id.to_owned()))?;
    parcel_from_row(&row)
}

/// Finds the member a founder named, by full key or exact name.
async fn resolve_member(conn: &mut SqliteConnection, who: &str) -> Result<Owner, ParcelError> {
    let rows = crate::members::members_named(conn, who).await?;
    match rows.as_slice() {
        [] => Err(ParcelRefusal::UnknownMember(who.to_owned()).into()),
        [row] => Ok(Owner::Member {
            key: row.try_get("public_key")?,
            name: row.try_get("name")?,
        }),
        _ => Err(ParcelRefusal::AmbiguousMember(who.to_owned()).into()),
    }
}

impl Storage {
    /// Adds every parcel of the world data the registry does not hold yet, with a first
    /// history line. Parcels it already holds are left exactly as stored.
    pub async fn seed_parcels(&self, seeds: &[ParcelInfo]) -> Result<SeedReport, ParcelError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut report = SeedReport::default();
        let at = self.now();
        for seed in seeds {
            let (owner_kind, owner_key, owner_name) = owner_columns(&seed.owner);
            let (status, amount, raised) = status_columns(&seed.status);
            let title = seed
                .title
                .as_ref()
                .ok_or_else(|| corrupt(&seed.id, "no title"))?;
            let inserted = sqlx::query(
                "INSERT OR IGNORE INTO parcels (id, protocity, owner_kind, owner_key, owner_name,
                   area_m2, zoning, status, amount, raised, residency, jurisdiction, address,
                   latitude, longitude, deed_hash, description, version, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
            )
            .bind(&seed.id)
            .bind(&seed.protocity)
            .bind(owner_kind)
            .bind(owner_key)
            .bind(owner_name)
            .bind(seed.area_m2)
            .bind(seed.zoning.as_str())
            .bind(status)
            .bind(amount)
            .bind(raised)
            .bind(seed.residency.as_str())
            .bind(&seed.jurisdiction)
            .bind(&title.address)
            .bind(title.latitude)
            .bind(title.longitude)
            .bind(&title.deed_hash)
            .bind(&seed.description)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if inserted {
                sqlx::query(
                    "INSERT INTO parcel_history (parcel_id, version, by_name, what, at)
                     VALUES (?, 1, 'world data', ?, ?)",
                )
                .bind(&seed.id)
                .bind(format!(
                    "recorded: {}, held by {}",
                    seed.status.display(),
                    seed.owner.display()
                ))
                .bind(at)
                .execute(&mut *tx)
                .await?;
                report.added += 1;
            }
        }
        let stored: Vec<String> = sqlx::query_scalar("SELECT id FROM parcels ORDER BY id")
            .fetch_all(&mut *tx)
            .await?;
        report.orphans = stored
            .into_iter()
            .filter(|id| !seeds.iter().any(|s| &s.id == id))
            .collect();
        tx.commit().await?;
        Ok(report)
    }

    /// Every parcel, by id.
    pub async fn parcels(&self) -> Result<Vec<ParcelInfo>, ParcelError> {
        let rows = sqlx::query(&format!("SELECT {PARCEL_COLUMNS} FROM parcels ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(parcel_from_row).collect()
    }

    /// One parcel.
    pub async fn parcel(&self, id: &str) -> Result<ParcelInfo, ParcelError> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, id).await
    }

    /// A parcel's newest `newest` history lines (all with `None`), oldest first.
    pub async fn parcel_history(
        &self,
        id: &str,
        newest: Option<u32>,
    ) -> Result<Vec<ParcelChange>, ParcelError> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, id).await?;
        let rows = sqlx::query(
            "SELECT id, version, at, by_name, what FROM (SELECT id, version, at, by_name, what FROM parcel_history
               WHERE parcel_id = ? ORDER BY id DESC LIMIT ?)
             ORDER BY id",
        )
        .bind(id)
        .bind(newest.map_or(-1, i64::from))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ParcelChange {
                    version: row.try_get("version")?,
                    at: row.try_get("at")?,
                    by: row.try_get("by_name")?,
                    what: row.try_get("what")?,
                })
            })
            .collect()
    }

    /// The newest history row's id: a cursor for [`Self::parcels_changed_since`].
    pub async fn parcel_cursor(&self) -> Result<i64, ParcelError> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM parcel_history")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Parcels changed after `cursor` (by anyone: this server or the admin CLI), and the
    /// new cursor.
    pub async fn parcels_changed_since(
        &self,
        cursor: i64,
    ) -> Result<(Vec<ParcelInfo>, i64), ParcelError> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT parcel_id, MAX(id) AS newest FROM parcel_history WHERE id > ?
             GROUP BY parcel_id",
        )
        .bind(cursor)
        .fetch_all(&mut *conn)
        .await?;
        let mut changed = Vec::with_capacity(rows.len());
        let mut newest = cursor;
        for row in &rows {
            let id: String = row.try_get("parcel_id")?;
            newest = newest.max(row.try_get("newest")?);
            changed.push(load(&mut conn, &id).await?);
        }
        Ok((changed, newest))
    }

    /// Applies one change request for `actor`, checked against the rules, the actor's role
    /// and the version they saw, and records it in the history. All or nothing.
    pub async fn change_parcel(
        &self,
        actor: &Actor,
        request: &ParcelRequest,
    ) -> Result<(ParcelInfo, String), ParcelError> {
        let id = request.parcel();
        // IMMEDIATE takes the write lock now, so nobody changes the row between our read and
        // our write.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let record = load(&mut tx, id).await?;
        // An edit made against an older version is refused if someone edited the parcel
        // since. Members' pledges in between are no conflict for an edit that keeps what was
        // raised (a description, an owner, a crowdfunding goal): it applies to the record as
        // it is now, pledges included. One that would end the crowdfunding still conflicts.
        if let Some(seen) = request.expected_version()
            && seen != record.version
        {
            let keeps_pledges = matches!(
                request,
                ParcelRequest::Describe { .. }
                    | ParcelRequest::Assign { .. }
                    | ParcelRequest::SetStatus {
                        status: StatusChoice::Crowdfunding { .. },
                        ..
                    }
            );
            let edited_since: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM parcel_history
                   WHERE parcel_id = ? AND version > ? AND (pledge = 0 OR NOT ?))",
            )
            .bind(id)
            .bind(seen)
            .bind(keeps_pledges)
            .fetch_one(&mut *tx)
            .await?;
            if edited_since || seen > record.version {
                return Err(ParcelRefusal::Conflict {
                    parcel: id.to_owned(),
                    seen,
                    now: record.version,
                }
                .into());
            }
        }
        let change = match request {
            ParcelRequest::Assign { owner, .. } => {
                // Say "founders only" before revealing whether a member exists.
                may_assign(actor)?;
                Change::Assign(match owner {
                    OwnerClaim::Unowned => Owner::Unowned,
                    OwnerClaim::Member(who) => resolve_member(&mut tx, who).await?,
                    OwnerClaim::Group(name) => Owner::Group(name.trim().to_owned()),
                })
            }
            ParcelRequest::SetStatus { status, .. } => Change::SetStatus(*status),
            ParcelRequest::Describe { text, .. } => Change::Describe(text.clone()),
            ParcelRequest::Pledge { amount, .. } => Change::Pledge(*amount),
            ParcelRequest::History { .. } => return Err(ParcelRefusal::NoChange.into()),
        };
        let (mut next, what) = apply_change(&record, actor, &change)?;
        next.version = record.version + 1;
        next.updated_at = self.now();
        let (owner_kind, owner_key, owner_name) = owner_columns(&next.owner);
        let (status, amount, raised) = status_columns(&next.status);
        sqlx::query(
            "UPDATE parcels SET owner_kind = ?, owner_key = ?, owner_name = ?, status = ?,
               amount = ?, raised = ?, description = ?, version = ?, updated_at = ?
             WHERE id = ? AND version = ?",
        )
        .bind(owner_kind)
        .bind(owner_key)
        .bind(owner_name)
        .bind(status)
        .bind(amount)
        .bind(raised)
        .bind(&next.description)
        .bind(next.version)
        .bind(next.updated_at)
        .bind(id)
        .bind(record.version)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO parcel_history (parcel_id, version, by_name, by_key, what, at, pledge)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(next.version)
        .bind(&actor.name)
        .bind(&actor.key)
        .bind(&what)
        .bind(next.updated_at)
        .bind(matches!(change, Change::Pledge(_)))
        .execute(&mut *tx)
        .await?;
        if let Change::Pledge(_) = change {
            // What the rule took of the offer: the goal may have needed less.
            let before = match record.status {
                ParcelStatus::Crowdfunding { raised, .. } => raised,
                _ => 0,
            };
            let amount = match next.status {
                ParcelStatus::Crowdfunding { raised, .. } => raised.saturating_sub(before),
                _ => 0,
            };
            sqlx::query(
                "INSERT INTO pledges (parcel_id, public_key, name, amount, at)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(actor.key.as_deref().unwrap_or("admin"))
            .bind(&actor.name)
            .bind(i64::try_from(amount).unwrap_or(i64::MAX))
            .bind(next.updated_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok((next, what))
    }

    /// Sum of pledges recorded for a parcel, and how many there were.
    pub async fn pledges(&self, id: &str) -> Result<(u64, u32), ParcelError> {
        let row =
            sqlx::query("SELECT COALESCE(SUM(amount), 0) AS total, COUNT(*) AS n FROM pledges WHERE parcel_id = ?")
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
        let total: i64 = row.try_get("total")?;
        Ok((u64::try_from(total).unwrap_or(0), row.try_get("n")?))
    }
}
