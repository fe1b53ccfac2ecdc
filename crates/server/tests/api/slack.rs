//! Slack over HTTP against the Slack stand-in: the interactivity endpoint refuses forged, stale,
//! replayed, foreign and malformed clicks and honours the approvers list; Slack's errors reach
//! the failed step with advice; channels are listed to the last page; bad tokens are refused;
//! "Add to Slack" installs a working integration, and a declined or forged install stores nothing.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use flowgate_standins::slack::{
    self, block_actions_payload, form_body, sign, ClickUser, Message, SlackStandin, Tamper,
};

use crate::helpers::{spawn_app_with, step, TestApp, ADMIN};
use crate::story::{alice, bob, full_text, yaml_with_approvers, World, STORY_YAML};

const DEADLINE: Duration = Duration::from_secs(20);

/// A signed interactivity request with a raw body, exactly as given.
async fn post_signed(w: &World, body: &str, secret: &str) -> u16 {
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = sign(secret, &ts, body.as_bytes());
    post_raw(w, body, &ts, &sig).await
}

async fn post_raw(w: &World, body: &str, ts: &str, sig: &str) -> u16 {
    w.app
        .client
        .post(w.interactions_url())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Slack-Request-Timestamp", ts)
        .header("X-Slack-Signature", sig)
        .body(body.to_string())
        .send()
        .await
        .expect("Flowgate answers")
        .status()
        .as_u16()
}

/// The payload Slack sends when `user` clicks `action` on `msg`.
fn payload(msg: &Message, action: &str, user: &ClickUser) -> Value {
    let button = msg.button(action).expect("the button");
    block_actions_payload(msg, &button, user, "http://127.0.0.1:9/actions/T/1/x")
}

/// Asserts that the approval is still pending and the execution still waiting.
async fn assert_undecided(w: &World, exec_id: &str) {
    let exec = w.app.execution(ADMIN, exec_id).await;
    assert_eq!(exec["status"], "waiting", "{exec:#}");
    let pending = w.approvals("pending").await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert!(pending[0]["decided_by"].is_null());
    assert_eq!(w.slack.calls("chat.update"), 0);
    assert!(w.scale_downs().is_empty());
}

/// Approves as alice and checks that alice, not anyone refused before, decided.
async fn approve_as_alice(w: &World, msg: &Message, exec_id: &str) {
    let status = w
        .click(
            msg,
            "flowgate_approve",
            &alice(),
            slack::SIGNING_SECRET,
            Tamper::None,
        )
        .await;
    assert_eq!(status, 200);
    let done = w.app.wait_finished(ADMIN, exec_id).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    let by = &step(&done, "approval_1")["output"]["output"]["decided_by"];
    assert_eq!(by, &json!({ "id": "U0ALICE", "name": "alice" }));
    assert_eq!(w.scale_downs(), vec!["2".to_string()]);
}

/// Waits for an ephemeral message to `user`; returns its text.
async fn wait_ephemeral(w: &World, user: &str, n: usize) -> String {
    let found = w
        .slack
        .wait_until(DEADLINE, |s| {
            s.ephemerals()
                .iter()
                .filter(|m| m.user.as_deref() == Some(user))
                .count()
                >= n
        })
        .await;
    assert!(found, "no ephemeral to {user}: {:?}", w.slack.ephemerals());
    w.slack
        .ephemerals()
        .into_iter()
        .rfind(|m| m.user.as_deref() == Some(user))
        .unwrap()
        .text
}

