//! The webhook read cache never serves a workflow or an API key older than the last committed
//! change: with SQLite every change through the store is seen by the next read; with PostgreSQL a
//! change made by another process is seen as soon as its notification arrives, and a process that
//! lost its notification connection reads the database until it listens again.

mod common;

use std::time::{Duration, Instant};

use flowgate_store::Store;
use serde_json::json;

/// Waits until `check` holds, for up to five seconds.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn postgres_processes_see_each_others_changes() {
    let Some(url) = common::fresh_postgres_database().await else {
        eprintln!("FLOWGATE_TEST_POSTGRES_URL is not set: the PostgreSQL half is skipped");
        return;
    };
    // Two stores on one database stand for two Flowgate processes.
    let (a, b) = (
        Store::open(&url).await.unwrap(),
        Store::open(&url).await.unwrap(),
    );
    eventually("the second process listens", || async {
        b.read_cache_enabled()
    })
    .await;
    let org = a.ensure_org("default").await.unwrap();
    a.create_api_key(&org.id, "k", "h1").await.unwrap();
    for _ in 0..2 {
        // The second read is served from the cache.
        assert_eq!(
            b.api_key_hash(&org.id, "k").await.unwrap().as_deref(),
            Some("h1")
        );
    }
    a.delete_api_key(&org.id, "k").await.unwrap();
    eventually("the revoked key is gone everywhere", || async {
        b.api_key_hash(&org.id, "k").await.unwrap().is_none()
    })
    .await;

    let wf = a
        .create_workflow(&org.id, "w", json!({ "name": "w" }))
        .await
        .unwrap();
    assert!(b.workflow_any_org(&wf.id).await.unwrap().unwrap().enabled);
    a.set_workflow_enabled(&org.id, &wf.id, false)
        .await
        .unwrap();
    eventually("the disabled workflow is disabled everywhere", || async {
        !b.workflow_any_org(&wf.id).await.unwrap().unwrap().enabled
    })
    .await;

    // The notification connections are cut: no process caches until it listens again, so a
    // change made meanwhile is seen at once.
    let killed = sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%flowgate_cache%'",
    )
    .fetch_all(b.pool())
    .await
    .unwrap();
    assert_eq!(killed.len(), 2, "one cache listener per process");
    eventually("the second process stops caching", || async {
        !b.read_cache_enabled()
    })
    .await;
    a.set_workflow_enabled(&org.id, &wf.id, true).await.unwrap();
    assert!(b.workflow_any_org(&wf.id).await.unwrap().unwrap().enabled);
    eventually("the second process listens again", || async {
        b.read_cache_enabled()
    })
    .await;
    a.create_api_key(&org.id, "k", "h2").await.unwrap();
    eventually("the new key is seen everywhere", || async {
        b.api_key_hash(&org.id, "k").await.unwrap().as_deref() == Some("h2")
    })
    .await;
}

#[tokio::test]
async fn changes_are_seen_by_the_next_read() {
    let dir =
        std::env::temp_dir().join(format!("flowgate-cache-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.join("t.db").display()))
        .await
        .unwrap();
    let org = store.ensure_org("default").await.unwrap();

    assert_eq!(store.api_key_hash(&org.id, "k").await.unwrap(), None);
    store.create_api_key(&org.id, "k", "h1").await.unwrap();
    assert_eq!(
        store.api_key_hash(&org.id, "k").await.unwrap().as_deref(),
        Some("h1")
    );
    // A failing operation rolls back alone, also when it shares a group commit with others.
    let (dup, other) = tokio::join!(
        store.create_api_key(&org.id, "k", "h2"),
        store.create_api_key(&org.id, "k2", "h3")
    );
    assert!(dup.is_err());
    other.unwrap();
    assert_eq!(
        store.api_key_hash(&org.id, "k").await.unwrap().as_deref(),
        Some("h1")
    );
    assert_eq!(
        store.api_key_hash(&org.id, "k2").await.unwrap().as_deref(),
        Some("h3")
    );
    store.delete_api_key(&org.id, "k").await.unwrap();
    assert_eq!(store.api_key_hash(&org.id, "k").await.unwrap(), None);

    assert!(store.workflow_any_org("nope").await.unwrap().is_none());
    let wf = store
        .create_workflow(&org.id, "w", json!({ "name": "w", "v": 1 }))
        .await
        .unwrap();
    let read = store.workflow_any_org(&wf.id).await.unwrap().unwrap();
    assert!(read.enabled);
    assert_eq!(read.version, 1);
    store
        .set_workflow_enabled(&org.id, &wf.id, false)
        .await
        .unwrap();
    assert!(
        !store
            .workflow_any_org(&wf.id)
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    store
        .save_workflow_version(&org.id, &wf.id, "w", json!({ "name": "w", "v": 2 }))
        .await
        .unwrap();
    let read = store.workflow_any_org(&wf.id).await.unwrap().unwrap();
    assert_eq!((read.version, read.document["v"].clone()), (2, json!(2)));
    store.delete_workflow(&org.id, &wf.id).await.unwrap();
    assert!(
        store
            .workflow_any_org(&wf.id)
            .await
            .unwrap()
            .unwrap()
            .deleted
    );
    let _ = std::fs::remove_dir_all(&dir);
}
