//! Triggers other than the webhook: `trigger.schedule` (validation, the next-runs endpoint, one
//! execution per occurrence with a test clock, missed occurrences skipped or run once, the
//! occurrence claim) and `trigger.manual` with a JSON Schema for its parameters.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use serde_json::{json, Value};

use flowgate_nodes::{Clock, TestClock};

use crate::control::{create_json, create_ok, run_to_end};
use crate::helpers::{spawn_app, spawn_app_with, step, TestApp, ADMIN};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

fn schedule_doc(params: Value) -> Value {
    json!({
        "name": "scheduled", "description": "runs on a schedule",
        "nodes": [
            { "id": "tick", "type": "trigger.schedule", "params": params },
            { "id": "echo", "type": "core.transform", "params": { "value": "{{ tick.output.scheduled_at }}" } }
        ],
        "edges": [ { "from": "tick", "to": "echo" } ]
    })
}

#[tokio::test]
async fn invalid_cron_time_zone_or_both_cron_and_every_are_422() {
    let app = spawn_app().await;
    let before = app.counts().await;
    for (params, path, text) in [
        (
            json!({ "cron": "not a cron" }),
            "nodes[0].params.cron",
            "cron",
        ),
        (
            json!({ "cron": "61 * * * *" }),
            "nodes[0].params.cron",
            "cron",
        ),
        (
            json!({ "cron": "0 9 * * 1-5", "timezone": "Mars/Olympus" }),
            "nodes[0].params.timezone",
            "IANA",
        ),
        (
            json!({ "cron": "*/5 * * * *", "every": "5m" }),
            "nodes[0].params",
            "not both",
        ),
        (json!({}), "nodes[0].params", "every"),
        (
            json!({ "every": "500ms" }),
            "nodes[0].params.every",
            "too short",
        ),
        (
            json!({ "every": "fortnightly" }),
            "nodes[0].params.every",
            "duration",
        ),
    ] {
        let r = create_json(&app, &schedule_doc(params.clone())).await;
        r.expect_error(422, "invalid");
        assert!(
            r.detail_paths().iter().any(|p| p == path),
            "{params}: {:?}",
            r.detail_paths()
        );
        assert!(
            r.error_text().contains(text),
            "{params}: {}",
            r.error_text()
        );
    }
    assert_eq!(app.counts().await, before);
}

