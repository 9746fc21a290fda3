//! `Ctx`: everything a request handler may use, built once by `serve` and passed as `&Ctx`.
//! There is no global state, so two servers can run in one process.

use crate::base::assets::Assets;
use crate::base::config::Settings;
use crate::base::limits::RateLimiter;
use crate::base::password::HashGate;
use crate::base::sessions::SessionKey;
use crate::db::{Pool, UserDbs};
use crate::live::hub::Hub;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

pub struct Ctx {
    pub data_dir: PathBuf,
    /// settings.json as it was at startup (most keys are read then).
    pub settings: Settings,
    /// The keys read while running (lockout, session expiry), following the file.
    pub live_settings: crate::base::config::LiveSettings,
    /// Whether this server terminates TLS itself (false under `--no-tls`).
    pub tls: bool,
    pub auth_db: Pool,
    pub presence_db: Pool,
    pub session_key: SessionKey,
    pub hub: Hub,
    /// The writer thread's queue: every write to users' databases goes through it.
    pub store: crate::store::Store,
    /// Users' databases waiting for a background checkpoint.
    pub checkpoints: crate::store::Checkpoints,
    /// Idle read connections to users' databases.
    pub user_dbs: UserDbs,
    pub hash_gate: HashGate,
    pub limiter: RateLimiter,
    /// Serialises presence announcements so the last one sent is the true state.
    pub presence_order: Mutex<()>,
    pub assets: Assets,
    /// The local CA certificate, when this server generated its own TLS certificate.
    pub ca_pem: Option<Vec<u8>>,
    /// How long a client may take over each part of a request.
    pub deadlines: crate::http::Deadlines,
    pub shutting_down: AtomicBool,
    /// An Argon2id hash of a random password, verified against for unknown usernames so they
    /// cost the same time as wrong passwords. Made on first use to keep startup fast.
    dummy_hash: OnceLock<String>,
}

pub struct CtxParts {
    pub data_dir: PathBuf,
    pub settings: Settings,
    pub tls: bool,
    pub auth_db: Pool,
    pub presence_db: Pool,
    pub session_key: SessionKey,
    pub ca_pem: Option<Vec<u8>>,
    pub deadlines: crate::http::Deadlines,
}

impl Ctx {
    pub fn new(parts: CtxParts) -> Ctx {
        let hashers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let user_dbs = UserDbs::new(parts.data_dir.join("users"));
        let live_settings =
            crate::base::config::LiveSettings::new(&parts.data_dir, parts.settings.clone());
        Ctx {
            user_dbs,
            live_settings,
            limiter: RateLimiter::new(parts.settings.login_rate, parts.settings.signup_rate),
            data_dir: parts.data_dir,
            settings: parts.settings,
            tls: parts.tls,
            auth_db: parts.auth_db,
            presence_db: parts.presence_db,
            session_key: parts.session_key,
            hub: Hub::default(),
            store: crate::store::Store::default(),
            checkpoints: crate::store::Checkpoints::default(),
            hash_gate: HashGate::new(hashers),
            presence_order: Mutex::new(()),
            assets: Assets::load(),
            ca_pem: parts.ca_pem,
            deadlines: parts.deadlines,
            shutting_down: AtomicBool::new(false),
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

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

impl Ctx {
    /// A context over an existing data dir for the admin subcommands (no network, no TLS).
    pub fn open_for_admin(data_dir: &std::path::Path) -> anyhow::Result<Ctx> {
        use anyhow::Context as _;
        if !data_dir.join("auth.db").exists() {
            anyhow::bail!(
                "{} is not a MiniMost data dir (no auth.db); pass --data-dir or set MINIMOST_DATA_DIR",
                data_dir.display()
            );
        }
        let data_dir = data_dir
            .canonicalize()
            .with_context(|| format!("cannot open the data dir {}", data_dir.display()))?;
        let settings =
            crate::base::config::load_settings(&data_dir, &mut |w| eprintln!("warning: {w}"))?;
        Ok(Ctx::new(CtxParts {
            auth_db: Pool::open(data_dir.join("auth.db"), crate::db::Kind::Auth)?,
            presence_db: Pool::open(data_dir.join("presence.db"), crate::db::Kind::Presence)?,
            data_dir,
            settings,
            tls: false,
            // Admin commands never see a session cookie.
            session_key: SessionKey::new(Vec::new()),
            ca_pem: None,
            deadlines: crate::http::Deadlines::DEFAULT,
        }))
    }
}
