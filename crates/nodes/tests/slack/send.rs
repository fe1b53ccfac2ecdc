//! `slack.send_message`, the client's error mapping and retries, and the client methods the
//! server uses (channels, OAuth, ephemeral messages).

use std::time::{Duration, Instant};

use serde_json::{json, Map};

use flowgate_model::Templates;
use flowgate_nodes::slack::{self, SlackClient};
use flowgate_standins::slack::{self as standin, Fault};

use crate::{done, send_params, Harness};

// ---------------------------------------------------------------- slack.send_message

#[tokio::test]
async fn send_message_posts_the_rendered_text_and_returns_channel_and_ts() {
    let h = Harness::start().await;
    // What the engine does before the step runs: `variables` first, then the other params with
    // the variables as bare names.
    let node = h.registry.get("slack.send_message").unwrap();
    assert_eq!(node.locals_param(), Some("variables"));
    let params = json!({
        "integration": "ops-slack", "channel": "C0OPS",
        "variables": { "EG-Name": "{{ list_elastigroup.output.name }}" },
        "text": "Budget threshold reached for {{EG-Name}}",
    });
    let scope = json!({ "list_elastigroup": { "output": { "name": "web-prod" } } })
        .as_object()
        .unwrap()
        .clone();
    let templates = Templates::new();
    let variables = templates
        .render(&params["variables"], &scope, &Map::new())
        .unwrap();
    let locals = variables.as_object().unwrap().clone();
    let mut rendered = templates.render(&params, &scope, &locals).unwrap();
    rendered["variables"] = variables;

    let (output, port) = done(h.send(rendered).await.unwrap());
    assert_eq!(port, None);
    let posted = h.slack.posted();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].text, "Budget threshold reached for web-prod");
    assert_eq!(
        output["output"],
        json!({ "channel": "C0OPS", "ts": posted[0].ts })
    );
}

#[tokio::test]
async fn send_message_sends_block_kit_blocks_and_resolves_channel_names() {
    let h = Harness::start().await;
    let blocks =
        json!([{ "type": "section", "text": { "type": "mrkdwn", "text": "*Budget* reached" } }]);
    let mut params = send_params("#ops", "Budget reached");
    params["blocks"] = blocks.clone();
    let (output, _) = done(h.send(params).await.unwrap());
    assert_eq!(
        output["output"]["channel"], "C0OPS",
        "Slack answers with the channel id"
    );
    let posted = h.slack.posted();
    assert_eq!(posted[0].blocks.as_ref(), Some(&blocks));
    assert_eq!(posted[0].text, "Budget reached");
}

#[tokio::test]
async fn send_message_params_are_checked_at_save_time() {
    let h = Harness::start().await;
    let node = h.registry.get("slack.send_message").unwrap();
    assert!(node
        .validate(&send_params("C0OPS", "hi"), "nodes[1].params")
        .is_empty());
    let problems = node.validate(
        &json!({ "integration": "ops-slack", "channel": "", "text": " " }),
        "nodes[1].params",
    );
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["nodes[1].params.channel", "nodes[1].params.text"]);
    let problems = node.validate(&json!({ "integration": "ops-slack", "channel": "C1", "text": "x", "blocks": [{ "text": "no type" }] }), "p");
    assert_eq!(problems[0].path, "p.blocks[0]");
    let schema = node.params_schema();
    assert_eq!(
        schema["properties"]["integration"]["x-integration-type"],
        "slack"
    );
    assert_eq!(
        schema["properties"]["channel"]["x-source"],
        "slack-channels"
    );
    assert!(!node.descriptor().idempotent);
}

#[tokio::test]
async fn slack_errors_say_what_to_do() {
    let h = Harness::start().await;
    let cases = [
        (send_params("C0RANDOM", "hi"), "Slack says not_in_channel: invite the Flowgate app to the channel C0RANDOM and retry"),
        (send_params("C0NOPE", "hi"), "Slack says channel_not_found: no channel C0NOPE is visible"),
        (send_params("C0ARCHIVED", "hi"), "Slack says is_archived"),
        (json!({ "integration": "revoked-slack", "channel": "C0OPS", "text": "hi" }), "Slack says token_revoked: the bot token of integration `revoked-slack` is no longer accepted; re-install the Slack app (Add to Slack) or paste a new bot token"),
        (json!({ "integration": "unknown-slack", "channel": "C0OPS", "text": "hi" }), "Slack says invalid_auth"),
        (json!({ "integration": "inactive-slack", "channel": "C0OPS", "text": "hi" }), "Slack says account_inactive"),
        (json!({ "integration": "no-such", "channel": "C0OPS", "text": "hi" }), "there is no integration named `no-such`"),
    ];
    for (params, expected) in cases {
        let err = h.send(params).await.unwrap_err();
        assert!(
            err.message.starts_with(expected),
            "{} does not start with {expected}",
            err.message
        );
        assert!(!err.retryable, "{}", err.message);
    }
    h.slack
        .inject("chat.postMessage", Fault::MissingScope("chat:write".into()));
    let err = h.send(send_params("C0OPS", "hi")).await.unwrap_err();
    assert!(
        err.message
            .contains("Slack says missing_scope: the Slack app needs the `chat:write` scope"),
        "{}",
        err.message
    );
    assert!(h.slack.posted().is_empty());
}