async fn next_runs(app: &TestApp, id: &str) -> Vec<DateTime<Utc>> {
    let r = app
        .get(ADMIN, &format!("/api/v1/workflows/{id}/schedule"))
        .await;
    r.expect(200)["next_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn the_next_ten_run_times_are_available() {
    let app = spawn_app().await;
    // 09:00 on weekdays in Berlin is 07:00 or 08:00 UTC (summer / winter time).
    let id = create_ok(
        &app,
        &schedule_doc(json!({ "cron": "0 9 * * 1-5", "timezone": "Europe/Berlin" })),
    )
    .await;
    let runs = next_runs(&app, &id).await;
    assert_eq!(runs.len(), 10);
    let now = Utc::now();
    assert!(runs[0] > now, "{runs:?}");
    for w in runs.windows(2) {
        assert!(w[0] < w[1], "{runs:?}");
    }
    for t in &runs {
        assert!(
            matches!(t.hour(), 7 | 8) && t.minute() == 0,
            "{t} is not 09:00 in Berlin"
        );
        assert!(
            !matches!(t.weekday(), Weekday::Sat | Weekday::Sun),
            "{t} is a weekend"
        );
    }
    // Two weeks of weekdays hold exactly ten runs.
    assert!(runs[9] - runs[0] < chrono::Duration::days(14));

    let id = create_ok(&app, &schedule_doc(json!({ "every": "15m" }))).await;
    let runs = next_runs(&app, &id).await;
    assert_eq!(runs.len(), 10);
    for w in runs.windows(2) {
        assert_eq!(w[1] - w[0], chrono::Duration::minutes(15));
    }
    assert_eq!(runs[0].timestamp_millis() % (15 * MINUTE), 0);

    // A workflow without a schedule has no run times.
    let manual = app
        .workflow_id(ADMIN, &crate::helpers::manual_yaml("by hand"))
        .await;
    app.get(ADMIN, &format!("/api/v1/workflows/{manual}/schedule"))
        .await
        .expect_error(422, "invalid");
}

/// A server on a test clock set `into` past the start of a period of `period` ms.
async fn clocked_at(period: i64, into: i64) -> (TestApp, Arc<TestClock>) {
    let clock = Arc::new(TestClock::default());
    let now = clock.now_ms();
    clock.advance((period - now.rem_euclid(period) + into).rem_euclid(period));
    let c = clock.clone();
    let app = spawn_app_with(move |_, o| o.clock = c).await;
    (app, clock)
}

/// Waits until the scheduler has seen this workflow (or processed it up to `at_least`).
async fn scheduler_saw(app: &TestApp, id: &str, at_least: i64) {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = app
            .store()
            .kv_get("schedule", &format!("{id}:1"))
            .await
            .unwrap()
            .and_then(|(_, v)| v.parse::<i64>().ok());
        if seen.is_some_and(|v| v >= at_least) {
            return;
        }
        assert!(Instant::now() < until, "the scheduler never processed {id}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn executions_of(app: &TestApp, id: &str) -> Vec<Value> {
    app.get(ADMIN, &format!("/api/v1/executions?workflow_id={id}"))
        .await
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Polls until the workflow has `n` executions; returns their scheduled times, sorted.
async fn wait_runs(app: &TestApp, id: &str, n: usize) -> Vec<String> {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let items = executions_of(app, id).await;
        assert!(items.len() <= n, "more than {n} runs: {items:#?}");
        if items.len() == n {
            let mut at = Vec::new();
            for e in items {
                let exec = app.wait_finished(ADMIN, e["id"].as_str().unwrap()).await;
                assert_eq!(exec["status"], "succeeded", "{exec:#}");
                assert_eq!(exec["trigger"]["type"], "schedule");
                let scheduled = step(&exec, "tick")["output"]["output"]["scheduled_at"]
                    .as_str()
                    .unwrap()
                    .to_string();
                assert_eq!(step(&exec, "echo")["output"]["output"], scheduled.as_str());
                at.push(scheduled);
            }
            at.sort();
            return at;
        }
        assert!(Instant::now() < until, "{id} did not reach {n} runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn iso(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[tokio::test]
async fn each_occurrence_starts_exactly_one_execution() {
    // 5 s into a minute, so the real seconds the test takes never reach the next occurrence.
    let (app, clock) = clocked_at(MINUTE, 5_000).await;
    let id = create_ok(&app, &schedule_doc(json!({ "every": "1m" }))).await;
    scheduler_saw(&app, &id, 0).await;
    assert!(executions_of(&app, &id).await.is_empty());
    let first = clock.now_ms() - clock.now_ms().rem_euclid(MINUTE) + MINUTE;

    clock.advance(MINUTE);
    assert_eq!(wait_runs(&app, &id, 1).await, vec![iso(first)]);
    scheduler_saw(&app, &id, first).await;
    clock.advance(MINUTE);
    let runs = wait_runs(&app, &id, 2).await;
    assert_eq!(runs, vec![iso(first), iso(first + MINUTE)]);
    scheduler_saw(&app, &id, first + MINUTE).await;

    // Another process that saw the same occurrence (its claim is older) starts nothing.
    let row = app.store().workflow_any_org(&id).await.unwrap().unwrap();
    app.store()
        .kv_put(
            &row.org_id,
            "schedule",
            &format!("{id}:1"),
            &first.to_string(),
            None,
        )
        .await
        .unwrap();
    let started = flowgate_server::schedules::fire_due(&app.running.state, &row, clock.now_ms())
        .await
        .unwrap();
    assert_eq!(started, 0);
    assert_eq!(executions_of(&app, &id).await.len(), 2);

    // A disabled schedule starts nothing.
    app.json(
        reqwest::Method::PATCH,
        ADMIN,
        &format!("/api/v1/workflows/{id}"),
        &json!({ "enabled": false }),
    )
    .await
    .expect(200);
    let other = create_ok(&app, &schedule_doc(json!({ "every": "1m" }))).await;
    scheduler_saw(&app, &other, 0).await;
    clock.advance(MINUTE);
    wait_runs(&app, &other, 1).await;
    assert_eq!(executions_of(&app, &id).await.len(), 2);
}

#[tokio::test]
async fn missed_occurrences_are_skipped_or_run_once() {
    // Half past the hour: the hourly occurrences are far from the real time the test takes.
    let (app, clock) = clocked_at(HOUR, 30 * MINUTE).await;
    let skip = create_ok(&app, &schedule_doc(json!({ "every": "1h" }))).await;
    let once = create_ok(
        &app,
        &schedule_doc(json!({ "every": "1h", "missed": "run_once" })),
    )
    .await;
    scheduler_saw(&app, &skip, 0).await;
    scheduler_saw(&app, &once, 0).await;
    let base = clock.now_ms() - clock.now_ms().rem_euclid(HOUR);

    // Three hours pass unseen: occurrences at +1h, +2h and +3h are all late now.
    clock.advance(3 * HOUR);
    assert_eq!(wait_runs(&app, &once, 1).await, vec![iso(base + 3 * HOUR)]);
    scheduler_saw(&app, &skip, base + 3 * HOUR).await;
    assert!(
        executions_of(&app, &skip).await.is_empty(),
        "missed occurrences ran although the trigger skips them"
    );

    // The next occurrence, on time, runs for both.
    clock.advance(30 * MINUTE + 5_000);
    assert_eq!(wait_runs(&app, &skip, 1).await, vec![iso(base + 4 * HOUR)]);
    assert_eq!(
        wait_runs(&app, &once, 2).await,
        vec![iso(base + 3 * HOUR), iso(base + 4 * HOUR)]
    );
}

// ---------------------------------------------------------------------------------------------
// trigger.manual parameters

fn parameters_doc(schema: Value) -> Value {
    json!({
        "name": "scale by hand", "description": "manual run with parameters",
        "nodes": [
            { "id": "start", "type": "trigger.manual", "params": { "parameters": schema } },
            { "id": "echo", "type": "core.transform", "params": { "value": "{{ start.output.group_id }} by {{ start.output.adjustment }}" } }
        ],
        "edges": [ { "from": "start", "to": "echo" } ]
    })
}

#[tokio::test]
async fn a_manual_payload_is_checked_against_the_parameters_schema() {
    let app = spawn_app().await;
    let schema = json!({
        "type": "object",
        "required": ["group_id", "adjustment"],
        "properties": {
            "group_id": { "type": "string", "pattern": "^sig-" },
            "adjustment": { "type": "integer", "minimum": 1, "maximum": 10 }
        },
        "additionalProperties": false
    });
    let id = create_ok(&app, &parameters_doc(schema)).await;
    let path = format!("/api/v1/workflows/{id}/executions");
    let before = app.counts().await;

    let r = app
        .post(
            ADMIN,
            &path,
            &json!({ "group_id": "eg-1", "adjustment": 50, "extra": true }),
        )
        .await;
    r.expect_error(422, "invalid");
    let paths = r.detail_paths();
    for p in ["/group_id", "/adjustment"] {
        assert!(paths.iter().any(|x| x == p), "{p} missing in {paths:?}");
    }
    assert_eq!(
        paths.len(),
        3,
        "every problem is listed: {}",
        r.error_text()
    );
    assert!(r.error_text().contains("extra"), "{}", r.error_text());

    let r = app.post(ADMIN, &path, &json!({})).await;
    r.expect_error(422, "invalid");
    let text = r.error_text();
    assert!(
        text.contains("group_id") && text.contains("adjustment"),
        "{text}"
    );
    let r = app.post(ADMIN, &path, &json!([1, 2])).await;
    r.expect_error(422, "invalid");
    assert_eq!(app.counts().await, before, "a refused run stored something");

    let exec = run_to_end(
        &app,
        &id,
        &json!({ "group_id": "sig-e26f1234", "adjustment": 2 }),
    )
    .await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    assert_eq!(step(&exec, "echo")["output"]["output"], "sig-e26f1234 by 2");

    // An invalid schema is refused when the workflow is saved.
    let r = create_json(&app, &parameters_doc(json!({ "type": "objekt" }))).await;
    r.expect_error(422, "invalid");
    assert!(
        r.detail_paths()
            .iter()
            .any(|p| p.starts_with("nodes[0].params")),
        "{:?}",
        r.detail_paths()
    );
}
