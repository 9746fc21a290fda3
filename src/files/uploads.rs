//! Stored files: generated names, content sniffing for images, and streaming a
//! request body to disk without ever leaving a partial file. No HTTP routing, no SQL.

use crate::base::json::{self, Json};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Longest kept part of an original name in a stored name (the disk limit is 255 bytes).
const MAX_SAFE_NAME: usize = 100;

/// The image type a file's first bytes announce, as a canonical extension.
pub fn sniff_image(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpg")
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("gif")
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("webp")
    } else {
        None
    }
}

/// `original` with every character but ASCII letters, digits, `.`, `-`, `_` replaced by `_`,
/// shortened to 100 characters keeping the extension.
pub fn safe_name(original: &str) -> String {
    let safe: String = original
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.len() <= MAX_SAFE_NAME {
        return safe;
    }
    let ext = safe
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| e.len() <= 10)
        .unwrap_or("");
    let stem_len = MAX_SAFE_NAME - ext.len() - usize::from(!ext.is_empty());
    // `safe` is ASCII, so every byte index is a character boundary.
    let mut out = safe.get(..stem_len).unwrap_or(&safe).to_owned();
    if !ext.is_empty() {
        out.push('.');
        out.push_str(ext);
    }
    out
}

/// The extension of `name`, lower-cased, if it is an image extension.
pub fn image_extension(name: &str) -> Option<String> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    IMAGE_EXTENSIONS.contains(&ext.as_str()).then_some(ext)
}

/// The stored name for an upload: `<32 hex>.<ext>` for images, `<32 hex>_<safe original>`
/// for anything else. `is_image` must come from the content, not only the name.
pub fn stored_name(original: &str, is_image: bool) -> String {
    let id = crate::base::util::hex(&crate::base::util::random_bytes::<16>());
    match image_extension(original).filter(|_| is_image) {
        Some(ext) => format!("{id}.{ext}"),
        None => {
            let safe = safe_name(original);
            if safe.is_empty() {
                format!("{id}_file")
            } else {
                format!("{id}_{safe}")
            }
        }
    }
}

/// Length of the hex id that starts every stored name.
const ID_LEN: usize = 32;

/// Splits a stored name's shape: `<32 lower-case hex>` then `.` or `_`, returning the separator
/// and what follows it. `None` for anything else; never panics, whatever the text.
pub fn split_stored_name(name: &str) -> Option<(char, &str)> {
    let id = name.get(..ID_LEN)?;
    if !id
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return None;
    }
    let rest = name.get(ID_LEN..)?;
    let separator = rest.chars().next().filter(|c| matches!(c, '.' | '_'))?;
    Some((separator, &rest[separator.len_utf8()..]))
}

/// Whether `name` has the shape of a stored name (so it can be joined to a directory).
pub fn is_stored_name(name: &str) -> bool {
    split_stored_name(name).is_some_and(|(_, tail)| {
        !tail.is_empty()
            && tail
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    })
}

/// Streams `body` into a new file in `dir` named by `name_for(first bytes)`, refusing more
/// than `max` bytes. The file appears under its final name only when complete.
pub fn save_stream(
    dir: &Path,
    body: &mut dyn Read,
    max: u64,
    name_for: impl FnOnce(&[u8]) -> String,
) -> io::Result<(String, u64)> {
    let temp: PathBuf = dir.join(format!(
        ".partial-{}",
        crate::base::util::hex(&crate::base::util::random_bytes::<8>())
    ));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut head = Vec::new();
        let mut total: u64 = 0;
        loop {
            let n = body.read(&mut buf)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > max {
                return Err(io::Error::new(io::ErrorKind::FileTooLarge, "too large"));
            }
            if head.len() < 16 {
                head.extend_from_slice(&buf[..n.min(16 - head.len())]);
            }
            file.write_all(&buf[..n])?;
        }
        file.sync_all()?;
        let name = name_for(&head);
        fs::rename(&temp, dir.join(&name))?;
        Ok((name, total))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

pub const IMAGE_EXTENSIONS: [&str; 5] = ["jpg", "jpeg", "png", "gif", "webp"];

/// Whether a stored name is an image's: `<32 hex>.<image extension>` (other files are
/// `<32 hex>_<name>`, whatever their extension).
pub fn is_image_name(name: &str) -> bool {
    // `get` is `None` when byte 32 falls inside a character: not a stored name's shape.
    name.get(32..)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|ext| IMAGE_EXTENSIONS.iter().any(|i| i.eq_ignore_ascii_case(ext)))
}

