//! Keys made the tutorial way are used as they are, and `keys jwk` agrees with the JWKS.

use std::process::Command;

use serde_json::Value;

use crate::helpers::spawn_app_with;

fn openssl_genrsa(path: &std::path::Path, traditional: bool) {
    let mut cmd = Command::new("openssl");
    cmd.arg("genrsa");
    if traditional {
        // OpenSSL 3 writes PKCS#8 by default; -traditional gives the PKCS#1 the tutorial had.
        cmd.arg("-traditional");
    }
    let out = cmd.arg("2048").output().expect("openssl is installed");
    assert!(out.status.success(), "openssl genrsa failed");
    std::fs::write(path, out.stdout).expect("write key");
}

async fn tutorial_key_is_used(traditional: bool) {
    // Arrange: only the openssl key in the folder.
    let app = spawn_app_with(|dir| {
        std::fs::remove_file(dir.join("test-key.pem")).expect("remove shared key");
        openssl_genrsa(&dir.join("private_key.pem"), traditional);
    })
    .await;
    let pem = std::fs::read_to_string(app.keys_dir.path().join("private_key.pem")).expect("pem");
    assert_eq!(
        pem.contains("BEGIN RSA PRIVATE KEY"),
        traditional,
        "the key has the intended encoding"
    );

    // Act
    let jwks: Value = app
        .rp
        .get(app.url("/jwks"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let out = Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args(["keys", "jwk"])
        .arg(app.keys_dir.path().join("private_key.pem"))
        .output()
        .expect("run sekimori keys jwk");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jwk: Value = serde_json::from_slice(&out.stdout).expect("JWK JSON");

    // Assert: the same key, and it is the one signing RS256.
    let rsa: Vec<&Value> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["kty"] == "RSA")
        .collect();
    assert_eq!(rsa.len(), 1, "only the tutorial key is an RSA key");
    let published = rsa[0];
    for m in ["n", "e", "kid", "alg", "use", "kty"] {
        assert_eq!(jwk[m], published[m], "{m}");
    }
    let code = app.authorize_and_login(&app.confidential, &[]).await;
    let body: Value = app.redeem(&code, &[]).await.json().await.expect("json");
    let header: Value = serde_json::from_slice(&crate::helpers::base64_decode(
        body["id_token"]
            .as_str()
            .expect("id")
            .split('.')
            .next()
            .expect("h"),
    ))
    .expect("header");
    assert_eq!(header["kid"], published["kid"]);
}

#[tokio::test]
async fn openssl_pkcs1_key_is_used_and_keys_jwk_matches_jwks() {
    tutorial_key_is_used(true).await;
}

#[tokio::test]
async fn openssl_pkcs8_key_is_used_and_keys_jwk_matches_jwks() {
    tutorial_key_is_used(false).await;
}

#[test]
fn kid_is_the_rfc7638_thumbprint() {
    // RFC 7638 §3.1's example key and thumbprint.
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    let input = format!(r#"{{"e":"AQAB","kty":"RSA","n":"{n}"}}"#);
    let kid = sekimori::crypto::b64url(&sekimori::crypto::sha256(input.as_bytes()));
    assert_eq!(kid, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}
