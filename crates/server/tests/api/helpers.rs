//! `spawn_app()`: the real server on 127.0.0.1:0 with a fresh data directory, and an HTTP client
//! with helpers for the calls most tests make.

use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use sqlx::Row;
use tempfile::TempDir;
use tokio::net::TcpListener;

use flowgate_server::{Options, Running, Settings};
use flowgate_store::Store;

/// The bootstrap admin token every test server starts with (`FLOWGATE_ADMIN_TOKEN`).
pub const ADMIN: &str = "fgt_test-bootstrap-admin-token";

/// How long a test waits for an execution to finish before it fails.
const DEADLINE: Duration = Duration::from_secs(20);

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub running: Running,
    pub dir: TempDir,
}

/// An HTTP answer: status, raw bytes and the body parsed as JSON (`Null` when it is not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub bytes: Vec<u8>,
    pub body: Value,
}

impl Resp {
    /// Asserts the status and, for errors, the `{"error": {code, message, details}}` shape.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.bytes)
        );
        if status >= 400 {
            assert_error_shape(&self.body);
        }
        &self.body
    }

    /// Asserts an error with this status and code; returns the `error` object.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &Value {
        self.expect(status);
        assert_eq!(self.body["error"]["code"], code, "{}", self.body);
        &self.body["error"]
    }

    /// The `path`s of a 422's details.
    pub fn detail_paths(&self) -> Vec<String> {
        self.body["error"]["details"]
            .as_array()
            .map(|d| {
                d.iter()
                    .map(|p| p["path"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// All detail messages and the error message, joined: for `contains` checks.
    pub fn error_text(&self) -> String {
        let mut out = self.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for d in self.body["error"]["details"]
            .as_array()
            .into_iter()
            .flatten()
        {
            out.push('\n');
            out.push_str(&format!("{}: {}", d["path"], d["message"]));
        }
        out
    }
}

/// Every error body is `{"error": {"code": str, "message": str, "details": [...]}}`.
#[track_caller]
pub fn assert_error_shape(body: &Value) {
    let err = &body["error"];
    assert!(
        err["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{body}"
    );
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(err["details"].is_array(), "{body}");
    for d in err["details"].as_array().unwrap() {
        assert!(d["path"].is_string() && d["message"].is_string(), "{body}");
    }
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_, _| {}).await
}

/// Starts a server after `adjust` has had its say on the settings and options.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings, &mut Options)) -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut settings = Settings {
        admin_token: Some(ADMIN.into()),
        data_dir: Some(dir.path().to_path_buf()),
        database_url: test_database_url().await,
        ..Default::default()
    };
    let mut options = Options {
        print_token: false,
        ..Default::default()
    };
    adjust(&mut settings, &mut options);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let running = flowgate_server::start(settings, Some(listener), options)
        .await
        .expect("the server starts");
    TestApp {
        base: format!("http://{}", running.addr),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        running,
        dir,
    }
}

/// Whether this run tests PostgreSQL (`FLOWGATE_TEST_BACKEND=postgres`) rather than SQLite.
pub fn on_postgres() -> bool {
    std::env::var("FLOWGATE_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// A fresh PostgreSQL database on the test server when testing PostgreSQL; `None` for SQLite.
async fn test_database_url() -> Option<String> {
    if !on_postgres() {
        return None;
    }
    let admin = std::env::var("FLOWGATE_TEST_POSTGRES_URL")
        .expect("FLOWGATE_TEST_BACKEND=postgres needs FLOWGATE_TEST_POSTGRES_URL");
    let name = format!("api_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .expect("connect to the PostgreSQL test server");
    sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create a test database");
    Some(format!(
        "{}/{name}",
        &admin[..admin.rfind('/').expect("a database path")]
    ))
}

/// A server whose engine runs nothing: executions stay `queued` (for cancel and retention tests).
pub async fn spawn_idle_app() -> TestApp {
    spawn_app_with(|_, o| o.engine.max_concurrency = 0).await
}

impl TestApp {
    /// Stops this server and starts another on the same data directory.
    pub async fn restart_with(self, adjust: impl FnOnce(&mut Settings, &mut Options)) -> TestApp {
        let TestApp { running, dir, .. } = self;
        let database_url = running.state.settings.database_url.clone();
        let _ = running.shutdown.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), running.task).await;
        let path = dir.path().to_path_buf();
        let mut app = spawn_app_with(|s, o| {
            s.data_dir = Some(path);
            s.database_url = database_url;
            adjust(s, o)
        })
        .await;
        app.dir = dir;
        app
    }

    pub fn store(&self) -> &Store {
        &self.running.state.store
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: Method, token: &str, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    pub async fn send(&self, req: RequestBuilder) -> Resp {
        let resp = req.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("a body").to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            bytes,
            body,
        }
    }

    pub async fn get(&self, token: &str, path: &str) -> Resp {
        self.send(self.request(Method::GET, token, path)).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> Resp {
        self.send(self.request(Method::DELETE, token, path)).await
    }

    pub async fn json(&self, method: Method, token: &str, path: &str, body: &Value) -> Resp {
        self.send(self.request(method, token, path).json(body))
            .await
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Resp {
        self.json(Method::POST, token, path, body).await
    }

    /// Sends raw bytes with a content type.
    pub async fn raw(
        &self,
        method: Method,
        token: &str,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Resp {
        self.send(
            self.request(method, token, path)
                .header(CONTENT_TYPE, content_type)
                .body(body),
        )
        .await
    }

    /// Creates an access token of the caller's organization; returns its value.
    pub async fn create_token(&self, admin: &str, name: &str, role: &str) -> String {
        let r = self
            .post(
                admin,
                "/api/v1/tokens",
                &json!({ "name": name, "role": role }),
            )
            .await;
        let body = r.expect(201);
        assert_eq!(body["role"], role);
        body["token"].as_str().expect("the token value").to_string()
    }

    /// Creates an API key; returns its value.
    pub async fn create_api_key(&self, admin: &str, name: &str) -> String {
        let r = self
            .post(admin, "/api/v1/api-keys", &json!({ "name": name }))
            .await;
        let body = r.expect(201);
        assert_eq!(body["name"], name);
        body["key"].as_str().expect("the key value").to_string()
    }

    /// Creates an organization with the bootstrap token; returns (org id, its admin token).
    pub async fn create_org(&self, name: &str) -> (String, String) {
        let r = self
            .post(ADMIN, "/api/v1/orgs", &json!({ "name": name }))
            .await;
        let body = r.expect(201);
        (
            body["id"].as_str().unwrap().to_string(),
            body["admin_token"].as_str().unwrap().to_string(),
        )
    }

    /// Creates a workflow from YAML; asserts 201 and returns the created workflow.
    pub async fn create_workflow_yaml(&self, token: &str, yaml: &str) -> Value {
        let r = self
            .raw(
                Method::POST,
                token,
                "/api/v1/workflows",
                "application/yaml",
                yaml.to_string(),
            )
            .await;
        r.expect(201).clone()
    }

    /// Creates a workflow from YAML; returns its id.
    pub async fn workflow_id(&self, token: &str, yaml: &str) -> String {
        let w = self.create_workflow_yaml(token, yaml).await;
        w["id"].as_str().expect("an id").to_string()
    }

    /// POSTs JSON to a workflow's webhook with the key in the `x-api-key` header.
    pub async fn post_webhook(&self, workflow_id: &str, key: Option<&str>, body: &Value) -> Resp {
        let mut req = self
            .client
            .post(self.url(&format!("/webhooks/{workflow_id}")))
            .json(body);
        if let Some(key) = key {
            req = req.header("x-api-key", key);
        }
        self.send(req).await
    }

    /// Starts a manual run; asserts 202 and returns the execution id.
    pub async fn run_manual(&self, token: &str, workflow_id: &str, payload: &Value) -> String {
        let r = self
            .post(
                token,
                &format!("/api/v1/workflows/{workflow_id}/executions"),
                payload,
            )
            .await;
        r.expect(202)["execution_id"]
            .as_str()
            .expect("an execution id")
            .to_string()
    }

    pub async fn execution(&self, token: &str, id: &str) -> Value {
        self.get(token, &format!("/api/v1/executions/{id}"))
            .await
            .expect(200)
            .clone()
    }

    /// Polls the execution until it has finished, failing the test after a deadline.
    pub async fn wait_finished(&self, token: &str, id: &str) -> Value {
        let until = Instant::now() + DEADLINE;
        loop {
            let exec = self.execution(token, id).await;
            if exec["finished_at"].is_string() {
                return exec;
            }
            assert!(
                Instant::now() < until,
                "execution {id} did not finish in time: {exec:#}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Rows in a table, counted in the database itself.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .fetch_one(self.store().pool())
            .await
            .expect("a count")
            .try_get::<i64, _>("n")
            .unwrap()
    }

    /// Row counts of every table a request could write to.
    pub async fn counts(&self) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for t in [
            "orgs",
            "tokens",
            "api_keys",
            "workflows",
            "workflow_versions",
            "executions",
            "steps",
            "approvals",
        ] {
            out.push((t.to_string(), self.count(t).await));
        }
        out
    }
}

/// The step of `node_id` in an execution record.
#[track_caller]
pub fn step<'a>(exec: &'a Value, node_id: &str) -> &'a Value {
    exec["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["node_id"] == node_id))
        .unwrap_or_else(|| panic!("no step `{node_id}` in {exec:#}"))
}

/// Whether a step of `node_id` ran to success in an execution record.
pub fn ran(exec: &Value, node_id: &str) -> bool {
    exec["steps"].as_array().is_some_and(|s| {
        s.iter()
            .any(|s| s["node_id"] == node_id && s["status"] == "succeeded")
    })
}

/// A webhook workflow: trigger → transform echoing the alert.
pub fn webhook_yaml(name: &str, key_name: &str) -> String {
    format!(
        "name: {name}\ndescription: echoes the alert\nnodes:\n  - id: trigger_1\n    type: trigger.webhook\n    params: {{ api_key: {key_name} }}\n  - id: echo\n    type: core.transform\n    params:\n      value: \"{{{{ trigger_1.output }}}}\"\nedges:\n  - {{ from: trigger_1, to: echo }}\n"
    )
}

/// A manual workflow: trigger → transform echoing the payload.
pub fn manual_yaml(name: &str) -> String {
    format!(
        "name: {name}\ndescription: echoes the payload\nnodes:\n  - id: start\n    type: trigger.manual\n  - id: echo\n    type: core.transform\n    params:\n      value: \"{{{{ start.output }}}}\"\nedges:\n  - {{ from: start, to: echo }}\n"
    )
}