/// The display name of a stored upload: the original recorded in metadata, else the part of
/// the stored name after `<32 hex>_`.
pub fn original_name(stored: &str, metadata: Option<&str>) -> String {
    if let Some(original) = metadata
        .and_then(|m| json::parse(m).ok())
        .and_then(|m| m.get("original").and_then(Json::as_str).map(str::to_owned))
    {
        return original;
    }
    match stored.split_once('_') {
        Some((prefix, rest)) if prefix.len() == 32 && !rest.is_empty() => rest.to_owned(),
        _ => stored.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_follow_the_scheme() {
        let name = stored_name("Quarterly Report (final).PDF", false);
        assert!(is_stored_name(&name), "{name}");
        assert_eq!(&name[32..], "_Quarterly_Report__final_.PDF");
        let image = stored_name("Photo.JPG", true);
        assert_eq!(&image[32..], ".jpg");
        assert!(is_stored_name(&image));
        assert_eq!(
            &stored_name("photo.jpg", false)[32..],
            "_photo.jpg",
            "not an image by content"
        );
        assert_eq!(
            &stored_name("日本.txt", false)[32..],
            "___.txt",
            "one _ per character"
        );
        assert_eq!(safe_name(&format!("{}.tar", "a".repeat(300))).len(), 100);
        assert!(safe_name(&format!("{}.tar", "a".repeat(300))).ends_with(".tar"));
    }

    #[test]
    fn stored_name_shape_is_strict() {
        let hex = "0123456789abcdef0123456789abcdef";
        assert!(is_stored_name(&format!("{hex}.png")));
        assert!(is_stored_name(&format!("{hex}_a-b.c")));
        for bad in [
            "",
            "x",
            hex,
            &format!("{hex}_"),
            &format!("{hex}_../x"),
            &format!("{hex}_a/b"),
            &format!("{}_x", hex.to_uppercase()),
            // A multi-byte character across the id's end, or right after it.
            &format!("{}é_x", &hex[..31]),
            &format!("{}é", &hex[..31]),
            &format!("{hex}é"),
            &format!("{hex}_é"),
            "ééééééééééééééééé",
        ] {
            assert!(!is_stored_name(bad), "{bad}");
        }
    }

    #[test]
    fn stored_names_split_at_the_id() {
        let hex = "0123456789abcdef0123456789abcdef";
        assert_eq!(split_stored_name(&format!("{hex}.png")), Some(('.', "png")));
        assert_eq!(split_stored_name(&format!("{hex}_a.b")), Some(('_', "a.b")));
        assert_eq!(split_stored_name(&format!("{hex}_")), Some(('_', "")));
        assert_eq!(split_stored_name(&format!("{hex}-x")), None);
        assert_eq!(split_stored_name(&format!("{}é.png", &hex[..31])), None);
        assert_eq!(split_stored_name(&format!("{hex}é")), None);
        assert_eq!(split_stored_name("short"), None);
    }

    #[test]
    fn sniffs_images() {
        assert_eq!(sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("jpg"));
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\n...."), Some("png"));
        assert_eq!(sniff_image(b"GIF89a"), Some("gif"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("webp"));
        assert_eq!(sniff_image(b"<html>"), None);
    }

    #[test]
    fn image_names() {
        let hex = "0123456789abcdef0123456789abcdef";
        assert!(is_image_name(&format!("{hex}.png")));
        assert!(is_image_name(&format!("{hex}.JPEG")));
        assert!(!is_image_name(&format!("{hex}_photo.png")));
        assert!(!is_image_name(&format!("{hex}.pdf")));
        assert!(!is_image_name(&format!("{hex}.")));
        assert!(!is_image_name(&format!("{}é.png", &hex[..31])));
        assert!(!is_image_name(&format!("{hex}.pngé")));
    }

    #[test]
    fn original_names() {
        let hex = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            original_name(&format!("{hex}_report.pdf"), None),
            "report.pdf"
        );
        assert_eq!(
            original_name(&format!("{hex}.png"), None),
            format!("{hex}.png")
        );
        assert_eq!(
            original_name("x", Some(r#"{"original":"Résumé.pdf"}"#)),
            "Résumé.pdf"
        );
    }
}
