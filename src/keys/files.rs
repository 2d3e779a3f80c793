//! Key files in the key folder: generating a private key (PKCS#8 PEM, mode 0600) and its
//! sidecar `NAME.pem.json` with the "signs from" time, that time's fallbacks (the name's stamp,
//! the modification time), the folder's fingerprint, and which replaced keys may be pruned.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use serde::Serialize;

use super::{Alg, Error, Jwk, KeySet, PUBLISH_BEFORE_SIGNING_SECS, SigningKey};

/// The sidecar of a key file: `NAME.pem.json`.
///
/// Shape: `{"signs_from": NumericDate}` (Unix seconds; `created_at` is informational).
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct KeyMeta {
    /// When the key starts signing, in Unix seconds.
    pub signs_from: i64,
    /// When the key was made, in Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
}

/// The sidecar path of the key file `path`.
pub fn meta_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

/// The creation time in a generated key's file name (`rs256-1764630000-AbCdEf.pem`).
fn stamp_in_name(path: &Path) -> Option<i64> {
    let stem = path.file_stem()?.to_str()?;
    let mut parts = stem.splitn(3, '-');
    let alg = parts.next()?;
    let stamp = parts.next()?;
    parts.next()?;
    if !Alg::ALL
        .iter()
        .any(|a| a.as_str().eq_ignore_ascii_case(alg))
    {
        return None;
    }
    stamp.parse().ok()
}

/// When the key file at `path` (modified at `modified`) starts signing; see [`crate::keys`].
pub(super) fn signs_from(path: &Path, modified: i64) -> i64 {
    if let Ok(bytes) = fs::read(meta_path(path)) {
        match serde_json::from_slice::<KeyMeta>(&bytes) {
            Ok(meta) => return meta.signs_from,
            Err(e) => tracing::warn!(
                path = %meta_path(path).display(),
                error = %e,
                "key sidecar unreadable; using the key's name or modification time"
            ),
        }
    }
    stamp_in_name(path)
        .unwrap_or(modified)
        .saturating_add(PUBLISH_BEFORE_SIGNING_SECS)
}

pub(super) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |error| Error::Io {
        path: path.to_owned(),
        error,
    }
}

/// The (file name, mtime) of every private-key file and sidecar in `dir`, sorted.
pub(super) fn folder_fingerprint(dir: &Path) -> Vec<(PathBuf, i64)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, i64)> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let path = e.path();
            let name = path.to_string_lossy();
            name.ends_with(".pem.json")
                || (path.extension().and_then(|x| x.to_str()) == Some("pem")
                    && fs::read_to_string(&path).is_ok_and(|t| t.contains("PRIVATE KEY-----")))
        })
        .map(|e| {
            let m = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
                .unwrap_or(0);
            (e.path(), m)
        })
        .collect();
    out.sort();
    out
}

/// Writes a new private key for `alg` into `dir` (PKCS#8 PEM, mode 0600) that signs at once,
/// and returns its path. RSA keys are 2048 bits. For a key that replaces another, use
/// [`generate_key_file_signing_from`].
///
/// Errors: [`Error::Io`] if a file cannot be written.
pub fn generate_key_file(dir: &Path, alg: Alg) -> Result<PathBuf, Error> {
    let now = crate::clock::Clock::system().now();
    generate_key_file_signing_from(dir, alg, now, now)
}

/// Writes a new private key for `alg` into `dir` (PKCS#8 PEM, mode 0600) made at `now` that
/// starts signing at `signs_from` (both Unix seconds), recorded in its sidecar
/// `NAME.pem.json`; returns the key's path. The sidecar is written first, so a node never
/// loads the key without it.
///
/// Errors: [`Error::Io`] if a file cannot be written.
pub fn generate_key_file_signing_from(
    dir: &Path,
    alg: Alg,
    now: i64,
    signs_from: i64,
) -> Result<PathBuf, Error> {
    let der = match alg {
        Alg::RS256 => RsaKeyPair::generate(KeySize::Rsa2048)
            .and_then(|k| k.as_der())
            .map(|d| d.as_ref().to_vec()),
        Alg::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|k| k.to_pkcs8v1())
            .map(|d| d.as_ref().to_vec()),
        Alg::EdDSA => Ed25519KeyPair::generate()
            .and_then(|k| k.to_pkcs8v1())
            .map(|d| d.as_ref().to_vec()),
    }
    .map_err(|_| Error::Sign)?;
    let text = pem::encode(&pem::Pem::new("PRIVATE KEY", der));
    // Sortable by creation; the random suffix avoids clashes between nodes sharing the folder.
    let suffix = crate::crypto::random_token(6).map_err(|_| Error::Sign)?;
    let path = dir.join(format!(
        "{}-{now}-{suffix}.pem",
        alg.as_str().to_lowercase()
    ));
    let meta = meta_path(&path);
    let json = serde_json::to_vec(&KeyMeta {
        signs_from,
        created_at: Some(now),
    })?;
    fs::write(&meta, json).map_err(io_err(&meta))?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io_err(&path))?;
    file.write_all(text.as_bytes()).map_err(io_err(&path))?;
    Ok(path)
}

/// Key files that may be deleted at `now`: not the signing key of their algorithm, and replaced
/// (a later key of the same algorithm started signing) more than `retain_secs` ago — so every
/// token they signed has expired. Their sidecars go with them.
pub fn prunable(keys: &KeySet, now: i64, retain_secs: i64) -> Vec<PathBuf> {
    let all: Vec<&SigningKey> = keys.all().collect();
    all.iter()
        .filter(|k| {
            // The first later key of the same algorithm: when k stopped signing.
            let replaced_at = all
                .iter()
                .filter(|n| n.alg == k.alg && n.signs_from > k.signs_from)
                .map(|n| n.signs_from)
                .min();
            let signing = keys.signing(k.alg, now).is_some_and(|s| s.kid == k.kid);
            !signing && replaced_at.is_some_and(|t| now - t > retain_secs)
        })
        .map(|k| k.path.clone())
        .collect()
}

/// The public JWK of the private key in the PEM file at `path` (what the `pem-jwk` tool prints,
/// plus `kid`, `alg` and `use`).
///
/// Errors: the file cannot be read or holds no usable private key.
pub fn jwk_of_file(path: &Path) -> Result<Jwk, Error> {
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    Ok(SigningKey::from_pem(path, &text)?.jwk.clone())
}