#[tokio::test]
async fn forged_stale_unsigned_and_wrongly_signed_clicks_are_refused() {
    let w = World::new().await;
    let (exec_id, msg) = w.park(STORY_YAML).await;
    let mallory = ClickUser::new("U0MALLORY", "mallory");
    for tamper in [
        Tamper::ForgedSignature,
        Tamper::StaleTimestamp,
        Tamper::FutureTimestamp,
        Tamper::WrongSecret,
        Tamper::Unsigned,
    ] {
        let status = w
            .click(
                &msg,
                "flowgate_deny",
                &mallory,
                slack::SIGNING_SECRET,
                tamper,
            )
            .await;
        assert_eq!(status, 401, "{tamper:?}");
    }
    // A click signed with a secret Flowgate was never given.
    let status = w
        .click(
            &msg,
            "flowgate_deny",
            &mallory,
            "guessed-secret",
            Tamper::None,
        )
        .await;
    assert_eq!(status, 401);
    assert!(w.slack.ephemerals().is_empty());
    assert_undecided(&w, &exec_id).await;
    approve_as_alice(&w, &msg, &exec_id).await;
}

#[tokio::test]
async fn a_replayed_or_late_click_is_told_who_decided_and_changes_nothing() {
    let w = World::new().await;
    let (exec_id, msg) = w.park(STORY_YAML).await;
    // Alice's click, kept byte for byte.
    let body = form_body(&payload(&msg, "flowgate_approve", &alice()));
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = sign(slack::SIGNING_SECRET, &ts, body.as_bytes());
    assert_eq!(post_raw(&w, &body, &ts, &sig).await, 200);
    let done = w.app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(done["status"], "succeeded");
    w.wait_update(&msg).await;

    // Bob denies later: told who decided; nothing changes.
    let status = w
        .click(
            &msg,
            "flowgate_deny",
            &bob(),
            slack::SIGNING_SECRET,
            Tamper::None,
        )
        .await;
    assert_eq!(status, 200);
    let told = wait_ephemeral(&w, "U0BOB", 1).await;
    assert!(told.contains("already approved by alice"), "{told}");

    // The very same request again (a replay inside the window): the same answer.
    assert_eq!(post_raw(&w, &body, &ts, &sig).await, 200);
    let told = wait_ephemeral(&w, "U0ALICE", 1).await;
    assert!(told.contains("already approved by alice"), "{told}");

    let approved = w.approvals("approved").await;
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0]["decided_by"]["id"], "U0ALICE");
    assert!(w.approvals("denied").await.is_empty());
    assert_eq!(
        w.app.execution(ADMIN, &exec_id).await["status"],
        "succeeded"
    );
    assert_eq!(w.scale_downs().len(), 1, "scaled twice");
    assert_eq!(w.slack.calls("chat.update"), 1);
}

#[tokio::test]
async fn simultaneous_clicks_first_decision_wins() {
    let w = World::new().await;
    let (exec_id, msg) = w.park(STORY_YAML).await;
    let (alice, bob) = (alice(), bob());
    let (a, b) = tokio::join!(
        w.click(
            &msg,
            "flowgate_approve",
            &alice,
            slack::SIGNING_SECRET,
            Tamper::None
        ),
        w.click(
            &msg,
            "flowgate_deny",
            &bob,
            slack::SIGNING_SECRET,
            Tamper::None
        ),
    );
    assert_eq!((a, b), (200, 200));
    let done = w.app.wait_finished(ADMIN, &exec_id).await;
    let port = step(&done, "approval_1")["port"]
        .as_str()
        .unwrap()
        .to_string();
    let (loser, winner) = if port == "approved" {
        ("U0BOB", "alice")
    } else {
        ("U0ALICE", "bob")
    };
    let told = wait_ephemeral(&w, loser, 1).await;
    assert!(told.contains(&format!("by {winner}")), "{told}");
    assert_eq!(w.slack.ephemerals().len(), 1);
    let expected = if port == "approved" {
        "succeeded"
    } else {
        "stopped"
    };
    assert_eq!(done["status"], expected);
    assert_eq!(w.slack.calls("chat.update"), 1);
}

