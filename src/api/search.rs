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
/// Longest query accepted, in characters.
const MAX_QUERY_CHARS: usize = 500;

/// Index terms the last word may stand for, spelled out, at most: past that, FTS5's own prefix
/// query.
const MAX_SPELLED_TERMS: usize = 32;

/// The words of literal text: runs of letters and digits.
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The FTS5 expression for literal text: every word must match (an explicit AND: FTS5 joins
/// only bare phrases without one); the last also as a prefix,
/// either through FTS5's `*` or, given `longer` (every index term that begins with the last
/// word), as those terms spelled out.
pub fn fts_query(text: &str, longer: Option<&[String]>) -> Option<String> {
    let quote = |w: &str| format!("\"{}\"", w.replace('"', "\"\""));
    let words = words(text);
    let (last, rest) = words.split_last()?;
    let mut query: Vec<String> = rest.iter().map(|w| quote(w)).collect();
    query.push(match longer {
        None => format!("{}*", quote(last)),
        Some([]) => quote(last),
        Some(terms) => {
            let spelled: Vec<String> = std::iter::once(*last)
                .chain(terms.iter().map(String::as_str))
                .map(quote)
                .collect();
            format!("({})", spelled.join(" OR "))
        }
    });
    Some(query.join(" AND "))
}

/// The index terms longer than the last word of `text` that begin with it, when there are few
/// and the word is ASCII (so folded here exactly as the tokenizer folds it). FTS5 answers a
/// prefix query by gathering every match of every such term before the first result (about
/// 20 ms for a word in half of 1 M messages); spelled out, the terms are read newest first
/// and only as far as a page of results needs.
fn longer_terms(conn: &rusqlite::Connection, text: &str) -> rusqlite::Result<Option<Vec<String>>> {
    let Some(last) = words(text).pop().filter(|w| w.is_ascii()) else {
        return Ok(None);
    };
    let terms =
        db::search::terms_extending(conn, &last.to_ascii_lowercase(), MAX_SPELLED_TERMS + 1)?;
    Ok((terms.len() <= MAX_SPELLED_TERMS).then_some(terms))
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
    if fts_query(&q, None).is_none() {
        return Ok(Response::json(200, &Json::Arr(Vec::new())));
    }
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
    let mut unindexed = db::search::unindexed(&conn)?;
    if unindexed > 0 && unindexed <= db::search::INLINE_INDEX_ROWS {
        unindexed = if db::search::index_pending(&conn, db::search::INLINE_INDEX_ROWS)? {
            db::search::unindexed(&conn)?
        } else {
            0
        };
    }
    if unindexed > 0 {
        let name = user.name.as_str().to_owned();
        ctx.store
            .spawn_background(move |w| w.index_in_background(&name))?;
    }
    let longer = longer_terms(&conn, &q)?;
    let query = fts_query(&q, longer.as_deref()).unwrap_or_default();
    let hits = db::search::search(
        &conn,
        &db::search::Search {
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
        assert_eq!(fts_query("deplo", None).as_deref(), Some("\"deplo\"*"));
        assert_eq!(
            fts_query("Ship the build", None).as_deref(),
            Some("\"Ship\" AND \"the\" AND \"build\"*")
        );
        assert_eq!(
            fts_query("\"a\" OR b* NOT c%", None).as_deref(),
            Some("\"a\" AND \"OR\" AND \"b\" AND \"NOT\" AND \"c\"*")
        );
        assert_eq!(fts_query("  %*\"  ", None), None);
        assert_eq!(fts_query("café", None), Some("\"café\"*".into()));
    }

    #[test]
    fn a_last_word_can_be_spelled_out_as_the_terms_it_begins() {
        let terms = ["deploy".to_owned(), "deployed".to_owned()];
        assert_eq!(
            fts_query("ship deplo", Some(&terms)).as_deref(),
            Some("\"ship\" AND (\"deplo\" OR \"deploy\" OR \"deployed\")")
        );
        assert_eq!(
            fts_query("ship meeting", Some(&[])).as_deref(),
            Some("\"ship\" AND \"meeting\"")
        );
        let odd = ["a\"b".to_owned()];
        assert_eq!(
            fts_query("a", Some(&odd)).as_deref(),
            Some("(\"a\" OR \"a\"\"b\")")
        );
    }
}
