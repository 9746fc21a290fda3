//! `Ctx`: everything a request handler may use, built once by `serve` and passed as `&Ctx`:
//! the `Core` (databases, settings, live sockets, the writer's queue), which it derefs to, plus
//! what only requests need. There is no global state, so two servers can run in one process.

use crate::base::assets::Assets;
use crate::base::config::{LiveSettings, Settings};
use crate::base::limits::RateLimiter;
use crate::base::memory::Trimmer;
use crate::base::password::HashGate;
use crate::base::sessions::SessionKey;
use crate::base::stop::Stop;
use crate::db::Databases;
use crate::store::core::Core;
use std::sync::OnceLock;

/// The least time between two heap trims after connection threads end.
const TRIM_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

pub struct Ctx {
    pub core: Core,
    /// The keys read while running (lockout, session expiry), following the file.
    pub live_settings: LiveSettings,
    /// Whether this server terminates TLS itself (false under `--no-tls`).
    pub tls: bool,
    pub session_key: SessionKey,
    pub hash_gate: HashGate,
    pub limiter: RateLimiter,
    pub assets: Assets,
    /// The local CA certificate, when this server generated its own TLS certificate…
    pub ca_pem: Option<Vec<u8>>,
    /// …and its SHA-256 fingerprint (`AB:CD:…`), what a device shows when asked to trust it.
    pub ca_fingerprint: Option<String>,
    /// How long a client may take over each part of a request.
    pub deadlines: crate::http::Deadlines,
    /// The UDP port the STUN responder answers on, once it is bound.
    pub stun_port: OnceLock<u16>,
    /// How a program on this machine reaches the server (`https://127.0.0.1:5000`), once bound.
    pub local_url: OnceLock<String>,
    /// The address the server listens on (`0.0.0.0:5000` for every interface), once bound.
    pub listen: OnceLock<std::net::SocketAddr>,
    /// Given when the server begins to shut down: every background thread ends, and no
    /// connection is kept alive.
    pub stop: Stop,
    /// Heap trims asked for by ended connection threads (glibc), run by the `trim` thread.
    pub trimmer: Trimmer,
    /// An Argon2id hash of a random password, verified against for unknown usernames so they
    /// cost the same time as wrong passwords. Made on first use to keep startup fast.
    dummy_hash: OnceLock<String>,
}

pub struct CtxParts {
    pub dbs: Databases,
    pub settings: Settings,
    pub tls: bool,
    pub session_key: SessionKey,
    pub ca_pem: Option<Vec<u8>>,
    pub ca_fingerprint: Option<String>,
    pub deadlines: crate::http::Deadlines,
}

impl Ctx {
    pub fn new(parts: CtxParts) -> Ctx {
        let hashers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let live_settings = LiveSettings::new(&parts.dbs.data_dir, parts.settings.clone());
        Ctx {
            live_settings,
            limiter: RateLimiter::new(parts.settings.login_rate, parts.settings.signup_rate),
            core: Core::new(parts.dbs, parts.settings),
            tls: parts.tls,
            session_key: parts.session_key,
            hash_gate: HashGate::new(hashers),
            assets: Assets::load(),
            ca_pem: parts.ca_pem,
            ca_fingerprint: parts.ca_fingerprint,
            deadlines: parts.deadlines,
            stun_port: OnceLock::new(),
            local_url: OnceLock::new(),
            listen: OnceLock::new(),
            stop: Stop::default(),
            trimmer: Trimmer::new(TRIM_INTERVAL),
            dummy_hash: OnceLock::new(),
        }
    }

    pub fn dummy_hash(&self) -> &str {
        self.dummy_hash.get_or_init(|| {
            crate::base::password::hash(&crate::base::util::hex(
                &crate::base::util::random_bytes::<16>(),
            ))
        })
    }
}

/// Handlers use the core's parts directly: `ctx.presence_db`, `ctx.hub`, `ctx.store`.
impl std::ops::Deref for Ctx {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}