#[tokio::test]
async fn a_click_with_a_wrong_button_secret_or_unknown_approval_is_refused() {
    let w = World::new().await;
    let (exec_id, msg) = w.park(STORY_YAML).await;
    let good = payload(&msg, "flowgate_approve", &alice());
    let value = good["actions"][0]["value"].as_str().unwrap().to_string();
    let parts: Vec<&str> = value.split(':').collect();
    assert_eq!(parts.len(), 3, "{value}");
    assert!(parts[1].len() >= 32, "the button secret is short: {value}");
    let bad_values = [
        format!("{}:{}:approve", parts[0], "0".repeat(parts[1].len())),
        format!("{}:{}:approve", parts[0], &parts[1][..parts[1].len() - 1]),
        format!("{}:{}:approve", uuid::Uuid::now_v7(), parts[1]),
    ];
    for bad in bad_values {
        let mut p = good.clone();
        p["actions"][0]["value"] = json!(bad);
        let status = post_signed(&w, &form_body(&p), slack::SIGNING_SECRET).await;
        assert_eq!(status, 401, "{bad}");
    }
    assert!(w.slack.ephemerals().is_empty());
    assert_undecided(&w, &exec_id).await;
    approve_as_alice(&w, &msg, &exec_id).await;
}

#[tokio::test]
async fn a_click_on_another_orgs_approval_signed_with_that_orgs_secret_is_refused() {
    let w = World::new().await;
    let (exec_id, msg) = w.park(STORY_YAML).await;
    // Organization B has its own Slack integration with its own signing secret.
    let (_, b_admin) = w.app.create_org("org-b").await;
    let b_secret = "org-b-signing-secret-9876543210";
    w.add_integrations(&b_admin, b_secret).await;
    for action in ["flowgate_approve", "flowgate_deny"] {
        let status = w.click(&msg, action, &bob(), b_secret, Tamper::None).await;
        assert_eq!(status, 401, "{action}");
    }
    // Nor can B decide it through the API, or see it.
    let id = w.approvals("pending").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = w
        .app
        .post(
            &b_admin,
            &format!("/api/v1/approvals/{id}/decision"),
            &json!({ "decision": "deny" }),
        )
        .await;
    r.expect_error(404, "not_found");
    let listed = w
        .app
        .get(&b_admin, "/api/v1/approvals?status=pending")
        .await;
    assert_eq!(listed.expect(200)["items"], json!([]));
    assert_undecided(&w, &exec_id).await;
    approve_as_alice(&w, &msg, &exec_id).await;
}

#[tokio::test]
async fn malformed_interaction_payloads_are_refused_with_no_effect() {
    let w = World::with(|s, _| s.slack_signing_secret = Some(slack::SIGNING_SECRET.into())).await;
    let (exec_id, msg) = w.park(STORY_YAML).await;
    let good = payload(&msg, "flowgate_approve", &alice());
    let mut no_actions = good.clone();
    no_actions["actions"] = json!([]);
    let mut view = good.clone();
    view["type"] = json!("view_submission");
    let mut no_user = good.clone();
    no_user["user"] = json!(null);
    let mut mismatched = good.clone();
    let value = good["actions"][0]["value"].as_str().unwrap();
    mismatched["actions"][0]["value"] = json!(value.replace(":approve", ":deny"));
    let mut garbled = good.clone();
    garbled["actions"][0]["value"] = json!("not-a-flowgate-value");
    let bodies = [
        "payload=%7Bnot%20json".to_string(),
        "token=abc&team_id=T1".to_string(),
        String::new(),
        form_body(&json!([1, 2, 3])),
        form_body(&no_actions),
        form_body(&view),
        form_body(&no_user),
        form_body(&mismatched),
        form_body(&garbled),
    ];
    for body in &bodies {
        // Signed with the app's secret: a clear 400.
        let status = post_signed(&w, body, slack::SIGNING_SECRET).await;
        assert_eq!(status, 400, "{body}");
        // Not signed by Slack: 401, and nothing said about the payload.
        let status = post_signed(&w, body, "someone-else").await;
        assert_eq!(status, 401, "{body}");
    }
    // Over the size limit.
    let huge = format!("payload={}", "x".repeat(70 * 1024));
    let status = post_signed(&w, &huge, slack::SIGNING_SECRET).await;
    assert_eq!(status, 413);
    assert!(w.slack.ephemerals().is_empty());
    assert_undecided(&w, &exec_id).await;
    approve_as_alice(&w, &msg, &exec_id).await;
}

