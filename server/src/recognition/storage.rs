//! The nation's standing on disk: stages, relations, censuses and footprints, each an
//! append-only history. A founder's change is checked against the stored history inside the
//! transaction that stores it, so two founders cannot both record the next stage.

use archipelago_shared::recognition::{
    Census, CensusRecord, FootprintRecord, RecognitionRefusal, RecognitionRequest, RecognizerKind,
    Relation, RelationChange, Stage, StageChange, Standing,
};
use archipelago_shared::world::World;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::storage::{Refusable, Storage, StorageError};

/// The columns a row of `stage_changes` is read from (never `SELECT *`: see `crate::storage`).
const STAGE_COLUMNS: &str = "stage, at, reason, source, recorded_by";

/// The columns a row of `relation_changes` is read from (never `SELECT *`: see `crate::storage`).
const RELATION_COLUMNS: &str = "recognizer, kind, relation, at, source, recorded_by";

/// The columns a row of `census_records` is read from (never `SELECT *`: see `crate::storage`).
const CENSUS_COLUMNS: &str = "protocity, at, population, residents, online_members, yearly_income, parcels_crowdfunded, source, recorded_by";

/// The columns a row of `footprints` is read from (never `SELECT *`: see `crate::storage`).
const FOOTPRINT_COLUMNS: &str = "protocity, at, area_m2";

fn parsed<T>(text: String, parse: impl Fn(&str) -> Option<T>) -> Result<T, StorageError> {
    parse(&text).ok_or(StorageError::Corrupt(format!("`{text}` in the standing")))
}

fn stage_from_row(row: &SqliteRow) -> Result<StageChange, StorageError> {
    Ok(StageChange {
        stage: parsed(row.try_get("stage")?, Stage::parse)?,
        at: row.try_get("at")?,
        reason: row.try_get("reason")?,
        source: row.try_get("source")?,
        recorded_by: row.try_get("recorded_by")?,
    })
}

fn relation_from_row(row: &SqliteRow) -> Result<RelationChange, StorageError> {
    Ok(RelationChange {
        recognizer: row.try_get("recognizer")?,
        kind: parsed(row.try_get("kind")?, RecognizerKind::parse)?,
        relation: parsed(row.try_get("relation")?, Relation::parse)?,
        at: row.try_get("at")?,
        source: row.try_get("source")?,
        recorded_by: row.try_get("recorded_by")?,
    })
}

fn census_from_row(row: &SqliteRow) -> Result<CensusRecord, StorageError> {
    Ok(CensusRecord {
        protocity: row.try_get("protocity")?,
        at: row.try_get("at")?,
        census: Census {
            population: row.try_get("population")?,
            residents: row.try_get("residents")?,
            online_members: row.try_get("online_members")?,
            yearly_income: row.try_get("yearly_income")?,
            parcels_crowdfunded: row.try_get("parcels_crowdfunded")?,
        },
        source: row.try_get("source")?,
        recorded_by: row.try_get("recorded_by")?,
    })
}

fn footprint_from_row(row: &SqliteRow) -> Result<FootprintRecord, StorageError> {
    Ok(FootprintRecord {
        protocity: row.try_get("protocity")?,
        at: row.try_get("at")?,
        area_m2: row.try_get("area_m2")?,
    })
}

