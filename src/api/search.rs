//! `GET /api/search`: full-text search over the caller's own copies, limited to channels they
//! can read now. The query is literal text: it is split into words, and each word is quoted for
//! FTS5, so quotes, operators, `%` and `*` never act as syntax.

use super::ctx::Ctx;
use super::own_db;
use super::require_user;
use crate::base::json::Json;
use crate::db;
use crate::http::{HttpError, Request, Response};
use crate::model::channels::{self, ChannelId};

const MAX_RESULTS: u32 = 50;
/// Waiting rows a search indexes itself before answering (a few milliseconds at most).
const INLINE_INDEX_ROWS: u64 = 2_000;
/// Longest query accepted, in characters.
const MAX_QUERY_CHARS: usize = 500;

/// The FTS5 expression for literal text: every word must match; the last also as a prefix.
pub fn fts_query(text: &str) -> Option<String> {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let (last, rest) = words.split_last()?;
    let mut query: Vec<String> = rest.iter().map(|w| format!("\"{w}\"")).collect();
    query.push(format!("\"{last}\"*"));
    Some(query.join(" "))
}

/// GET /api/search?q=&channel=&from=
pub fn get_search(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let q = req.query_param("q").unwrap_or_default();
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(HttpError::BadRequest(format!(
            "A search can be at most {MAX_QUERY_CHARS} characters"
        )));
    }
    let Some(query) = fts_query(&q) else {
        return Ok(Response::json(200, &Json::Arr(Vec::new())));
    };
    let presence = ctx.presence_db.get()?;
    let channel = match req.query_param("channel").filter(|c| !c.is_empty()) {
        Some(text) => {
            let channel = ChannelId::parse(&text)?;
            channels::require_access(
                &ctx.settings.channels,
                &presence,
                user.name.as_str(),
                &channel,
            )?;
            Some(channel.to_string())
        }
        None => None,
    };
    let sender = req.query_param("from").filter(|f| !f.is_empty());
    let readable =
        channels::readable_channels(&ctx.settings.channels, &presence, user.name.as_str())?;
    let conn = own_db(ctx, &user)?;
    // Rows written before the index followed inserts: a few are indexed now; more are indexed
    // in the background, and meanwhile the answer says how many it could not look at.
    let mut unindexed = db::user::unindexed(&conn)?;
    if unindexed > 0 && unindexed <= INLINE_INDEX_ROWS {
        unindexed = db::user::index_pending(&conn, INLINE_INDEX_ROWS)?;
    }
    if unindexed > 0 {
        let name = user.name.as_str().to_owned();
        ctx.store.spawn(move |w| w.index_in_background(&name))?;
    }
    let hits = db::user::search(
        &conn,
        &db::user::Search {
            query: &query,
            readable: &readable,
            channel: channel.as_deref(),
            sender: sender.as_deref(),
            limit: MAX_RESULTS,
        },
    )?;
    let results = crate::model::history::render_messages(ctx, &conn, &presence, &hits)?;
    let mut response = Response::json(200, &Json::Arr(results));
    if unindexed > 0 {
        response = response.with_header("X-Search-Unindexed", unindexed.to_string());
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn queries_are_literal() {
        assert_eq!(fts_query("deplo").as_deref(), Some("\"deplo\"*"));
        assert_eq!(
            fts_query("Ship the build").as_deref(),
            Some("\"Ship\" \"the\" \"build\"*")
        );
        assert_eq!(
            fts_query("\"a\" OR b* NOT c%").as_deref(),
            Some("\"a\" \"OR\" \"b\" \"NOT\" \"c\"*")
        );
        assert_eq!(fts_query("  %*\"  "), None);
        assert_eq!(fts_query("café"), Some("\"café\"*".into()));
    }
}
