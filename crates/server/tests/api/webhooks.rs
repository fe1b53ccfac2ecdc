//! The webhook endpoint: every answer of spec §7 (202, 401, 404, 409, 413, 415, 400), identical
//! 401s whether or not the workflow exists, nothing stored for a refused request, and no secret
//! header in the recorded trigger output.

use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, step, webhook_yaml, Resp, TestApp, ADMIN};

const UNKNOWN: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

const ALERT: &str = r#"{"Organization_Name":"SpotOrgname","Account_Name":"SpotAccountname","Account_ID":"act-29ddd123","MTD_Spend":"3.8","Budget":"4.0","Elastigroup_Id":"sig-e26f1234"}"#;

async fn hooked(app: &TestApp) -> (String, String) {
    let key = app.create_api_key(ADMIN, "budget-alerts").await;
    let id = app
        .workflow_id(ADMIN, &webhook_yaml("budget", "budget-alerts"))
        .await;
    (id, key)
}

async fn raw_hook(
    app: &TestApp,
    path: &str,
    key: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Resp {
    let mut req = app.client.post(app.url(path)).body(body);
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    if let Some(ct) = content_type {
        req = req.header(CONTENT_TYPE, ct);
    }
    app.send(req).await
}

#[tokio::test]
async fn an_accepted_alert_is_committed_before_the_202_and_recorded_without_secrets() {
    let app = spawn_app().await;
    let (id, key) = hooked(&app).await;
    let r = app
        .send(
            app.client
                .post(app.url(&format!("/webhooks/{id}?team=ops")))
                .header("x-api-key", &key)
                .header("authorization", "Bearer fgt_should-not-be-kept")
                .header("x-request-id", "req-7")
                .header(CONTENT_TYPE, "application/json")
                .body(ALERT),
        )
        .await;
    let exec_id = r.expect(202)["execution_id"].as_str().unwrap().to_string();
    // The execution exists the moment the 202 arrives.
    let now = app.execution(ADMIN, &exec_id).await;
    assert_eq!(now["workflow_id"], id.as_str());
    assert_eq!(now["workflow_version"], 1);

    let exec = app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    let alert: Value = serde_json::from_str(ALERT).unwrap();
    assert_eq!(exec["trigger"]["type"], "webhook");
    assert_eq!(exec["trigger"]["body"], alert);
    let trigger = step(&exec, "trigger_1");
    assert_eq!(trigger["output"]["output"], alert);
    assert_eq!(trigger["output"]["query"], json!({ "team": "ops" }));
    let headers = trigger["output"]["headers"].as_object().unwrap();
    assert_eq!(headers["x-request-id"], "req-7");
    assert!(headers.contains_key("content-type"));
    assert!(!headers.contains_key("x-api-key"), "{headers:?}");
    assert!(!headers.contains_key("authorization"), "{headers:?}");
    assert_eq!(step(&exec, "echo")["output"]["output"], alert);
    let record = serde_json::to_string(&exec).unwrap();
    assert!(!record.contains(&key) && !record.contains("should-not-be-kept"));
}

#[tokio::test]
async fn the_key_may_come_in_the_query_string() {
    let app = spawn_app().await;
    let (id, key) = hooked(&app).await;
    let r = raw_hook(
        &app,
        &format!("/webhooks/{id}?x-api-key={key}&source=sns"),
        None,
        Some("application/json"),
        ALERT,
    )
    .await;
    let exec_id = r.expect(202)["execution_id"].as_str().unwrap().to_string();
    let exec = app.wait_finished(ADMIN, &exec_id).await;
    let query = &step(&exec, "trigger_1")["output"]["query"];
    assert_eq!(query, &json!({ "source": "sns" }), "the key was recorded");
    let r = raw_hook(
        &app,
        &format!("/webhooks/{id}?x-api-key=fgk_wrong"),
        None,
        Some("application/json"),
        ALERT,
    )
    .await;
    r.expect_error(401, "unauthorized");
}

#[tokio::test]
async fn missing_wrong_and_unknown_all_answer_the_same_401_and_store_nothing() {
    let app = spawn_app().await;
    let (id, key) = hooked(&app).await;
    // A workflow whose trigger is manual has no webhook, whatever the key.
    let manual = app
        .workflow_id(ADMIN, &crate::helpers::manual_yaml("by hand"))
        .await;
    let before = app.counts().await;
    let alert: Value = serde_json::from_str(ALERT).unwrap();

    let missing = app.post_webhook(&id, None, &alert).await;
    let wrong = app.post_webhook(&id, Some("fgk_0000"), &alert).await;
    let empty = app.post_webhook(&id, Some(""), &alert).await;
    let unknown = app.post_webhook(UNKNOWN, Some(&key), &alert).await;
    let unknown_no_key = app.post_webhook(UNKNOWN, None, &alert).await;
    let not_a_hook = app.post_webhook(&manual, Some(&key), &alert).await;
    let bearer = app
        .send(
            app.client
                .post(app.url(&format!("/webhooks/{id}")))
                .bearer_auth(ADMIN)
                .json(&alert),
        )
        .await;
    for r in [
        &missing,
        &wrong,
        &empty,
        &unknown,
        &unknown_no_key,
        &not_a_hook,
        &bearer,
    ] {
        r.expect_error(401, "unauthorized");
        assert_eq!(
            r.bytes, unknown.bytes,
            "401 bodies differ, so ids can be probed"
        );
    }
    assert_eq!(app.counts().await, before);
}

#[tokio::test]
async fn a_deleted_workflow_is_404_with_a_valid_key_and_401_without() {
    let app = spawn_app().await;
    let (id, key) = hooked(&app).await;
    app.delete(ADMIN, &format!("/api/v1/workflows/{id}"))
        .await
        .expect(204);
    let before = app.counts().await;
    let alert: Value = serde_json::from_str(ALERT).unwrap();
    let r = app.post_webhook(&id, Some(&key), &alert).await;
    r.expect_error(404, "not_found");
    app.post_webhook(&id, Some("fgk_wrong"), &alert)
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(app.counts().await, before);
}

#[tokio::test]
async fn a_disabled_workflow_is_409_and_runs_again_when_enabled() {
    let app = spawn_app().await;
    let (id, key) = hooked(&app).await;
    let path = format!("/api/v1/workflows/{id}");
    app.json(Method::PATCH, ADMIN, &path, &json!({ "enabled": false }))
        .await
        .expect(200);
    let before = app.counts().await;
    let alert: Value = serde_json::from_str(ALERT).unwrap();
    let r = app.post_webhook(&id, Some(&key), &alert).await;
    r.expect_error(409, "conflict");
    assert!(r.error_text().contains("disabled"), "{}", r.error_text());
    // Without the key, the disabled workflow is not revealed.
    app.post_webhook(&id, None, &alert)
        .await
        .expect_error(401, "unauthorized");
    assert_eq!(app.counts().await, before);
    app.json(Method::PATCH, ADMIN, &path, &json!({ "enabled": true }))
        .await
        .expect(200);
    app.post_webhook(&id, Some(&key), &alert).await.expect(202);
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let app = spawn_app_with(|s, _| s.webhook_max_body = Some(1024)).await;
    let (id, key) = hooked(&app).await;
    let path = format!("/webhooks/{id}");
    let before = app.counts().await;
    let big = json!({ "padding": "x".repeat(2000) }).to_string();
    let r = raw_hook(
        &app,
        &path,
        Some(&key),
        Some("application/json"),
        big.clone(),
    )
    .await;
    r.expect_error(413, "too_large");
    assert!(r.error_text().contains("1024"), "{}", r.error_text());
    // Without a Content-Length (chunked), the limit holds while reading.
    let chunks: Vec<Result<String, std::io::Error>> =
        vec![Ok(big[..1000].to_string()), Ok(big[1000..].to_string())];
    let stream = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let r = raw_hook(&app, &path, Some(&key), Some("application/json"), stream).await;
    r.expect_error(413, "too_large");
    assert_eq!(app.counts().await, before);
    // Just under the limit is fine.
    let small = json!({ "padding": "x".repeat(900) }).to_string();
    raw_hook(&app, &path, Some(&key), Some("application/json"), small)
        .await
        .expect(202);
}

#[tokio::test]
async fn non_json_bodies_are_415_or_400_with_a_clear_message() {
    let app = spawn_app().await;
    let (id, key) = hooked(&app).await;
    let path = format!("/webhooks/{id}");
    let before = app.counts().await;

    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let r = raw_hook(&app, &path, Some(&key), ct, ALERT).await;
        r.expect_error(415, "unsupported_media_type");
        assert!(r.error_text().contains("JSON"), "{}", r.error_text());
    }
    for body in [
        b"{\"Budget\": ".to_vec(),
        b"{\"a\":1} {\"b\":2}".to_vec(),
        b"".to_vec(),
        b"{\"name\":\"caf\xe9\"}".to_vec(),
    ] {
        let r = raw_hook(&app, &path, Some(&key), Some("application/json"), body).await;
        r.expect_error(400, "bad_request");
        let text = r.error_text();
        assert!(text.contains("JSON") || text.contains("UTF-8"), "{text}");
    }
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    let r = raw_hook(&app, &path, Some(&key), Some("application/json"), deep).await;
    r.expect_error(400, "bad_request");
    assert_eq!(app.counts().await, before);
    // `application/json; charset=utf-8` and `+json` types are JSON.
    for ct in [
        "application/json; charset=utf-8",
        "application/vnd.alert+json",
    ] {
        raw_hook(&app, &path, Some(&key), Some(ct), ALERT)
            .await
            .expect(202);
    }
    assert_eq!(app.count("executions").await, 2);
    app.send(app.client.get(app.url("/healthz")))
        .await
        .expect(200);
}

#[tokio::test]
async fn any_json_value_is_an_alert() {
    let app = spawn_app().await;
    let (id, key) = hooked(&app).await;
    for body in [json!([1, 2, 3]), json!("text"), json!(null), json!(12.5)] {
        let r = app.post_webhook(&id, Some(&key), &body).await;
        let exec_id = r.expect(202)["execution_id"].as_str().unwrap().to_string();
        let exec = app.wait_finished(ADMIN, &exec_id).await;
        assert_eq!(exec["trigger"]["body"], body);
        assert_eq!(step(&exec, "echo")["output"]["output"], body);
    }
}
