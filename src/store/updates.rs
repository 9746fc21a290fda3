//! Changing a stored message on the writer: edits, deletes and reactions reach every copy
//! (journalled like a post), then the event carries the message as stored.

use super::{Change, Fanout, Writer};
use crate::base::json::Json;
use crate::db;
use crate::model::channels::ChannelId;
use crate::model::Refusal;
use std::sync::Arc;

impl Writer<'_> {
    /// Applies a change to a message (edit, delete, reactions) for everyone who can read the
    /// channel, then sends `message_updated` with the message as `viewer` now sees it.
    pub fn update_message(
        &mut self,
        channel: &ChannelId,
        change: Change,
        viewer: &str,
    ) -> Result<Json, Refusal> {
        debug_assert_eq!(change.channel(), channel.to_string());
        let recipients = self.recipients(channel)?;
        let fanout = Fanout { change, recipients };
        self.fan_out(std::slice::from_ref(&fanout), |_| ())
            .0
            .remove(0)?;
        if let Change::Delete { ts, .. } = &fanout.change {
            self.unpin_deleted(channel, *ts)?;
        }
        let (channel_text, ts) = match &fanout.change {
            Change::Insert { channel, ts, .. }
            | Change::Edit { channel, ts, .. }
            | Change::Delete { channel, ts, .. }
            | Change::Reactions { channel, ts, .. } => (channel.clone(), *ts),
        };
        let Some(conn) = self.database(viewer)? else {
            return Err(Refusal::NotFound);
        };
        let rows = db::user::message_rows(conn, &channel_text, ts)?;
        if rows.is_empty() {
            return Err(Refusal::NotFound);
        }
        let message = crate::model::history::render_one(self.core, &self.presence, &rows)?;
        let event = Json::obj([
            ("type", "message_updated".into()),
            ("message", message.clone()),
        ]);
        self.core.hub.send_to(
            fanout.recipients.iter().map(String::as_str),
            &Arc::from(event.to_json_string()),
        );
        Ok(message)
    }
}
