//! Store tests, run against SQLite and, when `FLOWGATE_TEST_POSTGRES_URL` names a server, against
//! PostgreSQL too (each test in a fresh database): claims, leases, fencing, cancellation,
//! approvals, pagination and retention.

mod common;

use serde_json::json;

use flowgate_store::executions::{Commit, Created, ExecutionFilter, NewExecution};
use flowgate_store::{new_id, now_ms, ExecStatus, ExecutionRow, StepRow, StepStatus, Store};

/// A fresh store on each backend available.
async fn stores() -> Vec<(String, Store, Option<tempfile::TempDir>)> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    out.push((
        "sqlite".to_string(),
        Store::open(&url).await.unwrap(),
        Some(dir),
    ));
    if let Some(url) = common::fresh_postgres_database().await {
        out.push((
            "postgres".to_string(),
            Store::open(&url).await.unwrap(),
            None,
        ));
    }
    out
}

fn execution(org: &str, workflow: &str) -> ExecutionRow {
    ExecutionRow {
        id: new_id(),
        org_id: org.into(),
        workflow_id: workflow.into(),
        workflow_version: 1,
        status: ExecStatus::Queued,
        trigger_type: "webhook".into(),
        trigger: json!({"body": {"a": 1}}),
        created_at: now_ms(),
        started_at: None,
        finished_at: None,
        error: None,
        wake_at: None,
        deadline: None,
    }
}

fn step(exec: &str, node: &str, status: StepStatus) -> StepRow {
    StepRow {
        execution_id: exec.into(),
        scope: String::new(),
        node_id: node.into(),
        seq: 0,
        node_type: "core.transform".into(),
        name: None,
        status,
        port: None,
        attempts: 1,
        input: Some(json!({"x": 1})),
        output: Some(json!({"output": 2})),
        error: None,
        state: None,
        started_at: Some(now_ms()),
        finished_at: Some(now_ms()),
    }
}

fn commit(exec: &str, owner: &str, steps: Vec<StepRow>, status: ExecStatus) -> Commit {
    Commit {
        execution_id: exec.into(),
        owner: owner.into(),
        steps,
        status,
        error: None,
        wake_at: None,
        lease_until: now_ms() + 30_000,
        approval: None,
        close_open: false,
    }
}

