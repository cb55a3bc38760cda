//! Who is connecting: the server sends each new connection a nonce, the client signs it with
//! its ed25519 key, and the member registry says which role that key holds. Only then does
//! the connection get an avatar.

use std::time::Duration;

use archipelago_shared::clock::Clock;
use archipelago_shared::identity::{
    LoginError, LoginRefusal, ServerIdentity, name_key, to_hex, verify_login,
};
use archipelago_shared::protocol::{
    ControlChannel, PROTOCOL_VERSION, RequestRefusal, ToClient, ToServer,
};
use archipelago_shared::world::World;
use bevy::prelude::*;
use lightyear::connection::client::Connected;
use lightyear::link::server::LinkOf;
use lightyear::link::{Unlink, UnlinkReason};
use lightyear::prelude::*;
use rand::RngCore;

use crate::admission::{AdmissionRefusal, address_of, arrival_to_close};
use crate::members::Member;
use crate::refusal_log::RefusalLog;
use crate::session::{
    LoggedIn, Refused, Request, RequestBudget, RequestsExt, Routed, SessionSystems,
    refuse as refuse_request,
};
use crate::storage::{Done, StorageError, StorageHandle};
use crate::{ServerSettings, ServerSystems};

/// A connection must log in within this time or is closed.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(15);
/// Time a refused client gets to read its refusal before the link closes.
const REFUSAL_GRACE: Duration = Duration::from_secs(1);

/// On a link that has connected but not yet logged in.
#[derive(Component, Debug)]
pub struct PendingLogin {
    nonce: [u8; 32],
    age: Timer,
    challenge_sent: bool,
    /// The signature checked out; the registry is being asked for the role.
    awaiting_registry: bool,
    /// Why this link may not log in (admission), told instead of the challenge.
    turned_away: Option<LoginRefusal>,
}

/// Who this server is, as logins are signed for it: its nation and its certificate.
#[derive(Resource, Debug, Clone)]
pub struct ThisServer(pub ServerIdentity);

/// The public key a link's login claimed while the registry is being asked.
#[derive(Component, Debug, Clone)]
struct ClaimedKey([u8; 32], String);

pub(crate) fn plugin(app: &mut App) {
    app.add_message::<Done<Result<Member, StorageError>>>()
        .add_request::<LoginAttempt>();
    app.add_observer(on_connected);
    app.add_systems(
        Update,
        (
            send_challenges
                .before(SessionSystems::Read)
                .in_set(ServerSystems::Receive),
            handle_logins
                .after(SessionSystems::Route)
                .in_set(ServerSystems::Receive),
            (apply_registry_replies, close_stale_links).in_set(ServerSystems::Apply),
        ),
    );
}

/// A new connection is asked to log in, or told why it may not. When the arrivals from its
/// address, or all arrivals, are full, the arrival that has waited longest past
/// [`ARRIVAL_GRACE`](crate::admission::ARRIVAL_GRACE) without logging in gives way to it.
fn on_connected(
    trigger: On<Add, Connected>,
    links: Query<(&RemoteId, Option<&PeerAddr>), With<LinkOf>>,
    addresses: Query<(Entity, &PeerAddr), With<LinkOf>>,
    mut arrivals: Query<(
        Entity,
        &PendingLogin,
        Option<&PeerAddr>,
        &RemoteId,
        &mut MessageSender<ToClient>,
    )>,
    settings: Res<ServerSettings>,
    mut refusals: ResMut<RefusalLog>,
    mut commands: Commands,
) {
    let link = trigger.entity;
    let Ok((remote, peer)) = links.get(link) else {
        return;
    };
    let turned_away = peer.and_then(|peer| {
        let ip = peer.0.ip();
        let from = address_of(ip);
        let same_address = addresses
            .iter()
            .filter(|(other, address)| *other != link && address_of(address.0.ip()) == from)
            .count();
        let from_here =
            |address: Option<&PeerAddr>| address.is_some_and(|a| address_of(a.0.ip()) == from);
        let waiting =
            |arrival: &PendingLogin| !arrival.awaiting_registry && arrival.turned_away.is_none();
        let mut gave_way = Vec::new();
        loop {
            let open = arrivals
                .iter()
                .filter(|(other, ..)| *other != link && !gave_way.contains(other));
            let (mut arriving, mut pending) = (0, 0);
            for (_, _, address, ..) in open {
                pending += 1;
                arriving += usize::from(from_here(address));
            }
            let refusal =
                match settings
                    .config
                    .admission
                    .connection(ip, same_address, arriving, pending)
                {
                    Ok(()) => break,
                    Err(refusal) => refusal,
                };
            let from_address = match refusal {
                AdmissionRefusal::ArrivingFromAddress(_) => true,
                AdmissionRefusal::TooManyArriving => false,
                _ => return Some(refusal.into()),
            };
            // Once for the address's arrivals and once for everyone's, at most.
            if gave_way.len() == 2 {
                return Some(refusal.into());
            }
            let candidates = arrivals.iter().filter(|(other, arrival, address, ..)| {
                *other != link
                    && !gave_way.contains(other)
                    && waiting(arrival)
                    && (!from_address || from_here(*address))
            });
            let Some(oldest) = arrival_to_close(
                candidates.map(|(other, arrival, ..)| (other, arrival.age.elapsed())),
            ) else {
                return Some(refusal.into());
            };
            gave_way.push(oldest);
        }
        for arrival in gave_way {
            if let Ok((_, _, _, remote, mut sender)) = arrivals.get_mut(arrival) {
                metrics::counter!("archipelago_arrivals_closed_total").increment(1);
                refuse(
                    &mut commands,
                    &mut refusals,
                    arrival,
                    &mut sender,
                    remote,
                    AdmissionRefusal::GaveWay.into(),
                );
            }
        }
        None
    });
    let mut nonce = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut nonce);
    info!("client {:?} connected; asking it to log in", remote.0);
    commands.entity(link).insert((
        PendingLogin {
            nonce,
            age: Timer::new(LOGIN_TIMEOUT, TimerMode::Once),
            challenge_sent: false,
            awaiting_registry: false,
            turned_away,
        },
        RequestBudget::default(),
    ));
}

