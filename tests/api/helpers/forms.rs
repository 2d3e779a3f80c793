//! The browser side: the first form of a page, form posts, redirect parameters, and the test
//! user playing the login and consent pages (one implementation, shared by the conformance
//! mirror).

use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, LOCATION};
use reqwest::{Response, StatusCode};
use url::Url;

use super::app::{TestApp, TestClient, USER_EMAIL, USER_PASSWORD};

/// The first form of a page: its method, its action and every named input's value.
pub struct LoginForm {
    /// Lower-cased (`get` when the form does not say).
    pub method: String,
    pub action: String,
    pub fields: Vec<(String, String)>,
}

impl LoginForm {
    /// The page's first form; panics when there is none (the page was expected to have one).
    pub fn parse(html: &str) -> Self {
        Self::try_parse(html).expect("page has a form with an action")
    }

    /// The page's first form, if it has one with an action.
    pub fn try_parse(html: &str) -> Option<Self> {
        let doc = scraper::Html::parse_document(html);
        let form_sel = scraper::Selector::parse("form").expect("selector");
        let input_sel = scraper::Selector::parse("input[name]").expect("selector");
        let form = doc.select(&form_sel).next()?;
        let action = form.value().attr("action")?.to_owned();
        let method = form
            .value()
            .attr("method")
            .unwrap_or("get")
            .to_ascii_lowercase();
        let fields = form
            .select(&input_sel)
            .map(|i| {
                (
                    i.value().attr("name").unwrap_or_default().to_owned(),
                    i.value().attr("value").unwrap_or_default().to_owned(),
                )
            })
            .collect();
        Some(Self {
            method,
            action,
            fields,
        })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The fields, form-encoded.
    pub fn body(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.fields {
            s.append_pair(k, v);
        }
        s.finish()
    }

    /// A copy with `name` set to `value`.
    pub fn clone_with(&self, name: &str, value: &str) -> Self {
        Self {
            method: self.method.clone(),
            action: self.action.clone(),
            fields: self.fields.clone(),
        }
        .with(name, value)
    }

    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.fields.retain(|(n, _)| n != name);
        self.fields.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// Posts a parsed form to its action with `http` (a browser, or a client without cookies).
pub async fn submit(http: &reqwest::Client, f: &LoginForm) -> Response {
    http.post(&f.action)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(f.body())
        .send()
        .await
        .expect("form POST")
}

/// Form-encodes pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// The query parameters of a redirect's `Location`.
pub fn location_params(res: &Response) -> (Url, Vec<(String, String)>) {
    let loc = res
        .headers()
        .get(LOCATION)
        .expect("Location header")
        .to_str()
        .expect("ascii Location");
    let url = Url::parse(loc).expect("absolute Location");
    let pairs = url.query_pairs().into_owned().collect();
    (url, pairs)
}

pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl TestApp {
    /// Plays the user from an `/authorize` response: logs in if the form is shown, allows if
    /// the consent page is shown; returns the final response (the redirect to the client).
    pub async fn through_login_and_consent(&self, mut res: Response) -> Response {
        for _ in 0..3 {
            if res.status() != StatusCode::OK {
                return res;
            }
            let html = res.text().await.expect("html");
            res = match play_page(&self.browser, &html).await {
                Some((_, next)) => next,
                None => panic!("unexpected page: {html}"),
            };
        }
        res
    }

    /// Submits the consent page with `decision` (`allow` or `deny`).
    pub async fn post_consent(&self, consent_page: &str, decision: &str) -> Response {
        let f = LoginForm::parse(consent_page).with("decision", decision);
        submit(&self.browser, &f).await
    }

    /// Submits a login form page with the given credentials.
    pub async fn post_login(&self, login_page: &str, email: &str, password: &str) -> Response {
        let f = LoginForm::parse(login_page)
            .with("email", email)
            .with("password", password);
        submit(&self.browser, &f).await
    }
}

/// What the test user did on a page (see [`play_page`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserAction {
    /// Filled the login form with [`USER_EMAIL`] and [`USER_PASSWORD`] and sent it.
    LoggedIn,
    /// Pressed "allow" on the consent page.
    Consented,
}

/// Plays the test user on one page, as a person would: a login form gets the test user's
/// credentials, a consent page gets "allow". Returns what was done and the server's answer, or
/// `None` when the page is neither (an error page, a form post to the client, ...).
pub async fn play_page(browser: &reqwest::Client, html: &str) -> Option<(UserAction, Response)> {
    if html.contains("name=\"password\"") {
        let f = LoginForm::parse(html)
            .with("email", USER_EMAIL)
            .with("password", USER_PASSWORD);
        Some((UserAction::LoggedIn, submit(browser, &f).await))
    } else if html.contains("name=\"decision\"") {
        let f = LoginForm::parse(html).with("decision", "allow");
        Some((UserAction::Consented, submit(browser, &f).await))
    } else {
        None
    }
}

/// The login page `/authorize` shows `client` (asserting a 200).
pub async fn login_page(app: &TestApp, client: &TestClient, extra: &[(&str, &str)]) -> String {
    let res = app.get_authorize(client, extra).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.expect("html")
}

/// Asserts the headers every HTML page carries: CSP, nosniff, no-referrer, no-store.
pub fn assert_page_headers(res: &reqwest::Response) {
    let h = res.headers();
    let csp = h
        .get(CONTENT_SECURITY_POLICY)
        .expect("CSP")
        .to_str()
        .expect("ascii");
    assert!(
        csp.contains("default-src 'self'") || csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(
        h.get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    assert_eq!(
        h.get("referrer-policy").and_then(|v| v.to_str().ok()),
        Some("no-referrer")
    );
    assert_eq!(
        h.get(CACHE_CONTROL).and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
}