/// Reads the whole standing, every list in date order (ties in the order recorded).
async fn read_standing(
    conn: &mut SqliteConnection,
    founded: i64,
) -> Result<Standing, StorageError> {
    let rows = sqlx::query(&format!(
        "SELECT {STAGE_COLUMNS} FROM stage_changes ORDER BY at, id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let stages = rows.iter().map(stage_from_row).collect::<Result<_, _>>()?;
    let rows = sqlx::query(&format!(
        "SELECT {RELATION_COLUMNS} FROM relation_changes ORDER BY at, id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let relations = rows
        .iter()
        .map(relation_from_row)
        .collect::<Result<_, _>>()?;
    let rows = sqlx::query(&format!(
        "SELECT {CENSUS_COLUMNS} FROM census_records ORDER BY at, id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let census = rows.iter().map(census_from_row).collect::<Result<_, _>>()?;
    let rows = sqlx::query(&format!(
        "SELECT {FOOTPRINT_COLUMNS} FROM footprints ORDER BY at, id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let footprints = rows
        .iter()
        .map(footprint_from_row)
        .collect::<Result<_, _>>()?;
    Ok(Standing {
        founded,
        stages,
        relations,
        census,
        footprints,
    })
}

async fn insert(
    conn: &mut SqliteConnection,
    request: &RecognitionRequest,
    by: &str,
    at: i64,
) -> Result<(), StorageError> {
    match request {
        RecognitionRequest::Stage(change) => {
            sqlx::query(
                "INSERT INTO stage_changes (stage, at, reason, source, recorded_by, recorded_at)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(change.stage.as_str())
            .bind(change.at)
            .bind(
                change
                    .reason
                    .as_deref()
                    .map(str::trim)
                    .filter(|r| !r.is_empty()),
            )
            .bind(change.source.trim())
            .bind(by)
            .bind(at)
            .execute(conn)
            .await?;
        }
        RecognitionRequest::Relation(change) => {
            sqlx::query(
                "INSERT INTO relation_changes (recognizer, kind, relation, at, source, recorded_by, recorded_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&change.recognizer)
            .bind(change.kind.as_str())
            .bind(change.relation.as_str())
            .bind(change.at)
            .bind(&change.source)
            .bind(by)
            .bind(at)
            .execute(conn)
            .await?;
        }
        RecognitionRequest::Census(record) => {
            let c = &record.census;
            sqlx::query(
                "INSERT INTO census_records (protocity, at, population, residents, online_members,
                 yearly_income, parcels_crowdfunded, source, recorded_by, recorded_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&record.protocity)
            .bind(record.at)
            .bind(c.population)
            .bind(c.residents)
            .bind(c.online_members)
            .bind(c.yearly_income)
            .bind(c.parcels_crowdfunded)
            .bind(&record.source)
            .bind(by)
            .bind(at)
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

async fn seeded(conn: &mut SqliteConnection, what: &str) -> Result<bool, StorageError> {
    Ok(sqlx::query("SELECT 1 FROM standing_seeds WHERE what = ?")
        .bind(what)
        .fetch_optional(&mut *conn)
        .await?
        .is_some())
}

async fn mark_seeded(conn: &mut SqliteConnection, what: &str, at: i64) -> Result<(), StorageError> {
    sqlx::query("INSERT INTO standing_seeds (what, at) VALUES (?, ?)")
        .bind(what)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

impl Storage {
    /// Stores the world data's stages, relations, censuses and footprint history once: the
    /// nation's at the first start, a protocity's when it first appears. Later edits to the files change nothing
    /// stored; founders record changes instead.
    pub async fn seed_standing(&self, world: &World) -> Result<(), StorageError> {
        let seed = world.seed_standing();
        let footprints = world.footprint_seeds();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let by = "world data";
        if !seeded(&mut tx, "nation").await? {
            for change in &seed.stages {
                let request = RecognitionRequest::Stage(change.clone()).normalized();
                insert(&mut tx, &request, by, self.now()).await?;
            }
            for change in &seed.relations {
                let request = RecognitionRequest::Relation(change.clone()).normalized();
                insert(&mut tx, &request, by, self.now()).await?;
            }
            mark_seeded(&mut tx, "nation", self.now()).await?;
        }
        for protocity in &world.protocities {
            let what = format!("protocity:{}", protocity.id);
            if seeded(&mut tx, &what).await? {
                continue;
            }
            for record in seed.census.iter().filter(|c| c.protocity == protocity.id) {
                let request = RecognitionRequest::Census(record.clone()).normalized();
                insert(&mut tx, &request, by, self.now()).await?;
            }
            for footprint in footprints.iter().filter(|f| f.protocity == protocity.id) {
                sqlx::query("INSERT INTO footprints (protocity, at, area_m2) VALUES (?, ?, ?)")
                    .bind(&footprint.protocity)
                    .bind(footprint.at)
                    .bind(footprint.area_m2)
                    .execute(&mut *tx)
                    .await?;
            }
            mark_seeded(&mut tx, &what, self.now()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The whole standing; `founded` is the nation's founding (from the world data).
    pub async fn standing(&self, founded: i64) -> Result<Standing, StorageError> {
        // One transaction: the four tables read as of one moment.
        let mut tx = self.pool.begin().await?;
        let standing = read_standing(&mut tx, founded).await?;
        tx.commit().await?;
        Ok(standing)
    }

    /// Checks a change against the stored history and stores it, in one transaction; returns
    /// the standing with it.
    pub async fn record_standing(
        &self,
        request: &RecognitionRequest,
        by: &str,
        founded: i64,
        protocities: &[&str],
    ) -> Result<Standing, Refusable<RecognitionRefusal>> {
        let request = request.clone().normalized().signed(by);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut standing = read_standing(&mut tx, founded).await?;
        standing
            .check(&request, protocities, self.now())
            .map_err(Refusable::Refused)?;
        insert(&mut tx, &request, by, self.now()).await?;
        tx.commit().await?;
        standing.apply(request);
        Ok(standing)
    }

    /// Appends each protocity's footprint (computed from the registry) that differs from its
    /// last stored one; returns how many were appended.
    pub async fn record_footprints(&self, areas: &[(String, i64)]) -> Result<usize, StorageError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let at = self.now();
        let mut appended = 0;
        for (protocity, area) in areas {
            let last: Option<i64> = sqlx::query_scalar(
                "SELECT area_m2 FROM footprints WHERE protocity = ? ORDER BY at DESC, id DESC LIMIT 1",
            )
            .bind(protocity)
            .fetch_optional(&mut *tx)
            .await?;
            if last == Some(*area) {
                continue;
            }
            sqlx::query("INSERT INTO footprints (protocity, at, area_m2) VALUES (?, ?, ?)")
                .bind(protocity)
                .bind(at)
                .bind(area)
                .execute(&mut *tx)
                .await?;
            appended += 1;
        }
        tx.commit().await?;
        Ok(appended)
    }
}
