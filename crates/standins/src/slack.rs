//! A Slack stand-in: a real HTTP server on loopback that answers the Web API methods Flowgate
//! uses the way Slack does (`protocols.md` §1: HTTP 200 + `ok:false` errors, 429 + `Retry-After`,
//! cursor paging, Bearer or `token` auth, JSON, form and query bodies), records what was posted,
//! and sends signed `block_actions` clicks to Flowgate exactly as Slack does.

mod api;
mod click;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::{any, post};
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::oneshot;

pub use click::{block_actions_payload, form_body, send_interaction, sign, ClickUser, Tamper};

/// The bot token the stand-in accepts from the start.
pub const BOT_TOKEN: &str = "xoxb-standin-1111-2222-bottoken";
/// The signing secret tests give Flowgate and the stand-in signs clicks with.
pub const SIGNING_SECRET: &str = "standin-signing-secret-0123456789";
/// The Slack app's OAuth client credentials.
pub const CLIENT_ID: &str = "1111.2222";
pub const CLIENT_SECRET: &str = "standin-client-secret";
pub const TEAM_ID: &str = "T0STANDIN";
pub const TEAM_NAME: &str = "Stand-in Workspace";
pub const BOT_USER_ID: &str = "U0BOTUSER";
pub const BOT_ID: &str = "B0STANDIN";

/// A conversation the stand-in knows.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelInfo {
    pub id: String,
    pub name: String,
    pub is_private: bool,
    pub is_archived: bool,
    /// Whether the bot is a member (may post).
    pub is_member: bool,
}

/// A message as the stand-in holds it (posted, updated or ephemeral).
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub channel: String,
    pub ts: String,
    pub text: String,
    pub blocks: Option<Value>,
    /// The user an ephemeral message was shown to.
    pub user: Option<String>,
}

impl Message {
    /// Every button element in the message's blocks.
    pub fn buttons(&self) -> Vec<Value> {
        let blocks = self
            .blocks
            .as_ref()
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        blocks
            .iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| {
                let block_id = b["block_id"].clone();
                b["elements"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|e| e["type"] == "button")
                    .map(move |mut e| {
                        e["block_id"] = block_id.clone();
                        e
                    })
            })
            .collect()
    }

    /// The button with this `action_id`.
    pub fn button(&self, action_id: &str) -> Option<Value> {
        self.buttons()
            .into_iter()
            .find(|b| b["action_id"] == action_id)
    }
}

/// A misbehaviour to inject into the next call of one method.
#[derive(Debug, Clone)]
pub enum Fault {
    /// HTTP 200 `{"ok": false, "error": <code>}`.
    Error(String),
    /// `missing_scope` with `needed` (and `provided`).
    MissingScope(String),
    /// HTTP 429, `Retry-After`, `{"ok":false,"error":"ratelimited"}`; nothing is done.
    RateLimited { retry_after_secs: u64 },
    /// A bare HTTP status (e.g. 500, 503) with an HTML body; nothing is done.
    Http(u16),
    /// The call is carried out, but the answer comes only after this delay.
    Delay(Duration),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenState {
    Valid,
    Revoked,
    Inactive,
}

pub(crate) struct OAuthCode {
    redirect_uri: Option<String>,
    used: bool,
}

pub(crate) struct State {
    base_url: String,
    tokens: HashMap<String, TokenState>,
    channels: Vec<ChannelInfo>,
    /// Current state of every message in channels.
    messages: Vec<Message>,
    posted: Vec<Message>,
    updates: Vec<Message>,
    ephemerals: Vec<Message>,
    responses: Vec<(String, Value)>,
    calls: Vec<String>,
    faults: HashMap<String, VecDeque<Fault>>,
    page_size_cap: Option<usize>,
    oauth_codes: HashMap<String, OAuthCode>,
    ts_counter: u64,
}

impl State {
    fn next_ts(&mut self) -> String {
        self.ts_counter += 1;
        format!("{}.{:06}", chrono::Utc::now().timestamp(), self.ts_counter)
    }
}

pub(crate) type Shared = Arc<Mutex<State>>;

/// A running Slack stand-in; it stops when dropped.
pub struct SlackStandin {
    addr: SocketAddr,
    state: Shared,
    shutdown: Option<oneshot::Sender<()>>,
}

impl SlackStandin {
    /// Starts a workspace with channels `C0OPS` (#ops, the bot is a member), `C0RANDOM`
    /// (#random, not a member), `G0PRIVATE` (private, member) and `C0ARCHIVED` (archived).
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let channel = |id: &str, name: &str, is_private, is_archived, is_member| ChannelInfo {
            id: id.into(),
            name: name.into(),
            is_private,
            is_archived,
            is_member,
        };
        let state = Arc::new(Mutex::new(State {
            base_url: format!("http://{addr}"),
            tokens: HashMap::from([(BOT_TOKEN.to_string(), TokenState::Valid)]),
            channels: vec![
                channel("C0OPS", "ops", false, false, true),
                channel("C0RANDOM", "random", false, false, false),
                channel("G0PRIVATE", "secret-ops", true, false, true),
                channel("C0ARCHIVED", "old-ops", false, true, true),
            ],
            messages: Vec::new(),
            posted: Vec::new(),
            updates: Vec::new(),
            ephemerals: Vec::new(),
            responses: Vec::new(),
            calls: Vec::new(),
            faults: HashMap::new(),
            page_size_cap: None,
            oauth_codes: HashMap::new(),
            ts_counter: 0,
        }));
        let app = Router::new()
            .route("/api/{method}", any(api::handle))
            .route("/oauth/v2/authorize", axum::routing::get(api::authorize))
            .route("/actions/{team}/{id}/{token}", post(api::response_url))
            .with_state(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            addr,
            state,
            shutdown: Some(tx),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().expect("stand-in state"))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The Web API base, what an integration's `config.base_url` should be.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    pub fn add_channel(&self, id: &str, name: &str, is_private: bool, is_member: bool) {
        self.with(|s| {
            s.channels.push(ChannelInfo {
                id: id.into(),
                name: name.into(),
                is_private,
                is_archived: false,
                is_member,
            })
        });
    }

