//! Session cookies: `minimost_session=<id>.<HMAC-SHA256(secret.key, id)>`. The id is random
//! and backed by a row in `auth.db.sessions`; the signature makes a replaced `secret.key`
//! invalidate every cookie at once. No database access here.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const COOKIE_NAME: &str = "minimost_session";

pub struct SessionKey(Vec<u8>);

impl SessionKey {
    pub fn new(secret: Vec<u8>) -> SessionKey {
        SessionKey(secret)
    }

    fn mac(&self, id: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(id.as_bytes());
        mac
    }

    /// A fresh session id and its signed cookie value.
    pub fn new_session(&self) -> (String, String) {
        let id = crate::base::util::hex(&crate::base::util::random_bytes::<16>());
        let value = format!(
            "{id}.{}",
            crate::base::util::hex(&self.mac(&id).finalize().into_bytes())
        );
        (id, value)
    }

    /// The session id inside a cookie value, if its signature is valid.
    pub fn verify(&self, value: &str) -> Option<String> {
        let (id, signature) = value.split_once('.')?;
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let signature = crate::base::util::unhex(signature)?;
        self.mac(id).verify_slice(&signature).ok()?;
        Some(id.to_owned())
    }
}

/// The value of cookie `name` in a `Cookie` request header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// `Set-Cookie` for a new session; `max_age_secs` follows the idle expiry.
pub fn set_cookie(value: &str, secure: bool, max_age_secs: u64) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

pub fn clear_cookie(secure: bool) -> String {
    set_cookie("", secure, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_ids_verify_only_under_their_key() {
        let key = SessionKey::new(vec![7; 32]);
        let (id, value) = key.new_session();
        assert_eq!(key.verify(&value), Some(id.clone()));
        assert_eq!(SessionKey::new(vec![8; 32]).verify(&value), None);
        let mut tampered = value.clone();
        tampered.replace_range(0..1, if value.starts_with('0') { "1" } else { "0" });
        assert_eq!(key.verify(&tampered), None);
        assert_eq!(key.verify(&id), None);
        assert_eq!(key.verify(""), None);
        assert_eq!(key.verify("zz.zz"), None);
    }

    #[test]
    fn parses_cookie_headers() {
        let header = "a=1; minimost_session=abc.def; b=2";
        assert_eq!(cookie_value(header, COOKIE_NAME), Some("abc.def"));
        assert_eq!(cookie_value("x=1", COOKIE_NAME), None);
        let cookie = set_cookie("v", true, 60);
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.ends_with("; Secure")
        );
        assert!(!set_cookie("v", false, 60).contains("Secure"));
    }
}
