//! Issue 19: a disabled account whose password was right is told the account is disabled; a
//! wrong password still gets the one generic message (so the notice reveals nothing to a
//! guesser).

use reqwest::StatusCode;

use crate::helpers::{USER_EMAIL, USER_PASSWORD, spawn_app};

fn login_error(html: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("#login-error").expect("selector");
    doc.select(&sel).next().map(|e| e.text().collect())
}

#[tokio::test]
async fn a_disabled_account_is_named_only_after_its_password_checked_out() {
    // Arrange: the user is disabled.
    let app = spawn_app().await;
    app.store
        .set_user_disabled(&app.user_sub, true, app.clock.now())
        .await
        .expect("disable");
    let page = app.get_authorize(&app.confidential, &[]).await;
    let page = page.text().await.expect("html");

    // Act
    let wrong = app.post_login(&page, USER_EMAIL, "not the password").await;
    let wrong_status = wrong.status();
    let wrong = wrong.text().await.expect("html");
    let right = app.post_login(&wrong, USER_EMAIL, USER_PASSWORD).await;
    let right_status = right.status();
    let right = right.text().await.expect("html");

    // Assert: the generic message for a wrong password; the reason once it was right.
    assert_eq!(wrong_status, StatusCode::OK);
    assert_eq!(
        login_error(&wrong).as_deref(),
        Some("The email or password is incorrect.")
    );
    assert_eq!(right_status, StatusCode::OK);
    let message = login_error(&right).expect("error shown");
    assert!(message.contains("This account is disabled"), "{message}");
    assert!(right.contains("name=\"password\""), "still the login form");
}

#[tokio::test]
async fn the_disabled_account_notice_is_in_japanese_too() {
    // Arrange
    let app = spawn_app().await;
    app.store
        .set_user_disabled(&app.user_sub, true, app.clock.now())
        .await
        .expect("disable");
    let page = app
        .get_authorize(&app.confidential, &[("ui_locales", "ja")])
        .await;
    let page = page.text().await.expect("html");

    // Act
    let res = app.post_login(&page, USER_EMAIL, USER_PASSWORD).await;

    // Assert
    let html = res.text().await.expect("html");
    let message = login_error(&html).expect("error shown");
    assert!(message.contains("このアカウントは無効"), "{message}");
}
