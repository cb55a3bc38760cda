//! The server's one door to its database: an embedded SQLite file in the data directory,
//! reached through sqlx so the same queries can later target PostgreSQL. Schema changes are
//! numbered migrations under `server/migrations/`.
//!
//! Simulation systems never wait on it: a feature hands a job to [`StorageHandle::run_for`]
//! (or [`StorageHandle::run`]), which runs it on the storage runtime and delivers its output
//! to that feature as a [`Done`] message of the feature's own type. Work that must be stored
//! in order and in batches (ballots, minutes) goes through a [`WriteQueue`] with a writer of
//! the feature's own. Each feature's SQL lives in its folder (`parcels/storage.rs`, ...); this
//! module holds the connection, the migrations and the runner.
//!
//! Queries name the columns they read (each feature's `*_COLUMNS`), never `SELECT *`: sqlx
//! keeps each prepared statement with the columns it had when prepared, and a row wider than
//! that (the table changed under it) panics sqlx's worker instead of returning an error.

use std::path::Path;
use std::sync::Arc;

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bevy::prelude::*;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use archipelago_shared::clock::Clock;
use archipelago_shared::identity::MIN_KEY_PREFIX;

/// Numbered migrations, applied in order, each once: every `server/migrations/NNNN_*.sql`,
/// listed by `server/build.rs`.
const MIGRATIONS: &[(i64, &str)] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

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
}

/// What a storage call that a feature's rules may refuse returns: the feature's refusal `R`
/// (checked inside the transaction), or a failure of the database.
#[derive(Debug, thiserror::Error)]
pub enum Refusable<R> {
    #[error(transparent)]
    Refused(R),
    #[error(transparent)]
    Failed(#[from] StorageError),
}

impl<R> From<sqlx::Error> for Refusable<R> {
    fn from(error: sqlx::Error) -> Self {
        Refusable::Failed(error.into())
    }
}

impl<R> Refusable<R> {
    /// What the person who asked is told: the refusal, or `unavailable` when the database
    /// failed (`busy` when its queue was full). A failure goes to the log with what was being
    /// done; the details never go to the client.
    pub fn for_client(self, unavailable: R, busy: R, doing: impl std::fmt::Display) -> R {
        match self {
            Refusable::Refused(refusal) => refusal,
            Refusable::Failed(StorageError::Busy) => busy,
            Refusable::Failed(error) => {
                error!("{doing} failed: {error}");
                unavailable
            }
        }
    }
}

/// A cloneable handle on the database.
#[derive(Clone)]
pub struct Storage {
    /// Each feature's queries (in its own `storage.rs`) use the pool directly.
    pub(crate) pool: SqlitePool,
    /// What "now" is when a row is written: the system clock, but in tests.
    clock: Clock,
}

impl Storage {
    /// Opens (creating if needed) the database in `data_dir` and brings its schema up to date.
    pub async fn open(data_dir: &Path) -> Result<Self, StorageError> {
        Self::open_with_clock(data_dir, Clock::system()).await
    }

    /// As [`Storage::open`], with times read from `clock`.
    pub async fn open_with_clock(data_dir: &Path, clock: Clock) -> Result<Self, StorageError> {
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
        let storage = Self { pool, clock };
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
                .bind(self.now())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            info!("database migrated to version {version}");
        }
        Ok(())
    }

    /// Seconds since the epoch, as the database records times.
    pub fn now(&self) -> i64 {
        self.clock.unix_seconds()
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

/// What a request is told when the database has as much of its work as it may take.
pub const BUSY: &str = "the server is busy; try again in a moment";

/// Most database jobs one link may have waiting or running at once: a person's client
/// has one or two; more is a flood, answered [`BUSY`] instead of queued.
pub const JOBS_PER_LINK: usize = 8;
/// Most database jobs asked for by all links together.
pub const JOBS_FROM_LINKS: usize = 1024;

/// The output of a storage job, delivered on the simulation thread to the feature that
/// asked. Outputs are told apart by their type, so each kind of job has a type of its own
/// (a small struct in its feature), registered there with `add_message::<Done<It>>()`.
#[derive(Message, Debug)]
pub struct Done<T: Send + Sync + 'static> {
    /// The link whose request it answers; none for the clock's jobs and the polls.
    pub link: Option<Entity>,
    pub output: T,
}

/// Writes one [`Done`] into the world.
type Delivery = Box<dyn FnOnce(&mut World) + Send>;

/// Where jobs and writers send their outputs, to be delivered as [`Done`] messages at the
/// start of the next frame.
#[derive(Clone)]
pub struct Replies(crossbeam_channel::Sender<Delivery>);

impl Replies {
    /// Delivers `output` as a [`Done`] for `link`; false once the app is gone.
    pub fn send<T: Send + Sync + 'static>(&self, link: Option<Entity>, output: T) -> bool {
        let delivery: Delivery = Box::new(move |world: &mut World| {
            world.write_message(Done { link, output });
        });
        self.0.send(delivery).is_ok()
    }
}

