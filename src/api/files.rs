//! Uploads and file downloads. An upload is streamed to `uploads/` under a generated name and
//! recorded with its uploader; it is served only to people who can see a message carrying it
//! (and to its uploader before it is attached).

use super::ctx::Ctx;
use super::own_db;
use super::require_user;
use crate::base::json::Json;
use crate::db;
use crate::files::uploads;
use crate::http::{percent_decode, Body, HttpError, Request, Response};
use crate::model::channels::{self, ChannelId};
use std::io::{Seek, SeekFrom};

/// Longest original file name accepted, in bytes.
const MAX_ORIGINAL_NAME: usize = 255;

/// POST /api/uploads — raw bytes, `X-Filename` = the percent-encoded original name.
pub fn post_upload(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    super::require_room(ctx)?;
    let user = require_user(ctx, req)?;
    let max_mb = u64::from(ctx.settings.max_upload_size_mb);
    let max = max_mb << 20;
    let original = original_name(req.header("x-filename"))?;
    if req.body_len() > max {
        return Err(HttpError::TooLarge(format!(
            "The file is larger than the {max_mb} MB upload limit"
        )));
    }
    if req.body_len() == 0 {
        return Err(HttpError::BadRequest("The file is empty".into()));
    }
    let dir = ctx.data_dir.join("uploads");
    let declared_image = uploads::image_extension(&original).is_some();
    let saved = uploads::save_stream(&dir, req, max, |head| {
        uploads::stored_name(
            &original,
            declared_image && uploads::sniff_image(head).is_some(),
        )
    });
    let (name, size) = match saved {
        Ok(saved) => saved,
        Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
            return Err(HttpError::TooLarge(format!(
                "The file is larger than the {max_mb} MB upload limit"
            )))
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::WouldBlock
            ) =>
        {
            return Err(HttpError::BadRequest(format!(
                "The upload did not arrive completely: {e}"
            )))
        }
        Err(e) => {
            return Err(HttpError::Internal(
                anyhow::Error::new(e).context("cannot store an upload"),
            ))
        }
    };
    let recorded = db::presence::insert_upload(
        &*ctx.presence_db.get()?,
        &name,
        user.name.as_str(),
        &original,
        size,
        crate::base::util::now(),
    );
    if let Err(e) = recorded {
        let _ = std::fs::remove_file(dir.join(&name));
        return Err(e.into());
    }
    let body = Json::obj([
        ("name", name.as_str().into()),
        ("original", original.as_str().into()),
        ("url", Json::str(format!("/files/{name}"))),
        (
            "image",
            Json::Bool(crate::files::uploads::is_image_name(&name)),
        ),
        ("size", Json::Num(size as f64)),
    ]);
    Ok(Response::json(201, &body))
}

/// The original name from `X-Filename`: percent-decoded, without any directory part.
pub(crate) fn original_name(header: Option<&str>) -> Result<String, HttpError> {
    let header = header.ok_or_else(|| {
        HttpError::BadRequest("Send the file name in the X-Filename header".into())
    })?;
    let decoded = percent_decode(header).ok_or_else(|| {
        HttpError::BadRequest("X-Filename is not valid percent-encoded UTF-8".into())
    })?;
    let base = decoded.rsplit(['/', '\\']).next().unwrap_or("").trim();
    if base.is_empty() || base == "." || base == ".." {
        return Err(HttpError::BadRequest("The file needs a name".into()));
    }
    if base.chars().any(char::is_control) {
        return Err(HttpError::BadRequest(
            "The file name contains control characters".into(),
        ));
    }
    if base.len() > MAX_ORIGINAL_NAME {
        return Err(HttpError::BadRequest(format!(
            "The file name is longer than {MAX_ORIGINAL_NAME} bytes"
        )));
    }
    Ok(base.to_owned())
}

