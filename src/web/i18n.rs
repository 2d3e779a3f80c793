//! English and Japanese page texts. The language comes from `ui_locales` (OIDC Core §3.1.2.1),
//! then `Accept-Language`, else English.

use axum::http::{HeaderMap, header};

use crate::oidc::claims::ConsentText;

/// A page language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Lang {
    /// English.
    En,
    /// Japanese.
    Ja,
}

impl Lang {
    fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag
            .trim()
            .split(['-', '_', ';'])
            .next()?
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Self::En),
            "ja" => Some(Self::Ja),
            _ => None,
        }
    }

    /// Picks the first supported language of `ui_locales` (space-separated, in preference order),
    /// else of `Accept-Language` (highest q first), else English.
    pub fn negotiate(ui_locales: Option<&str>, headers: &HeaderMap) -> Self {
        if let Some(lang) = ui_locales
            .into_iter()
            .flat_map(|l| l.split(' '))
            .find_map(Self::from_tag)
        {
            return lang;
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let mut ranked: Vec<(f32, Self)> = accept
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';');
                let lang = Self::from_tag(parts.next()?)?;
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((q, lang))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.first().map_or(Self::En, |(_, l)| *l)
    }

    /// What granting `scope` shares, in plain words: the catalog's sentence for a standard
    /// scope (`oidc::claims`), else the scope named as a permission.
    pub fn scope_description(self, scope: &str) -> String {
        match crate::oidc::claims::scope(scope) {
            Some(info) => self.consent_text(info.consent).into(),
            None => match self {
                Self::En => format!("Use the permission \u{201c}{scope}\u{201d}"),
                Self::Ja => format!("権限「{scope}」を使用する"),
            },
        }
    }

    /// The consent page's sentence for a standard scope.
    pub fn consent_text(self, text: ConsentText) -> &'static str {
        use ConsentText as C;
        match (self, text) {
            (Self::En, C::Identity) => "Know who you are (your account identifier)",
            (Self::Ja, C::Identity) => "あなたが誰かを知る（アカウント識別子）",
            (Self::En, C::Profile) => "See your name and profile",
            (Self::Ja, C::Profile) => "名前とプロフィールを参照する",
            (Self::En, C::Email) => "See your email address",
            (Self::Ja, C::Email) => "メールアドレスを参照する",
            (Self::En, C::Address) => "See your postal address",
            (Self::Ja, C::Address) => "住所を参照する",
            (Self::En, C::Phone) => "See your phone number",
            (Self::Ja, C::Phone) => "電話番号を参照する",
            (Self::En, C::OfflineAccess) => "Stay connected: access the above while you are away",
            (Self::Ja, C::OfflineAccess) => "接続を維持する: 不在時も上記にアクセスする",
        }
    }

    /// The throttling message: "… Try again in 1 second." / "… in 12 seconds." (Japanese has
    /// no plural).
    pub fn too_many_attempts(self, retry_after_secs: u64) -> String {
        match self {
            Self::En => {
                let unit = if retry_after_secs == 1 {
                    "second"
                } else {
                    "seconds"
                };
                format!("Too many sign-in attempts. Try again in {retry_after_secs} {unit}.")
            }
            Self::Ja => format!(
                "ログインの試行回数が多すぎます。{retry_after_secs} 秒後にもう一度お試しください。"
            ),
        }
    }

    /// The BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ja => "ja",
        }
    }

    /// The texts of this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Self::En => &EN,
            Self::Ja => &JA,
        }
    }

    /// The demo relying party's texts (`serve --demo`) in this language.
    pub fn demo_texts(self) -> &'static DemoTexts {
        match self {
            Self::En => &DEMO_EN,
            Self::Ja => &DEMO_JA,
        }
    }
}

