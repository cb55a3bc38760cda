//! Roles follow the registry while people are online. A role granted or taken away (by the
//! admin CLI, an enrolment, or the world data) is recorded in `role_changes`; the server reads
//! that table every second and applies each change to the live link, so a demoted founder
//! loses their powers at once instead of at their next login. The person is told, and others
//! see the new role on their name tag.

use std::time::Duration;

use archipelago_shared::identity::parse_key_hex;
use archipelago_shared::protocol::{AvatarProfile, ControlChannel, Role, ToClient};
use bevy::prelude::*;
use lightyear::prelude::*;

use crate::ServerSystems;
use crate::avatars::HasAvatar;
use crate::session::LoggedIn;
use crate::storage::{Done, StorageHandle};

/// How often the registry is asked for role changes.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long a change is kept for logins still being answered when it was read.
const RECENT: Duration = Duration::from_secs(30);

/// How far the server has read the registry's role changes, and the latest ones.
#[derive(Resource, Debug, Default)]
struct RoleCursor {
    /// `None` until the first answer, which gives only the newest cursor.
    last: Option<i64>,
    polling: bool,
    /// Changes read in the last [`RECENT`], oldest first: a login whose role was read
    /// before one of them, and answered after, takes it when it completes.
    recent: Vec<([u8; 32], Role, Duration)>,
}

/// Role changes read from the registry (key, new role), and the new cursor.
#[derive(Debug)]
struct RolesRead(Result<(Vec<(String, Role)>, i64), String>);

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<RoleCursor>()
        .add_message::<Done<RolesRead>>()
        .add_observer(catch_up_on_login)
        .add_systems(
            Update,
            (
                apply_role_changes.in_set(ServerSystems::Apply),
                poll_registry.in_set(ServerSystems::Publish),
            ),
        );
}

fn poll_registry(
    mut cursor: ResMut<RoleCursor>,
    storage: Res<StorageHandle>,
    time: Res<Time>,
    mut timer: Local<Option<Timer>>,
) {
    let timer = timer.get_or_insert_with(|| Timer::new(POLL_INTERVAL, TimerMode::Repeating));
    if (timer.tick(time.delta()).just_finished() || cursor.last.is_none()) && !cursor.polling {
        cursor.polling = true;
        let last = cursor.last;
        storage.run(move |db| async move {
            RolesRead(db.role_changes_since(last).await.map_err(|e| e.to_string()))
        });
    }
}

/// A login answered just after a role change was read may carry the role from before it.
fn catch_up_on_login(
    trigger: On<Add, LoggedIn>,
    cursor: Res<RoleCursor>,
    mut links: Query<(&mut LoggedIn, &mut MessageSender<ToClient>)>,
) {
    let Ok((mut member, mut sender)) = links.get_mut(trigger.entity) else {
        return;
    };
    let latest = cursor
        .recent
        .iter()
        .rev()
        .find(|(key, _, _)| *key == member.public_key);
    if let Some((_, role, _)) = latest
        && member.role != *role
    {
        info!("{} is now a {role} (changed while logging in)", member.name);
        member.role = *role;
        sender.send::<ControlChannel>(ToClient::RoleChanged { role: *role });
    }
}

fn apply_role_changes(
    mut replies: MessageReader<Done<RolesRead>>,
    mut cursor: ResMut<RoleCursor>,
    mut links: Query<(
        &mut LoggedIn,
        Option<&HasAvatar>,
        &mut MessageSender<ToClient>,
    )>,
    mut profiles: Query<&mut AvatarProfile>,
    time: Res<Time<Real>>,
) {
    let now = time.elapsed();
    cursor
        .recent
        .retain(|(_, _, at)| now.saturating_sub(*at) < RECENT);
    for reply in replies.read() {
        cursor.polling = false;
        let (changes, newest) = match &reply.output.0 {
            Ok(read) => read,
            Err(error) => {
                error!("cannot read role changes: {error}");
                continue;
            }
        };
        cursor.last = Some(*newest);
        for (key, role) in changes {
            let Some(key) = parse_key_hex(key) else {
                continue;
            };
            cursor.recent.push((key, *role, now));
            for (mut member, avatar, mut sender) in &mut links {
                if member.public_key != key || member.role == *role {
                    continue;
                }
                info!("{} is now a {role} (was a {})", member.name, member.role);
                member.role = *role;
                sender.send::<ControlChannel>(ToClient::RoleChanged { role: *role });
                if let Some(avatar) = avatar
                    && let Ok(mut profile) = profiles.get_mut(avatar.0)
                {
                    profile.role = *role;
                }
            }
        }
    }
}
