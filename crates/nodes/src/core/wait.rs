//! `core.wait`: pauses the run for a `duration` or until a moment (`until`, RFC 3339). The step
//! suspends with its wake-up time and holds nothing in memory; the engine resumes it when due.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use flowgate_model::parse_duration;
use flowgate_model::template::has_template;

use crate::{Category, Descriptor, NodeContext, NodeError, Outcome, Problem, TypedNode, Wake};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitParams {
    /// How long to wait, e.g. `30s`, `15m`, `2h`, `7d` (set this or `until`).
    #[serde(default)]
    pub duration: Option<String>,
    /// When to continue, as an RFC 3339 time such as `2026-05-01T09:00:00Z` (set this or `duration`).
    #[serde(default)]
    pub until: Option<String>,
}

pub struct Wait;

static DESCRIPTOR: Descriptor = Descriptor::new("core.wait", "Wait", Category::Control, "Pauses the run for a duration or until a given time, durably: nothing is held in memory while it waits.");

/// The latest wake-up `chrono` can still print: year 9999.
const MAX_MS: i64 = 253_402_300_799_000;

fn parse_until(s: &str) -> Result<i64, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("`{s}` is not an RFC 3339 time such as 2026-05-01T09:00:00Z: {e}"))
        .and_then(|ms| {
            if (0..=MAX_MS).contains(&ms) {
                Ok(ms)
            } else {
                Err(format!("`{s}` is out of range"))
            }
        })
}

fn duration_ms(s: &str) -> Result<i64, String> {
    let d = parse_duration(s)?;
    i64::try_from(d.as_millis())
        .ok()
        .filter(|ms| *ms <= MAX_MS)
        .ok_or_else(|| format!("`{s}` is too long a wait"))
}

fn format_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn done(wake_at: i64) -> Outcome {
    Outcome::output(json!({ "output": { "waited_until": format_ms(wake_at) } }))
}

#[async_trait]
impl TypedNode for Wait {
    type Params = WaitParams;

    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn check(&self, p: &WaitParams) -> Vec<Problem> {
        match (&p.duration, &p.until) {
            (Some(_), Some(_)) => vec![Problem::new(
                "",
                "set either `duration` or `until`, not both",
            )],
            (None, None) => vec![Problem::new(
                "",
                "set `duration` (e.g. 15m) or `until` (an RFC 3339 time)",
            )],
            (Some(d), None) if !has_template(d) => duration_ms(d)
                .err()
                .map(|m| Problem::new("duration", m))
                .into_iter()
                .collect(),
            (None, Some(u)) if !has_template(u) => parse_until(u)
                .err()
                .map(|m| Problem::new("until", m))
                .into_iter()
                .collect(),
            _ => Vec::new(),
        }
    }

    async fn run(&self, ctx: &NodeContext, p: WaitParams) -> Result<Outcome, NodeError> {
        let now = ctx.now_ms();
        let wake_at = match (&p.duration, &p.until) {
            (Some(d), None) => now
                .saturating_add(duration_ms(d).map_err(NodeError::new)?)
                .min(MAX_MS),
            (None, Some(u)) => parse_until(u).map_err(NodeError::new)?,
            _ => return Err(NodeError::new("set either `duration` or `until`")),
        };
        if wake_at <= now {
            return Ok(done(wake_at));
        }
        Ok(Outcome::Suspend {
            wake_at,
            state: json!({ "wake_at": wake_at }),
            approval: None,
        })
    }

    async fn resume(
        &self,
        ctx: &NodeContext,
        _: WaitParams,
        state: Value,
        _: Wake,
    ) -> Result<Outcome, NodeError> {
        let wake_at = state
            .get("wake_at")
            .and_then(Value::as_i64)
            .ok_or_else(|| NodeError::new("this wait lost its wake-up time"))?;
        if ctx.now_ms() < wake_at {
            // Woken early (should not happen): keep waiting rather than continue too soon.
            return Ok(Outcome::Suspend {
                wake_at,
                state,
                approval: None,
            });
        }
        Ok(done(wake_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(v: Value) -> WaitParams {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn exactly_one_of_duration_and_until() {
        assert_eq!(
            Wait.check(&params(
                json!({ "duration": "5m", "until": "2030-01-01T00:00:00Z" })
            ))
            .len(),
            1
        );
        assert_eq!(Wait.check(&params(json!({}))).len(), 1);
        assert!(Wait.check(&params(json!({ "duration": "5m" }))).is_empty());
        assert!(Wait
            .check(&params(json!({ "until": "2030-01-01T00:00:00+02:00" })))
            .is_empty());
        assert!(Wait
            .check(&params(json!({ "until": "{{ t.output.at }}" })))
            .is_empty());
    }

    #[test]
    fn bad_values_are_named() {
        let p = Wait.check(&params(json!({ "duration": "5 minutes" })));
        assert_eq!(p[0].path, "duration");
        let p = Wait.check(&params(json!({ "until": "tomorrow" })));
        assert_eq!(p[0].path, "until");
        assert!(p[0].message.contains("RFC 3339"));
        assert!(
            Wait.check(&params(json!({ "duration": "99999999999d" })))
                .len()
                == 1
        );
    }

    #[test]
    fn formats_with_millis() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
    }
}