fn send_challenges(
    mut commands: Commands,
    mut refusals: ResMut<RefusalLog>,
    mut links: Query<(
        Entity,
        &RemoteId,
        &mut PendingLogin,
        &mut MessageSender<ToClient>,
    )>,
    settings: Res<ServerSettings>,
    server: Res<ThisServer>,
) {
    for (link, remote, mut pending, mut sender) in &mut links {
        if let Some(reason) = pending.turned_away.take() {
            refuse(
                &mut commands,
                &mut refusals,
                link,
                &mut sender,
                remote,
                reason,
            );
        } else if !pending.challenge_sent {
            sender.send::<ControlChannel>(ToClient::Challenge {
                nonce: pending.nonce,
                tick_hz: settings.config.tick_hz,
                server: server.0.clone(),
            });
            pending.challenge_sent = true;
        }
    }
}

fn refuse(
    commands: &mut Commands,
    refusals: &mut RefusalLog,
    link: Entity,
    sender: &mut MessageSender<ToClient>,
    remote: &RemoteId,
    reason: LoginRefusal,
) {
    // Each refused connection is a new link: logins are logged together, at most one line
    // every 5 s with a count, so a flood of connections cannot fill the log.
    refusals.note(Entity::PLACEHOLDER, || {
        format!("login of client {:?} refused: {reason}", remote.0)
    });
    metrics::counter!("archipelago_login_refusals_total").increment(1);
    sender.send::<ControlChannel>(ToClient::Rejected { reason });
    commands
        .entity(link)
        .remove::<PendingLogin>()
        .insert(Refused(Timer::new(REFUSAL_GRACE, TimerMode::Once)));
}

#[allow(clippy::type_complexity)]
/// A login: who the client says it is, signed for this server.
#[derive(Debug, Clone)]
pub struct LoginAttempt {
    protocol_version: u32,
    name: String,
    public_key: [u8; 32],
    signature: Vec<u8>,
}

impl Routed for LoginAttempt {
    const LOGIN_FIRST: bool = false;

    fn take(message: ToServer) -> Result<Self, ToServer> {
        match message {
            ToServer::Login {
                protocol_version,
                name,
                public_key,
                signature,
            } => Ok(Self {
                protocol_version,
                name,
                public_key,
                signature,
            }),
            other => Err(other),
        }
    }

    fn while_stopping(&self) -> ToClient {
        ToClient::Rejected {
            reason: LoginRefusal::ShuttingDown,
        }
    }
}

/// Checks a login's signature and version, then asks the registry for the key's role.
fn handle_logins(
    mut commands: Commands,
    mut logins: MessageReader<Request<LoginAttempt>>,
    mut links: Query<(
        &RemoteId,
        &mut MessageSender<ToClient>,
        Option<&mut PendingLogin>,
        Has<LoggedIn>,
    )>,
    storage: Res<StorageHandle>,
    server: Res<ThisServer>,
    mut refusals: ResMut<RefusalLog>,
) {
    for Request { link, request } in logins.read() {
        let link = *link;
        let Ok((remote, mut sender, pending, logged_in)) = links.get_mut(link) else {
            continue;
        };
        if logged_in {
            let refusal = RequestRefusal::AlreadyLoggedIn;
            refuse_request(&mut refusals, link, &mut sender, remote.0, refusal);
            continue;
        }
        let Some(mut pending) = pending else {
            continue;
        };
        if pending.awaiting_registry {
            let refusal = RequestRefusal::LoginPending;
            refuse_request(&mut refusals, link, &mut sender, remote.0, refusal);
            continue;
        }
        let LoginAttempt {
            protocol_version,
            name,
            public_key,
            signature,
        } = request;
        let checked = if *protocol_version != PROTOCOL_VERSION {
            Err(LoginError::WrongVersion {
                client: *protocol_version,
                server: PROTOCOL_VERSION,
            })
        } else {
            verify_login(&server.0, public_key, name, &pending.nonce, signature)
        };
        match checked {
            Ok(name) => {
                pending.awaiting_registry = true;
                commands
                    .entity(link)
                    .insert(ClaimedKey(*public_key, name.clone()));
                let key = to_hex(public_key);
                storage.run_for(
                    link,
                    move |db| async move { db.login(&key, &name).await },
                    || Err(StorageError::Busy),
                );
            }
            Err(error) => refuse(
                &mut commands,
                &mut refusals,
                link,
                &mut sender,
                remote,
                error.into(),
            ),
        }
    }
}

