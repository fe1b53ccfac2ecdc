//! `core.http_request` through the API against a local axum server (private networks allowed):
//! JSON and text, method, body, headers, query, `http` integration auth (secrets redacted in the
//! record), timeout, response size cap, redirects; the SSRF guard with the default settings; per
//! node `retry` and the `error` port; and loops that call out (concurrency, resume after a crash).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::Notify;

use flowgate_nodes::TestClock;

use crate::control::{create_ok, run_to_end, scoped};
use crate::helpers::{spawn_app, spawn_app_with, step, TestApp, ADMIN};

/// What the local upstream saw and how it behaves.
#[derive(Default)]
pub struct Upstream {
    /// Every request as `METHOD /path?query`.
    pub hits: Mutex<Vec<String>>,
    flaky: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    arrived: Notify,
    /// The credential headers `/echo` received (`authorization`, `x-api-token`).
    pub credentials: Mutex<Vec<String>>,
    /// Items (`/item?i=N`) whose first request never gets an answer.
    hang_first: Mutex<Vec<String>>,
}

impl Upstream {
    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

fn record(up: &Upstream, method: &Method, path: &str, q: &HashMap<String, String>) {
    let mut pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    up.hits
        .lock()
        .unwrap()
        .push(format!("{method} {path}?{}", pairs.join("&")));
}

async fn echo(
    State(up): State<Arc<Upstream>>,
    method: Method,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: String,
) -> Json<Value> {
    record(&up, &method, "/echo", &q);
    for name in ["authorization", "x-api-token"] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            up.credentials.lock().unwrap().push(v.to_string());
        }
    }
    let h: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
        .collect();
    Json(json!({ "method": method.as_str(), "query": q, "headers": h, "body": body }))
}

async fn flaky(State(up): State<Arc<Upstream>>, method: Method) -> Response {
    record(&up, &method, "/flaky", &HashMap::new());
    if up.flaky.fetch_add(1, Ordering::SeqCst) < 2 {
        (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response()
    } else {
        Json(json!({ "ok": true })).into_response()
    }
}

/// Waits (briefly) for a second concurrent request, so concurrency is observable.
async fn gate(
    State(up): State<Arc<Upstream>>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    record(&up, &Method::GET, "/gate", &q);
    let now = up.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    up.max_in_flight.fetch_max(now, Ordering::SeqCst);
    up.arrived.notify_waiters();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while up.in_flight.load(Ordering::SeqCst) < 2 {
        let notified = up.arrived.notified();
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            break;
        }
    }
    up.in_flight.fetch_sub(1, Ordering::SeqCst);
    Json(json!({ "i": q.get("i") }))
}

async fn item(
    State(up): State<Arc<Upstream>>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    record(&up, &Method::GET, "/item", &q);
    let i = q.get("i").cloned().unwrap_or_default();
    let hang = {
        let mut h = up.hang_first.lock().unwrap();
        let pos = h.iter().position(|x| *x == i);
        pos.map(|p| h.remove(p)).is_some()
    };
    if hang {
        std::future::pending::<()>().await;
    }
    Json(json!({ "item": i }))
}