#[tokio::test]
async fn only_listed_approvers_decide() {
    let w = World::new().await;
    let (exec_id, msg) = w.park(&yaml_with_approvers(&["U0ALICE"])).await;
    assert!(full_text(&msg).contains("<@U0ALICE>"), "{msg:?}");
    let status = w
        .click(
            &msg,
            "flowgate_approve",
            &bob(),
            slack::SIGNING_SECRET,
            Tamper::None,
        )
        .await;
    assert_eq!(status, 200);
    let told = wait_ephemeral(&w, "U0BOB", 1).await;
    assert!(told.contains("not an approver"), "{told}");
    assert_undecided(&w, &exec_id).await;
    approve_as_alice(&w, &msg, &exec_id).await;
}

/// A manual workflow that posts `text` to `channel` with `ops-slack`.
fn send_yaml(channel: &str) -> String {
    format!(
        "name: send {channel}\ndescription: posts a message\nnodes:\n  - id: start\n    type: trigger.manual\n  - id: send\n    type: slack.send_message\n    params:\n      integration: ops-slack\n      channel: {channel}\n      variables:\n        Who: \"{{{{ start.output.who }}}}\"\n      text: \"Hello {{{{Who}}}}\"\nedges:\n  - {{ from: start, to: send }}\n"
    )
}

/// Runs `send_yaml(channel)`; returns the finished execution.
async fn send(w: &World, channel: &str) -> Value {
    let wf = w.app.workflow_id(ADMIN, &send_yaml(channel)).await;
    let exec = w.app.run_manual(ADMIN, &wf, &json!({ "who": "ops" })).await;
    w.app.wait_finished(ADMIN, &exec).await
}

#[tokio::test]
async fn slack_errors_fail_the_send_step_with_what_to_do() {
    let w = World::new().await;
    let ok = send(&w, "C0OPS").await;
    assert_eq!(ok["status"], "succeeded", "{ok:#}");
    let out = &step(&ok, "send")["output"]["output"];
    assert_eq!(out["channel"], "C0OPS");
    let ts = out["ts"].as_str().unwrap();
    assert_eq!(w.slack.message("C0OPS", ts).unwrap().text, "Hello ops");

    let cases = [
        ("C0NOSUCH", vec!["channel_not_found", "C0NOSUCH"]),
        (
            "C0RANDOM",
            vec!["not_in_channel", "invite the Flowgate app"],
        ),
    ];
    for (channel, needles) in cases {
        let done = send(&w, channel).await;
        assert_eq!(done["status"], "failed", "{done:#}");
        let err = step(&done, "send")["error"].to_string();
        for needle in needles {
            assert!(err.contains(needle), "{channel}: {err}");
        }
        assert_eq!(
            step(&done, "send")["attempts"],
            1,
            "a fatal error was retried"
        );
    }
    w.slack.revoke_token(slack::BOT_TOKEN);
    let done = send(&w, "C0OPS").await;
    assert_eq!(done["status"], "failed", "{done:#}");
    let err = step(&done, "send")["error"].to_string();
    assert!(err.contains("token_revoked"), "{err}");
    assert_eq!(w.slack.posted().len(), 1, "{:?}", w.slack.posted());
}

