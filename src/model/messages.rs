//! The message model: ids, validation, and turning a copy's stored rows (one text row plus one
//! row per file, sharing a ts) into the message object the API returns. No SQL and no HTTP.

use crate::base::json::{self, Json};
use crate::db::user::StoredRow;
use crate::files::uploads::{is_image_name, original_name};
use std::path::Path;

/// Longest message text, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;

/// A message id: its ts in shortest round-trip decimal (Rust's `f64` Display).
pub fn id_of(ts: f64) -> String {
    format!("{ts}")
}

/// Parses a message id; `None` unless it is a finite, positive number.
pub fn parse_id(text: &str) -> Option<f64> {
    text.parse::<f64>()
        .ok()
        .filter(|ts| ts.is_finite() && *ts > 0.0)
}

/// Rounds a clock reading to whole microseconds, so ids stay short and exact.
pub fn round_ts(ts: f64) -> f64 {
    (ts * 1e6).round() / 1e6
}

/// The mentions that reach every member of a conversation, stored with their `@` (which no
/// username has) beside the named users in the `mentions` column.
pub const BROAD_MENTIONS: [&str; 3] = ["@everyone", "@channel", "@here"];

/// `@name` mentions of the given users in `text`, and the broad `@everyone`, `@channel` and
/// `@here`, as a JSON array (or `None`).
pub fn mentions(text: &str, is_user: impl Fn(&str) -> Option<String>) -> Option<String> {
    let mut found: Vec<String> = Vec::new();
    // `i` comes from `match_indices` and `@` is one byte, so `i` and `i + 1` are character
    // boundaries.
    for (i, _) in text.match_indices('@') {
        let preceded_by_word = text[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric());
        if preceded_by_word {
            continue;
        }
        let name: String = text[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        let broad = BROAD_MENTIONS
            .iter()
            .find(|b| b[1..].eq_ignore_ascii_case(&name));
        if let Some(broad) = broad {
            if !found.iter().any(|f| f == broad) {
                found.push((*broad).to_owned());
            }
        } else if let Some(user) = is_user(&name) {
            if !found.contains(&user) {
                found.push(user);
            }
        }
    }
    (!found.is_empty())
        .then(|| Json::Arr(found.into_iter().map(Json::Str).collect()).to_json_string())
}

/// The stored `mentions` column as a JSON array of strings (anything unreadable is none).
fn mentions_json(stored: Option<&str>) -> Json {
    match stored.map(json::parse) {
        Some(Ok(Json::Arr(items))) => Json::Arr(
            items
                .into_iter()
                .filter(|i| matches!(i, Json::Str(_)))
                .collect(),
        ),
        _ => Json::Arr(Vec::new()),
    }
}

/// What a reply points at, recorded in the row's `metadata`.
pub fn reply_metadata(parent_ts: f64) -> String {
    Json::obj([("reply_to_ts", Json::Num(parent_ts))]).to_json_string()
}

/// Splits rows (ordered by ts) into messages.
pub fn group_by_message(rows: Vec<StoredRow>) -> Vec<Vec<StoredRow>> {
    let mut out: Vec<Vec<StoredRow>> = Vec::new();
    for row in rows {
        match out.last_mut() {
            Some(group) if group[0].ts == row.ts => group.push(row),
            _ => out.push(vec![row]),
        }
    }
    out
}

/// How a message's reply target is known.
pub enum ReplyTarget {
    None,
    /// The parent's ts.
    Found(f64),
    /// A reply whose parent can no longer be resolved (sender's database gone).
    Unavailable,
}

/// The parent recorded in a row's metadata, if any.
pub fn reply_ts_from_metadata(metadata: Option<&str>) -> Option<f64> {
    json::parse(metadata?).ok()?.get("reply_to_ts")?.as_f64()
}

/// Reactions in first-reacted order: name → reactors.
pub type Reactions = Vec<(String, Vec<String>)>;

pub fn reactions_json(reactions: &Reactions) -> Json {
    Json::Obj(
        reactions
            .iter()
            .map(|(emoji, users)| {
                (
                    emoji.clone(),
                    Json::Arr(users.iter().map(|u| Json::str(u.as_str())).collect()),
                )
            })
            .collect(),
    )
}

/// Groups (emoji, reactor) pairs.
pub fn collect_reactions<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Reactions {
    let mut out: Reactions = Vec::new();
    for (emoji, reactor) in pairs {
        match out.iter_mut().find(|(e, _)| e == emoji) {
            Some((_, users)) => users.push(reactor.to_owned()),
            None => out.push((emoji.to_owned(), vec![reactor.to_owned()])),
        }
    }
    out
}

/// The message object for one message's rows.
pub fn render(
    rows: &[StoredRow],
    reactions: &Reactions,
    reply: ReplyTarget,
    uploads: &Path,
) -> Json {
    let first = &rows[0];
    let text_row = rows.iter().find(|r| r.filename.is_none());
    let deleted = rows.iter().any(|r| r.deleted);
    let system = first.content_type.as_deref() == Some("system");
    let mut fields: Vec<(String, Json)> = vec![
        ("id".into(), Json::str(id_of(first.ts))),
        ("channel".into(), Json::str(first.channel.as_str())),
        ("sender".into(), Json::str(first.sender.as_str())),
        ("system".into(), Json::Bool(system)),
    ];
    if deleted {
        fields.extend([
            ("text".into(), Json::str("")),
            ("ts".into(), Json::Num(first.ts)),
            ("edited_ts".into(), Json::Null),
            ("deleted".into(), Json::Bool(true)),
            ("reply_to".into(), Json::Null),
            ("reactions".into(), Json::Obj(Vec::new())),
            ("files".into(), Json::Arr(Vec::new())),
            ("mentions".into(), Json::Arr(Vec::new())),
        ]);
        return Json::Obj(fields);
    }
    let (reply_to, reply_unavailable) = match reply {
        ReplyTarget::None => (Json::Null, false),
        ReplyTarget::Found(ts) => (Json::str(id_of(ts)), false),
        ReplyTarget::Unavailable => (Json::Null, true),
    };
    let files: Vec<Json> = rows
        .iter()
        .filter_map(|r| {
            r.filename
                .as_deref()
                .map(|name| file_json(name, r.metadata.as_deref(), uploads))
        })
        .collect();
    fields.extend([
        (
            "text".into(),
            Json::str(text_row.and_then(|r| r.content.clone()).unwrap_or_default()),
        ),
        ("ts".into(), Json::Num(first.ts)),
        (
            "edited_ts".into(),
            text_row
                .and_then(|r| r.edited_ts)
                .map_or(Json::Null, Json::Num),
        ),
        ("deleted".into(), Json::Bool(false)),
        ("reply_to".into(), reply_to),
        ("reactions".into(), reactions_json(reactions)),
        ("files".into(), Json::Arr(files)),
        (
            "mentions".into(),
            mentions_json(text_row.and_then(|r| r.mentions.as_deref())),
        ),
    ]);
    if reply_unavailable {
        fields.push(("reply_unavailable".into(), Json::Bool(true)));
    }
    Json::Obj(fields)
}

fn file_json(name: &str, metadata: Option<&str>, uploads: &Path) -> Json {
    // Stored names are generated, but rows may come from old files: never let one escape.
    let safe = !name.is_empty() && !name.contains('/') && !name.starts_with('.');
    let size = safe
        .then(|| std::fs::metadata(uploads.join(name)).ok())
        .flatten()
        .map(|m| m.len());
    Json::obj([
        ("name", Json::str(name)),
        ("original", Json::str(original_name(name, metadata))),
        ("url", Json::str(format!("/files/{name}"))),
        ("image", Json::Bool(is_image_name(name))),
        ("size", Json::Num(size.unwrap_or(0) as f64)),
        ("gone", Json::Bool(size.is_none())),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let ts = round_ts(1716000000.1234567);
        assert_eq!(id_of(ts), "1716000000.123457");
        assert_eq!(parse_id(&id_of(ts)), Some(ts));
        assert_eq!(parse_id("nan"), None);
        assert_eq!(parse_id("-1"), None);
        assert_eq!(parse_id("inf"), None);
    }

    #[test]
    fn finds_mentions_of_known_users() {
        let known = |n: &str| {
            ["alice", "bob"]
                .iter()
                .find(|u| u.eq_ignore_ascii_case(n))
                .map(|u| u.to_string())
        };
        assert_eq!(
            mentions("hi @Alice and @bob, @bob again, @carol, a@bob", known).as_deref(),
            Some(r#"["alice","bob"]"#)
        );
        assert_eq!(mentions("nobody here", known), None);
        assert_eq!(
            mentions("@Here @bob @channel, @everyone @here! me@everyone", known).as_deref(),
            Some(r#"["@here","bob","@channel","@everyone"]"#)
        );
    }
}
