//! Signing keys: loaded from (or generated into) the key folder, identified by their RFC 7638 JWK
//! thumbprint, published as a JWK Set (RFC 7517 §5), used to sign ID and access tokens (RS256,
//! RFC 7518 §3.3) and to verify the access tokens presented back to us.
//!
//! Rotation never breaks a relying party: a key is published in the JWKS before it signs. Each
//! key has a "signs from" time every node derives from the same data — the sidecar
//! `NAME.pem.json` (`{"signs_from": UNIX_SECONDS}`) that `keys rotate` writes, else the
//! timestamp in a generated key's name (`rs256-STAMP-SUFFIX.pem`) plus
//! [`PUBLISH_BEFORE_SIGNING_SECS`], else the file's modification time plus that delay. The
//! signing key of an algorithm is the one with the latest "signs from" time that has passed on
//! the app clock (or, while none has, the earliest), so nodes switch at the same second
//! without a reload.
//!
//! Each key pair is parsed once, at load; signing never re-parses a key (jsonwebtoken 12's
//! `encode` does, which costs 60 % of a signature). Verification goes through jsonwebtoken with
//! the algorithm pinned to the key's own (RS256, ES256 or EdDSA) and the key chosen by `kid`, never by trying every key.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crypto::{b64url, sha256};

mod files;

pub use files::{
    KeyMeta, generate_key_file, generate_key_file_signing_from, jwk_of_file, meta_path, prunable,
};
use files::{folder_fingerprint, io_err, signs_from};

/// `max-age` of the JWKS response (`/jwks`), in seconds: how long a relying party may keep
/// our key set without asking again.
pub const JWKS_MAX_AGE_SECS: i64 = 60;

/// Slack for clocks of nodes and relying parties that disagree a little, in seconds.
pub const PUBLISH_MARGIN_SECS: i64 = 30;

/// How long a rotated key is published before it signs, in seconds (120): every node loads it
/// within [`crate::app::KEY_RELOAD_SECS`], then every JWKS a relying party cached before that
/// expires within [`JWKS_MAX_AGE_SECS`], plus [`PUBLISH_MARGIN_SECS`].
pub const PUBLISH_BEFORE_SIGNING_SECS: i64 =
    crate::app::KEY_RELOAD_SECS as i64 + JWKS_MAX_AGE_SECS + PUBLISH_MARGIN_SECS;

/// Failures loading, generating or using keys.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key folder or a key file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error (shown inline, not as a separate cause).
        error: std::io::Error,
    },
    /// A PEM file holds something we cannot use as a signing key.
    #[error("{path}: {reason}")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong, for a person.
        reason: String,
    },
    /// Signing or key generation failed inside the crypto library.
    #[error("signing failed")]
    Sign,
    /// No key in the folder signs with this algorithm.
    #[error("no {0} key in the key folder")]
    NoKey(Alg),
    /// A JSON value could not be serialized.
    #[error("serialization failed: {0}")]
    Json(#[from] serde_json::Error),
}

