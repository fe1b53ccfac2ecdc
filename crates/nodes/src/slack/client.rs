//! A client for Slack's Web API as it really behaves (`protocols.md` §1): Bearer token, JSON
//! bodies for the chat methods, GET + query for `conversations.list`, forms for `auth.test` and
//! `oauth.v2.access`; `ok:false` answers (HTTP 200) become errors that say what to do, and 429s
//! honour `Retry-After`.

use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{Integration, NodeError};

/// Slack's Web API, used when an integration sets no `config.base_url`.
pub const DEFAULT_BASE_URL: &str = "https://slack.com/api";
/// Every call gives up after this long unless [`SlackClient::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Rate-limited calls are repeated in place at most this many times...
const MAX_RETRIES: u32 = 3;
/// ...and only when Slack asks to wait at most this long; otherwise the error carries the delay.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(30);
/// A channel list longer than this many pages is a broken cursor, not a workspace.
const MAX_PAGES: usize = 1000;

/// A failed Slack call, with Slack's error code when Slack answered one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SlackError {
    /// Slack's `error` code (`not_in_channel`, `ratelimited`, ...), if Slack answered `ok:false`.
    pub code: Option<String>,
    pub message: String,
    /// Trying again may help (rate limit, transient failure, nothing was sent).
    pub retryable: bool,
    /// Wait this long before trying again (Slack's `Retry-After`).
    pub retry_after_ms: Option<u64>,
}

impl SlackError {
    fn fatal(code: Option<&str>, message: String) -> Self {
        Self {
            code: code.map(str::to_string),
            message,
            retryable: false,
            retry_after_ms: None,
        }
    }

    fn transient(code: Option<&str>, message: String) -> Self {
        Self {
            code: code.map(str::to_string),
            message,
            retryable: true,
            retry_after_ms: None,
        }
    }
}

impl From<SlackError> for NodeError {
    fn from(e: SlackError) -> Self {
        NodeError {
            message: e.message,
            retryable: e.retryable,
            retry_after_ms: e.retry_after_ms,
        }
    }
}

/// Where a message landed: the channel id and the message's `ts` (its id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

/// Who a token belongs to (`auth.test`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthInfo {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub team: String,
    #[serde(default)]
    pub team_id: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub user_id: String,
    #[serde(default)]
    pub bot_id: Option<String>,
}

/// One conversation from `conversations.list`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Channel {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub is_private: bool,
    #[serde(default)]
    pub is_member: bool,
    #[serde(default)]
    pub is_archived: bool,
    #[serde(default)]
    pub num_members: Option<u64>,
}

/// A workspace or enterprise as `oauth.v2.access` names it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TeamRef {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// The answer to an OAuth v2 code exchange. `access_token` is the bot token: keep it secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct OAuthAccess {
    pub access_token: String,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub bot_user_id: Option<String>,
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub team: Option<TeamRef>,
    #[serde(default)]
    pub enterprise: Option<TeamRef>,
    #[serde(default)]
    pub is_enterprise_install: bool,
}

impl std::fmt::Debug for OAuthAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthAccess")
            .field("access_token", &"***")
            .field("scope", &self.scope)
            .field("bot_user_id", &self.bot_user_id)
            .field("app_id", &self.app_id)
            .field("team", &self.team)
            .finish()
    }
}

#[derive(Clone)]
enum Auth {
    Bearer(String),
    Basic {
        client_id: String,
        client_secret: String,
    },
}

/// How a request carries its arguments.
enum Args<'a> {
    Json(&'a Value),
    Form(&'a [(&'a str, &'a str)]),
    Query(&'a [(&'a str, &'a str)]),
}

/// Whether repeating a call whose outcome is unknown could do something twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Safety {
    Idempotent,
    PostsSomething,
}

/// A Slack Web API client for one token.
#[derive(Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    base_url: String,
    auth: Auth,
    alias: Option<String>,
    timeout: Duration,
}

