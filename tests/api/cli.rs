//! The command line as a person uses it: registration output, stdin passwords, readable errors.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::helpers::fresh_database_url;

fn sekimori(db: &str, keys: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sekimori"));
    cmd.env("DATABASE_URL", db)
        .env("SEKIMORI_KEYS_DIR", keys)
        .env_remove("SEKIMORI_ISSUER")
        .env_remove("SEKIMORI_BIND");
    cmd
}

/// A fresh database as an operator makes one: `sekimori migrate` (the only command besides
/// `serve` that may create a SQLite file).
async fn fresh_migrated(dir: &std::path::Path) -> String {
    let db = fresh_database_url(dir).await;
    let out = sekimori(&db, dir).arg("migrate").output().expect("migrate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db
}

#[tokio::test]
async fn client_add_prints_credentials_once_and_user_add_reads_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fresh_migrated(dir.path()).await;
    let out = sekimori(&db, dir.path())
        .args([
            "client",
            "add",
            "--name",
            "App",
            "--redirect-uri",
            "https://app.example/cb",
            "--redirect-uri",
            "https://app.example/cb2",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(v["client_id"].is_string());
    assert!(v["client_secret"].as_str().is_some_and(|s| s.len() >= 43));

    let out = sekimori(&db, dir.path())
        .args([
            "client",
            "add",
            "--name",
            "SPA",
            "--redirect-uri",
            "https://spa.example/cb",
            "--public",
        ])
        .output()
        .expect("run");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v.get("client_secret").is_none());

    let mut child = sekimori(&db, dir.path())
        .args([
            "user",
            "add",
            "--email",
            "Bob@Example.com",
            "--name",
            "Bob",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a good long password\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = sekimori(&db, dir.path())
        .args(["user", "list"])
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains("bob@example.com"));
    let out = sekimori(&db, dir.path())
        .args(["client", "list"])
        .output()
        .expect("run");
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(list.contains("public") && list.contains("confidential"));
    assert!(
        !list.contains(
            v["client_id"]
                .as_str()
                .map(|_| "secret")
                .unwrap_or("secret")
        )
    );
}

#[tokio::test]
async fn client_add_rejects_fragment_redirect_uri() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fresh_migrated(dir.path()).await;
    let out = sekimori(&db, dir.path())
        .args([
            "client",
            "add",
            "--name",
            "App",
            "--redirect-uri",
            "https://app.example/cb#frag",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("fragment"));
}

#[test]
fn bad_database_url_is_one_readable_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = sekimori("mysql://nope", dir.path())
        .args(["user", "list"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("DATABASE_URL"), "{err}");
    assert!(!err.contains("panicked"));
}

#[tokio::test]
async fn unreadable_key_and_port_in_use_are_readable_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fresh_migrated(dir.path()).await;
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).expect("mkdir");
    std::fs::write(
        keys.join("broken.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");
    let out = sekimori(&db, &keys)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.pem"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let good_keys = dir.path().join("good");
    let out = sekimori(&db, &good_keys)
        .args(["serve", "--bind", &addr])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot listen on"), "{err}");
}

#[test]
fn config_precedence_is_defaults_then_file_then_env_then_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sekimori.toml");
    std::fs::write(
        &file,
        "issuer = \"https://id.example.com/auth\"\nbind = \"127.0.0.1:7001\"\ncode_ttl_secs = 30\n\
         access_token_ttl_secs = 600\ndatabase_url = \"postgres://u:hunter2@db/s\"\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args([
            "--config",
            file.to_str().expect("path"),
            "config",
            "check",
            "--access-token-ttl-secs",
            "900",
        ])
        .env_remove("DATABASE_URL")
        .env_remove("SEKIMORI_ISSUER")
        .env("SEKIMORI_BIND", "127.0.0.1:7002")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let effective: toml::Table =
        toml::from_str(&String::from_utf8_lossy(&out.stdout)).expect("toml");
    assert_eq!(
        effective["issuer"].as_str(),
        Some("https://id.example.com/auth"),
        "file"
    );
    assert_eq!(
        effective["code_ttl_secs"].as_integer(),
        Some(30),
        "file over default"
    );
    assert_eq!(
        effective["bind"].as_str(),
        Some("127.0.0.1:7002"),
        "env over file"
    );
    assert_eq!(
        effective["access_token_ttl_secs"].as_integer(),
        Some(900),
        "flag over file"
    );
    assert_eq!(
        effective["id_token_ttl_secs"].as_integer(),
        Some(3600),
        "default"
    );
    let db = effective["database_url"].as_str().expect("db");
    assert!(
        !db.contains("hunter2") && db.contains("***"),
        "password redacted: {db}"
    );
}

#[test]
fn config_errors_name_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (content, expected) in [
        ("isuer = \"https://x\"\n", "isuer"),
        ("code_ttl_secs = \"soon\"\n", "code_ttl_secs"),
    ] {
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, content).expect("write");
        let out = Command::new(env!("CARGO_BIN_EXE_sekimori"))
            .args(["--config", file.to_str().expect("path"), "config", "check"])
            .output()
            .expect("run");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error: ") && err.contains(expected),
            "{err}"
        );
    }
}

#[tokio::test]
async fn names_with_control_characters_are_refused_and_never_printed_raw() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fresh_migrated(dir.path()).await;
    let out = sekimori(&db, dir.path())
        .args([
            "client",
            "add",
            "--name",
            "Evil\u{1b}]0;owned\u{7}\u{1b}[2J",
            "--redirect-uri",
            "https://app.example/cb",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("control characters"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "the error does not echo the escape: {err:?}"
    );
    let long = "x".repeat(201);
    let out = sekimori(&db, dir.path())
        .args([
            "client",
            "add",
            "--name",
            &long,
            "--redirect-uri",
            "https://a.example/cb",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
}

#[tokio::test]
async fn user_update_needs_a_change_and_user_list_json_shows_the_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fresh_migrated(dir.path()).await;
    let mut child = sekimori(&db, dir.path())
        .args([
            "user",
            "add",
            "--email",
            "Bo@Example.com",
            "--name",
            "Bo",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a long enough password\n")
        .expect("write");
    assert!(child.wait().expect("wait").success());
    if db.starts_with("sqlite:") {
        // Password and secret hashes live here: owner-only, like the keys.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("sekimori.db"))
            .expect("database file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    let out = sekimori(&db, dir.path())
        .args(["user", "update", "bo@example.com"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to change"));

    let out = sekimori(&db, dir.path())
        .args([
            "user",
            "update",
            "bo@example.com",
            "--phone-number",
            "+1 555 0100",
            "--address",
            "1 Main St, Springfield",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sekimori(&db, dir.path())
        .args(["user", "list", "--json"])
        .output()
        .expect("run");
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(v["phone_number"], "+1 555 0100");
    assert_eq!(v["address"]["formatted"], "1 Main St, Springfield");
    assert_eq!(v["email_verified"], false);
}
