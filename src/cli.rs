//! The `sekimori` command line: `serve`, `migrate`, `user add|list`, `client add|list`,
//! `keys jwk`. Every subcommand reads the same environment (`DATABASE_URL`, `SEKIMORI_*`).

use std::io::Read;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::app::Application;
use crate::audit::{Audit, Event};
use crate::clock::Clock;
use crate::config::{CommonConfig, FileConfig, ServeConfig};
use crate::crypto::{TokenHash, random_identifier, random_token, sha256_hex};
use crate::keys::Alg;
use crate::store::{NewClient, NewUser, Store};

/// Sekimori (関守): an OpenID Connect provider.
#[derive(Parser, Debug)]
#[command(name = "sekimori", version, about, long_about = None)]
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
        /// Create a demo user and client on an empty database and print how to log in.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage clients (relying parties).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Inspect signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Validate the settings (file, environment, flags) and print the effective configuration,
    /// with the database password redacted.
    Check {
        #[command(flatten)]
        serve: ServeConfig,
    },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
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

#[derive(Subcommand, Debug)]
enum ClientCommand {
    /// Register a client; prints `{"client_id": …, "client_secret": …}` (the secret only once).
    Add {
        /// Display name shown on the login page.
        #[arg(long)]
        name: String,
        /// Redirection URI, matched exactly (a loopback IP literal over http: any port, RFC
        /// 8252 §7.3); repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// A public client (browser or native app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// Scopes the client may be granted, space-separated.
        #[arg(long, default_value = "openid profile email offline_access")]
        scope: String,
        /// Grant types; repeatable; replaces the default `authorization_code refresh_token`.
        /// Also: `client_credentials` (confidential clients only) and `password` (the legacy
        /// grant, RFC 9700 §2.4 says not to use it: only for migrating old applications).
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// ID token signing algorithm (`id_token_signed_response_alg`): RS256, ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        id_token_alg: String,
        /// Access token signing algorithm: RS256, ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        access_token_alg: String,
        /// Where RP-Initiated Logout may return the browser (exact match); repeatable.
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// A first-party (trusted) client: its users see no consent page.
        #[arg(long)]
        first_party: bool,
    },
    /// List clients (`--json` for scripts).
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show one client's registration as JSON (never its secret, which is stored only hashed).
    Show {
        /// The client_id.
        client_id: String,
    },
    /// Delete a client and revoke every token issued to it.
    Remove {
        /// The client_id.
        client_id: String,
    },
    /// Change a client's registration; options not given keep their value. A repeatable option
    /// given once replaces the whole list.
    Update {
        /// The client_id.
        client_id: String,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
        /// Redirection URIs (replace the registered ones).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Post-logout redirect URIs (replace the registered ones).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Allowed scopes, space-separated.
        #[arg(long)]
        scope: Option<String>,
        /// Grant types (replace the registered ones).
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// ID token signing algorithm.
        #[arg(long)]
        id_token_alg: Option<String>,
        /// Access token signing algorithm.
        #[arg(long)]
        access_token_alg: Option<String>,
    },
    /// Issue an initial access token for dynamic client registration (RFC 7591 §3): give it to
    /// a developer; it registers one client, once, before it expires.
    InitialToken {
        /// How long the token stays valid, in seconds.
        #[arg(long, default_value_t = 7 * 24 * 3600)]
        ttl_secs: i64,
    },
    /// Replace a confidential client's secret; prints the new one once.
    RotateSecret {
        /// The client_id.
        client_id: String,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Print the public JWK (with kid, alg, use) of a PEM private key.
    Jwk {
        /// Path to a PEM private key (RSA PKCS#1/PKCS#8, P-256 SEC1/PKCS#8, Ed25519 PKCS#8).
        path: std::path::PathBuf,
    },
    /// Add a new key to the key folder. Running servers publish it in the JWKS at their next
    /// reload (SIGHUP, or within 30 s) and sign with it 120 s after this command, once every
    /// relying party's cached JWKS has it; prints that time.
    Rotate {
        /// Algorithm of the new key: RS256, ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        alg: String,
    },
    /// List the keys in the key folder: algorithm, kid, state ("signing", "published, signs
    /// from TIME" or "verify-only"), file.
    List,
    /// Delete keys that no longer sign and whose successor has signed for longer than any token
    /// lives, so nothing they signed can still be valid.
    Prune {
        /// How long a replaced key stays published after its successor appeared, in seconds.
        /// Must cover the longest access/ID token lifetime plus the reload interval.
        #[arg(long, default_value_t = 3600 + 300)]
        retain_secs: i64,
        /// Only print what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
}

impl Cli {
    /// Parses the command line, then fills every setting still at its built-in default from the
    /// `--config` file: defaults < file < environment < flags.
    ///
    /// Errors: an unreadable file, a TOML error (it names the key and the expected type), or an
    /// unknown key.
    pub fn parse_layered() -> anyhow::Result<Self> {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Self::command().get_matches();
        let mut cli = Self::from_arg_matches(&matches)?;
        let Some(path) = cli.common.config.clone() else {
            return Ok(cli);
        };
        let file = FileConfig::load(&path).map_err(anyhow::Error::msg)?;
        // Every level of subcommand (`config check` is two).
        let mut levels = vec![&matches];
        while let Some((_, m)) = levels.last().and_then(|m| m.subcommand()) {
            levels.push(m);
        }
        // A value counts as set when a flag or an environment variable gave it, wherever clap
        // recorded it (global flags may follow the subcommand).
        let defaulted = |id: &str| {
            levels.iter().all(|m| {
                // value_source panics for ids a (sub)command does not define: ask only where
                // try_get_raw found the argument.
                matches!(
                    m.try_get_raw(id)
                        .ok()
                        .flatten()
                        .and_then(|_| m.value_source(id)),
                    None | Some(clap::parser::ValueSource::DefaultValue)
                )
            })
        };
        fn layer<T>(slot: &mut T, from_file: Option<T>, defaulted: bool) {
            if let (Some(v), true) = (from_file, defaulted) {
                *slot = v;
            }
        }
        let c = &mut cli.common;
        if let (Some(v), true) = (file.issuer, defaulted("issuer")) {
            c.issuer = Some(v);
        }
        layer(
            &mut c.database_url,
            file.database_url,
            defaulted("database_url"),
        );
        layer(&mut c.keys_dir, file.keys_dir, defaulted("keys_dir"));
        layer(
            &mut c.db_acquire_timeout_ms,
            file.db_acquire_timeout_ms,
            defaulted("db_acquire_timeout_ms"),
        );
        let serve = match &mut cli.command {
            Command::Serve { serve, .. } | Command::Config(ConfigCommand::Check { serve }) => serve,
            _ => return Ok(cli),
        };
        layer(&mut serve.bind, file.bind, defaulted("bind"));
        layer(
            &mut serve.code_ttl_secs,
            file.code_ttl_secs,
            defaulted("code_ttl_secs"),
        );
        layer(
            &mut serve.access_token_ttl_secs,
            file.access_token_ttl_secs,
            defaulted("access_token_ttl_secs"),
        );
        layer(
            &mut serve.id_token_ttl_secs,
            file.id_token_ttl_secs,
            defaulted("id_token_ttl_secs"),
        );
        layer(
            &mut serve.refresh_token_idle_ttl_secs,
            file.refresh_token_idle_ttl_secs,
            defaulted("refresh_token_idle_ttl_secs"),
        );
        layer(
            &mut serve.refresh_token_absolute_ttl_secs,
            file.refresh_token_absolute_ttl_secs,
            defaulted("refresh_token_absolute_ttl_secs"),
        );
        layer(
            &mut serve.session_ttl_secs,
            file.session_ttl_secs,
            defaulted("session_ttl_secs"),
        );
        layer(
            &mut serve.shutdown_grace_secs,
            file.shutdown_grace_secs,
            defaulted("shutdown_grace_secs"),
        );
        layer(
            &mut serve.open_registration,
            file.open_registration,
            defaulted("open_registration"),
        );
        layer(
            &mut serve.trusted_proxies,
            file.trusted_proxies,
            defaulted("trusted_proxies"),
        );
        layer(
            &mut serve.registration_scopes,
            file.registration_scopes,
            defaulted("registration_scopes"),
        );
        layer(
            &mut serve.registration_grant_types,
            file.registration_grant_types,
            defaulted("registration_grant_types"),
        );
        layer(
            &mut serve.header_read_timeout_secs,
            file.header_read_timeout_secs,
            defaulted("header_read_timeout_secs"),
        );
        layer(
            &mut serve.request_timeout_secs,
            file.request_timeout_secs,
            defaulted("request_timeout_secs"),
        );
        layer(
            &mut serve.max_connections,
            file.max_connections,
            defaulted("max_connections"),
        );
        if let (Some(v), true) = (file.admin_bind, defaulted("admin_bind")) {
            serve.admin_bind = Some(v);
        }
        layer(
            &mut serve.allow_any_host,
            file.allow_any_host,
            defaulted("allow_any_host"),
        );
        Ok(cli)
    }
}

/// The effective configuration, as TOML, with the database password replaced by `***`.
fn effective_config(common: &CommonConfig, serve: &ServeConfig) -> anyhow::Result<String> {
    let issuer = common.issuer_for(&serve.bind).map_err(anyhow::Error::msg)?;
    let database_url = redacted_url(&common.database_url);
    for (name, value) in [
        ("code_ttl_secs", serve.code_ttl_secs),
        ("access_token_ttl_secs", serve.access_token_ttl_secs),
        ("id_token_ttl_secs", serve.id_token_ttl_secs),
        (
            "refresh_token_idle_ttl_secs",
            serve.refresh_token_idle_ttl_secs,
        ),
        (
            "refresh_token_absolute_ttl_secs",
            serve.refresh_token_absolute_ttl_secs,
        ),
        ("session_ttl_secs", serve.session_ttl_secs),
    ] {
        if value <= 0 {
            bail!("{name} must be a positive number of seconds (got {value})");
        }
    }
    crate::config::check_limits(serve).map_err(anyhow::Error::msg)?;
    let effective = FileConfig {
        issuer: Some(issuer.as_str().to_owned()),
        bind: Some(serve.bind.clone()),
        database_url: Some(database_url),
        keys_dir: Some(common.keys_dir.clone()),
        db_acquire_timeout_ms: Some(common.db_acquire_timeout_ms),
        code_ttl_secs: Some(serve.code_ttl_secs),
        access_token_ttl_secs: Some(serve.access_token_ttl_secs),
        id_token_ttl_secs: Some(serve.id_token_ttl_secs),
        refresh_token_idle_ttl_secs: Some(serve.refresh_token_idle_ttl_secs),
        refresh_token_absolute_ttl_secs: Some(serve.refresh_token_absolute_ttl_secs),
        session_ttl_secs: Some(serve.session_ttl_secs),
        shutdown_grace_secs: Some(serve.shutdown_grace_secs),
        open_registration: Some(serve.open_registration),
        trusted_proxies: Some(
            crate::client_addr::TrustedProxies::parse(&serve.trusted_proxies)
                .map_err(anyhow::Error::msg)?
                .entries(),
        ),
        registration_scopes: None,
        registration_grant_types: None,
        header_read_timeout_secs: Some(serve.header_read_timeout_secs),
        request_timeout_secs: Some(serve.request_timeout_secs),
        max_connections: Some(serve.max_connections),
        admin_bind: serve.admin_bind.clone(),
        allow_any_host: Some(serve.allow_any_host),
    };
    let policy = crate::oauth::registration::RegistrationPolicy::parse(
        &serve.registration_scopes,
        &serve.registration_grant_types,
    )
    .map_err(anyhow::Error::msg)?;
    let effective = FileConfig {
        registration_scopes: Some(policy.scopes.join(" ")),
        registration_grant_types: Some(policy.grant_types.join(" ")),
        ..effective
    };
    Ok(toml::to_string(&effective)?)
}

impl Command {
    /// Whether the command writes to the database (issue 11 §8: such a command says which
    /// database it used).
    fn changes_database(&self) -> bool {
        match self {
            Self::Migrate => true,
            Self::User(u) => !matches!(
                u,
                UserCommand::List { .. } | UserCommand::Consents { revoke: None, .. }
            ),
            Self::Client(c) => {
                !matches!(c, ClientCommand::List { .. } | ClientCommand::Show { .. })
            }
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
    run_command(cli).await?;
    if changes {
        eprintln!("database: {database_url}");
    }
    Ok(())
}

async fn run_command(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { serve, demo } => serve_command(&cli.common, &serve, demo).await,
        Command::Config(ConfigCommand::Check { serve }) => {
            print!("{}", effective_config(&cli.common, &serve)?);
            // On stderr, so stdout stays a usable configuration file.
            for warning in crate::config::startup_warnings(&cli.common, &serve) {
                eprintln!("warning: {warning}");
            }
            Ok(())
        }
        Command::Migrate => {
            // The one command besides `serve` that may create a missing SQLite database.
            let store = connect(&cli.common, true).await?;
            migrate(&store).await?;
            for problem in store.normalize_stored_emails().await? {
                eprintln!("warning: {problem}");
            }
            eprintln!("database is up to date");
            store.close().await;
            Ok(())
        }
        Command::User(UserCommand::Add { email, name, .. }) => {
            let password = read_password()?;
            let password = password.trim_end_matches(['\n', '\r']);
            let store = open_store(&cli.common).await?;
            let sub = add_user(&store, &email, &name, password).await?;
            let stored = store
                .find_user_by_sub(&sub)
                .await?
                .map(|u| u.email)
                .unwrap_or_default();
            println!("{}", serde_json::json!({"sub": sub, "email": stored}));
            Ok(())
        }
        Command::User(UserCommand::List { json }) => {
            let store = open_existing_store(&cli.common).await?;
            // Accounts whose emails collide once normalized (issue 11 §4), on stderr so the list
            // itself stays clean for scripts.
            match store.report_email_problems().await {
                Ok(problems) => {
                    for problem in problems {
                        eprintln!("warning: {problem}");
                    }
                }
                Err(_) => {
                    eprintln!("warning: cannot check emails for collisions; run `sekimori migrate`")
                }
            }
            for u in store.list_users().await? {
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
        Command::User(UserCommand::Disable { email }) => {
            let store = open_store(&cli.common).await?;
            let user = find_user(&store, &email).await?;
            let now = Clock::system().now();
            // The stamp moves on: every browser session and access token of the user stops
            // counting on every node; the refresh tokens are revoked in the database too.
            store.set_user_disabled(&user.sub, true, now).await?;
            let n = store
                .revoke_grants_of(Some(&user.sub), None, now, now + TOKEN_HORIZON_SECS)
                .await?;
            Audit::new(Event::AccountDisabled)
                .account(&user.email)
                .sub(&user.sub)
                .reason("cli")
                .emit();
            eprintln!("{email} is disabled; its sessions ended and {n} grant(s) revoked");
            Ok(())
        }
        Command::User(UserCommand::Enable { email }) => {
            let store = open_store(&cli.common).await?;
            let user = find_user(&store, &email).await?;
            store
                .set_user_disabled(&user.sub, false, Clock::system().now())
                .await?;
            Audit::new(Event::AccountEnabled)
                .account(&user.email)
                .sub(&user.sub)
                .reason("cli")
                .emit();
            eprintln!("{email} is enabled; it logs in anew (old sessions and tokens stay ended)");
            Ok(())
        }
        Command::User(UserCommand::Passwd { email, .. }) => {
            let store = open_store(&cli.common).await?;
            let user = find_user(&store, &email).await?;
            let password = read_password()?;
            let password = password.trim_end_matches(['\n', '\r']);
            if password.chars().count() < 8 {
                bail!("the password must have at least 8 characters");
            }
            let hash = crate::password::hash(password).map_err(anyhow::Error::msg)?;
            let now = Clock::system().now();
            // Ends every session and token of the user (the stamp moves on) and revokes the
            // refresh tokens in the database (issue 11 §2, RFC 9700 §4.14.2).
            store.change_user_password(&user.sub, &hash, now).await?;
            let n = store
                .revoke_grants_of(Some(&user.sub), None, now, now + TOKEN_HORIZON_SECS)
                .await?;
            Audit::new(Event::PasswordChanged)
                .account(&user.email)
                .sub(&user.sub)
                .reason("cli")
                .emit();
            eprintln!("password changed for {email}; its sessions ended and {n} grant(s) revoked");
            Ok(())
        }
        Command::User(UserCommand::Import { file }) => {
            let store = open_store(&cli.common).await?;
            let rows = read_import(&file)?;
            let (mut imported, mut skipped) = (0, 0);
            for (line, row) in rows.into_iter().enumerate() {
                let line = line + 1;
                match import_user(&store, &row).await {
                    Ok(()) => imported += 1,
                    Err(e) => {
                        skipped += 1;
                        eprintln!("record {line} ({}): skipped: {e:#}", row.email);
                    }
                }
            }
            eprintln!("imported {imported} user(s), skipped {skipped}");
            Ok(())
        }
        Command::User(UserCommand::Update {
            email,
            name,
            email_verified,
            phone_number,
            phone_number_verified,
            address,
        }) => {
            if name.is_none()
                && email_verified.is_none()
                && phone_number.is_none()
                && phone_number_verified.is_none()
                && address.is_none()
            {
                bail!(
                    "nothing to change: give --name, --email-verified, --phone-number, \
                     --phone-number-verified or --address"
                );
            }
            let phone_number = phone_number
                .map(|p| validate_phone_number(&p))
                .transpose()?;
            let address = address.map(|a| parse_address(&a)).transpose()?;
            if let Some(n) = &name {
                check_display_name("--name", n)?;
            }
            let store = open_store(&cli.common).await?;
            let user = find_user(&store, &email).await?;
            let update = crate::store::ProfileUpdate {
                name: name.as_deref(),
                email_verified,
                phone_number: phone_number.as_ref().map(|p| p.as_deref()),
                phone_number_verified,
                address: address.as_ref().map(|a| a.as_deref()),
            };
            store
                .update_user_profile(&user.sub, &update, Clock::system().now())
                .await?;
            eprintln!("{email} updated");
            Ok(())
        }
        Command::User(UserCommand::Remove { email }) => {
            let store = open_store(&cli.common).await?;
            let user = find_user(&store, &email).await?;
            let now = Clock::system().now();
            let n = store
                .revoke_grants_of(Some(&user.sub), None, now, now + TOKEN_HORIZON_SECS)
                .await?;
            store.delete_user(&user.sub).await?;
            eprintln!("{email} removed; {n} grant(s) revoked");
            Ok(())
        }
        Command::User(UserCommand::Consents { email, revoke }) => {
            let store = if revoke.is_some() {
                open_store(&cli.common).await?
            } else {
                open_existing_store(&cli.common).await?
            };
            let user = find_user(&store, &email).await?;
            match revoke {
                Some(client_id) => {
                    let now = Clock::system().now();
                    let expire_by = now + TOKEN_HORIZON_SECS;
                    if store
                        .revoke_consent(&user.sub, &client_id, now, expire_by)
                        .await?
                    {
                        Audit::new(Event::ConsentRevoked)
                            .account(&user.email)
                            .sub(&user.sub)
                            .client(&client_id)
                            .reason("cli")
                            .emit();
                        eprintln!("consent withdrawn; tokens issued under it are revoked");
                    } else {
                        bail!("{email} has no consent for client {client_id:?}");
                    }
                }
                None => {
                    for c in store.list_consents(&user.sub).await? {
                        println!("{}\t{}\t{}", c.client_id, c.granted_at, printable(&c.scope));
                    }
                }
            }
            Ok(())
        }
        Command::Client(ClientCommand::Add {
            name,
            redirect_uris,
            public,
            scope,
            grant_types,
            id_token_alg,
            access_token_alg,
            post_logout_redirect_uris,
            first_party,
        }) => {
            let registration = ClientRegistration {
                name,
                redirect_uris,
                public,
                scope,
                grant_types,
                id_token_alg: parse_alg(&id_token_alg)?,
                access_token_alg: parse_alg(&access_token_alg)?,
                post_logout_redirect_uris,
                first_party,
                logo_uri: None,
                policy_uri: None,
                tos_uri: None,
                registration_token_hash: None,
            };
            let store = open_store(&cli.common).await?;
            let out = add_client(&store, &registration).await?;
            let client_id = out["client_id"].as_str().unwrap_or_default();
            if let Some(c) = store.find_client(client_id).await? {
                crate::audit::Audit::new(crate::audit::Event::ClientRegistered)
                    .client(client_id)
                    .reason("cli")
                    .detail(crate::oauth::registration::registration_detail(&c))
                    .emit();
            }
            println!("{out}");
            Ok(())
        }
        Command::Client(ClientCommand::List { json: true }) => {
            let store = open_existing_store(&cli.common).await?;
            for c in store.list_clients().await? {
                println!("{}", client_json(&c));
            }
            Ok(())
        }
        Command::Client(ClientCommand::Show { client_id }) => {
            let store = open_existing_store(&cli.common).await?;
            let c = find_client(&store, &client_id).await?;
            println!("{}", serde_json::to_string_pretty(&client_json(&c))?);
            Ok(())
        }
        Command::Client(ClientCommand::Remove { client_id }) => {
            let store = open_store(&cli.common).await?;
            find_client(&store, &client_id).await?;
            let now = Clock::system().now();
            let n = store
                .revoke_grants_of(None, Some(&client_id), now, now + TOKEN_HORIZON_SECS)
                .await?;
            store.delete_client(&client_id).await?;
            eprintln!(
                "client {client_id} removed; {n} grant(s) revoked (running nodes forget it within {} s)",
                crate::app::CLIENT_CACHE_SECS
            );
            Ok(())
        }
        Command::Client(ClientCommand::InitialToken { ttl_secs }) => {
            let store = open_store(&cli.common).await?;
            let token =
                random_token(32).map_err(|_| anyhow::anyhow!("the OS random generator failed"))?;
            let now = Clock::system().now();
            store
                .insert_initial_token(&TokenHash::of(&token), now + ttl_secs, now)
                .await?;
            println!(
                "{}",
                serde_json::json!({"initial_access_token": token, "expires_in": ttl_secs})
            );
            Ok(())
        }
        Command::Client(ClientCommand::Update {
            client_id,
            name,
            redirect_uris,
            post_logout_redirect_uris,
            scope,
            grant_types,
            id_token_alg,
            access_token_alg,
        }) => {
            let store = open_store(&cli.common).await?;
            let c = find_client(&store, &client_id).await?;
            let or = |new: Vec<String>, old: &Vec<String>| {
                if new.is_empty() { old.clone() } else { new }
            };
            let registration = ClientRegistration {
                name: name.unwrap_or_else(|| c.name.clone()),
                redirect_uris: or(redirect_uris, &c.redirect_uris),
                public: c.is_public(),
                scope: scope.unwrap_or_else(|| c.scope.join(" ")),
                grant_types: or(grant_types, &c.grant_types),
                id_token_alg: id_token_alg
                    .as_deref()
                    .map(parse_alg)
                    .transpose()?
                    .unwrap_or(c.id_token_alg),
                access_token_alg: access_token_alg
                    .as_deref()
                    .map(parse_alg)
                    .transpose()?
                    .unwrap_or(c.access_token_alg),
                post_logout_redirect_uris: or(
                    post_logout_redirect_uris,
                    &c.post_logout_redirect_uris,
                ),
                first_party: c.first_party,
                logo_uri: c.logo_uri.clone(),
                policy_uri: c.policy_uri.clone(),
                tos_uri: c.tos_uri.clone(),
                registration_token_hash: None,
            };
            let (scopes, grant_types) = validate_registration(&registration)?;
            store
                .update_client(NewClient {
                    client_id: &client_id,
                    name: registration.name.trim(),
                    secret_hash: None,
                    redirect_uris: &registration.redirect_uris,
                    scope: &scopes,
                    grant_types: &grant_types,
                    id_token_alg: registration.id_token_alg,
                    access_token_alg: registration.access_token_alg,
                    post_logout_redirect_uris: &registration.post_logout_redirect_uris,
                    first_party: registration.first_party,
                    logo_uri: registration.logo_uri.as_deref(),
                    policy_uri: registration.policy_uri.as_deref(),
                    tos_uri: registration.tos_uri.as_deref(),
                    registration_token_hash: None,
                    now: Clock::system().now(),
                })
                .await?;
            let updated = find_client(&store, &client_id).await?;
            println!("{}", serde_json::to_string_pretty(&client_json(&updated))?);
            eprintln!(
                "updated; running nodes see the change within {} s",
                crate::app::CLIENT_CACHE_SECS
            );
            Ok(())
        }
        Command::Client(ClientCommand::RotateSecret { client_id }) => {
            let store = open_store(&cli.common).await?;
            let c = find_client(&store, &client_id).await?;
            if c.is_public() {
                bail!("client {client_id} is public: it has no secret");
            }
            let secret =
                random_token(32).map_err(|_| anyhow::anyhow!("the OS random generator failed"))?;
            store
                .set_client_secret(&client_id, &TokenHash::of(&secret))
                .await?;
            eprintln!(
                "new secret set; the old one stops working on every node within {} s",
                crate::app::CLIENT_CACHE_SECS
            );
            println!(
                "{}",
                serde_json::json!({"client_id": client_id, "client_secret": secret})
            );
            Ok(())
        }
        Command::Client(ClientCommand::List { json: false }) => {
            let store = open_existing_store(&cli.common).await?;
            for c in store.list_clients().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    c.client_id,
                    if c.is_public() {
                        "public"
                    } else {
                        "confidential"
                    },
                    printable(&c.name),
                    printable(&c.redirect_uris.join(" "))
                );
            }
            Ok(())
        }
        Command::Keys(KeysCommand::Jwk { path }) => {
            let jwk = crate::keys::jwk_of_file(&path)?;
            println!("{}", serde_json::to_string_pretty(&jwk)?);
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate { alg }) => {
            let alg = parse_alg(&alg)?;
            std::fs::create_dir_all(&cli.common.keys_dir)
                .with_context(|| format!("cannot create {}", cli.common.keys_dir.display()))?;
            let now = Clock::system().now();
            let signs_from = now + crate::keys::PUBLISH_BEFORE_SIGNING_SECS;
            let path = crate::keys::generate_key_file_signing_from(
                &cli.common.keys_dir,
                alg,
                now,
                signs_from,
            )?;
            let jwk = crate::keys::jwk_of_file(&path)?;
            crate::audit::Audit::new(crate::audit::Event::KeyRotated)
                .reason("key_added")
                .detail(format!(
                    "{alg} key {} ({}) published; signs from {}",
                    jwk.kid,
                    path.display(),
                    utc(signs_from)
                ))
                .emit();
            eprintln!(
                "new {alg} key {} (kid {}): running servers publish it within {} s (SIGHUP: at \
                 once) and sign with it from {} ({} s from now)",
                path.display(),
                jwk.kid,
                crate::app::KEY_RELOAD_SECS,
                utc(signs_from),
                crate::keys::PUBLISH_BEFORE_SIGNING_SECS
            );
            println!(
                "{}",
                serde_json::json!({
                    "kid": jwk.kid,
                    "alg": alg.as_str(),
                    "path": path,
                    "signs_from": signs_from,
                })
            );
            Ok(())
        }
        Command::Keys(KeysCommand::List) => {
            let keys = crate::keys::KeySet::load(&cli.common.keys_dir)?;
            let now = Clock::system().now();
            for k in keys.all() {
                let signing = keys
                    .signing(k.alg(), now)
                    .is_some_and(|a| a.kid() == k.kid());
                let status = if signing {
                    "signing".to_owned()
                } else if k.signs_from() > now {
                    format!("published, signs from {}", utc(k.signs_from()))
                } else {
                    "verify-only".to_owned()
                };
                println!(
                    "{}\t{}\t{}\t{}",
                    k.alg(),
                    k.kid(),
                    status,
                    k.path().display()
                );
            }
            Ok(())
        }
        Command::Keys(KeysCommand::Prune {
            retain_secs,
            dry_run,
        }) => {
            let keys = crate::keys::KeySet::load(&cli.common.keys_dir)?;
            let now = Clock::system().now();
            for path in crate::keys::prunable(&keys, now, retain_secs) {
                if dry_run {
                    println!("would delete {}", path.display());
                } else {
                    std::fs::remove_file(&path)
                        .with_context(|| format!("cannot delete {}", path.display()))?;
                    // The sidecar may be absent (keys made before sidecars, or by hand).
                    let _ = std::fs::remove_file(crate::keys::meta_path(&path));
                    crate::audit::Audit::new(crate::audit::Event::KeyRotated)
                        .reason("key_removed")
                        .detail(format!("{} deleted", path.display()))
                        .emit();
                    println!("deleted {}", path.display());
                }
            }
            Ok(())
        }
    }
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

/// The password from standard input: a pipe is read to its end; at a terminal, one hidden line
/// after a prompt (so it never shows on screen or in shell history).
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        eprint!("Password (hidden, then Enter): ");
        return rpassword::read_password().context("cannot read the password from the terminal");
    }
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("cannot read the password from standard input")?;
    Ok(password)
}

/// How long after revocation a deny-list entry must live: past the longest access token
/// lifetime an operator is likely to configure (a day).
const TOKEN_HORIZON_SECS: i64 = 24 * 3600;

async fn find_user(store: &Store, email: &str) -> anyhow::Result<crate::store::User> {
    store
        .find_user_by_email(email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user with email {email:?}"))
}

async fn find_client(store: &Store, client_id: &str) -> anyhow::Result<crate::store::Client> {
    store
        .find_client(client_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no client with client_id {client_id:?}"))
}

/// A client's registration for `client show` / `list --json` (never the secret hash).
fn client_json(c: &crate::store::Client) -> serde_json::Value {
    serde_json::json!({
        "client_id": c.client_id,
        "client_name": c.name,
        "token_endpoint_auth_method": if c.is_public() { "none" } else { "client_secret_basic" },
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "scope": c.scope.join(" "),
        "grant_types": c.grant_types,
        "id_token_signed_response_alg": c.id_token_alg.as_str(),
        "access_token_signed_response_alg": c.access_token_alg.as_str(),
        "first_party": c.first_party,
        "created_at": c.created_at,
    })
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

/// `url` with its password replaced by `***`, for messages and `config check`.
pub fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Creates a user; returns its `sub`.
///
/// Errors: an invalid email (saying which rule of [`crate::email::normalize`] it breaks), a
/// password shorter than 8 characters, or an email another account has once normalized.
pub async fn add_user(
    store: &Store,
    email: &str,
    name: &str,
    password: &str,
) -> anyhow::Result<String> {
    let email = new_account_email(store, email).await?;
    check_display_name("--name", name)?;
    if password.chars().count() < 8 {
        bail!("the password must have at least 8 characters");
    }
    let hash = crate::password::hash(password).map_err(anyhow::Error::msg)?;
    let sub =
        random_identifier(16).map_err(|_| anyhow::anyhow!("the OS random generator failed"))?;
    store
        .create_user(NewUser {
            sub: &sub,
            email: &email,
            name: name.trim(),
            password_hash: &hash,
            now: Clock::system().now(),
        })
        .await?;
    Ok(sub)
}

/// One user to import.
#[derive(Debug, serde::Deserialize)]
struct ImportRow {
    email: String,
    name: String,
    password_hash: String,
}

/// Reads CSV (with a header) or JSON lines, by the first non-blank character.
fn read_import(path: &std::path::Path) -> anyhow::Result<Vec<ImportRow>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if text.trim_start().starts_with('{') {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).with_context(|| {
                    format!("{} line {}: not a user JSON object", path.display(), i + 1)
                })
            })
            .collect()
    } else {
        csv::Reader::from_reader(text.as_bytes())
            .deserialize()
            .enumerate()
            .map(|(i, r)| {
                r.with_context(|| {
                    format!(
                        "{} record {}: expected the columns email,name,password_hash",
                        path.display(),
                        i + 1
                    )
                })
            })
            .collect()
    }
}

/// The normalized form of `email` for a new account.
///
/// Errors: an invalid address ("invalid: …", naming the rule), or a duplicate: another account
/// already has this address once normalized, which the message names (a fullwidth, NFD or
/// differently cased twin of an existing address).
async fn new_account_email(store: &Store, email: &str) -> anyhow::Result<crate::email::Email> {
    let shown = printable(email.trim());
    let normalized = crate::email::normalize(email)
        .map_err(|e| anyhow::anyhow!("invalid email {shown:?}: {e}"))?;
    if let Some(existing) = store.find_user_by_email(normalized.as_str()).await? {
        bail!(
            "duplicate email: {shown:?} normalizes to {:?}, the address of the existing account \
             {:?} (sub {}); emails are compared after NFC, case folding and width mapping",
            normalized.as_str(),
            printable(&existing.email),
            existing.sub
        );
    }
    Ok(normalized)
}

async fn import_user(store: &Store, row: &ImportRow) -> anyhow::Result<()> {
    let email = new_account_email(store, &row.email).await?;
    check_display_name("name", &row.name)?;
    if !crate::password::is_supported_hash(&row.password_hash) {
        bail!("the password hash is neither bcrypt ($2a$/$2b$/$2y$) nor argon2 (PHC)");
    }
    let sub =
        random_identifier(16).map_err(|_| anyhow::anyhow!("the OS random generator failed"))?;
    store
        .create_user(NewUser {
            sub: &sub,
            email: &email,
            name: row.name.trim(),
            password_hash: &row.password_hash,
            now: Clock::system().now(),
        })
        .await?;
    Ok(())
}

/// Grant types a client can be registered for.
pub const KNOWN_GRANT_TYPES: &[&str] = crate::oidc::discovery::GRANT_TYPES_SUPPORTED;

fn parse_alg(s: &str) -> anyhow::Result<Alg> {
    Alg::parse(s)
        .ok_or_else(|| anyhow::anyhow!("unknown algorithm {s:?}; supported: RS256, ES256, EdDSA"))
}

/// What `client add` registers.
#[derive(Clone, Debug)]
pub struct ClientRegistration {
    /// Display name.
    pub name: String,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// A public client (no secret, PKCE required).
    pub public: bool,
    /// Allowed scopes, space-separated.
    pub scope: String,
    /// Allowed grant types (empty: `authorization_code refresh_token`).
    pub grant_types: Vec<String>,
    /// ID token algorithm.
    pub id_token_alg: Alg,
    /// Access token algorithm.
    pub access_token_alg: Alg,
    /// Exact post-logout redirect URIs (RP-Initiated Logout 1.0 §3).
    pub post_logout_redirect_uris: Vec<String>,
    /// Trusted: no consent page.
    pub first_party: bool,
    /// RFC 7591 `logo_uri`, `policy_uri`, `tos_uri`.
    pub logo_uri: Option<String>,
    /// See `logo_uri`.
    pub policy_uri: Option<String>,
    /// See `logo_uri`.
    pub tos_uri: Option<String>,
    /// SHA-256 (hex) of an RFC 7592 registration access token (dynamic registration only).
    pub registration_token_hash: Option<String>,
}

impl ClientRegistration {
    /// A confidential (or public) client with the defaults of `client add`.
    pub fn new(name: &str, redirect_uris: &[String], public: bool) -> Self {
        Self {
            name: name.to_owned(),
            redirect_uris: redirect_uris.to_vec(),
            public,
            scope: "openid profile email offline_access".into(),
            grant_types: Vec::new(),
            id_token_alg: Alg::RS256,
            access_token_alg: Alg::RS256,
            post_logout_redirect_uris: Vec::new(),
            first_party: false,
            logo_uri: None,
            policy_uri: None,
            tos_uri: None,
            registration_token_hash: None,
        }
    }
}

/// Whether `s` is an RFC 6749 §3.3 scope-token (`%x21 / %x23-5B / %x5D-7E`, at least one).
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Checks a registration as `client add` and `client update` require; returns its scopes and
/// its grant types (the default set when none were given).
///
/// Errors: a redirect URI that is not absolute or carries a fragment (RFC 6749 §3.1.2), a
/// malformed scope, an unknown grant type, or client_credentials for a public client.
pub fn validate_registration(r: &ClientRegistration) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    // Worded for both callers: `client add --name` and registration's `client_name`.
    check_display_name("the client name", &r.name)?;
    for uri in r.redirect_uris.iter().chain(&r.post_logout_redirect_uris) {
        let parsed = url::Url::parse(uri)
            .with_context(|| format!("redirect URI {uri:?} is not an absolute URI"))?;
        if parsed.fragment().is_some() {
            bail!("redirect URI {uri:?} must not contain a fragment (RFC 6749 §3.1.2)");
        }
        if parsed.scheme() == "http"
            && !matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
        {
            eprintln!(
                "warning: {uri} uses plain http; use https outside local development (RFC 9700 §2.6)"
            );
        }
    }
    let scopes: Vec<String> = r.scope.split_whitespace().map(str::to_owned).collect();
    if let Some(bad) = scopes.iter().find(|s| !is_scope_token(s)) {
        bail!("{bad:?} is not a valid scope (RFC 6749 §3.3)");
    }
    let grant_types: Vec<String> = if r.grant_types.is_empty() {
        vec!["authorization_code".into(), "refresh_token".into()]
    } else {
        r.grant_types.clone()
    };
    for g in &grant_types {
        if !KNOWN_GRANT_TYPES.contains(&g.as_str()) {
            bail!(
                "unknown grant type {g:?}; supported: {}",
                KNOWN_GRANT_TYPES.join(" ")
            );
        }
    }
    if r.public && grant_types.iter().any(|g| g == "client_credentials") {
        bail!("a public client cannot use client_credentials (RFC 6749 §4.4)");
    }
    if grant_types.iter().any(|g| g == "password") {
        eprintln!(
            "warning: the password grant exposes user passwords to the client; RFC 9700 §2.4 says it \
             MUST NOT be used. Enable it only to migrate an existing application."
        );
    }
    Ok((scopes, grant_types))
}

