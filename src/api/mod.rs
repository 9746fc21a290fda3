//! HTTP handlers grouped by resource. Each reads the request, checks access, calls the store,
//! the model or `db`, and returns a `Response`. What several handlers share lives here: field
//! readers, the same-origin check, and the conversion of the model's refusals into
//! `HttpError`. Handlers never call each other's private helpers.

pub mod account;
pub mod auth;
pub mod channels;
pub mod ctx;
pub mod files;
pub mod messages;
pub mod pages;
pub mod private_channels;
pub mod profile;
pub mod reset;
pub mod search;
pub mod socket;
pub mod users;

use crate::base::json::Json;
use crate::http::{HttpError, Request};

/// A required string field of a JSON object body.
pub fn str_field<'a>(body: &'a Json, name: &str) -> Result<&'a str, HttpError> {
    if !matches!(body, Json::Obj(_)) {
        return Err(HttpError::BadRequest(
            "The request body must be a JSON object".into(),
        ));
    }
    match body.get(name) {
        Some(Json::Str(s)) => Ok(s),
        Some(_) => Err(HttpError::BadRequest(format!(
            "\"{name}\" must be a string"
        ))),
        None => Err(HttpError::BadRequest(format!("\"{name}\" is required"))),
    }
}

/// CSRF defence: the request's `Origin` (or, when absent, `Sec-Fetch-Site:
/// same-origin`) must name the host it was sent to. The scheme is not compared, so a
/// TLS-terminating proxy that keeps `Host` works.
pub fn check_same_origin(req: &Request) -> Result<(), HttpError> {
    let refused = |why: &str| {
        Err(HttpError::Forbidden(format!(
            "Cross-origin request refused: {why}"
        )))
    };
    let Some(host) = req.header("host") else {
        return refused("no Host header");
    };
    match req.header("origin") {
        Some(origin) => {
            let authority = origin
                .split_once("://")
                .map_or("", |(_, a)| a.trim_end_matches('/'));
            if without_default_port(authority).eq_ignore_ascii_case(without_default_port(host)) {
                Ok(())
            } else {
                refused("the page's origin does not match this server")
            }
        }
        None if req.header("sec-fetch-site") == Some("same-origin") => Ok(()),
        None => refused("the request has no Origin header"),
    }
}

fn without_default_port(authority: &str) -> &str {
    authority
        .strip_suffix(":443")
        .or_else(|| authority.strip_suffix(":80"))
        .unwrap_or(authority)
}

impl From<crate::model::Refusal> for HttpError {
    fn from(refusal: crate::model::Refusal) -> HttpError {
        use crate::model::Refusal;
        match refusal {
            Refusal::Invalid(why) => HttpError::BadRequest(why),
            Refusal::Forbidden(why) => HttpError::Forbidden(why),
            Refusal::NotFound => HttpError::NotFound,
            Refusal::Conflict(why) => HttpError::Conflict(why),
            Refusal::Unavailable(why) => HttpError::Unavailable(why),
            Refusal::Failed(e) => HttpError::Internal(e),
        }
    }
}