/// Counts the database jobs links asked for, to answer [`BUSY`] past the bounds above.
#[derive(Default)]
struct LinkJobs {
    counts: Mutex<JobCounts>,
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

/// The sending end of a queue of work that one writer stores in batches, in the order it was
/// given (ballots, minutes). Made by [`StorageHandle::start_writer`]; closed at shutdown,
/// after which the writer stores what it already has and ends.
pub struct WriteQueue<J> {
    sender: Arc<Mutex<Option<UnboundedSender<J>>>>,
    /// Jobs sent and not yet taken into a batch.
    waiting: Arc<AtomicUsize>,
    bound: usize,
}

/// A [`WriteQueue`] that took no job: it holds as many as it may, or shutdown closed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotQueued;

impl<J> WriteQueue<J> {
    /// Queues a job, unless the queue holds as many as it may or is closed.
    pub fn send(&self, job: J) -> Result<(), NotQueued> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.bound {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            metrics::counter!("archipelago_storage_busy_total").increment(1);
            return Err(NotQueued);
        }
        let sender = self.sender.lock().unwrap_or_else(|e| e.into_inner());
        let sent = sender
            .as_ref()
            .is_some_and(|sender| sender.send(job).is_ok());
        if !sent {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(NotQueued);
        }
        Ok(())
    }
}

/// The writer's end of a [`WriteQueue`].
pub struct Batches<J> {
    receiver: UnboundedReceiver<J>,
    waiting: Arc<AtomicUsize>,
}

impl<J> Batches<J> {
    /// Waits for work and moves up to `most` jobs into `batch`, in order; 0 once the queue is
    /// closed and empty.
    pub async fn next(&mut self, batch: &mut Vec<J>, most: usize) -> usize {
        let taken = self.receiver.recv_many(batch, most).await;
        self.waiting.fetch_sub(taken, Ordering::SeqCst);
        taken
    }
}

/// Runs database work off the simulation thread and delivers the outputs.
#[derive(Resource)]
pub struct StorageHandle {
    storage: Storage,
    runtime: Arc<tokio::runtime::Runtime>,
    replies: Replies,
    receiver: crossbeam_channel::Receiver<Delivery>,
    /// Jobs handed to the runtime and not finished yet (their output sent).
    in_flight: Arc<AtomicUsize>,
    /// The jobs links asked for, bounded.
    link_jobs: Arc<LinkJobs>,
    /// What closes each [`WriteQueue`], for shutdown.
    closers: Vec<Box<dyn FnOnce() + Send + Sync>>,
    /// The queues' writers, which end once their queues are closed and stored.
    writers: Vec<tokio::task::JoinHandle<()>>,
}

impl StorageHandle {
    pub fn new(storage: Storage, runtime: Arc<tokio::runtime::Runtime>) -> Self {
        let (sender, receiver) = crossbeam_channel::unbounded();
        Self {
            storage,
            runtime,
            replies: Replies(sender),
            receiver,
            in_flight: Arc::default(),
            link_jobs: Arc::default(),
            closers: Vec::new(),
            writers: Vec::new(),
        }
    }

    /// Runs a job on the storage runtime, counted until it has finished (and so sent its
    /// output), so that shutdown can wait for it.
    fn spawn(&self, job: impl Future<Output = ()> + Send + 'static) {
        /// Counts the job out when it ends, also by a panic.
        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let counted = Counted(self.in_flight.clone());
        self.runtime.spawn(async move {
            job.await;
            drop(counted);
        });
    }

