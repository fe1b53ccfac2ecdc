//! Slack's request signatures, interaction payloads (also as the stand-in sends them), and the
//! texts shown after a decision.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};

use flowgate_nodes::slack::{self, Choice, InteractionError, SignatureError};
use flowgate_nodes::Outcome;
use flowgate_standins::slack::{self as standin, ClickUser, Tamper};

use crate::approval::approval_params;
use crate::Harness;

// ---------------------------------------------------------------- signatures

const VECTOR_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const VECTOR_TS: &str = "1531420618";
const VECTOR_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const VECTOR_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

#[test]
fn slacks_test_vector_verifies() {
    let now = 1_531_420_618 + 100;
    assert_eq!(
        slack::sign(VECTOR_SECRET, VECTOR_TS, VECTOR_BODY.as_bytes()),
        VECTOR_SIG
    );
    assert_eq!(
        standin::sign(VECTOR_SECRET, VECTOR_TS, VECTOR_BODY.as_bytes()),
        VECTOR_SIG
    );
    assert_eq!(
        slack::verify_signature(
            VECTOR_SECRET,
            VECTOR_TS,
            VECTOR_BODY.as_bytes(),
            VECTOR_SIG,
            now
        ),
        Ok(())
    );
}

#[test]
fn bad_signatures_are_refused() {
    let ts: i64 = 1_531_420_618;
    let body = VECTOR_BODY.as_bytes();
    let verify = |secret: &str, body: &[u8], sig: &str, now: i64| {
        slack::verify_signature(secret, VECTOR_TS, body, sig, now)
    };
    assert_eq!(
        verify(VECTOR_SECRET, body, VECTOR_SIG, ts + 301),
        Err(SignatureError::Stale { skew_secs: 301 })
    );
    assert_eq!(
        verify(VECTOR_SECRET, body, VECTOR_SIG, ts - 301),
        Err(SignatureError::Stale { skew_secs: -301 }),
        "from the future"
    );
    assert_eq!(
        verify(VECTOR_SECRET, body, VECTOR_SIG, ts + 300),
        Ok(()),
        "300 s is still inside the window"
    );
    let forged = VECTOR_SIG.replace("a2114d", "a2114e");
    assert_eq!(
        verify(VECTOR_SECRET, body, &forged, ts),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify("another-secret", body, VECTOR_SIG, ts),
        Err(SignatureError::Mismatch)
    );
    let changed = VECTOR_BODY.replace("roadrunner", "coyote");
    assert_eq!(
        verify(VECTOR_SECRET, changed.as_bytes(), VECTOR_SIG, ts),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify(VECTOR_SECRET, body, "v1=abc", ts),
        Err(SignatureError::Malformed)
    );
    assert_eq!(
        verify(VECTOR_SECRET, body, &VECTOR_SIG[..60], ts),
        Err(SignatureError::Malformed)
    );
    assert_eq!(
        slack::verify_signature(VECTOR_SECRET, "yesterday", body, VECTOR_SIG, ts),
        Err(SignatureError::BadTimestamp)
    );
}

// ---------------------------------------------------------------- interactions

/// What arrives at a Request URL: headers and the raw body.
type Captured = Arc<std::sync::Mutex<Vec<(HashMap<String, String>, Vec<u8>)>>>;

