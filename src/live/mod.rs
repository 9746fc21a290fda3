//! Live sockets: the registry of connected clients with their bounded queues and wake fds, the
//! per-socket loop, presence and typing. Events are serialised once and pushed here; nothing in
//! this layer writes a user's database.

pub mod announce;
pub mod hub;
pub mod socket;

use crate::db::Pool;
use hub::Hub;

/// What the live layer works with, borrowed from the server's state.
pub struct Live<'a> {
    pub hub: &'a Hub,
    pub presence_db: &'a Pool,
    /// The public channels in settings.json (everyone may read them).
    pub public_channels: &'a [String],
}
