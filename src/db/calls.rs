//! presence.db's `calls` and `call_participants`: one row per call, one per person in it. The
//! state machine is the store's (`store::calls`); these are plain reads and writes. No HTTP.

use rusqlite::{params, Connection, OptionalExtension, Result};

pub struct CallRow {
    pub call_id: String,
    pub channel: String,
    pub initiator: String,
    pub state: String,
    pub started_ts: f64,
    pub answered_ts: Option<f64>,
    pub ended_ts: Option<f64>,
}

/// A `calls` row selected as `call_id, channel, initiator, state, started_ts, answered_ts,
/// ended_ts`.
fn call_row(r: &rusqlite::Row) -> Result<CallRow> {
    Ok(CallRow {
        call_id: r.get(0)?,
        channel: r.get(1)?,
        initiator: r.get(2)?,
        state: r.get(3)?,
        started_ts: r.get(4)?,
        answered_ts: r.get(5)?,
        ended_ts: r.get(6)?,
    })
}

pub struct ParticipantRow {
    pub username: String,
    pub role: String,
    pub state: String,
}

pub fn insert_call(
    conn: &Connection,
    call_id: &str,
    channel: &str,
    initiator: &str,
    now: f64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO calls(call_id, channel, initiator, state, started_ts)
         VALUES (?1, ?2, ?3, 'ringing', ?4)",
        params![call_id, channel, initiator, now],
    )?;
    Ok(())
}

pub fn call(conn: &Connection, call_id: &str) -> Result<Option<CallRow>> {
    conn.query_row(
        "SELECT call_id, channel, initiator, state, started_ts, answered_ts, ended_ts
         FROM calls WHERE call_id = ?1",
        [call_id],
        call_row,
    )
    .optional()
}

/// The call still ringing or active in `channel`, if any.
pub fn live_call_in(conn: &Connection, channel: &str) -> Result<Option<String>> {
    conn.query_row(
        "SELECT call_id FROM calls WHERE channel = ?1 AND state IN ('ringing', 'active')
         ORDER BY started_ts DESC LIMIT 1",
        [channel],
        |r| r.get(0),
    )
    .optional()
}

/// Every call still ringing or active (few: at most one per conversation).
pub fn live_calls(conn: &Connection) -> Result<Vec<CallRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT call_id, channel, initiator, state, started_ts, answered_ts, ended_ts
         FROM calls WHERE state IN ('ringing', 'active') ORDER BY started_ts",
    )?;
    let rows = stmt.query_map([], call_row)?;
    rows.collect()
}

/// Calls still ringing, with when they started.
pub fn ringing(conn: &Connection) -> Result<Vec<(String, f64)>> {
    let mut stmt =
        conn.prepare_cached("SELECT call_id, started_ts FROM calls WHERE state = 'ringing'")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Live calls `user` has accepted and not left.
pub fn live_calls_joined_by(conn: &Connection, user: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.call_id FROM calls c JOIN call_participants p ON p.call_id = c.call_id
         WHERE p.username = ?1 AND p.state = 'accepted' AND c.state IN ('ringing', 'active')",
    )?;
    let rows = stmt.query_map([user], |r| r.get(0))?;
    rows.collect()
}

pub fn set_call_state(
    conn: &Connection,
    call_id: &str,
    state: &str,
    answered_ts: Option<f64>,
    ended_ts: Option<f64>,
) -> Result<()> {
    conn.execute(
        "UPDATE calls SET state = ?2, answered_ts = COALESCE(answered_ts, ?3),
                          ended_ts = COALESCE(ended_ts, ?4)
         WHERE call_id = ?1",
        params![call_id, state, answered_ts, ended_ts],
    )?;
    Ok(())
}

pub fn participants(conn: &Connection, call_id: &str) -> Result<Vec<ParticipantRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT username, role, state FROM call_participants WHERE call_id = ?1
         ORDER BY role = 'participant', COALESCE(joined_ts, 1e18), username",
    )?;
    let rows = stmt.query_map([call_id], |r| {
        Ok(ParticipantRow {
            username: r.get(0)?,
            role: r.get(1)?,
            state: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// Adds `user` to a call or changes their state there; `joined_ts` is set when they accept,
/// `left_ts` when they leave.
pub fn set_participant(
    conn: &Connection,
    call_id: &str,
    user: &str,
    role: &str,
    state: &str,
    now: f64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO call_participants(call_id, username, role, state, joined_ts, left_ts)
         VALUES (?1, ?2, ?3, ?4, CASE WHEN ?4 = 'accepted' THEN ?5 END,
                 CASE WHEN ?4 = 'left' THEN ?5 END)
         ON CONFLICT(call_id, username) DO UPDATE SET
             state = excluded.state,
             joined_ts = CASE WHEN excluded.state = 'accepted' THEN ?5 ELSE joined_ts END,
             left_ts = CASE WHEN excluded.state = 'left' THEN ?5 ELSE left_ts END",
        params![call_id, user, role, state, now],
    )?;
    Ok(())
}

/// The state of `user` in a call, if they are in it at all.
pub fn participant_state(conn: &Connection, call_id: &str, user: &str) -> Result<Option<String>> {
    conn.query_row(
        "SELECT state FROM call_participants WHERE call_id = ?1 AND username = ?2",
        [call_id, user],
        |r| r.get(0),
    )
    .optional()
}

/// What a `call_signal` needs: the call is live, and the sender and the receiver are in it.
pub fn may_signal(conn: &Connection, call_id: &str, from: &str, to: &str) -> Result<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM calls c
             JOIN call_participants f ON f.call_id = c.call_id AND f.username = ?2
             JOIN call_participants t ON t.call_id = c.call_id AND t.username = ?3
             WHERE c.call_id = ?1 AND c.state IN ('ringing', 'active')
               AND f.state = 'accepted' AND t.state IN ('accepted', 'pending'))",
        [call_id, from, to],
        |r| r.get(0),
    )
}