/// Longest display name we keep, in characters: names travel in every ID token and page.
pub const MAX_NAME_CHARS: usize = 200;

/// Checks a person's or client's display name: not blank, at most [`MAX_NAME_CHARS`]
/// characters, no control characters (which would garble terminals and logs), and no
/// bidirectional override, embedding, isolate or mark characters (U+202A–U+202E,
/// U+2066–U+2069, U+200E, U+200F, U+061C), which can make a name display as another on the
/// consent page (issue 11 §4).
///
/// Errors: name the `flag` and what is wrong.
pub fn check_display_name(flag: &str, name: &str) -> anyhow::Result<()> {
    if name.trim().is_empty() {
        bail!("{flag} must not be empty");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        bail!("{flag} must have at most {MAX_NAME_CHARS} characters");
    }
    if name.chars().any(char::is_control) {
        bail!("{flag} must not contain control characters");
    }
    if let Some(c) = name.chars().find(|&c| crate::email::is_bidi_control(c)) {
        bail!(
            "{flag} must not contain bidirectional control characters (found U+{:04X}): they can \
             make a name display as a different one",
            u32::from(c)
        );
    }
    Ok(())
}

/// `s` with control characters replaced, for tab-separated terminal output.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// Checks a `--phone-number` value: "" means remove (`None`); otherwise digits with an
/// optional leading `+`, spaces, hyphens, parentheses and an `;ext=` suffix, at most 64
/// characters (OIDC Core §5.1 recommends E.164).
///
/// Errors: a value with other characters or no digit.
pub fn validate_phone_number(p: &str) -> anyhow::Result<Option<String>> {
    let p = p.trim();
    if p.is_empty() {
        return Ok(None);
    }
    let ok = p.len() <= 64
        && p.bytes().any(|b| b.is_ascii_digit())
        && p.chars()
            .all(|c| c.is_ascii_digit() || " +-().;ext=".contains(c));
    if !ok {
        bail!("--phone-number must be a phone number such as +81 3 1234 5678");
    }
    Ok(Some(p.to_owned()))
}

