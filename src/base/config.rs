//! The data dir and `settings.json`: first-boot creation of the layout and the secret key, and
//! one validated, immutable `Settings`. Invalid values fall back to their default with one
//! warning each; a file that is not JSON is an error naming the line and column.

use crate::base::json::{self, Json};
use anyhow::{bail, Context};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// `[max requests, window seconds]` per client IP.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub max: u32,
    pub window_secs: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub channels: Vec<String>,
    pub image_retention_days: u32,
    pub file_retention_days: u32,
    pub message_retention_days: u32,
    pub max_upload_size_mb: u32,
    pub max_avatar_size_mb: u32,
    pub stun_port: u16,
    pub max_login_attempts: u32,
    pub lockout_duration_minutes: u32,
    pub session_idle_days: u32,
    pub login_rate: RateLimit,
    pub signup_rate: RateLimit,
    /// Most connections one client address may hold open at once (0: no limit).
    pub max_connections_per_ip: u32,
    /// Reverse proxies whose connections the per-address limit ignores; only under `--no-tls`,
    /// where every browser reaches us through the proxy.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The address people type to reach the server (`https://chat.example.lan:5000`), for the
    /// links the admin commands print; `None`: worked out from the running server.
    pub public_url: Option<String>,
    /// Free space (MB) below which new messages, uploads and accounts are refused.
    pub min_free_disk_mb: u32,
    /// Size caps the cleanup keeps to by deleting the oldest first (MB; 0: none).
    pub max_uploads_mb: u32,
    pub max_messages_mb_per_user: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            channels: vec!["general".to_owned()],
            image_retention_days: 30,
            file_retention_days: 30,
            message_retention_days: 770,
            max_upload_size_mb: 25,
            max_avatar_size_mb: 5,
            min_free_disk_mb: 200,
            max_uploads_mb: 0,
            max_messages_mb_per_user: 0,
            stun_port: 3478,
            max_login_attempts: 5,
            lockout_duration_minutes: 15,
            session_idle_days: 14,
            login_rate: RateLimit {
                max: 60,
                window_secs: 60,
            },
            signup_rate: RateLimit {
                max: 20,
                window_secs: 3600,
            },
            max_connections_per_ip: 64,
            public_url: None,
            trusted_proxies: vec![
                std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::Ipv6Addr::LOCALHOST.into(),
            ],
        }
    }
}

/// What first boot writes: the defaults, with a second channel so a new team has somewhere to
/// chat off-topic.
const FIRST_BOOT_SETTINGS: &str = r#"{
  "channels": ["general", "random"],
  "image_retention_days": 30,
  "file_retention_days": 30,
  "message_retention_days": 770,
  "max_upload_size_mb": 25,
  "max_avatar_size_mb": 5,
  "min_free_disk_mb": 200,
  "stun_port": 3478,
  "max_login_attempts": 5,
  "lockout_duration_minutes": 15,
  "session_idle_days": 14,
  "rate_limits": {"login": [60, 60], "signup": [20, 3600]},
  "max_connections_per_ip": 64,
  "trusted_proxies": ["127.0.0.1", "::1"]
}
"#;

pub const SETTINGS_FILE: &str = "settings.json";
pub const SECRET_FILE: &str = "secret.key";
/// The server's TLS certificate and key, and the local CA that signed them (first boot).
pub const CERT_FILE: &str = "cert.pem";
pub const KEY_FILE: &str = "key.pem";
pub const CA_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca-key.pem";

/// Creates the data dir layout if needed (directories 0700) and returns it canonicalised.
pub fn prepare_data_dir(data_dir: &Path) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    let data_dir = data_dir
        .canonicalize()
        .with_context(|| format!("cannot open the data dir {}", data_dir.display()))?;
    for sub in ["users", "uploads", "avatars"] {
        let path = data_dir.join(sub);
        if !path.exists() {
            fs::create_dir(&path).with_context(|| format!("cannot create {}", path.display()))?;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot set permissions on {}", path.display()))?;
        }
    }
    Ok(data_dir)
}

/// The file a serving process holds locked, with its pid inside.
pub const LOCK_FILE: &str = "minimost.pid";