    /// Runs the job `link` asked for and delivers its output as a [`Done`] for that link.
    /// When that link or all links together have as many jobs waiting as they may, the job
    /// is not run: `busy()` is delivered at once instead.
    pub fn run_for<T, Fut>(
        &self,
        link: Entity,
        job: impl FnOnce(Storage) -> Fut,
        busy: impl FnOnce() -> T,
    ) where
        T: Send + Sync + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        let Some(place) = self.link_jobs.admit(link) else {
            metrics::counter!("archipelago_storage_busy_total").increment(1);
            self.replies.send(Some(link), busy());
            return;
        };
        let job = job(self.storage.clone());
        let replies = self.replies.clone();
        self.spawn(async move {
            // A send error means the app is shutting down.
            replies.send(Some(link), job.await);
            drop(place);
        });
    }

    /// Runs a job nobody's request asked for (the clock's, a poll), and delivers its output
    /// as a [`Done`] without a link. Unbounded: the systems that ask pace themselves.
    pub fn run<T, Fut>(&self, job: impl FnOnce(Storage) -> Fut)
    where
        T: Send + Sync + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        let job = job(self.storage.clone());
        let replies = self.replies.clone();
        self.spawn(async move {
            replies.send(None, job.await);
        });
    }

    /// Runs a job and waits for its output, blocking the caller: for startup only.
    pub fn run_now<T, Fut>(&self, job: impl FnOnce(Storage) -> Fut) -> T
    where
        Fut: Future<Output = T>,
    {
        self.runtime.block_on(job(self.storage.clone()))
    }

    /// Opens a queue of work that `writer` stores in batches, in order, until shutdown closes
    /// it; past `bound` jobs waiting, [`WriteQueue::send`] gives the job back.
    pub fn start_writer<J, Fut>(
        &mut self,
        bound: usize,
        writer: impl FnOnce(Storage, Batches<J>, Replies) -> Fut,
    ) -> WriteQueue<J>
    where
        J: Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (sender, receiver) = unbounded_channel();
        let waiting = Arc::<AtomicUsize>::default();
        let batches = Batches {
            receiver,
            waiting: waiting.clone(),
        };
        let task = writer(self.storage.clone(), batches, self.replies.clone());
        self.writers.push(self.runtime.spawn(task));
        let sender = Arc::new(Mutex::new(Some(sender)));
        let closing = sender.clone();
        self.closers.push(Box::new(move || {
            closing.lock().unwrap_or_else(|e| e.into_inner()).take();
        }));
        WriteQueue {
            sender,
            waiting,
            bound,
        }
    }

    /// Closes every [`WriteQueue`]: their writers store what is already queued, then end.
    /// For shutdown, once nothing more will be queued.
    pub fn finish_queues(&mut self) {
        for close in self.closers.drain(..) {
            close();
        }
    }

    /// Writes the outputs that have arrived into `world` as [`Done`] messages: what the
    /// storage plugin does each frame, for a program that runs the storage without an App
    /// (a benchmark).
    pub fn deliver_to(&self, world: &mut World) {
        deliver_outputs(&self.receiver, world);
    }

    /// Jobs handed to the database and not finished.
    pub fn jobs_in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Whether no work handed to the database is still running and every output has been
    /// delivered (after [`Self::finish_queues`], the writers count as running until they end).
    pub fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0
            && self.writers.iter().all(|writer| writer.is_finished())
            && self.receiver.is_empty()
    }
}

/// Delivers the outputs of finished jobs as [`Done`] messages, at the start of the frame.
pub(crate) fn plugin(app: &mut App) {
    app.add_systems(Update, deliver.in_set(crate::ServerSystems::Receive));
}

fn deliver(world: &mut World) {
    let receiver = world.resource::<StorageHandle>().receiver.clone();
    deliver_outputs(&receiver, world);
}

