//! Console sessions: an access token exchanged for an HttpOnly, SameSite=Strict cookie; mutations
//! made with the cookie need the CSRF token; sign-out ends the session.

use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, ADMIN};

#[tokio::test]
async fn a_session_cookie_works_like_the_token_and_mutations_need_the_csrf_header() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let bad = http
        .post(app.url("/api/v1/session"))
        .json(&json!({"token": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(bad.headers().get(SET_COOKIE).is_none());

    let res = http
        .post(app.url("/api/v1/session"))
        .json(&json!({"token": ADMIN}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["role"], "admin");
    assert_eq!(body["org_name"], "default");
    let csrf = body["csrf_token"].as_str().unwrap().to_string();
    assert!(csrf.len() >= 32);

    let current: Value = http
        .get(app.url("/api/v1/session"))
        .header(COOKIE, &pair)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["csrf_token"], csrf.as_str());
    let list = http
        .get(app.url("/api/v1/workflows"))
        .header(COOKIE, &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200, "reads work with the cookie alone");

    let key = json!({"name": "from-console"});
    let no_csrf = http
        .post(app.url("/api/v1/api-keys"))
        .header(COOKIE, &pair)
        .json(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_csrf.status(),
        403,
        "a mutation without the CSRF header is refused"
    );
    let wrong = http
        .post(app.url("/api/v1/api-keys"))
        .header(COOKIE, &pair)
        .header("x-csrf-token", "x")
        .json(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    assert_eq!(
        app.count("api_keys").await,
        0,
        "nothing stored for refused requests"
    );
    let ok = http
        .post(app.url("/api/v1/api-keys"))
        .header(COOKIE, &pair)
        .header("x-csrf-token", &csrf)
        .json(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);

    let out = http
        .delete(app.url("/api/v1/session"))
        .header(COOKIE, &pair)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let after = http
        .get(app.url("/api/v1/workflows"))
        .header(COOKIE, &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "the session is over");
}