/// A signing algorithm we support (RFC 7518 §3.1; EdDSA per RFC 8037 §3.1 with Ed25519).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256: the default, understood by every relying party.
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl Alg {
    /// Every supported algorithm, default first.
    pub const ALL: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// Parses a JOSE `alg` name (exact, case-sensitive as RFC 7515 §4.1.1 requires).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    fn jsonwebtoken(self) -> Algorithm {
        match self {
            Self::RS256 => Algorithm::RS256,
            Self::ES256 => Algorithm::ES256,
            Self::EdDSA => Algorithm::EdDSA,
        }
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A public key as a JWK (RFC 7517 §4; RSA and EC members per RFC 7518 §6, OKP per RFC 8037 §2).
///
/// Shape: `{"kty","use":"sig","alg","kid", "n","e" | "crv","x","y" | "crv","x"}`, values base64url.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Jwk {
    /// Key type: `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// Public key use: `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// The algorithm this key signs with.
    pub alg: String,
    /// Key id: the RFC 7638 thumbprint.
    pub kid: String,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub e: Option<String>,
    /// Curve: `P-256` or `Ed25519`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crv: Option<String>,
    /// EC x coordinate, or the Ed25519 public key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub y: Option<String>,
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// One signing key, parsed once.
pub struct SigningKey {
    kid: String,
    alg: Alg,
    pair: Pair,
    jwk: Jwk,
    decoding: DecodingKey,
    /// When the key file was last modified (Unix seconds).
    modified: i64,
    /// When the key starts signing (Unix seconds); see the module doc.
    signs_from: i64,
    path: PathBuf,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a PEM private key: RSA in PKCS#1 (`BEGIN RSA PRIVATE KEY`, what `openssl genrsa
    /// -traditional` writes) or PKCS#8 (`BEGIN PRIVATE KEY`); P-256 in SEC1 (`BEGIN EC PRIVATE
    /// KEY`, with or without an `EC PARAMETERS` block) or PKCS#8; Ed25519 in PKCS#8.
    ///
    /// Errors: [`Error::BadKey`] for other PEM types, encrypted keys, other curves, or keys
    /// aws-lc-rs rejects (for example RSA shorter than 2048 bits).
    pub fn from_pem(path: &Path, text: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::BadKey {
            path: path.to_owned(),
            reason,
        };
        let blocks = pem::parse_many(text).map_err(|_| {
            bad("not a PEM file (expected -----BEGIN … PRIVATE KEY----- blocks)".into())
        })?;
        let block = blocks
            .iter()
            .find(|b| b.tag().ends_with("PRIVATE KEY"))
            .ok_or_else(|| bad("no private key in the file".into()))?;
        let der = block.contents();
        let unusable =
            |e: aws_lc_rs::error::KeyRejected| bad(format!("not a usable private key ({e})"));
        let pair = match block.tag() {
            "RSA PRIVATE KEY" => Pair::Rsa(RsaKeyPair::from_der(der).map_err(unusable)?),
            "EC PRIVATE KEY" => Pair::Ec(
                EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| bad("only P-256 EC keys are supported (ES256)".into()))?,
            ),
            "PRIVATE KEY" => {
                if let Ok(k) = RsaKeyPair::from_pkcs8(der) {
                    Pair::Rsa(k)
                } else if let Ok(k) =
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                {
                    Pair::Ec(k)
                } else if let Ok(k) = Ed25519KeyPair::from_pkcs8(der) {
                    Pair::Ed(k)
                } else {
                    return Err(bad(
                        "not an RSA (2048+ bits), P-256 or Ed25519 private key".into()
                    ));
                }
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(bad(
                    "encrypted private keys are not supported; decrypt it with `openssl pkey`"
                        .into(),
                ));
            }
            other => return Err(bad(format!("unsupported key type {other:?}"))),
        };
        Self::from_pair(pair, path.to_owned())
    }

    fn from_pair(pair: Pair, path: PathBuf) -> Result<Self, Error> {
        let bad_public = |err: jsonwebtoken::errors::Error| Error::BadKey {
            path: path.clone(),
            reason: format!("public key unusable for verification ({err})"),
        };
        // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
        let (alg, jwk_members, thumbprint_input, decoding) = match &pair {
            Pair::Rsa(k) => {
                let c = PublicKeyComponents::<Vec<u8>>::from(k.public_key());
                let n = b64url(strip_leading_zeros(&c.n));
                let e = b64url(strip_leading_zeros(&c.e));
                let input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
                let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(bad_public)?;
                (
                    Alg::RS256,
                    ("RSA", Some(n), Some(e), None, None, None),
                    input,
                    decoding,
                )
            }
            Pair::Ec(k) => {
                // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
                let point = k.public_key().as_ref();
                let (x, y) = (b64url(&point[1..33]), b64url(&point[33..65]));
                let input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
                let decoding = DecodingKey::from_ec_components(&x, &y).map_err(bad_public)?;
                (
                    Alg::ES256,
                    ("EC", None, None, Some("P-256"), Some(x), Some(y)),
                    input,
                    decoding,
                )
            }
            Pair::Ed(k) => {
                let x = b64url(k.public_key().as_ref());
                let input = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
                let decoding = DecodingKey::from_ed_components(&x).map_err(bad_public)?;
                (
                    Alg::EdDSA,
                    ("OKP", None, None, Some("Ed25519"), Some(x), None),
                    input,
                    decoding,
                )
            }
        };
        let kid = b64url(&sha256(thumbprint_input.as_bytes()));
        let (kty, n, e, crv, x, y) = jwk_members;
        let jwk = Jwk {
            kty: kty.into(),
            use_: "sig".into(),
            alg: alg.as_str().into(),
            kid: kid.clone(),
            n,
            e,
            crv: crv.map(str::to_owned),
            x,
            y,
        };
        Ok(Self {
            kid,
            alg,
            pair,
            jwk,
            decoding,
            modified: 0,
            signs_from: 0,
            path,
        })
    }

    /// The key id (RFC 7638 thumbprint, base64url SHA-256).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The key file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// When the key file was last modified (Unix seconds).
    pub fn modified(&self) -> i64 {
        self.modified
    }

    /// When the key starts (or started) signing, in Unix seconds.
    pub fn signs_from(&self) -> i64 {
        self.signs_from
    }

    /// The public half as a JWK.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Signs `header.claims` as a compact JWS (RFC 7515 §7.1) with this key's algorithm.
    ///
    /// `typ` is the JOSE `typ` header: `JWT` for ID tokens, `at+jwt` for access tokens (RFC 9068 §2.1).
    pub fn sign<C: Serialize>(&self, typ: &str, claims: &C) -> Result<String, Error> {
        let header = serde_json::json!({"alg": self.alg.as_str(), "typ": typ, "kid": self.kid});
        let mut jws = b64url(&serde_json::to_vec(&header)?);
        jws.push('.');
        jws.push_str(&b64url(&serde_json::to_vec(claims)?));
        let signature = match &self.pair {
            Pair::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    jws.as_bytes(),
                    &mut sig,
                )
                .map_err(|_| Error::Sign)?;
                sig
            }
            Pair::Ec(k) => k
                .sign(&SystemRandom::new(), jws.as_bytes())
                .map_err(|_| Error::Sign)?
                .as_ref()
                .to_vec(),
            Pair::Ed(k) => k
                .try_sign(jws.as_bytes())
                .map_err(|_| Error::Sign)?
                .as_ref()
                .to_vec(),
        };
        jws.push('.');
        jws.push_str(&b64url(&signature));
        Ok(jws)
    }
}

