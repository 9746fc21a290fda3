//! Live sockets: the registry of connected clients with their bounded queues and wake fds, the
//! per-socket loop, presence and typing. Events are serialised once and pushed here; nothing in
//! this layer writes a user's database.

pub mod hub;
pub mod socket;
