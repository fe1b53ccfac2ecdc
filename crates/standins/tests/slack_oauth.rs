//! The Slack stand-in's OAuth consent page: `/oauth/v2/authorize` sends the browser back with a
//! single-use code that `oauth.v2.access` exchanges for a working bot token.

use flowgate_standins::slack::{SlackStandin, CLIENT_ID, CLIENT_SECRET};
use serde_json::Value;

#[tokio::test]
async fn authorize_redirects_back_with_a_code_that_oauth_access_exchanges_once() {
    let slack = SlackStandin::start().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = "http://127.0.0.1:9/slack/oauth/callback";
    let r = http
        .get(format!("{}/oauth/v2/authorize", slack.base_url()))
        .query(&[
            ("client_id", CLIENT_ID),
            ("state", "st-1"),
            ("redirect_uri", redirect),
            ("scope", "chat:write"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(redirect), "{location}");
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "st-1");
    let code = q["code"].clone();

    let exchange = || {
        http.post(format!("{}/oauth.v2.access", slack.api_url()))
            .form(&[
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("code", code.as_str()),
                ("redirect_uri", redirect),
            ])
            .send()
    };
    let first: Value = exchange().await.unwrap().json().await.unwrap();
    assert_eq!(first["ok"], true, "{first}");
    let token = first["access_token"].as_str().unwrap();
    let who: Value = http
        .post(format!("{}/auth.test", slack.api_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who["ok"], true, "{who}");
    let again: Value = exchange().await.unwrap().json().await.unwrap();
    assert_eq!(again["error"], "code_already_used");

    let bad = http
        .get(format!("{}/oauth/v2/authorize", slack.base_url()))
        .query(&[("client_id", "nope"), ("redirect_uri", redirect)])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
