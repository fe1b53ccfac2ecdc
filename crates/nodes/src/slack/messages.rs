//! What Flowgate's approval messages say in Slack: the request with its Approve and Deny
//! buttons, the message once decided (no buttons), and the ephemeral answers to late or
//! unauthorised clicks. Pure: no IO.

use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Value};

use super::interaction::{button_value, Choice, APPROVAL_BLOCK, APPROVE_ACTION, DENY_ACTION};

/// Slack refuses a section text longer than this.
const SECTION_TEXT_MAX: usize = 3000;

/// The text and blocks of an approval request: the notes, who may decide and until when, and
/// the two buttons whose values carry the approval id and its secret.
pub fn approval_request(
    notes: &str,
    approval_id: &str,
    secret: &str,
    approvers: Option<&[String]>,
    expires_at_ms: i64,
) -> (String, Vec<Value>) {
    let mut context = format!(
        "Approval requested by Flowgate · expires {}",
        slack_date(expires_at_ms)
    );
    if let Some(list) = approvers.filter(|l| !l.is_empty()) {
        let names: Vec<String> = list.iter().map(|id| format!("<@{id}>")).collect();
        context.push_str(&format!(" · approvers: {}", names.join(", ")));
    }
    let button = |label: &str, action_id: &str, style: &str, choice: Choice| {
        json!({
            "type": "button",
            "action_id": action_id,
            "text": { "type": "plain_text", "text": label },
            "style": style,
            "value": button_value(approval_id, secret, choice),
        })
    };
    let blocks = vec![
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": clip(notes, SECTION_TEXT_MAX) } }),
        json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": context }] }),
        json!({
            "type": "actions",
            "block_id": APPROVAL_BLOCK,
            "elements": [
                button("Approve", APPROVE_ACTION, "primary", Choice::Approve),
                button("Deny", DENY_ACTION, "danger", Choice::Deny),
            ],
        }),
    ];
    (format!("Approval needed: {notes}"), blocks)
}

/// The text and blocks that replace an approval message once it is decided: the notes and the
/// outcome with who decided and when, without buttons. `status` is `approved`, `denied` or
/// `timed_out`; `decided_by` is the recorded `{id, name}`.
pub fn decided_message(
    notes: &str,
    status: &str,
    decided_by: Option<&Value>,
    decided_at_ms: Option<i64>,
) -> (String, Vec<Value>) {
    let who = decided_by.map(person);
    let when = decided_at_ms.map(slack_date);
    let (icon, plain, rich) = match status {
        "approved" | "denied" => {
            let verb = if status == "approved" {
                "Approved"
            } else {
                "Denied"
            };
            let icon = if status == "approved" {
                ":white_check_mark:"
            } else {
                ":x:"
            };
            let plain_who = decided_by
                .map(plain_name)
                .unwrap_or_else(|| "someone".into());
            let rich_who = who.unwrap_or_else(|| "someone".into());
            let at = when.map(|w| format!(" at {w}")).unwrap_or_default();
            (
                icon,
                format!("{verb} by {plain_who}"),
                format!("*{verb}* by {rich_who}{at}"),
            )
        }
        "timed_out" => {
            let at = when.map(|w| format!(" ({w})")).unwrap_or_default();
            (
                ":hourglass:",
                "Timed out without a decision".to_string(),
                format!("*Timed out* without a decision{at}"),
            )
        }
        other => (
            ":grey_question:",
            format!("Closed: {other}"),
            format!("*Closed*: {}", escape(other)),
        ),
    };
    let blocks = vec![
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": clip(notes, SECTION_TEXT_MAX) } }),
        json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": format!("{icon} {rich}") }] }),
    ];
    (format!("{plain}: {notes}"), blocks)
}

/// The ephemeral answer to a click by someone outside the approvers list.
pub fn not_an_approver_text() -> String {
    "You are not an approver of this request, so your click decided nothing.".to_string()
}

/// The ephemeral answer to a click on a request that is already closed.
pub fn already_decided_text(status: &str, decided_by: Option<&Value>) -> String {
    let who = decided_by
        .map(plain_name)
        .unwrap_or_else(|| "someone".into());
    match status {
        "approved" => format!("This request was already approved by {who}."),
        "denied" => format!("This request was already denied by {who}."),
        "timed_out" => "This request already timed out; nothing was decided.".to_string(),
        other => format!("This request is already closed ({other})."),
    }
}

/// Milliseconds since the epoch as RFC 3339 (UTC, seconds).
pub fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

/// A date Slack shows in each reader's time zone, with an RFC 3339 fallback.
fn slack_date(ms: i64) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} at {{time}}|{}>",
        ms.div_euclid(1000),
        rfc3339(ms)
    )
}

/// `<@U123>` for a Slack user, else the escaped name.
fn person(decided_by: &Value) -> String {
    let id = decided_by["id"].as_str().unwrap_or_default();
    let via_slack = decided_by["via"].as_str().is_none_or(|v| v == "slack");
    if via_slack && is_slack_user_id(id) {
        format!("<@{id}>")
    } else {
        escape(&plain_name(decided_by))
    }
}

fn plain_name(decided_by: &Value) -> String {
    match decided_by {
        Value::String(s) => s.clone(),
        v => v["name"]
            .as_str()
            .or(v["id"].as_str())
            .unwrap_or("someone")
            .to_string(),
    }
}

/// Slack user ids look like `U012AB3CD` or `W012AB3CD`.
pub fn is_slack_user_id(id: &str) -> bool {
    id.len() >= 3
        && (id.starts_with('U') || id.starts_with('W'))
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Escapes the three characters Slack's mrkdwn treats as control characters.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}