/// Parses an `--address` value into the stored JSON object (OIDC Core §5.1.1): "" means remove
/// (`None`); a JSON object must use only the address members, with string values; any other
/// text is the `formatted` member.
///
/// Errors: a JSON object with an unknown member or a non-string value.
pub fn parse_address(a: &str) -> anyhow::Result<Option<String>> {
    const MEMBERS: &[&str] = &[
        "formatted",
        "street_address",
        "locality",
        "region",
        "postal_code",
        "country",
    ];
    const MAX_MEMBER_CHARS: usize = 256;
    // OIDC Core §5.1.1: `formatted` may span lines; nothing else is a control character.
    let check = |k: &str, v: &str| -> anyhow::Result<()> {
        if v.chars().count() > MAX_MEMBER_CHARS {
            bail!("--address: {k} must have at most {MAX_MEMBER_CHARS} characters");
        }
        if v.chars()
            .any(|c| c.is_control() && !(k == "formatted" && (c == '\n' || c == '\r')))
        {
            bail!("--address: {k} must not contain control characters");
        }
        Ok(())
    };
    let a = a.trim();
    if a.is_empty() {
        return Ok(None);
    }
    let object = if a.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(a)
            .map_err(|e| anyhow::anyhow!("--address is not valid JSON: {e}"))?;
        let obj = v
            .as_object()
            .ok_or_else(|| anyhow::anyhow!("--address must be a JSON object"))?;
        for (k, v) in obj {
            if !MEMBERS.contains(&k.as_str()) {
                bail!(
                    "--address: unknown member {k:?}; use {}",
                    MEMBERS.join(", ")
                );
            }
            match v.as_str() {
                Some(text) => check(k, text)?,
                None => bail!("--address: {k} must be a string"),
            }
        }
        if obj.is_empty() {
            bail!("--address: the JSON object is empty");
        }
        v
    } else {
        check("formatted", a)?;
        serde_json::json!({ "formatted": a })
    };
    Ok(Some(object.to_string()))
}