async fn capture_server() -> (String, Captured) {
    let seen: Captured = Arc::default();
    let sink = seen.clone();
    let app = axum::Router::new().route(
        "/slack/interactions",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let sink = sink.clone();
                async move {
                    let h = headers
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().to_string(),
                                v.to_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect();
                    sink.lock().unwrap().push((h, body.to_vec()));
                    ""
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/slack/interactions",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn a_stand_in_click_verifies_and_parses_as_an_approval_decision() {
    let h = Harness::start().await;
    let Outcome::Suspend { approval, .. } = h
        .execute("slack.approval", approval_params())
        .await
        .unwrap()
    else {
        panic!()
    };
    let approval = approval.unwrap();
    let msg = h.slack.posted().remove(0);
    let (url, seen) = capture_server().await;
    let alice = ClickUser::new("U0ALICE", "alice");
    let tampers = [
        Tamper::None,
        Tamper::ForgedSignature,
        Tamper::StaleTimestamp,
        Tamper::FutureTimestamp,
        Tamper::WrongSecret,
    ];
    for tamper in tampers {
        let response = h
            .slack
            .click(
                &url,
                standin::SIGNING_SECRET,
                &msg,
                "flowgate_deny",
                &alice,
                tamper,
            )
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), tampers.len());
    let now = chrono::Utc::now().timestamp();
    let results: Vec<Result<(), SignatureError>> = seen
        .iter()
        .map(|(headers, body)| {
            assert_eq!(headers["content-type"], "application/x-www-form-urlencoded");
            assert!(body.starts_with(b"payload="));
            slack::verify_signature(
                standin::SIGNING_SECRET,
                &headers["x-slack-request-timestamp"],
                body,
                &headers["x-slack-signature"],
                now,
            )
        })
        .collect();
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert_eq!(results[1], Err(SignatureError::Mismatch));
    assert!(matches!(results[2], Err(SignatureError::Stale { skew_secs }) if skew_secs > 300));
    assert!(matches!(results[3], Err(SignatureError::Stale { skew_secs }) if skew_secs < -300));
    assert_eq!(results[4], Err(SignatureError::Mismatch));

    let click = slack::parse_interaction(&seen[0].1).unwrap();
    assert_eq!(click.approval_id, approval.id);
    assert!(slack::secrets_equal(&click.secret, &approval.secret));
    assert_eq!(click.choice, Choice::Deny);
    assert_eq!(
        (click.user.id.as_str(), click.user.name.as_str()),
        ("U0ALICE", "alice")
    );
    assert_eq!(click.channel_id.as_deref(), Some("C0OPS"));
    assert_eq!(click.message_ts.as_deref(), Some(msg.ts.as_str()));
    assert_eq!(click.team_id.as_deref(), Some(standin::TEAM_ID));
    assert!(click
        .response_url
        .as_deref()
        .unwrap()
        .starts_with(&h.slack.base_url()));
    assert_eq!(click.decided_by()["name"], "alice");
    assert!(
        !format!("{click:?}").contains(&approval.secret),
        "Debug must not show the secret"
    );
}

fn payload_with(action_id: &str, value: &str) -> Value {
    json!({
        "type": "block_actions",
        "user": { "id": "W111", "username": "alice", "team_id": "T111" },
        "team": { "id": "T111", "domain": "acme" },
        "container": { "type": "message", "message_ts": "1503435956.000247", "channel_id": "C0123456789", "is_ephemeral": false },
        "response_url": "https://hooks.slack.com/actions/T111/222/XYZ",
        "actions": [{ "type": "button", "action_id": action_id, "block_id": "flowgate_approval", "value": value, "action_ts": "1596530385.194939" }],
    })
}

#[test]
fn interaction_payloads_are_parsed_strictly() {
    let parse = |payload: &Value| slack::parse_interaction(standin::form_body(payload).as_bytes());
    let ok = parse(&payload_with("flowgate_approve", "0190-ab:s3cr3t:approve")).unwrap();
    assert_eq!(
        (ok.approval_id.as_str(), ok.secret.as_str(), ok.choice),
        ("0190-ab", "s3cr3t", Choice::Approve)
    );
    assert_eq!(ok.user.name, "alice", "falls back to username");
    assert_eq!(
        ok.channel_id.as_deref(),
        Some("C0123456789"),
        "falls back to container.channel_id"
    );
    assert_eq!(ok.choice.status(), "approved");

    assert_eq!(
        slack::parse_interaction(b"token=abc"),
        Err(InteractionError::NoPayload)
    );
    assert!(matches!(
        slack::parse_interaction(b"payload=%7Bnot+json"),
        Err(InteractionError::BadJson(_))
    ));
    let mut view = payload_with("flowgate_approve", "a:b:approve");
    view["type"] = json!("view_submission");
    assert_eq!(
        parse(&view),
        Err(InteractionError::NotBlockActions("view_submission".into()))
    );
    assert_eq!(
        parse(&payload_with("something_else", "a:b:approve")),
        Err(InteractionError::NoApprovalAction)
    );
    for bad in [
        "a:b",
        "a:b:maybe",
        ":b:approve",
        "a::deny",
        "a:b:approve:x",
        "a:b:deny",
    ] {
        assert_eq!(
            parse(&payload_with("flowgate_approve", bad)),
            Err(InteractionError::BadValue),
            "{bad}"
        );
    }
    let mut anonymous = payload_with("flowgate_deny", "a:b:deny");
    anonymous["user"] = Value::Null;
    assert_eq!(parse(&anonymous), Err(InteractionError::NoUser));
}

#[test]
fn decided_messages_and_ephemeral_texts() {
    let (text, blocks) = slack::decided_message(
        "Scale down?",
        "approved",
        Some(&json!({ "id": "tok_1", "name": "ops-bot <api>", "via": "api" })),
        Some(0),
    );
    assert_eq!(text, "Approved by ops-bot <api>: Scale down?");
    let shown = blocks.iter().map(Value::to_string).collect::<String>();
    assert!(
        shown.contains("ops-bot &lt;api&gt;") && !shown.contains("<@tok_1>"),
        "{shown}"
    );
    assert!(!shown.contains("\"actions\""));
    assert_eq!(
        slack::already_decided_text("approved", Some(&json!({ "id": "U1", "name": "alice" }))),
        "This request was already approved by alice."
    );
    assert_eq!(
        slack::already_decided_text("denied", Some(&json!("bob"))),
        "This request was already denied by bob."
    );
    assert!(slack::already_decided_text("timed_out", None).contains("timed out"));
    assert!(slack::not_an_approver_text().starts_with("You are not an approver of this request"));
    assert!(
        slack::secrets_equal("abc", "abc")
            && !slack::secrets_equal("abc", "abd")
            && !slack::secrets_equal("abc", "abcd")
    );
}
