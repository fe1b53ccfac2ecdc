//! The control, string, HTTP and schedule nodes driven through `Registry::builtin()`, as the
//! engine drives them, and documents using them validated against the registry.

use std::sync::Arc;

use async_trait::async_trait;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use flowgate_model::{parse_document, validate, DocumentFormat, Templates};
use flowgate_nodes::core::schedule::{next_occurrences, ScheduleParams};
use flowgate_nodes::http::HttpRequest;
use flowgate_nodes::{
    Integration, IntegrationSource, Node, NodeContext, NodeError, Outcome, Registry, Services,
    TestClock, Typed, Wake,
};

struct NoIntegrations;

#[async_trait]
impl IntegrationSource for NoIntegrations {
    async fn integration(&self, _: &str, _: &str) -> Result<Option<Integration>, NodeError> {
        Ok(None)
    }
}

fn services(allow_private: bool, clock: Arc<TestClock>) -> Arc<Services> {
    Arc::new(Services {
        http: reqwest::Client::new(),
        integrations: Arc::new(NoIntegrations),
        clock,
        public_url: "http://flowgate.test".into(),
        allow_private_networks: allow_private,
    })
}

fn ctx(allow_private: bool) -> NodeContext {
    NodeContext::new(
        services(allow_private, Arc::new(TestClock::default())),
        "org",
        "wf",
        "ex",
        "step",
        "",
        1,
    )
}

async fn run(node_type: &str, ctx: &NodeContext, params: Value) -> Result<Outcome, NodeError> {
    let registry = Registry::builtin();
    let node = registry
        .get(node_type)
        .unwrap_or_else(|| panic!("{node_type} is registered"));
    node.execute(ctx, params).await
}

fn done(outcome: Outcome) -> (Value, Option<String>) {
    match outcome {
        Outcome::Done { output, port } => (output, port),
        other => panic!("expected Done, got {other:?}"),
    }
}

#[tokio::test]
async fn if_routes_the_budget_alert_by_number() {
    let rules = |spend: &str| {
        json!({ "rules": [
            { "left": spend, "operator": ">=", "right": "4.0", "port": "over" },
            { "left": spend, "operator": ">=", "right": "3.5", "port": "near" },
        ]})
    };
    let (out, port) = done(run("core.if", &ctx(false), rules("3.8")).await.unwrap());
    assert_eq!(port.as_deref(), Some("near"));
    assert_eq!(out, json!({ "output": { "port": "near", "rule": 1 } }));
    let (_, port) = done(run("core.if", &ctx(false), rules("10")).await.unwrap());
    assert_eq!(port.as_deref(), Some("over"));
    let (out, port) = done(run("core.if", &ctx(false), rules("1.2")).await.unwrap());
    assert_eq!(
        (port.as_deref(), &out["output"]["rule"]),
        (Some("else"), &Value::Null)
    );
}

#[tokio::test]
async fn if_with_an_invalid_regex_fails_at_save_and_at_run() {
    let params = json!({ "rules": [{ "left": "x", "operator": "matches", "right": "(unclosed", "port": "yes" }] });
    let registry = Registry::builtin();
    let problems = registry
        .get("core.if")
        .unwrap()
        .validate(&params, "nodes[1].params");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].path, "nodes[1].params.rules[0].right");
    let err = run("core.if", &ctx(false), params).await.unwrap_err();
    assert!(
        err.message.contains("not a valid regular expression"),
        "{err}"
    );
}

#[tokio::test]
async fn wait_suspends_and_resumes_when_due() {
    let clock = Arc::new(TestClock::default());
    let ctx = NodeContext::new(
        services(false, clock.clone()),
        "org",
        "wf",
        "ex",
        "wait_1",
        "",
        1,
    );
    let node = Registry::builtin().get("core.wait").unwrap().clone();
    let params = json!({ "duration": "2h" });
    let before = ctx.now_ms();
    let (wake_at, state) = match node.execute(&ctx, params.clone()).await.unwrap() {
        Outcome::Suspend {
            wake_at,
            state,
            approval: None,
        } => (wake_at, state),
        other => panic!("expected Suspend, got {other:?}"),
    };
    assert!(wake_at >= before + 7_200_000 && wake_at <= ctx.now_ms() + 7_200_000);
    clock.advance(7_200_000);
    let (out, port) = done(
        node.resume(&ctx, params, state, Wake { decision: None })
            .await
            .unwrap(),
    );
    assert_eq!(port, None);
    let waited =
        DateTime::parse_from_rfc3339(out["output"]["waited_until"].as_str().unwrap()).unwrap();
    assert_eq!(waited.timestamp_millis(), wake_at);

    // `until` in the past continues at once.
    let (out, _) = done(
        node.execute(&ctx, json!({ "until": "2020-01-01T00:00:00Z" }))
            .await
            .unwrap(),
    );
    assert_eq!(out["output"]["waited_until"], "2020-01-01T00:00:00.000Z");
}