/// Registers a client; returns the JSON to print (`client_id`, and `client_secret` unless public).
///
/// Errors: see [`validate_registration`].
pub async fn add_client(
    store: &Store,
    r: &ClientRegistration,
) -> anyhow::Result<serde_json::Value> {
    let (scopes, grant_types) = validate_registration(r)?;
    let rng = || anyhow::anyhow!("the OS random generator failed");
    let client_id = random_identifier(16).map_err(|_| rng())?;
    let secret = if r.public {
        None
    } else {
        Some(random_token(32).map_err(|_| rng())?)
    };
    let secret_hash = secret.as_deref().map(sha256_hex);
    store
        .create_client(NewClient {
            client_id: &client_id,
            name: r.name.trim(),
            secret_hash: secret_hash.as_deref(),
            redirect_uris: &r.redirect_uris,
            scope: &scopes,
            grant_types: &grant_types,
            id_token_alg: r.id_token_alg,
            access_token_alg: r.access_token_alg,
            post_logout_redirect_uris: &r.post_logout_redirect_uris,
            first_party: r.first_party,
            logo_uri: r.logo_uri.as_deref(),
            policy_uri: r.policy_uri.as_deref(),
            tos_uri: r.tos_uri.as_deref(),
            registration_token_hash: r.registration_token_hash.as_deref(),
            now: Clock::system().now(),
        })
        .await?;
    Ok(match secret {
        Some(s) => serde_json::json!({"client_id": client_id, "client_secret": s}),
        None => serde_json::json!({"client_id": client_id}),
    })
}

