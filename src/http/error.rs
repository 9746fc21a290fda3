//! `HttpError`: every way a request can fail, with the one mapping to a status code and a
//! JSON `{"error": …}` body. Internal errors are logged with detail and answered with a fixed
//! message.

use super::Response;
use crate::base::json::Json;

/// Every way a request can fail, with one mapping to status and `{"error": …}`.
#[derive(Debug)]
pub enum HttpError {
    BadRequest(String),
    Unauthorized,
    BadCredentials,
    Forbidden(String),
    NotFound,
    /// 404 with a specific message.
    NotFoundWith(String),
    MethodNotAllowed(&'static [&'static str]),
    Conflict(String),
    LengthRequired,
    TooLarge(String),
    UnsupportedMediaType,
    Locked(String),
    TooMany {
        retry_after_secs: u64,
        message: String,
    },
    HeaderTooLarge,
    Timeout,
    Unavailable(String),
    /// 507: the server's disk is (nearly) full; the message says so.
    StorageFull(String),
    Internal(anyhow::Error),
}

impl HttpError {
    pub fn status(&self) -> u16 {
        match self {
            HttpError::BadRequest(_) => 400,
            HttpError::Unauthorized | HttpError::BadCredentials => 401,
            HttpError::Forbidden(_) => 403,
            HttpError::NotFound | HttpError::NotFoundWith(_) => 404,
            HttpError::MethodNotAllowed(_) => 405,
            HttpError::Timeout => 408,
            HttpError::Conflict(_) => 409,
            HttpError::LengthRequired => 411,
            HttpError::TooLarge(_) => 413,
            HttpError::UnsupportedMediaType => 415,
            HttpError::Locked(_) => 423,
            HttpError::TooMany { .. } => 429,
            HttpError::HeaderTooLarge => 431,
            HttpError::Internal(_) => 500,
            HttpError::Unavailable(_) => 503,
            HttpError::StorageFull(_) => 507,
        }
    }

    pub fn message(&self) -> String {
        match self {
            HttpError::BadRequest(m)
            | HttpError::Forbidden(m)
            | HttpError::Conflict(m)
            | HttpError::TooLarge(m)
            | HttpError::Locked(m)
            | HttpError::Unavailable(m)
            | HttpError::StorageFull(m)
            | HttpError::NotFoundWith(m)
            | HttpError::TooMany { message: m, .. } => m.clone(),
            HttpError::Unauthorized => "Not logged in".into(),
            HttpError::BadCredentials => "Invalid credentials".into(),
            HttpError::NotFound => "Not found".into(),
            HttpError::MethodNotAllowed(allowed) => {
                format!("Method not allowed; use {}", allowed.join(" or "))
            }
            HttpError::LengthRequired => {
                "Chunked request bodies are not supported; send a Content-Length".into()
            }
            HttpError::UnsupportedMediaType => {
                "Send the body as Content-Type: application/json".into()
            }
            HttpError::HeaderTooLarge => "The request headers are too large".into(),
            HttpError::Timeout => "The request took too long to arrive".into(),
            HttpError::Internal(_) => {
                "Internal server error; the details are in the server log".into()
            }
        }
    }

    pub fn into_response(self) -> Response {
        if let HttpError::Internal(e) = &self {
            crate::log!("error: {e:#}");
        }
        let mut response = Response::json(
            self.status(),
            &Json::obj([("error", Json::str(self.message()))]),
        );
        match self {
            HttpError::TooMany {
                retry_after_secs, ..
            } => {
                response
                    .headers
                    .push(("Retry-After", retry_after_secs.max(1).to_string()));
            }
            HttpError::MethodNotAllowed(allowed) => {
                response.headers.push(("Allow", allowed.join(", ")))
            }
            _ => {}
        }
        response
    }
}

impl From<anyhow::Error> for HttpError {
    fn from(e: anyhow::Error) -> HttpError {
        HttpError::Internal(e)
    }
}

impl From<rusqlite::Error> for HttpError {
    fn from(e: rusqlite::Error) -> HttpError {
        HttpError::Internal(e.into())
    }
}
