//! The server's one door to its database: an embedded SQLite file in the data directory,
//! reached through sqlx so the same queries can later target PostgreSQL. Schema changes are
//! numbered migrations under `server/migrations/`.
//!
//! Simulation systems never wait on it: they hand work to [`StorageHandle`], which runs it on
//! its own runtime and posts the outcome back as a [`StorageReply`].

pub mod assembly;
pub mod events;
pub mod governance;
pub mod parcels;
pub mod recognition;

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use archipelago_shared::governance::tally::Choice;
use archipelago_shared::governance::{BallotReceipt, Proposal, ProposalDraft, ProposalId};
use archipelago_shared::identity::name_key;
use archipelago_shared::parcels::{Actor, ParcelChange, ParcelInfo, ParcelRequest};
use archipelago_shared::protocol::Role;
use archipelago_shared::world::FounderSeed;
use bevy::prelude::*;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

/// Numbered migrations, applied in order, each once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_members.sql")),
    (2, include_str!("../../migrations/0002_parcels.sql")),
    (3, include_str!("../../migrations/0003_governance.sql")),
    (4, include_str!("../../migrations/0004_assemblies.sql")),
    (5, include_str!("../../migrations/0005_recognition.sql")),
    (6, include_str!("../../migrations/0006_unique_names.sql")),
    (7, include_str!("../../migrations/0007_sanction_scope.sql")),
    (8, include_str!("../../migrations/0008_deployment.sql")),
    (9, include_str!("../../migrations/0009_pledge_lines.sql")),
];

/// A member's `last_seen` is written at most this often (seconds).
pub const LAST_SEEN_STEP: i64 = 3600;
/// Visitors not seen for this many days are forgotten, and their names freed.
pub const VISITOR_RETENTION_DAYS: i64 = 90;

