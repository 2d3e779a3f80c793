//! User passwords: argon2id PHC strings (argon2 crate defaults: m=19 MiB, t=2, p=1, ~11 ms).
//!
//! Verification runs on a fixed pool of one thread per core behind a semaphore of as many
//! permits, so a login storm queues instead of starving the token endpoint; an unknown account
//! still costs one hash, so timing does not reveal which emails exist.
//!
//! Memory: each hashing thread keeps one argon2 working buffer (19 MiB) while checks are queued,
//! so a storm costs at most `cores × 19 MiB` whatever its size, and a thread gives its buffer
//! back as soon as no queued check is left for it. The buffer is allocated with a capacity above
//! glibc's largest mmap threshold (`MAPPED_BLOCKS`), so it is always a mapping of its own and
//! freeing it returns the memory to the OS at once instead of leaving it in a malloc arena
//! (`docs/performance.md`, "argon2 memory under a login storm").

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use tokio::sync::Semaphore;

/// Hashes a password as an argon2id PHC string.
///
/// Errors: a message if the hasher fails (it does not for sane inputs).
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let hasher = Argon2::default();
    let params = hasher.params().clone();
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_buf)
        .map_err(|e| e.to_string())?;
    let output_len = params
        .output_len()
        .unwrap_or(argon2::Params::DEFAULT_OUTPUT_LEN);
    // As `PasswordHasher::hash_password` does, but in this thread's reusable working memory.
    let output = argon2::password_hash::Output::init_with(output_len, |out| {
        with_blocks(params.block_count(), |blocks| {
            hasher.hash_password_into_with_memory(password.as_bytes(), salt_bytes, out, blocks)
        })
        .map_err(|_| argon2::password_hash::Error::Password)
    })
    .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::default().into()),
        params: argon2::password_hash::ParamsString::try_from(&params)
            .map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// What an unknown account is checked against, so a miss costs one full argon2id verification
/// like a hit. A constant with the crate's default parameters (m=19 MiB, t=2, p=1): computing it
/// at start would leave 19 MiB of freed heap in the idle process. No password matches it.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$5j2xNHw6EeFIwiGbjMLbpQ$X9waoQmQl/OKO5vY4Oo2/n1OKpWTNDOQYNJ2FEjBnw8";

/// Checks passwords off the async runtime, at most one per core at a time.
#[derive(Clone, Debug)]
pub struct PasswordChecker {
    permits: Arc<Semaphore>,
    /// A fixed set of threads for hashing. tokio's blocking pool would spread the work over ever
    /// new threads, and glibc keeps each thread's 19 MiB argon2 buffer in that thread's arena:
    /// a login storm measured 428 MiB of RSS that way.
    pool: Option<Arc<rayon::ThreadPool>>,
    threads: usize,
    /// Checks asked for and not finished (queued or running).
    outstanding: Arc<AtomicUsize>,
}

/// Counts a check as outstanding until dropped (also when the request is abandoned).
#[derive(Debug)]
struct Outstanding(Arc<AtomicUsize>);

impl Outstanding {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter.clone())
    }
}

impl Drop for Outstanding {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PasswordChecker {
    /// A checker allowing `parallelism` concurrent verifications, on that many threads.
    pub fn new(parallelism: usize) -> Self {
        let threads = parallelism.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("argon2-{i}"))
            .build()
            .ok()
            .map(Arc::new);
        Self {
            permits: Arc::new(Semaphore::new(threads)),
            pool,
            threads,
            outstanding: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Whether `password` matches the stored hash — argon2 (PHC string) or bcrypt
    /// (`$2a$`/`$2b$`/`$2y$`, as imported from older systems). With `stored = None` (unknown user)
    /// a dummy hash is checked and the answer is [`Verified::No`]. A match on anything but an
    /// argon2id hash with today's parameters answers [`Verified::Rehash`] with the new hash.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Verified {
        let slot = self.slot().await;
        self.verify_in(slot, password, stored).await
    }