    /// Makes the bot a member of a channel, or removes it.
    pub fn set_member(&self, channel_id: &str, is_member: bool) {
        self.with(|s| {
            s.channels
                .iter_mut()
                .filter(|c| c.id == channel_id)
                .for_each(|c| c.is_member = is_member)
        });
    }

    /// Accepts another bot token.
    pub fn add_token(&self, token: &str) {
        self.with(|s| s.tokens.insert(token.into(), TokenState::Valid));
    }

    /// Calls with this token now get `token_revoked`.
    pub fn revoke_token(&self, token: &str) {
        self.with(|s| s.tokens.insert(token.into(), TokenState::Revoked));
    }

    /// Calls with this token now get `account_inactive`.
    pub fn deactivate_token(&self, token: &str) {
        self.with(|s| s.tokens.insert(token.into(), TokenState::Inactive));
    }

    /// Queues a fault for the next call of `method` (faults of a method are used in order).
    pub fn inject(&self, method: &str, fault: Fault) {
        self.with(|s| s.faults.entry(method.into()).or_default().push_back(fault));
    }

    /// `conversations.list` returns at most `n` channels a page, whatever the `limit`.
    pub fn set_page_size_cap(&self, n: usize) {
        self.with(|s| s.page_size_cap = Some(n.max(1)));
    }

    /// Makes `code` exchangeable once with `oauth.v2.access` (with this `redirect_uri`, if any).
    pub fn add_oauth_code(&self, code: &str, redirect_uri: Option<&str>) {
        self.with(|s| {
            s.oauth_codes.insert(
                code.into(),
                OAuthCode {
                    redirect_uri: redirect_uri.map(str::to_string),
                    used: false,
                },
            )
        });
    }

    /// Every message posted with chat.postMessage, in order, as it was posted.
    pub fn posted(&self) -> Vec<Message> {
        self.with(|s| s.posted.clone())
    }

    /// Every chat.update, in order, with what it set.
    pub fn updates(&self) -> Vec<Message> {
        self.with(|s| s.updates.clone())
    }

    /// Every chat.postEphemeral, in order.
    pub fn ephemerals(&self) -> Vec<Message> {
        self.with(|s| s.ephemerals.clone())
    }

    /// Every JSON body POSTed to a `response_url`, with the URL.
    pub fn responses(&self) -> Vec<(String, Value)> {
        self.with(|s| s.responses.clone())
    }

    /// The message as it is now (after updates).
    pub fn message(&self, channel: &str, ts: &str) -> Option<Message> {
        self.with(|s| {
            s.messages
                .iter()
                .find(|m| m.channel == channel && m.ts == ts)
                .cloned()
        })
    }

    /// How many times `method` was called (faults included).
    pub fn calls(&self, method: &str) -> usize {
        self.with(|s| s.calls.iter().filter(|m| *m == method).count())
    }

    /// Polls `check` until it holds or `deadline` passes; returns whether it held.
    pub async fn wait_until(
        &self,
        deadline: Duration,
        check: impl Fn(&SlackStandin) -> bool,
    ) -> bool {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            if check(self) {
                return true;
            }
            if tokio::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Clicks the button `action_id` of a posted message as `user`: sends the signed
    /// `block_actions` request Slack would send to Flowgate's Request URL `url`.
    pub async fn click(
        &self,
        url: &str,
        signing_secret: &str,
        message: &Message,
        action_id: &str,
        user: &ClickUser,
        tamper: Tamper,
    ) -> reqwest::Result<reqwest::Response> {
        let button = message
            .button(action_id)
            .unwrap_or_else(|| panic!("the message has no `{action_id}` button"));
        let response_url = self.with(|s| {
            let n = s.responses.len() + s.ts_counter as usize;
            format!(
                "{}/actions/{TEAM_ID}/{n}/{}",
                s.base_url,
                uuid::Uuid::new_v4().simple()
            )
        });
        let payload = block_actions_payload(message, &button, user, &response_url);
        send_interaction(
            &reqwest::Client::new(),
            url,
            signing_secret,
            &payload,
            tamper,
        )
        .await
    }
}

impl Drop for SlackStandin {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
