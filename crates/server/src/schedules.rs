//! Schedule triggers: every process looks for due occurrences of enabled `trigger.schedule`
//! workflows; each occurrence starts one execution whose de-duplication key is the occurrence,
//! so it fires once however many processes see it. Occurrences missed while Flowgate was down
//! are skipped or run once, as the trigger says.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use flowgate_engine::TriggerEvent;
use flowgate_nodes::core::schedule::{next_occurrences, trigger_output, Missed, ScheduleParams};
use flowgate_store::WorkflowRow;

use crate::state::AppState;

/// How late an occurrence may be seen and still count as on time (not missed).
const GRACE_MS: i64 = 60_000;

pub fn params_of(workflow: &WorkflowRow) -> Option<ScheduleParams> {
    let trigger = workflow.document["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["type"] == "trigger.schedule")?;
    serde_json::from_value(trigger["params"].clone()).ok()
}

/// The next `n` run times of a schedule workflow.
pub fn upcoming(
    workflow: &WorkflowRow,
    now_ms: i64,
    n: usize,
) -> Result<Vec<DateTime<Utc>>, String> {
    let params = params_of(workflow).ok_or("this workflow has no schedule trigger")?;
    next_occurrences(
        &params,
        DateTime::from_timestamp_millis(now_ms).unwrap_or_default(),
        n,
    )
}

/// Fires what is due for one workflow; returns how many executions it started.
pub async fn fire_due(st: &AppState, workflow: &WorkflowRow, now_ms: i64) -> Result<usize, String> {
    let Some(params) = params_of(workflow) else {
        return Ok(0);
    };
    let key = format!("{}:{}", workflow.id, workflow.version);
    let last = match st
        .store
        .kv_get("schedule", &key)
        .await
        .map_err(|e| e.to_string())?
    {
        Some((_, v)) => v.parse::<i64>().unwrap_or(now_ms),
        None => {
            // First sight of this version: occurrences before now are not "missed".
            st.store
                .kv_put(
                    &workflow.org_id,
                    "schedule",
                    &key,
                    &now_ms.to_string(),
                    None,
                )
                .await
                .map_err(|e| e.to_string())?;
            return Ok(0);
        }
    };
    let after = DateTime::from_timestamp_millis(last).unwrap_or_default();
    let due: Vec<i64> = next_occurrences(&params, after, 10_000)?
        .into_iter()
        .map(|t| t.timestamp_millis())
        .take_while(|t| *t <= now_ms)
        .collect();
    let Some(&latest) = due.last() else {
        return Ok(0);
    };
    let fire = match params.missed {
        Missed::RunOnce => Some(latest),
        Missed::Skip => due.iter().copied().rfind(|t| now_ms - t <= GRACE_MS),
    };
    let mut started = 0;
    if let Some(at) = fire {
        let scheduled_at = DateTime::from_timestamp_millis(at).unwrap_or_default();
        let output = trigger_output(scheduled_at);
        let body = output.get("output").cloned().unwrap_or(Value::Null);
        let event = TriggerEvent {
            kind: "schedule".into(),
            output,
            body,
        };
        let run = st
            .engine
            .start(
                workflow,
                event,
                Some(format!("schedule:{}:{at}", workflow.id)),
            )
            .await
            .map_err(|e| e.to_string())?;
        if !run.duplicate {
            started += 1;
        }
    }
    if due.len() > 1 || fire.is_none() {
        tracing::info!(workflow = %workflow.id, missed = due.len() - usize::from(fire.is_some()), "schedule occurrences missed while Flowgate was not running");
    }
    st.store
        .kv_put(
            &workflow.org_id,
            "schedule",
            &key,
            &latest.to_string(),
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(started)
}

/// Looks for due occurrences every `every` until the process stops.
pub async fn run(st: AppState, every: Duration) {
    loop {
        match st.store.workflows_with_trigger("trigger.schedule").await {
            Ok(workflows) => {
                let now = st.engine.services().clock.now_ms();
                for w in &workflows {
                    if let Err(e) = fire_due(&st, w, now).await {
                        tracing::warn!(workflow = %w.id, error = %e, "schedule trigger failed");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read schedules"),
        }
        tokio::time::sleep(every).await;
    }
}
