//! `sekimori keys …`: parse, call [`crate::keys`], print.

use anyhow::Context;
use clap::Subcommand;

use crate::audit::{Audit, Event};
use crate::clock::Clock;
use crate::config::CommonConfig;

use super::utc;

#[derive(Subcommand, Debug)]
pub(super) enum KeysCommand {
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

pub(super) fn run(common: &CommonConfig, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Jwk { path } => jwk(&path),
        KeysCommand::Rotate { alg } => rotate(common, &alg),
        KeysCommand::List => list(common),
        KeysCommand::Prune {
            retain_secs,
            dry_run,
        } => prune(common, retain_secs, dry_run),
    }
}

fn jwk(path: &std::path::Path) -> anyhow::Result<()> {
    let jwk = crate::keys::jwk_of_file(path)?;
    println!("{}", serde_json::to_string_pretty(&jwk)?);
    Ok(())
}

fn rotate(common: &CommonConfig, alg: &str) -> anyhow::Result<()> {
    let alg = crate::clients::parse_alg(alg)?;
    std::fs::create_dir_all(&common.keys_dir)
        .with_context(|| format!("cannot create {}", common.keys_dir.display()))?;
    let now = Clock::system().now();
    let signs_from = now + crate::keys::PUBLISH_BEFORE_SIGNING_SECS;
    let path = crate::keys::generate_key_file_signing_from(&common.keys_dir, alg, now, signs_from)?;
    let jwk = crate::keys::jwk_of_file(&path)?;
    Audit::new(Event::KeyRotated)
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

fn list(common: &CommonConfig) -> anyhow::Result<()> {
    let keys = crate::keys::KeySet::load(&common.keys_dir)?;
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

fn prune(common: &CommonConfig, retain_secs: i64, dry_run: bool) -> anyhow::Result<()> {
    let keys = crate::keys::KeySet::load(&common.keys_dir)?;
    let now = Clock::system().now();
    for path in crate::keys::prunable(&keys, now, retain_secs) {
        if dry_run {
            println!("would delete {}", path.display());
            continue;
        }
        std::fs::remove_file(&path).with_context(|| format!("cannot delete {}", path.display()))?;
        // The sidecar may be absent (keys made before sidecars, or by hand).
        let _ = std::fs::remove_file(crate::keys::meta_path(&path));
        Audit::new(Event::KeyRotated)
            .reason("key_removed")
            .detail(format!("{} deleted", path.display()))
            .emit();
        println!("deleted {}", path.display());
    }
    Ok(())
}
