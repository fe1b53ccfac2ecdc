//! The webhook read cache (SQLite) never serves a workflow or an API key older than the last
//! committed change: every change through the store is seen by the next read.

use flowgate_store::Store;
use serde_json::json;

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