#[tokio::test]
async fn wait_with_both_duration_and_until_is_refused() {
    let params = json!({ "duration": "5m", "until": "2030-01-01T00:00:00Z" });
    assert_eq!(
        Registry::builtin()
            .get("core.wait")
            .unwrap()
            .validate(&params, "p")
            .len(),
        1
    );
    let err = run("core.wait", &ctx(false), params).await.unwrap_err();
    assert!(err.message.contains("not both"), "{err}");
}

#[tokio::test]
async fn string_operations_run_through_the_registry() {
    let (out, _) = done(
        run(
            "core.string",
            &ctx(false),
            json!({ "input": "a, b ,c", "operation": "split", "separator": "," }),
        )
        .await
        .unwrap(),
    );
    assert_eq!(out, json!({ "output": ["a", " b ", "c"] }));
    let bad = json!({ "input": "a", "operation": "regex_extract_all", "pattern": "[" });
    assert_eq!(
        Registry::builtin()
            .get("core.string")
            .unwrap()
            .validate(&bad, "p")[0]
            .path,
        "p.pattern"
    );
}

async fn local_server() -> std::net::SocketAddr {
    let app = Router::new()
        .route(
            "/group",
            get(|| async { Json(json!({ "id": "sig-e26f1234", "name": "web-prod" })) }),
        )
        .route(
            "/to-loopback",
            get(
                |axum::extract::Query(q): axum::extract::Query<
                    std::collections::HashMap<String, String>,
                >| async move {
                    (
                        [("location", q["to"].clone())],
                        axum::http::StatusCode::FOUND,
                    )
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn http_request_reaches_a_local_server_only_when_allowed() {
    let addr = local_server().await;
    let url = format!("http://{addr}/group");
    let (out, _) = done(
        run("core.http_request", &ctx(true), json!({ "url": url }))
            .await
            .unwrap(),
    );
    assert_eq!(
        (out["status"].as_u64(), out["output"]["name"].as_str()),
        (Some(200), Some("web-prod"))
    );

    let err = run("core.http_request", &ctx(false), json!({ "url": url }))
        .await
        .unwrap_err();
    assert!(
        err.message.starts_with("blocked:") && err.message.contains("127.0.0.1"),
        "{err}"
    );
    let err = run(
        "core.http_request",
        &ctx(false),
        json!({ "url": format!("http://localhost:{}/group", addr.port()) }),
    )
    .await
    .unwrap_err();
    assert!(err.message.contains("`localhost` resolves to"), "{err}");
    let err = run(
        "core.http_request",
        &ctx(false),
        json!({ "url": "http://169.254.169.254/latest/meta-data/iam/" }),
    )
    .await
    .unwrap_err();
    assert!(err.message.contains("link-local"), "{err}");
}

#[tokio::test]
async fn http_request_refuses_a_redirect_to_loopback() {
    let addr = local_server().await;
    // The first hop is let through explicitly; the hop it redirects to is checked again.
    let node = Typed::new(HttpRequest::with_exceptions(vec![addr]));
    let url = format!(
        "http://{addr}/to-loopback?to=http://127.0.0.1:{}/group",
        addr.port() ^ 1
    );
    let err = node
        .execute(&ctx(false), json!({ "url": url }))
        .await
        .unwrap_err();
    assert!(err.message.starts_with("blocked:"), "{err}");
    let url = format!(
        "http://{addr}/to-loopback?to=http://localhost:{}/group",
        addr.port()
    );
    let err = node
        .execute(&ctx(false), json!({ "url": url }))
        .await
        .unwrap_err();
    assert!(err.message.contains("`localhost` resolves to"), "{err}");
}

#[test]
fn schedule_params_are_checked_and_occurrences_computed() {
    let registry = Registry::builtin();
    let schedule = registry.get("trigger.schedule").unwrap();
    assert_eq!(
        schedule.validate(&json!({ "cron": "*/5 * * *" }), "t")[0].path,
        "t.cron"
    );
    assert_eq!(
        schedule.validate(
            &json!({ "cron": "0 9 * * *", "timezone": "Europe/Nowhere" }),
            "t"
        )[0]
        .path,
        "t.timezone"
    );
    assert!(schedule
        .validate(
            &json!({ "cron": "0 9 * * 1-5", "timezone": "Europe/Berlin" }),
            "t"
        )
        .is_empty());
    let p: ScheduleParams =
        serde_json::from_value(json!({ "cron": "0 9 * * 1-5", "timezone": "Europe/Berlin" }))
            .unwrap();
    let after: DateTime<Utc> = "2025-01-03T12:00:00Z".parse().unwrap(); // a Friday
    let next: Vec<String> = next_occurrences(&p, after, 2)
        .unwrap()
        .iter()
        .map(|t| t.to_rfc3339())
        .collect();
    assert_eq!(
        next,
        ["2025-01-06T08:00:00+00:00", "2025-01-07T08:00:00+00:00"]
    );
}

fn problems(yaml: &str) -> Vec<String> {
    let doc = parse_document(yaml.as_bytes(), DocumentFormat::Yaml).unwrap();
    validate(&doc, &Registry::builtin(), &Templates::new())
        .into_iter()
        .map(|p| format!("{}: {}", p.path, p.message))
        .collect()
}

const IF_DOC: &str = r#"
name: Budget branch
description: Branches on the budget
nodes:
  - id: trigger_1
    type: trigger.webhook
    params: { api_key: budget-alerts }
  - id: check
    type: core.if
    params:
      rules:
        - { left: "{{ trigger_1.output.MTD_Spend }}", operator: ">=", right: "{{ trigger_1.output.Budget }}", port: over }
  - id: pause
    type: core.wait
    params: { duration: 15m }
  - id: call
    type: core.http_request
    params: { method: POST, url: "https://hooks.example.com/budget", body: { spend: "{{ trigger_1.output.MTD_Spend }}" } }
  - id: upper
    type: core.string
    params: { input: "{{ trigger_1.output.Account_Name }}", operation: to_upper }
  - id: stop_1
    type: core.stop
edges:
  - { from: trigger_1, to: check }
  - { from: check, port: over, to: pause }
  - { from: pause, to: call }
  - { from: call, to: upper }
  - { from: check, port: PORT, to: stop_1 }
"#;

#[test]
fn documents_with_the_new_nodes_validate_and_if_ports_are_checked() {
    assert_eq!(
        problems(&IF_DOC.replace("PORT", "else")),
        Vec::<String>::new()
    );
    let bad = problems(&IF_DOC.replace("PORT", "under"));
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(
        bad[0].starts_with("edges[4]") && bad[0].contains("under"),
        "{bad:?}"
    );
    // core.if has no default path: an edge without a port is refused.
    let bad = problems(&IF_DOC.replace(
        "  - { from: check, port: PORT, to: stop_1 }",
        "  - { from: check, to: stop_1 }",
    ));
    assert_eq!(bad.len(), 1, "{bad:?}");
}

#[test]
fn schedule_documents_validate() {
    let doc = r#"
name: Nightly
description: Nightly check
nodes:
  - id: trigger_1
    type: trigger.schedule
    params: { cron: "CRON", timezone: "TZ" }
  - id: call
    type: core.http_request
    params: { url: "https://status.example.com/" }
edges:
  - { from: trigger_1, to: call }
"#;
    assert_eq!(
        problems(
            &doc.replace("CRON", "0 2 * * *")
                .replace("TZ", "America/New_York")
        ),
        Vec::<String>::new()
    );
    let bad = problems(
        &doc.replace("CRON", "0 25 * * *")
            .replace("TZ", "Nowhere/City"),
    );
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(
        bad[0].starts_with("nodes[0].params.cron") || bad[1].starts_with("nodes[0].params.cron"),
        "{bad:?}"
    );
    assert!(
        bad.iter()
            .any(|p| p.starts_with("nodes[0].params.timezone")),
        "{bad:?}"
    );
}
