//! The chat model: channel ids and who may read or write them, message objects and
//! mentions, reading history into message objects, the accepted reactions. No HTTP and no SQL
//! text: reads go through `db`, refusals are `Refusal`s that the edge turns into responses.

pub mod calls;
pub mod channels;
pub mod history;
pub mod messages;
pub mod reactions;

/// Why the model or the store will not do what was asked. The edge turns each into an HTTP
/// status and message (`api`); the words here are the ones the user reads.
#[derive(Debug)]
pub enum Refusal {
    /// The request names something malformed (400).
    Invalid(String),
    /// The caller may not do this (403).
    Forbidden(String),
    /// Nothing there, or nothing the caller may see (404).
    NotFound,
    /// The current state does not allow it (409).
    Conflict(String),
    /// The server cannot take it now; trying again later may work (503).
    Unavailable(String),
    /// Something failed on our side (500); the cause is logged, never shown.
    Failed(anyhow::Error),
}

impl Refusal {
    /// Naming usernames that do not exist.
    pub fn unknown_users(names: &[&str]) -> Refusal {
        let plural = if names.len() == 1 { "" } else { "s" };
        Refusal::Invalid(format!("Unknown user{plural}: {}", names.join(", ")))
    }
}

impl From<anyhow::Error> for Refusal {
    fn from(e: anyhow::Error) -> Refusal {
        Refusal::Failed(e)
    }
}

impl From<rusqlite::Error> for Refusal {
    fn from(e: rusqlite::Error) -> Refusal {
        Refusal::Failed(e.into())
    }
}

/// The words for an admin or a log line (users get them through `HttpError`).
impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Invalid(why)
            | Refusal::Forbidden(why)
            | Refusal::Conflict(why)
            | Refusal::Unavailable(why) => f.write_str(why),
            Refusal::NotFound => f.write_str("Not found"),
            Refusal::Failed(e) => write!(f, "{e:#}"),
        }
    }
}
