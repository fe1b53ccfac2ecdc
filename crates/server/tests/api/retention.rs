//! Retention: finished executions past the retention period are purged with their steps; an
//! unfinished one never is.

use serde_json::json;
use sqlx::Row;

use flowgate_server::retention::purge_once;

use crate::helpers::{manual_yaml, spawn_app, TestApp, ADMIN};

const DAY_MS: i64 = 86_400_000;

async fn steps_of(app: &TestApp, execution_id: &str) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM steps WHERE execution_id = $1")
        .bind(execution_id.to_string())
        .fetch_one(app.store().pool())
        .await
        .unwrap()
        .try_get::<i64, _>("n")
        .unwrap()
}

#[tokio::test]
async fn old_finished_executions_are_purged_and_unfinished_ones_kept() {
    let app = spawn_app().await;
    let ok = app.workflow_id(ADMIN, &manual_yaml("purged")).await;
    let failing = "name: failing\ndescription: d\nnodes:\n  - { id: start, type: trigger.manual }\n  - { id: f, type: core.fail, params: { message: no } }\nedges:\n  - { from: start, to: f }\n";
    let bad = app.workflow_id(ADMIN, failing).await;
    let succeeded = app.run_manual(ADMIN, &ok, &json!({})).await;
    let failed = app.run_manual(ADMIN, &bad, &json!({})).await;
    app.wait_finished(ADMIN, &succeeded).await;
    app.wait_finished(ADMIN, &failed).await;
    assert_eq!(steps_of(&app, &succeeded).await, 2);

    // The same data on a server whose engine runs nothing: a new execution stays queued.
    let app = app.restart_with(|_, o| o.engine.max_concurrency = 0).await;
    let queued = app.run_manual(ADMIN, &ok, &json!({})).await;
    assert_eq!(app.execution(ADMIN, &queued).await["status"], "queued");
    assert_eq!(app.count("executions").await, 3);

    let store = app.store().clone();
    let now = flowgate_store::now_ms();
    // Nothing is old enough yet.
    assert_eq!(purge_once(&store, 30, now).await.unwrap(), 0);
    assert_eq!(app.count("executions").await, 3);
    // 31 days on, the finished ones are older than 30 days.
    let later = now + 31 * DAY_MS;
    assert_eq!(purge_once(&store, 30, later).await.unwrap(), 2);
    for id in [&succeeded, &failed] {
        app.get(ADMIN, &format!("/api/v1/executions/{id}"))
            .await
            .expect_error(404, "not_found");
        assert_eq!(steps_of(&app, id).await, 0, "steps of {id} survived");
    }
    let kept = app.execution(ADMIN, &queued).await;
    assert_eq!(kept["status"], "queued");
    assert_eq!(steps_of(&app, &queued).await, 1, "the trigger step stays");
    // Far in the future still nothing unfinished goes.
    assert_eq!(
        purge_once(&store, 30, later + 3650 * DAY_MS).await.unwrap(),
        0
    );
    assert_eq!(app.count("executions").await, 1);
    assert_eq!(app.count("steps").await, 1);
    // The workflows themselves are not retention's business.
    assert_eq!(app.count("workflows").await, 2);

    // Once cancelled (finished), it goes too.
    app.post(
        ADMIN,
        &format!("/api/v1/executions/{queued}/cancel"),
        &json!({}),
    )
    .await
    .expect(200);
    assert_eq!(purge_once(&store, 30, later).await.unwrap(), 1);
    assert_eq!(app.count("executions").await, 0);
    assert_eq!(app.count("steps").await, 0);
}

#[tokio::test]
async fn the_retention_period_is_configurable() {
    let app = spawn_app().await;
    let ok = app.workflow_id(ADMIN, &manual_yaml("short-lived")).await;
    let id = app.run_manual(ADMIN, &ok, &json!({})).await;
    app.wait_finished(ADMIN, &id).await;
    let store = app.store().clone();
    let now = flowgate_store::now_ms();
    assert_eq!(purge_once(&store, 7, now + 6 * DAY_MS).await.unwrap(), 0);
    assert_eq!(purge_once(&store, 7, now + 8 * DAY_MS).await.unwrap(), 1);
    assert_eq!(app.count("executions").await, 0);
}
