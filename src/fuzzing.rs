//! Entry points for the fuzz targets in `fuzz/`: each takes arbitrary bytes and runs them
//! through the same code the server runs on request data. They must never panic; what they
//! return is irrelevant. Nothing here is used by the server itself.

/// JSON bodies: the reader every API endpoint uses.
pub fn json(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::json::parse(text);
    }
}

/// Percent-decoding of paths and query strings.
pub fn percent_decode(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::http::percent_decode(text);
    }
}
