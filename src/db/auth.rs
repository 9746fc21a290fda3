//! auth.db: accounts, profile settings, reset tokens, sessions and login lockout.
//! SQL only; no HTTP types, no hashing. Callers choose the transaction.

use rusqlite::{params, Connection, OptionalExtension, Result};

pub const MIGRATIONS: &[&str] = &[
    // 1: the Python original's tables (kept exactly), plus sessions and lockout state.
    "CREATE TABLE IF NOT EXISTS users(username TEXT PRIMARY KEY, password_hash TEXT NOT NULL);
     CREATE TABLE IF NOT EXISTS user_settings(username TEXT PRIMARY KEY, name_color TEXT,
                                              avatar_file TEXT, bio TEXT);
     CREATE TABLE IF NOT EXISTS password_reset_tokens(token TEXT PRIMARY KEY,
                                                      username TEXT NOT NULL,
                                                      expires_ts REAL NOT NULL,
                                                      used INTEGER NOT NULL DEFAULT 0);
     CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY, username TEXT NOT NULL,
                                         created_ts REAL NOT NULL, last_seen_ts REAL NOT NULL,
                                         user_agent TEXT, ip TEXT);
     CREATE INDEX IF NOT EXISTS sessions_by_username ON sessions(username);
     CREATE TABLE IF NOT EXISTS login_failures(username TEXT PRIMARY KEY,
                                               failures INTEGER NOT NULL,
                                               locked_until REAL);",
];

pub struct Account {
    pub username: String,
    pub password_hash: String,
}

/// The account whose name matches `name` case-insensitively.
pub fn find_user(conn: &Connection, name: &str) -> Result<Option<Account>> {
    conn.query_row(
        "SELECT username, password_hash FROM users WHERE username = ?1 COLLATE NOCASE
         ORDER BY username = ?1 DESC LIMIT 1",
        [name],
        |row| {
            Ok(Account {
                username: row.get(0)?,
                password_hash: row.get(1)?,
            })
        },
    )
    .optional()
}

pub fn insert_user(conn: &Connection, username: &str, password_hash: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO users(username, password_hash) VALUES (?1, ?2)",
        params![username, password_hash],
    )?;
    conn.execute(
        "INSERT OR IGNORE INTO user_settings(username, name_color, avatar_file, bio)
         VALUES (?1, NULL, NULL, NULL)",
        [username],
    )?;
    Ok(())
}

pub fn set_password_hash(conn: &Connection, username: &str, password_hash: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE username = ?1",
        params![username, password_hash],
    )?;
    Ok(())
}

pub struct Profile {
    pub name_color: Option<String>,
    pub avatar_file: Option<String>,
    pub bio: Option<String>,
}

pub fn profile(conn: &Connection, username: &str) -> Result<Profile> {
    let profile = conn
        .query_row(
            "SELECT name_color, avatar_file, bio FROM user_settings WHERE username = ?1",
            [username],
            |row| {
                Ok(Profile {
                    name_color: row.get(0)?,
                    avatar_file: row.get(1)?,
                    bio: row.get(2)?,
                })
            },
        )
        .optional()?;
    Ok(profile.unwrap_or(Profile {
        name_color: None,
        avatar_file: None,
        bio: None,
    }))
}

pub struct NewSession<'a> {
    pub id: &'a str,
    pub username: &'a str,
    pub now: f64,
    pub user_agent: &'a str,
    pub ip: &'a str,
}

pub fn insert_session(conn: &Connection, s: &NewSession) -> Result<()> {
    conn.execute(
        "INSERT INTO sessions(id, username, created_ts, last_seen_ts, user_agent, ip)
         VALUES (?1, ?2, ?3, ?3, ?4, ?5)",
        params![s.id, s.username, s.now, s.user_agent, s.ip],
    )?;
    Ok(())
}

pub struct SessionRow {
    pub username: String,
    pub last_seen_ts: f64,
}

/// The session `id` if it exists and its user still has an account.
pub fn session(conn: &Connection, id: &str) -> Result<Option<SessionRow>> {
    conn.query_row(
        "SELECT s.username, s.last_seen_ts FROM sessions s
         JOIN users u ON u.username = s.username WHERE s.id = ?1",
        [id],
        |row| {
            Ok(SessionRow {
                username: row.get(0)?,
                last_seen_ts: row.get(1)?,
            })
        },
    )
    .optional()
}

