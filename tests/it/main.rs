//! Integration tests: every test starts the real `minimost` binary (see `harness`) and talks
//! HTTPS and WebSocket to it like a browser would.

// The server's JSON module, shared so tests read responses with the same rules.
#[path = "../../src/base/json.rs"]
#[allow(dead_code)]
mod json;

// The server's STUN codec, so tests build requests and read answers the same way.
#[path = "../../src/base/stun.rs"]
#[allow(dead_code)]
mod stun;

/// Starting the binary, HTTPS/WebSocket clients, temp data dirs.
mod harness;
/// A small W3C WebDriver client driving headless Chromium through chromedriver.
mod webdriver;

/// Changing the password and deleting accounts.
mod account;
/// The admin subcommands: reset-password, backup, clean, check, delete-user, healthcheck.
mod admin;
/// Mentions, pins and notification levels: what needs a person's attention.
mod attention;
/// Signup, login, sessions, lockout, rate limits, CSRF.
mod auth;
/// First boot, restarts, settings.json, TLS files, CLI flags and shutdown.
mod boot;
/// The web UI in headless Chromium: pages, live chat between two people, conversations.
mod browser;
/// The web UI's accessibility: axe-core finds nothing serious on the main screens, both themes.
mod browser_a11y;
/// The web UI's mentions and notification levels: autocomplete, badges, alerts, the Mentions view.
mod browser_attention;
/// The join page a phone opens from the QR code, in headless Chromium.
mod browser_join;
/// The web UI's formatting, themes, form checks and search marks.
mod browser_look;
/// The web UI on a phone: the action sheet, the profile menu, no keyboard hints.
mod browser_phone;
/// The web UI's pins: the header's count, the panel, live for everyone, on a phone too.
mod browser_pins;
/// The web UI's unread messages: the "New" divider, the new-messages pill, reading what was seen.
mod browser_unread;
/// Calls: the STUN responder and the ICE configuration.
mod calls;
/// The Docker image (built and run with podman from the static binary) and the systemd unit.
mod container;
/// Injected faults: the writer survives a panic in any job (debug builds only).
mod faults;
/// Uploads, file access, ranges, avatars and profiles.
mod files;
/// A newcomer's copy of the public history: chunked, whole, resumable.
mod history;
/// Hostile clients: slow connections, per-address connection limits.
mod hostile;
/// The HTTP/1.1 layer: framing, limits, timeouts, headers, assets.
mod http_layer;
/// The administrator's manual's sqlite3 recipes against a data dir the server wrote.
mod manual;
/// Channels, DMs, private channels, messages, fan-out and their events.
mod messaging;
/// Full-text search.
mod search;
/// A data dir written by the Python original boots, migrates and serves.
mod seed;
/// The live socket: authentication, hello, pushes, revocation.
mod websocket;