fn apply_registry_replies(
    mut commands: Commands,
    mut refusals: ResMut<RefusalLog>,
    mut replies: MessageReader<Done<Result<Member, StorageError>>>,
    mut links: Query<(&RemoteId, &ClaimedKey, &mut MessageSender<ToClient>), With<PendingLogin>>,
    logged_in: Query<(), With<LoggedIn>>,
    mut online: Query<
        (Entity, &LoggedIn, &mut MessageSender<ToClient>),
        (Without<PendingLogin>, Without<Refused>),
    >,
    world: Res<World>,
    settings: Res<ServerSettings>,
    clock: Res<Clock>,
) {
    // Those let in by this frame's replies count too.
    let mut inside = logged_in.iter().count();
    for reply in replies.read() {
        let (Some(link), result) = (reply.link, &reply.output) else {
            continue;
        };
        // The client may have left while the registry was answering.
        let Ok((remote, claimed, mut sender)) = links.get_mut(link) else {
            continue;
        };
        match result {
            Ok(member)
                if let Err(full) = settings.config.admission.place(
                    member.role,
                    inside,
                    settings.config.max_clients,
                ) =>
            {
                refuse(
                    &mut commands,
                    &mut refusals,
                    link,
                    &mut sender,
                    remote,
                    full.into(),
                );
            }
            Ok(member) => {
                inside += 1;
                metrics::counter!("archipelago_logins_total").increment(1);
                let logged_in = LoggedIn {
                    public_key: claimed.0,
                    name: claimed.1.clone(),
                    name_key: name_key(&claimed.1),
                    role: member.role,
                };
                info!(
                    "client {:?} logged in as {} ({}, {})",
                    remote.0,
                    logged_in.name,
                    logged_in.role,
                    logged_in.fingerprint()
                );
                let arrived_at = world.capital().id.clone();
                sender.send::<ControlChannel>(ToClient::Welcome {
                    name: logged_in.name.clone(),
                    role: logged_in.role,
                    nation: world.nation.name.clone(),
                    arrived_at,
                    server_time_ms: clock.unix_millis(),
                });
                // The newest login of a key wins: a client that lost its connection and came
                // back before the server noticed must not meet its own ghost.
                for (older, theirs, mut their_sender) in &mut online {
                    if theirs.public_key == logged_in.public_key {
                        info!(
                            "{} logged in again; closing their older connection",
                            logged_in.name
                        );
                        their_sender.send::<ControlChannel>(ToClient::Rejected {
                            reason: LoginRefusal::LoggedInElsewhere,
                        });
                        commands
                            .entity(older)
                            .insert(Refused(Timer::new(REFUSAL_GRACE, TimerMode::Once)));
                    }
                }
                commands
                    .entity(link)
                    .remove::<(PendingLogin, ClaimedKey)>()
                    // Its avatar spawns at the capital (`avatars`, on `LoggedIn`).
                    .insert(logged_in);
            }
            Err(error) => {
                let refusal = match error {
                    StorageError::NameTaken(name) => LoginRefusal::NameTaken(name.clone()),
                    StorageError::Busy => LoginRefusal::Busy,
                    other => {
                        error!("member registry failed during login: {other}");
                        LoginRefusal::Unavailable
                    }
                };
                refuse(
                    &mut commands,
                    &mut refusals,
                    link,
                    &mut sender,
                    remote,
                    refusal,
                );
            }
        }
    }
}

fn close_stale_links(
    mut commands: Commands,
    time: Res<Time>,
    mut pending: Query<(Entity, &RemoteId, &mut PendingLogin)>,
    mut refused: Query<(Entity, &mut Refused)>,
) {
    for (link, remote, mut login) in &mut pending {
        if login.age.tick(time.delta()).just_finished() {
            warn!("client {:?} did not log in in time; closing", remote.0);
            commands.trigger(Unlink {
                entity: link,
                reason: UnlinkReason::UserRequested(Some("login timed out".into())),
            });
        }
    }
    for (link, mut timer) in &mut refused {
        if timer.0.tick(time.delta()).just_finished() {
            commands.trigger(Unlink {
                entity: link,
                reason: UnlinkReason::UserRequested(Some("login refused".into())),
            });
        }
    }
}