/// The fewest hex digits of a key that name a member (8 bytes: too many to grind).
pub const MIN_KEY_PREFIX: usize = 16;

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "archipelago.db";

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{BUSY}")]
    Busy,
    #[error(
        "no member matches `{0}` (give a name, a whole key, or its first {MIN_KEY_PREFIX} or more hex digits)"
    )]
    UnknownMember(String),
    #[error("`{0}` matches several members; give more of the public key")]
    AmbiguousMember(String),
    #[error("the name `{0}` belongs to someone else here; choose another name")]
    NameTaken(String),
    #[error("stored role `{0}` is not a role")]
    BadRole(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("cannot open the database file {0}")]
    File(String),
    #[error("there is no session {0}")]
    UnknownSession(i64),
    #[error("{name} has no {kind} in force to lift")]
    NotSanctioned { name: String, kind: &'static str },
    #[error("a {by} set {name}'s {kind}; only a {by} may lift or shorten it")]
    Outranked {
        name: String,
        kind: &'static str,
        by: Role,
    },
    #[error(transparent)]
    Event(#[from] archipelago_shared::events::EventRefusal),
    #[error(transparent)]
    Recognition(#[from] archipelago_shared::recognition::RecognitionRefusal),
}

impl StorageError {
    /// What the person who asked is told; database details stay in the log.
    pub fn for_client(&self) -> String {
        match self {
            StorageError::Database(_)
            | StorageError::Corrupt(_)
            | StorageError::File(_)
            | StorageError::BadRole(_) => {
                archipelago_shared::assembly::AssemblyRefusal::Unavailable.to_string()
            }
            other => other.to_string(),
        }
    }
}

/// A row of the member registry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Member {
    pub public_key: String,
    pub name: String,
    pub role: Role,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// Seconds since the epoch, as the database records times.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub(crate) use unix_now as now;

/// A cloneable handle on the database.
#[derive(Clone)]
pub struct Storage {
    pool: SqlitePool,
}

impl Storage {
    /// Opens (creating if needed) the database in `data_dir` and brings its schema up to date.
    pub async fn open(data_dir: &Path) -> Result<Self, StorageError> {
        let file = data_dir.join(DATABASE_FILE);
        owner_only(&file)?;
        let options = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let storage = Self { pool };
        storage.migrate().await?;
        storage.claim_old_names().await?;
        Ok(storage)
    }

    async fn migrate(&self) -> Result<(), StorageError> {
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
            .execute(&self.pool)
            .await?;
        for (version, sql) in MIGRATIONS {
            let applied = sqlx::query("SELECT 1 FROM schema_migrations WHERE version = ?")
                .bind(version)
                .fetch_optional(&self.pool)
                .await?
                .is_some();
            if applied {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
                .bind(version)
                .bind(now())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            info!("database migrated to version {version}");
        }
        Ok(())
    }

    /// Gives rows from before names were unique their name key, the longest-known key first;
    /// a later row whose name someone already holds keeps no name key (its owner is asked for
    /// another name at the next login).
    async fn claim_old_names(&self) -> Result<(), StorageError> {
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

    fn member_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Member, StorageError> {
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
        let at = now();
        // Someone coming back under the name they hold, seen within the hour, costs a read,
        // not a write: a crowd of visitors arriving does not queue on the single writer.
        let known = sqlx::query("SELECT * FROM members WHERE public_key = ?")
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
        Ok(pruned.rows_affected())
    }

    /// Makes sure every founder named in the world data is registered as a founder.
    pub async fn seed_founders(&self, founders: &[FounderSeed]) -> Result<(), StorageError> {
        for founder in founders {
            let key = founder.public_key.to_lowercase();
            let at = now();
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
        .bind(now())
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
        let at = now();
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
        let rows = sqlx::query(
            "SELECT * FROM members ORDER BY CASE role WHEN 'founder' THEN 0 WHEN 'resident' THEN 1
             WHEN 'member' THEN 2 ELSE 3 END, name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::member_from_row).collect()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates the database file readable and writable by its owner only (0600), or takes the
/// others' access away from an existing one: it holds every member's key and ballot. SQLite
/// gives its journal files the database file's permissions.
#[cfg(unix)]
fn owner_only(file: &Path) -> Result<(), StorageError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)
        .and_then(|f| f.set_permissions(std::fs::Permissions::from_mode(0o600)))
        .map_err(|error| StorageError::File(format!("{}: {error}", file.display())))
}

#[cfg(not(unix))]
fn owner_only(_file: &Path) -> Result<(), StorageError> {
    Ok(())
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
    sqlx::query(
        "SELECT * FROM members WHERE name_key = ?1
           OR (?2 <> '' AND substr(public_key, 1, length(?2)) = ?2)",
    )
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

/// The outcome of work handed to [`StorageHandle`], read back on the simulation thread and
/// passed on as a message to the feature that asked.
#[derive(Message, Debug)]
pub enum StorageReply {
    Login {
        link: Entity,
        result: Result<Member, StorageError>,
    },
    /// A parcel change was stored (with the words for the history) or refused (with the
    /// words for the client).
    ParcelChange {
        link: Entity,
        parcel: String,
        /// Boxed: a record is far larger than the other replies.
        result: Result<Box<(ParcelInfo, String)>, String>,
    },
    ParcelHistory {
        link: Entity,
        parcel: String,
        result: Result<Vec<ParcelChange>, String>,
    },
    /// Roles changed since the cursor (key, new role), and the new cursor.
    RolesChanged {
        result: Result<(Vec<(String, Role)>, i64), String>,
    },
    /// Parcels changed since the last poll, by anyone, and the new cursor.
    ParcelsChanged {
        result: Result<(Vec<ParcelInfo>, i64), String>,
    },
    /// A proposal was created, opened or closed by a client (`link`) or by the clock.
    ProposalChange {
        link: Option<Entity>,
        /// The proposal asked about (none for a new draft).
        asked: Option<ProposalId>,
        result: Result<Box<Proposal>, String>,
    },
    /// Proposals whose time came: opened or closed by the clock.
    ProposalsAdvanced {
        result: Result<Vec<Proposal>, String>,
    },
    /// Every proposal, read for changes made by the admin CLI.
    ProposalsPolled {
        result: Result<Vec<Proposal>, String>,
    },
    /// A batch of ballots came back from one commit: each sender's receipt or refusal.
    Ballots(Vec<BallotOutcome>),
    /// A member's last ballots, for the snapshot at login.
    MyBallots {
        link: Entity,
        result: Result<Vec<BallotReceipt>, String>,
    },
    /// A session was recorded (with its number) for the founder who opened it.
    SessionOpened {
        link: Entity,
        protocity: String,
        result: Result<assembly::SessionRecord, String>,
    },
    /// The moderation log, read for a founder.
    ModerationLog {
        link: Entity,
        result: Result<Vec<assembly::LogLine>, String>,
    },
    /// A founder's event request was stored, or refused.
    EventChanged(EventChange),
    /// Every event, read for changes made by the admin CLI.
    EventsPolled {
        result: Result<Vec<archipelago_shared::events::Event>, String>,
    },
    /// A founder's recognition request was stored (the standing with it), or refused.
    Recognition {
        link: Option<Entity>,
        result: Result<Box<(archipelago_shared::recognition::Standing, String)>, String>,
    },
    /// The standing as stored, read for changes made by the admin CLI or after new
    /// footprints.
    StandingRead {
        result: Result<Box<archipelago_shared::recognition::Standing>, String>,
    },
    /// A moderation action was stored, or refused.
    Moderated {
        link: Entity,
        /// Who it was for, to tell them.
        subject: Entity,
        /// The log line, and the subject's sanctions in force afterwards.
        result: Result<Box<(assembly::LogLine, Vec<assembly::Sanction>)>, String>,
    },
}

/// An event was scheduled or called off (by a client's founder, or seen in a poll).
#[derive(Debug)]
pub struct EventChange {
    pub link: Option<Entity>,
    pub result: Result<archipelago_shared::events::Event, String>,
}

/// Work for the minutes writer, done in the order given.
#[derive(Debug)]
enum MinutesJob {
    Line(assembly::MinuteLine),
    Close(archipelago_shared::assembly::SessionId, i64),
}

/// What became of one ballot.
#[derive(Debug)]
pub struct BallotOutcome {
    pub link: Entity,
    pub proposal: ProposalId,
    /// The voter's key, hex.
    pub voter: String,
    pub result: Result<BallotReceipt, String>,
    /// When the server received it, to measure the time to acknowledge.
    pub received: std::time::Instant,
}

/// A governance change a client or the clock asks for.
#[derive(Debug, Clone)]
pub enum GovernanceCommand {
    Create(ProposalDraft),
    Open(ProposalId),
    Close(ProposalId),
}

/// Most ballots stored by one commit.
const MAX_BALLOT_BATCH: usize = 2048;

/// What a request is told when the database has as much of its work as it may take.
pub const BUSY: &str = "the server is busy; try again in a moment";

/// Most database jobs one link may have waiting or running at once: a person's client
/// has one or two; more is a flood, answered [`BUSY`] instead of queued.
pub const JOBS_PER_LINK: usize = 8;
/// Most database jobs asked for by all links together.
pub const JOBS_FROM_LINKS: usize = 1024;
/// Most ballots waiting for a commit: a whole nation voting at once fits many times over.
pub const BALLOTS_WAITING: usize = 16 * 1024;

/// Counts the database jobs links asked for, to answer [`BUSY`] past the bounds above.
#[derive(Default)]
struct LinkJobs {
    counts: std::sync::Mutex<JobCounts>,
}

#[derive(Default)]
struct JobCounts {
    per_link: std::collections::HashMap<Entity, usize>,
    /// The sum of `per_link`, kept so admitting a job does not add up every link.
    total: usize,
}

/// A job's place in [`LinkJobs`], given back when it ends.
struct LinkJob {
    jobs: Arc<LinkJobs>,
    link: Entity,
}

impl LinkJobs {
    /// Takes a place for one more of `link`'s jobs, if it and everyone together are under
    /// their bounds.
    fn admit(self: &Arc<Self>, link: Entity) -> Option<LinkJob> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let counts = &mut *counts;
        let mine = counts.per_link.entry(link).or_default();
        if *mine >= JOBS_PER_LINK || counts.total >= JOBS_FROM_LINKS {
            if *mine == 0 {
                counts.per_link.remove(&link);
            }
            return None;
        }
        *mine += 1;
        counts.total += 1;
        Some(LinkJob {
            jobs: self.clone(),
            link,
        })
    }
}

impl Drop for LinkJob {
    fn drop(&mut self) {
        let mut counts = self.jobs.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.per_link.get_mut(&self.link) {
            *count -= 1;
            if *count == 0 {
                counts.per_link.remove(&self.link);
            }
            counts.total -= 1;
        }
    }
}

type BallotQueue =
    tokio::sync::mpsc::UnboundedSender<(Entity, governance::CastBallot, std::time::Instant)>;
type MinutesQueue = tokio::sync::mpsc::UnboundedSender<MinutesJob>;

/// Runs database work off the simulation thread and collects the replies.
#[derive(Resource)]
pub struct StorageHandle {
    storage: Storage,
    runtime: Arc<tokio::runtime::Runtime>,
    sender: crossbeam_channel::Sender<StorageReply>,
    receiver: crossbeam_channel::Receiver<StorageReply>,
    ballots: BallotQueue,
    minutes: MinutesQueue,
    /// Jobs handed to the runtime and not finished yet (their reply sent).
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    /// The jobs links asked for, bounded.
    link_jobs: Arc<LinkJobs>,
    /// Ballots sent to the writer and not yet taken into a commit.
    ballots_waiting: Arc<std::sync::atomic::AtomicUsize>,
    /// The ballot and minutes writers, which end once their queues are closed.
    writers: Vec<tokio::task::JoinHandle<()>>,
}

impl StorageHandle {
    pub fn new(storage: Storage, runtime: Arc<tokio::runtime::Runtime>) -> Self {
        let (sender, receiver) = crossbeam_channel::unbounded();
        let (ballots, queue) = tokio::sync::mpsc::unbounded_channel();
        let ballots_waiting = Arc::<std::sync::atomic::AtomicUsize>::default();
        let ballot_writer = runtime.spawn(write_ballots(
            storage.clone(),
            queue,
            ballots_waiting.clone(),
            sender.clone(),
        ));
        let (minutes, queue) = tokio::sync::mpsc::unbounded_channel();
        let minutes_writer = runtime.spawn(write_minutes(storage.clone(), queue));
        Self {
            storage,
            runtime,
            sender,
            receiver,
            ballots,
            minutes,
            in_flight: Arc::default(),
            link_jobs: Arc::default(),
            ballots_waiting,
            writers: vec![ballot_writer, minutes_writer],
        }
    }

    /// Runs a job on the storage runtime, counted until it has finished (and so sent its
    /// reply), so that shutdown can wait for it.
    fn spawn(&self, job: impl std::future::Future<Output = ()> + Send + 'static) {
        /// Counts the job out when it ends, also by a panic.
        struct Counted(Arc<std::sync::atomic::AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        self.in_flight
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let counted = Counted(self.in_flight.clone());
        self.runtime.spawn(async move {
            job.await;
            drop(counted);
        });
    }

    /// Runs a job `link` asked for, or, when that link or all links together have as many
    /// waiting as they may, answers at once with the reply `busy` makes from [`BUSY`].
    fn spawn_for(
        &self,
        link: Entity,
        busy: impl FnOnce(String) -> StorageReply,
        job: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        match self.link_jobs.admit(link) {
            Some(place) => self.spawn(async move {
                job.await;
                drop(place);
            }),
            None => {
                metrics::counter!("archipelago_storage_busy_total").increment(1);
                let _ = self.sender.send(busy(BUSY.to_owned()));
            }
        }
    }

    /// Records a session in the background; the reply carries its number.
    pub fn open_session(&self, link: Entity, record: assembly::SessionRecord) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        let busy_protocity = record.protocity.clone();
        self.spawn_for(
            link,
            |busy| StorageReply::SessionOpened {
                link,
                protocity: busy_protocity,
                result: Err(busy),
            },
            async move {
                let protocity = record.protocity.clone();
                let result = storage.open_session(record).await.map_err(|e| {
                    error!("recording a session failed: {e}");
                    e.for_client()
                });
                let _ = sender.send(StorageReply::SessionOpened {
                    link,
                    protocity,
                    result,
                });
            },
        );
    }

    /// Appends a line to a session's minutes (lines are written in the order given).
    pub fn minute(&self, line: assembly::MinuteLine) {
        let _ = self.minutes.send(MinutesJob::Line(line));
    }

    /// Marks a session closed, after the lines already given.
    pub fn close_session(&self, id: archipelago_shared::assembly::SessionId, at: i64) {
        let _ = self.minutes.send(MinutesJob::Close(id, at));
    }

    /// Stores a moderation action in the background; the reply comes once it is on disk.
    pub fn moderate(&self, link: Entity, subject: Entity, moderation: assembly::Moderation) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        self.spawn_for(
            link,
            |busy| StorageReply::Moderated {
                link,
                subject,
                result: Err(busy),
            },
            async move {
                let result = storage
                    .moderate(&moderation)
                    .await
                    .map(Box::new)
                    .map_err(|e| {
                        if matches!(e, StorageError::Database(_)) {
                            error!("storing a moderation action failed: {e}");
                        }
                        e.for_client()
                    });
                let _ = sender.send(StorageReply::Moderated {
                    link,
                    subject,
                    result,
                });
            },
        );
    }

    /// Schedules or calls off an event in the background, for a founder.
    pub fn event(
        &self,
        link: Entity,
        by: String,
        request: archipelago_shared::events::EventRequest,
        protocities: Vec<String>,
    ) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        self.spawn_for(
            link,
            |busy| {
                StorageReply::EventChanged(EventChange {
                    link: Some(link),
                    result: Err(busy),
                })
            },
            async move {
                let ids: Vec<&str> = protocities.iter().map(String::as_str).collect();
                let result = match &request {
                    archipelago_shared::events::EventRequest::Schedule(draft) => {
                        storage.schedule_event(&by, draft, &ids).await
                    }
                    archipelago_shared::events::EventRequest::Cancel(id) => {
                        storage.cancel_event(*id).await
                    }
                };
                let result = result.map_err(|e| {
                    if !matches!(e, StorageError::Event(_)) {
                        error!("events failed on {request:?}: {e}");
                    }
                    e.for_client()
                });
                let _ = sender.send(StorageReply::EventChanged(EventChange {
                    link: Some(link),
                    result,
                }));
            },
        );
    }

    /// Checks and stores a founder's change to the standing in the background.
    pub fn record_standing(
        &self,
        link: Entity,
        by: String,
        request: archipelago_shared::recognition::RecognitionRequest,
        founded: i64,
        protocities: Vec<String>,
    ) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        self.spawn_for(
            link,
            |busy| StorageReply::Recognition {
                link: Some(link),
                result: Err(busy),
            },
            async move {
                let ids: Vec<&str> = protocities.iter().map(String::as_str).collect();
                let result = storage
                    .record_standing(&request, &by, founded, &ids)
                    .await
                    .map(|standing| Box::new((standing, request.describe())))
                    .map_err(|e| {
                        if !matches!(e, StorageError::Recognition(_)) {
                            error!("recording {request:?} failed: {e}");
                        }
                        e.for_client()
                    });
                let _ = sender.send(StorageReply::Recognition {
                    link: Some(link),
                    result,
                });
            },
        );
    }

    /// Appends footprints that changed, then reads the standing back, in the background.
    pub fn record_footprints(&self, areas: Vec<(String, i64)>, founded: i64) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        self.spawn(async move {
            let result = async {
                storage.record_footprints(&areas).await?;
                storage.standing(founded).await
            }
            .await
            .map(Box::new)
            .map_err(|e| {
                error!("recording footprints failed: {e}");
                e.to_string()
            });
            let _ = sender.send(StorageReply::StandingRead { result });
        });
    }

    /// Reads the standing in the background (to notice the admin CLI's changes).
    pub fn poll_standing(&self, founded: i64) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        self.spawn(async move {
            let result = storage
                .standing(founded)
                .await
                .map(Box::new)
                .map_err(|e| e.to_string());
            let _ = sender.send(StorageReply::StandingRead { result });
        });
    }

    /// Reads the standing, blocking: for startup.
    pub fn load_standing_now(
        &self,
        founded: i64,
    ) -> Result<archipelago_shared::recognition::Standing, StorageError> {
        self.runtime.block_on(self.storage.standing(founded))
    }

    /// Reads the moderation log in the background, for a founder.
    pub fn moderation_log(&self, link: Entity) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        self.spawn_for(
            link,
            |busy| StorageReply::ModerationLog {
                link,
                result: Err(busy),
            },
            async move {
                let newest = archipelago_shared::assembly::MODERATION_LOG_LINES as u32;
                let result = storage.moderation_log(Some(newest)).await.map_err(|e| {
                    error!("reading the moderation log failed: {e}");
                    e.for_client()
                });
                let _ = sender.send(StorageReply::ModerationLog { link, result });
            },
        );
    }

    /// Reads every event in the background (to notice the admin CLI's changes).
    pub fn poll_events(&self) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        self.spawn(async move {
            let result = storage.events().await.map_err(|e| e.to_string());
            let _ = sender.send(StorageReply::EventsPolled { result });
        });
    }

    /// Reads every event, blocking: for startup.
    pub fn load_events_now(&self) -> Result<Vec<archipelago_shared::events::Event>, StorageError> {
        self.runtime.block_on(self.storage.events())
    }

    /// Closes sessions left open by a stopped server and reads the sanctions in force,
    /// blocking: for startup.
    pub fn load_assemblies_now(&self) -> Result<(usize, Vec<assembly::Sanction>), StorageError> {
        self.runtime.block_on(async {
            let closed = self.storage.close_abandoned_sessions().await?;
            let sanctions = self.storage.sanctions_in_force().await?;
            Ok((closed, sanctions))
        })
    }

    /// Queues a ballot for the next commit; the reply comes once it is on disk (or refused).
    pub fn cast_ballot(&self, link: Entity, cast: governance::CastBallot) {
        use std::sync::atomic::Ordering;
        let received = std::time::Instant::now();
        if self.ballots_waiting.fetch_add(1, Ordering::SeqCst) >= BALLOTS_WAITING {
            self.ballots_waiting.fetch_sub(1, Ordering::SeqCst);
            metrics::counter!("archipelago_storage_busy_total").increment(1);
            let _ = self.sender.send(StorageReply::Ballots(vec![BallotOutcome {
                link,
                proposal: cast.signed.ballot.proposal,
                voter: archipelago_shared::identity::to_hex(&cast.signed.ballot.voter),
                result: Err(BUSY.to_owned()),
                received,
            }]));
            return;
        }
        metrics::counter!("archipelago_ballots_queued_total").increment(1);
        // The writer lives as long as the runtime; a send error means shutdown.
        let _ = self.ballots.send((link, cast, received));
    }

    /// Runs a founder's (or the clock's) governance change in the background.
    pub fn govern(
        &self,
        link: Option<Entity>,
        actor: Actor,
        command: GovernanceCommand,
        protocities: Vec<String>,
    ) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        let asked = match &command {
            GovernanceCommand::Create(_) => None,
            GovernanceCommand::Open(id) | GovernanceCommand::Close(id) => Some(*id),
        };
        let job = async move {
            let ids: Vec<&str> = protocities.iter().map(String::as_str).collect();
            let result = match &command {
                GovernanceCommand::Create(draft) => {
                    storage.create_proposal(&actor, draft, &ids).await
                }
                GovernanceCommand::Open(id) => storage.open_proposal(&actor, *id).await,
                GovernanceCommand::Close(id) => storage.close_proposal(&actor, *id).await,
            };
            let result = result.map(Box::new).map_err(|e| {
                if !matches!(e, governance::GovernanceError::Refused(_)) {
                    error!("governance failed on {command:?}: {e}");
                }
                e.for_client()
            });
            let _ = sender.send(StorageReply::ProposalChange {
                link,
                asked,
                result,
            });
        };
        // The clock's own changes are not bounded: nobody floods with them.
        match link {
            Some(from) => self.spawn_for(
                from,
                |busy| StorageReply::ProposalChange {
                    link,
                    asked,
                    result: Err(busy),
                },
                job,
            ),
            None => self.spawn(job),
        }
    }

    /// Opens and closes proposals whose time has come, in the background.
    pub fn advance_proposals(&self, at: i64) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        self.spawn(async move {
            let result = storage
                .advance_proposals(at)
                .await
                .map_err(|e| e.to_string());
            let _ = sender.send(StorageReply::ProposalsAdvanced { result });
        });
    }

    /// Reads every proposal in the background (to notice the admin CLI's changes).
    pub fn poll_proposals(&self) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        self.spawn(async move {
            let result = storage.proposals().await.map_err(|e| e.to_string());
            let _ = sender.send(StorageReply::ProposalsPolled { result });
        });
    }

    /// Reads a member's last ballots in the background.
    pub fn my_ballots(&self, link: Entity, voter: String) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        self.spawn_for(
            link,
            |busy| StorageReply::MyBallots {
                link,
                result: Err(busy),
            },
            async move {
                let result = storage.my_ballots(&voter).await.map_err(|e| e.to_string());
                let _ = sender.send(StorageReply::MyBallots { link, result });
            },
        );
    }

    /// Reads every proposal and the counted ballots of the open ones, blocking: for startup.
    pub fn load_governance_now(
        &self,
    ) -> Result<Vec<(Proposal, Vec<(String, Choice)>)>, governance::GovernanceError> {
        self.runtime.block_on(async {
            let mut loaded = Vec::new();
            for proposal in self.storage.proposals().await? {
                let ballots = if proposal.phase == archipelago_shared::governance::Phase::Open {
                    self.storage.counted_ballots(proposal.id).await?
                } else {
                    Vec::new()
                };
                loaded.push((proposal, ballots));
            }
            Ok(loaded)
        })
    }

    /// Records a login in the background; the reply names the link it was for.
    pub fn login(&self, link: Entity, public_key: String, name: String) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        self.spawn_for(
            link,
            |_| StorageReply::Login {
                link,
                result: Err(StorageError::Busy),
            },
            async move {
                let result = storage.login(&public_key, &name).await;
                // The receiver lives as long as the app; a send error means it is shutting down.
                let _ = sender.send(StorageReply::Login { link, result });
            },
        );
    }

    /// Reads the whole registry and its history cursor, blocking: for startup only.
    pub fn load_parcels_now(&self) -> Result<(Vec<ParcelInfo>, i64), parcels::ParcelError> {
        self.runtime.block_on(async {
            let parcels = self.storage.parcels().await?;
            let cursor = self.storage.parcel_cursor().await?;
            Ok((parcels, cursor))
        })
    }

    /// Applies a parcel request for `actor` in the background.
    pub fn change_parcel(&self, link: Entity, actor: Actor, request: ParcelRequest) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        let busy_parcel = request.parcel().to_owned();
        self.spawn_for(
            link,
            |busy| StorageReply::ParcelChange {
                link,
                parcel: busy_parcel,
                result: Err(busy),
            },
            async move {
                let parcel = request.parcel().to_owned();
                let result = storage
                    .change_parcel(&actor, &request)
                    .await
                    .map(Box::new)
                    .map_err(|e| {
                        if !matches!(e, parcels::ParcelError::Refused(_)) {
                            error!("land registry failed on {request:?}: {e}");
                        }
                        e.for_client()
                    });
                let _ = sender.send(StorageReply::ParcelChange {
                    link,
                    parcel,
                    result,
                });
            },
        );
    }

    /// Reads a parcel's history in the background.
    pub fn parcel_history(&self, link: Entity, parcel: String) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        let busy_parcel = parcel.clone();
        self.spawn_for(
            link,
            |busy| StorageReply::ParcelHistory {
                link,
                parcel: busy_parcel,
                result: Err(busy),
            },
            async move {
                let newest = Some(archipelago_shared::parcels::PARCEL_HISTORY_LINES);
                let result = storage.parcel_history(&parcel, newest).await.map_err(|e| {
                    if !matches!(e, parcels::ParcelError::Refused(_)) {
                        error!("land registry failed reading the history of {parcel}: {e}");
                    }
                    e.for_client()
                });
                let _ = sender.send(StorageReply::ParcelHistory {
                    link,
                    parcel,
                    result,
                });
            },
        );
    }

    /// Looks for parcel changes after `cursor` in the background (the admin CLI writes to
    /// the same database).
    pub fn poll_parcels(&self, cursor: i64) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        self.spawn(async move {
            let result = storage
                .parcels_changed_since(cursor)
                .await
                .map_err(|e| e.to_string());
            let _ = sender.send(StorageReply::ParcelsChanged { result });
        });
    }

    /// Asks for the role changes recorded after `cursor` (none: only the newest cursor).
    pub fn poll_roles(&self, cursor: Option<i64>) {
        let storage = self.storage.clone();
        let sender = self.sender.clone();
        self.spawn(async move {
            let result = storage
                .role_changes_since(cursor)
                .await
                .map_err(|e| e.to_string());
            let _ = sender.send(StorageReply::RolesChanged { result });
        });
    }

    /// Closes the ballot and minutes queues: their writers store what is already queued, then
    /// end. For shutdown, once nothing more will be queued.
    pub fn finish_queues(&mut self) {
        // A sender whose receiver is gone: the writers' own senders drop with these.
        self.ballots = tokio::sync::mpsc::unbounded_channel().0;
        self.minutes = tokio::sync::mpsc::unbounded_channel().0;
    }

    /// Jobs handed to the database and not finished.
    pub fn jobs_in_flight(&self) -> usize {
        self.in_flight.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether no work handed to the database is still running and every reply has been
    /// read (after [`Self::finish_queues`], the queue writers count as running until they end).
    pub fn is_idle(&self) -> bool {
        self.in_flight.load(std::sync::atomic::Ordering::SeqCst) == 0
            && self.writers.iter().all(|writer| writer.is_finished())
            && self.receiver.is_empty()
    }

    /// Replies that have arrived since the last call.
    pub fn replies(&self) -> impl Iterator<Item = StorageReply> + '_ {
        self.receiver.try_iter()
    }
}

