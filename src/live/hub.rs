//! Who is connected: the registry of live WebSocket clients, their bounded outgoing queues and
//! wake-up file descriptors, and fan-out of serialised events to users. Presence is derived
//! here from socket states. Also the throttles on what a client asks to announce (typing,
//! presence), so one client cannot fill everyone else's queue. No SQL, no sockets (the `socket`
//! module owns those).
//!
//! The registry lock is held only to read or change the registry: sockets are queued to,
//! woken and kicked after it is released, from clones of their `Arc<Client>`.

pub use crate::base::stop::WakeFd;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Frames a client may have waiting before it is disconnected as too slow.
pub const QUEUE_MAX: usize = 1024;

/// Typing in a channel is announced at most once per this window (per socket, and per user
/// for the HTTP route); clients repeat typing while it lasts, so later ones are dropped.
pub const TYPING_WINDOW: Duration = Duration::from_secs(2);
/// Most channels one socket may announce typing in per window (a person types in one).
const TYPING_CHANNELS_PER_SOCKET: usize = 8;
/// Most (user, channel) pairs the HTTP typing route remembers per window.
const TYPING_KEYS_HTTP: usize = 4096;
/// A socket's presence changes are published at most once per this window; a change inside
/// it is published when it ends.
pub const PRESENCE_WINDOW: Duration = Duration::from_secs(1);

/// When typing was last announced under each key: each key at most once per
/// `TYPING_WINDOW`, and at most `max_keys` keys per window, so memory stays bounded.
struct TypingThrottle<K> {
    announced: HashMap<K, Instant>,
    max_keys: usize,
}

impl<K: Eq + Hash> TypingThrottle<K> {
    fn new(max_keys: usize) -> TypingThrottle<K> {
        TypingThrottle {
            announced: HashMap::new(),
            max_keys,
        }
    }

    /// Whether typing under `key` may be announced at `now`; if so, it is recorded.
    fn allow(&mut self, key: K, now: Instant) -> bool {
        let recent = |at: &Instant| now.saturating_duration_since(*at) < TYPING_WINDOW;
        if self.announced.get(&key).is_some_and(recent) {
            return false;
        }
        if self.announced.len() >= self.max_keys {
            self.announced.retain(|_, at| recent(at));
            if self.announced.len() >= self.max_keys {
                return false;
            }
        }
        self.announced.insert(key, now);
        true
    }
}

/// When a socket's presence was last published, and whether a change waits for the window
/// to end.
#[derive(Default)]
struct PresenceThrottle {
    published_at: Option<Instant>,
    pending: bool,
}

impl PresenceThrottle {
    /// A change of the socket's state at `now`: true to publish it now; otherwise it is
    /// left pending until `due`.
    fn changed(&mut self, now: Instant) -> bool {
        if self
            .published_at
            .is_some_and(|at| now < at + PRESENCE_WINDOW)
        {
            self.pending = true;
            return false;
        }
        self.published_at = Some(now);
        self.pending = false;
        true
    }

    /// When the pending change may be published, if one is pending.
    fn due(&self) -> Option<Instant> {
        match (self.pending, self.published_at) {
            (true, Some(at)) => Some(at + PRESENCE_WINDOW),
            _ => None,
        }
    }

    /// Whether a pending change is due at `now`; if so it counts as published now.
    fn take_due(&mut self, now: Instant) -> bool {
        if self.due().is_none_or(|due| now < due) {
            return false;
        }
        self.published_at = Some(now);
        self.pending = false;
        true
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Presence {
    Offline = 0,
    Hidden = 1,
    Idle = 2,
    Active = 3,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Offline => "offline",
            Presence::Hidden => "hidden",
            Presence::Idle => "idle",
            Presence::Active => "active",
        }
    }

    /// A state a client may report about itself (`offline` comes only from disconnecting).
    pub fn parse_client_state(text: &str) -> Option<Presence> {
        match text {
            "active" => Some(Presence::Active),
            "idle" => Some(Presence::Idle),
            "hidden" => Some(Presence::Hidden),
            _ => None,
        }
    }

