//! Persistence: sqlx over SQLite (embedded default) or PostgreSQL, through one `AnyPool` so the
//! same queries serve both. All SQL lives in this module's files. Times are Unix seconds (i64),
//! flags are 0/1 integers: the types that decode the same way from both backends.
//!
//! Single-use values (authorization codes, refresh tokens) are consumed with one atomic
//! `UPDATE … RETURNING`, never read-then-write (STYLE §1).

mod clients;
mod codes;
mod consents;
mod login_failures;
mod refresh_tokens;
mod revocations;
mod sessions;
mod users;

use std::path::Path;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

pub use clients::{Client, NewClient};
pub use codes::{AuthorizationCodeRow, ConsumeCode, NewAuthorizationCode};
pub use consents::Consent;
pub use refresh_tokens::{NewRefreshToken, RefreshTokenRow, RotateOutcome};
pub use sessions::SqlSessionStore;
pub use users::{EmailProblem, NewUser, ProfileUpdate, User};

/// Which database engine the pool talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite: one node.
    Sqlite,
    /// PostgreSQL: one or many nodes.
    Postgres,
}

/// Failures of the data layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A unique constraint was violated; the payload names what already exists.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The database could not be reached in time (pool timeout, connection refused): a 503.
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    /// Any other database error: a 500.
    #[error("{0}")]
    Db(sqlx::Error),
    /// The DATABASE_URL is not one we support.
    #[error("{0}")]
    BadUrl(String),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        let unreachable = match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_) => true,
            // PostgreSQL SQLSTATE classes 08 (connection exception) and 57 (operator
            // intervention: shutdown, admin termination); SQLite "database is locked" past the
            // busy timeout.
            sqlx::Error::Database(db) => db.code().is_some_and(|c| {
                c.starts_with("08") || c.starts_with("57") || c == "5" || c == "6"
            }),
            _ => false,
        };
        if unreachable {
            Self::Unavailable(e)
        } else {
            Self::Db(e)
        }
    }
}

/// Result alias for store operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The database handle shared by every request: cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects to `database_url` (`sqlite:…` or `postgres:…`), creating the SQLite file's folder
    /// when needed. Does not run migrations. `acquire_timeout` bounds how long a request waits
    /// for a connection, so an unreachable database fails requests fast (503) instead of
    /// queueing them.
    ///
    /// Errors: [`Error::BadUrl`] for another scheme; connection errors otherwise.
    pub async fn connect(database_url: &str, acquire_timeout: Duration) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if database_url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            Backend::Postgres
        } else {
            return Err(Error::BadUrl(format!(
                "DATABASE_URL must start with sqlite: or postgres:// (got {:?})",
                database_url.split(':').next().unwrap_or_default()
            )));
        };
        if backend == Backend::Sqlite {
            create_sqlite_parent(database_url)?;
        }
        // One direct attempt first, so a refused connection or a missing file is reported as
        // such, not as the pool's "timed out" after retrying.
        if let Err(e) = <sqlx::AnyConnection as sqlx::Connection>::connect(database_url).await {
            let hint = if backend == Backend::Sqlite && !database_url.contains("mode=rwc") {
                " (to create a new SQLite database, end the URL with ?mode=rwc)"
            } else {
                ""
            };
            return Err(Error::BadUrl(format!("{e}{hint}")));
        }
        let pool = AnyPoolOptions::new()
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // In WAL mode NORMAL is the documented choice: no corruption on power
                        // loss, at most the last commits lost, and no fsync per commit (which
                        // otherwise caps code redemptions at a few hundred per second).
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            // Fail fast when the database is down instead of queueing requests forever.
            .acquire_timeout(acquire_timeout)
            .connect(database_url)
            .await?;
        if backend == Backend::Sqlite {
            // WAL lets readers proceed while one writer commits; the setting persists in the file.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await?;
        }
        Ok(Self { pool, backend })
    }

    /// Applies the embedded migrations for this backend (`migrations/sqlite` or
    /// `migrations/postgres`).
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| Error::Db(sqlx::Error::Migrate(Box::new(e))))
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers a read of a real table (for `/readyz`): `SELECT 1` alone
    /// would pass while SQLite's file is locked.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1 FROM clients LIMIT 1")
            .execute(&self.pool)
            .await
            .is_ok()
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Connections open and idle in the pool (for metrics).
    pub fn pool_status(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction for a change of several statements (revoking a user's grants,
    /// deleting a client with its tokens, …), so that none of them is seen or kept without the
    /// others. On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken at once, so a
    /// transaction that reads before it writes waits on the busy timeout like any writer,
    /// instead of failing with `SQLITE_BUSY` when another connection committed in between (a
    /// deferred transaction cannot upgrade a stale read snapshot). PostgreSQL's plain `BEGIN`
    /// (READ COMMITTED) needs no such care. Dropped without `commit`, it rolls back.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }
}

/// The value to bind for an optional text parameter that the SQL reads as "absent" when it is
/// `''` (`WHERE ($1 = '' OR sub = $1)`, `(code_challenge IS NULL AND $6 = '')`): the one place
/// the NULL-bind convention is spelled.
///
/// Why not bind `None` and write `$1 IS NULL`: through the Any driver a NULL bind reaches
/// PostgreSQL without a type, and a parameter used only in `$1 IS NULL` has none it could infer
/// ("could not determine data type of parameter $1"); a text bind is always typed, on both
/// backends. The empty string is never a real value in these columns (ids, subjects and PKCE
/// challenges are never empty), so it cannot match a row by accident.
pub(crate) fn absent_as_empty(value: Option<&str>) -> &str {
    value.unwrap_or_default()
}

/// The file a `sqlite:` URL names (`sqlite://data/sekimori.db?mode=rwc` → `data/sekimori.db`),
/// or `None` for another backend or an in-memory database.
pub fn sqlite_file(database_url: &str) -> Option<std::path::PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite:")?
        .trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(':') || rest.contains("mode=memory") {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

fn create_sqlite_parent(database_url: &str) -> Result<()> {
    let rest = database_url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(':') {
        return Ok(());
    }
    if let Some(parent) = Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            Error::BadUrl(format!(
                "cannot create the database folder {}: {e}",
                parent.display()
            ))
        })?;
    }
    // The database holds password and secret hashes: a new file is readable by its owner only
    // (SQLite gives its -wal and -shm files the same mode). An empty file is an empty database.
    #[cfg(unix)]
    if database_url.contains("mode=rwc") && !Path::new(path).exists() {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::BadUrl(format!("cannot create the database {path}: {e}")))?;
    }
    Ok(())
}

/// Whether `e` is a unique-constraint violation (SQLite and PostgreSQL phrase it differently).
fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() || db.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}
