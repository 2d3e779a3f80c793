//! `sekimori user …`: parse, call [`crate::accounts`], print.

use std::io::Read;

use anyhow::Context;
use clap::Subcommand;

use crate::accounts::{self, ProfileChanges, printable};
use crate::clock::Clock;
use crate::config::CommonConfig;

use super::{open_existing_store, open_store};

#[derive(Subcommand, Debug)]
pub(super) enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add {
        /// Email address (the login name).
        #[arg(long)]
        email: String,
        /// Full name (the `name` claim).
        #[arg(long)]
        name: String,
        /// Read the password from standard input: piped, or typed at a prompt with the input
        /// hidden (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List users (tab-separated: sub, email, name, status; `--json` for scripts).
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: no login, its sessions stop counting, its tokens are revoked.
    Disable {
        /// The user's email.
        email: String,
    },
    /// Re-enable a disabled account.
    Enable {
        /// The user's email.
        email: String,
    },
    /// Set a new password (read from standard input, or a hidden prompt).
    Passwd {
        /// The user's email.
        email: String,
        /// Read the password from standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Change the claims a user's profile releases: name (`profile` scope), email_verified
    /// (`email`), phone_number (`phone`), address (`address`). An empty value removes a phone
    /// number or address.
    Update {
        /// The user's email.
        email: String,
        /// Full name (the `name` claim).
        #[arg(long)]
        name: Option<String>,
        /// Whether the email address is verified (`true` or `false`).
        #[arg(long)]
        email_verified: Option<bool>,
        /// Phone number, E.164 recommended (`+81 3 1234 5678`); "" removes it.
        #[arg(long)]
        phone_number: Option<String>,
        /// Whether the phone number is verified (`true` or `false`).
        #[arg(long)]
        phone_number_verified: Option<bool>,
        /// Postal address: one line of text (the `formatted` member), or a JSON object with
        /// `formatted`, `street_address`, `locality`, `region`, `postal_code`, `country`
        /// (OIDC Core §5.1.1); "" removes it.
        #[arg(long)]
        address: Option<String>,
    },
    /// Delete an account and revoke its tokens.
    Remove {
        /// The user's email.
        email: String,
    },
    /// Import users from another system: CSV with the header `email,name,password_hash`, or JSON
    /// lines `{"email":…,"name":…,"password_hash":…}`. bcrypt (`$2a$`/`$2b$`/`$2y$`) and argon2
    /// hashes are kept as they are and upgraded to argon2id at each user's next login.
    Import {
        /// The file (`.csv`, or JSON lines).
        file: std::path::PathBuf,
    },
    /// List what a user allowed third-party clients; `--revoke CLIENT_ID` withdraws one consent
    /// and revokes every token issued under it.
    Consents {
        /// The user's email.
        email: String,
        /// Withdraw the consent given to this client.
        #[arg(long)]
        revoke: Option<String>,
    },
}

impl UserCommand {
    /// Whether the command writes to the database.
    pub(super) fn changes_database(&self) -> bool {
        !matches!(
            self,
            Self::List { .. } | Self::Consents { revoke: None, .. }
        )
    }
}

pub(super) async fn run(common: &CommonConfig, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { email, name, .. } => add(common, &email, &name).await,
        UserCommand::List { json } => list(common, json).await,
        UserCommand::Disable { email } => disable(common, &email).await,
        UserCommand::Enable { email } => enable(common, &email).await,
        UserCommand::Passwd { email, .. } => passwd(common, &email).await,
        UserCommand::Import { file } => import(common, &file).await,
        UserCommand::Update {
            email,
            name,
            email_verified,
            phone_number,
            phone_number_verified,
            address,
        } => {
            let changes = ProfileChanges::check(
                name,
                email_verified,
                phone_number,
                phone_number_verified,
                address,
            )?;
            update(common, &email, &changes).await
        }
        UserCommand::Remove { email } => remove(common, &email).await,
        UserCommand::Consents { email, revoke } => consents(common, &email, revoke).await,
    }
}

/// The password from standard input: a pipe is read to its end; at a terminal, one hidden line
/// after a prompt (so it never shows on screen or in shell history). One trailing newline is
/// not part of it.
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    let mut password = String::new();
    if std::io::stdin().is_terminal() {
        eprint!("Password (hidden, then Enter): ");
        password =
            rpassword::read_password().context("cannot read the password from the terminal")?;
    } else {
        std::io::stdin()
            .read_to_string(&mut password)
            .context("cannot read the password from standard input")?;
    }
    Ok(password.trim_end_matches(['\n', '\r']).to_owned())
}

