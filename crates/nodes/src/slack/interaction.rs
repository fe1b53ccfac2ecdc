//! A button click arriving from Slack (`protocols.md` §1.7–1.8): verifying Slack's v0 request
//! signature and parsing a `block_actions` payload into an approval decision. Pure: no IO, and
//! the time is passed in.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// `action_id` of the Approve button.
pub const APPROVE_ACTION: &str = "flowgate_approve";
/// `action_id` of the Deny button.
pub const DENY_ACTION: &str = "flowgate_deny";
/// `block_id` of the actions block holding both buttons.
pub const APPROVAL_BLOCK: &str = "flowgate_approval";
/// How far (seconds, either way) a request's timestamp may be from now.
pub const SIGNATURE_WINDOW_SECS: i64 = 300;

/// Why a request is not accepted as coming from Slack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("X-Slack-Request-Timestamp is not a Unix time in seconds")]
    BadTimestamp,
    #[error("X-Slack-Request-Timestamp is {skew_secs} s away from now, outside the 300 s window (a replay, or a clock off)")]
    Stale { skew_secs: i64 },
    #[error("X-Slack-Signature is not `v0=` followed by 64 hex digits")]
    Malformed,
    #[error(
        "X-Slack-Signature does not match the body (another signing secret, or a changed body)"
    )]
    Mismatch,
}

/// Slack's v0 signature of a request: `v0=` + hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)).
pub fn sign(signing_secret: &str, timestamp: &str, body: &[u8]) -> String {
    let digest = mac(signing_secret, timestamp, body).finalize().into_bytes();
    format!("v0={}", hex::encode(digest))
}

fn mac(signing_secret: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

/// Checks `X-Slack-Signature` against the raw request body, in constant time, and that
/// `X-Slack-Request-Timestamp` is within 300 s of `now_unix` (either way).
pub fn verify_signature(
    signing_secret: &str,
    timestamp: &str,
    body: &[u8],
    signature: &str,
    now_unix: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let skew_secs = now_unix.saturating_sub(ts);
    if skew_secs.saturating_abs() > SIGNATURE_WINDOW_SECS {
        return Err(SignatureError::Stale { skew_secs });
    }
    let given = signature
        .trim()
        .strip_prefix("v0=")
        .filter(|h| h.len() == 64)
        .and_then(|h| hex::decode(h).ok())
        .ok_or(SignatureError::Malformed)?;
    mac(signing_secret, timestamp.trim(), body)
        .verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

/// Compares two secrets (e.g. a button's secret with the stored one) in constant time.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Which button was clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Approve,
    Deny,
}

impl Choice {
    /// `approve` / `deny`, as in button values and `POST /api/v1/approvals/{id}/decision`.
    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Approve => "approve",
            Choice::Deny => "deny",
        }
    }

    /// The approval status it leads to: `approved` / `denied`.
    pub fn status(self) -> &'static str {
        match self {
            Choice::Approve => "approved",
            Choice::Deny => "denied",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "approve" => Some(Choice::Approve),
            "deny" => Some(Choice::Deny),
            _ => None,
        }
    }
}

/// The Slack user who clicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackUser {
    pub id: String,
    /// `user.name`, else `user.username`, else the id.
    pub name: String,
    pub team_id: Option<String>,
}

/// An Approve or Deny click on a Flowgate approval message.
#[derive(Clone, PartialEq, Eq)]
pub struct Interaction {
    pub approval_id: String,
    /// The secret from the button's value; compare it with the stored one using [`secrets_equal`].
    pub secret: String,
    pub choice: Choice,
    pub user: SlackUser,
    pub team_id: Option<String>,
    pub channel_id: Option<String>,
    pub message_ts: Option<String>,
    pub response_url: Option<String>,
    pub action_ts: Option<String>,
}

impl std::fmt::Debug for Interaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interaction")
            .field("approval_id", &self.approval_id)
            .field("secret", &"***")
            .field("choice", &self.choice)
            .field("user", &self.user)
            .field("team_id", &self.team_id)
            .field("channel_id", &self.channel_id)
            .field("message_ts", &self.message_ts)
            .field("response_url", &self.response_url)
            .finish()
    }
}

impl Interaction {
    /// What to record as the approval's `decided_by`: `{id, name, team_id, via: "slack"}`.
    pub fn decided_by(&self) -> Value {
        json!({ "id": self.user.id, "name": self.user.name, "team_id": self.user.team_id.as_ref().or(self.team_id.as_ref()), "via": "slack" })
    }
}

/// Why an interaction payload is not a Flowgate approval click.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InteractionError {
    #[error("the body has no `payload` form field")]
    NoPayload,
    #[error("the `payload` field is not JSON: {0}")]
    BadJson(String),
    #[error("the interaction is of type `{0}`, not block_actions")]
    NotBlockActions(String),
    #[error("the interaction has no Flowgate Approve or Deny action")]
    NoApprovalAction,
    #[error("the button value is not `<approval id>:<secret>:approve|deny`")]
    BadValue,
    #[error("the interaction names no user")]
    NoUser,
}

/// Parses Slack's form-encoded interaction body (`payload=<JSON>`) into an approval click.
pub fn parse_interaction(body: &[u8]) -> Result<Interaction, InteractionError> {
    let payload = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or(InteractionError::NoPayload)?;
    let p: Value =
        serde_json::from_str(&payload).map_err(|e| InteractionError::BadJson(e.to_string()))?;
    let kind = p["type"].as_str().unwrap_or_default();
    if kind != "block_actions" {
        return Err(InteractionError::NotBlockActions(kind.to_string()));
    }
    let action = p["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| matches!(a["action_id"].as_str(), Some(APPROVE_ACTION | DENY_ACTION)))
        .ok_or(InteractionError::NoApprovalAction)?;
    let (approval_id, secret, choice) = parse_value(action["value"].as_str().unwrap_or_default())
        .ok_or(InteractionError::BadValue)?;
    let expected = if action["action_id"] == APPROVE_ACTION {
        Choice::Approve
    } else {
        Choice::Deny
    };
    if choice != expected {
        return Err(InteractionError::BadValue);
    }
    let user_id = p["user"]["id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or(InteractionError::NoUser)?;
    let name = [&p["user"]["name"], &p["user"]["username"]]
        .into_iter()
        .find_map(|v| v.as_str().filter(|s| !s.is_empty()))
        .unwrap_or(user_id);
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    Ok(Interaction {
        approval_id,
        secret,
        choice,
        user: SlackUser {
            id: user_id.to_string(),
            name: name.to_string(),
            team_id: text(&p["user"]["team_id"]),
        },
        team_id: text(&p["team"]["id"]),
        channel_id: text(&p["channel"]["id"]).or_else(|| text(&p["container"]["channel_id"])),
        message_ts: text(&p["container"]["message_ts"]).or_else(|| text(&p["message"]["ts"])),
        response_url: text(&p["response_url"]),
        action_ts: text(&action["action_ts"]),
    })
}

/// A button value: `<approval id>:<secret>:<approve|deny>`.
pub fn button_value(approval_id: &str, secret: &str, choice: Choice) -> String {
    format!("{approval_id}:{secret}:{}", choice.as_str())
}

fn parse_value(value: &str) -> Option<(String, String, Choice)> {
    let mut parts = value.split(':');
    let (id, secret, choice) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || id.is_empty() || secret.is_empty() {
        return None;
    }
    Some((id.to_string(), secret.to_string(), Choice::parse(choice)?))
}