pub fn touch_session(conn: &Connection, id: &str, now: f64) -> Result<()> {
    conn.execute(
        "UPDATE sessions SET last_seen_ts = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

pub fn delete_session(conn: &Connection, id: &str) -> Result<()> {
    conn.execute("DELETE FROM sessions WHERE id = ?1", [id])?;
    Ok(())
}

/// `(consecutive failures, locked until)` for an account.
pub fn login_failures(conn: &Connection, username: &str) -> Result<(u32, Option<f64>)> {
    let row = conn
        .query_row(
            "SELECT failures, locked_until FROM login_failures WHERE username = ?1",
            [username],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    Ok(row.unwrap_or((0, None)))
}

pub fn set_login_failures(
    conn: &Connection,
    username: &str,
    failures: u32,
    locked_until: Option<f64>,
) -> Result<()> {
    conn.execute(
        "INSERT INTO login_failures(username, failures, locked_until) VALUES (?1, ?2, ?3)
         ON CONFLICT(username) DO UPDATE SET failures = ?2, locked_until = ?3",
        params![username, failures, locked_until],
    )?;
    Ok(())
}

pub fn clear_login_failures(conn: &Connection, username: &str) -> Result<()> {
    conn.execute("DELETE FROM login_failures WHERE username = ?1", [username])?;
    Ok(())
}

/// Every account with its profile, by name.
pub fn list_profiles(conn: &Connection) -> Result<Vec<(String, Profile)>> {
    let mut stmt = conn.prepare(
        "SELECT u.username, s.name_color, s.avatar_file, s.bio FROM users u
         LEFT JOIN user_settings s ON s.username = u.username ORDER BY u.username COLLATE NOCASE",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get(0)?,
            Profile {
                name_color: row.get(1)?,
                avatar_file: row.get(2)?,
                bio: row.get(3)?,
            },
        ))
    })?;
    rows.collect()
}

/// Every account name, exactly as registered.
pub fn usernames(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT username FROM users ORDER BY username")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// Deletes every session of `username` except `keep`; returns the deleted ids.
pub fn delete_sessions_of(
    conn: &Connection,
    username: &str,
    keep: Option<&str>,
) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare("DELETE FROM sessions WHERE username = ?1 AND id IS NOT ?2 RETURNING id")?;
    let ids = stmt.query_map(params![username, keep], |row| row.get(0))?;
    ids.collect()
}

/// Updates profile fields; `None` leaves a field unchanged, `Some(None)` clears it.
pub fn update_profile(
    conn: &Connection,
    username: &str,
    name_color: Option<Option<&str>>,
    bio: Option<Option<&str>>,
) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO user_settings(username) VALUES (?1)",
        [username],
    )?;
    if let Some(color) = name_color {
        conn.execute(
            "UPDATE user_settings SET name_color = ?2 WHERE username = ?1",
            params![username, color],
        )?;
    }
    if let Some(bio) = bio {
        conn.execute(
            "UPDATE user_settings SET bio = ?2 WHERE username = ?1",
            params![username, bio],
        )?;
    }
    Ok(())
}

pub fn set_avatar_file(conn: &Connection, username: &str, file: Option<&str>) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO user_settings(username) VALUES (?1)",
        [username],
    )?;
    conn.execute(
        "UPDATE user_settings SET avatar_file = ?2 WHERE username = ?1",
        params![username, file],
    )?;
    Ok(())
}

/// Final step of deleting an account: credentials, settings, tokens, sessions, lockout.
pub fn delete_account_rows(conn: &Connection, username: &str) -> Result<()> {
    for table in [
        "users",
        "user_settings",
        "password_reset_tokens",
        "sessions",
        "login_failures",
    ] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE username = ?1"),
            [username],
        )?;
    }
    Ok(())
}

pub fn insert_reset_token(
    conn: &Connection,
    token: &str,
    username: &str,
    expires_ts: f64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO password_reset_tokens(token, username, expires_ts, used) VALUES (?1, ?2, ?3, 0)",
        params![token, username, expires_ts],
    )?;
    Ok(())
}

/// The user of an unused, unexpired reset token whose account still exists.
pub fn reset_token_user(conn: &Connection, token: &str, now: f64) -> Result<Option<String>> {
    conn.query_row(
        "SELECT t.username FROM password_reset_tokens t JOIN users u ON u.username = t.username
         WHERE t.token = ?1 AND t.used = 0 AND t.expires_ts > ?2",
        params![token, now],
        |r| r.get(0),
    )
    .optional()
}

/// Marks a token used; false if it was already used (another request won the race).
pub fn use_reset_token(conn: &Connection, token: &str) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE password_reset_tokens SET used = 1 WHERE token = ?1 AND used = 0",
        [token],
    )? > 0)
}
