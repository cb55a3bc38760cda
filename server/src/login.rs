//! Who is connecting: the server sends each new connection a nonce, the client signs it with
//! its ed25519 key, and the member registry says which role that key holds. Only then does
//! the connection get an avatar.

use std::time::Duration;

use archipelago_shared::budget::TokenBucket;
use archipelago_shared::identity::{
    LoginError, ServerIdentity, fingerprint, name_key, to_hex, verify_login,
};
use archipelago_shared::protocol::{
    ControlChannel, MAX_ID_CHARS, PROTOCOL_VERSION, Role, ToClient, ToServer,
};
use archipelago_shared::world::World;
use bevy::prelude::*;
use lightyear::connection::client::Connected;
use lightyear::link::server::LinkOf;
use lightyear::link::{Unlink, UnlinkReason};
use lightyear::prelude::*;
use rand::RngCore;

use crate::admission::{AdmissionRefusal, address_of, arrival_to_close};
use crate::assembly::AssemblyMessage;
use crate::avatars::{SpawnAvatar, TeleportRequest};
use crate::chat::ChatMessage;
use crate::events::EventMessage;
use crate::governance::GovernanceMessage;
use crate::members::storage::Member;
use crate::parcels::ParcelCommand;
use crate::recognition::RecognitionMessage;
use crate::refusal_log::RefusalLog;
use crate::shutdown::ShuttingDown;
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
    turned_away: Option<String>,
}

/// On a link whose login was refused; it closes when the timer ends.
#[derive(Component, Debug)]
pub struct Refused(Timer);

/// On a link that logged in: who is behind it.
#[derive(Component, Debug, Clone)]
pub struct LoggedIn {
    pub public_key: [u8; 32],
    pub name: String,
    /// The name as names are compared ([`name_key`]), worked out once at login.
    pub name_key: String,
    pub role: Role,
}

impl LoggedIn {
    /// The short form of the key, for logs and people to read; never for comparing.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.public_key)
    }

    /// The whole key in hex, as the procedure and requests name people.
    pub fn key_hex(&self) -> String {
        to_hex(&self.public_key)
    }
}

/// Requests a link may send per second over time, and in one burst. Far above what a person
/// or a bot sends (a few a second at most); a client past it is flooding the server.
const REQUESTS_PER_SECOND: f32 = 20.0;
const REQUEST_BURST: f32 = 60.0;
/// A flooding client is told at most this often; the requests in between are dropped unread.
const FLOOD_NOTICE_EVERY: Duration = Duration::from_secs(2);

/// Every link's allowance of requests, before any is read: a flood costs the server one
/// notice every two seconds and a log line, not an answer per request. Each feature keeps its
/// own, smaller budget on top (votes, chat, recognition...).
#[derive(Component, Debug)]
pub struct RequestBudget {
    tokens: TokenBucket,
    /// Requests dropped since the client was last told.
    dropped: u32,
    last_notice: Option<Duration>,
}

impl Default for RequestBudget {
    fn default() -> Self {
        Self {
            tokens: TokenBucket::full(REQUESTS_PER_SECOND, REQUEST_BURST, Duration::ZERO),
            dropped: 0,
            last_notice: None,
        }
    }
}

impl RequestBudget {
    /// Takes one request's token at `now`, or counts the request dropped.
    fn admit(&mut self, now: Duration) -> bool {
        if self.tokens.take(now) {
            true
        } else {
            self.dropped += 1;
            false
        }
    }

    /// The words for the flooding client, when it is time to tell it again.
    fn flood_notice(&mut self, now: Duration) -> Option<String> {
        if self.dropped == 0
            || self
                .last_notice
                .is_some_and(|at| now.saturating_sub(at) < FLOOD_NOTICE_EVERY)
        {
            return None;
        }
        self.last_notice = Some(now);
        let dropped = std::mem::take(&mut self.dropped);
        Some(format!(
            "too many requests: {dropped} dropped unread; this server reads at most \
             {REQUESTS_PER_SECOND} a second from each client"
        ))
    }
}

/// Who this server is, as logins are signed for it: its nation and its certificate.
#[derive(Resource, Debug, Clone)]
pub struct ThisServer(pub ServerIdentity);

/// The public key a link's login claimed while the registry is being asked.
#[derive(Component, Debug, Clone)]
struct ClaimedKey([u8; 32], String);

pub(crate) fn plugin(app: &mut App) {
    app.add_message::<Done<Result<Member, StorageError>>>();
    app.add_observer(on_connected);
    app.add_systems(
        Update,
        (
            (send_challenges, receive_requests)
                .chain()
                .in_set(ServerSystems::Receive),
            (
                apply_registry_replies.in_set(LoginAnswered),
                close_stale_links,
            )
                .in_set(ServerSystems::Apply),
        ),
    );
}

