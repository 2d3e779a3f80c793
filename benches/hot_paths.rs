//! Micro-benchmarks of the pure hot paths (no HTTP, no database): token minting per algorithm,
//! bearer verification, the PKCE check and parsing an authorization request.
//!
//!     cargo bench --bench hot_paths

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use sekimori::keys::{Alg, KeySet};
use sekimori::oauth::access_token::{self, AccessTokenInput};
use sekimori::oauth::params::Params;
use sekimori::oauth::pkce;
use sekimori::oidc::id_token::{self, IdTokenInput};

fn keys() -> (tempfile::TempDir, KeySet) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (keys, _) = KeySet::load_or_generate(dir.path()).expect("keys");
    (dir, keys)
}

fn access_input(alg: Alg) -> AccessTokenInput<'static> {
    AccessTokenInput {
        issuer: "https://id.example.com",
        client_id: "client-123",
        sub: "user-456",
        scope: "openid profile email",
        auth_time: Some(1_700_000_000),
        grant_id: Some("grant-789"),
        security_stamp: 0,
        now: 1_700_000_000,
        ttl_secs: 3600,
        alg,
    }
}

fn minting(c: &mut Criterion) {
    let (_dir, keys) = keys();
    for alg in Alg::ALL {
        c.bench_function(&format!("mint access token {alg}"), |b| {
            b.iter(|| access_token::mint(&keys, black_box(access_input(alg))).expect("mint"))
        });
    }
    c.bench_function("mint ID token RS256", |b| {
        b.iter(|| {
            id_token::mint(
                &keys,
                black_box(IdTokenInput {
                    issuer: "https://id.example.com",
                    client_id: "client-123",
                    sub: "user-456",
                    auth_time: 1_700_000_000,
                    nonce: Some("n-0S6_WzA2Mj"),
                    access_token: Some("eyJhbGciOiJSUzI1NiJ9.e30.sig"),
                    now: 1_700_000_000,
                    ttl_secs: 3600,
                    alg: Alg::RS256,
                    extra: serde_json::Map::new(),
                }),
            )
            .expect("mint")
        })
    });
}

fn verification(c: &mut Criterion) {
    let (_dir, keys) = keys();
    for alg in Alg::ALL {
        let (token, _) = access_token::mint(&keys, access_input(alg)).expect("mint");
        c.bench_function(&format!("verify bearer {alg}"), |b| {
            b.iter(|| {
                keys.verify::<access_token::AccessTokenClaims>(black_box(&token), "at+jwt")
                    .expect("verify")
            })
        });
    }
}

fn requests(c: &mut Criterion) {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    c.bench_function("PKCE S256 check", |b| {
        b.iter(|| {
            pkce::is_valid_verifier(black_box(verifier)) && pkce::verify_s256(verifier, challenge)
        })
    });
    let query = "response_type=code&client_id=s6BhdRkqt3&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb\
        &scope=openid%20profile%20email&state=af0ifjsldkj&nonce=n-0S6_WzA2Mj\
        &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    c.bench_function("parse authorization request", |b| {
        b.iter(|| Params::parse(black_box(query.as_bytes())))
    });
}

criterion_group!(benches, minting, verification, requests);
criterion_main!(benches);