/// GET/HEAD /files/{name} — with single `Range` requests for audio and video.
pub fn get_file(ctx: &Ctx, req: &mut Request, name: &str) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    if !uploads::is_stored_name(name) {
        return Err(HttpError::NotFound);
    }
    let mut allowed = false;
    let presence = ctx.presence_db.get()?;
    for channel in db::user::channels_with_file(&*own_db(ctx, &user)?, name)? {
        let Ok(channel) = ChannelId::parse(&channel) else {
            continue;
        };
        if channels::require_access(
            &ctx.settings.channels,
            &presence,
            user.name.as_str(),
            &channel,
        )
        .is_ok()
        {
            allowed = true;
            break;
        }
    }
    let record = db::presence::upload(&presence, name)?;
    if !allowed {
        // The uploader may look at an upload not attached yet (a preview before sending).
        allowed = record
            .as_ref()
            .is_some_and(|u| u.uploader == user.name.as_str() && u.attached_ts.is_none());
    }
    drop(presence);
    if !allowed {
        return Err(HttpError::NotFound);
    }
    let mut file = std::fs::File::open(ctx.data_dir.join("uploads").join(name))
        .map_err(|_| HttpError::NotFound)?;
    let size = file.metadata().map_err(anyhow::Error::from)?.len();
    let original = record
        .map(|u| u.original)
        .unwrap_or_else(|| crate::files::uploads::original_name(name, None));
    let mut headers = vec![
        ("Cache-Control", "private, max-age=86400".to_owned()),
        ("Accept-Ranges", "bytes".to_owned()),
    ];
    if crate::files::uploads::is_image_name(name) {
        headers.push((
            "Content-Type",
            crate::base::assets::content_type(name).to_owned(),
        ));
        headers.push((
            "Content-Disposition",
            format!("inline; filename*=UTF-8''{}", encode_rfc5987(&original)),
        ));
    } else {
        headers.push(("Content-Type", media_type(name).to_owned()));
        headers.push((
            "Content-Disposition",
            format!("attachment; filename*=UTF-8''{}", encode_rfc5987(&original)),
        ));
    }
    let (status, start, len) = match req.header("range").map(|r| parse_range(r, size)) {
        None | Some(RangeRequest::Ignore) => (200, 0, size),
        Some(RangeRequest::Bytes(start, end)) => {
            headers.push(("Content-Range", format!("bytes {start}-{end}/{size}")));
            (206, start, end - start + 1)
        }
        Some(RangeRequest::Unsatisfiable) => {
            let body = Json::obj([(
                "error",
                Json::str(format!("The file has only {size} bytes")),
            )]);
            return Ok(
                Response::json(416, &body).with_header("Content-Range", format!("bytes */{size}"))
            );
        }
    };
    file.seek(SeekFrom::Start(start))
        .map_err(anyhow::Error::from)?;
    Ok(Response {
        status,
        headers,
        body: Body::File { file, len },
    })
}

/// A type for audio and video so browsers can play them from an attachment; everything else
/// is a download.
fn media_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map_or(String::new(), |(_, e)| e.to_ascii_lowercase());
    match ext.as_str() {
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "wav" => "audio/wav",
        "m4a" => "audio/mp4",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

enum RangeRequest {
    Ignore,
    Bytes(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range (inclusive end); several ranges or other units are ignored (full file).
fn parse_range(header: &str, size: u64) -> RangeRequest {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeRequest::Ignore;
    };
    if spec.contains(',') {
        return RangeRequest::Ignore;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeRequest::Ignore;
    };
    let (first, last) = (first.trim(), last.trim());
    let range = if first.is_empty() {
        match last.parse::<u64>() {
            Ok(0) | Err(_) => return RangeRequest::Unsatisfiable,
            Ok(suffix) => (size.saturating_sub(suffix), size.saturating_sub(1)),
        }
    } else {
        let Ok(start) = first.parse::<u64>() else {
            return RangeRequest::Ignore;
        };
        let end = if last.is_empty() {
            size.saturating_sub(1)
        } else {
            match last.parse::<u64>() {
                Ok(end) if end >= start => end.min(size.saturating_sub(1)),
                _ => return RangeRequest::Ignore,
            }
        };
        (start, end)
    };
    if size == 0 || range.0 >= size {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Bytes(range.0, range.1)
}

/// RFC 5987 encoding for `filename*`.
pub(crate) fn encode_rfc5987(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |h: &str| match parse_range(h, 100) {
            RangeRequest::Ignore => "ignore".to_owned(),
            RangeRequest::Unsatisfiable => "416".to_owned(),
            RangeRequest::Bytes(a, b) => format!("{a}-{b}"),
        };
        assert_eq!(r("bytes=0-9"), "0-9");
        assert_eq!(r("bytes=90-"), "90-99");
        assert_eq!(r("bytes=-10"), "90-99");
        assert_eq!(r("bytes=50-500"), "50-99");
        assert_eq!(r("bytes=100-"), "416");
        assert_eq!(r("bytes=0-1,5-6"), "ignore");
        assert_eq!(r("items=0-1"), "ignore");
        assert_eq!(r("bytes=5-1"), "ignore");
    }
}
