//! Human error pages: what went wrong in a sentence, what to do next, no stack traces.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::headers::html;
use super::i18n::{Lang, Texts};

/// Problems shown to the person in the browser instead of being redirected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageError {
    /// `/authorize` without client_id.
    MissingClientId,
    /// client_id not registered.
    UnknownClient,
    /// `/authorize` without redirect_uri.
    MissingRedirectUri,
    /// redirect_uri not registered for the client (RFC 6749 §4.1.2.1: do not redirect).
    UnregisteredRedirectUri,
    /// client_id or redirect_uri repeated or malformed.
    InvalidRequest,
    /// The login form refers to a request this browser no longer has.
    LoginExpired,
    /// The form's CSRF token is missing or wrong.
    CsrfFailed,
    /// The database is unreachable.
    Unavailable,
    /// `/logout`: post_logout_redirect_uri is not registered for the client (RP-Initiated
    /// Logout 1.0 §3: do not redirect). A notice on the logout pages, not an error page.
    UnregisteredPostLogoutRedirectUri,
    /// `/logout`: the id_token_hint is not an ID token we issued (RP-Initiated Logout 1.0 §2).
    InvalidIdTokenHint,
    /// The request body is larger than any form of ours (413).
    TooLarge,
    /// A form was posted to a page through a host other than the issuer's (its cookies and
    /// form targets belong to the issuer's host); [`wrong_host_page`] names the right address.
    WrongHost,
}

impl PageError {
    fn status(self) -> StatusCode {
        match self {
            Self::CsrfFailed => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// A stable, language-independent code shown on the page (`id="error-code"`), for people
    /// reporting a problem and for automated browsers such as the conformance suite's.
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingClientId => "missing_client_id",
            Self::UnknownClient => "unknown_client",
            Self::MissingRedirectUri => "missing_redirect_uri",
            Self::UnregisteredRedirectUri => "unregistered_redirect_uri",
            Self::InvalidRequest => "invalid_request",
            Self::LoginExpired => "login_expired",
            Self::CsrfFailed => "csrf_failed",
            Self::Unavailable => "temporarily_unavailable",
            Self::UnregisteredPostLogoutRedirectUri => "unregistered_post_logout_redirect_uri",
            Self::InvalidIdTokenHint => "invalid_id_token_hint",
            Self::TooLarge => "request_too_large",
            Self::WrongHost => "wrong_host",
        }
    }

    /// A short explanation in `lang`.
    pub fn message(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Self::MissingClientId, Lang::En) => {
                "The application did not say who it is (client_id is missing)."
            }
            (Self::MissingClientId, Lang::Ja) => {
                "アプリケーションが識別子 (client_id) を送信していません。"
            }
            (Self::UnknownClient, Lang::En) => {
                "This application is not registered with this sign-in service."
            }
            (Self::UnknownClient, Lang::Ja) => "このアプリケーションは登録されていません。",
            (Self::MissingRedirectUri, Lang::En) => {
                "The application did not say where to return (redirect_uri is missing)."
            }
            (Self::MissingRedirectUri, Lang::Ja) => {
                "アプリケーションが戻り先 (redirect_uri) を送信していません。"
            }
            (Self::UnregisteredRedirectUri, Lang::En) => {
                "The return address (redirect_uri) is not registered for this application, so we will not send you there."
            }
            (Self::UnregisteredRedirectUri, Lang::Ja) => {
                "戻り先 (redirect_uri) がこのアプリケーションに登録されていないため、移動しません。"
            }
            (Self::InvalidRequest, Lang::En) => "The sign-in request is malformed.",
            (Self::InvalidRequest, Lang::Ja) => "ログイン要求の形式が正しくありません。",
            (Self::LoginExpired, Lang::En) => {
                "This sign-in attempt has expired, or your browser did not send our cookie back. Allow cookies for this site, go back to the application and start again."
            }
            (Self::LoginExpired, Lang::Ja) => {
                "このログイン操作は有効期限が切れたか、ブラウザーが Cookie を送信しませんでした。このサイトの Cookie を許可し、アプリケーションに戻ってもう一度お試しください。"
            }
            (Self::CsrfFailed, Lang::En) => {
                "The form could not be verified. Reload the page and try again."
            }
            (Self::CsrfFailed, Lang::Ja) => {
                "フォームを検証できませんでした。ページを再読み込みしてもう一度お試しください。"
            }
            (Self::Unavailable, Lang::En) => "The sign-in service is temporarily unavailable.",
            (Self::Unavailable, Lang::Ja) => "ログインサービスは一時的に利用できません。",
            (Self::UnregisteredPostLogoutRedirectUri, Lang::En) => {
                "The address to return to after signing out (post_logout_redirect_uri) is not registered for this application, so you stay on this page."
            }
            (Self::UnregisteredPostLogoutRedirectUri, Lang::Ja) => {
                "ログアウト後の戻り先 (post_logout_redirect_uri) がこのアプリケーションに登録されていないため、このページに留まります。"
            }
            (Self::WrongHost, Lang::En) => {
                "This page was opened through an address that is not this sign-in service's own, so it cannot work here."
            }
            (Self::WrongHost, Lang::Ja) => {
                "このページはログインサービス本来のアドレスとは異なるアドレスで開かれたため、ここでは動作しません。"
            }
            (Self::TooLarge, Lang::En) => "The request is too large.",
            (Self::TooLarge, Lang::Ja) => "要求が大きすぎます。",
            (Self::InvalidIdTokenHint, Lang::En) => {
                "The sign-out request names a session we cannot verify (id_token_hint is not valid). You are still signed in."
            }
            (Self::InvalidIdTokenHint, Lang::Ja) => {
                "ログアウト要求のセッション情報 (id_token_hint) を検証できません。ログアウトはしていません。"
            }
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: &'a Texts,
    message: &'a str,
    code: &'a str,
}

/// Renders the error page for `e` with its status (400, 403 or 503).
pub fn error_page(lang: Lang, e: PageError) -> Response {
    let page = ErrorPage {
        t: lang.texts(),
        message: e.message(lang),
        code: e.code(),
    };
    let body = page.render().unwrap_or_else(|_| e.message(lang).to_owned());
    html(e.status(), body, None)
}

/// Response mapper of the browser pages' router: the body limit's plain-text 413 becomes our
/// [`PageError::TooLarge`] page.
pub async fn too_large_page(res: Response) -> Response {
    if res.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return res;
    }
    error_page(Lang::En, PageError::TooLarge)
}

/// The [`PageError::WrongHost`] page (400), naming the address to use: `issuer_url`, the
/// issuer's own URL for the page.
pub fn wrong_host_page(lang: Lang, issuer_url: &str) -> Response {
    let e = PageError::WrongHost;
    let message = match lang {
        Lang::En => format!(
            "{} Go back to the application and start again, or open {issuer_url} instead.",
            e.message(lang)
        ),
        Lang::Ja => format!(
            "{}アプリケーションに戻ってやり直すか、代わりに {issuer_url} を開いてください。",
            e.message(lang)
        ),
    };
    let page = ErrorPage {
        t: lang.texts(),
        message: &message,
        code: e.code(),
    };
    let body = page.render().unwrap_or(message.clone());
    html(e.status(), body, None)
}
