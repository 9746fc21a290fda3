//! `Core`: the server's state below the edge — the databases, the settings, the live sockets'
//! registry and the writer's queue. The writer, cleanup and the control socket work with
//! `&Core`; the edge's `Ctx` adds what only requests need (sessions, rate limits, hashing,
//! assets, deadlines) and derefs to it.

use crate::base::config::Settings;
use crate::base::stop::Stop;
use crate::db::Databases;
use crate::live::hub::Hub;
use crate::live::Live;
use crate::store::Store;

pub struct Core {
    pub dbs: Databases,
    /// settings.json as it was at startup (most keys are read then).
    pub settings: Settings,
    pub hub: Hub,
    /// The writer thread's queue: every write to users' databases goes through it.
    pub store: Store,
    /// Wakes the thread that ends calls nobody answered (nudged when a call starts ringing).
    pub call_timer: Stop,
}

impl Core {
    pub fn new(dbs: Databases, settings: Settings) -> Core {
        Core {
            dbs,
            settings,
            hub: Hub::default(),
            store: Store::default(),
            call_timer: Stop::default(),
        }
    }

    /// What the live layer needs: the registry, presence.db and the public channels.
    pub fn live(&self) -> Live<'_> {
        Live {
            hub: &self.hub,
            presence_db: &self.dbs.presence_db,
            public_channels: &self.settings.channels,
        }
    }

    /// A core over an existing data dir for the admin subcommands (no network, no TLS).
    pub fn open_for_admin(data_dir: &std::path::Path) -> anyhow::Result<Core> {
        use anyhow::Context as _;
        if !data_dir.join("auth.db").exists() {
            anyhow::bail!(
                "{} is not a MiniMost data dir (no auth.db); pass --data-dir or set MINIMOST_DATA_DIR",
                data_dir.display()
            );
        }
        crate::base::config::require_access(data_dir, true)?;
        let data_dir = data_dir
            .canonicalize()
            .with_context(|| format!("cannot open the data dir {}", data_dir.display()))?;
        let settings =
            crate::base::config::load_settings(&data_dir, &mut |w| crate::log!("warning: {w}"))?;
        Ok(Core::new(Databases::open(data_dir)?, settings))
    }
}

/// The databases are the core's most used part: `core.presence_db`, `core.data_dir`.
impl std::ops::Deref for Core {
    type Target = Databases;

    fn deref(&self) -> &Databases {
        &self.dbs
    }
}
