//! A stand-in for the Spot API (accounts and Elastigroup AWS): a real HTTP server on loopback that
//! answers with Spot's envelope and error shape, checks the bearer token and `accountId`, keeps group
//! state, records every request and injects faults (429, 500, slow answers, dropped connections).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use axum::Router;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A group's capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub minimum: u64,
    pub maximum: u64,
    pub target: u64,
}

/// A fault the stand-in answers with instead of the real answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 429 with `Retry-After: <secs>`; nothing changes.
    RateLimited { retry_after_secs: u64 },
    /// HTTP 500 with an error envelope; nothing changes.
    ServerError,
    /// The real answer (the change is applied), after a delay.
    Slow(Duration),
    /// The change is applied, then the connection is closed without an answer.
    Drop,
}

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub body: Option<Value>,
    /// Whether it carried the right bearer token.
    pub authorized: bool,
}

struct Group {
    account_id: String,
    body: Value,
    instances: Vec<String>,
}

#[derive(Default)]
struct Inner {
    token: String,
    /// Account ids in creation order; the first is the organization's default (oldest).
    accounts: Vec<(String, String)>,
    groups: BTreeMap<String, Group>,
    faults: HashMap<String, VecDeque<Fault>>,
    requests: Vec<Recorded>,
    next_instance: u64,
}

type Shared = Arc<Mutex<Inner>>;

/// A running Spot stand-in; the server stops when the handle is dropped.
pub struct SpotStandin {
    state: Shared,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for SpotStandin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SpotStandin {
    /// Starts a stand-in on 127.0.0.1 with a random port that accepts `token`.
    pub async fn start(token: &str) -> Self {
        let state: Shared = Arc::new(Mutex::new(Inner {
            token: token.to_string(),
            ..Inner::default()
        }));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let app = Router::new().fallback(handle).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                KillListener(listener),
                app.into_make_service_with_connect_info::<Conn>(),
            )
            .await;
        });
        Self { state, addr, task }
    }

    /// `http://127.0.0.1:<port>`, to put in an integration's `config.base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.state.lock().expect("stand-in state poisoned")
    }

    /// Adds an account; the first one added is the organization's default.
    pub fn add_account(&self, account_id: &str, name: &str) {
        self.lock()
            .accounts
            .push((account_id.to_string(), name.to_string()));
    }

    /// Adds a group with `capacity.target` running instances to an existing account.
    pub fn add_group(&self, account_id: &str, group_id: &str, name: &str, capacity: Capacity) {
        let mut st = self.lock();
        assert!(
            st.accounts.iter().any(|(a, _)| a == account_id),
            "add account {account_id} before its groups"
        );
        let body = json!({
            "id": group_id, "name": name, "description": "", "region": "us-west-2",
            "capacity": {"minimum": capacity.minimum, "maximum": capacity.maximum, "target": capacity.target, "unit": "instance"},
            "strategy": {"risk": 100, "onDemandCount": null, "availabilityVsCost": "balanced", "fallbackToOd": true, "drainingTimeout": 120},
            "compute": {"product": "Linux/UNIX", "instanceTypes": {"ondemand": "c5.large", "spot": ["c5.large", "m5.large"]}},
            "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z",
        });
        let instances = (0..capacity.target)
            .map(|_| new_instance(&mut st))
            .collect();
        st.groups.insert(
            group_id.to_string(),
            Group {
                account_id: account_id.to_string(),
                body,
                instances,
            },
        );
    }

    /// The group as the API would return it, if it exists.
    pub fn group(&self, group_id: &str) -> Option<Value> {
        self.lock().groups.get(group_id).map(|g| g.body.clone())
    }

    /// The group's capacity, if it exists.
    pub fn capacity(&self, group_id: &str) -> Option<Capacity> {
        self.lock()
            .groups
            .get(group_id)
            .map(|g| capacity_of(&g.body))
    }

    /// Answers the next `times` requests to `path` (any method) with `fault`.
    pub fn inject(&self, path: &str, fault: Fault, times: usize) {
        let mut st = self.lock();
        let queue = st.faults.entry(path.to_string()).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// How many `method` requests reached `path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }
}

fn new_instance(st: &mut Inner) -> String {
    st.next_instance += 1;
    format!("i-{:017x}", st.next_instance)
}

fn capacity_of(group: &Value) -> Capacity {
    let n = |k: &str| group["capacity"][k].as_u64().unwrap_or(0);
    Capacity {
        minimum: n("minimum"),
        maximum: n("maximum"),
        target: n("target"),
    }
}

/// What one request is answered with.
struct Answer {
    status: StatusCode,
    kind: Option<&'static str>,
    items: Option<Vec<Value>>,
    errors: Vec<Value>,
}

impl Answer {
    fn ok(kind: &'static str, items: Vec<Value>) -> Self {
        Self {
            status: StatusCode::OK,
            kind: Some(kind),
            items: Some(items),
            errors: Vec::new(),
        }
    }