    fn from_u8(n: u8) -> Presence {
        match n {
            3 => Presence::Active,
            2 => Presence::Idle,
            1 => Presence::Hidden,
            _ => Presence::Offline,
        }
    }
}

/// Why the server is ending a client's socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kick {
    None = 0,
    TooSlow = 1,
    SessionRevoked = 2,
    ShuttingDown = 3,
}

pub struct Client {
    pub id: u64,
    pub user: String,
    pub session_id: String,
    queue: Mutex<VecDeque<Arc<str>>>,
    pub wake: WakeFd,
    /// Set while a wake-up for queued frames is pending, so a burst of frames costs one.
    woken: AtomicBool,
    state: AtomicU8,
    kick: AtomicU8,
    typing: Mutex<TypingThrottle<String>>,
    presence: Mutex<PresenceThrottle>,
    /// Call signals this socket may still send now (a token bucket).
    signals: Mutex<(f64, Instant)>,
}

/// A burst of call signals one socket may send (a 6-person call's offers and ICE candidates)…
const SIGNAL_BURST: f64 = 200.0;
/// …and how many it earns back each second.
const SIGNALS_PER_SEC: f64 = 20.0;

impl Client {
    /// Whether this socket may relay one more call signal now; takes it if so. A socket that
    /// floods signals cannot fill the other person's queue (and get them disconnected).
    pub fn may_signal(&self, now: Instant) -> bool {
        let mut bucket = self.signals.lock().unwrap_or_else(|e| e.into_inner());
        let earned = now.saturating_duration_since(bucket.1).as_secs_f64() * SIGNALS_PER_SEC;
        bucket.0 = (bucket.0 + earned).min(SIGNAL_BURST);
        bucket.1 = now;
        if bucket.0 < 1.0 {
            return false;
        }
        bucket.0 -= 1.0;
        true
    }

    /// Whether this socket may announce typing in `channel` (a canonical id) now; records it
    /// if so.
    pub fn may_announce_typing(&self, channel: &str, now: Instant) -> bool {
        let mut typing = self.typing.lock().unwrap_or_else(|e| e.into_inner());
        // The common case, a repeat inside the window, allocates nothing.
        let repeat = typing
            .announced
            .get(channel)
            .is_some_and(|at| now.saturating_duration_since(*at) < TYPING_WINDOW);
        !repeat && typing.allow(channel.to_owned(), now)
    }

    /// Records the state this socket reports. True when the user's presence should be
    /// published now; a change inside the throttle window is left for `presence_due`.
    pub fn report_state(&self, state: Presence, now: Instant) -> bool {
        let previous = self.state.swap(state as u8, Ordering::AcqRel);
        if previous == state as u8 {
            return false;
        }
        self.presence
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .changed(now)
    }

    /// When a change of this socket's state that is not published yet may be published.
    pub fn presence_due(&self) -> Option<Instant> {
        self.presence
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .due()
    }

    /// Whether a change left pending is due at `now` (it then counts as published).
    pub fn take_due_presence(&self, now: Instant) -> bool {
        self.presence
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take_due(now)
    }

    /// Queues a frame and wakes the socket's thread.
    pub fn push(&self, frame: Arc<str>) {
        if self.enqueue(frame) {
            self.wake_up();
        }
    }

    /// Queues a frame without waking the thread; true when it needs waking (`wake_up`). A
    /// client whose queue is full is marked too slow and woken to close.
    fn enqueue(&self, frame: Arc<str>) -> bool {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.len() >= QUEUE_MAX {
            drop(queue);
            self.kick(Kick::TooSlow);
            return false;
        }
        queue.push_back(frame);
        true
    }

    /// Wakes the socket's thread unless a wake-up is already pending.
    fn wake_up(&self) {
        if !self.woken.swap(true, Ordering::AcqRel) {
            self.wake.signal();
        }
    }

    /// Takes up to `max` queued frames. Frames queued after this call wake the thread again.
    pub fn take(&self, max: usize, out: &mut Vec<Arc<str>>) {
        self.woken.store(false, Ordering::Release);
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let n = queue.len().min(max);
        out.extend(queue.drain(..n));
    }