/// Stores queued ballots, as many per commit as are waiting, and answers each.
async fn write_ballots(
    storage: Storage,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<(
        Entity,
        governance::CastBallot,
        std::time::Instant,
    )>,
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    replies: crossbeam_channel::Sender<StorageReply>,
) {
    let mut batch = Vec::new();
    while queue.recv_many(&mut batch, MAX_BALLOT_BATCH).await > 0 {
        waiting.fetch_sub(batch.len(), std::sync::atomic::Ordering::SeqCst);
        let casts: Vec<_> = batch.iter().map(|(_, cast, _)| cast.clone()).collect();
        let results = storage.cast_ballots(&casts).await;
        let outcomes = batch
            .drain(..)
            .zip(results)
            .map(|((link, cast, received), result)| BallotOutcome {
                link,
                proposal: cast.signed.ballot.proposal,
                voter: archipelago_shared::identity::to_hex(&cast.signed.ballot.voter),
                result: result.map_err(|e| {
                    if !matches!(e, governance::GovernanceError::Refused(_)) {
                        error!("storing a ballot failed: {e}");
                    }
                    e.for_client()
                }),
                received,
            })
            .collect::<Vec<_>>();
        let committed = outcomes.iter().filter(|o| o.result.is_ok()).count();
        metrics::counter!("archipelago_ballots_committed_total").increment(committed as u64);
        if replies.send(StorageReply::Ballots(outcomes)).is_err() {
            break;
        }
    }
}

