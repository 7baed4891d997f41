//! The root password, as a `$6$` (SHA-512 crypt) hash in /etc/shadow, never as plain text.
//!
//! A profile gives either a ready hash, or a file holding the password. A hash made here
//! uses a salt derived from the profile's identity and the password (sha256, first 12
//! bytes, crypt-base64), not a random one, so the same profile gives the same /etc/shadow
//! on every build; the password itself never reaches any output.

use sha_crypt::{PasswordHasher, ShaCrypt};
use sha2::Digest as _;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error(
        "The root password hash does not look like a crypt(3) hash (expected `$6$...`, `$5$...`, `$y$...` or `!`/`*` to lock)"
    )]
    NotAHash,
    #[error("The root password file is empty")]
    Empty,
    #[error("Hashing the root password failed: {0}")]
    Hash(String),
}

/// Accept a pre-hashed password (or a lock marker) as is, after a shape check.
pub fn check_hash(hash: &str) -> Result<(), PasswordError> {
    let ok = ["$6$", "$5$", "$y$", "$2b$", "$2y$", "$gy$"]
        .iter()
        .any(|p| hash.starts_with(p))
        || hash == "!"
        || hash == "!!"
        || hash == "*"
        || hash.starts_with("!$");
    if ok && !hash.contains(':') && !hash.contains('\n') {
        Ok(())
    } else {
        Err(PasswordError::NotAHash)
    }
}

/// The salt bytes for `password` under `seed` (the profile's name or other stable identity).
pub fn derive_salt(seed: &str, password: &str) -> [u8; 12] {
    let mut h = sha2::Sha256::new();
    h.update(b"diskless root password salt\0");
    h.update(seed.as_bytes());
    h.update(b"\0");
    h.update(password.as_bytes());
    let d = h.finalize();
    let mut salt = [0u8; 12];
    salt.copy_from_slice(&d[..12]);
    salt
}

/// Hash a plain password (as read from a password file: one line, newline stripped).
pub fn hash_password(password: &str, seed: &str) -> Result<String, PasswordError> {
    let password = password.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(PasswordError::Empty);
    }
    let salt = derive_salt(seed, password);
    let h = ShaCrypt::SHA512
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    // `$6$rounds=5000$...` and `$6$...` are the same hash for glibc; drop the default
    // rounds so the line looks like what `openssl passwd -6` and chpasswd write.
    Ok(h.to_string().replacen("$rounds=5000$", "$", 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_checked() {
        let a = hash_password("secret\n", "compute").unwrap();
        let b = hash_password("secret", "compute").unwrap();
        assert_eq!(a, b);
        assert!(a.starts_with("$6$"), "{a}");
        assert_ne!(a, hash_password("secret", "other").unwrap());
        assert!(!a.contains("secret"));
        check_hash(&a).unwrap();
        assert_eq!(check_hash("plain"), Err(PasswordError::NotAHash));
        assert_eq!(hash_password("\n", "x"), Err(PasswordError::Empty));
    }
}
