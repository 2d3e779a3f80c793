use super::*;

#[test]
fn every_algorithm_signs_and_verifies_and_rejects_tampering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (set, generated) = KeySet::load_or_generate(dir.path()).expect("keys");
    assert_eq!(generated.len(), 3);
    assert_eq!(set.algs(), Alg::ALL.to_vec());
    for alg in Alg::ALL {
        let token = set
            .sign(alg, "at+jwt", &serde_json::json!({"sub": "alice"}), 0)
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
}

#[test]
fn generated_key_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    for alg in Alg::ALL {
        let path = generate_key_file(dir.path(), alg).expect("generate");
        let mode = fs::metadata(&path).expect("meta").permissions();
        assert_eq!(mode.mode() & 0o777, 0o600);
    }
}

#[test]
fn a_rotated_key_is_published_first_and_signs_from_its_recorded_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = generate_key_file_signing_from(dir.path(), Alg::ES256, 1000, 1000).expect("old");
    let new = generate_key_file_signing_from(dir.path(), Alg::ES256, 2000, 2120).expect("new");
    let set = KeySet::load(dir.path()).expect("load");
    let kid = |p: &Path| jwk_of_file(p).expect("jwk").kid;
    assert_eq!(set.all().count(), 2, "both published");
    assert_eq!(
        set.signing(Alg::ES256, 2119).map(|k| k.kid().to_owned()),
        Some(kid(&old))
    );
    assert_eq!(
        set.signing(Alg::ES256, 2120).map(|k| k.kid().to_owned()),
        Some(kid(&new))
    );
    // Before any key's time, the earliest signs (a first key is never left unused).
    assert_eq!(
        set.signing(Alg::ES256, 0).map(|k| k.kid().to_owned()),
        Some(kid(&old))
    );
    // The old key may go once its successor has signed for longer than retain_secs.
    assert!(prunable(&set, 2120 + 100, 100).is_empty());
    assert_eq!(prunable(&set, 2120 + 101, 100), vec![old]);
}

#[test]
fn signs_from_falls_back_to_the_name_stamp_then_the_mtime() {
    let dir = tempfile::tempdir().expect("tempdir");
    let named = dir.path().join("rs256-1700000000-abc.pem");
    assert_eq!(
        signs_from(&named, 5),
        1_700_000_000 + PUBLISH_BEFORE_SIGNING_SECS
    );
    let own = dir.path().join("private_key.pem");
    assert_eq!(signs_from(&own, 5), 5 + PUBLISH_BEFORE_SIGNING_SECS);
    fs::write(meta_path(&own), r#"{"signs_from": 42}"#).expect("sidecar");
    assert_eq!(signs_from(&own, 5), 42);
    assert_eq!(PUBLISH_BEFORE_SIGNING_SECS, 120);
}
