//! A connection's session: who is behind it once logged in ([`LoggedIn`]), the allowance of
//! requests every link has before any is read ([`RequestBudget`]), and the routing of each
//! request to the feature that handles it.
//!
//! A feature takes its part of [`ToServer`] by implementing [`Routed`] for its request type
//! and calling [`RequestsExt::add_request`]; it then reads [`Request<ItsType>`] messages. This
//! module knows the wire protocol, not the features: nothing here changes when one is added.

use std::time::Duration;

use archipelago_shared::budget::TokenBucket;
use archipelago_shared::identity::{fingerprint, to_hex};
use archipelago_shared::protocol::{
    CIVIC_REQUEST_BURST, CIVIC_REQUESTS_PER_SECOND, ControlChannel, REQUEST_BURST,
    REQUESTS_PER_SECOND, RequestRefusal, Role, ToClient, ToServer,
};
use bevy::prelude::*;
use lightyear::prelude::*;

use crate::ServerSystems;
use crate::refusal_log::RefusalLog;
use crate::shutdown::ShuttingDown;

/// On a link that logged in: who is behind it.
#[derive(Component, Debug, Clone)]
pub struct LoggedIn {
    pub public_key: [u8; 32],
    pub name: String,
    /// The name as names are compared ([`name_key`](archipelago_shared::identity::name_key)),
    /// worked out once at login.
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

/// On a link whose login was refused or that is being closed: nothing more it sends is read.
#[derive(Component, Debug)]
pub struct Refused(pub(crate) Timer);

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

    /// What the flooding client is told, when it is time to tell it again.
    fn flood_notice(&mut self, now: Duration) -> Option<RequestRefusal> {
        if self.dropped == 0
            || self
                .last_notice
                .is_some_and(|at| now.saturating_sub(at) < FLOOD_NOTICE_EVERY)
        {
            return None;
        }
        self.last_notice = Some(now);
        let dropped = std::mem::take(&mut self.dropped);
        Some(RequestRefusal::Flood { dropped })
    }
}

/// One link's requests about the nation's civic life: assemblies (everyone's), and founders'
/// events and recognition. One budget for all of them: a burst of `CIVIC_REQUEST_BURST`,
/// then `CIVIC_REQUESTS_PER_SECOND`.
#[derive(Component, Debug)]
pub struct CivicBudget(TokenBucket);

/// Why a founders-only request may not go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FounderGate {
    TooFast,
    NotFounder,
}

impl CivicBudget {
    /// Admits a founders-only request: spends a token whatever the answer (a refused request
    /// costs as much as an accepted one, so those not allowed cannot send more than those
    /// who are), then checks the role.
    pub fn admit_founder(&mut self, role: Role, now: Duration) -> Result<(), FounderGate> {
        if !self.0.take(now) {
            return Err(FounderGate::TooFast);
        }
        if role != Role::Founder {
            return Err(FounderGate::NotFounder);
        }
        Ok(())
    }
}

impl CivicBudget {
    /// Spends a token; whether there was one.
    pub fn take(&mut self, now: Duration) -> bool {
        self.0.take(now)
    }
}

/// A request for the feature that handles `T`, from `link`.
#[derive(Message, Debug, Clone)]
pub struct Request<T: Send + Sync + 'static> {
    pub link: Entity,
    pub request: T,
}

/// A feature's part of [`ToServer`].
pub trait Routed: Sized + Send + Sync + 'static {
    /// Whether it is refused ([`RequestRefusal::LogInFirst`]) from someone who has not
    /// logged in: every request but the login itself.
    const LOGIN_FIRST: bool = true;

    /// This feature's request, or the message given back when it is another's.
    #[expect(
        clippy::result_large_err,
        reason = "another feature's message goes back to the inbox as it came, moved not copied"
    )]
    fn take(message: ToServer) -> Result<Self, ToServer>;

    /// What its sender is told when the server is stopping and will not do it: a notice,
    /// unless the feature's client waits for an answer of its own (a ballot's).
    fn while_stopping(&self) -> ToClient {
        ToClient::Refused(RequestRefusal::ShuttingDown)
    }
}

/// Implements [`Routed`] for a request type that travels as `ToServer::Variant(request)`:
/// `routed!(ParcelRequest, Parcel)`.
macro_rules! routed {
    ($request:ty, $variant:ident) => {
        impl $crate::session::Routed for $request {
            fn take(
                message: archipelago_shared::protocol::ToServer,
            ) -> Result<Self, archipelago_shared::protocol::ToServer> {
                match message {
                    archipelago_shared::protocol::ToServer::$variant(request) => Ok(request),
                    other => Err(other),
                }
            }
        }
    };
}
pub(crate) use routed;

/// Registers a feature's request type: its messages are routed to it as [`Request<T>`].
pub trait RequestsExt {
    fn add_request<T: Routed>(&mut self) -> &mut Self;
}

impl RequestsExt for App {
    fn add_request<T: Routed>(&mut self) -> &mut Self {
        self.add_message::<Request<T>>()
            .add_systems(Update, route::<T>.in_set(SessionSystems::Route))
    }
}

/// The steps of reading requests, inside [`ServerSystems::Receive`].
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum SessionSystems {
    /// Read what each link sent, within its budget.
    Read,
    /// Hand each request to the feature that takes it.
    Route,
}