#[tokio::test]
async fn channels_are_listed_to_the_last_page() {
    let w = World::new().await;
    w.slack.set_page_size_cap(1);
    let r = w
        .app
        .get(ADMIN, "/api/v1/integrations/ops-slack/channels")
        .await;
    let items = r.expect(200)["items"].as_array().unwrap().clone();
    let ids: Vec<&str> = items.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["C0OPS", "C0RANDOM", "G0PRIVATE", "C0123ABCD"],
        "{items:?}"
    );
    let random = items.iter().find(|c| c["id"] == "C0RANDOM").unwrap();
    assert_eq!(random["name"], "random");
    assert_eq!(random["is_member"], false);
    assert!(w.slack.calls("conversations.list") >= 4);
    // A Spot integration has no channels; an unknown alias is 404.
    let r = w
        .app
        .get(ADMIN, "/api/v1/integrations/spot-prod/channels")
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let r = w.app.get(ADMIN, "/api/v1/integrations/nope/channels").await;
    r.expect_error(404, "not_found");
}

#[tokio::test]
async fn a_bad_pasted_token_is_refused_and_nothing_is_stored() {
    let w = World::new().await;
    w.slack.add_token("xoxb-revoked-later");
    w.slack.revoke_token("xoxb-revoked-later");
    for (token, code) in [
        ("xoxb-not-a-real-token", "invalid_auth"),
        ("xoxb-revoked-later", "token_revoked"),
    ] {
        let body = json!({ "type": "slack", "alias": "pasted", "config": { "base_url": w.slack.api_url() },
            "secrets": { "bot_token": token, "signing_secret": "s3cret" } });
        let r = w.app.post(ADMIN, "/api/v1/integrations", &body).await;
        r.expect(422);
        assert!(r.error_text().contains(code), "{}", r.error_text());
        w.app
            .get(ADMIN, "/api/v1/integrations/pasted")
            .await
            .expect_error(404, "not_found");
    }
    // Without a signing secret it is incomplete, before Slack is asked.
    let calls = w.slack.calls("auth.test");
    let body = json!({ "type": "slack", "alias": "pasted", "config": { "base_url": w.slack.api_url() },
        "secrets": { "bot_token": slack::BOT_TOKEN } });
    let r = w.app.post(ADMIN, "/api/v1/integrations", &body).await;
    r.expect(422);
    assert!(r
        .detail_paths()
        .contains(&"secrets.signing_secret".to_string()));
    assert_eq!(w.slack.calls("auth.test"), calls);
    let list = w.app.get(ADMIN, "/api/v1/integrations").await;
    let aliases: Vec<Value> = list.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["alias"].clone())
        .collect();
    assert_eq!(aliases.len(), 2, "{aliases:?}");
}

/// A server configured with the stand-in's Slack app, and the stand-in.
async fn oauth_app() -> (TestApp, SlackStandin) {
    let standin = SlackStandin::start().await;
    let base = standin.base_url();
    let app = spawn_app_with(|s, _| {
        s.slack_client_id = Some(slack::CLIENT_ID.into());
        s.slack_client_secret = Some(slack::CLIENT_SECRET.into());
        s.slack_signing_secret = Some(slack::SIGNING_SECRET.into());
        s.slack_oauth_base_url = Some(base);
    })
    .await;
    (app, standin)
}

/// Starts an install of `alias`; returns the authorize URL's query and the `state`.
async fn start_install(
    app: &TestApp,
    standin: &SlackStandin,
    alias: &str,
) -> (Vec<(String, String)>, String) {
    let r = app
        .post(
            ADMIN,
            "/api/v1/integrations/slack/install",
            &json!({ "alias": alias }),
        )
        .await;
    let url = r.expect(200)["authorize_url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{}/oauth/v2/authorize?", standin.base_url())),
        "{url}"
    );
    let query: Vec<(String, String)> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let state = query
        .iter()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.clone())
        .unwrap();
    (query, state)
}

async fn callback(app: &TestApp, query: &str) -> (u16, String, Option<String>) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client
        .get(app.url(&format!("/slack/oauth/callback?{query}")))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (status, resp.text().await.unwrap(), location)
}