/// Why a presented JWT was not accepted. Deliberately coarse: the caller answers
/// `invalid_token` either way and must not tell an attacker which check failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not a well-formed JWS, wrong `alg`/`typ`, unknown `kid`, or a bad signature.
    #[error("token rejected: {0}")]
    Rejected(&'static str),
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// All keys in the key folder: all are published and verify; per algorithm, the key whose
/// "signs from" time passed last signs.
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<Arc<SigningKey>>,
    jwks_json: bytes::Bytes,
    jwks_etag: String,
    /// What the folder looked like when loaded: (file name, mtime) of the key files and their
    /// sidecars, to notice changes cheaply.
    fingerprint: Vec<(PathBuf, i64)>,
}

impl KeySet {
    /// Loads every private key (`*.pem`) in `dir`, first generating a key for each supported
    /// algorithm that has none (RSA-2048, P-256, Ed25519; PKCS#8 PEM, mode 0600). Returns the set
    /// and the paths of the keys generated now.
    ///
    /// Errors: the folder cannot be created or read, or a file that claims to be a private key is
    /// unusable ([`Error::BadKey`]); files holding only public keys or certificates are skipped.
    pub fn load_or_generate(dir: &Path) -> Result<(Self, Vec<PathBuf>), Error> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let existing = Self::load(dir)?;
        let mut generated = Vec::new();
        for alg in Alg::ALL {
            if !existing.has(alg) {
                // Nothing signs with alg yet, so no relying party can be surprised: sign now.
                generated.push(generate_key_file(dir, alg)?);
            }
        }
        if generated.is_empty() {
            Ok((existing, generated))
        } else {
            Ok((Self::load(dir)?, generated))
        }
    }

    /// Loads every private key in `dir` without generating any.
    ///
    /// Errors: as [`Self::load_or_generate`].
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let mut keys = Vec::new();
        let fingerprint = folder_fingerprint(dir);
        for entry in fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("pem") {
                continue;
            }
            let text = fs::read_to_string(&path).map_err(io_err(&path))?;
            if !text.contains("PRIVATE KEY-----") {
                // A public key or certificate beside the private key (older setups kept one).
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
            key.signs_from = signs_from(&path, modified);
            keys.push(key);
        }
        // Latest "signs from" first; ties broken by file name so every node agrees.
        keys.sort_by(|a, b| {
            b.signs_from
                .cmp(&a.signs_from)
                .then_with(|| b.path.file_name().cmp(&a.path.file_name()))
        });
        let mut seen = std::collections::HashSet::new();
        keys.retain(|k| seen.insert(k.kid.clone()));
        let jwks = serde_json::json!({
            "keys": keys.iter().map(|k| &k.jwk).collect::<Vec<_>>()
        });
        let jwks_json = bytes::Bytes::from(serde_json::to_vec(&jwks)?);
        let jwks_etag = format!("\"{}\"", &b64url(&sha256(&jwks_json))[..22]);
        Ok(Self {
            keys: keys.into_iter().map(Arc::new).collect(),
            jwks_json,
            jwks_etag,
            fingerprint,
        })
    }

    /// Whether the folder's key files or sidecars (names or modification times) differ from
    /// this set's. A folder that cannot be read counts as unchanged.
    pub fn folder_changed(&self, dir: &Path) -> bool {
        fs::read_dir(dir).is_ok() && folder_fingerprint(dir) != self.fingerprint
    }

    /// Whether the folder has a key for `alg`.
    pub fn has(&self, alg: Alg) -> bool {
        self.keys.iter().any(|k| k.alg == alg)
    }

    /// The key that signs new tokens with `alg` at `now` (Unix seconds, the app clock): the
    /// one whose "signs from" time passed last, or, while none has, the one that comes first.
    pub fn signing(&self, alg: Alg, now: i64) -> Option<&SigningKey> {
        let mut of_alg = self.keys.iter().filter(|k| k.alg == alg);
        // Sorted latest "signs from" first.
        of_alg
            .clone()
            .find(|k| k.signs_from <= now)
            .or_else(|| of_alg.next_back())
            .map(Arc::as_ref)
    }

    /// Every key, latest "signs from" first.
    pub fn all(&self) -> impl Iterator<Item = &SigningKey> {
        self.keys.iter().map(Arc::as_ref)
    }

    /// The algorithms we can sign with, in [`Alg::ALL`] order.
    pub fn algs(&self) -> Vec<Alg> {
        Alg::ALL.into_iter().filter(|a| self.has(*a)).collect()
    }

    /// Signs with the key that signs `alg` at `now` (Unix seconds, see [`Self::signing`]).
    ///
    /// Errors: [`Error::NoKey`] when the folder has no key for `alg`.
    pub fn sign<C: Serialize>(
        &self,
        alg: Alg,
        typ: &str,
        claims: &C,
        now: i64,
    ) -> Result<String, Error> {
        self.signing(alg, now)
            .ok_or(Error::NoKey(alg))?
            .sign(typ, claims)
    }

    /// The JWK Set document (RFC 7517 §5), serialized once.
    pub fn jwks_json(&self) -> &bytes::Bytes {
        &self.jwks_json
    }

    /// A strong validator for [`Self::jwks_json`] (quoted, for `ETag`).
    pub fn jwks_etag(&self) -> &str {
        &self.jwks_etag
    }

    /// Verifies a compact JWS we issued: `kid` must name one of our keys and `alg` must be that
    /// key's algorithm (so no `none`, no HS*, no algorithm confusion), `typ` must equal
    /// `expected_typ` (case-insensitive, RFC 9068 §4), and the signature must hold. The key is
    /// chosen by `kid` alone; there is no "try every key". Time and audience checks are the
    /// caller's (they need our clock).
    pub fn verify<C: DeserializeOwned>(
        &self,
        token: &str,
        expected_typ: &str,
    ) -> Result<C, VerifyError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| VerifyError::Rejected("malformed header"))?;
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
        if header.alg != key.alg.jsonwebtoken() {
            return Err(VerifyError::Rejected("algorithm not allowed"));
        }
        let mut validation = Validation::new(key.alg.jsonwebtoken());
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<C>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|_| VerifyError::Rejected("bad signature or claims"))
    }
}

#[cfg(test)]
mod tests;