/// Writes minutes in the order they were given, as many lines per commit as are waiting.
async fn write_minutes(
    storage: Storage,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<MinutesJob>,
) {
    let mut batch = Vec::new();
    while queue.recv_many(&mut batch, 1024).await > 0 {
        let mut lines = Vec::new();
        let mut closed = Vec::new();
        for job in batch.drain(..) {
            match job {
                MinutesJob::Line(line) => lines.push(line),
                MinutesJob::Close(id, at) => closed.push((id, at)),
            }
        }
        if let Err(e) = storage.write_minutes(&lines, &closed).await {
            error!("writing {} lines of minutes failed: {e}", lines.len());
        }
    }
}

/// Passes storage replies on as [`StorageReply`] messages, at the start of the frame.
pub(crate) fn plugin(app: &mut App) {
    app.add_message::<StorageReply>().add_systems(
        Update,
        forward_replies.in_set(crate::ServerSystems::Receive),
    );
}

fn forward_replies(storage: Res<StorageHandle>, mut replies: MessageWriter<StorageReply>) {
    replies.write_batch(storage.replies());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_links() -> (Entity, Entity) {
        let mut world = World::new();
        (world.spawn_empty().id(), world.spawn_empty().id())
    }

    #[test]
    fn each_link_and_all_links_together_have_a_bound() {
        let jobs = Arc::new(LinkJobs::default());
        let (flooder, bystander) = two_links();
        let held: Vec<_> = (0..JOBS_PER_LINK)
            .map(|_| jobs.admit(flooder).expect("under the bound"))
            .collect();
        assert!(jobs.admit(flooder).is_none(), "one past the link's bound");
        let other = jobs.admit(bystander).expect("another link is not held up");
        drop(held);
        assert!(
            jobs.admit(flooder).is_some(),
            "places come back as jobs end"
        );
        drop(other);
        assert!(
            jobs.counts.lock().unwrap().per_link.is_empty(),
            "a link with no jobs is forgotten"
        );

        let mut world = World::new();
        let many: Vec<_> = (0..JOBS_FROM_LINKS)
            .map(|_| {
                jobs.admit(world.spawn_empty().id())
                    .expect("under the total")
            })
            .collect();
        assert!(jobs.admit(bystander).is_none(), "one past the total");
        drop(many);
    }

    #[test]
    fn a_link_past_its_bound_is_told_busy_at_once_and_others_are_served() {
        let dir = std::env::temp_dir().join(format!("archipelago-busy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let runtime = Arc::new(tokio::runtime::Runtime::new().unwrap());
        let storage = runtime.block_on(Storage::open(&dir)).unwrap();
        let handle = StorageHandle::new(storage, runtime);
        let (flooder, bystander) = two_links();
        let _held: Vec<_> = (0..JOBS_PER_LINK)
            .map(|_| handle.link_jobs.admit(flooder).unwrap())
            .collect();

        handle.parcel_history(flooder, "capital-1".into());
        let busy = handle.replies().next().expect("answered without waiting");
        assert!(matches!(
            busy,
            StorageReply::ParcelHistory { link, result: Err(ref e), .. }
                if link == flooder && e == BUSY
        ));

        handle.parcel_history(bystander, "capital-1".into());
        let start = std::time::Instant::now();
        let served = loop {
            if let Some(reply) = handle.replies().next() {
                break reply;
            }
            assert!(start.elapsed() < std::time::Duration::from_secs(10));
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert!(matches!(
            served,
            StorageReply::ParcelHistory { link, ref result, .. }
                if link == bystander && result.as_ref().err().is_none_or(|e| e != BUSY)
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
