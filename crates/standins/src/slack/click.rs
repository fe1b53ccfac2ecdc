//! Sending a button click to Flowgate the way Slack does: a `block_actions` payload, form-encoded
//! as the single field `payload`, signed with `X-Slack-Request-Timestamp` and `X-Slack-Signature`
//! (v0, HMAC-SHA256); with knobs to forge the signature or age the timestamp.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{Message, TEAM_ID};

/// Who clicks.
#[derive(Debug, Clone)]
pub struct ClickUser {
    pub id: String,
    pub name: String,
}

impl ClickUser {
    pub fn new(id: &str, name: &str) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
        }
    }
}

/// How to spoil a request's signing, to test that Flowgate refuses it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tamper {
    /// Signed exactly as Slack signs.
    #[default]
    None,
    /// A well-formed signature that does not match.
    ForgedSignature,
    /// Signed correctly, but with a timestamp 10 minutes old (a replay).
    StaleTimestamp,
    /// Signed correctly, but with a timestamp 10 minutes ahead.
    FutureTimestamp,
    /// Signed with another secret.
    WrongSecret,
    /// No `X-Slack-Signature` header at all.
    Unsigned,
}

/// Slack's v0 signature: `v0=` + hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)).
pub fn sign(signing_secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// The `block_actions` payload Slack sends when `user` clicks `button` (a button element with its
/// `block_id`) on `message`.
pub fn block_actions_payload(
    message: &Message,
    button: &Value,
    user: &ClickUser,
    response_url: &str,
) -> Value {
    let now = chrono::Utc::now();
    let action_ts = format!("{}.{:06}", now.timestamp(), now.timestamp_subsec_micros());
    json!({
        "type": "block_actions",
        "user": { "id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID },
        "api_app_id": "A0STANDIN",
        "token": "legacy-verification-token",
        "container": { "type": "message", "message_ts": message.ts, "channel_id": message.channel, "is_ephemeral": false },
        "trigger_id": format!("{}.{}.{}", now.timestamp(), 1234, uuid::Uuid::new_v4().simple()),
        "team": { "id": TEAM_ID, "domain": "standin" },
        "enterprise": null,
        "is_enterprise_install": false,
        "channel": { "id": message.channel, "name": "ops" },
        "message": { "type": "message", "ts": message.ts, "bot_id": super::BOT_ID, "text": message.text, "blocks": message.blocks },
        "state": { "values": {} },
        "response_url": response_url,
        "actions": [{
            "type": "button",
            "action_id": button["action_id"],
            "block_id": button["block_id"],
            "text": { "type": "plain_text", "text": button["text"]["text"], "emoji": true },
            "value": button["value"],
            "style": button["style"],
            "action_ts": action_ts,
        }],
    })
}

/// The raw body Slack sends: `payload=<URL-encoded JSON>`.
pub fn form_body(payload: &Value) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

/// POSTs `payload` to `url` as Slack's interactivity request, signed with `signing_secret`
/// (unless `tamper` says otherwise).
pub async fn send_interaction(
    http: &reqwest::Client,
    url: &str,
    signing_secret: &str,
    payload: &Value,
    tamper: Tamper,
) -> reqwest::Result<reqwest::Response> {
    let body = form_body(payload);
    let now = chrono::Utc::now().timestamp();
    let timestamp = match tamper {
        Tamper::StaleTimestamp => now - 600,
        Tamper::FutureTimestamp => now + 600,
        _ => now,
    }
    .to_string();
    let signature = match tamper {
        Tamper::WrongSecret => sign("not-the-signing-secret", &timestamp, body.as_bytes()),
        Tamper::ForgedSignature => {
            let good = sign(signing_secret, &timestamp, body.as_bytes());
            let flipped = if good.ends_with('0') { '1' } else { '0' };
            format!("{}{flipped}", &good[..good.len() - 1])
        }
        _ => sign(signing_secret, &timestamp, body.as_bytes()),
    };
    let mut req = http
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
        .header("X-Slack-Request-Timestamp", &timestamp);
    if tamper != Tamper::Unsigned {
        req = req.header("X-Slack-Signature", signature);
    }
    req.body(body).send().await
}
