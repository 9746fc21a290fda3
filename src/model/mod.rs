//! The chat model: channel ids and who may read or write them, message objects and
//! mentions, reading history into message objects, the accepted reactions. No HTTP and no SQL
//! text: reads go through `db`, refusals are `Refusal`s that the edge turns into responses.

pub mod channels;
pub mod history;
pub mod messages;
pub mod reactions;