async fn aliases(app: &TestApp) -> Vec<String> {
    let list = app.get(ADMIN, "/api/v1/integrations").await;
    list.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["alias"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn add_to_slack_installs_a_working_integration() {
    let (app, standin) = oauth_app().await;
    let (query, state) = start_install(&app, &standin, "oauth-slack").await;
    let get = |k: &str| {
        query
            .iter()
            .find(|(q, _)| q == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(get("client_id"), slack::CLIENT_ID);
    assert_eq!(get("scope"), "chat:write,channels:read,groups:read");
    let redirect = app.url("/slack/oauth/callback");
    assert_eq!(get("redirect_uri"), redirect);
    assert!(state.len() >= 32, "{state}");

    standin.add_oauth_code("code-ok", Some(&redirect));
    let (status, body, location) = callback(&app, &format!("code=code-ok&state={state}")).await;
    assert!(
        StatusCode::from_u16(status).unwrap().is_redirection(),
        "{status} {body}"
    );
    assert_eq!(
        location.as_deref(),
        Some("/#/integrations?installed=oauth-slack")
    );
    let got = app.get(ADMIN, "/api/v1/integrations/oauth-slack").await;
    let got = got.expect(200);
    assert_eq!(got["type"], "slack");
    assert_eq!(got["secret_names"], json!(["bot_token", "signing_secret"]));
    assert!(!got.to_string().contains("xoxb-"), "a secret leaked: {got}");
    // It works: the stored token lists channels.
    let r = app
        .get(ADMIN, "/api/v1/integrations/oauth-slack/channels")
        .await;
    assert_eq!(r.expect(200)["items"].as_array().unwrap().len(), 3);

    // The state was single-use.
    standin.add_oauth_code("code-two", Some(&redirect));
    let (status, body, _) = callback(&app, &format!("code=code-two&state={state}")).await;
    assert_eq!(status, 400);
    assert!(body.contains("already used"), "{body}");
    assert_eq!(aliases(&app).await, ["oauth-slack"]);
}

#[tokio::test]
async fn a_declined_forged_or_failed_install_stores_nothing() {
    let (app, standin) = oauth_app().await;
    let redirect = app.url("/slack/oauth/callback");
    standin.add_oauth_code("code-ok", Some(&redirect));

    // Declined: a clear page, and the state is spent.
    let (_, state) = start_install(&app, &standin, "declined").await;
    let (status, body, _) = callback(&app, &format!("error=access_denied&state={state}")).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("access_denied") && body.contains("nothing was saved"),
        "{body}"
    );
    let (status, _, _) = callback(&app, &format!("code=code-ok&state={state}")).await;
    assert_eq!(status, 400);

    // A state Flowgate never issued, or none.
    for query in ["code=code-ok&state=forged-state", "code=code-ok"] {
        let (status, body, _) = callback(&app, query).await;
        assert_eq!(status, 400, "{query}");
        assert!(body.contains("start again"), "{body}");
    }

    // Slack refuses the code.
    let (_, state) = start_install(&app, &standin, "bad-code").await;
    let (status, body, _) = callback(&app, &format!("code=no-such-code&state={state}")).await;
    assert_eq!(status, 502);
    assert!(
        body.contains("invalid_code") && body.contains("Nothing was saved"),
        "{body}"
    );

    assert!(aliases(&app).await.is_empty());
    // The valid code was never exchanged.
    assert_eq!(standin.calls("oauth.v2.access"), 1);

    // Only an admin may start an install; a server without the app's credentials says what to set.
    let editor = app.create_token(ADMIN, "ed", "editor").await;
    let r = app
        .post(
            &editor,
            "/api/v1/integrations/slack/install",
            &json!({ "alias": "x" }),
        )
        .await;
    r.expect_error(403, "forbidden");
    let plain = spawn_app_with(|_, _| {}).await;
    let r = plain
        .post(
            ADMIN,
            "/api/v1/integrations/slack/install",
            &json!({ "alias": "x" }),
        )
        .await;
    r.expect(422);
    assert!(
        r.error_text().contains("FLOWGATE_SLACK_CLIENT_ID"),
        "{}",
        r.error_text()
    );
}
