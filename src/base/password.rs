//! Password hashing: Argon2id PHC strings for new hashes, and verification of the Python
//! original's Werkzeug hashes (`pbkdf2:sha256:<iter>$<salt>$<hex>`, `scrypt:<n>:<r>:<p>$…`),
//! which callers re-hash to Argon2id after a successful login.
//!
//! `HashGate` bounds how many hashes run at once, so a login flood cannot exhaust memory
//! (Argon2id uses ~19 MiB per hash). No I/O, no database.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Hashes a new password with Argon2id's recommended defaults (m=19 MiB, t=2, p=1).
pub fn hash(password: &str) -> String {
    let salt = SaltString::encode_b64(&crate::base::util::random_bytes::<16>())
        .expect("16 bytes is a valid salt length");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2id with default parameters accepts any password up to 4 GiB")
        .to_string()
}

/// Whether `password` matches `stored`, whichever supported format it is in. A malformed
/// stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    if stored.starts_with("$argon2") {
        return PasswordHash::new(stored).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
    }
    verify_werkzeug(password, stored).unwrap_or(false)
}

/// Whether a stored hash should be replaced by a fresh Argon2id one after a successful login.
pub fn needs_rehash(stored: &str) -> bool {
    !stored.starts_with("$argon2id$")
}

fn verify_werkzeug(password: &str, stored: &str) -> Option<bool> {
    let mut parts = stored.splitn(3, '$');
    let (method, salt, expected_hex) = (parts.next()?, parts.next()?, parts.next()?);
    let expected = crate::base::util::unhex(expected_hex)?;
    if expected.is_empty() || expected.len() > 128 {
        return None;
    }
    let mut actual = vec![0u8; expected.len()];
    let mut method = method.split(':');
    match method.next()? {
        "pbkdf2" => {
            let digest = method.next().unwrap_or("sha256");
            // Werkzeug's default when the count is omitted (2.x era).
            let iterations: u32 = method.next().map_or(Some(260_000), |n| n.parse().ok())?;
            if !(1..=10_000_000).contains(&iterations) {
                return None;
            }
            let (pw, salt) = (password.as_bytes(), salt.as_bytes());
            match digest {
                "sha256" => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw, salt, iterations, &mut actual),
                "sha512" => pbkdf2::pbkdf2_hmac::<sha2::Sha512>(pw, salt, iterations, &mut actual),
                _ => return None,
            }
        }
        "scrypt" => {
            let n: u64 = method.next().map_or(Some(32_768), |n| n.parse().ok())?;
            let r: u32 = method.next().map_or(Some(8), |n| n.parse().ok())?;
            let p: u32 = method.next().map_or(Some(1), |n| n.parse().ok())?;
            if !n.is_power_of_two() || !(2..=1 << 20).contains(&n) || r > 32 || p > 16 {
                return None;
            }
            let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p, actual.len()).ok()?;
            scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut actual).ok()?;
        }
        _ => return None,
    }
    Some(constant_time_eq(&actual, &expected))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A counting semaphore in front of password hashing.
pub struct HashGate {
    free: Mutex<usize>,
    freed: Condvar,
}

pub struct HashPermit<'a>(&'a HashGate);

impl HashGate {
    pub fn new(permits: usize) -> HashGate {
        HashGate {
            free: Mutex::new(permits.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Waits up to `patience` for a permit; `None` means the server is saturated.
    pub fn acquire(&self, patience: Duration) -> Option<HashPermit<'_>> {
        let deadline = Instant::now() + patience;
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            let left = deadline.checked_duration_since(Instant::now())?;
            free = self
                .freed
                .wait_timeout(free, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *free -= 1;
        Some(HashPermit(self))
    }
}

impl Drop for HashPermit<'_> {
    fn drop(&mut self) {
        // A burst of logins frees many buffers at once (TLS, JSON, SQLite pages).
        crate::base::memory::release_freed_heap();
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = hash("Secret123!");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("Secret123!", &h));
        assert!(!verify("secret123!", &h));
        assert!(!needs_rehash(&h));
    }

    #[test]
    fn verifies_werkzeug_hashes_made_by_the_python_original() {
        let vectors = include_str!("../../tests/data/werkzeug_hashes.tsv");
        let mut n = 0;
        for line in vectors
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (password, stored) = line.split_once('\t').unwrap();
            assert!(verify(password, stored), "{stored}");
            assert!(!verify(&format!("{password}x"), stored), "{stored}");
            assert!(needs_rehash(stored));
            n += 1;
        }
        assert_eq!(n, 4);
    }

    #[test]
    fn malformed_hashes_never_match() {
        for bad in [
            "",
            "$argon2id$garbage",
            "pbkdf2:sha256:1000$salt",
            "pbkdf2:md5:1$s$00",
            "scrypt:1000:8:1$s$00",
            "plain$text$zz",
            "pbkdf2:sha256:0$s$00",
        ] {
            assert!(!verify("anything", bad), "{bad}");
        }
    }

    #[test]
    fn gate_bounds_concurrency() {
        let gate = HashGate::new(1);
        let permit = gate.acquire(Duration::from_millis(10)).unwrap();
        assert!(gate.acquire(Duration::from_millis(10)).is_none());
        drop(permit);
        assert!(gate.acquire(Duration::from_millis(10)).is_some());
    }
}
