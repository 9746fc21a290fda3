//! Calls as people see them: the call object of `/api/calls` and the `call` event, who may be
//! in one (the members of a DM or private channel; public channels have no calls), how many at
//! once, and the words of the notices a call leaves in its channel. No HTTP and no SQL.

use super::channels::ChannelId;
use super::Refusal;
use crate::base::json::Json;
use crate::db::calls::{CallRow, ParticipantRow};

/// Most people in one call at once: every one sends to every other (full mesh).
pub const MAX_IN_CALL: usize = 6;

/// The call object: `{call_id, channel, initiator, state, started_ts, answered_ts, ended_ts,
/// participants: [{username, role, state}]}`.
pub fn call_json(call: &CallRow, participants: &[ParticipantRow]) -> Json {
    let opt = |v: Option<f64>| v.map_or(Json::Null, Json::Num);
    Json::obj([
        ("call_id", Json::str(&call.call_id)),
        ("channel", Json::str(&call.channel)),
        ("initiator", Json::str(&call.initiator)),
        ("state", Json::str(&call.state)),
        ("started_ts", Json::Num(call.started_ts)),
        ("answered_ts", opt(call.answered_ts)),
        ("ended_ts", opt(call.ended_ts)),
        (
            "participants",
            Json::Arr(
                participants
                    .iter()
                    .map(|p| {
                        Json::obj([
                            ("username", Json::str(&p.username)),
                            ("role", Json::str(&p.role)),
                            ("state", Json::str(&p.state)),
                        ])
                    })
                    .collect(),
            ),
        ),
    ])
}

/// Refuses channels that cannot have calls: public channels (everyone reads them) and the
/// read-only notice DM.
pub fn require_callable(channel: &ChannelId) -> Result<(), Refusal> {
    match channel {
        ChannelId::Public(_) => Err(Refusal::Invalid(
            "Calls are for direct messages and private channels, not public channels".into(),
        )),
        ChannelId::Dm(users) if users.iter().any(|u| u == "system") => Err(Refusal::Forbidden(
            "You cannot call the system notices".into(),
        )),
        _ => Ok(()),
    }
}

/// Whether `user` may see a call: they are in it (rung, answered or gone) or may read its
/// conversation. The one rule for listing, viewing and joining calls.
pub fn may_see(
    public_channels: &[String],
    presence: &rusqlite::Connection,
    call: &CallRow,
    user: &str,
) -> Result<bool, Refusal> {
    if crate::db::calls::participant_state(presence, &call.call_id, user)?.is_some() {
        return Ok(true);
    }
    Ok(ChannelId::parse(&call.channel).is_ok_and(|channel| {
        super::channels::require_access(public_channels, presence, user, &channel).is_ok()
    }))
}

/// Whether a call's state is one a person can still join.
pub fn is_live(state: &str) -> bool {
    matches!(state, "ringing" | "active")
}

/// The notice a finished call leaves: how long it lasted, or that it was missed or declined.
pub fn end_notice(call: &CallRow, declined_by: Option<&str>, now: f64) -> String {
    match (declined_by, call.answered_ts) {
        (Some(user), None) => format!("{user} declined the call"),
        (_, Some(answered)) => format!("Call ended after {}", duration((now - answered).max(0.0))),
        (None, None) => format!("Missed call from {}", call.initiator),
    }
}

/// `42 s`, `3 min 12 s`, `1 h 5 min`.
fn duration(secs: f64) -> String {
    let secs = secs.round() as u64;
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(answered: Option<f64>) -> CallRow {
        CallRow {
            call_id: "c".into(),
            channel: "dm:alice:bob".into(),
            initiator: "alice".into(),
            state: "active".into(),
            started_ts: 100.0,
            answered_ts: answered,
            ended_ts: None,
        }
    }

    #[test]
    fn notices_say_what_happened() {
        assert_eq!(
            end_notice(&call(Some(110.0)), None, 302.4),
            "Call ended after 3 min 12 s"
        );
        assert_eq!(
            end_notice(&call(Some(110.0)), None, 152.0),
            "Call ended after 42 s"
        );
        assert_eq!(
            end_notice(&call(Some(0.0)), None, 3900.0),
            "Call ended after 1 h 5 min"
        );
        assert_eq!(
            end_notice(&call(None), None, 130.0),
            "Missed call from alice"
        );
        assert_eq!(
            end_notice(&call(None), Some("bob"), 130.0),
            "bob declined the call"
        );
    }

    #[test]
    fn only_dms_and_private_channels_have_calls() {
        assert!(require_callable(&ChannelId::parse("general").unwrap()).is_err());
        assert!(require_callable(&ChannelId::parse("dm:alice:system").unwrap()).is_err());
        assert!(require_callable(&ChannelId::parse("dm:alice:bob").unwrap()).is_ok());
        assert!(require_callable(&ChannelId::parse("private:3").unwrap()).is_ok());
    }
}