/// Where logins are answered; what reacts to a login in the same frame runs after it.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoginAnswered;

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
                _ => return Some(refusal.to_string()),
            };
            // Once for the address's arrivals and once for everyone's, at most.
            if gave_way.len() == 2 {
                return Some(refusal.to_string());
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
                return Some(refusal.to_string());
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
                    AdmissionRefusal::GaveWay.to_string(),
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

/// Tells one client something went wrong with its request, and logs it (at most every 5 s
/// per link).
pub fn notice(
    log: &mut RefusalLog,
    link: Entity,
    sender: &mut MessageSender<ToClient>,
    who: impl std::fmt::Debug,
    text: String,
) {
    log.note(link, || format!("refused request from {who:?}: {text}"));
    sender.send::<ControlChannel>(ToClient::Notice { text });
}

fn refuse(
    commands: &mut Commands,
    refusals: &mut RefusalLog,
    link: Entity,
    sender: &mut MessageSender<ToClient>,
    remote: &RemoteId,
    reason: String,
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
fn receive_requests(
    mut commands: Commands,
    mut links: Query<(
        Entity,
        &RemoteId,
        &mut MessageReceiver<ToServer>,
        &mut MessageSender<ToClient>,
        Option<&mut PendingLogin>,
        Option<&LoggedIn>,
        Has<Refused>,
        Option<&mut RequestBudget>,
    )>,
    time: Res<Time>,
    storage: Res<StorageHandle>,
    mut teleports: MessageWriter<TeleportRequest>,
    mut parcel_commands: MessageWriter<ParcelCommand>,
    mut governance: MessageWriter<GovernanceMessage>,
    mut chat: MessageWriter<ChatMessage>,
    mut assembly: MessageWriter<AssemblyMessage>,
    mut events: MessageWriter<EventMessage>,
    mut recognition: MessageWriter<RecognitionMessage>,
    shutting: Option<Res<ShuttingDown>>,
    server: Res<ThisServer>,
    mut refusals: ResMut<RefusalLog>,
) {
    for (link, remote, mut receiver, mut sender, mut pending, logged_in, refused, mut budget) in
        &mut links
    {
        for message in receiver.receive() {
            if refused {
                continue;
            }
            if let Some(budget) = budget.as_deref_mut()
                && !budget.admit(time.elapsed())
            {
                continue;
            }
            if shutting.is_some() {
                refuse_while_stopping(&mut sender, message);
                continue;
            }
            let into_hall = matches!(message, ToServer::EnterHall { .. });
            match message {
                ToServer::Login {
                    protocol_version,
                    name,
                    public_key,
                    signature,
                } => {
                    if logged_in.is_some() {
                        notice(
                            &mut refusals,
                            link,
                            &mut sender,
                            remote.0,
                            "you are already logged in".into(),
                        );
                        continue;
                    }
                    let Some(pending) = pending.as_deref_mut() else {
                        continue;
                    };
                    if pending.awaiting_registry {
                        notice(
                            &mut refusals,
                            link,
                            &mut sender,
                            remote.0,
                            "your login is already being checked".into(),
                        );
                        continue;
                    }
                    let checked = if protocol_version != PROTOCOL_VERSION {
                        Err(LoginError::WrongVersion {
                            client: protocol_version,
                            server: PROTOCOL_VERSION,
                        })
                    } else {
                        verify_login(&server.0, &public_key, &name, &pending.nonce, &signature)
                    };
                    match checked {
                        Ok(name) => {
                            pending.awaiting_registry = true;
                            commands
                                .entity(link)
                                .insert(ClaimedKey(public_key, name.clone()));
                            let key = to_hex(&public_key);
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
                            error.to_string(),
                        ),
                    }
                }
                ToServer::Teleport { protocity } | ToServer::EnterHall { protocity } => {
                    if logged_in.is_none() {
                        notice(
                            &mut refusals,
                            link,
                            &mut sender,
                            remote.0,
                            "log in before teleporting".into(),
                        );
                    } else if protocity.chars().count() > MAX_ID_CHARS {
                        notice(
                            &mut refusals,
                            link,
                            &mut sender,
                            remote.0,
                            "that protocity id is too long".into(),
                        );
                    } else {
                        teleports.write(TeleportRequest {
                            link,
                            protocity,
                            into_hall,
                        });
                    }
                }
                ToServer::Parcel(request) => {
                    if logged_in.is_none() {
                        notice(
                            &mut refusals,
                            link,
                            &mut sender,
                            remote.0,
                            "log in before asking about land".into(),
                        );
                    } else {
                        parcel_commands.write(ParcelCommand { link, request });
                    }
                }
                ToServer::Chat(request) => {
                    if logged_in.is_none() {
                        notice(
                            &mut refusals,
                            link,
                            &mut sender,
                            remote.0,
                            "log in before chatting".into(),
                        );
                    } else {
                        chat.write(ChatMessage { link, request });
                    }
                }
                ToServer::Assembly(request) => {
                    if logged_in.is_none() {
                        notice(
                            &mut refusals,
                            link,
                            &mut sender,
                            remote.0,
                            "log in before taking part".into(),
                        );
                    } else {
                        assembly.write(AssemblyMessage { link, request });
                    }
                }
                ToServer::Event(request) => {
                    if logged_in.is_none() {
                        notice(
                            &mut refusals,
                            link,
                            &mut sender,
                            remote.0,
                            "log in before scheduling".into(),
                        );
                    } else {
                        events.write(EventMessage { link, request });
                    }
                }
                ToServer::Recognition(request) => {
                    if logged_in.is_none() {
                        notice(
                            &mut refusals,
                            link,
                            &mut sender,
                            remote.0,
                            "log in before recording".into(),
                        );
                    } else {
                        recognition.write(RecognitionMessage { link, request });
                    }
                }
                ToServer::Governance(request) => {
                    if logged_in.is_none() {
                        notice(
                            &mut refusals,
                            link,
                            &mut sender,
                            remote.0,
                            "log in before voting".into(),
                        );
                    } else {
                        governance.write(GovernanceMessage { link, request });
                    }
                }
            }
        }
        if let Some(text) = budget
            .as_deref_mut()
            .and_then(|b| b.flood_notice(time.elapsed()))
        {
            notice(&mut refusals, link, &mut sender, remote.0, text);
        }
    }
}

/// What the server stopping says to a request: a ballot is answered as refused, so its voter
/// knows it was not stored; anything else gets a notice.
fn refuse_while_stopping(sender: &mut MessageSender<ToClient>, message: ToServer) {
    const WORDS: &str = "the server is shutting down; this was not done. Try again once it is back";
    match message {
        ToServer::Login { .. } => sender.send::<ControlChannel>(ToClient::Rejected {
            reason: WORDS.into(),
        }),
        ToServer::Governance(request) => {
            sender.send::<ControlChannel>(ToClient::GovernanceAnswer {
                proposal: request.proposal(),
                outcome: Err(WORDS.into()),
            })
        }
        _ => sender.send::<ControlChannel>(ToClient::Notice { text: WORDS.into() }),
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
    mut spawns: MessageWriter<SpawnAvatar>,
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
                    full.to_string(),
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
                    arrived_at: arrived_at.clone(),
                    server_time_ms: archipelago_shared::assembly::unix_millis(),
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
                            reason: "you logged in again from another connection, so this one \
                                     is closed"
                                .into(),
                        });
                        commands
                            .entity(older)
                            .insert(Refused(Timer::new(REFUSAL_GRACE, TimerMode::Once)));
                    }
                }
                commands
                    .entity(link)
                    .remove::<(PendingLogin, ClaimedKey)>()
                    .insert(logged_in);
                spawns.write(SpawnAvatar {
                    link,
                    protocity: arrived_at,
                });
            }
            Err(refusal @ (StorageError::NameTaken(_) | StorageError::Busy)) => {
                refuse(
                    &mut commands,
                    &mut refusals,
                    link,
                    &mut sender,
                    remote,
                    refusal.to_string(),
                );
            }
            Err(error) => {
                error!("member registry failed during login: {error}");
                refuse(
                    &mut commands,
                    &mut refusals,
                    link,
                    &mut sender,
                    remote,
                    "the member registry is unavailable; try again shortly".into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_past_the_allowance_is_dropped_and_told_once_in_a_while() {
        let mut budget = RequestBudget::default();
        let start = Duration::from_secs(10);
        let admitted = (0..100).filter(|_| budget.admit(start)).count();
        assert_eq!(admitted, REQUEST_BURST as usize);
        let text = budget.flood_notice(start).expect("told at once");
        assert!(text.contains("40 dropped"), "{text}");
        assert!(!budget.admit(start));
        assert_eq!(budget.flood_notice(start + Duration::from_secs(1)), None);
        let later = budget
            .flood_notice(start + FLOOD_NOTICE_EVERY)
            .expect("told again");
        assert!(later.contains("1 dropped"), "{later}");
        assert_eq!(budget.flood_notice(start + 2 * FLOOD_NOTICE_EVERY), None);

        let a_second_later = start + Duration::from_secs(1);
        let admitted = (0..100).filter(|_| budget.admit(a_second_later)).count();
        assert_eq!(
            admitted, REQUESTS_PER_SECOND as usize,
            "refilled per second"
        );
    }
}
