//! User passwords: argon2id PHC strings (argon2 crate defaults: m=19 MiB, t=2, p=1, ~11 ms).
//!
//! Verification runs on the blocking pool behind a semaphore of one permit per core, so a login
//! storm queues instead of starving the token endpoint; an unknown account still costs one hash,
//! so timing does not reveal which emails exist.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::Semaphore;

/// Hashes a password as an argon2id PHC string.
///
/// Errors: a message if the hasher fails (it does not for sane inputs).
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// What an unknown account is checked against, so a miss costs one full argon2id verification
/// like a hit. A constant with the crate's default parameters (m=19 MiB, t=2, p=1): computing it
/// at start would leave 19 MiB of freed heap in the idle process. No password matches it.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$5j2xNHw6EeFIwiGbjMLbpQ$X9waoQmQl/OKO5vY4Oo2/n1OKpWTNDOQYNJ2FEjBnw8";

/// Checks passwords off the async runtime, at most one per core at a time.
#[derive(Clone, Debug)]
pub struct PasswordChecker {
    permits: Arc<Semaphore>,
}

impl PasswordChecker {
    /// A checker allowing `parallelism` concurrent verifications.
    pub fn new(parallelism: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(parallelism.max(1))),
        }
    }

    /// Whether `password` matches `phc`; with `phc = None` (unknown user) a dummy hash is checked
    /// and the answer is `false`.
    pub async fn verify(&self, password: String, phc: Option<String>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&phc).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false);
        ok && known
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dummy_hash_uses_the_same_parameters_as_real_hashes() {
        let real = hash("x").expect("hash");
        let params = |phc: &str| phc.split('$').nth(3).map(str::to_owned);
        assert_eq!(params(&real), params(DUMMY_HASH));
    }
}