    fn empty() -> Self {
        Self {
            status: StatusCode::OK,
            kind: None,
            items: None,
            errors: Vec::new(),
        }
    }

    fn error(status: StatusCode, code: &str, message: &str) -> Self {
        Self {
            status,
            kind: None,
            items: None,
            errors: vec![json!({"code": code, "message": message})],
        }
    }

    fn invalid(field: &str, message: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: None,
            items: None,
            errors: vec![json!({"code": "ValidationError", "message": message, "field": field})],
        }
    }

    fn no_group() -> Self {
        Self::error(
            StatusCode::BAD_REQUEST,
            "GROUP_DOESNT_EXIST",
            "Group doesn't exist",
        )
    }

    fn render(self, method: &Method, url: &str) -> Response {
        let mut response = json!({"status": {"code": self.status.as_u16(), "message": self.status.canonical_reason().unwrap_or("")}});
        if let Some(kind) = self.kind {
            response["kind"] = json!(kind);
        }
        if let Some(items) = self.items {
            response["count"] = json!(items.len());
            response["items"] = Value::Array(items);
        }
        if !self.errors.is_empty() {
            response["errors"] = Value::Array(self.errors);
        }
        let body = json!({
            "request": {"id": uuid::Uuid::new_v4().to_string(), "url": url, "method": method.as_str(),
                        "timestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()},
            "response": response,
        });
        (self.status, axum::Json(body)).into_response()
    }
}

async fn handle(
    State(state): State<Shared>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    method: Method,
    uri: Uri,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let url = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let body_json = if body.is_empty() {
        None
    } else {
        Some(
            serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned())),
        )
    };

    let (fault, answer) = {
        let mut st = state.lock().expect("stand-in state poisoned");
        let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some(format!("Bearer {}", st.token).as_str());
        st.requests.push(Recorded {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            body: body_json.clone(),
            authorized,
        });
        let fault = st.faults.get_mut(&path).and_then(VecDeque::pop_front);
        let answer = match &fault {
            Some(Fault::RateLimited { .. }) => Answer::error(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMIT_EXCEEDED",
                "Too many requests",
            ),
            Some(Fault::ServerError) => Answer::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "Internal server error",
            ),
            _ if !authorized => Answer::error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "Invalid or expired token",
            ),
            _ => route(&mut st, &method, &path, &query, body_json.as_ref()),
        };
        (fault, answer)
    };
    match fault {
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::Drop) => conn.killed.store(true, Ordering::SeqCst),
        _ => {}
    }
    let mut response = answer.render(&method, &url);
    if let Some(Fault::RateLimited { retry_after_secs }) = fault {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(retry_after_secs));
    }
    response
}

fn route(
    st: &mut Inner,
    method: &Method,
    path: &str,
    query: &BTreeMap<String, String>,
    body: Option<&Value>,
) -> Answer {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segments == ["setup", "account"] && method == Method::GET {
        let items = st.accounts.iter().map(|(id, name)| json!({"accountId": id, "organizationId": "606079861123", "name": name, "providerExternalId": "123456789"})).collect();
        return Answer::ok("spotinst:setup:account", items);
    }
    if segments.len() < 3 || segments[..3] != ["aws", "ec2", "group"] {
        return Answer::error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("No route for {method} {path}"),
        );
    }
    let account = match query.get("accountId") {
        Some(a) if st.accounts.iter().any(|(id, _)| id == a) => a.clone(),
        Some(_) => {
            return Answer::error(
                StatusCode::BAD_REQUEST,
                "Account_DOESNT_EXIST",
                "Account doesn't exist",
            )
        }
        None => match st.accounts.first() {
            Some((a, _)) => a.clone(),
            None => {
                return Answer::error(
                    StatusCode::BAD_REQUEST,
                    "Account_DOESNT_EXIST",
                    "The organization has no account",
                )
            }
        },
    };
    match (method.clone(), &segments[3..]) {
        (Method::GET, []) => {
            let items = st
                .groups
                .values()
                .filter(|g| g.account_id == account)
                .map(|g| g.body.clone())
                .collect();
            Answer::ok("spotinst:aws:ec2:group", items)
        }
        (Method::GET, [id]) => match st.groups.get(*id).filter(|g| g.account_id == account) {
            Some(g) => Answer::ok("spotinst:aws:ec2:group", vec![g.body.clone()]),
            None => Answer::no_group(),
        },
        (Method::DELETE, [id]) => match st.groups.get(*id) {
            Some(g) if g.account_id == account => {
                st.groups.remove(*id);
                Answer::empty()
            }
            _ => Answer::no_group(),
        },
        (Method::PUT, [id, "capacity"]) => update_capacity(st, &account, id, body),
        (Method::PUT, [id, "scale", direction @ ("up" | "down")]) => {
            scale(st, &account, id, direction, query)
        }
        _ => Answer::error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("No route for {method} {path}"),
        ),
    }
}

