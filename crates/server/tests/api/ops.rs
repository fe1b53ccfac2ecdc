//! Operations and discovery: health, readiness, Prometheus metrics, the OpenAPI document, the
//! node catalogue, and the error shape of answers that no handler writes itself.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error_shape, spawn_app, webhook_yaml, ADMIN};

#[tokio::test]
async fn health_and_readiness_answer_without_a_token() {
    let app = spawn_app().await;
    let r = app.send(app.client.get(app.url("/healthz"))).await;
    assert_eq!(r.expect(200)["status"], "ok");
    let r = app.send(app.client.get(app.url("/readyz"))).await;
    assert_eq!(r.expect(200)["status"], "ready");
}

/// The value of a sample line `name{labels} value` (or `name value`).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_executions_webhooks_steps_and_the_queue() {
    let app = spawn_app().await;
    let key = app.create_api_key(ADMIN, "alerts").await;
    let id = app
        .workflow_id(ADMIN, &webhook_yaml("metered", "alerts"))
        .await;
    let r = app.post_webhook(&id, Some(&key), &json!({ "a": 1 })).await;
    let exec = r.expect(202)["execution_id"].as_str().unwrap().to_string();
    app.wait_finished(ADMIN, &exec).await;
    app.post_webhook(&id, Some("fgk_wrong"), &json!({}))
        .await
        .expect(401);

    let r = app.send(app.client.get(app.url("/metrics"))).await;
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.bytes).unwrap();
    for name in [
        "flowgate_executions_started_total",
        "flowgate_executions_finished_total",
        "flowgate_webhook_responses_total",
        "flowgate_step_duration_seconds",
        "flowgate_queue_depth",
    ] {
        assert!(text.contains(name), "no {name} in\n{text}");
    }
    assert_eq!(
        sample(&text, "flowgate_executions_started_total"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "flowgate_webhook_responses_total{code=\"202\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "flowgate_webhook_responses_total{code=\"401\"}"),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains("flowgate_step_duration_seconds_count{node_type=\"core.transform\",status=\"succeeded\"} 1"),
        "{text}"
    );
    assert_eq!(sample(&text, "flowgate_queue_depth"), Some(0.0));
    // The webhook read cache is in use (with PostgreSQL: once this process listens).
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = app.send(app.client.get(app.url("/metrics"))).await;
        let text = String::from_utf8(r.bytes).unwrap();
        if sample(&text, "flowgate_webhook_cache_enabled") == Some(1.0) {
            break;
        }
        assert!(std::time::Instant::now() < until, "{text}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_api() {
    let app = spawn_app().await;
    let r = app
        .send(app.client.get(app.url("/api/v1/openapi.json")))
        .await;
    let doc = r.expect(200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/workflows",
        "/api/v1/workflows/{id}",
        "/api/v1/workflows/{id}/executions",
        "/api/v1/executions",
        "/api/v1/executions/{id}/cancel",
        "/api/v1/tokens",
        "/api/v1/api-keys",
        "/api/v1/orgs",
        "/api/v1/node-types",
    ] {
        assert!(paths.contains_key(path), "no {path} in {:?}", paths.keys());
    }
    assert!(paths["/api/v1/workflows"].get("post").is_some());
    assert!(paths["/api/v1/workflows"].get("get").is_some());
}

#[tokio::test]
async fn node_types_list_the_core_catalogue_with_schemas_and_ports() {
    let app = spawn_app().await;
    let r = app.get(ADMIN, "/api/v1/node-types").await;
    let items = r.expect(200)["items"].as_array().unwrap().clone();
    let mut names: Vec<&str> = items.iter().map(|n| n["type"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "core.fail",
            "core.http_request",
            "core.if",
            "core.jsonpath",
            "core.loop",
            "core.stop",
            "core.string",
            "core.transform",
            "core.wait",
            "slack.approval",
            "slack.send_message",
            "spot.elastigroup_aws",
            "trigger.manual",
            "trigger.schedule",
            "trigger.webhook",
        ]
    );
    for n in &items {
        assert!(n["params_schema"].is_object(), "{n}");
        assert!(n["ports"].is_array(), "{n}");
        assert!(n["category"].as_str().is_some_and(|c| !c.is_empty()), "{n}");
        assert!(n["display_name"].is_string() && n["description"].is_string());
    }
    let by_type = |t: &str| items.iter().find(|n| n["type"] == t).unwrap().clone();
    let jsonpath = by_type("core.jsonpath");
    let props = &jsonpath["params_schema"]["properties"];
    assert!(props.get("json_object").is_some() && props.get("json_path").is_some());
    let required: Vec<&str> = jsonpath["params_schema"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(required.contains(&"json_path"), "{required:?}");
    assert_eq!(jsonpath["error_port"], true);
    assert_eq!(by_type("trigger.webhook")["category"], "Triggers");
    let webhook_props = &by_type("trigger.webhook")["params_schema"]["properties"];
    assert!(webhook_props.get("api_key").is_some());
    assert_eq!(by_type("core.stop")["error_port"], false);
    // The catalogue needs a token like the rest of the API.
    app.send(app.client.get(app.url("/api/v1/node-types")))
        .await
        .expect_error(401, "unauthorized");
}

#[tokio::test]
async fn errors_that_no_handler_writes_have_the_error_shape_too() {
    let app = spawn_app().await;
    // Unknown routes under the API and the webhooks.
    for path in ["/api/v1/nothing-here", "/api/v2/workflows", "/webhooks/"] {
        let r = app.get(ADMIN, path).await;
        r.expect_error(404, "not_found");
    }
    // A method the route does not have.
    for (method, path) in [
        (Method::PATCH, "/api/v1/executions"),
        (Method::DELETE, "/api/v1/node-types"),
        (
            Method::GET,
            "/webhooks/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        ),
    ] {
        let r = app.send(app.request(method.clone(), ADMIN, path)).await;
        assert_eq!(r.status, 405, "{method} {path}");
        assert_error_shape(&r.body);
    }
    // A JSON endpoint sent something else.
    let r = app
        .raw(
            Method::POST,
            ADMIN,
            "/api/v1/api-keys",
            "text/plain",
            "name=x",
        )
        .await;
    r.expect_error(415, "unsupported_media_type");
    let r = app
        .raw(
            Method::POST,
            ADMIN,
            "/api/v1/api-keys",
            "application/json",
            "{",
        )
        .await;
    r.expect_error(400, "bad_request");
    let r = app
        .post(ADMIN, "/api/v1/api-keys", &json!({ "name": 7 }))
        .await;
    r.expect_error(422, "invalid");
    assert_eq!(r.detail_paths(), vec!["name"]);
    let r = app.post(ADMIN, "/api/v1/api-keys", &Value::Null).await;
    r.expect(422);
}
