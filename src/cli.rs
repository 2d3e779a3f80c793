//! The `sekimori` command line: `serve`, `migrate`, `config check`, `user …`, `client …`,
//! `keys …`. Every subcommand reads the same environment (`DATABASE_URL`, `SEKIMORI_*`).
//!
//! The command line only parses, calls a service ([`crate::accounts`], [`crate::clients`],
//! [`crate::keys`], [`crate::config`]) and prints: one module per subcommand group.

mod client;
mod config;
mod keys;
mod serve;
mod user;

use anyhow::bail;
use clap::{Parser, Subcommand};

use crate::clock::Clock;
use crate::config::{CommonConfig, ServeConfig};
use crate::store::Store;

pub use crate::clients::ClientRegistration;
pub use crate::config::redacted_url;

/// `sekimori --version`: the crate version and the git commit it was built from (`unknown`
/// outside a git checkout; see `build.rs`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SEKIMORI_GIT_COMMIT"),
    ")"
);

/// Sekimori (関守): an OpenID Connect provider.
#[derive(Parser, Debug)]
#[command(name = "sekimori", version = VERSION, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    common: CommonConfig,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the provider (migrates the database and creates a signing key first if needed).
    Serve {
        #[command(flatten)]
        serve: ServeConfig,
        /// Serve the demo app under /demo/ (its own client), create a demo user and a client for
        /// the curl walk-through, and print how to log in.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Manage users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage clients (relying parties).
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Inspect signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

impl Cli {
    /// Parses the command line, then fills every setting still at its built-in default from the
    /// `--config` file: defaults < file < environment < flags ([`crate::config::apply_file`]).
    ///
    /// Errors: an unreadable file, a TOML error (it names the key and the expected type), or an
    /// unknown key.
    pub fn parse_layered() -> anyhow::Result<Self> {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Self::command().get_matches();
        let mut cli = Self::from_arg_matches(&matches)?;
        let serve = match &mut cli.command {
            Command::Serve { serve, .. } => Some(serve),
            Command::Config(c) => Some(c.serve_mut()),
            _ => None,
        };
        crate::config::apply_file(&matches, &mut cli.common, serve).map_err(anyhow::Error::msg)?;
        Ok(cli)
    }
}

impl Command {
    /// Whether the command writes to the database (issue 11 §8: such a command says which
    /// database it used).
    fn changes_database(&self) -> bool {
        match self {
            Self::Migrate => true,
            Self::User(u) => u.changes_database(),
            Self::Client(c) => c.changes_database(),
            Self::Serve { .. } | Self::Config(_) | Self::Keys(_) => false,
        }
    }
}

/// Runs the parsed command. A command that changed the database then names it on stderr
/// (`database: URL`, password redacted), so stdout stays clean for JSON and an operator sees
/// at once when a command wrote to another database than the server's.
///
/// Errors: a message for a person, printed by `main` on one line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let changes = cli.command.changes_database();
    let database_url = redacted_url(&cli.common.database_url);
    let common = &cli.common;
    match cli.command {
        Command::Serve { serve, demo } => serve::serve(common, &serve, demo).await?,
        Command::Migrate => migrate_command(common).await?,
        Command::Config(c) => config::run(common, c)?,
        Command::User(c) => user::run(common, c).await?,
        Command::Client(c) => client::run(common, c).await?,
        Command::Keys(c) => keys::run(common, c)?,
    }
    if changes {
        eprintln!("database: {database_url}");
    }
    Ok(())
}

/// `migrate`: the one command besides `serve` that may create a missing SQLite database.
async fn migrate_command(common: &CommonConfig) -> anyhow::Result<()> {
    let store = connect(common, true).await?;
    migrate(&store).await?;
    for problem in store.normalize_stored_emails().await? {
        eprintln!("warning: {problem}");
    }
    eprintln!("database is up to date");
    store.close().await;
    Ok(())
}

/// Creates a user; returns its `sub`. A wrapper of [`crate::accounts::add`] on the system
/// clock, kept for the integration tests' seeding.
///
/// Errors: those of [`crate::accounts::add`].
pub async fn add_user(
    store: &Store,
    email: &str,
    name: &str,
    password: &str,
) -> anyhow::Result<String> {
    let account = crate::accounts::add(store, &Clock::system(), email, name, password).await?;
    Ok(account.sub)
}

/// Registers a client as `client add` does; returns the JSON it prints (`client_id`, and
/// `client_secret` unless public). A wrapper of [`crate::clients::register`] on the system
/// clock, kept for the integration tests' seeding.
///
/// Errors: those of [`crate::clients::validate`] and [`crate::clients::register`].
pub async fn add_client(
    store: &Store,
    registration: &ClientRegistration,
) -> anyhow::Result<serde_json::Value> {
    let checked = crate::clients::validate(
        registration.clone(),
        crate::clients::RedirectContext::Operator,
    )?;
    let created = crate::clients::register(store, &Clock::system(), checked).await?;
    Ok(client::credentials_json(
        &created.client.client_id,
        created.client_secret.as_deref(),
    ))
}

/// A Unix time as RFC 3339 UTC (`2026-12-01T23:07:50Z`), for people reading CLI output.
fn utc(secs: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => secs.to_string(),
    }
}

/// Prints each warning on stderr, prefixed `warning: `.
fn print_warnings<W: std::fmt::Display>(warnings: &[W]) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}

/// Connects to the configured database. Unless `may_create` (only `migrate`; `serve` opens its
/// own), a SQLite file that does not exist is an error naming the path: creating an empty
/// database the server never reads (a `user add` run from another folder) helps nobody.
async fn connect(common: &CommonConfig, may_create: bool) -> anyhow::Result<Store> {
    if !may_create
        && let Some(path) = crate::store::sqlite_file(&common.database_url)
        && !path.exists()
    {
        // A relative path is where most mistakes hide (a command run from another folder).
        let shown = std::env::current_dir()
            .map(|cwd| cwd.join(&path))
            .unwrap_or(path);
        bail!(
            "no database at {} (DATABASE_URL {}); create it with `sekimori migrate` or start \
             `sekimori serve`, or point DATABASE_URL at the server's database",
            shown.display(),
            redacted_url(&common.database_url)
        );
    }
    Store::connect(&common.database_url, common.db_acquire_timeout())
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))
}

async fn migrate(store: &Store) -> anyhow::Result<()> {
    store
        .migrate()
        .await
        .map_err(|e| anyhow::anyhow!("cannot migrate the database: {e}"))
}

/// Opens an existing database without migrating it: for commands that only read.
async fn open_existing_store(common: &CommonConfig) -> anyhow::Result<Store> {
    connect(common, false).await
}

/// Opens an existing database for a command that changes it (and migrates it).
async fn open_store(common: &CommonConfig) -> anyhow::Result<Store> {
    let store = connect(common, false).await?;
    migrate(&store).await?;
    store.normalize_stored_emails().await?;
    Ok(store)
}