/// Every string a page shows.
#[derive(Debug)]
pub struct Texts {
    /// `lang` attribute of `<html>`.
    pub html_lang: &'static str,
    /// Product name line.
    pub product: &'static str,
    /// Login page title and heading.
    pub login_title: &'static str,
    /// Shown before the client's name.
    pub continue_to: &'static str,
    /// Email field label.
    pub email_label: &'static str,
    /// Password field label.
    pub password_label: &'static str,
    /// Submit button.
    pub submit: &'static str,
    /// One message for unknown email or wrong password.
    pub bad_credentials: &'static str,
    /// The password was right but the account is disabled (said only after the password
    /// checked out, so it tells a guesser nothing).
    pub account_disabled: &'static str,
    /// Both fields are required.
    pub missing_fields: &'static str,
    /// The email is longer than an address can be (RFC 5321 §4.5.3.1.3).
    pub email_too_long: &'static str,
    /// Another login field is over the size cap.
    pub field_too_long: &'static str,
    /// Error page title.
    pub error_title: &'static str,
    /// Advice under an error.
    pub error_advice: &'static str,
    /// Label before the error page's stable error code.
    pub error_code_label: &'static str,
    /// Consent page title.
    pub consent_title: &'static str,
    /// Before the list of requested permissions ("… wants to:").
    pub consent_intro: &'static str,
    /// Consent: allow button.
    pub allow: &'static str,
    /// Consent: deny button.
    pub deny: &'static str,
    /// Before the user's email on the consent page.
    pub signed_in_as: &'static str,
    /// Logout page title.
    pub logout_title: &'static str,
    /// Logout confirmation question.
    pub logout_question: &'static str,
    /// Logout button.
    pub logout_button: &'static str,
    /// Shown after logout.
    pub logged_out: &'static str,
    /// Logout confirmation: before the name of the client that sent the person.
    pub logout_requested_by: &'static str,
    /// Logout confirmation: the button that keeps the session.
    pub stay_signed_in: &'static str,
    /// Shown when the person chose to stay signed in.
    pub still_signed_in: &'static str,
    /// Link to the client's privacy policy.
    pub privacy_policy: &'static str,
    /// Link to the client's terms of service.
    pub terms: &'static str,
}

static EN: Texts = Texts {
    html_lang: "en",
    product: "Sekimori",
    login_title: "Sign in",
    continue_to: "to continue to",
    email_label: "Email",
    password_label: "Password",
    submit: "Sign in",
    bad_credentials: "The email or password is incorrect.",
    account_disabled: "This account is disabled. Ask the administrator of this sign-in service to enable it again.",
    missing_fields: "Enter your email and password.",
    email_too_long: "That email address is too long: an email address has at most 254 bytes (about 254 letters in English, fewer in other scripts).",
    field_too_long: "What you entered is too long. Check it and try again.",
    error_title: "Something is not right",
    error_advice: "Go back to the application you came from and try again. If this keeps happening, tell the application's developers.",
    error_code_label: "Error code:",
    consent_title: "Allow access?",
    consent_intro: "wants to:",
    allow: "Allow",
    deny: "Deny",
    signed_in_as: "Signed in as",
    logout_title: "Sign out",
    logout_question: "Sign out of Sekimori on this device?",
    logout_button: "Sign out",
    logged_out: "You are signed out.",
    logout_requested_by: "Requested by",
    stay_signed_in: "Stay signed in",
    still_signed_in: "You are still signed in.",
    privacy_policy: "Privacy policy",
    terms: "Terms of service",
};

static JA: Texts = Texts {
    html_lang: "ja",
    product: "関守 Sekimori",
    login_title: "ログイン",
    continue_to: "続行先:",
    email_label: "メールアドレス",
    password_label: "パスワード",
    submit: "ログイン",
    bad_credentials: "メールアドレスまたはパスワードが正しくありません。",
    account_disabled: "このアカウントは無効になっています。再度有効にするよう、このログインサービスの管理者に依頼してください。",
    missing_fields: "メールアドレスとパスワードを入力してください。",
    email_too_long: "メールアドレスが長すぎます。メールアドレスは 254 バイト以内です（日本語の文字は 1 文字 3 バイト）。",
    field_too_long: "入力が長すぎます。確認してもう一度お試しください。",
    error_title: "問題が発生しました",
    error_advice: "元のアプリケーションに戻って、もう一度お試しください。繰り返し発生する場合は、アプリケーションの開発者にお知らせください。",
    error_code_label: "エラーコード:",
    consent_title: "アクセスを許可しますか？",
    consent_intro: "が次の許可を求めています:",
    allow: "許可する",
    deny: "拒否する",
    signed_in_as: "ログイン中のアカウント:",
    logout_title: "ログアウト",
    logout_question: "この端末で関守からログアウトしますか？",
    logout_button: "ログアウト",
    logged_out: "ログアウトしました。",
    logout_requested_by: "要求元:",
    stay_signed_in: "ログインしたままにする",
    still_signed_in: "ログインしたままです。",
    privacy_policy: "プライバシーポリシー",
    terms: "利用規約",
};