    /// Whether frames are waiting to be taken.
    pub fn has_queued(&self) -> bool {
        !self
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    pub fn kick(&self, why: Kick) {
        let _ = self.kick.compare_exchange(
            Kick::None as u8,
            why as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        self.wake.signal();
    }

    pub fn kicked(&self) -> Kick {
        match self.kick.load(Ordering::Acquire) {
            1 => Kick::TooSlow,
            2 => Kick::SessionRevoked,
            3 => Kick::ShuttingDown,
            _ => Kick::None,
        }
    }
}

#[derive(Default)]
struct UserEntry {
    clients: Vec<Arc<Client>>,
    /// The presence last announced for this user.
    published: Option<Presence>,
}

pub struct Hub {
    users: Mutex<HashMap<String, UserEntry>>,
    next_id: AtomicU64,
    /// Typing announced through HTTP, by (user, channel).
    http_typing: Mutex<TypingThrottle<(String, String)>>,
    /// Serialises presence announcements so the last one sent is the true state.
    pub presence_order: Mutex<()>,
}

impl Default for Hub {
    fn default() -> Hub {
        Hub {
            users: Mutex::default(),
            next_id: AtomicU64::default(),
            http_typing: Mutex::new(TypingThrottle::new(TYPING_KEYS_HTTP)),
            presence_order: Mutex::new(()),
        }
    }
}

impl Hub {
    pub fn register(&self, user: &str, session_id: &str) -> std::io::Result<Arc<Client>> {
        let client = Arc::new(Client {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            user: user.to_owned(),
            session_id: session_id.to_owned(),
            queue: Mutex::new(VecDeque::new()),
            wake: WakeFd::new()?,
            woken: AtomicBool::new(false),
            state: AtomicU8::new(Presence::Active as u8),
            kick: AtomicU8::new(Kick::None as u8),
            typing: Mutex::new(TypingThrottle::new(TYPING_CHANNELS_PER_SOCKET)),
            presence: Mutex::new(PresenceThrottle::default()),
            signals: Mutex::new((SIGNAL_BURST, Instant::now())),
        });
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users
            .entry(user.to_owned())
            .or_default()
            .clients
            .push(client.clone());
        Ok(client)
    }

    pub fn unregister(&self, client: &Client) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = users.get_mut(&client.user) {
            entry.clients.retain(|c| c.id != client.id);
        }
    }

    /// Records `state` for every socket of `user` (the HTTP presence route), through each
    /// socket's throttle. True when the presence should be published now; sockets whose
    /// window is still open are woken, so each publishes the change when its window ends.
    pub fn report_user_state(&self, user: &str, state: Presence, now: Instant) -> bool {
        let mut publish_now = false;
        for client in self.clients_of([user]) {
            if client.report_state(state, now) {
                publish_now = true;
            } else if client.presence_due().is_some() {
                client.wake.signal();
            }
        }
        publish_now
    }

    /// Whether `user` may announce typing in `channel` through HTTP now; records it if so.
    pub fn may_announce_http_typing(&self, user: &str, channel: &str, now: Instant) -> bool {
        self.http_typing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .allow((user.to_owned(), channel.to_owned()), now)
    }

    /// `user` sent a message to `channel`: their typing there has ended, so typing again is
    /// announced at once, not at the end of the throttle window.
    pub fn typing_ended(&self, user: &str, channel: &str) {
        for client in self.clients_of([user]) {
            let mut typing = client.typing.lock().unwrap_or_else(|e| e.into_inner());
            typing.announced.remove(channel);
        }
        self.http_typing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .announced
            .remove(&(user.to_owned(), channel.to_owned()));
    }

    /// The sockets of `users`, cloned so the registry lock is released before they are
    /// queued to, woken or kicked.
    fn clients_of<'u>(&self, users: impl IntoIterator<Item = &'u str>) -> Vec<Arc<Client>> {
        let registry = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users
            .into_iter()
            .filter_map(|user| registry.get(user))
            .flat_map(|entry| entry.clients.iter().cloned())
            .collect()
    }