fn deliver_outputs(receiver: &crossbeam_channel::Receiver<Delivery>, world: &mut World) {
    for delivery in receiver.try_iter() {
        delivery(world);
    }
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

    /// Outputs delivered and not yet looked at, oldest first.
    #[derive(Resource, Default)]
    struct Arrived(std::collections::VecDeque<(Option<Entity>, Result<i64, String>)>);

    /// The storage runner on a fresh database in a temporary folder, with an App that
    /// receives `Done<Result<i64, String>>`.
    fn runner(name: &str) -> (App, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("archipelago-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let runtime = Arc::new(tokio::runtime::Runtime::new().unwrap());
        let storage = runtime.block_on(Storage::open(&dir)).unwrap();
        let mut app = App::new();
        app.insert_resource(StorageHandle::new(storage, runtime))
            .add_message::<Done<Result<i64, String>>>()
            .add_systems(Update, deliver);
        (app, dir)
    }

    /// Steps `app` until a `Done<Result<i64, String>>` has arrived, and returns the oldest
    /// not returned yet.
    fn next_done(app: &mut App) -> (Option<Entity>, Result<i64, String>) {
        let start = std::time::Instant::now();
        loop {
            let world = app.world_mut();
            let mut arrived: Vec<_> = world
                .resource_mut::<Messages<Done<Result<i64, String>>>>()
                .drain()
                .map(|done| (done.link, done.output))
                .collect();
            let mut earlier = world.get_resource_or_insert_with(Arrived::default);
            earlier.0.extend(arrived.drain(..));
            if let Some(oldest) = earlier.0.pop_front() {
                return oldest;
            }
            app.update();
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "no output delivered within 10 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Waits until every job has finished and every writer ended, as shutdown does.
    fn wait_idle(app: &App) {
        let start = std::time::Instant::now();
        while !app.world().resource::<StorageHandle>().is_idle() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "the runner is idle within 10 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    async fn count_migrations(db: Storage) -> Result<i64, String> {
        sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations")
            .fetch_one(&db.pool)
            .await
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_job_delivers_its_output_to_the_link_that_asked() {
        let (mut app, dir) = runner("done");
        let (asker, _) = two_links();
        app.world()
            .resource::<StorageHandle>()
            .run_for(asker, count_migrations, || Err(BUSY.to_owned()));
        assert_eq!(
            next_done(&mut app),
            (Some(asker), Ok(MIGRATIONS.len() as i64)),
            "the job ran against the database and its output came back for the link"
        );
        app.world()
            .resource::<StorageHandle>()
            .run(count_migrations);
        assert_eq!(
            next_done(&mut app).0,
            None,
            "a job nobody asked for has no link"
        );
        wait_idle(&app);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_link_past_its_bound_is_told_busy_at_once_and_others_are_served() {
        let (mut app, dir) = runner("busy");
        let (flooder, bystander) = two_links();
        let handle = app.world().resource::<StorageHandle>();
        let _held: Vec<_> = (0..JOBS_PER_LINK)
            .map(|_| handle.link_jobs.admit(flooder).unwrap())
            .collect();
        handle.run_for(flooder, count_migrations, || Err(BUSY.to_owned()));
        handle.run_for(bystander, count_migrations, || Err(BUSY.to_owned()));
        assert_eq!(
            next_done(&mut app),
            (Some(flooder), Err(BUSY.to_owned())),
            "the flooder is answered busy without waiting for the database"
        );
        assert_eq!(
            next_done(&mut app),
            (Some(bystander), Ok(MIGRATIONS.len() as i64)),
            "another link's job runs"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_write_queue_is_bounded_and_its_writer_stores_everything_before_it_ends() {
        let (mut app, dir) = runner("queue");
        let (asker, _) = two_links();
        let gate = Arc::new(tokio::sync::Notify::new());
        let opened = gate.clone();
        let queue = app
            .world_mut()
            .resource_mut::<StorageHandle>()
            .start_writer(
                3,
                move |_db, mut batches: Batches<i64>, replies| async move {
                    opened.notified().await;
                    let mut batch = Vec::new();
                    while batches.next(&mut batch, 2).await > 0 {
                        replies.send(Some(asker), Ok::<i64, String>(batch.drain(..).sum()));
                    }
                },
            );
        for job in 1..=3 {
            assert!(queue.send(job).is_ok(), "job {job} is under the bound");
        }
        assert_eq!(
            queue.send(4),
            Err(NotQueued),
            "the fourth waiting job is refused"
        );
        gate.notify_one();
        assert_eq!(
            next_done(&mut app).1,
            Ok(1 + 2),
            "a batch of at most two, in order"
        );
        assert_eq!(next_done(&mut app).1, Ok(3));
        app.world_mut()
            .resource_mut::<StorageHandle>()
            .finish_queues();
        assert_eq!(
            queue.send(5),
            Err(NotQueued),
            "a closed queue takes nothing"
        );
        wait_idle(&app);
        let _ = std::fs::remove_dir_all(dir);
    }
}