async fn serve_command(
    common: &CommonConfig,
    serve: &ServeConfig,
    demo: bool,
) -> anyhow::Result<()> {
    let app = Application::build(common, serve, Clock::system()).await?;
    let addr = app.local_addr()?;
    let store = app.state().store.clone();
    let issuer = app.state().issuer.as_str().to_owned();
    if demo {
        seed_demo(&store, &issuer).await?;
    }
    tracing::info!(%addr, %issuer, "Sekimori is listening");
    // The banner is for a person at a terminal: stdout, so stderr stays pure log lines (JSON
    // with SEKIMORI_LOG_FORMAT=json).
    println!(
        "\n  Sekimori is running.\n  issuer:    {issuer}\n  discovery: {issuer}/.well-known/openid-configuration\n"
    );
    if store.list_clients().await?.is_empty() {
        println!(
            "  No clients yet. Register one and a user, for example:\n    sekimori client add --name \"My app\" --redirect-uri http://localhost:9999/callback\n    echo 'a long password' | sekimori user add --email you@example.com --name \"You\" --password-stdin\n  (or restart with --demo)\n"
        );
    }
    // SIGTERM/SIGINT: stop accepting, let in-flight requests finish, but not forever.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let mut graceful = stop_rx.clone();
    let mut deadline = stop_rx;
    let grace = std::time::Duration::from_secs(serve.shutdown_grace_secs);
    tokio::select! {
        served = app.run_until_stopped(async move { let _ = graceful.wait_for(|s| *s).await; }) => {
            served?;
            tracing::info!("stopped");
        }
        () = async move {
            let _ = deadline.wait_for(|s| *s).await;
            tracing::info!(grace_secs = grace.as_secs(), "shutting down; finishing in-flight requests");
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("in-flight requests did not finish within the grace period; stopping anyway");
        }
    }
    store.close().await;
    Ok(())
}

