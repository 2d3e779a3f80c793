//! `sekimori client …`: parse, call [`crate::clients`], print.

use clap::Subcommand;

use crate::accounts::{TOKEN_HORIZON_SECS, printable};
use crate::audit::{Audit, Event};
use crate::clients::{self, ClientChanges, ClientRegistration, RedirectContext, parse_alg};
use crate::clock::Clock;
use crate::config::CommonConfig;
use crate::store::Client;

use super::{open_existing_store, open_store, print_warnings};

#[derive(Subcommand, Debug)]
pub(super) enum ClientCommand {
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

impl ClientCommand {
    /// Whether the command writes to the database.
    pub(super) fn changes_database(&self) -> bool {
        !matches!(self, Self::List { .. } | Self::Show { .. })
    }
}

pub(super) async fn run(common: &CommonConfig, command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Add {
            name,
            redirect_uris,
            public,
            scope,
            grant_types,
            id_token_alg,
            access_token_alg,
            post_logout_redirect_uris,
            first_party,
        } => {
            let registration = ClientRegistration {
                scope,
                grant_types,
                id_token_alg: parse_alg(&id_token_alg)?,
                access_token_alg: parse_alg(&access_token_alg)?,
                post_logout_redirect_uris,
                first_party,
                ..ClientRegistration::new(&name, &redirect_uris, public)
            };
            add(common, registration).await
        }
        ClientCommand::List { json } => list(common, json).await,
        ClientCommand::Show { client_id } => show(common, &client_id).await,
        ClientCommand::Remove { client_id } => remove(common, &client_id).await,
        ClientCommand::InitialToken { ttl_secs } => initial_token(common, ttl_secs).await,
        ClientCommand::Update {
            client_id,
            name,
            redirect_uris,
            post_logout_redirect_uris,
            scope,
            grant_types,
            id_token_alg,
            access_token_alg,
        } => {
            let changes = ClientChanges {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                scope,
                grant_types,
                id_token_alg: id_token_alg.as_deref().map(parse_alg).transpose()?,
                access_token_alg: access_token_alg.as_deref().map(parse_alg).transpose()?,
            };
            update(common, &client_id, changes).await
        }
        ClientCommand::RotateSecret { client_id } => rotate_secret(common, &client_id).await,
    }
}

/// What `client add` and `client rotate-secret` print: the client_id and, unless the client
/// is public, its secret (shown this once).
pub(super) fn credentials_json(client_id: &str, secret: Option<&str>) -> serde_json::Value {
    match secret {
        Some(s) => serde_json::json!({"client_id": client_id, "client_secret": s}),
        None => serde_json::json!({"client_id": client_id}),
    }
}

/// A client's registration for `client show` / `list --json` (never the secret hash).
fn client_json(c: &Client) -> serde_json::Value {
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

async fn add(common: &CommonConfig, registration: ClientRegistration) -> anyhow::Result<()> {
    let store = open_store(common).await?;
    let checked = clients::validate(registration, RedirectContext::Operator)?;
    print_warnings(&checked.warnings);
    let created = clients::register(&store, &Clock::system(), checked).await?;
    let c = &created.client;
    Audit::new(Event::ClientRegistered)
        .client(&c.client_id)
        .reason("cli")
        .detail(clients::registration_detail(c))
        .emit();
    println!(
        "{}",
        credentials_json(&c.client_id, created.client_secret.as_deref())
    );
    Ok(())
}

async fn list(common: &CommonConfig, json: bool) -> anyhow::Result<()> {
    let store = open_existing_store(common).await?;
    for c in store.list_clients().await? {
        if json {
            println!("{}", client_json(&c));
        } else {
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
    }
    Ok(())
}

async fn show(common: &CommonConfig, client_id: &str) -> anyhow::Result<()> {
    let store = open_existing_store(common).await?;
    let c = clients::find(&store, client_id).await?;
    println!("{}", serde_json::to_string_pretty(&client_json(&c))?);
    Ok(())
}

async fn remove(common: &CommonConfig, client_id: &str) -> anyhow::Result<()> {
    let store = open_store(common).await?;
    let n = clients::remove(&store, &Clock::system(), client_id, TOKEN_HORIZON_SECS).await?;
    eprintln!(
        "client {client_id} removed; {n} grant(s) revoked (running nodes forget it within {} s)",
        crate::app::CLIENT_CACHE_SECS
    );
    Ok(())
}

async fn initial_token(common: &CommonConfig, ttl_secs: i64) -> anyhow::Result<()> {
    let store = open_store(common).await?;
    let token = clients::issue_initial_token(&store, &Clock::system(), ttl_secs).await?;
    println!(
        "{}",
        serde_json::json!({"initial_access_token": token, "expires_in": ttl_secs})
    );
    Ok(())
}

async fn update(
    common: &CommonConfig,
    client_id: &str,
    changes: ClientChanges,
) -> anyhow::Result<()> {
    let store = open_store(common).await?;
    let updated = clients::update(&store, &Clock::system(), client_id, changes).await?;
    print_warnings(&updated.warnings);
    println!(
        "{}",
        serde_json::to_string_pretty(&client_json(&updated.client))?
    );
    eprintln!(
        "updated; running nodes see the change within {} s",
        crate::app::CLIENT_CACHE_SECS
    );
    Ok(())
}

async fn rotate_secret(common: &CommonConfig, client_id: &str) -> anyhow::Result<()> {
    let store = open_store(common).await?;
    let secret = clients::rotate_secret(&store, client_id).await?;
    eprintln!(
        "new secret set; the old one stops working on every node within {} s",
        crate::app::CLIENT_CACHE_SECS
    );
    println!("{}", credentials_json(client_id, Some(&secret)));
    Ok(())
}