    /// Waits for a hashing slot (one per core). The login throttle takes one before its final
    /// budget check, so failures recorded by the hashes ahead in the queue are seen and a flood
    /// cannot overshoot a budget by more than the hashes running at once.
    pub async fn slot(&self) -> Slot {
        // Outstanding from the moment it queues, so a running hash knows others are waiting.
        let outstanding = Outstanding::new(&self.outstanding);
        Slot(self.permits.clone().acquire_owned().await.ok(), outstanding)
    }

    /// [`Self::verify`] in a slot from [`Self::slot`] (released when the check ends).
    pub async fn verify_in(
        &self,
        slot: Slot,
        password: String,
        stored: Option<String>,
    ) -> Verified {
        let Slot(Some(_permit), _outstanding) = slot else {
            return Verified::No;
        };
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let (outstanding, threads) = (self.outstanding.clone(), self.threads);
        let job = move || {
            let ok = if is_bcrypt(&stored) {
                bcrypt::verify(password.as_bytes(), &stored).unwrap_or(false)
            } else {
                verify_argon2(password.as_bytes(), &stored)
            };
            let verified = if !(ok && known) {
                Verified::No
            } else if is_current(&stored) {
                Verified::Yes
            } else {
                match hash(&password) {
                    Ok(new) => Verified::Rehash(new),
                    Err(_) => Verified::Yes,
                }
            };
            // Fewer other checks than threads: none is waiting for this thread, so give the
            // working memory back (an idle server stays small); under load keep reusing it.
            if outstanding.load(Ordering::SeqCst).saturating_sub(1) < threads {
                BLOCKS.with(|b| *b.borrow_mut() = Vec::new());
            }
            verified
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        match &self.pool {
            Some(pool) => pool.spawn(move || {
                let _ = tx.send(job());
            }),
            None => {
                tokio::task::spawn_blocking(move || {
                    let _ = tx.send(job());
                });
            }
        }
        rx.await.unwrap_or(Verified::No)
    }
}

/// A hashing slot of a [`PasswordChecker`]: at most one per core exists at a time.
#[derive(Debug)]
pub struct Slot(Option<tokio::sync::OwnedSemaphorePermit>, Outstanding);

/// Why a login's credentials were refused. The person sees one message for all three (which
/// accounts exist is not revealed); the audit log and the throttle see which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialFailure {
    /// No account has this email (a dummy hash was still checked).
    UnknownAccount,
    /// The account exists and the password does not match.
    WrongPassword,
    /// The password matches but the account is disabled.
    Disabled,
}

impl CredentialFailure {
    /// The audit log's `reason`: `unknown_account`, `wrong_password` or `disabled`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::UnknownAccount => "unknown_account",
            Self::WrongPassword => "wrong_password",
            Self::Disabled => "disabled",
        }
    }
}

/// The active account with this email and password, or why not, checked in `slot`. Every path costs one argon2
/// verification, so timing does not tell them apart. A matching hash from another system or
/// with old parameters is replaced by a current argon2id hash on the way.
///
/// Errors: the database's.
pub async fn check_credentials(
    store: &crate::store::Store,
    checker: &PasswordChecker,
    slot: Slot,
    email: &str,
    password: &str,
    now: i64,
) -> crate::store::Result<Result<crate::store::User, CredentialFailure>> {
    let user = store.find_user_by_email(email).await?;
    let verified = checker
        .verify_in(
            slot,
            password.to_owned(),
            user.as_ref().map(|u| u.password_hash.clone()),
        )
        .await;
    let Some(user) = user else {
        return Ok(Err(CredentialFailure::UnknownAccount));
    };
    if !verified.ok() {
        return Ok(Err(CredentialFailure::WrongPassword));
    }
    if user.disabled {
        return Ok(Err(CredentialFailure::Disabled));
    }
    if let Verified::Rehash(new) = verified
        && store
            .set_user_password(&user.sub, &user.password_hash, &new, now)
            .await?
    {
        tracing::info!(sub = %user.sub, "password hash upgraded to argon2id");
    }
    Ok(Ok(user))
}