impl SlackClient {
    /// A client for `base_url` (e.g. `https://slack.com/api`) with a bot token.
    pub fn new(http: reqwest::Client, base_url: &str, bot_token: &str) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            auth: Auth::Bearer(bot_token.to_string()),
            alias: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// A client for a `slack` integration: `config.base_url` (default Slack's) and
    /// `secrets.bot_token`.
    pub fn for_integration(
        http: reqwest::Client,
        integration: &Integration,
    ) -> Result<Self, NodeError> {
        let token = integration.secret("bot_token")?;
        let base = integration
            .config_str("base_url")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(DEFAULT_BASE_URL);
        let mut client = Self::new(http, base, token);
        client.alias = Some(integration.alias.clone());
        Ok(client)
    }

    /// Gives up on each call after `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `chat.postMessage`. Not idempotent: an answer lost after sending fails with "outcome unknown".
    pub async fn post_message(
        &self,
        channel: &str,
        text: &str,
        blocks: Option<&[Value]>,
    ) -> Result<Posted, SlackError> {
        let mut body = json!({ "channel": channel, "text": text });
        if let Some(blocks) = blocks {
            body["blocks"] = json!(blocks);
        }
        let answer = self
            .call(
                "chat.postMessage",
                Args::Json(&body),
                Safety::PostsSomething,
                Some(channel),
            )
            .await?;
        posted(&answer, channel)
    }

