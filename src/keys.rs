//! Signing keys: loaded from (or generated into) the key folder, identified by their RFC 7638 JWK
//! thumbprint, published as a JWK Set (RFC 7517 §5), used to sign ID and access tokens (RS256,
//! RFC 7518 §3.3) and to verify the access tokens presented back to us.
//!
//! Each key pair is parsed once, at load; signing never re-parses a key (jsonwebtoken 12's
//! `encode` does, which costs 60 % of a signature). Verification goes through jsonwebtoken with
//! the algorithm pinned to RS256 and the key chosen by `kid`, never by trying every key.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crypto::{b64url, sha256};

/// Failures loading, generating or using keys.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key folder or a key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A PEM file holds something we cannot use as a signing key.
    #[error("{path}: {reason}")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong, for a person.
        reason: String,
    },
    /// Signing failed inside the crypto library.
    #[error("signing failed")]
    Sign,
    /// A JSON value could not be serialized.
    #[error("serialization failed: {0}")]
    Json(#[from] serde_json::Error),
}

/// A public key as a JWK (RFC 7517 §4, RFC 7518 §6.3.1).
///
/// Shape: `{"kty":"RSA","use":"sig","alg":"RS256","kid":…,"n":…,"e":…}`, `n` and `e` base64url.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Jwk {
    /// Key type, always `RSA` for now.
    pub kty: String,
    /// Public key use: `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// The algorithm this key signs with: `RS256`.
    pub alg: String,
    /// Key id: the RFC 7638 thumbprint.
    pub kid: String,
    /// Modulus, base64url (big-endian, no leading zeros).
    pub n: String,
    /// Public exponent, base64url.
    pub e: String,
}

/// One RSA signing key, parsed once.
pub struct SigningKey {
    kid: String,
    pair: RsaKeyPair,
    jwk: Jwk,
    decoding: DecodingKey,
    /// When the key file was last modified (Unix seconds): the newest key signs.
    modified: i64,
    path: PathBuf,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a PEM private key: PKCS#1 (`BEGIN RSA PRIVATE KEY`, what `openssl genrsa` writes) or
    /// PKCS#8 (`BEGIN PRIVATE KEY`).
    ///
    /// Errors: [`Error::BadKey`] for other PEM types, encrypted keys, or keys aws-lc-rs rejects
    /// (for example, shorter than 2048 bits).
    pub fn from_pem(path: &Path, text: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::BadKey {
            path: path.to_owned(),
            reason,
        };
        let block = pem::parse(text).map_err(|e| bad(format!("not a PEM file ({e})")))?;
        let pair = match block.tag() {
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(block.contents()),
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(block.contents()),
            "ENCRYPTED PRIVATE KEY" => {
                return Err(bad(
                    "encrypted private keys are not supported; decrypt it with `openssl pkey`"
                        .into(),
                ));
            }
            other => return Err(bad(format!("expected an RSA private key, found {other:?}"))),
        }
        .map_err(|e| bad(format!("not a usable RSA private key ({e})")))?;
        Self::from_pair(pair, path.to_owned(), 0)
    }

    fn from_pair(pair: RsaKeyPair, path: PathBuf, modified: i64) -> Result<Self, Error> {
        let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let n = b64url(strip_leading_zeros(&components.n));
        let e = b64url(strip_leading_zeros(&components.e));
        // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
        let thumbprint_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = b64url(&sha256(thumbprint_input.as_bytes()));
        let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(|err| Error::BadKey {
            path: path.clone(),
            reason: format!("public key unusable for verification ({err})"),
        })?;
        let jwk = Jwk {
            kty: "RSA".into(),
            use_: "sig".into(),
            alg: "RS256".into(),
            kid: kid.clone(),
            n,
            e,
        };
        Ok(Self {
            kid,
            pair,
            jwk,
            decoding,
            modified,
            path,
        })
    }

    /// The key id (RFC 7638 thumbprint, base64url SHA-256).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half as a JWK.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Signs `header.claims` as a compact JWS (RFC 7515 §7.1) with RS256.
    ///
    /// `typ` is the JOSE `typ` header: `JWT` for ID tokens, `at+jwt` for access tokens (RFC 9068 §2.1).
    pub fn sign<C: Serialize>(&self, typ: &str, claims: &C) -> Result<String, Error> {
        let header = serde_json::json!({"alg": "RS256", "typ": typ, "kid": self.kid});
        let mut jws = b64url(&serde_json::to_vec(&header)?);
        jws.push('.');
        jws.push_str(&b64url(&serde_json::to_vec(claims)?));
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                jws.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Error::Sign)?;
        jws.push('.');
        jws.push_str(&b64url(&signature));
        Ok(jws)
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Why a presented JWT was not accepted. Deliberately coarse: the caller answers
/// `invalid_token` either way and must not tell an attacker which check failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not a well-formed JWS, wrong `alg`/`typ`, unknown `kid`, or a bad signature.
    #[error("token rejected: {0}")]
    Rejected(&'static str),
}

/// All keys in the key folder: the newest signs, all verify and are published.
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<Arc<SigningKey>>,
    jwks_json: Vec<u8>,
    jwks_etag: String,
}