    /// Every socket except those of `except`, cloned (see `clients_of`).
    fn all_clients_except(&self, except: Option<&str>) -> Vec<Arc<Client>> {
        let registry = self.users.lock().unwrap_or_else(|e| e.into_inner());
        registry
            .iter()
            .filter(|(user, _)| except != Some(user.as_str()))
            .flat_map(|(_, entry)| entry.clients.iter().cloned())
            .collect()
    }

    /// The user's presence now (best state over their sockets), and whether it differs from
    /// the last one announced; records it as announced. Callers serialise calls per user.
    pub fn presence_change(&self, user: &str) -> Option<Presence> {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let entry = users.entry(user.to_owned()).or_default();
        let now = entry
            .clients
            .iter()
            .map(|c| Presence::from_u8(c.state.load(Ordering::Acquire)))
            .max()
            .unwrap_or(Presence::Offline);
        let changed = entry.published != Some(now);
        entry.published = Some(now);
        if entry.clients.is_empty() {
            users.remove(user);
        }
        changed.then_some(now)
    }

    /// The announced presence of one user (offline when not connected).
    pub fn presence_of(&self, user: &str) -> Presence {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users
            .get(user)
            .and_then(|e| e.published)
            .unwrap_or(Presence::Offline)
    }

    /// Queues `frame` for every socket of every user in `to`.
    pub fn send_to<'a>(&self, to: impl IntoIterator<Item = &'a str>, frame: &Arc<str>) {
        self.send_each([(to, frame)]);
    }

    /// Queues each frame for every socket of its users, then wakes each socket once, so a
    /// socket receiving several frames writes them together.
    pub fn send_each<'u, 'f, To: IntoIterator<Item = &'u str>>(
        &self,
        frames: impl IntoIterator<Item = (To, &'f Arc<str>)>,
    ) {
        let deliveries: Vec<(Vec<Arc<Client>>, &Arc<str>)> = frames
            .into_iter()
            .map(|(to, frame)| (self.clients_of(to), frame))
            .collect();
        let mut to_wake: Vec<&Arc<Client>> = Vec::new();
        for (clients, frame) in &deliveries {
            for client in clients {
                if client.enqueue(Arc::clone(frame)) {
                    to_wake.push(client);
                }
            }
        }
        for client in to_wake {
            client.wake_up();
        }
    }

    /// Queues `frame` for every connected socket.
    pub fn broadcast(&self, frame: &Arc<str>) {
        for client in self.all_clients_except(None) {
            client.push(frame.clone());
        }
    }

    /// Queues `frame` for every connected socket except those of `user`.
    pub fn broadcast_except(&self, user: &str, frame: &Arc<str>) {
        for client in self.all_clients_except(Some(user)) {
            client.push(frame.clone());
        }
    }

    /// Ends the sockets of one session (or of every session of `user` when `session_id` is
    /// `None`), after telling them `session_revoked`.
    pub fn revoke(&self, user: &str, session_id: Option<&str>) {
        for client in self.clients_of([user]) {
            if session_id.is_none_or(|id| id == client.session_id) {
                client.kick(Kick::SessionRevoked);
            }
        }
    }

    pub fn close_all(&self) {
        for client in self.all_clients_except(None) {
            client.kick(Kick::ShuttingDown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_is_the_best_state_over_sockets() {
        let hub = Hub::default();
        let a = hub.register("alice", "s1").unwrap();
        assert_eq!(hub.presence_change("alice"), Some(Presence::Active));
        assert_eq!(hub.presence_change("alice"), None);
        let b = hub.register("alice", "s2").unwrap();
        let now = Instant::now();
        assert!(a.report_state(Presence::Hidden, now));
        assert_eq!(hub.presence_change("alice"), None);
        assert!(b.report_state(Presence::Idle, now));
        assert_eq!(hub.presence_change("alice"), Some(Presence::Idle));
        hub.unregister(&b);
        assert_eq!(hub.presence_change("alice"), Some(Presence::Hidden));
        hub.unregister(&a);
        assert_eq!(hub.presence_change("alice"), Some(Presence::Offline));
        assert_eq!(hub.presence_of("alice"), Presence::Offline);
    }

    #[test]
    fn typing_is_announced_once_per_key_and_window() {
        let start = Instant::now();
        let mut throttle = TypingThrottle::new(2);
        assert!(throttle.allow("general", start));
        assert!(!throttle.allow("general", start + Duration::from_millis(1_999)));
        assert!(throttle.allow("random", start));
        assert!(
            !throttle.allow("dm:a:b", start + Duration::from_millis(10)),
            "no more keys than max_keys in one window"
        );
        assert!(throttle.allow("general", start + TYPING_WINDOW));
        assert!(
            throttle.allow("dm:a:b", start + TYPING_WINDOW),
            "expired keys make room"
        );
        assert_eq!(throttle.announced.len(), 2);
    }

    #[test]
    fn a_socket_announces_typing_per_channel() {
        let hub = Hub::default();
        let a = hub.register("alice", "s1").unwrap();
        let now = Instant::now();
        assert!(a.may_announce_typing("general", now));
        assert!(!a.may_announce_typing("general", now));
        assert!(a.may_announce_typing("random", now));
        let b = hub.register("alice", "s2").unwrap();
        assert!(b.may_announce_typing("general", now), "per socket");
        assert!(hub.may_announce_http_typing("alice", "general", now));
        assert!(!hub.may_announce_http_typing("alice", "general", now));
        assert!(hub.may_announce_http_typing("bob", "general", now));
        hub.typing_ended("alice", "general");
        assert!(
            a.may_announce_typing("general", now),
            "a message ends typing"
        );
        assert!(hub.may_announce_http_typing("alice", "general", now));
        assert!(!a.may_announce_typing("random", now));
    }

    #[test]
    fn call_signals_come_in_bursts_of_200_then_20_a_second() {
        let hub = Hub::default();
        let a = hub.register("alice", "s1").unwrap();
        let now = Instant::now();
        let sent = (0..1000).filter(|_| a.may_signal(now)).count();
        assert_eq!(sent, 200);
        let later = now + std::time::Duration::from_millis(500);
        assert_eq!((0..1000).filter(|_| a.may_signal(later)).count(), 10);
    }

    #[test]
    fn presence_changes_inside_the_window_wait_for_its_end() {
        let hub = Hub::default();
        let a = hub.register("alice", "s1").unwrap();
        let start = Instant::now();
        assert!(!a.report_state(Presence::Active, start), "not a change");
        assert!(a.report_state(Presence::Idle, start));
        assert_eq!(a.presence_due(), None);
        let later = start + Duration::from_millis(300);
        assert!(!a.report_state(Presence::Active, later));
        assert!(!a.report_state(Presence::Idle, later));
        assert_eq!(a.presence_due(), Some(start + PRESENCE_WINDOW));
        assert!(!a.take_due_presence(later));
        let end = start + PRESENCE_WINDOW;
        assert!(a.take_due_presence(end));
        assert_eq!(a.presence_due(), None, "nothing left to wake for");
        assert!(!a.take_due_presence(end));
        assert!(!a.report_state(Presence::Hidden, end), "a new window began");
        assert!(hub.report_user_state("alice", Presence::Active, end + PRESENCE_WINDOW));
        assert_eq!(hub.presence_change("alice"), Some(Presence::Active));
    }

    #[test]
    fn slow_clients_are_kicked_not_grown() {
        let hub = Hub::default();
        let a = hub.register("alice", "s1").unwrap();
        let frame: Arc<str> = Arc::from("{}");
        for _ in 0..QUEUE_MAX + 5 {
            hub.send_to(["alice"], &frame);
        }
        assert_eq!(a.kicked(), Kick::TooSlow);
        let mut out = Vec::new();
        a.take(usize::MAX, &mut out);
        assert_eq!(out.len(), QUEUE_MAX);
    }
}