thread_local! {
    /// This thread's argon2 working memory, reused by every verification on it: the fixed hashing
    /// threads each keep one 19 MiB buffer instead of allocating and freeing one per login.
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The smallest capacity of a hashing buffer, in 1 KiB argon2 blocks: just above 32 MiB, the
/// largest mmap threshold glibc's malloc ever adopts on 64-bit (mallopt(3),
/// `DEFAULT_MMAP_THRESHOLD_MAX`). A request that large is always served by its own `mmap` and
/// `munmap`ped when freed, so a freed buffer is returned to the OS, not kept in the thread's
/// arena. Only the blocks a hash uses are ever touched, so the resident cost stays `m` KiB.
const MAPPED_BLOCKS: usize = 32 * 1024 + 1;

/// Verifies `password` against an argon2 PHC string, in this thread's reusable memory; the
/// computed hash is compared in constant time.
fn verify_argon2(password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        argon2::Algorithm::try_from(parsed.algorithm),
        argon2::Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| argon2::Version::try_from(v).ok())
        .unwrap_or_default();
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let hasher = Argon2::new(algorithm, version, params.clone());
    let computed = with_blocks(params.block_count(), |blocks| {
        hasher.hash_password_into_with_memory(password, salt, &mut out, blocks)
    });
    computed.is_ok() && crate::crypto::constant_time_eq(&out, expected.as_bytes())
}

/// Runs `f` with `count` blocks of this thread's working memory, growing it (as its own
/// mapping: [`MAPPED_BLOCKS`]) when it is smaller.
fn with_blocks<T>(count: usize, f: impl FnOnce(&mut [argon2::Block]) -> T) -> T {
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        if blocks.len() < count {
            let mut fresh = Vec::with_capacity(count.max(MAPPED_BLOCKS));
            fresh.resize(count, argon2::Block::default());
            *blocks = fresh;
        }
        f(&mut blocks[..count])
    })
}

/// The outcome of a password check.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// Wrong password, unknown account.
    No,
    /// Right password, hash up to date.
    Yes,
    /// Right password; store this argon2id hash instead of the old one.
    Rehash(String),
}

impl Verified {
    /// Whether the password matched.
    pub fn ok(&self) -> bool {
        !matches!(self, Self::No)
    }
}

/// A bcrypt hash in modular crypt format.
pub fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
}

/// An argon2id hash with the parameters [`hash`] uses today.
fn is_current(stored: &str) -> bool {
    let params = |phc: &str| phc.split('$').take(4).collect::<Vec<_>>().join("$");
    params(stored) == params(DUMMY_HASH)
}

/// Whether `stored` is a hash we can verify (argon2 PHC or bcrypt), for imports.
pub fn is_supported_hash(stored: &str) -> bool {
    is_bcrypt(stored) && stored.parse::<bcrypt::HashParts>().is_ok()
        || stored.starts_with("$argon2") && PasswordHash::new(stored).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bcrypt_hashes_verify_and_ask_to_be_rehashed() {
        let bcrypt_hash = bcrypt::hash("tutorial password", 4).expect("bcrypt");
        assert!(is_supported_hash(&bcrypt_hash));
        let checker = PasswordChecker::new(1);
        let Verified::Rehash(new) = checker
            .verify("tutorial password".into(), Some(bcrypt_hash.clone()))
            .await
        else {
            panic!("expected a rehash");
        };
        assert!(new.starts_with("$argon2id$"));
        assert_eq!(
            checker.verify("tutorial password".into(), Some(new)).await,
            Verified::Yes
        );
        assert_eq!(
            checker.verify("wrong".into(), Some(bcrypt_hash)).await,
            Verified::No
        );
    }

    #[test]
    fn hashes_are_standard_phc_strings_the_argon2_crate_verifies() {
        use argon2::password_hash::PasswordVerifier;
        let phc = hash("correct horse").expect("hash");
        let parsed = PasswordHash::new(&phc).expect("PHC string");
        let argon = Argon2::default();
        assert!(argon.verify_password(b"correct horse", &parsed).is_ok());
        assert!(argon.verify_password(b"wrong horse", &parsed).is_err());
        assert!(is_current(&phc));
    }

    #[test]
    fn dummy_hash_uses_the_same_parameters_as_real_hashes() {
        let real = hash("x").expect("hash");
        let params = |phc: &str| phc.split('$').nth(3).map(str::to_owned);
        assert_eq!(params(&real), params(DUMMY_HASH));
    }
}
