//! The change model: what a fan-out applies to every recipient's copy (a new message, an
//! edit, a delete, reactions), and its journal encoding in `presence.db.fanout_journal`. Every
//! change is idempotent, so replaying the journal after a crash is always safe. No threads.

use crate::base::json::{self, Json};
use crate::db::{self, user::NewRow};
use rusqlite::Connection;

/// One row of a message to insert (its text, or one file).
#[derive(Debug, Clone)]
pub struct RowData {
    pub content: String,
    pub content_type: String,
    pub filename: Option<String>,
    pub reply_to_id: Option<i64>,
    pub mentions: Option<String>,
    pub metadata: Option<String>,
}

/// A change to apply to every recipient's copy. Applying one twice is harmless.
#[derive(Debug, Clone)]
pub enum Change {
    Insert {
        channel: String,
        ts: f64,
        sender: String,
        read_by: Option<String>,
        rows: Vec<RowData>,
    },
    Edit {
        channel: String,
        ts: f64,
        text: String,
        edited_ts: f64,
        mentions: Option<String>,
    },
    Delete {
        channel: String,
        ts: f64,
        deleted_ts: f64,
    },
    Reactions {
        channel: String,
        ts: f64,
        reactions: String,
        reactions_ts: f64,
    },
}

impl Change {
    pub(super) fn apply(
        &self,
        conn: &Connection,
        recipient: &str,
        replaying: bool,
    ) -> rusqlite::Result<()> {
        match self {
            Change::Insert {
                channel,
                ts,
                sender,
                read_by,
                rows,
            } => {
                for row in rows {
                    db::user::insert_row(
                        conn,
                        &NewRow {
                            channel,
                            sender,
                            content: &row.content,
                            content_type: &row.content_type,
                            filename: row.filename.as_deref(),
                            ts: *ts,
                            read: read_by.as_deref() == Some(recipient),
                            reply_to_id: row.reply_to_id,
                            mentions: row.mentions.as_deref(),
                            metadata: row.metadata.as_deref(),
                        },
                        replaying,
                    )?;
                }
                Ok(())
            }
            Change::Edit {
                channel,
                ts,
                text,
                edited_ts,
                mentions,
            } => db::user::set_text(conn, channel, *ts, text, *edited_ts, mentions.as_deref()),
            Change::Delete {
                channel,
                ts,
                deleted_ts,
            } => db::user::mark_deleted(conn, channel, *ts, *deleted_ts),
            Change::Reactions {
                channel,
                ts,
                reactions,
                reactions_ts,
            } => db::user::set_reactions(conn, channel, *ts, reactions, *reactions_ts),
        }
    }

    pub(super) fn channel(&self) -> &str {
        match self {
            Change::Insert { channel, .. }
            | Change::Edit { channel, .. }
            | Change::Delete { channel, .. }
            | Change::Reactions { channel, .. } => channel,
        }
    }

    pub(super) fn to_json(&self) -> Json {
        let opt = |s: &Option<String>| Json::opt_str(s.clone());
        match self {
            Change::Insert {
                channel,
                ts,
                sender,
                read_by,
                rows,
            } => Json::obj([
                ("op", "insert".into()),
                ("channel", channel.as_str().into()),
                ("ts", Json::Num(*ts)),
                ("sender", sender.as_str().into()),
                ("read_by", opt(read_by)),
                (
                    "rows",
                    Json::Arr(
                        rows.iter()
                            .map(|r| {
                                Json::obj([
                                    ("content", r.content.as_str().into()),
                                    ("content_type", r.content_type.as_str().into()),
                                    ("filename", opt(&r.filename)),
                                    (
                                        "reply_to_id",
                                        r.reply_to_id.map_or(Json::Null, |id| Json::Num(id as f64)),
                                    ),
                                    ("mentions", opt(&r.mentions)),
                                    ("metadata", opt(&r.metadata)),
                                ])
                            })
                            .collect(),
                    ),
                ),
            ]),
            Change::Edit {
                channel,
                ts,
                text,
                edited_ts,
                mentions,
            } => Json::obj([
                ("op", "edit".into()),
                ("channel", channel.as_str().into()),
                ("ts", Json::Num(*ts)),
                ("text", text.as_str().into()),
                ("edited_ts", Json::Num(*edited_ts)),
                ("mentions", opt(mentions)),
            ]),
            Change::Delete {
                channel,
                ts,
                deleted_ts,
            } => Json::obj([
                ("op", "delete".into()),
                ("channel", channel.as_str().into()),
                ("ts", Json::Num(*ts)),
                ("deleted_ts", Json::Num(*deleted_ts)),
            ]),
            Change::Reactions {
                channel,
                ts,
                reactions,
                reactions_ts,
            } => Json::obj([
                ("op", "reactions".into()),
                ("channel", channel.as_str().into()),
                ("ts", Json::Num(*ts)),
                ("reactions", reactions.as_str().into()),
                ("reactions_ts", Json::Num(*reactions_ts)),
            ]),
        }
    }