/// An exclusive lock on a data dir, held by the one server that may write it. The kernel
/// drops it when the process ends, however it ends, so a crash never blocks a restart.
pub struct DataDirLock(#[allow(dead_code)] fs::File);

/// Refuses, naming owners, a data dir (or its auth.db) this process may not read and write:
/// "permission denied" alone does not say whose the files are or what to do.
pub fn require_access(data_dir: &Path, write: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    for path in [data_dir.to_path_buf(), data_dir.join("auth.db")] {
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        let mode = libc::R_OK
            | if write { libc::W_OK } else { 0 }
            | if meta.is_dir() { libc::X_OK } else { 0 };
        // SAFETY: access reads a NUL-terminated path we own for the duration of the call.
        if unsafe { libc::access(c_path.as_ptr(), mode) } != 0 {
            // SAFETY: geteuid has no preconditions.
            let me = unsafe { libc::geteuid() };
            anyhow::bail!(
                "permission denied: {} belongs to uid {} (mode {:o}) and this program runs as uid \
                 {me}; run minimost as the data dir's owner (e.g. `sudo -u <owner> minimost …`), \
                 or give the files to uid {me} with `chown -R {me} {}`",
                path.display(),
                meta.uid(),
                meta.mode() & 0o777,
                data_dir.display()
            );
        }
    }
    Ok(())
}

impl DataDirLock {
    /// Creates the data dir if needed and locks it, before anything else in it is written;
    /// fails naming the pid of the server that holds it.
    pub fn acquire(data_dir: &Path) -> anyhow::Result<DataDirLock> {
        use std::io::{Read, Seek};
        use std::os::fd::AsRawFd;
        fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
        require_access(data_dir, true)?;
        let path = data_dir.join(LOCK_FILE);
        // Not truncated on open: the pid inside belongs to whoever holds the lock.
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // SAFETY: flock on a descriptor this File owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::WouldBlock {
                return Err(err).with_context(|| format!("cannot lock {}", path.display()));
            }
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => "another process".to_owned(),
                pid => format!("another minimost (pid {pid})"),
            };
            bail!(
                "{holder} is already serving the data dir {}; stop it first, or give this \
                 server another --data-dir (admin commands work beside a running server)",
                data_dir.display()
            );
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(DataDirLock(file))
    }
}

/// Writes `contents` to a new file with mode 0600; fails if the file already exists.
pub fn write_new_private_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Reads `secret.key`, generating 32 random bytes (64 hex chars) on first boot.
pub fn load_or_create_secret(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join(SECRET_FILE);
    if !path.exists() {
        let text = crate::base::util::hex(&crate::base::util::random_bytes::<32>()) + "\n";
        write_new_private_file(&path, text.as_bytes())?;
    }
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    match crate::base::util::unhex(text.trim()) {
        Some(key) if key.len() >= 32 => Ok(key),
        _ => bail!(
            "{} must hold 64 hexadecimal characters; delete it to generate a new one \
             (every user will have to log in again)",
            path.display()
        ),
    }
}