fn update_capacity(st: &mut Inner, account: &str, id: &str, body: Option<&Value>) -> Answer {
    let Some(requested) = body
        .and_then(|b| b.get("capacity"))
        .and_then(Value::as_object)
    else {
        return Answer::invalid("body:capacity", "capacity is required");
    };
    let mut next_instance = st.next_instance;
    let Some(group) = st.groups.get_mut(id).filter(|g| g.account_id == account) else {
        return Answer::no_group();
    };
    let mut cap = capacity_of(&group.body);
    for (key, slot) in [
        ("minimum", &mut cap.minimum),
        ("maximum", &mut cap.maximum),
        ("target", &mut cap.target),
    ] {
        match requested.get(key) {
            None | Some(Value::Null) => {}
            Some(v) => match v.as_u64() {
                Some(n) => *slot = n,
                None => {
                    return Answer::invalid(
                        &format!("body:capacity.{key}"),
                        &format!("{key} must be a non-negative integer"),
                    )
                }
            },
        }
    }
    if cap.minimum > cap.target || cap.target > cap.maximum {
        return Answer::invalid(
            "body:capacity",
            "capacity must satisfy minimum <= target <= maximum",
        );
    }
    group.body["capacity"] = json!({"minimum": cap.minimum, "maximum": cap.maximum, "target": cap.target, "unit": "instance"});
    while (group.instances.len() as u64) < cap.target {
        next_instance += 1;
        group.instances.push(format!("i-{next_instance:017x}"));
    }
    group.instances.truncate(cap.target as usize);
    let item =
        json!({"capacity": {"minimum": cap.minimum, "maximum": cap.maximum, "target": cap.target}});
    st.next_instance = next_instance;
    Answer::ok("spotinst:aws:ec2:group:capacity", vec![item])
}

fn scale(
    st: &mut Inner,
    account: &str,
    id: &str,
    direction: &str,
    query: &BTreeMap<String, String>,
) -> Answer {
    let adjustment = match query.get("adjustment").map(|a| a.parse::<u64>()) {
        None => 1,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            return Answer::invalid("query:adjustment", "adjustment must be a positive integer")
        }
    };
    let mut next_instance = st.next_instance;
    let Some(group) = st.groups.get_mut(id).filter(|g| g.account_id == account) else {
        return Answer::no_group();
    };
    let cap = capacity_of(&group.body);
    let item = if direction == "up" {
        let target = (cap.target + adjustment).min(cap.maximum);
        let mut launched = Vec::new();
        for _ in cap.target..target {
            next_instance += 1;
            let instance = format!("i-{next_instance:017x}");
            launched.push(json!({"spotInstanceRequestId": format!("sir-{next_instance:08x}"), "instanceId": instance, "availabilityZone": "us-west-2a", "instanceType": "c5.large"}));
            group.instances.push(instance);
        }
        group.body["capacity"]["target"] = json!(target);
        json!({"newSpotRequests": launched, "newInstances": null})
    } else {
        let target = cap.target.saturating_sub(adjustment).max(cap.minimum);
        let keep = (group.instances.len() as u64).min(target) as usize;
        let victims: Vec<Value> = group.instances.split_off(keep).into_iter().map(|i| json!({"spotInstanceRequestId": format!("sir-{}", &i[i.len() - 8..]), "instanceId": i})).collect();
        group.body["capacity"]["target"] = json!(target);
        json!({"victimSpotRequests": victims, "victimInstances": []})
    };
    st.next_instance = next_instance;
    Answer::ok("spotinst:aws:ec2:scale", vec![item])
}

/// Per-connection handle: a handler sets `killed` to make the connection close unanswered.
#[derive(Clone, Debug)]
struct Conn {
    killed: Arc<AtomicBool>,
}

impl Connected<IncomingStream<'_, KillListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, KillListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP listener whose connections can be killed from inside a handler.
struct KillListener(TcpListener);

impl Listener for KillListener {
    type Io = KillIo;
    type Addr = Conn;

    async fn accept(&mut self) -> (KillIo, Conn) {
        loop {
            if let Ok((stream, _)) = self.0.accept().await {
                let killed = Arc::new(AtomicBool::new(false));
                return (
                    KillIo {
                        inner: stream,
                        killed: killed.clone(),
                    },
                    Conn { killed },
                );
            }
        }
    }

    fn local_addr(&self) -> io::Result<Conn> {
        self.0.local_addr().map(|_| Conn {
            killed: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// A TCP stream that refuses to write, and reads as closed, once killed.
struct KillIo {
    inner: TcpStream,
    killed: Arc<AtomicBool>,
}

impl AsyncRead for KillIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection dropped by the stand-in",
            )));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
