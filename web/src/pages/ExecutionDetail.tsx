// Execution detail: steps in order with status, duration, attempts and Input/Output/Error tabs,
// the Alert Body tab with "Use as the output schema", cancel, and "run again with this payload".
import { useState } from "react";
import { api, enc } from "../api/client";
import { ACTIVE_STATUSES, type Execution, type Step, type Workflow } from "../api/types";
import { ErrorBanner, JsonBlock, Loading, StatusBadge, Tabs } from "../components/ui";
import { duration, errorText, formatDate } from "../lib/format";
import { useAsync, useInterval } from "../lib/hooks";
import { href, navigate } from "../lib/router";
import { useSession } from "../session";

export function ExecutionDetailPage({ executionId }: { executionId: string }) {
  const { canEdit } = useSession();
  const ex = useAsync(() => api.get<Execution>(`/api/v1/executions/${enc(executionId)}`), [executionId]);
  const wf = useAsync(
    () =>
      ex.data ? api.get<Workflow>(`/api/v1/workflows/${enc(ex.data.workflow_id)}`).catch(() => null) : Promise.resolve(null),
    [ex.data?.workflow_id],
  );
  const active = !!ex.data && ACTIVE_STATUSES.includes(ex.data.status);
  useInterval(() => void ex.reload(), active ? 2000 : null);
  const [tab, setTab] = useState<"steps" | "alert">("steps");
  const [actionError, setActionError] = useState<unknown>(null);
  const [notice, setNotice] = useState("");
  const [busy, setBusy] = useState("");

  if (ex.error && !ex.data)
    return (
      <div className="page">
        <ErrorBanner error={ex.error} onRetry={ex.reload} />
        <a href={href("/executions")}>Back to executions</a>
      </div>
    );
  if (!ex.data) return <Loading />;
  const x = ex.data;
  const steps = x.steps ?? [];
  const body = x.trigger?.body;

  const act = async (name: string, fn: () => Promise<void>) => {
    setBusy(name);
    setActionError(null);
    setNotice("");
    try {
      await fn();
    } catch (e) {
      setActionError(e);
    } finally {
      setBusy("");
    }
  };

  return (
    <div className="page" data-testid="execution-page" data-status={x.status}>
      <div className="crumbs">
        <a href={href("/executions")}>Executions</a> ›{" "}
        <a href={href(`/workflows/${enc(x.workflow_id)}`)}>{wf.data?.name ?? x.workflow_name ?? "workflow"}</a>
      </div>
      <div className="page-head">
        <h1>
          Execution <StatusBadge status={x.status} />
        </h1>
        <div className="row-actions">
          {active && canEdit && (
            <button
              className="btn btn-danger"
              data-testid="cancel-execution"
              disabled={busy !== ""}
              onClick={() =>
                act("cancel", async () => {
                  await api.post(`/api/v1/executions/${enc(x.id)}/cancel`);
                  await ex.reload();
                })
              }
            >
              {busy === "cancel" ? "Cancelling…" : "Cancel"}
            </button>
          )}
          {canEdit && (
            <button
              className="btn"
              data-testid="run-again"
              disabled={busy !== ""}
              onClick={() =>
                act("rerun", async () => {
                  const r = await api.post<{ execution_id: string }>(
                    `/api/v1/workflows/${enc(x.workflow_id)}/executions`,
                    body ?? {},
                  );
                  navigate(`/executions/${enc(r.execution_id)}`);
                })
              }
            >
              {busy === "rerun" ? "Starting…" : "Run again with this payload"}
            </button>
          )}
        </div>
      </div>
      <dl className="facts">
        <div>
          <dt>Workflow version</dt>
          <dd>v{x.workflow_version}</dd>
        </div>
        <div>
          <dt>Trigger</dt>
          <dd>{x.trigger?.type ?? "—"}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{formatDate(x.created_at)}</dd>
        </div>
        <div>
          <dt>Finished</dt>
          <dd>{formatDate(x.finished_at)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{duration(x.started_at ?? x.created_at, x.finished_at)}</dd>
        </div>
        <div>
          <dt>Id</dt>
          <dd>
            <code className="small">{x.id}</code>
          </dd>
        </div>
      </dl>
      {x.error ? (
        // A cancellation is someone's decision, not a failure: say so without the error styling.
        x.status === "cancelled" ? (
          <div className="banner banner-info" data-testid="execution-cancelled">
            This run was cancelled{errorText(x.error) && errorText(x.error) !== "cancelled" ? `: ${errorText(x.error)}` : "."}
          </div>
        ) : (
          <div className="banner banner-error" data-testid="execution-error">
            <strong>{errorText(x.error)}</strong>
          </div>
        )
      ) : null}
      <ErrorBanner error={actionError} />
      {ex.error ? <ErrorBanner error={ex.error} /> : null}
      {notice && (
        <div className="banner banner-info" data-testid="execution-notice">
          {notice}
        </div>
      )}
      <Tabs
        tabs={[
          { id: "steps", label: `Steps (${steps.length})` },
          { id: "alert", label: "Alert Body" },
        ]}
        active={tab}
        onChange={setTab}
        testIdPrefix="exec-tab"
      />
      {tab === "steps" ? (
        steps.length === 0 ? (
          <div className="empty small" data-testid="no-steps">
            {active ? "Waiting for the first step to start…" : "No step ran."}
          </div>
        ) : (
          <ol className="steps" data-testid="steps">
            {steps.map((s, i) => (
              <StepRow key={`${s.node_id}-${i}`} step={s} index={i} />
            ))}
          </ol>
        )
      ) : (
        <div className="card" data-testid="alert-body">
          <p className="muted small">The payload that started this run{x.trigger?.received_at ? `, received ${formatDate(x.trigger.received_at)}` : ""}.</p>
          <JsonBlock value={body} testId="alert-body-json" empty="This run has no payload." />
          {canEdit && body !== undefined && body !== null && (
            <button
              className="btn btn-primary"
              data-testid="use-as-output-schema"
              disabled={busy !== ""}
              onClick={() =>
                act("schema", async () => {
                  const r = await api.put<{ id: string; version: number }>(
                    `/api/v1/workflows/${enc(x.workflow_id)}/trigger/output-schema`,
                    { from_execution: x.id },
                  );
                  setNotice(`Saved as the trigger's output schema (workflow version ${r.version}).`);
                })
              }
            >
              {busy === "schema" ? "Saving…" : "Use as the output schema"}
            </button>
          )}
          {notice && (
            <a className="btn btn-small" href={href(`/workflows/${enc(x.workflow_id)}`)} data-testid="open-builder">
              Open the workflow
            </a>
          )}
        </div>
      )}
    </div>
  );
}

function StepRow({ step, index }: { step: Step; index: number }) {
  const hasError = step.error !== null && step.error !== undefined;
  const [open, setOpen] = useState(hasError || step.status === "waiting");
  const [tab, setTab] = useState<"input" | "output" | "error">(hasError ? "error" : "output");
  const decidedBy = outputField(step, "decided_by");
  return (
    <li className={`step step-${step.status}`} data-testid={`step-${step.node_id}`} data-status={step.status}>
      <button className="step-summary" aria-expanded={open} onClick={() => setOpen(!open)} data-testid={`step-toggle-${step.node_id}`}>
        <span className="step-index">{index + 1}</span>
        <StatusBadge status={step.status} />
        <span className="step-name">
          <strong>{step.name || step.node_id}</strong> <span className="muted small">{step.node_id} · {step.type}</span>
        </span>
        {step.port && <span className="chip">→ {step.port}</span>}
        <span className="muted small">{duration(step.started_at, step.finished_at)}</span>
        <span className="muted small">
          {step.attempts ?? 1} attempt{(step.attempts ?? 1) === 1 ? "" : "s"}
        </span>
      </button>
      {decidedBy !== undefined && decidedBy !== null && (
        <div className="small step-decision" data-testid={`decision-${step.node_id}`}>
          {String(outputField(step, "decision") ?? "")} by {describePerson(decidedBy)} at {formatDate(String(outputField(step, "decided_at") ?? ""))}
        </div>
      )}
      {open && (
        <div className="step-detail">
          <Tabs
            tabs={[
              { id: "input", label: "Input" },
              { id: "output", label: "Output" },
              { id: "error", label: "Error" },
            ]}
            active={tab}
            onChange={setTab}
            testIdPrefix={`step-${step.node_id}-tab`}
          />
          <div data-testid={`step-${step.node_id}-${tab}`}>
            {tab === "input" && <JsonBlock value={step.input} empty="No input recorded." />}
            {tab === "output" && <JsonBlock value={step.output} empty={step.status === "waiting" ? "Waiting…" : "No output."} />}
            {tab === "error" &&
              (hasError ? (
                <div className="field-error">
                  <strong>{errorText(step.error)}</strong>
                  {typeof step.error === "object" && <JsonBlock value={step.error} />}
                </div>
              ) : (
                <div className="muted">No error.</div>
              ))}
          </div>
        </div>
      )}
    </li>
  );
}

function outputField(step: Step, key: string): unknown {
  const o = step.output as Record<string, unknown> | null | undefined;
  const inner = o && typeof o === "object" ? (o.output as Record<string, unknown> | undefined) : undefined;
  return inner && typeof inner === "object" ? inner[key] : undefined;
}

function describePerson(p: unknown): string {
  if (p && typeof p === "object") {
    const o = p as Record<string, unknown>;
    return String(o.name ?? o.id ?? "someone");
  }
  return String(p);
}
