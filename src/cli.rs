//! The `sekimori` command line: `serve`, `migrate`, `user add|list`, `client add|list`,
//! `keys jwk`. Every subcommand reads the same environment (`DATABASE_URL`, `SEKIMORI_*`).

use std::io::Read;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::app::Application;
use crate::clock::Clock;
use crate::config::{CommonConfig, ServeConfig};
use crate::crypto::{random_token, sha256_hex};
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
enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add {
        /// Email address (the login name).
        #[arg(long)]
        email: String,
        /// Full name (the `name` claim).
        #[arg(long)]
        name: String,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List users.
    List,
}

#[derive(Subcommand, Debug)]
enum ClientCommand {
    /// Register a client; prints `{"client_id": …, "client_secret": …}` (the secret only once).
    Add {
        /// Display name shown on the login page.
        #[arg(long)]
        name: String,
        /// Redirection URI, matched exactly; repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// A public client (browser or native app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// Scopes the client may be granted, space-separated.
        #[arg(long, default_value = "openid profile email offline_access")]
        scope: String,
        /// Grant types; repeatable; replaces the default `authorization_code refresh_token`.
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
    },
    /// List clients.
    List,
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Print the public JWK (with kid, alg, use) of a PEM private key.
    Jwk {
        /// Path to a PEM private key (PKCS#1 or PKCS#8).
        path: std::path::PathBuf,
    },
}

/// Runs the parsed command.
///
/// Errors: a message for a person, printed by `main` on one line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { serve, demo } => serve_command(&cli.common, &serve, demo).await,
        Command::Migrate => {
            let store = open_store(&cli.common).await?;
            eprintln!("database is up to date");
            store.close().await;
            Ok(())
        }
        Command::User(UserCommand::Add { email, name, .. }) => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']);
            let store = open_store(&cli.common).await?;
            let sub = add_user(&store, &email, &name, password).await?;
            println!(
                "{}",
                serde_json::json!({"sub": sub, "email": email.to_lowercase()})
            );
            Ok(())
        }
        Command::User(UserCommand::List) => {
            let store = open_store(&cli.common).await?;
            for u in store.list_users().await? {
                println!("{}\t{}\t{}", u.sub, u.email, u.name);
            }
            Ok(())
        }
        Command::Client(ClientCommand::Add {
            name,
            redirect_uris,
            public,
            scope,
            grant_types,
        }) => {
            let store = open_store(&cli.common).await?;
            let out =
                add_client(&store, &name, &redirect_uris, public, &scope, &grant_types).await?;
            println!("{out}");
            Ok(())
        }
        Command::Client(ClientCommand::List) => {
            let store = open_store(&cli.common).await?;
            for c in store.list_clients().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    c.client_id,
                    if c.is_public() {
                        "public"
                    } else {
                        "confidential"
                    },
                    c.name,
                    c.redirect_uris.join(" ")
                );
            }
            Ok(())
        }
        Command::Keys(KeysCommand::Jwk { path }) => {
            let jwk = crate::keys::jwk_of_file(&path)?;
            println!("{}", serde_json::to_string_pretty(&jwk)?);
            Ok(())
        }
    }
}