impl KeySet {
    /// Loads every private key (`*.pem`) in `dir`; if there is none, generates an RSA-2048 key there
    /// (PKCS#8 PEM, mode 0600). Returns the set and the path of a key generated now, if any.
    ///
    /// Errors: the folder cannot be created or read, or a file that claims to be a private key is
    /// unusable ([`Error::BadKey`]); files holding only public keys or certificates are skipped.
    pub fn load_or_generate(dir: &Path) -> Result<(Self, Option<PathBuf>), Error> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mut keys = Self::load_dir(dir)?;
        let mut generated = None;
        if keys.is_empty() {
            let path = generate_key_file(dir)?;
            let text = fs::read_to_string(&path).map_err(io(&path))?;
            keys.push(SigningKey::from_pem(&path, &text)?);
            generated = Some(path);
        }
        Ok((Self::from_keys(keys)?, generated))
    }

    fn load_dir(dir: &Path) -> Result<Vec<SigningKey>, Error> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io { path, source }
        };
        let mut keys = Vec::new();
        for entry in fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("pem") {
                continue;
            }
            let text = fs::read_to_string(&path).map_err(io(&path))?;
            if !text.contains("PRIVATE KEY-----") {
                // A public key or certificate beside the private key (the tutorial kept one).
                continue;
            }
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
                .unwrap_or(0);
            let mut key = SigningKey::from_pem(&path, &text)?;
            key.modified = modified;
            keys.push(key);
        }
        Ok(keys)
    }

    fn from_keys(mut keys: Vec<SigningKey>) -> Result<Self, Error> {
        // Newest first; ties broken by file name so every node sharing the folder agrees.
        keys.sort_by(|a, b| b.modified.cmp(&a.modified).then(b.path.cmp(&a.path)));
        keys.dedup_by(|a, b| a.kid == b.kid);
        let jwks = serde_json::json!({
            "keys": keys.iter().map(|k| &k.jwk).collect::<Vec<_>>()
        });
        let jwks_json = serde_json::to_vec(&jwks)?;
        let jwks_etag = format!("\"{}\"", &crate::crypto::b64url(&sha256(&jwks_json))[..22]);
        Ok(Self {
            keys: keys.into_iter().map(Arc::new).collect(),
            jwks_json,
            jwks_etag,
        })
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> &SigningKey {
        // from_keys is only called with at least one key.
        &self.keys[0]
    }

    /// The JWK Set document (RFC 7517 §5), serialized once.
    pub fn jwks_json(&self) -> &[u8] {
        &self.jwks_json
    }

    /// A strong validator for [`Self::jwks_json`] (quoted, for `ETag`).
    pub fn jwks_etag(&self) -> &str {
        &self.jwks_etag
    }

    /// Verifies a compact JWS we issued: `alg` must be RS256 (no `none`, no HS*), `typ` must equal
    /// `expected_typ` (case-insensitive, RFC 9068 §4), `kid` must name one of our keys, and the
    /// signature must hold. Time and audience checks are the caller's (they need our clock).
    pub fn verify<C: DeserializeOwned>(
        &self,
        token: &str,
        expected_typ: &str,
    ) -> Result<C, VerifyError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| VerifyError::Rejected("malformed header"))?;
        if header.alg != Algorithm::RS256 {
            return Err(VerifyError::Rejected("algorithm not allowed"));
        }
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(expected_typ));
        if !typ_ok {
            return Err(VerifyError::Rejected("wrong typ"));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or(VerifyError::Rejected("no kid"))?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(VerifyError::Rejected("unknown kid"))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<C>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|_| VerifyError::Rejected("bad signature or claims"))
    }
}

/// Writes a new RSA-2048 PKCS#8 key into `dir` with mode 0600 and returns its path.
pub fn generate_key_file(dir: &Path) -> Result<PathBuf, Error> {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| Error::Sign)?;
    let der = pair.as_der().map_err(|_| Error::Sign)?;
    let text = pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec()));
    // Unique and sortable by creation; the random suffix avoids clashes between nodes.
    let stamp = crate::clock::Clock::system().now();
    let suffix = crate::crypto::random_token(6).map_err(|_| Error::Sign)?;
    let path = dir.join(format!("rs256-{stamp}-{suffix}.pem"));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
    file.write_all(text.as_bytes())
        .map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
    Ok(path)
}

/// The public JWK of the private key in the PEM file at `path` (what the tutorial's `pem-jwk` did,
/// plus `kid`, `alg` and `use`).
pub fn jwk_of_file(path: &Path) -> Result<Jwk, Error> {
    let text = fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(SigningKey::from_pem(path, &text)?.jwk.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_signs_and_verifies_and_rejects_tampering() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (set, generated) = KeySet::load_or_generate(dir.path()).expect("keys");
        assert!(generated.is_some());
        let token = set
            .active()
            .sign("at+jwt", &serde_json::json!({"sub": "alice"}))
            .expect("sign");
        let claims: serde_json::Value = set.verify(&token, "at+jwt").expect("verify");
        assert_eq!(claims["sub"], "alice");
        assert!(set.verify::<serde_json::Value>(&token, "JWT").is_err());
        let mut tampered = token.clone();
        tampered.replace_range(token.len() - 5.., "AAAAA");
        assert!(
            set.verify::<serde_json::Value>(&tampered, "at+jwt")
                .is_err()
        );
    }

    #[test]
    fn generated_key_file_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = generate_key_file(dir.path()).expect("generate");
        let mode = fs::metadata(&path).expect("meta").permissions();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.mode() & 0o777, 0o600);
    }
}
