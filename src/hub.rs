//! Who is connected: the registry of live WebSocket clients, their bounded outgoing queues and
//! wake-up file descriptors, and fan-out of serialised events to users. Presence is derived
//! here from socket states. No SQL, no sockets (the `ws` module owns those).

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// Frames a client may have waiting before it is disconnected as too slow.
pub const QUEUE_MAX: usize = 1024;

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

/// An eventfd the socket thread polls beside its socket; signalling it wakes the thread.
pub struct WakeFd(OwnedFd);

impl WakeFd {
    pub fn new() -> std::io::Result<WakeFd> {
        // SAFETY: eventfd returns a new descriptor we own, or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor owned by nobody else.
        Ok(WakeFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    pub fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our own eventfd. A full counter (EAGAIN)
        // still leaves it readable, which is all a wake-up needs.
        unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    pub fn drain(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64 from our own non-blocking eventfd.
        unsafe { libc::read(self.0.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
    }

    pub fn raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Waits up to `timeout` until `fd` has one of `events` or this wake fd is signalled.
    pub fn wait_with(
        &self,
        fd: RawFd,
        events: i16,
        timeout: std::time::Duration,
    ) -> std::io::Result<()> {
        let mut fds = [
            libc::pollfd {
                fd,
                events,
                revents: 0,
            },
            libc::pollfd {
                fd: self.raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: fds is a valid array of two pollfd for the duration of the call.
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) } < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        Ok(())
    }
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
}

impl Client {
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

#[derive(Default)]
pub struct Hub {
    users: Mutex<HashMap<String, UserEntry>>,
    next_id: AtomicU64,
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

    pub fn set_client_state(&self, client: &Client, state: Presence) {
        client.state.store(state as u8, Ordering::Release);
    }

    /// Sets the state of every socket of `user`.
    pub fn set_user_state(&self, user: &str, state: Presence) {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        for client in users
            .get(user)
            .map(|e| e.clients.as_slice())
            .unwrap_or_default()
        {
            client.state.store(state as u8, Ordering::Release);
        }
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
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let mut to_wake: Vec<&Arc<Client>> = Vec::new();
        for (to, frame) in frames {
            for user in to {
                if let Some(entry) = users.get(user) {
                    for client in &entry.clients {
                        if client.enqueue(frame.clone()) {
                            to_wake.push(client);
                        }
                    }
                }
            }
        }
        for client in to_wake {
            client.wake_up();
        }
    }

    /// Queues `frame` for every connected socket.
    pub fn broadcast(&self, frame: &Arc<str>) {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        for client in users.values().flat_map(|e| &e.clients) {
            client.push(frame.clone());
        }
    }

    /// Queues `frame` for every connected socket except those of `user`.
    pub fn broadcast_except(&self, user: &str, frame: &Arc<str>) {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        for client in users
            .iter()
            .filter(|(u, _)| *u != user)
            .flat_map(|(_, e)| &e.clients)
        {
            client.push(frame.clone());
        }
    }

    /// Ends the sockets of one session (or of every session of `user` when `session_id` is
    /// `None`), after telling them `session_revoked`.
    pub fn revoke(&self, user: &str, session_id: Option<&str>) {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = users.get(user) {
            for client in &entry.clients {
                if session_id.is_none_or(|id| id == client.session_id) {
                    client.kick(Kick::SessionRevoked);
                }
            }
        }
    }

    pub fn close_all(&self) {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        for client in users.values().flat_map(|e| &e.clients) {
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
        hub.set_client_state(&a, Presence::Hidden);
        assert_eq!(hub.presence_change("alice"), None);
        hub.set_client_state(&b, Presence::Idle);
        assert_eq!(hub.presence_change("alice"), Some(Presence::Idle));
        hub.unregister(&b);
        assert_eq!(hub.presence_change("alice"), Some(Presence::Hidden));
        hub.unregister(&a);
        assert_eq!(hub.presence_change("alice"), Some(Presence::Offline));
        assert_eq!(hub.presence_of("alice"), Presence::Offline);
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