/// Makes sure the demo user and client exist, with fresh credentials printed on stdout (each run
/// resets them: the previous ones were shown once and cannot be recovered from their hashes).
async fn seed_demo(store: &Store, issuer: &str) -> anyhow::Result<()> {
    const EMAIL: &str = "demo@example.com";
    const NAME: &str = "Demo app";
    let rng = || anyhow::anyhow!("the OS random generator failed");
    let password = random_token(12).map_err(|_| rng())?;
    let now = Clock::system().now();
    match store.find_user_by_email(EMAIL).await? {
        Some(user) => {
            let hash = crate::password::hash(&password).map_err(anyhow::Error::msg)?;
            store.change_user_password(&user.sub, &hash, now).await?;
        }
        None => {
            add_user(store, EMAIL, "Demo User", &password).await?;
        }
    }
    let redirect = "http://localhost:9999/callback".to_owned();
    let existing = store
        .list_clients()
        .await?
        .into_iter()
        .find(|c| c.name == NAME && !c.is_public());
    let (client_id, secret) = match existing {
        Some(c) => {
            let secret = random_token(32).map_err(|_| rng())?;
            store
                .set_client_secret(&c.client_id, &TokenHash::of(&secret))
                .await?;
            (c.client_id, secret)
        }
        None => {
            let out = add_client(
                store,
                &ClientRegistration::new(NAME, std::slice::from_ref(&redirect), false),
            )
            .await?;
            (
                out["client_id"].as_str().unwrap_or_default().to_owned(),
                out["client_secret"].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    // On stdout, not the log stream: credentials must never end up in collected logs.
    println!(
        "\n  Demo credentials (new on every --demo start):\n    user:          {EMAIL} / {password}\n    client_id:     {client_id}\n    client_secret: {secret}\n    redirect_uri:  {redirect}\n\n  Open in a browser:\n    {issuer}/authorize?response_type=code&client_id={client_id}&redirect_uri=http%3A%2F%2Flocalhost%3A9999%2Fcallback&scope=openid%20profile%20email&state=xyz&nonce=n-0S6\n"
    );
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_checked_and_empty_means_remove() {
        assert_eq!(
            validate_phone_number(" +81 3-1234-5678;ext=9 ").expect("ok"),
            Some("+81 3-1234-5678;ext=9".to_owned())
        );
        assert_eq!(validate_phone_number("").expect("ok"), None);
        for bad in ["call me", "+", "<script>", &"1".repeat(65)] {
            assert!(validate_phone_number(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_are_a_formatted_line_or_the_address_members() {
        assert_eq!(
            parse_address("1-1 Chiyoda, Tokyo").expect("ok").as_deref(),
            Some(r#"{"formatted":"1-1 Chiyoda, Tokyo"}"#)
        );
        let stored = parse_address(r#"{"locality":"Tokyo","country":"JP"}"#)
            .expect("ok")
            .expect("some");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&stored).expect("json"),
            serde_json::json!({"locality": "Tokyo", "country": "JP"})
        );
        assert_eq!(parse_address("  ").expect("ok"), None);
        for bad in [
            r#"{"planet":"Mars"}"#,
            r#"{"locality":{"x":1}}"#,
            r#"{"locality":"#,
            r#"{"locality":"Tokyo"} trailing"#,
        ] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
    }
}