/// Starts the upstream on 127.0.0.1; returns its base URL and state.
pub async fn upstream() -> (String, Arc<Upstream>) {
    let up = Arc::new(Upstream::default());
    let app = Router::new()
        .route("/echo", any(echo))
        .route("/flaky", get(flaky))
        .route("/gate", get(gate))
        .route("/item", get(item))
        .route(
            "/json",
            get(|| async {
                (
                    [("x-upstream", "yes")],
                    Json(json!({ "hello": "world", "n": 1 })),
                )
            }),
        )
        .route("/text", get(|| async { "plain words" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        )
        .route("/big", get(|| async { "x".repeat(5000) }))
        .route(
            "/missing",
            get(|| async { (StatusCode::NOT_FOUND, "no such thing") }),
        )
        .route("/moved", get(|| async { Redirect::temporary("/json") }))
        .with_state(up.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), up)
}

async fn open_app() -> TestApp {
    spawn_app_with(|s, _| s.allow_private_networks = Some(true)).await
}

/// A manual workflow: start → `call` (an http_request with these params) → `after`.
fn call_doc(params: Value) -> Value {
    json!({
        "name": "call", "description": "one HTTP call",
        "nodes": [
            { "id": "start", "type": "trigger.manual" },
            { "id": "call", "type": "core.http_request", "params": params },
            { "id": "after", "type": "core.transform", "params": { "value": "{{ call.output }}" } }
        ],
        "edges": [ { "from": "start", "to": "call" }, { "from": "call", "to": "after" } ]
    })
}

async fn call(app: &TestApp, params: Value) -> Value {
    let id = create_ok(app, &call_doc(params)).await;
    run_to_end(app, &id, &json!({ "group": "sig-e26f1234", "n": 3 })).await
}

#[tokio::test]
async fn get_parses_json_and_text_and_follows_redirects() {
    let app = open_app().await;
    let (base, up) = upstream().await;
    let exec = call(&app, json!({ "url": format!("{base}/json") })).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    let out = &step(&exec, "call")["output"];
    assert_eq!(out["output"], json!({ "hello": "world", "n": 1 }));
    assert_eq!(out["status"], 200);
    assert_eq!(out["headers"]["x-upstream"], "yes");
    assert!(out["elapsed_ms"].is_u64(), "{out}");
    assert_eq!(step(&exec, "after")["output"]["output"]["hello"], "world");

    let exec = call(&app, json!({ "url": format!("{base}/text") })).await;
    assert_eq!(step(&exec, "call")["output"]["output"], "plain words");

    let exec = call(&app, json!({ "url": format!("{base}/moved") })).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    assert_eq!(step(&exec, "call")["output"]["output"]["hello"], "world");
    assert_eq!(step(&exec, "call")["output"]["status"], 200);
    assert!(up.hits().is_empty(), "only /echo and friends are logged");
}

#[tokio::test]
async fn post_sends_body_headers_and_query_built_from_references() {
    let app = open_app().await;
    let (base, up) = upstream().await;
    let exec = call(
        &app,
        json!({
            "method": "POST", "url": format!("{base}/echo?fixed=1"),
            "headers": { "x-custom": "group {{ start.output.group }}" },
            "query": { "group": "{{ start.output.group }}", "n": "{{ start.output.n }}" },
            "body": { "group": "{{ start.output.group }}", "adjustment": "{{ start.output.n }}" }
        }),
    )
    .await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    let seen = &step(&exec, "call")["output"]["output"];
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["headers"]["x-custom"], "group sig-e26f1234");
    assert_eq!(seen["headers"]["content-type"], "application/json");
    assert_eq!(
        seen["query"],
        json!({ "fixed": "1", "group": "sig-e26f1234", "n": "3" })
    );
    let body: Value = serde_json::from_str(seen["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, json!({ "group": "sig-e26f1234", "adjustment": 3 }));
    assert_eq!(up.hits(), vec!["POST /echo?fixed=1&group=sig-e26f1234&n=3"]);

    // A string body goes as text.
    let exec = call(&app, json!({ "method": "PUT", "url": format!("{base}/echo"), "body": "raw {{ start.output.n }}" })).await;
    let seen = &step(&exec, "call")["output"]["output"];
    assert_eq!(seen["method"], "PUT");
    assert_eq!(seen["body"], "raw 3");
    assert!(seen["headers"]["content-type"]
        .as_str()
        .unwrap()
        .starts_with("text/plain"));
}

#[tokio::test]
async fn integration_auth_reaches_the_server_and_the_secret_is_masked_in_the_record() {
    let app = open_app().await;
    let (base, up) = upstream().await;
    let integrations = [
        (
            "bearer-api",
            json!({ "auth": "bearer" }),
            json!({ "token": "tok-SECRET-123456" }),
            "authorization",
            "Bearer tok-SECRET-123456",
            "Bearer ***",
        ),
        (
            "basic-api",
            json!({ "auth": "basic" }),
            json!({ "username": "svc", "password": "pw-SECRET-98765" }),
            "authorization",
            "Basic c3ZjOnB3LVNFQ1JFVC05ODc2NQ==",
            "Basic ***",
        ),
        (
            "header-api",
            json!({ "auth": "header", "header_name": "x-api-token" }),
            json!({ "value": "hv-SECRET-55555" }),
            "x-api-token",
            "hv-SECRET-55555",
            "***",
        ),
    ];
    for (alias, config, secrets, header, sent, masked) in integrations {
        app.post(
            ADMIN,
            "/api/v1/integrations",
            &json!({ "type": "http", "alias": alias, "config": config, "secrets": secrets }),
        )
        .await
        .expect(201);
        let exec = call(&app, json!({ "url": format!("{base}/echo"), "auth": alias, "headers": { "x-echo": "{{ start.output.group }}" } })).await;
        assert_eq!(exec["status"], "succeeded", "{exec:#}");
        // The upstream received the credential ...
        assert_eq!(
            up.credentials.lock().unwrap().last().map(String::as_str),
            Some(sent),
            "{alias}"
        );
        // ... and the record shows it masked, wherever it appears (here: echoed back).
        let seen = &step(&exec, "call")["output"]["output"]["headers"];
        assert_eq!(seen[header], masked, "{alias}: {seen:#}");
        assert_eq!(seen["x-echo"], "sig-e26f1234");
        let record = serde_json::to_string(&exec).unwrap();
        let credential = sent.rsplit(' ').next().unwrap();
        assert!(
            !record.contains(credential),
            "{alias}: the credential is in the record"
        );
        for secret in secrets.as_object().unwrap().values() {
            let secret = secret.as_str().unwrap();
            assert!(
                secret.len() < 5 || !record.contains(secret),
                "{alias}: {secret} is in the record"
            );
        }
        assert_eq!(step(&exec, "call")["input"]["auth"], alias);
    }
    // An unknown alias fails the step, naming it.
    let exec = call(
        &app,
        json!({ "url": format!("{base}/echo"), "auth": "nope" }),
    )
    .await;
    assert_eq!(exec["status"], "failed");
    assert!(exec["error"].as_str().unwrap().contains("nope"), "{exec:#}");
}

#[tokio::test]
async fn the_timeout_and_the_response_size_cap_fail_the_step() {
    let app = open_app().await;
    let (base, _) = upstream().await;
    // A real duration is what is under test here.
    let exec = call(
        &app,
        json!({ "url": format!("{base}/slow"), "timeout": "300ms" }),
    )
    .await;
    assert_eq!(exec["status"], "failed", "{exec:#}");
    let error = step(&exec, "call")["error"].as_str().unwrap();
    assert!(error.contains("timed out"), "{error}");

    let exec = call(
        &app,
        json!({ "url": format!("{base}/big"), "max_response_bytes": 1000 }),
    )
    .await;
    assert_eq!(exec["status"], "failed", "{exec:#}");
    let error = step(&exec, "call")["error"].as_str().unwrap();
    assert!(
        error.contains("larger than max_response_bytes (1000 bytes)"),
        "{error}"
    );
    let exec = call(
        &app,
        json!({ "url": format!("{base}/big"), "max_response_bytes": 5000 }),
    )
    .await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");

    let exec = call(&app, json!({ "url": format!("{base}/missing") })).await;
    assert_eq!(exec["status"], "failed");
    let error = step(&exec, "call")["error"].as_str().unwrap();
    assert!(
        error.contains("404") && error.contains("no such thing"),
        "{error}"
    );
}

#[tokio::test]
async fn by_default_loopback_localhost_and_metadata_addresses_are_blocked() {
    let app = spawn_app().await;
    let (base, up) = upstream().await;
    let port = base.rsplit(':').next().unwrap().to_string();
    for (url, named) in [
        (format!("{base}/json"), "127.0.0.1"),
        (format!("http://localhost:{port}/json"), "localhost"),
        (
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "169.254.169.254",
        ),
        ("http://[::1]:9/x".to_string(), "::1"),
        ("http://10.1.2.3/x".to_string(), "10.1.2.3"),
    ] {
        let exec = call(&app, json!({ "url": url })).await;
        assert_eq!(exec["status"], "failed", "{url}: {exec:#}");
        let error = step(&exec, "call")["error"].as_str().unwrap();
        assert!(
            error.contains("blocked") && error.contains(named),
            "{url}: {error}"
        );
        assert!(error.contains("private networks"), "{error}");
        assert_eq!(step(&exec, "call")["attempts"], 1);
    }
    assert!(up.hits().is_empty(), "a blocked request reached the server");
    // The same server is reachable once private networks are allowed.
    let open = open_app().await;
    let exec = call(
        &open,
        json!({ "url": format!("http://localhost:{port}/echo") }),
    )
    .await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
}

fn retry_doc(base: &str, path: &str, retry: Value) -> Value {
    json!({
        "name": "retries", "description": "retry and the error port",
        "nodes": [
            { "id": "start", "type": "trigger.manual" },
            { "id": "call", "type": "core.http_request", "params": { "url": format!("{base}{path}") }, "retry": retry },
            { "id": "ok", "type": "core.transform", "params": { "value": "{{ call.output }}" } },
            { "id": "handle", "type": "core.transform", "params": { "value": "{{ call.error.message }}" } }
        ],
        "edges": [
            { "from": "start", "to": "call" },
            { "from": "call", "to": "ok" },
            { "from": "call", "port": "error", "to": "handle" }
        ]
    })
}

#[tokio::test]
async fn a_retryable_failure_is_retried_and_a_final_one_leaves_on_the_error_port() {
    let app = open_app().await;
    let (base, up) = upstream().await;
    let id = create_ok(
        &app,
        &retry_doc(
            &base,
            "/flaky",
            json!({ "max_attempts": 3, "backoff": "50ms" }),
        ),
    )
    .await;
    let exec = run_to_end(&app, &id, &json!({})).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    let call = step(&exec, "call");
    assert_eq!(call["status"], "succeeded");
    assert_eq!(call["attempts"], 3);
    assert_eq!(step(&exec, "ok")["output"]["output"], json!({ "ok": true }));
    assert_eq!(step(&exec, "handle")["status"], "skipped");
    assert_eq!(up.hits().len(), 3);

    // Two attempts are not enough: the error port carries `{error: {message}}`.
    up.flaky.store(0, Ordering::SeqCst);
    let id = create_ok(
        &app,
        &retry_doc(
            &base,
            "/flaky",
            json!({ "max_attempts": 2, "backoff": "50ms" }),
        ),
    )
    .await;
    let exec = run_to_end(&app, &id, &json!({})).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    let call = step(&exec, "call");
    assert_eq!(call["status"], "failed");
    assert_eq!(call["port"], "error");
    assert_eq!(call["attempts"], 2);
    assert!(
        call["output"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{call:#}"
    );
    let handled = step(&exec, "handle")["output"]["output"].as_str().unwrap();
    assert!(
        handled.contains("503") && handled.contains("try later"),
        "{handled}"
    );
    assert_eq!(step(&exec, "ok")["status"], "skipped");

    // A client error is not retried.
    let id = create_ok(
        &app,
        &retry_doc(
            &base,
            "/missing",
            json!({ "max_attempts": 5, "backoff": "50ms" }),
        ),
    )
    .await;
    let exec = run_to_end(&app, &id, &json!({})).await;
    assert_eq!(step(&exec, "call")["attempts"], 1, "{exec:#}");
    assert_eq!(step(&exec, "call")["port"], "error");
}

fn calling_loop(base: &str, path: &str, max_concurrency: u32, on_item_error: &str) -> Value {
    json!({
        "name": "calling loop", "description": "a loop that calls out",
        "nodes": [
            { "id": "start", "type": "trigger.manual" },
            { "id": "each", "type": "core.loop", "params": { "items": "{{ start.output.items }}", "nodes": ["fetch"], "max_concurrency": max_concurrency, "on_item_error": on_item_error } },
            { "id": "fetch", "type": "core.http_request", "params": { "url": format!("{base}{path}"), "query": { "i": "{{ loop.index }}" }, "timeout": "60s" } }
        ],
        "edges": [ { "from": "start", "to": "each" } ]
    })
}

#[tokio::test]
async fn a_loop_runs_at_most_max_concurrency_items_at_once() {
    let app = open_app().await;
    let (base, up) = upstream().await;
    let id = create_ok(&app, &calling_loop(&base, "/gate", 2, "stop")).await;
    let exec = run_to_end(&app, &id, &json!({ "items": [0, 1, 2, 3] })).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    assert_eq!(up.max_in_flight.load(Ordering::SeqCst), 2);
    let out = &step(&exec, "each")["output"]["output"];
    assert_eq!(
        out,
        &json!([{ "i": "0" }, { "i": "1" }, { "i": "2" }, { "i": "3" }])
    );
}

#[tokio::test]
async fn a_loop_interrupted_by_a_crash_resumes_without_rerunning_finished_items() {
    let clock = Arc::new(TestClock::default());
    let c = clock.clone();
    let app = spawn_app_with(move |s, o| {
        s.allow_private_networks = Some(true);
        o.clock = c;
    })
    .await;
    let (base, up) = upstream().await;
    up.hang_first.lock().unwrap().push("2".into());
    let id = create_ok(&app, &calling_loop(&base, "/item", 1, "continue")).await;
    let exec_id = app
        .run_manual(ADMIN, &id, &json!({ "items": ["a", "b", "c", "d"] }))
        .await;
    // Items 0 and 1 finish and are committed; item 2 hangs.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !up.hits().contains(&"GET /item?i=2".to_string()) {
        assert!(
            std::time::Instant::now() < deadline,
            "item 2 never started: {:?}",
            up.hits()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let exec = app.execution(ADMIN, &exec_id).await;
    assert_eq!(exec["status"], "running");
    let mut committed = Vec::new();
    for i in 0..2 {
        let s = scoped(&exec, "fetch", &format!("each[{i}]")).expect("a committed item");
        assert_eq!(s["status"], "succeeded");
        committed.push(s.clone());
    }
    // The process goes away mid-item; another takes over once the lease has expired.
    let c = clock.clone();
    let app = app
        .restart_with(move |s, o| {
            s.allow_private_networks = Some(true);
            o.clock = c;
        })
        .await;
    clock.advance(120_000);
    app.running.state.engine.wake();
    let exec = app.wait_finished(ADMIN, &exec_id).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    let out = &step(&exec, "each")["output"]["output"];
    assert_eq!(out[0], json!({ "item": "0" }));
    assert_eq!(out[1], json!({ "item": "1" }));
    // The item cut off mid-call is either called again (a GET is safe to repeat) or, as the node
    // type is not idempotent as a whole, failed as "outcome unknown" rather than repeated blindly
    // (spec §6); either way the loop goes on.
    let cut_ok = out[2] == json!({ "item": "2" })
        || out[2]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("outcome unknown"));
    assert!(cut_ok, "{out:#}");
    assert_eq!(out[3], json!({ "item": "3" }));
    let hits = up.hits();
    for i in 0..4 {
        let n = hits
            .iter()
            .filter(|h| **h == format!("GET /item?i={i}"))
            .count();
        let most = if i == 2 { 2 } else { 1 };
        assert!((1..=most).contains(&n), "item {i} ran {n} times: {hits:?}");
    }
    // The finished items kept their original steps (one attempt, one record each).
    for (i, before) in committed.iter().enumerate() {
        assert_eq!(scoped(&exec, "fetch", &format!("each[{i}]")), Some(before));
    }
    for i in [0, 1, 3] {
        let scope = format!("each[{i}]");
        let n = exec["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["scope"] == scope.as_str())
            .count();
        assert_eq!(n, 1, "{scope}: {exec:#}");
        assert_eq!(scoped(&exec, "fetch", &scope).unwrap()["attempts"], 1);
    }
}