async fn open_store(common: &CommonConfig) -> anyhow::Result<Store> {
    let store = Store::connect(&common.database_url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    store
        .migrate()
        .await
        .map_err(|e| anyhow::anyhow!("cannot migrate the database: {e}"))?;
    Ok(store)
}

/// Creates a user; returns its `sub`.
///
/// Errors: an invalid email, a password shorter than 8 characters, or an email already taken.
pub async fn add_user(
    store: &Store,
    email: &str,
    name: &str,
    password: &str,
) -> anyhow::Result<String> {
    let email = email.trim();
    if !email.contains('@') || email.len() > 254 || email.chars().any(char::is_whitespace) {
        bail!("{email:?} is not an email address");
    }
    if name.trim().is_empty() {
        bail!("--name must not be empty");
    }
    if password.chars().count() < 8 {
        bail!("the password must have at least 8 characters");
    }
    let hash = crate::password::hash(password).map_err(anyhow::Error::msg)?;
    let sub = random_token(16).map_err(|_| anyhow::anyhow!("the OS random generator failed"))?;
    store
        .create_user(NewUser {
            sub: &sub,
            email,
            name: name.trim(),
            password_hash: &hash,
            now: Clock::system().now(),
        })
        .await?;
    Ok(sub)
}

/// Grant types a client can be registered for.
pub const KNOWN_GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token"];

/// Registers a client; returns the JSON to print (`client_id`, and `client_secret` unless public).
///
/// Errors: a redirect URI that is not absolute or carries a fragment (RFC 6749 §3.1.2), an
/// unknown scope or grant type.
pub async fn add_client(
    store: &Store,
    name: &str,
    redirect_uris: &[String],
    public: bool,
    scope: &str,
    grant_types: &[String],
) -> anyhow::Result<serde_json::Value> {
    if name.trim().is_empty() {
        bail!("--name must not be empty");
    }
    for uri in redirect_uris {
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
    let scopes: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
    for s in &scopes {
        if !crate::oidc::discovery::SCOPES_SUPPORTED.contains(&s.as_str()) {
            bail!(
                "unknown scope {s:?}; supported: {}",
                crate::oidc::discovery::SCOPES_SUPPORTED.join(" ")
            );
        }
    }
    let grant_types: Vec<String> = if grant_types.is_empty() {
        vec!["authorization_code".into(), "refresh_token".into()]
    } else {
        grant_types.to_vec()
    };
    for g in &grant_types {
        if !KNOWN_GRANT_TYPES.contains(&g.as_str()) {
            bail!(
                "unknown grant type {g:?}; supported: {}",
                KNOWN_GRANT_TYPES.join(" ")
            );
        }
    }
    let client_id =
        random_token(16).map_err(|_| anyhow::anyhow!("the OS random generator failed"))?;
    let secret = if public {
        None
    } else {
        Some(random_token(32).map_err(|_| anyhow::anyhow!("the OS random generator failed"))?)
    };
    let secret_hash = secret.as_deref().map(sha256_hex);
    store
        .create_client(NewClient {
            client_id: &client_id,
            name: name.trim(),
            secret_hash: secret_hash.as_deref(),
            redirect_uris,
            scope: &scopes,
            grant_types: &grant_types,
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
    eprintln!(
        "\n  Sekimori is running.\n  issuer:    {issuer}\n  discovery: {issuer}/.well-known/openid-configuration\n"
    );
    if store.list_clients().await?.is_empty() {
        eprintln!(
            "  No clients yet. Register one and a user, for example:\n    sekimori client add --name \"My app\" --redirect-uri http://localhost:9999/callback\n    echo 'a long password' | sekimori user add --email you@example.com --name \"You\" --password-stdin\n  (or restart with --demo)\n"
        );
    }
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn seed_demo(store: &Store, issuer: &str) -> anyhow::Result<()> {
    if !store.list_users().await?.is_empty() || !store.list_clients().await?.is_empty() {
        eprintln!("  --demo: the database already has users or clients; nothing seeded.");
        return Ok(());
    }
    let password =
        random_token(12).map_err(|_| anyhow::anyhow!("the OS random generator failed"))?;
    add_user(store, "demo@example.com", "Demo User", &password).await?;
    let redirect = "http://localhost:9999/callback".to_owned();
    let client = add_client(
        store,
        "Demo app",
        std::slice::from_ref(&redirect),
        false,
        "openid profile email offline_access",
        &[],
    )
    .await?;
    let client_id = client["client_id"].as_str().unwrap_or_default();
    let secret = client["client_secret"].as_str().unwrap_or_default();
    eprintln!(
        "\n  Demo seeded (shown once):\n    user:          demo@example.com / {password}\n    client_id:     {client_id}\n    client_secret: {secret}\n    redirect_uri:  {redirect}\n\n  Open in a browser:\n    {issuer}/authorize?response_type=code&client_id={client_id}&redirect_uri=http%3A%2F%2Flocalhost%3A9999%2Fcallback&scope=openid%20profile%20email&state=xyz&nonce=n-0S6\n"
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
