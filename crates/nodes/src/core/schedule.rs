//! `trigger.schedule`: starts runs on a cron schedule in a time zone, or at a fixed rate.
//!
//! The node only describes the schedule; the server claims each occurrence durably (one run per
//! occurrence, however many processes) and asks [`next_occurrences`] when the next ones are.
//! - `cron`: 5 fields (`min hour dom month dow`) or 6 with seconds first, evaluated in `timezone`
//!   (an IANA name, default `UTC`) by the `croner` crate, so daylight-saving changes are handled
//!   in local time.
//! - `every`: a fixed rate such as `15m`, aligned to the Unix epoch (UTC), so every process computes
//!   the same occurrences: `15m` fires at :00, :15, :30 and :45. `timezone` does not apply to it.
//! - `missed`: what to do with occurrences that passed while no process was running: `skip` them
//!   (default) or `run_once` (one run for all of them, with the latest missed time).

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use flowgate_model::parse_duration;

use crate::{Category, Descriptor, NodeContext, NodeError, Outcome, Problem, TypedNode};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Missed {
    /// Occurrences missed while the server was down are dropped.
    #[default]
    Skip,
    /// One run is started for the missed occurrences (the latest of them).
    RunOnce,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleParams {
    /// A cron expression: 5 fields (`*/5 * * * *`), or 6 with seconds first. Set this or `every`.
    #[serde(default)]
    pub cron: Option<String>,
    /// A fixed rate such as `30s`, `15m` or `1h`, aligned to the Unix epoch. Set this or `cron`.
    #[serde(default)]
    pub every: Option<String>,
    /// IANA time zone the cron expression is read in, e.g. `Europe/Berlin` (default `UTC`).
    #[serde(default)]
    pub timezone: Option<String>,
    /// What to do with occurrences missed while no server was running.
    #[serde(default)]
    pub missed: Missed,
}

pub struct Schedule;

static DESCRIPTOR: Descriptor = Descriptor {
    error_port: false,
    ..Descriptor::new(
        "trigger.schedule",
        "Schedule",
        Category::Triggers,
        "Starts a run on a cron schedule in a time zone, or at a fixed rate.",
    )
};

/// A schedule ready to compute occurrences.
enum Plan {
    Cron(Box<Cron>, Tz),
    Every(i64),
}

fn parse_cron(expr: &str) -> Result<Cron, String> {
    let fields = expr.split_whitespace().count();
    if !(5..=6).contains(&fields) {
        return Err(format!("`{expr}` is not a cron expression: write 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first"));
    }
    Cron::new(expr)
        .with_seconds_optional()
        .parse()
        .map_err(|e| format!("`{expr}` is not a valid cron expression: {e}"))
}

fn parse_tz(name: &str) -> Result<Tz, String> {
    Tz::from_str(name.trim())
        .map_err(|_| format!("`{name}` is not an IANA time zone such as `UTC` or `Europe/Berlin`"))
}

fn parse_every(text: &str) -> Result<i64, String> {
    let ms = parse_duration(text)?.as_millis();
    if ms < 1000 {
        return Err(format!(
            "`{text}` is too short: a schedule runs at most once a second"
        ));
    }
    i64::try_from(ms).map_err(|_| format!("`{text}` is too long"))
}

fn plan(p: &ScheduleParams) -> Result<Plan, Vec<Problem>> {
    let mut problems = Vec::new();
    let tz = match p.timezone.as_deref() {
        Some(name) => parse_tz(name)
            .map_err(|m| problems.push(Problem::new("timezone", m)))
            .ok(),
        None => Some(Tz::UTC),
    };
    let plan = match (&p.cron, &p.every) {
        (Some(_), Some(_)) => {
            problems.push(Problem::new("", "set either `cron` or `every`, not both"));
            None
        }
        (None, None) => {
            problems.push(Problem::new(
                "",
                "set `cron` (e.g. `0 9 * * 1-5`) or `every` (e.g. `15m`)",
            ));
            None
        }
        (Some(expr), None) => match parse_cron(expr) {
            Ok(cron) => tz.map(|tz| Plan::Cron(Box::new(cron), tz)),
            Err(m) => {
                problems.push(Problem::new("cron", m));
                None
            }
        },
        (None, Some(every)) => parse_every(every)
            .map(Plan::Every)
            .map_err(|m| problems.push(Problem::new("every", m)))
            .ok(),
    };
    match plan {
        Some(plan) if problems.is_empty() => Ok(plan),
        _ => Err(problems),
    }
}

/// The next `n` occurrences strictly after `after`, in UTC. An error describes an invalid
/// schedule, or a cron expression that never matches (`0 0 30 2 *`).
pub fn next_occurrences(
    params: &ScheduleParams,
    after: DateTime<Utc>,
    n: usize,
) -> Result<Vec<DateTime<Utc>>, String> {
    let plan = plan(params).map_err(|problems| {
        problems
            .iter()
            .map(|p| {
                if p.path.is_empty() {
                    p.message.clone()
                } else {
                    format!("{}: {}", p.path, p.message)
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let mut out = Vec::with_capacity(n.min(1000));
    match plan {
        Plan::Every(step) => {
            let mut t = after.timestamp_millis().div_euclid(step) * step;
            for _ in 0..n {
                t = t
                    .checked_add(step)
                    .ok_or("the schedule runs past the representable time")?;
                out.push(
                    Utc.timestamp_millis_opt(t)
                        .single()
                        .ok_or("the schedule runs past the representable time")?,
                );
            }
        }
        Plan::Cron(cron, tz) => {
            // Whole seconds: croner steps by seconds and would keep a fraction.
            let mut t = after.with_nanosecond(0).unwrap_or(after).with_timezone(&tz);
            for _ in 0..n {
                t = cron.find_next_occurrence(&t, false).map_err(|e| {
                    format!("`{}` has no next occurrence: {e}", cron.pattern.as_str())
                })?;
                out.push(t.with_timezone(&Utc));
            }
        }
    }
    Ok(out)
}

/// The trigger output of the run started for the occurrence `scheduled_at`.
pub fn trigger_output(scheduled_at: DateTime<Utc>) -> Value {
    json!({ "output": { "scheduled_at": scheduled_at.to_rfc3339_opts(SecondsFormat::Secs, true) } })
}

#[async_trait]
impl TypedNode for Schedule {
    type Params = ScheduleParams;

    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn check(&self, p: &ScheduleParams) -> Vec<Problem> {
        match plan(p) {
            Err(problems) => problems,
            Ok(Plan::Cron(..)) => match next_occurrences(p, Utc::now(), 1) {
                Ok(_) => Vec::new(),
                Err(_) => vec![Problem::new(
                    "cron",
                    "this cron expression never matches a date",
                )],
            },
            Ok(Plan::Every(_)) => Vec::new(),
        }
    }

    async fn run(&self, _: &NodeContext, _: ScheduleParams) -> Result<Outcome, NodeError> {
        Err(NodeError::new(
            "`trigger.schedule` starts executions; it is not run as a step",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(v: Value) -> ScheduleParams {
        serde_json::from_value(v).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn fmt(v: Vec<DateTime<Utc>>) -> Vec<String> {
        v.into_iter()
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .collect()
    }

    #[test]
    fn cron_in_a_time_zone_follows_daylight_saving() {
        // 09:00 in Berlin is 08:00Z in winter and 07:00Z in summer (DST began 2025-03-30).
        let p = params(json!({ "cron": "0 9 * * *", "timezone": "Europe/Berlin" }));
        let got = fmt(next_occurrences(&p, at("2025-03-29T12:00:00Z"), 2).unwrap());
        assert_eq!(got, ["2025-03-30T07:00:00Z", "2025-03-31T07:00:00Z"]);
        let got = fmt(next_occurrences(&p, at("2025-03-28T08:00:00Z"), 1).unwrap());
        assert_eq!(got, ["2025-03-29T08:00:00Z"]);
    }

    #[test]
    fn six_fields_have_seconds_first() {
        let p = params(json!({ "cron": "30 */15 * * * *" }));
        let got = fmt(next_occurrences(&p, at("2025-01-01T00:00:30.500Z"), 3).unwrap());
        assert_eq!(
            got,
            [
                "2025-01-01T00:15:30Z",
                "2025-01-01T00:30:30Z",
                "2025-01-01T00:45:30Z"
            ]
        );
    }

    #[test]
    fn occurrences_are_strictly_after() {
        let p = params(json!({ "cron": "*/5 * * * *" }));
        assert_eq!(
            fmt(next_occurrences(&p, at("2025-01-01T00:05:00Z"), 1).unwrap()),
            ["2025-01-01T00:10:00Z"]
        );
    }

    #[test]
    fn every_is_epoch_aligned() {
        let p = params(json!({ "every": "15m" }));
        let got = fmt(next_occurrences(&p, at("2025-01-01T10:07:00Z"), 3).unwrap());
        assert_eq!(
            got,
            [
                "2025-01-01T10:15:00Z",
                "2025-01-01T10:30:00Z",
                "2025-01-01T10:45:00Z"
            ]
        );
        assert_eq!(
            fmt(next_occurrences(&p, at("2025-01-01T10:15:00Z"), 1).unwrap()),
            ["2025-01-01T10:30:00Z"]
        );
    }

    #[test]
    fn bad_schedules_are_save_time_problems() {
        let paths = |v: Value| {
            Schedule
                .check(&params(v))
                .into_iter()
                .map(|p| p.path)
                .collect::<Vec<_>>()
        };
        assert_eq!(paths(json!({ "cron": "61 * * * *" })), ["cron"]);
        assert_eq!(paths(json!({ "cron": "* * *" })), ["cron"]);
        assert_eq!(paths(json!({ "cron": "0 0 30 2 *" })), ["cron"]);
        assert_eq!(
            paths(json!({ "cron": "0 9 * * *", "timezone": "Mars/Olympus" })),
            ["timezone"]
        );
        assert_eq!(paths(json!({ "cron": "0 9 * * *", "every": "1h" })), [""]);
        assert_eq!(paths(json!({ "timezone": "UTC" })), [""]);
        assert_eq!(paths(json!({ "every": "500ms" })), ["every"]);
        assert!(paths(
            json!({ "cron": "0 9 * * 1-5", "timezone": "America/New_York", "missed": "run_once" })
        )
        .is_empty());
        assert!(
            next_occurrences(&params(json!({ "cron": "nope" })), Utc::now(), 1)
                .unwrap_err()
                .contains("cron")
        );
    }
}