/// Every string the demo relying party's pages show (`serve --demo`, [`crate::demo`]).
#[derive(Debug)]
pub struct DemoTexts {
    /// Page title and heading.
    pub title: &'static str,
    /// What the demo is, on the start page.
    pub intro: &'static str,
    /// The start button.
    pub start: &'static str,
    /// Before the signed-in user's email on the result page.
    pub signed_in_as: &'static str,
    /// Heading of the decoded ID token.
    pub id_token: &'static str,
    /// Heading of the decoded access token.
    pub access_token: &'static str,
    /// Heading of the userinfo response.
    pub userinfo: &'static str,
    /// Heading of the token response's other members.
    pub token_response: &'static str,
    /// Heading of the list of checks the demo made.
    pub checks: &'static str,
    /// Check: the code was exchanged at the token endpoint.
    pub check_exchange: &'static str,
    /// Check: the ID token's signature was verified against the JWKS.
    pub check_signature: &'static str,
    /// Check: `iss`, `aud`, `exp` and `nonce` are as expected.
    pub check_claims: &'static str,
    /// Check, after a refresh: `iss`, `sub`, `aud`, `exp` (no `nonce`, OIDC Core §12.2).
    pub check_claims_refreshed: &'static str,
    /// Check: userinfo's `sub` is the ID token's.
    pub check_userinfo: &'static str,
    /// Shown after a refresh-token grant.
    pub refreshed: &'static str,
    /// There is no refresh token (offline_access not granted).
    pub no_refresh_token: &'static str,
    /// The refresh button.
    pub refresh: &'static str,
    /// The log-out button.
    pub logout: &'static str,
    /// The "sign in again with prompt=login" button.
    pub prompt_login: &'static str,
    /// Heading of the demo's error page.
    pub error_title: &'static str,
    /// The start-again link under an error.
    pub start_again: &'static str,
    /// The sign-in response matches no sign-in this browser started.
    pub state_mismatch: &'static str,
    /// Before the error the provider sent back (e.g. `access_denied`).
    pub provider_said: &'static str,
    /// Before what went wrong talking to the provider's endpoints.
    pub failed: &'static str,
    /// The demo's session is gone (expired, or never started) when a button was used.
    pub session_expired: &'static str,
}

static DEMO_EN: DemoTexts = DemoTexts {
    title: "Demo app",
    intro: "A small relying party built into Sekimori (served only with serve --demo). It signs you in as any application would: the authorization code flow with PKCE, then the code exchanged at the token endpoint, the ID token verified against the JWKS, and userinfo called, all over HTTP. Then it shows what it received.",
    start: "Sign in with Sekimori",
    signed_in_as: "Signed in as",
    id_token: "ID token claims",
    access_token: "Access token claims",
    userinfo: "Userinfo",
    token_response: "Token response",
    checks: "What the demo checked",
    check_exchange: "Exchanged the code at the token endpoint (client_secret_basic, PKCE S256).",
    check_signature: "Verified the ID token's signature with the key the JWKS publishes:",
    check_claims: "The ID token's iss, aud, exp and nonce are the expected ones.",
    check_claims_refreshed: "The refreshed ID token's iss, aud and exp are the expected ones, and its sub is the first one's (a refresh carries no nonce).",
    check_userinfo: "Userinfo's sub is the ID token's sub.",
    refreshed: "Tokens refreshed with the refresh_token grant.",
    no_refresh_token: "No refresh token: offline_access was not granted.",
    refresh: "Refresh tokens",
    logout: "Log out",
    prompt_login: "Sign in again (prompt=login)",
    error_title: "The demo sign-in did not finish",
    start_again: "Start again",
    state_mismatch: "This sign-in response does not match a sign-in this browser started (its state is unknown or expired).",
    provider_said: "The provider answered:",
    failed: "Talking to the provider failed:",
    session_expired: "The demo's session has expired. Sign in again.",
};

