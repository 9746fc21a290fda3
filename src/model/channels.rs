//! Channel ids and who may see them: public channels from settings.json,
//! `private:<n>` for members, `dm:a:b[:c…]` for the named users. Checks run on every read and
//! write. No HTTP routing; errors are `Refusal` because these checks answer requests.

use crate::base::json::Json;
use crate::base::names::Username;
use crate::db;
use crate::model::Refusal;
use rusqlite::Connection;

/// Most people in one group DM.
pub const MAX_DM_PARTICIPANTS: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub enum ChannelId {
    Public(String),
    Private(i64),
    /// Participants, de-duplicated and sorted.
    Dm(Vec<String>),
}

impl ChannelId {
    /// Parses a channel id from a URL or body; DMs are canonicalised (any order accepted).
    pub fn parse(text: &str) -> Result<ChannelId, Refusal> {
        let bad = |why: &str| Refusal::Invalid(format!("Invalid channel \"{text}\": {why}"));
        if let Some(n) = text.strip_prefix("private:") {
            let id: i64 = n.parse().map_err(|_| bad("expected private:<number>"))?;
            return if id > 0 {
                Ok(ChannelId::Private(id))
            } else {
                Err(bad("expected private:<number>"))
            };
        }
        if let Some(names) = text.strip_prefix("dm:") {
            let mut users = Vec::new();
            for name in names.split(':') {
                let name = Username::parse_existing(name).map_err(|e| bad(&e))?;
                users.push(name.as_str().to_owned());
            }
            users.sort();
            users.dedup();
            if users.len() > MAX_DM_PARTICIPANTS {
                return Err(bad(&format!(
                    "a conversation has at most {MAX_DM_PARTICIPANTS} people"
                )));
            }
            return Ok(ChannelId::Dm(users));
        }
        if crate::base::config::is_valid_public_channel(text) {
            Ok(ChannelId::Public(text.to_owned()))
        } else {
            Err(bad("no such channel name"))
        }
    }

    pub fn is_dm(&self) -> bool {
        matches!(self, ChannelId::Dm(_))
    }

    /// The system reset-notice conversation `dm:<user>:system`, which nobody may post to.
    pub fn is_system_dm(&self) -> bool {
        matches!(self, ChannelId::Dm(users) if users.iter().any(|u| u == "system"))
    }
}

impl std::fmt::Display for ChannelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChannelId::Public(name) => f.write_str(name),
            ChannelId::Private(id) => write!(f, "private:{id}"),
            ChannelId::Dm(users) => write!(f, "dm:{}", users.join(":")),
        }
    }
}

/// Refuses unless `user` may read (and so write) `channel`: 404 for unknown public channels
/// and for private channels they are not in (their existence is private), 403 for DMs that
/// do not name them.
pub fn require_access(
    public_channels: &[String],
    presence: &Connection,
    user: &str,
    channel: &ChannelId,
) -> Result<(), Refusal> {
    match channel {
        ChannelId::Public(name) => {
            if public_channels.iter().any(|c| c == name) {
                Ok(())
            } else {
                Err(Refusal::NotFound)
            }
        }
        ChannelId::Private(id) => {
            if db::presence::is_member(presence, *id, user)? {
                Ok(())
            } else {
                Err(Refusal::NotFound)
            }
        }
        ChannelId::Dm(users) => {
            if users.iter().any(|u| u == user) {
                Ok(())
            } else {
                Err(Refusal::Forbidden(
                    "You are not part of this conversation".into(),
                ))
            }
        }
    }
}

/// The channels other than DMs that `user` may read now: the public ones and their private
/// ones. (A DM is readable by the people it names, which a copy in their database always does.)
pub fn readable_channels(
    public_channels: &[String],
    presence: &Connection,
    user: &str,
) -> Result<Vec<String>, Refusal> {
    let mut readable = public_channels.to_vec();
    readable.extend(
        db::presence::private_channels_of(presence, user)?
            .iter()
            .map(|c| format!("private:{}", c.id)),
    );
    Ok(readable)
}

/// Refuses writing where reading is allowed but posting is not (the system notice DM).
pub fn require_writable(channel: &ChannelId) -> Result<(), Refusal> {
    if channel.is_system_dm() {
        return Err(Refusal::Forbidden("This conversation is read-only".into()));
    }
    Ok(())
}

/// The private-channel object of `GET /api/channels`.
pub fn private_channel_json(
    presence: &rusqlite::Connection,
    channel: &db::presence::PrivateChannel,
    unread: Json,
) -> Result<Json, Refusal> {
    let members = db::presence::private_members(presence, channel.id)?
        .into_iter()
        .map(Json::Str)
        .collect();
    Ok(Json::obj([
        ("id", Json::str(format!("private:{}", channel.id))),
        ("name", channel.name.as_str().into()),
        ("members", Json::Arr(members)),
        ("created_by", channel.created_by.as_str().into()),
        ("unread", unread),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dm_ids_are_canonical() {
        assert_eq!(
            ChannelId::parse("dm:bob:alice:bob").unwrap().to_string(),
            "dm:alice:bob"
        );
        assert_eq!(
            ChannelId::parse("dm:carol:Bob:alice").unwrap().to_string(),
            "dm:Bob:alice:carol"
        );
        assert!(ChannelId::parse("dm:").is_err());
        assert!(ChannelId::parse("dm:a::b").is_err());
        assert!(ChannelId::parse("dm:../x").is_err());
        assert!(ChannelId::parse("dm:alice:system").unwrap().is_system_dm());
    }

    #[test]
    fn private_and_public_ids() {
        assert_eq!(
            ChannelId::parse("private:7").unwrap(),
            ChannelId::Private(7)
        );
        assert!(ChannelId::parse("private:0").is_err());
        assert!(ChannelId::parse("private:x").is_err());
        assert_eq!(
            ChannelId::parse("general").unwrap(),
            ChannelId::Public("general".into())
        );
        assert!(ChannelId::parse("").is_err());
        assert!(ChannelId::parse("a:b").is_err());
    }
}