async fn add(common: &CommonConfig, email: &str, name: &str) -> anyhow::Result<()> {
    let password = read_password()?;
    let store = open_store(common).await?;
    let account = accounts::add(&store, &Clock::system(), email, name, &password).await?;
    println!(
        "{}",
        serde_json::json!({"sub": account.sub, "email": account.email})
    );
    Ok(())
}

async fn list(common: &CommonConfig, json: bool) -> anyhow::Result<()> {
    let store = open_existing_store(common).await?;
    let listing = accounts::list(&store).await?;
    // Accounts whose emails collide once normalized (issue 11 §4), on stderr so the list
    // itself stays clean for scripts.
    match &listing.email_problems {
        Some(problems) => super::print_warnings(problems),
        None => eprintln!("warning: cannot check emails for collisions; run `sekimori migrate`"),
    }
    for u in listing.users {
        let status = if u.disabled { "disabled" } else { "active" };
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "sub": u.sub, "email": u.email, "name": u.name, "status": status,
                    "email_verified": u.email_verified,
                    "phone_number": u.phone_number,
                    "phone_number_verified": u.phone_number_verified,
                    "address": u.address.as_deref()
                        .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok()),
                    "created_at": u.created_at, "updated_at": u.updated_at,
                })
            );
        } else {
            println!(
                "{}\t{}\t{}\t{}",
                u.sub,
                printable(&u.email),
                printable(&u.name),
                status
            );
        }
    }
    Ok(())
}

async fn disable(common: &CommonConfig, email: &str) -> anyhow::Result<()> {
    let store = open_store(common).await?;
    let n = accounts::disable(&store, &Clock::system(), email).await?;
    eprintln!("{email} is disabled; its sessions ended and {n} grant(s) revoked");
    Ok(())
}

async fn enable(common: &CommonConfig, email: &str) -> anyhow::Result<()> {
    let store = open_store(common).await?;
    accounts::enable(&store, &Clock::system(), email).await?;
    eprintln!("{email} is enabled; it logs in anew (old sessions and tokens stay ended)");
    Ok(())
}

async fn passwd(common: &CommonConfig, email: &str) -> anyhow::Result<()> {
    let store = open_store(common).await?;
    // An unknown account is named before a password is asked for.
    accounts::find(&store, email).await?;
    let password = read_password()?;
    let n = accounts::change_password(&store, &Clock::system(), email, &password).await?;
    eprintln!("password changed for {email}; its sessions ended and {n} grant(s) revoked");
    Ok(())
}

async fn import(common: &CommonConfig, file: &std::path::Path) -> anyhow::Result<()> {
    let store = open_store(common).await?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let rows =
        accounts::parse_import(&text).map_err(|e| anyhow::anyhow!("{} {e}", file.display()))?;
    let report = accounts::import(&store, &Clock::system(), rows).await;
    for (record, email, e) in &report.skipped {
        eprintln!("record {record} ({email}): skipped: {e}");
    }
    eprintln!(
        "imported {} user(s), skipped {}",
        report.imported,
        report.skipped.len()
    );
    Ok(())
}

async fn update(
    common: &CommonConfig,
    email: &str,
    changes: &ProfileChanges,
) -> anyhow::Result<()> {
    let store = open_store(common).await?;
    accounts::update_profile(&store, &Clock::system(), email, changes).await?;
    eprintln!("{email} updated");
    Ok(())
}

async fn remove(common: &CommonConfig, email: &str) -> anyhow::Result<()> {
    let store = open_store(common).await?;
    let n = accounts::remove(&store, &Clock::system(), email).await?;
    eprintln!("{email} removed; {n} grant(s) revoked");
    Ok(())
}

async fn consents(
    common: &CommonConfig,
    email: &str,
    revoke: Option<String>,
) -> anyhow::Result<()> {
    match revoke {
        Some(client_id) => {
            let store = open_store(common).await?;
            accounts::revoke_consent(&store, &Clock::system(), email, &client_id).await?;
            eprintln!("consent withdrawn; tokens issued under it are revoked");
        }
        None => {
            let store = open_existing_store(common).await?;
            for c in accounts::consents(&store, email).await? {
                println!("{}\t{}\t{}", c.client_id, c.granted_at, printable(&c.scope));
            }
        }
    }
    Ok(())
}