/// Loads `settings.json`, writing the first-boot defaults when it is absent. Warnings for
/// invalid or unknown keys go to `warn`.
pub fn load_settings(data_dir: &Path, warn: &mut dyn FnMut(String)) -> anyhow::Result<Settings> {
    let path = data_dir.join(SETTINGS_FILE);
    if !path.exists() {
        write_new_private_file(&path, FIRST_BOOT_SETTINGS.as_bytes())?;
    }
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_settings(&text, warn).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// Parses settings text; only a syntax error is an `Err`.
pub fn parse_settings(text: &str, warn: &mut dyn FnMut(String)) -> anyhow::Result<Settings> {
    let doc = json::parse(text).map_err(anyhow::Error::msg)?;
    let Json::Obj(fields) = &doc else {
        bail!("the top level must be an object like {{\"channels\": [\"general\"]}}");
    };
    let mut settings = Settings::default();
    for (key, value) in fields {
        let ok = match key.as_str() {
            "channels" => parse_channels(value, warn)
                .map(|c| settings.channels = c)
                .is_some(),
            "image_retention_days" => set_u32(value, 1, &mut settings.image_retention_days),
            "file_retention_days" => set_u32(value, 1, &mut settings.file_retention_days),
            "message_retention_days" => set_u32(value, 1, &mut settings.message_retention_days),
            "max_upload_size_mb" => set_u32(value, 1, &mut settings.max_upload_size_mb),
            "max_avatar_size_mb" => set_u32(value, 1, &mut settings.max_avatar_size_mb),
            "min_free_disk_mb" => set_u32(value, 0, &mut settings.min_free_disk_mb),
            "max_uploads_mb" => set_u32(value, 0, &mut settings.max_uploads_mb),
            "max_messages_mb_per_user" => set_u32(value, 0, &mut settings.max_messages_mb_per_user),
            "stun_port" => match value.as_u64().and_then(|n| u16::try_from(n).ok()) {
                Some(port) => {
                    settings.stun_port = port;
                    true
                }
                None => false,
            },
            "max_login_attempts" => set_u32(value, 0, &mut settings.max_login_attempts),
            "lockout_duration_minutes" => set_u32(value, 1, &mut settings.lockout_duration_minutes),
            "session_idle_days" => set_u32(value, 1, &mut settings.session_idle_days),
            "rate_limits" => parse_rate_limits(value, &mut settings, warn),
            "max_connections_per_ip" => set_u32(value, 0, &mut settings.max_connections_per_ip),
            "public_url" => match value {
                Json::Null => {
                    settings.public_url = None;
                    true
                }
                Json::Str(url)
                    if (url.starts_with("https://") || url.starts_with("http://"))
                        && !url.contains(char::is_whitespace) =>
                {
                    settings.public_url = Some(url.trim_end_matches('/').to_owned());
                    true
                }
                _ => false,
            },
            "trusted_proxies" => parse_addresses(value)
                .map(|a| settings.trusted_proxies = a)
                .is_some(),
            _ => {
                warn(format!("settings.json: unknown key \"{key}\" ignored"));
                continue;
            }
        };
        if !ok {
            warn(format!(
                "settings.json: invalid value for \"{key}\": {}; using the default",
                value.to_json_string()
            ));
        }
    }
    Ok(settings)
}

/// A list of IP addresses, like `["127.0.0.1", "::1"]`; `None` if any entry is not one.
fn parse_addresses(value: &Json) -> Option<Vec<std::net::IpAddr>> {
    let Json::Arr(items) = value else { return None };
    items
        .iter()
        .map(|item| item.as_str()?.parse().ok())
        .collect()
}

fn set_u32(value: &Json, min: u32, slot: &mut u32) -> bool {
    match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
        Some(n) if n >= min => {
            *slot = n;
            true
        }
        _ => false,
    }
}

/// Public channel names: 1–80 characters, no `:` (reserved for `dm:` and `private:` ids), no
/// `/` or control characters (they travel in URLs). Bad entries are dropped with a warning.
fn parse_channels(value: &Json, warn: &mut dyn FnMut(String)) -> Option<Vec<String>> {
    let Json::Arr(items) = value else { return None };
    let mut channels: Vec<String> = Vec::new();
    for item in items {
        match item.as_str() {
            Some(name) if is_valid_public_channel(name) => {
                if !channels.iter().any(|c| c == name) {
                    channels.push(name.to_owned());
                }
            }
            _ => warn(format!(
                "settings.json: channel {} ignored (1-80 characters, no ':', '/' or control characters)",
                item.to_json_string()
            )),
        }
    }
    (!channels.is_empty()).then_some(channels)
}

pub fn is_valid_public_channel(name: &str) -> bool {
    let n = name.chars().count();
    (1..=80).contains(&n)
        && name.trim() == name
        && !name.chars().any(|c| c == ':' || c == '/' || c.is_control())
}