    pub(super) fn from_json(v: &Json) -> Option<Change> {
        let s = |k: &str| v.get(k).and_then(Json::as_str).map(str::to_owned);
        let n = |k: &str| v.get(k).and_then(Json::as_f64);
        let opt = |j: &Json, k: &str| j.get(k).and_then(Json::as_str).map(str::to_owned);
        let (channel, ts) = (s("channel")?, n("ts")?);
        Some(match s("op")?.as_str() {
            "insert" => {
                let Json::Arr(rows) = v.get("rows")? else {
                    return None;
                };
                let rows = rows
                    .iter()
                    .map(|r| {
                        Some(RowData {
                            content: opt(r, "content")?,
                            content_type: opt(r, "content_type")?,
                            filename: opt(r, "filename"),
                            reply_to_id: r
                                .get("reply_to_id")
                                .and_then(Json::as_f64)
                                .map(|id| id as i64),
                            mentions: opt(r, "mentions"),
                            metadata: opt(r, "metadata"),
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                Change::Insert {
                    channel,
                    ts,
                    sender: s("sender")?,
                    read_by: s("read_by"),
                    rows,
                }
            }
            "edit" => Change::Edit {
                channel,
                ts,
                text: s("text")?,
                edited_ts: n("edited_ts")?,
                mentions: s("mentions"),
            },
            "delete" => Change::Delete {
                channel,
                ts,
                deleted_ts: n("deleted_ts")?,
            },
            "reactions" => Change::Reactions {
                channel,
                ts,
                reactions: s("reactions")?,
                reactions_ts: n("reactions_ts")?,
            },
            _ => return None,
        })
    }
}

/// A change and who receives it.
pub struct Fanout {
    pub change: Change,
    pub recipients: Vec<String>,
}

impl Fanout {
    /// Who sent it, for a new message.
    pub(super) fn sender(&self) -> Option<&str> {
        match &self.change {
            Change::Insert { sender, .. } => Some(sender),
            _ => None,
        }
    }

    pub(super) fn to_json(&self) -> String {
        Json::obj([
            ("change", self.change.to_json()),
            (
                "recipients",
                Json::Arr(
                    self.recipients
                        .iter()
                        .map(|r| Json::str(r.as_str()))
                        .collect(),
                ),
            ),
        ])
        .to_json_string()
    }

    pub(super) fn from_json(text: &str) -> Option<Fanout> {
        let v = json::parse(text).ok()?;
        let change = Change::from_json(v.get("change")?)?;
        let Json::Arr(recipients) = v.get("recipients")? else {
            return None;
        };
        let recipients = recipients
            .iter()
            .map(|r| r.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()?;
        Some(Fanout { change, recipients })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_entries_round_trip() {
        let fanout = Fanout {
            change: Change::Insert {
                channel: "dm:a:b".into(),
                ts: 1716000000.5,
                sender: "a".into(),
                read_by: Some("a".into()),
                rows: vec![RowData {
                    content: "hi \"there\"".into(),
                    content_type: "text".into(),
                    filename: None,
                    reply_to_id: Some(7),
                    mentions: Some(r#"["b"]"#.into()),
                    metadata: Some(crate::model::messages::reply_metadata(1.5)),
                }],
            },
            recipients: vec!["a".into(), "b".into()],
        };
        let back = Fanout::from_json(&fanout.to_json()).unwrap();
        assert_eq!(back.recipients, fanout.recipients);
        assert_eq!(format!("{:?}", back.change), format!("{:?}", fanout.change));
        for change in [
            Change::Edit {
                channel: "g".into(),
                ts: 2.0,
                text: "x".into(),
                edited_ts: 3.0,
                mentions: None,
            },
            Change::Delete {
                channel: "g".into(),
                ts: 2.0,
                deleted_ts: 3.0,
            },
            Change::Reactions {
                channel: "g".into(),
                ts: 2.0,
                reactions: "{}".into(),
                reactions_ts: 3.0,
            },
        ] {
            let f = Fanout {
                change,
                recipients: vec![],
            };
            assert_eq!(
                format!("{:?}", Fanout::from_json(&f.to_json()).unwrap().change),
                format!("{:?}", f.change)
            );
        }
    }
}