static DEMO_JA: DemoTexts = DemoTexts {
    title: "デモアプリ",
    intro: "関守に組み込まれた小さなリライングパーティーです（serve --demo のときだけ提供されます）。一般のアプリケーションと同じ方法でログインします。PKCE 付き認可コードフローのあと、トークンエンドポイントでコードを交換し、JWKS で ID トークンを検証し、UserInfo を呼び出します（すべて HTTP 経由）。そして受け取った内容を表示します。",
    start: "関守でログイン",
    signed_in_as: "ログイン中のアカウント:",
    id_token: "ID トークンのクレーム",
    access_token: "アクセストークンのクレーム",
    userinfo: "UserInfo",
    token_response: "トークンレスポンス",
    checks: "デモが確認したこと",
    check_exchange: "トークンエンドポイントでコードを交換しました（client_secret_basic、PKCE S256）。",
    check_signature: "JWKS が公開する鍵で ID トークンの署名を検証しました:",
    check_claims: "ID トークンの iss、aud、exp、nonce は期待どおりです。",
    check_claims_refreshed: "更新後の ID トークンの iss、aud、exp は期待どおりで、sub は最初のものと一致します（更新時は nonce がありません）。",
    check_userinfo: "UserInfo の sub は ID トークンの sub と一致します。",
    refreshed: "refresh_token グラントでトークンを更新しました。",
    no_refresh_token: "リフレッシュトークンはありません（offline_access が許可されていません）。",
    refresh: "トークンを更新",
    logout: "ログアウト",
    prompt_login: "もう一度ログイン (prompt=login)",
    error_title: "デモのログインは完了しませんでした",
    start_again: "最初からやり直す",
    state_mismatch: "このログイン応答は、このブラウザーで開始したログインと一致しません（state が不明か期限切れです）。",
    provider_said: "プロバイダーの応答:",
    failed: "プロバイダーとの通信に失敗しました:",
    session_expired: "デモのセッションの有効期限が切れました。もう一度ログインしてください。",
};

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn ui_locales_wins_then_accept_language_by_quality() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("en;q=0.5, ja;q=0.9"),
        );
        assert_eq!(Lang::negotiate(None, &h), Lang::Ja);
        assert_eq!(Lang::negotiate(Some("fr en-US"), &h), Lang::En);
        assert_eq!(Lang::negotiate(None, &HeaderMap::new()), Lang::En);
    }

    #[test]
    fn the_throttle_message_reads_naturally() {
        assert_eq!(
            Lang::En.too_many_attempts(1),
            "Too many sign-in attempts. Try again in 1 second."
        );
        assert_eq!(
            Lang::En.too_many_attempts(12),
            "Too many sign-in attempts. Try again in 12 seconds."
        );
        assert_eq!(
            Lang::Ja.too_many_attempts(1),
            "ログインの試行回数が多すぎます。1 秒後にもう一度お試しください。"
        );
    }

    #[test]
    fn every_catalog_scope_has_its_own_sentence_in_each_language() {
        for lang in [Lang::En, Lang::Ja] {
            let texts: Vec<String> = crate::oidc::claims::SCOPES
                .iter()
                .map(|s| lang.scope_description(s.name))
                .collect();
            for (i, t) in texts.iter().enumerate() {
                assert!(!texts[i + 1..].contains(t), "{t}");
                assert!(!t.contains('\u{201c}') && !t.contains('「'), "{t}");
            }
        }
        assert_eq!(
            Lang::En.scope_description("offline_access"),
            "Stay connected: access the above while you are away"
        );
        assert_eq!(
            Lang::En.scope_description("read:files"),
            "Use the permission \u{201c}read:files\u{201d}"
        );
        assert_eq!(Lang::Ja.scope_description("x"), "権限「x」を使用する");
    }
}