fn parse_rate_limits(value: &Json, settings: &mut Settings, warn: &mut dyn FnMut(String)) -> bool {
    let Json::Obj(fields) = value else {
        return false;
    };
    for (key, limit) in fields {
        let slot = match key.as_str() {
            "login" => &mut settings.login_rate,
            "signup" => &mut settings.signup_rate,
            _ => {
                warn(format!(
                    "settings.json: unknown key \"rate_limits.{key}\" ignored"
                ));
                continue;
            }
        };
        let pair = match limit {
            Json::Arr(pair) if pair.len() == 2 => pair
                .iter()
                .map(|n| {
                    n.as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .filter(|n| *n >= 1)
                })
                .collect::<Option<Vec<u32>>>(),
            _ => None,
        };
        match pair {
            Some(pair) => {
                *slot = RateLimit {
                    max: pair[0],
                    window_secs: pair[1],
                }
            }
            None => warn(format!(
                "settings.json: invalid value for \"rate_limits.{key}\": {} (want [max requests, \
                 window seconds]); using the default",
                limit.to_json_string()
            )),
        }
    }
    true
}

/// The keys read while running (login lockout at each login, session idle
/// expiry at each request): settings.json is re-parsed when its modification time changes. A
/// file that stops parsing keeps the last good values (with one warning).
pub struct LiveSettings {
    path: PathBuf,
    current: std::sync::Mutex<(Option<std::time::SystemTime>, std::sync::Arc<Settings>)>,
}

impl LiveSettings {
    pub fn new(data_dir: &Path, initial: Settings) -> LiveSettings {
        let path = data_dir.join(SETTINGS_FILE);
        let modified = fs::metadata(&path).and_then(|m| m.modified()).ok();
        LiveSettings {
            path,
            current: std::sync::Mutex::new((modified, std::sync::Arc::new(initial))),
        }
    }

    /// The settings as the file says now.
    pub fn get(&self) -> std::sync::Arc<Settings> {
        let modified = fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if modified != current.0 {
            current.0 = modified;
            let parsed = fs::read_to_string(&self.path)
                .map_err(anyhow::Error::from)
                .and_then(|text| parse_settings(&text, &mut |w| crate::log!("warning: {w}")));
            match parsed {
                Ok(settings) => current.1 = std::sync::Arc::new(settings),
                Err(e) => {
                    crate::log!("warning: settings.json: {e:#}; keeping the previous settings")
                }
            }
        }
        current.1.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Settings, Vec<String>) {
        let mut warnings = Vec::new();
        let settings = parse_settings(text, &mut |w| warnings.push(w)).unwrap();
        (settings, warnings)
    }

    #[test]
    fn first_boot_file_is_the_defaults_plus_random() {
        let (settings, warnings) = parse(FIRST_BOOT_SETTINGS);
        assert!(warnings.is_empty(), "{warnings:?}");
        let expected = Settings {
            channels: vec!["general".into(), "random".into()],
            ..Settings::default()
        };
        assert_eq!(settings, expected);
    }

    #[test]
    fn invalid_values_fall_back_with_one_warning_each() {
        let (settings, warnings) = parse(
            r#"{"max_upload_size_mb": "big", "stun_port": 70000, "session_idle_days": 3,
                "colour": 1, "rate_limits": {"login": [5]}}"#,
        );
        assert_eq!(settings.max_upload_size_mb, 25);
        assert_eq!(settings.stun_port, 3478);
        assert_eq!(settings.session_idle_days, 3);
        assert_eq!(
            settings.login_rate,
            RateLimit {
                max: 60,
                window_secs: 60
            }
        );
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("max_upload_size_mb")));
        assert!(warnings
            .iter()
            .any(|w| w.contains("unknown key \"colour\"")));
    }

    #[test]
    fn channels_are_validated() {
        let (settings, warnings) = parse(r#"{"channels": ["general", "dm:x", "", "ops", "ops"]}"#);
        assert_eq!(settings.channels, vec!["general", "ops"]);
        assert_eq!(warnings.len(), 2);
        let (settings, _) = parse(r#"{"channels": []}"#);
        assert_eq!(settings.channels, vec!["general"]);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse_settings("{\n\"channels\": [\"a\",]\n,,}", &mut |_| {}).unwrap_err();
        assert!(format!("{err:#}").contains("line 3"), "{err:#}");
    }
}
