//! HTTP handlers grouped by resource. Each reads the request, calls plain functions in `db`
//! or the cross-database modules, and returns a `Response`. Shared field readers live here.

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
pub mod users;

use crate::base::json::Json;
use crate::http::HttpError;

/// 400 naming usernames that do not exist.
pub fn unknown_users(names: &[&str]) -> HttpError {
    let plural = if names.len() == 1 { "" } else { "s" };
    HttpError::BadRequest(format!("Unknown user{plural}: {}", names.join(", ")))
}

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