    /// `chat.update`: replaces the text (and the blocks, when given) of a message this token posted.
    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: Option<&[Value]>,
    ) -> Result<Posted, SlackError> {
        let mut body = json!({ "channel": channel, "ts": ts, "text": text });
        if let Some(blocks) = blocks {
            body["blocks"] = json!(blocks);
        }
        let answer = self
            .call(
                "chat.update",
                Args::Json(&body),
                Safety::Idempotent,
                Some(channel),
            )
            .await?;
        posted(&answer, channel)
    }

    /// `chat.postEphemeral`: a message only `user` sees; returns its `message_ts`.
    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        text: &str,
    ) -> Result<String, SlackError> {
        let body = json!({ "channel": channel, "user": user, "text": text });
        let answer = self
            .call(
                "chat.postEphemeral",
                Args::Json(&body),
                Safety::PostsSomething,
                Some(channel),
            )
            .await?;
        Ok(answer["message_ts"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// `auth.test`: checks the token and says whose it is.
    pub async fn auth_test(&self) -> Result<AuthInfo, SlackError> {
        let answer = self
            .call("auth.test", Args::Form(&[]), Safety::Idempotent, None)
            .await?;
        serde_json::from_value(answer).map_err(|e| {
            SlackError::fatal(
                None,
                format!("Slack's auth.test answer is not understood: {e}"),
            )
        })
    }

    /// `conversations.list` of public and private channels (archived ones left out), every page.
    pub async fn list_channels(&self) -> Result<Vec<Channel>, SlackError> {
        let mut channels = Vec::new();
        let mut cursor = String::new();
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("types", "public_channel,private_channel"),
                ("exclude_archived", "true"),
                ("limit", "200"),
            ];
            if !cursor.is_empty() {
                query.push(("cursor", cursor.as_str()));
            }
            let answer = self
                .call(
                    "conversations.list",
                    Args::Query(&query),
                    Safety::Idempotent,
                    None,
                )
                .await?;
            let page: Vec<Channel> =
                serde_json::from_value(answer["channels"].clone()).map_err(|e| {
                    SlackError::fatal(
                        None,
                        format!("Slack's conversations.list answer is not understood: {e}"),
                    )
                })?;
            channels.extend(page);
            let next = answer["response_metadata"]["next_cursor"]
                .as_str()
                .unwrap_or_default();
            if next.is_empty() {
                return Ok(channels);
            }
            if next == cursor {
                return Err(SlackError::fatal(
                    None,
                    "Slack's conversations.list returned the same cursor twice".into(),
                ));
            }
            cursor = next.to_string();
        }
        Err(SlackError::fatal(
            None,
            format!("Slack's conversations.list did not end after {MAX_PAGES} pages"),
        ))
    }

    /// `oauth.v2.access`: exchanges an "Add to Slack" code for a bot token. The client
    /// credentials go in HTTP Basic auth; `redirect_uri` must be the one the authorize URL used.
    /// `api_base_url` is Slack's Web API base, e.g. `https://slack.com/api`.
    pub async fn oauth_v2_access(
        http: reqwest::Client,
        api_base_url: &str,
        client_id: &str,
        client_secret: &str,
        code: &str,
        redirect_uri: Option<&str>,
    ) -> Result<OAuthAccess, SlackError> {
        let client = Self {
            http,
            base_url: api_base_url.trim_end_matches('/').to_string(),
            auth: Auth::Basic {
                client_id: client_id.to_string(),
                client_secret: client_secret.to_string(),
            },
            alias: None,
            timeout: DEFAULT_TIMEOUT,
        };
        let mut form = vec![("code", code)];
        if let Some(uri) = redirect_uri {
            form.push(("redirect_uri", uri));
        }
        // A code is single-use: a lost answer cannot be repeated, so treat it as posting.
        let answer = client
            .call(
                "oauth.v2.access",
                Args::Form(&form),
                Safety::PostsSomething,
                None,
            )
            .await?;
        serde_json::from_value(answer).map_err(|e| {
            SlackError::fatal(
                None,
                format!("Slack's oauth.v2.access answer is not understood: {e}"),
            )
        })
    }

    /// One Web API call: retries rate limits (a 429 means nothing was done) and, for idempotent
    /// methods, transient failures; turns `ok:false` into an error that says what to do.
    async fn call(
        &self,
        method: &str,
        args: Args<'_>,
        safety: Safety,
        channel: Option<&str>,
    ) -> Result<Value, SlackError> {
        let url = format!("{}/{method}", self.base_url);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = match &args {
                Args::Json(body) => self
                    .http
                    .post(&url)
                    .header(CONTENT_TYPE, "application/json; charset=utf-8")
                    .body(serde_json::to_vec(body).expect("JSON values serialize")),
                Args::Form(form) => self.http.post(&url).form(form),
                Args::Query(query) => self.http.get(&url).query(query),
            };
            req = match &self.auth {
                Auth::Bearer(token) => req.bearer_auth(token),
                Auth::Basic {
                    client_id,
                    client_secret,
                } => req.basic_auth(client_id, Some(client_secret)),
            };
            let response = match req.timeout(self.timeout).send().await {
                Ok(r) => r,
                Err(e) => {
                    let err = self.transport_error(method, &e, safety);
                    if err.retryable && attempt <= MAX_RETRIES {
                        tokio::time::sleep(backoff(attempt)).await;
                        continue;
                    }
                    return Err(err);
                }
            };
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                let wait = retry_after(response.headers());
                if attempt <= MAX_RETRIES && wait <= MAX_INLINE_WAIT {
                    tracing::debug!(
                        method,
                        wait_ms = wait.as_millis() as u64,
                        "Slack rate limit, waiting as asked"
                    );
                    tokio::time::sleep(wait).await;
                    continue;
                }
                return Err(SlackError {
                    code: Some("ratelimited".into()),
                    message: format!("Slack rate-limited {method} (Retry-After {} s); nothing was done, try again later", wait.as_secs()),
                    retryable: true,
                    retry_after_ms: Some(wait.as_millis() as u64),
                });
            }
            if status.is_server_error() {
                if safety == Safety::Idempotent && attempt <= MAX_RETRIES {
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                return Err(match safety {
                    Safety::Idempotent => SlackError::transient(None, format!("Slack answered HTTP {status} to {method}; try again later")),
                    Safety::PostsSomething => SlackError::fatal(
                        None,
                        format!("outcome unknown: Slack answered HTTP {status} to {method}, which may or may not have taken effect; check the channel before running it again"),
                    ),
                });
            }
            let bytes = match response.bytes().await {
                Ok(b) => b,
                Err(e) => return Err(self.transport_error(method, &e, safety)),
            };
            let Ok(answer) = serde_json::from_slice::<Value>(&bytes) else {
                let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
                return Err(SlackError::fatal(None, format!("Slack answered {method} with HTTP {status} and a body that is not JSON: {text}")));
            };
            if answer["ok"].as_bool() == Some(true) && status.is_success() {
                return Ok(answer);
            }
            return Err(self.api_error(method, &answer, status, safety, channel));
        }
    }

    fn transport_error(&self, method: &str, e: &reqwest::Error, safety: Safety) -> SlackError {
        if e.is_connect() {
            return SlackError::transient(
                None,
                format!(
                    "could not reach Slack at {} for {method}: {e}; nothing was sent",
                    self.base_url
                ),
            );
        }
        let what = if e.is_timeout() {
            format!(
                "Slack did not answer {method} within {} s",
                self.timeout.as_secs_f32()
            )
        } else {
            format!("the call to Slack's {method} broke off: {e}")
        };
        match safety {
            Safety::Idempotent => SlackError::transient(None, what),
            Safety::PostsSomething => {
                SlackError::fatal(None, format!("outcome unknown: {what}; it may or may not have taken effect, so it is not repeated: check the channel"))
            }
        }
    }

    /// Slack's `ok:false` answer as an error saying what to do.
    fn api_error(
        &self,
        method: &str,
        answer: &Value,
        status: StatusCode,
        safety: Safety,
        channel: Option<&str>,
    ) -> SlackError {
        let Some(code) = answer["error"].as_str() else {
            return SlackError::fatal(
                None,
                format!("Slack answered {method} with HTTP {status} and no error code"),
            );
        };
        let channel = channel.unwrap_or("?");
        let integration = match &self.alias {
            Some(alias) => format!("integration `{alias}`"),
            None => "the integration".to_string(),
        };
        let fatal = |message: String| SlackError::fatal(Some(code), message);
        match code {
            "not_in_channel" => fatal(format!("Slack says not_in_channel: invite the Flowgate app to the channel {channel} and retry")),
            "channel_not_found" => fatal(format!(
                "Slack says channel_not_found: no channel {channel} is visible to the Flowgate app; check the channel id, and invite the app if the channel is private"
            )),
            "is_archived" => fatal(format!("Slack says is_archived: the channel {channel} is archived; unarchive it or choose another channel")),
            "not_authed" | "invalid_auth" | "token_revoked" | "account_inactive" | "token_expired" => fatal(format!(
                "Slack says {code}: the bot token of {integration} is no longer accepted; re-install the Slack app (Add to Slack) or paste a new bot token"
            )),
            "missing_scope" => {
                let needed = answer["needed"].as_str().unwrap_or("the scope this method needs");
                fatal(format!("Slack says missing_scope: the Slack app needs the `{needed}` scope for {method}; add it to the app and re-install it, then retry"))
            }
            "msg_too_long" => fatal("Slack says msg_too_long: the message text is too long; shorten it".into()),
            "no_text" => fatal("Slack says no_text: give the message a text or blocks".into()),
            "invalid_blocks" | "invalid_blocks_format" => fatal(format!("Slack says {code}: the Block Kit `blocks` are not valid; check them in Slack's Block Kit Builder")),
            "message_not_found" | "cant_update_message" | "edit_window_closed" => fatal(format!("Slack says {code}: the message cannot be updated")),
            "ratelimited" => SlackError { code: Some(code.into()), message: format!("Slack rate-limited {method}; try again later"), retryable: true, retry_after_ms: Some(1000) },
            "internal_error" | "fatal_error" | "request_timeout" | "service_unavailable" => match safety {
                Safety::Idempotent => SlackError::transient(Some(code), format!("Slack says {code} for {method}; try again later")),
                Safety::PostsSomething => fatal(format!("outcome unknown: Slack says {code} for {method}, which may or may not have taken effect; check the channel before running it again")),
            },
            "invalid_code" | "code_already_used" | "bad_redirect_uri" | "oauth_authorization_url_mismatch" => {
                fatal(format!("Slack says {code}: the Add to Slack code cannot be used; start the installation again"))
            }
            "invalid_client_id" | "bad_client_secret" => {
                fatal(format!("Slack says {code}: the Slack app's client id or secret in the server settings is wrong"))
            }
            other => fatal(format!("Slack's {method} failed: {other}")),
        }
    }
}

fn posted(answer: &Value, channel: &str) -> Result<Posted, SlackError> {
    let ts = answer["ts"]
        .as_str()
        .ok_or_else(|| SlackError::fatal(None, "Slack's answer has no message `ts`".into()))?;
    let channel = answer["channel"].as_str().unwrap_or(channel);
    Ok(Posted {
        channel: channel.to_string(),
        ts: ts.to_string(),
    })
}

/// Slack's `Retry-After` (whole seconds); about a second when missing, as slack_sdk does.
fn retry_after(headers: &HeaderMap) -> Duration {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1))
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64 << (attempt.saturating_sub(1)).min(4))
}