#[tokio::test]
async fn a_rate_limited_post_waits_as_asked_and_posts_once() {
    let h = Harness::start().await;
    h.slack.inject(
        "chat.postMessage",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let started = Instant::now();
    let (output, _) = done(h.send(send_params("C0OPS", "hi")).await.unwrap());
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert_eq!(h.slack.calls("chat.postMessage"), 2);
    assert_eq!(h.slack.posted().len(), 1);
    assert_eq!(output["output"]["ts"], h.slack.posted()[0].ts);
}

#[tokio::test]
async fn a_long_rate_limit_is_handed_back_with_its_delay() {
    let h = Harness::start().await;
    h.slack.inject(
        "chat.postMessage",
        Fault::RateLimited {
            retry_after_secs: 120,
        },
    );
    let err = h.send(send_params("C0OPS", "hi")).await.unwrap_err();
    assert!(err.retryable);
    assert_eq!(err.retry_after_ms, Some(120_000));
    assert!(err.message.contains("nothing was done"), "{}", err.message);
    assert_eq!(h.slack.calls("chat.postMessage"), 1);
    assert!(h.slack.posted().is_empty());
}

#[tokio::test]
async fn reads_retry_rate_limits_and_server_errors() {
    let h = Harness::start().await;
    h.slack.inject(
        "auth.test",
        Fault::RateLimited {
            retry_after_secs: 0,
        },
    );
    h.slack.inject("auth.test", Fault::Http(503));
    let info = h.client().auth_test().await.unwrap();
    assert_eq!(info.team_id, standin::TEAM_ID);
    assert_eq!(info.bot_id.as_deref(), Some(standin::BOT_ID));
    assert_eq!(h.slack.calls("auth.test"), 3);
}

#[tokio::test]
async fn a_lost_answer_to_a_post_is_an_unknown_outcome_not_a_retry() {
    let h = Harness::start().await;
    h.slack.inject("chat.postMessage", Fault::Http(500));
    let err = h.send(send_params("C0OPS", "hi")).await.unwrap_err();
    assert!(
        err.message.starts_with("outcome unknown:"),
        "{}",
        err.message
    );
    assert!(!err.retryable);
    assert_eq!(h.slack.calls("chat.postMessage"), 1);

    h.slack
        .inject("chat.postMessage", Fault::Delay(Duration::from_secs(3)));
    let client = h.client().with_timeout(Duration::from_millis(300));
    let err = client
        .post_message("C0OPS", "slow", None)
        .await
        .unwrap_err();
    assert!(
        err.message
            .starts_with("outcome unknown: Slack did not answer chat.postMessage"),
        "{}",
        err.message
    );
    assert!(!err.retryable);
    assert_eq!(
        h.slack.posted().len(),
        1,
        "the stand-in did post it: why it must not be repeated"
    );
    assert_eq!(h.slack.calls("chat.postMessage"), 2);
}

#[tokio::test]
async fn an_unreachable_slack_is_retryable_as_nothing_was_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    drop(listener);
    let err = SlackClient::new(reqwest::Client::new(), &url, "xoxb-x")
        .post_message("C1", "hi", None)
        .await
        .unwrap_err();
    assert!(err.retryable, "{}", err.message);
    assert!(err.message.contains("nothing was sent"), "{}", err.message);
}

// ---------------------------------------------------------------- client methods for the server

#[tokio::test]
async fn list_channels_pages_to_the_end() {
    let h = Harness::start().await;
    for i in 0..5 {
        h.slack
            .add_channel(&format!("C1{i}"), &format!("team-{i}"), false, i % 2 == 0);
    }
    h.slack.set_page_size_cap(2);
    let channels = h.client().list_channels().await.unwrap();
    let ids: Vec<&str> = channels.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "C0OPS",
            "C0RANDOM",
            "G0PRIVATE",
            "C10",
            "C11",
            "C12",
            "C13",
            "C14"
        ],
        "archived channels are left out"
    );
    assert_eq!(h.slack.calls("conversations.list"), 4);
    assert!(channels[2].is_private && channels[0].is_member && !channels[1].is_member);

    let revoked = SlackClient::new(reqwest::Client::new(), &h.slack.api_url(), "xoxb-revoked");
    assert_eq!(
        revoked.list_channels().await.unwrap_err().code.as_deref(),
        Some("token_revoked")
    );
}