#[tokio::test]
async fn claims_are_exclusive_and_leases_fence_commits() {
    for (backend, store, _dir) in stores().await {
        let e = execution("org", "wf");
        let created = store
            .create_execution(NewExecution {
                execution: e.clone(),
                steps: vec![],
                dedup_key: None,
                lease: None,
            })
            .await
            .unwrap();
        assert_eq!(created, Created::New, "{backend}");
        let now = now_ms();
        let a = store.claim("a", now, now + 30_000, 10).await.unwrap();
        let b = store.claim("b", now, now + 30_000, 10).await.unwrap();
        assert_eq!(a.len(), 1, "{backend}: a claims the queued execution");
        assert!(b.is_empty(), "{backend}: b cannot claim a leased execution");
        assert!(
            !store
                .commit(commit(
                    &e.id,
                    "b",
                    vec![step(&e.id, "n", StepStatus::Succeeded)],
                    ExecStatus::Running
                ))
                .await
                .unwrap(),
            "{backend}: b is fenced"
        );
        assert!(
            store.steps(&e.id).await.unwrap().is_empty(),
            "{backend}: a fenced commit writes nothing"
        );
        // The lease expires (a's process died): b takes over and a is fenced from then on.
        let later = now + 31_000;
        assert_eq!(
            store
                .claim("b", later, later + 30_000, 10)
                .await
                .unwrap()
                .len(),
            1,
            "{backend}"
        );
        assert!(
            !store
                .commit(commit(
                    &e.id,
                    "a",
                    vec![step(&e.id, "n", StepStatus::Succeeded)],
                    ExecStatus::Running
                ))
                .await
                .unwrap(),
            "{backend}"
        );
        assert!(
            store
                .commit(commit(
                    &e.id,
                    "b",
                    vec![step(&e.id, "n", StepStatus::Succeeded)],
                    ExecStatus::Succeeded
                ))
                .await
                .unwrap(),
            "{backend}"
        );
        let got = store.execution("org", &e.id).await.unwrap().unwrap();
        assert_eq!(got.status, ExecStatus::Succeeded, "{backend}");
        assert!(got.finished_at.is_some(), "{backend}");
        assert_eq!(store.steps(&e.id).await.unwrap().len(), 1, "{backend}");
        // Finished executions are not claimed again.
        assert!(
            store
                .claim("c", later + 60_000, later + 90_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn dedup_keys_make_repeated_deliveries_no_ops() {
    for (backend, store, _dir) in stores().await {
        let first = execution("org", "wf");
        let id = first.id.clone();
        let new = |e: ExecutionRow| NewExecution {
            execution: e,
            steps: vec![],
            dedup_key: Some("sns:msg-1".into()),
            lease: None,
        };
        assert_eq!(
            store.create_execution(new(first)).await.unwrap(),
            Created::New,
            "{backend}"
        );
        assert_eq!(
            store
                .create_execution(new(execution("org", "wf")))
                .await
                .unwrap(),
            Created::Duplicate(id),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn waiting_executions_are_claimed_when_due_and_cancel_fences_the_worker() {
    for (backend, store, _dir) in stores().await {
        let e = execution("org", "wf");
        store
            .create_execution(NewExecution {
                execution: e.clone(),
                steps: vec![],
                dedup_key: None,
                lease: Some(("w".into(), now_ms() + 30_000)),
            })
            .await
            .unwrap();
        let mut c = commit(
            &e.id,
            "w",
            vec![step(&e.id, "wait", StepStatus::Waiting)],
            ExecStatus::Waiting,
        );
        let due = now_ms() + 60_000;
        c.wake_at = Some(due);
        assert!(store.commit(c).await.unwrap(), "{backend}");
        assert!(
            store
                .claim("x", now_ms(), now_ms() + 30_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "{backend}: not due yet"
        );
        let claimed = store.claim("x", due, due + 30_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "{backend}: due");
        assert_eq!(claimed[0].status, ExecStatus::Running, "{backend}");
        let cancelled = store.cancel_execution("org", &e.id).await.unwrap();
        assert_eq!(cancelled.status, ExecStatus::Cancelled, "{backend}");
        assert!(
            !store
                .commit(commit(&e.id, "x", vec![], ExecStatus::Succeeded))
                .await
                .unwrap(),
            "{backend}: cancel fences the worker"
        );
        assert_eq!(
            store.steps(&e.id).await.unwrap()[0].status,
            StepStatus::Cancelled,
            "{backend}"
        );
        assert!(
            store.cancel_execution("org", &e.id).await.is_err(),
            "{backend}: cancelling twice is a conflict"
        );
        assert!(
            store.cancel_execution("other-org", &e.id).await.is_err(),
            "{backend}: other organizations cannot cancel it"
        );
    }
}

#[tokio::test]
async fn lists_paginate_and_filter_within_the_organization() {
    for (backend, store, _dir) in stores().await {
        for i in 0..5 {
            let mut e = execution("org", if i % 2 == 0 { "even" } else { "odd" });
            e.status = if i == 4 {
                ExecStatus::Failed
            } else {
                ExecStatus::Succeeded
            };
            store
                .create_execution(NewExecution {
                    execution: e,
                    steps: vec![],
                    dedup_key: None,
                    lease: None,
                })
                .await
                .unwrap();
        }
        store
            .create_execution(NewExecution {
                execution: execution("other", "even"),
                steps: vec![],
                dedup_key: None,
                lease: None,
            })
            .await
            .unwrap();
        let all = ExecutionFilter::default();
        let p1 = store.list_executions("org", &all, 2, None).await.unwrap();
        assert_eq!(p1.items.len(), 2, "{backend}");
        let p2 = store
            .list_executions("org", &all, 2, p1.next_cursor.as_deref())
            .await
            .unwrap();
        let p3 = store
            .list_executions("org", &all, 2, p2.next_cursor.as_deref())
            .await
            .unwrap();
        assert_eq!(p3.items.len(), 1, "{backend}");
        assert!(p3.next_cursor.is_none(), "{backend}");
        let even = ExecutionFilter {
            workflow_id: Some("even".into()),
            ..Default::default()
        };
        assert_eq!(
            store
                .list_executions("org", &even, 50, None)
                .await
                .unwrap()
                .items
                .len(),
            3,
            "{backend}"
        );
        let failed = ExecutionFilter {
            status: Some(ExecStatus::Failed),
            ..Default::default()
        };
        assert_eq!(
            store
                .list_executions("org", &failed, 50, None)
                .await
                .unwrap()
                .items
                .len(),
            1,
            "{backend}"
        );
        let future = ExecutionFilter {
            since: Some(now_ms() + 60_000),
            ..Default::default()
        };
        assert!(
            store
                .list_executions("org", &future, 50, None)
                .await
                .unwrap()
                .items
                .is_empty(),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn retention_purges_only_finished_executions() {
    for (backend, store, _dir) in stores().await {
        let done = execution("org", "wf");
        let open = execution("org", "wf");
        store
            .create_execution(NewExecution {
                execution: done.clone(),
                steps: vec![step(&done.id, "n", StepStatus::Succeeded)],
                dedup_key: None,
                lease: Some(("w".into(), now_ms() + 30_000)),
            })
            .await
            .unwrap();
        store
            .create_execution(NewExecution {
                execution: open.clone(),
                steps: vec![],
                dedup_key: None,
                lease: None,
            })
            .await
            .unwrap();
        assert!(
            store
                .commit(commit(&done.id, "w", vec![], ExecStatus::Succeeded))
                .await
                .unwrap(),
            "{backend}"
        );
        let purged = store.purge_finished(now_ms() + 1_000, 100).await.unwrap();
        assert_eq!(purged, 1, "{backend}");
        assert!(
            store.execution("org", &done.id).await.unwrap().is_none(),
            "{backend}"
        );
        assert!(store.steps(&done.id).await.unwrap().is_empty(), "{backend}");
        assert!(
            store.execution("org", &open.id).await.unwrap().is_some(),
            "{backend}: unfinished executions stay"
        );
        store.reclaim_space().await.unwrap();
    }
}

#[tokio::test]
async fn the_group_commit_serves_many_concurrent_writers() {
    for (backend, store, _dir) in stores().await {
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .create_execution(NewExecution {
                        execution: execution("org", "wf"),
                        steps: vec![],
                        dedup_key: None,
                        lease: None,
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), Created::New, "{backend}");
        }
        let page = store
            .list_executions("org", &ExecutionFilter::default(), 500, None)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 200, "{backend}");
    }
}

/// A database created by an older Flowgate (only the first migration) is upgraded in place when
/// the store opens it, and what it held is still there.
#[tokio::test]
async fn an_older_schema_is_migrated_and_keeps_its_data() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![(
        "sqlite",
        format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display()),
    )];
    if let Some(url) = common::fresh_postgres_database().await {
        urls.push(("postgres", url));
    }
    for (dialect, url) in urls {
        // The schema as version 1 left it, with data in it.
        let old = tempfile::tempdir().unwrap();
        let first = format!(
            "{}/migrations/{dialect}/0001_initial.sql",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::copy(&first, old.path().join("0001_initial.sql")).unwrap();
        let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        migrator.run(&pool).await.unwrap();
        sqlx::query("INSERT INTO orgs (id, name, created_at) VALUES ('o1', 'legacy', 1)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;

        let store = Store::open(&url).await.unwrap();
        assert_eq!(
            store.org_by_name("legacy").await.unwrap().unwrap().id,
            "o1",
            "{dialect}: data survives the upgrade"
        );
        let applied: i64 = sqlx::Row::try_get(
            &sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations")
                .fetch_one(store.pool())
                .await
                .unwrap(),
            "n",
        )
        .unwrap();
        assert!(
            applied >= 2,
            "{dialect}: later migrations were applied ({applied})"
        );
        assert!(
            store
                .kv_insert("o1", "ns", "k", "v", Some(1))
                .await
                .unwrap(),
            "{dialect}: the upgraded schema works"
        );
    }
}

/// Concurrent hot writes land in shared group commits (multi-row statements); each still gets
/// its own answer: fencing per execution, a duplicate dedup key inside one group, and a commit
/// that records the same step twice.
#[tokio::test]
async fn concurrent_hot_writes_keep_their_own_results() {
    for (backend, store, _dir) in stores().await {
        let mut tasks = tokio::task::JoinSet::new();
        let mut ids = Vec::new();
        for i in 0..60 {
            let e = execution("org", "wf");
            ids.push(e.id.clone());
            let store = store.clone();
            tasks.spawn(async move {
                let id = e.id.clone();
                let created = store
                    .create_execution(NewExecution {
                        steps: vec![step(&id, "trigger", StepStatus::Succeeded)],
                        execution: e,
                        dedup_key: (i % 3 == 0).then(|| "sns:same".to_string()),
                        lease: Some(("w".into(), now_ms() + 30_000)),
                    })
                    .await
                    .unwrap();
                if created != Created::New {
                    return (id, created, None);
                }
                // Every other commit comes from a worker that does not hold the lease.
                let owner = if i % 2 == 0 { "w" } else { "x" };
                let mut again = step(&id, "a", StepStatus::Succeeded);
                again.attempts = 2;
                let steps = vec![step(&id, "a", StepStatus::Running), again];
                let done = store
                    .commit(commit(&id, owner, steps, ExecStatus::Succeeded))
                    .await
                    .unwrap();
                (id, created, Some(done))
            });
        }
        let (mut new, mut duplicates) = (0, Vec::new());
        while let Some(out) = tasks.join_next().await {
            let (id, created, done) = out.unwrap();
            let i = ids.iter().position(|x| *x == id).unwrap();
            match created {
                Created::New => new += 1,
                Created::Duplicate(first) => {
                    duplicates.push(first);
                    continue;
                }
            }
            let steps = store.steps(&id).await.unwrap();
            let status = store.execution("org", &id).await.unwrap().unwrap().status;
            if i % 2 == 0 {
                assert_eq!(done, Some(true), "{backend}");
                assert_eq!(status, ExecStatus::Succeeded, "{backend}");
                assert_eq!(steps.len(), 2, "{backend}");
                let a = steps.iter().find(|s| s.node_id == "a").unwrap();
                assert_eq!(
                    (a.status, a.attempts),
                    (StepStatus::Succeeded, 2),
                    "{backend}"
                );
            } else {
                assert_eq!(done, Some(false), "{backend}: fenced");
                assert_eq!(status, ExecStatus::Queued, "{backend}");
                assert_eq!(steps.len(), 1, "{backend}: nothing written when fenced");
            }
        }
        assert_eq!(new, 41, "{backend}: 40 without a key and the first with it");
        assert_eq!(duplicates.len(), 19, "{backend}");
        assert!(duplicates.windows(2).all(|w| w[0] == w[1]), "{backend}");
    }
}
