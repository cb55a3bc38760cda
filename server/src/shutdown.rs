//! Stopping without losing anything. On Ctrl-C or SIGTERM (or a test's [`ShutdownFlag`]) the
//! server stops taking requests (each one is refused with the reason), closes the open
//! sessions with a line in their minutes, lets the database finish every ballot and line it
//! was given and answers them, says goodbye to every client, and exits with success.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bevy::prelude::*;
use lightyear::prelude::server::{Server, Stop};

use crate::ShutdownFlag;
use crate::storage::StorageHandle;

/// The longest the database is waited for before the server stops anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// The shortest drain: requests already on their way when the signal came (a round trip on
/// a slow link) still get their answer, a refusal, instead of nothing.
const DRAIN_AT_LEAST: Duration = Duration::from_millis(750);
/// Frames run after the goodbye, so the disconnects go out.
const GOODBYE_FRAMES: u32 = 10;

/// Present once the server is stopping: requests are refused from then on.
#[derive(Resource, Debug)]
pub struct ShuttingDown {
    since: Duration,
    phase: Phase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The features said their last words; the queues close at the end of this frame.
    Begun,
    /// The database finishes what it was given; its answers go out as they come.
    Draining,
    /// Clients were told goodbye; these frames carry it out.
    Closing { frames: u32 },
}

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(First, notice_the_flag)
        .add_systems(Last, step);
}

fn notice_the_flag(
    flag: Option<Res<ShutdownFlag>>,
    shutting: Option<Res<ShuttingDown>>,
    time: Res<Time<Real>>,
    mut commands: Commands,
) {
    if shutting.is_none() && flag.is_some_and(|f| f.0.load(Ordering::Relaxed)) {
        info!("shutting down: no new requests; finishing what is in flight");
        commands.insert_resource(ShuttingDown {
            since: time.elapsed(),
            phase: Phase::Begun,
        });
    }
}

fn step(
    shutting: Option<ResMut<ShuttingDown>>,
    mut storage: ResMut<StorageHandle>,
    servers: Query<Entity, With<Server>>,
    time: Res<Time<Real>>,
    mut commands: Commands,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(mut shutting) = shutting else {
        return;
    };
    match shutting.phase {
        Phase::Begun => {
            storage.finish_queues();
            shutting.phase = Phase::Draining;
        }
        Phase::Draining => {
            let idle = storage.is_idle();
            let waited = time.elapsed().saturating_sub(shutting.since);
            if (!idle || waited < DRAIN_AT_LEAST) && waited < DRAIN_LIMIT {
                return;
            }
            if idle {
                info!("the database has finished; saying goodbye to every client");
            } else {
                error!(
                    "the database did not finish within {} s; stopping anyway",
                    DRAIN_LIMIT.as_secs()
                );
            }
            for entity in &servers {
                commands.trigger(Stop { entity });
            }
            shutting.phase = Phase::Closing { frames: 0 };
        }
        Phase::Closing { frames } if frames >= GOODBYE_FRAMES => {
            info!("stopped");
            exit.write(AppExit::Success);
        }
        Phase::Closing { frames } => {
            shutting.phase = Phase::Closing { frames: frames + 1 };
        }
    }
}
