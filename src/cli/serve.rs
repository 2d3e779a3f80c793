//! `sekimori serve`: build the application, print the banner (and the demo credentials), run
//! until SIGTERM/SIGINT, then drain.

use crate::accounts;
use crate::app::Application;
use crate::clients::{self, ClientRegistration, RedirectContext};
use crate::clock::Clock;
use crate::config::{CommonConfig, ServeConfig};
use crate::crypto::random_token;
use crate::store::Store;

/// Runs the provider until a signal stops it. [`Application::build`] runs
/// [`crate::config::validate`] first, the checks `config check` runs.
pub(super) async fn serve(
    common: &CommonConfig,
    serve: &ServeConfig,
    demo: bool,
) -> anyhow::Result<()> {
    let clock = Clock::system();
    // `--demo` also serves the demo relying party under /demo/ (never from a file or the env).
    let serve = &ServeConfig {
        demo,
        ..serve.clone()
    };
    let app = Application::build(common, serve, clock.clone()).await?;
    let addr = app.local_addr()?;
    let store = app.state().store.clone();
    let issuer = app.state().issuer.as_str().to_owned();
    if demo {
        seed_demo(&store, &clock, &issuer).await?;
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
async fn seed_demo(store: &Store, clock: &Clock, issuer: &str) -> anyhow::Result<()> {
    const EMAIL: &str = "demo@example.com";
    const NAME: &str = "Demo app";
    let password =
        random_token(12).map_err(|_| anyhow::anyhow!("the OS random generator failed"))?;
    match accounts::find(store, EMAIL).await {
        Ok(_) => {
            accounts::change_password(store, clock, EMAIL, &password).await?;
        }
        Err(accounts::AccountError::NotFound(_)) => {
            accounts::add(store, clock, EMAIL, "Demo User", &password).await?;
        }
        Err(e) => return Err(e.into()),
    }
    let redirect = "http://localhost:9999/callback".to_owned();
    let existing = store
        .list_clients()
        .await?
        .into_iter()
        .find(|c| c.name == NAME && !c.is_public());
    let (client_id, secret) = match existing {
        Some(c) => {
            let secret = clients::rotate_secret(store, &c.client_id).await?;
            (c.client_id, secret)
        }
        None => {
            let registration =
                ClientRegistration::new(NAME, std::slice::from_ref(&redirect), false);
            let checked = clients::validate(registration, RedirectContext::Operator)?;
            let created = clients::register(store, clock, checked).await?;
            (
                created.client.client_id,
                created.client_secret.unwrap_or_default(),
            )
        }
    };
    // On stdout, not the log stream: credentials must never end up in collected logs.
    println!(
        "\n  Demo (new credentials on every --demo start):\n    user:      {EMAIL} / {password}\n\n  Open the demo app in a browser and sign in as that user:\n    {issuer}/demo/start\n\n  For the curl walk-through in the README (client \"{NAME}\", redirect_uri {redirect}):\n    export ISSUER={issuer} CLIENT_ID={client_id} CLIENT_SECRET={secret}\n"
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
