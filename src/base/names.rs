//! Validated names: `Username` and the password rules. A `Username` can only be
//! built by `parse`, so paths and SQL built from one never see raw request text.

use std::fmt;

/// Names nobody may register, compared case-insensitively.
const RESERVED: &[&str] = &[
    "minimost",
    "system",
    "everyone",
    "channel",
    "here",
    "deleted-user",
    "deleted_user",
];

/// `[A-Za-z0-9_-]{1,32}`, not reserved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    /// Validates a name typed at signup. The error is the message shown to the user.
    pub fn parse(text: &str) -> Result<Username, String> {
        let name = Username::parse_existing(text)?;
        if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(text)) {
            return Err(format!(
                "The username \"{text}\" is reserved; choose another"
            ));
        }
        Ok(name)
    }

    /// Validates the shape only: reserved names pass (e.g. `system` in `dm:alice:system`).
    pub fn parse_existing(text: &str) -> Result<Username, String> {
        if text.is_empty() || text.len() > 32 {
            return Err("Username must be 1 to 32 characters".to_owned());
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err("Username may contain only letters, digits, '_' and '-'".to_owned());
        }
        Ok(Username(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub const PASSWORD_SPECIALS: &str = "!@#$%^&*()_+-=[]{};':\"\\|,.<>/?`~";

/// The password rules in order; the first failure's message is returned.
pub fn check_new_password(password: &str, confirmation: &str) -> Result<(), &'static str> {
    if password.chars().count() < 8 {
        return Err("Password must be at least 8 characters long");
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        return Err("Password must contain at least one digit");
    }
    if !password.chars().any(|c| c.is_uppercase()) {
        return Err("Password must contain at least one uppercase letter");
    }
    if !password.chars().any(|c| PASSWORD_SPECIALS.contains(c)) {
        return Err("Password must contain at least one special character (!@#$%^&* etc.)");
    }
    if password != confirmation {
        return Err("Passwords do not match");
    }
    if password.len() > 1024 {
        return Err("Password must be at most 1024 bytes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("alice").is_ok());
        assert!(Username::parse("A_b-9").is_ok());
        assert!(Username::parse(&"x".repeat(32)).is_ok());
        assert!(Username::parse(&"x".repeat(33)).is_err());
        assert!(Username::parse("").is_err());
        assert!(Username::parse("al ice").is_err());
        assert!(Username::parse("../x").is_err());
        assert!(Username::parse("élise").is_err());
        for reserved in [
            "System",
            "MINIMOST",
            "everyone",
            "channel",
            "here",
            "Deleted-User",
            "deleted_user",
        ] {
            assert!(
                Username::parse(reserved).unwrap_err().contains("reserved"),
                "{reserved}"
            );
        }
        assert!(Username::parse_existing("system").is_ok());
    }

    #[test]
    fn password_rules_first_failure_wins() {
        assert_eq!(
            check_new_password("short", "x"),
            Err("Password must be at least 8 characters long")
        );
        assert_eq!(
            check_new_password("abcdefgh", "x"),
            Err("Password must contain at least one digit")
        );
        assert_eq!(
            check_new_password("abcdefg1", "x"),
            Err("Password must contain at least one uppercase letter")
        );
        assert!(check_new_password("Abcdefg1", "x")
            .unwrap_err()
            .contains("special"));
        assert_eq!(
            check_new_password("Abcdefg1!", "x"),
            Err("Passwords do not match")
        );
        assert_eq!(check_new_password("Abcdefg1!", "Abcdefg1!"), Ok(()));
        for special in PASSWORD_SPECIALS.chars() {
            let pw = format!("Abcdefg1{special}");
            assert_eq!(check_new_password(&pw, &pw), Ok(()), "{special}");
        }
        let long = format!("Aa1!{}", "x".repeat(1021));
        assert!(check_new_password(&long, &long)
            .unwrap_err()
            .contains("1024"));
    }
}