#[tokio::test]
async fn oauth_code_exchange_uses_basic_client_credentials() {
    let h = Harness::start().await;
    let redirect = "https://flowgate.example/slack/oauth/callback";
    h.slack.add_oauth_code("code-1", Some(redirect));
    let http = reqwest::Client::new();
    let api = h.slack.api_url();

    let err = SlackClient::oauth_v2_access(
        http.clone(),
        &api,
        standin::CLIENT_ID,
        "wrong",
        "code-1",
        Some(redirect),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("bad_client_secret"));
    let err = SlackClient::oauth_v2_access(
        http.clone(),
        &api,
        standin::CLIENT_ID,
        standin::CLIENT_SECRET,
        "code-1",
        Some("https://evil.example/cb"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("bad_redirect_uri"));

    let access = SlackClient::oauth_v2_access(
        http.clone(),
        &api,
        standin::CLIENT_ID,
        standin::CLIENT_SECRET,
        "code-1",
        Some(redirect),
    )
    .await
    .unwrap();
    assert!(access.access_token.starts_with("xoxb-"));
    assert_eq!(
        access.team.as_ref().map(|t| t.id.as_str()),
        Some(standin::TEAM_ID)
    );
    assert!(
        !format!("{access:?}").contains(&access.access_token),
        "Debug must not show the token"
    );
    let info = SlackClient::new(http.clone(), &api, &access.access_token)
        .auth_test()
        .await
        .unwrap();
    assert_eq!(info.user_id, standin::BOT_USER_ID);

    let err = SlackClient::oauth_v2_access(
        http,
        &api,
        standin::CLIENT_ID,
        standin::CLIENT_SECRET,
        "code-1",
        Some(redirect),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("code_already_used"));
    assert!(
        err.message.contains("start the installation again"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn ephemeral_messages_reach_one_user() {
    let h = Harness::start().await;
    let ts = h
        .client()
        .post_ephemeral("C0OPS", "U0ALICE", &slack::not_an_approver_text())
        .await
        .unwrap();
    let sent = h.slack.ephemerals();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].ts.as_str(), sent[0].user.as_deref()),
        (ts.as_str(), Some("U0ALICE"))
    );
    assert!(sent[0].text.contains("not an approver"));
    let err = h
        .client()
        .post_ephemeral("C0RANDOM", "U0ALICE", "x")
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("not_in_channel"));
}

#[tokio::test]
async fn the_stand_in_speaks_slacks_wire_formats() {
    let h = Harness::start().await;
    let http = reqwest::Client::new();
    let api = h.slack.api_url();
    // A form body with the token as a parameter and blocks as a JSON string.
    let blocks = r#"[{"type":"section","text":{"type":"mrkdwn","text":"hi"}}]"#;
    let form = [
        ("token", standin::BOT_TOKEN),
        ("channel", "C0OPS"),
        ("text", "form"),
        ("blocks", blocks),
    ];
    let answer: serde_json::Value = http
        .post(format!("{api}/chat.postMessage"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(
        h.slack.posted()[0].blocks.as_ref().unwrap()[0]["type"],
        "section"
    );
    // A query string on GET.
    let query = [("token", standin::BOT_TOKEN), ("limit", "1")];
    let answer: serde_json::Value = http
        .get(format!("{api}/conversations.list"))
        .query(&query)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            answer["ok"].as_bool(),
            answer["channels"].as_array().map(Vec::len)
        ),
        (Some(true), Some(1))
    );
    assert_ne!(answer["response_metadata"]["next_cursor"], "");
    // A JSON body cannot carry the token; errors are HTTP 200 with ok:false.
    let response = http
        .post(format!("{api}/chat.postMessage"))
        .json(&json!({ "token": standin::BOT_TOKEN, "channel": "C0OPS", "text": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({ "ok": false, "error": "not_authed" })
    );
    // A rate limit is a 429 with Retry-After and Slack's body.
    h.slack.inject(
        "auth.test",
        Fault::RateLimited {
            retry_after_secs: 7,
        },
    );
    let response = http
        .post(format!("{api}/auth.test"))
        .bearer_auth(standin::BOT_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            response.status().as_u16(),
            response.headers()["retry-after"].to_str().unwrap()
        ),
        (429, "7")
    );
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({ "ok": false, "error": "ratelimited" })
    );
}
