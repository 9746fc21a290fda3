//! Pins on the writer: pinning and unpinning a message, and the pins that go with a deleted
//! message or account. Every change tells everyone who reads the conversation with
//! `pins {channel, count}`.

use super::Writer;
use crate::base::json::Json;
use crate::db;
use crate::model::channels::ChannelId;
use crate::model::Refusal;
use std::sync::Arc;

impl Writer<'_> {
    /// Pins (or unpins) the message at `ts` of `channel`, sent by `sender`, for everyone who
    /// reads the conversation. Returns the conversation's pin count.
    pub fn set_pinned(
        &mut self,
        channel: &ChannelId,
        ts: f64,
        sender: &str,
        by: &str,
        pinned: bool,
    ) -> Result<u64, Refusal> {
        let id = channel.to_string();
        let changed = if pinned {
            let now = crate::model::messages::round_ts(crate::base::util::now());
            db::presence::pin(&self.presence, &id, ts, sender, by, now)?
        } else {
            db::presence::unpin(&self.presence, &id, ts)?
        };
        let count = db::presence::pin_count(&self.presence, &id)?;
        if changed {
            self.announce_pins(channel, count)?;
        }
        Ok(count)
    }

    /// Unpins a message that is being deleted, telling the readers if it was pinned.
    pub fn unpin_deleted(&mut self, channel: &ChannelId, ts: f64) -> rusqlite::Result<()> {
        let id = channel.to_string();
        if db::presence::unpin(&self.presence, &id, ts)? {
            let count = db::presence::pin_count(&self.presence, &id)?;
            self.announce_pins(channel, count)?;
        }
        Ok(())
    }

    /// Removes the pins of every message `sender` sent (their account is hard-deleted).
    pub fn unpin_all_of(&mut self, sender: &str) -> rusqlite::Result<()> {
        for id in db::presence::delete_pins_of_sender(&self.presence, sender)? {
            if let Ok(channel) = ChannelId::parse(&id) {
                let count = db::presence::pin_count(&self.presence, &id)?;
                self.announce_pins(&channel, count)?;
            }
        }
        Ok(())
    }

    fn announce_pins(&mut self, channel: &ChannelId, count: u64) -> rusqlite::Result<()> {
        let recipients = self.recipients(channel)?;
        let event = Json::obj([
            ("type", "pins".into()),
            ("channel", channel.to_string().into()),
            ("count", Json::Num(count as f64)),
        ]);
        self.core.hub.send_to(
            recipients.iter().map(String::as_str),
            &Arc::from(event.to_json_string()),
        );
        Ok(())
    }
}
