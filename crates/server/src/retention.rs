//! Retention: finished executions older than the configured number of days are purged in the
//! background (never an unfinished one), and the space is given back.

use std::time::Duration;

use flowgate_store::Store;

/// Purges once; returns how many executions went.
pub async fn purge_once(
    store: &Store,
    retention_days: u32,
    now_ms: i64,
) -> Result<u64, flowgate_store::StoreError> {
    let before = now_ms - i64::from(retention_days) * 86_400_000;
    let mut total = 0;
    loop {
        let n = store.purge_finished(before, 500).await?;
        total += n;
        if n < 500 {
            break;
        }
    }
    store.kv_purge().await?;
    if total > 0 {
        store.reclaim_space().await?;
    }
    Ok(total)
}

pub async fn run(store: Store, retention_days: u32, every: Duration) {
    loop {
        match purge_once(&store, retention_days, flowgate_store::now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "retention purged finished executions"),
            Err(e) => tracing::warn!(error = %e, "retention purge failed"),
        }
        tokio::time::sleep(every).await;
    }
}