/// Requests read this frame and not yet routed: the link, whether it has logged in, and the
/// message.
#[derive(Resource, Debug, Default)]
struct Inbox(Vec<(Entity, bool, ToServer)>);

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<Inbox>()
        .add_observer(give_budget)
        .configure_sets(
            Update,
            (SessionSystems::Read, SessionSystems::Route)
                .chain()
                .in_set(ServerSystems::Receive),
        )
        .add_systems(
            Update,
            (
                read_requests.in_set(SessionSystems::Read),
                drop_unrouted.after(SessionSystems::Route),
            ),
        );
}

/// Tells one client its request was not done, and logs it (at most every 5 s per link).
pub fn refuse(
    log: &mut RefusalLog,
    link: Entity,
    sender: &mut MessageSender<ToClient>,
    who: impl std::fmt::Debug,
    refusal: RequestRefusal,
) {
    log.note(link, || format!("refused request from {who:?}: {refusal}"));
    sender.send::<ControlChannel>(ToClient::Refused(refusal));
}

/// Sends a message to everyone logged in.
pub fn broadcast(
    message: &ToClient,
    links: &mut Query<&mut MessageSender<ToClient>, With<LoggedIn>>,
) {
    for mut sender in links.iter_mut() {
        sender.send::<ControlChannel>(message.clone());
    }
}

fn read_requests(
    mut links: Query<(
        Entity,
        &RemoteId,
        &mut MessageReceiver<ToServer>,
        &mut MessageSender<ToClient>,
        Has<LoggedIn>,
        Has<Refused>,
        Option<&mut RequestBudget>,
    )>,
    mut inbox: ResMut<Inbox>,
    time: Res<Time>,
    mut refusals: ResMut<RefusalLog>,
) {
    let now = time.elapsed();
    for (link, remote, mut receiver, mut sender, logged_in, refused, mut budget) in &mut links {
        for message in receiver.receive() {
            if refused {
                continue;
            }
            if let Some(budget) = budget.as_deref_mut()
                && !budget.admit(now)
            {
                continue;
            }
            inbox.0.push((link, logged_in, message));
        }
        if let Some(refusal) = budget.as_deref_mut().and_then(|b| b.flood_notice(now)) {
            refuse(&mut refusals, link, &mut sender, remote.0, refusal);
        }
    }
}

/// Takes `T`'s requests out of the inbox: those of logged-in links (or any, for the login)
/// go to its feature; the others are told to log in first. While the server stops, each is
/// answered as not done instead.
fn route<T: Routed>(
    mut inbox: ResMut<Inbox>,
    mut requests: MessageWriter<Request<T>>,
    mut links: Query<(&RemoteId, &mut MessageSender<ToClient>)>,
    mut refusals: ResMut<RefusalLog>,
    shutting: Option<Res<ShuttingDown>>,
) {
    let mut others = Vec::with_capacity(inbox.0.len());
    for (link, logged_in, message) in inbox.0.drain(..) {
        let request = match T::take(message) {
            Ok(request) => request,
            Err(message) => {
                others.push((link, logged_in, message));
                continue;
            }
        };
        if shutting.is_some() {
            if let Ok((_, mut sender)) = links.get_mut(link) {
                sender.send::<ControlChannel>(request.while_stopping());
            }
            continue;
        }
        if T::LOGIN_FIRST && !logged_in {
            if let Ok((remote, mut sender)) = links.get_mut(link) {
                refuse(
                    &mut refusals,
                    link,
                    &mut sender,
                    remote.0,
                    RequestRefusal::LogInFirst,
                );
            }
        } else {
            requests.write(Request { link, request });
        }
    }
    inbox.0 = others;
}

/// A request no feature took is a server without that feature's plugin: logged, dropped.
fn drop_unrouted(mut inbox: ResMut<Inbox>) {
    for (link, _, message) in inbox.0.drain(..) {
        warn!("no feature handles {message:?} from {link}; dropped");
    }
}

fn give_budget(trigger: On<Add, LoggedIn>, mut commands: Commands, time: Res<Time>) {
    commands
        .entity(trigger.entity)
        .insert(CivicBudget(TokenBucket::full(
            CIVIC_REQUESTS_PER_SECOND,
            CIVIC_REQUEST_BURST,
            time.elapsed(),
        )));
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
        assert_eq!(
            budget.flood_notice(start),
            Some(RequestRefusal::Flood { dropped: 40 }),
            "told at once"
        );
        assert!(!budget.admit(start));
        assert_eq!(budget.flood_notice(start + Duration::from_secs(1)), None);
        assert_eq!(
            budget.flood_notice(start + FLOOD_NOTICE_EVERY),
            Some(RequestRefusal::Flood { dropped: 1 }),
            "told again"
        );
        assert_eq!(budget.flood_notice(start + 2 * FLOOD_NOTICE_EVERY), None);

        let a_second_later = start + Duration::from_secs(1);
        let admitted = (0..100).filter(|_| budget.admit(a_second_later)).count();
        assert_eq!(
            admitted, REQUESTS_PER_SECOND as usize,
            "refilled per second"
        );
    }
}
