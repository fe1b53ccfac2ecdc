//! Tests of `core.http_request` against a local axum server.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::{Query, Request};
use axum::http::{HeaderMap as AxHeaders, StatusCode as AxStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::*;
use crate::{Integration, IntegrationSource, NodeContext, Services, SystemClock};

struct Integrations;

#[async_trait]
impl IntegrationSource for Integrations {
    async fn integration(&self, _: &str, alias: &str) -> Result<Option<Integration>, NodeError> {
        let (config, secrets): (Value, &[(&str, &str)]) = match alias {
            "bearer" => (json!({"auth": "bearer"}), &[("token", "tok-123")]),
            "basic" => (
                json!({"auth": "basic"}),
                &[("username", "ann"), ("password", "pw")],
            ),
            "header" => (
                json!({"auth": "header", "header_name": "X-Api-Key"}),
                &[("value", "key-9")],
            ),
            _ => return Ok(None),
        };
        let secrets = secrets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(Some(Integration {
            kind: "http".into(),
            alias: alias.into(),
            config,
            secrets,
        }))
    }
}

fn ctx(allow_private: bool) -> NodeContext {
    let services = Services {
        http: reqwest::Client::new(),
        integrations: Arc::new(Integrations),
        clock: Arc::new(SystemClock),
        public_url: "http://flowgate.test".into(),
        allow_private_networks: allow_private,
    };
    NodeContext::new(Arc::new(services), "org", "wf", "ex", "http_1", "", 1)
}

async fn echo(Query(q): Query<BTreeMap<String, String>>, req: Request) -> Json<Value> {
    let method = req.method().to_string();
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap();
    Json(
        json!({ "method": method, "query": q, "headers": headers, "body": String::from_utf8_lossy(&body) }),
    )
}

async fn server() -> SocketAddr {
    let app = Router::new()
        .route("/echo", any(echo))
        .route("/text", get(|| async { "plain words" }))
        .route("/big", get(|| async { "x".repeat(5000) }))
        .route(
            "/fail",
            any(|| async { (AxStatus::INTERNAL_SERVER_ERROR, "database on fire") }),
        )
        .route(
            "/busy",
            any(|| async {
                (
                    AxStatus::TOO_MANY_REQUESTS,
                    [("retry-after", "7")],
                    "slow down",
                )
            }),
        )
        .route("/hang", any(std::future::pending::<&'static str>))
        .route(
            "/redirect",
            any(|Query(q): Query<BTreeMap<String, String>>| async move {
                redirect(q["to"].as_str(), q.get("code"))
            }),
        )
        .route("/loop", get(|| async { redirect("/loop", None) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn redirect(to: &str, code: Option<&String>) -> Response {
    let code = code.and_then(|c| c.parse().ok()).unwrap_or(302);
    let mut h = AxHeaders::new();
    h.insert("location", to.parse().unwrap());
    (AxStatus::from_u16(code).unwrap(), h).into_response()
}

async fn call(node: &HttpRequest, ctx: &NodeContext, params: Value) -> Result<Value, NodeError> {
    let p: HttpRequestParams = serde_json::from_value(params).unwrap();
    assert!(node.check(&p).is_empty(), "{:?}", node.check(&p));
    match node.run(ctx, p).await? {
        Outcome::Done { output, port: None } => Ok(output),
        other => panic!("unexpected outcome {other:?}"),
    }
}

#[tokio::test]
async fn get_parses_json_and_reports_status_and_headers() {
    let addr = server().await;
    let out = call(&HttpRequest::default(), &ctx(true), json!({ "url": format!("http://{addr}/echo?a=1"), "query": {"b": 2, "c": "x y"}, "headers": {"X-Trace": "t1"} })).await.unwrap();
    assert_eq!(out["status"], 200);
    assert_eq!(out["output"]["method"], "GET");
    assert_eq!(
        out["output"]["query"],
        json!({"a": "1", "b": "2", "c": "x y"})
    );
    assert_eq!(out["output"]["headers"]["x-trace"], "t1");
    assert!(out["headers"]["content-type"]
        .as_str()
        .unwrap()
        .contains("application/json"));
    assert!(out["elapsed_ms"].is_u64());
    let out = call(
        &HttpRequest::default(),
        &ctx(true),
        json!({ "url": format!("http://{addr}/text") }),
    )
    .await
    .unwrap();
    assert_eq!(out["output"], "plain words");
}

#[tokio::test]
async fn bodies_are_sent_as_json_or_text() {
    let addr = server().await;
    let url = format!("http://{addr}/echo");
    let out = call(
        &HttpRequest::default(),
        &ctx(true),
        json!({ "method": "POST", "url": url, "body": {"n": 1} }),
    )
    .await
    .unwrap();
    assert_eq!(out["output"]["body"], r#"{"n":1}"#);
    assert_eq!(out["output"]["headers"]["content-type"], "application/json");
    let out = call(&HttpRequest::default(), &ctx(true), json!({ "method": "PUT", "url": url, "body": "raw", "headers": {"content-type": "text/csv"} })).await.unwrap();
    assert_eq!(
        (
            out["output"]["method"].as_str(),
            out["output"]["body"].as_str()
        ),
        (Some("PUT"), Some("raw"))
    );
    assert_eq!(out["output"]["headers"]["content-type"], "text/csv");
}

#[tokio::test]
async fn integrations_authenticate() {
    let addr = server().await;
    let url = format!("http://{addr}/echo");
    let c = ctx(true);
    let h = |out: Value, name: &str| out["output"]["headers"][name].as_str().map(str::to_string);
    let out = call(
        &HttpRequest::default(),
        &c,
        json!({ "url": url, "auth": "bearer" }),
    )
    .await
    .unwrap();
    assert_eq!(h(out, "authorization").as_deref(), Some("Bearer tok-123"));
    let out = call(
        &HttpRequest::default(),
        &c,
        json!({ "url": url, "auth": "basic" }),
    )
    .await
    .unwrap();
    assert_eq!(h(out, "authorization").as_deref(), Some("Basic YW5uOnB3"));
    let out = call(
        &HttpRequest::default(),
        &c,
        json!({ "url": url, "auth": "header" }),
    )
    .await
    .unwrap();
    assert_eq!(h(out, "x-api-key").as_deref(), Some("key-9"));
    assert!(c.secrets_seen().contains(&"tok-123".to_string()));
    let err = call(
        &HttpRequest::default(),
        &c,
        json!({ "url": url, "auth": "nope" }),
    )
    .await
    .unwrap_err();
    assert!(err.message.contains("no integration named `nope`"), "{err}");
}

#[tokio::test]
async fn redirects_are_followed_and_a_303_becomes_a_get() {
    let addr = server().await;
    let out = call(&HttpRequest::default(), &ctx(true), json!({ "method": "POST", "body": "x", "url": format!("http://{addr}/redirect?to=/echo&code=303") })).await.unwrap();
    assert_eq!(
        (
            out["output"]["method"].as_str(),
            out["output"]["body"].as_str()
        ),
        (Some("GET"), Some(""))
    );
    let out = call(&HttpRequest::default(), &ctx(true), json!({ "method": "POST", "body": "x", "url": format!("http://{addr}/redirect?to=/echo&code=307") })).await.unwrap();
    assert_eq!(
        (
            out["output"]["method"].as_str(),
            out["output"]["body"].as_str()
        ),
        (Some("POST"), Some("x"))
    );
    let err = call(
        &HttpRequest::default(),
        &ctx(true),
        json!({ "url": format!("http://{addr}/loop") }),
    )
    .await
    .unwrap_err();
    assert!(err.message.contains("more than 5 redirects"), "{err}");
}

#[tokio::test]
async fn auth_is_not_forwarded_to_another_origin() {
    let a = server().await;
    let b = server().await;
    let url = format!("http://{a}/redirect?to=http://{b}/echo");
    let out = call(
        &HttpRequest::default(),
        &ctx(true),
        json!({ "url": url, "auth": "bearer" }),
    )
    .await
    .unwrap();
    assert!(
        out["output"]["headers"].get("authorization").is_none(),
        "{out}"
    );
}

#[tokio::test]
async fn responses_over_the_cap_are_refused() {
    let addr = server().await;
    let err = call(
        &HttpRequest::default(),
        &ctx(true),
        json!({ "url": format!("http://{addr}/big"), "max_response_bytes": 1000 }),
    )
    .await
    .unwrap_err();
    assert!(
        err.message.contains("larger than max_response_bytes"),
        "{err}"
    );
    let ok = call(
        &HttpRequest::default(),
        &ctx(true),
        json!({ "url": format!("http://{addr}/big"), "max_response_bytes": 5000 }),
    )
    .await
    .unwrap();
    assert_eq!(ok["output"].as_str().map(str::len), Some(5000));
}

#[tokio::test]
async fn error_statuses_fail_and_say_whether_to_retry() {
    let addr = server().await;
    let err = call(
        &HttpRequest::default(),
        &ctx(true),
        json!({ "url": format!("http://{addr}/fail") }),
    )
    .await
    .unwrap_err();
    assert!(
        err.retryable && err.message.contains("500") && err.message.contains("database on fire"),
        "{err:?}"
    );
    let err = call(
        &HttpRequest::default(),
        &ctx(true),
        json!({ "method": "POST", "url": format!("http://{addr}/fail") }),
    )
    .await
    .unwrap_err();
    assert!(!err.retryable, "{err:?}");
    let err = call(
        &HttpRequest::default(),
        &ctx(true),
        json!({ "method": "POST", "url": format!("http://{addr}/busy") }),
    )
    .await
    .unwrap_err();
    assert!(err.retryable && err.retry_after_ms == Some(7000), "{err:?}");
}

#[tokio::test]
async fn timeouts_are_retryable_for_get_and_unknown_for_post() {
    let addr = server().await;
    let url = format!("http://{addr}/hang");
    let err = call(
        &HttpRequest::default(),
        &ctx(true),
        json!({ "url": url, "timeout": "300ms" }),
    )
    .await
    .unwrap_err();
    assert!(err.retryable, "{err:?}");
    let err = call(
        &HttpRequest::default(),
        &ctx(true),
        json!({ "method": "POST", "url": url, "timeout": "300ms" }),
    )
    .await
    .unwrap_err();
    assert!(
        !err.retryable && err.message.starts_with("outcome unknown:"),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_guard_refuses_private_addresses() {
    let addr = server().await;
    let node = HttpRequest::default();
    for url in [
        format!("http://{addr}/echo"),
        "http://169.254.169.254/latest/meta-data/".into(),
        "http://[::ffff:127.0.0.1]/".into(),
        "http://[fd00:ec2::254]/".into(),
        "http://2130706433/".into(),
    ] {
        let err = call(&node, &ctx(false), json!({ "url": url }))
            .await
            .unwrap_err();
        assert!(
            err.message.starts_with("blocked:") && !err.retryable,
            "{url}: {err:?}"
        );
    }
    let err = call(
        &node,
        &ctx(false),
        json!({ "url": format!("http://localhost:{}/echo", addr.port()) }),
    )
    .await
    .unwrap_err();
    assert!(err.message.contains("`localhost` resolves to"), "{err:?}");
}

#[tokio::test]
async fn the_guard_checks_every_redirect_hop() {
    let addr = server().await;
    // The first server is let through; where it redirects to is not.
    let node = HttpRequest::with_exceptions(vec![addr]);
    let ok = call(
        &node,
        &ctx(false),
        json!({ "url": format!("http://{addr}/echo") }),
    )
    .await
    .unwrap();
    assert_eq!(ok["status"], 200);
    for to in [
        format!("http://127.0.0.2:{}/echo", addr.port()),
        format!("http://localhost:{}/echo", addr.port()),
        "http://169.254.169.254/latest".to_string(),
    ] {
        let err = call(
            &node,
            &ctx(false),
            json!({ "url": format!("http://{addr}/redirect?to={to}") }),
        )
        .await
        .unwrap_err();
        assert!(err.message.starts_with("blocked:"), "{to}: {err:?}");
    }
}

#[test]
fn save_time_checks() {
    let check = |v: Value| {
        HttpRequest::default()
            .check(&serde_json::from_value(v).unwrap())
            .into_iter()
            .map(|p| p.path)
            .collect::<Vec<_>>()
    };
    assert_eq!(check(json!({ "url": "ftp://x/" })), ["url"]);
    assert_eq!(check(json!({ "url": "not a url" })), ["url"]);
    assert!(check(json!({ "url": "{{ t.output.url }}" })).is_empty());
    assert_eq!(
        check(json!({ "url": "https://x/", "timeout": "soon" })),
        ["timeout"]
    );
    assert_eq!(
        check(json!({ "url": "https://x/", "headers": {"bad header": "v"}, "query": {"q": [1]} })),
        ["headers.bad header", "query.q"]
    );
}
