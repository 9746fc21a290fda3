//! The web UI embedded from `www/` at build time: content types and ETags, computed once.
//! Only lookups here; the router decides which paths serve which file.

use include_dir::{include_dir, Dir};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::OnceLock;

static WWW: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/www");

pub struct Asset {
    pub bytes: &'static [u8],
    pub content_type: &'static str,
    /// A strong validator: a hash of the content, quoted (made on first use, so startup does
    /// not read every embedded file).
    etag: OnceLock<String>,
}

impl Asset {
    pub fn etag(&self) -> &str {
        self.etag.get_or_init(|| {
            format!(
                "\"{}\"",
                crate::base::util::hex(&Sha256::digest(self.bytes)[..12])
            )
        })
    }
}

pub struct Assets {
    /// Keyed by the path inside `www/`, e.g. `js/app.js`.
    files: HashMap<&'static str, Asset>,
}

impl Assets {
    pub fn load() -> Assets {
        let mut files = HashMap::new();
        let mut dirs = vec![&WWW];
        while let Some(dir) = dirs.pop() {
            for entry in dir.entries() {
                if let Some(sub) = entry.as_dir() {
                    dirs.push(sub);
                } else if let Some(file) = entry.as_file() {
                    let Some(path) = file.path().to_str() else {
                        continue;
                    };
                    files.insert(
                        path,
                        Asset {
                            bytes: file.contents(),
                            content_type: content_type(path),
                            etag: OnceLock::new(),
                        },
                    );
                }
            }
        }
        Assets { files }
    }

    pub fn get(&self, path: &str) -> Option<&Asset> {
        self.files.get(path)
    }
}

pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeds_the_pages_with_types() {
        let assets = Assets::load();
        let login = assets
            .get("login.html")
            .expect("www/login.html is embedded");
        assert_eq!(login.content_type, "text/html; charset=utf-8");
        assert!(assets.get("js/app.js").is_some());
        assert_eq!(content_type("x.JS"), "text/javascript; charset=utf-8");
    }
}
