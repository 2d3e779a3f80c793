//! The OpenID Foundation conformance suite's OP modules, mirrored one test per module with the
//! module's name (docs/conformance.md): the Basic plan, its Form Post
//! variant, the Config plan and the RP-Initiated Logout plan, all over https.

mod basic;
mod config;
mod logout;
pub mod suite;

/// The suite's `browser` configuration we publish (docs/conformance/sekimori-config.json)
/// drives our pages by element id and recognises error pages by their code: every id and code
/// it names must exist on the pages it will meet.
#[tokio::test]
async fn the_published_browser_configuration_matches_our_pages() {
    use suite::{ClientAuth, Mode, Suite, with};

    let raw = include_str!("../../../docs/conformance/sekimori-config.json");
    let config: serde_json::Value = serde_json::from_str(raw).expect("valid JSON");
    let mut ids = std::collections::BTreeSet::new();
    let mut codes = std::collections::BTreeSet::new();
    let mut collect = |browser: &serde_json::Value| {
        for entry in browser.as_array().expect("browser is a list") {
            for task in entry["tasks"].as_array().expect("tasks") {
                for cmd in task["commands"].as_array().into_iter().flatten() {
                    let cmd: Vec<&str> = cmd
                        .as_array()
                        .expect("command")
                        .iter()
                        .filter_map(serde_json::Value::as_str)
                        .collect();
                    match cmd.as_slice() {
                        [_, "id", id, ..] if *id != "submission_complete" => {
                            ids.insert(id.to_string());
                        }
                        ["wait", "xpath", "//*[@id='error-code']", code, ..] => {
                            codes.insert(code.to_string());
                        }
                        _ => {}
                    }
                }
            }
        }
    };
    collect(&config["browser"]);
    for o in config["override"].as_object().expect("override").values() {
        collect(&o["browser"]);
    }

    // Every page the suite's browser meets: login, consent, logout confirmation, logged out,
    // and the error pages.
    let mut s = Suite::start("-", "browser-config", Mode::Query).await;
    let c = s.client.clone();
    let mut pages = String::new();
    let endpoint = s.discovery["authorization_endpoint"]
        .as_str()
        .expect("endpoint")
        .to_owned();
    let req = s.request(&c);
    let browser = s.browser.clone();
    let get = |url: String| {
        let b = browser.clone();
        async move {
            b.get(url)
                .send()
                .await
                .expect("GET")
                .text()
                .await
                .expect("html")
        }
    };
    let pairs: Vec<(&str, &str)> = req.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let login = get(format!("{endpoint}?{}", crate::helpers::form(&pairs))).await;
    pages.push_str(&login);
    let f = crate::helpers::LoginForm::parse(&login)
        .with("email", crate::helpers::USER_EMAIL)
        .with("password", crate::helpers::USER_PASSWORD);
    let consent = crate::helpers::submit(&s.browser, &f).await;
    pages.push_str(&consent.text().await.expect("consent page"));
    let flow = s.happy_flow(&c, &req, ClientAuth::Basic).await;
    let bad = with(
        s.request(&c),
        "redirect_uri",
        "https://127.0.0.1:8443/elsewhere",
    );
    let pairs: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pages.push_str(&get(format!("{endpoint}?{}", crate::helpers::form(&pairs))).await);
    let logout = s.discovery["end_session_endpoint"]
        .as_str()
        .expect("end_session_endpoint")
        .to_owned();
    // The confirmation page, and the answer "stay signed in".
    let confirm = get(logout.clone()).await;
    pages.push_str(&confirm);
    let f = crate::helpers::LoginForm::parse(&confirm).with("confirm", "no");
    let stayed = crate::helpers::submit(&s.browser, &f).await;
    pages.push_str(&stayed.text().await.expect("still signed in"));
    let q = crate::helpers::form(&[("id_token_hint", "e30.e30.")]);
    pages.push_str(&get(format!("{logout}?{q}")).await);
    // Last, as it ends the session: an unregistered return address (logged out, no redirect).
    let q = crate::helpers::form(&[
        ("id_token_hint", &flow.id_token),
        (
            "post_logout_redirect_uri",
            "https://127.0.0.1:8443/elsewhere",
        ),
    ]);
    pages.push_str(&get(format!("{logout}?{q}")).await);

    for id in &ids {
        assert!(
            pages.contains(&format!("id=\"{id}\"")),
            "no element id {id:?}"
        );
    }
    for code in &codes {
        assert!(
            pages.contains(&format!("<code id=\"error-code\">{code}</code>")),
            "no error page with code {code:?}"
        );
    }
    assert!(ids.len() >= 6 && codes.len() == 3, "{ids:?} {codes:?}");
    println!("ids {ids:?}, error codes {codes:?}");
}
