// Workflows list (status, last run, enable toggle) and the "New workflow" dialog.
import { useState } from "react";
import { api, enc, errorMessage, qs } from "../api/client";
import type { NodeType, Page, WorkflowDocument, WorkflowSummary } from "../api/types";
import { ConfirmButton, EmptyState, ErrorBanner, Loading, Modal, Pager, StatusBadge } from "../components/ui";
import { relativeTime } from "../lib/format";
import { cached, useAsync } from "../lib/hooks";
import { nameOk, nameRules } from "../lib/naming";
import { href, navigate } from "../lib/router";
import { emptyValue } from "../lib/schema";
import { useSession } from "../session";

const PAGE = 50;

export function WorkflowsPage() {
  const { canEdit } = useSession();
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1];
  const list = useAsync(
    () => api.get<Page<WorkflowSummary>>(`/api/v1/workflows${qs({ limit: PAGE, cursor })}`),
    [cursor],
  );
  const [creating, setCreating] = useState(false);
  const [actionError, setActionError] = useState<unknown>(null);

  const toggle = async (w: WorkflowSummary) => {
    setActionError(null);
    try {
      await api.patch(`/api/v1/workflows/${enc(w.id)}`, { enabled: !w.enabled });
      list.setData({ ...list.data!, items: list.data!.items.map((x) => (x.id === w.id ? { ...x, enabled: !w.enabled } : x)) });
    } catch (e) {
      setActionError(e);
    }
  };

  return (
    <div className="page" data-testid="workflows-page">
      <div className="page-head">
        <h1>Workflows</h1>
        {canEdit && (
          <button className="btn btn-primary" data-testid="new-workflow" onClick={() => setCreating(true)}>
            + New workflow
          </button>
        )}
      </div>
      <ErrorBanner error={actionError} />
      {list.error ? (
        <ErrorBanner error={list.error} onRetry={list.reload} />
      ) : !list.data ? (
        <Loading />
      ) : list.data.items.length === 0 && cursors.length === 1 ? (
        <EmptyState title="No workflows yet" testId="workflows-empty">
          A workflow reacts to an alert, a schedule or a manual run, and runs steps in order.
          {canEdit && (
            <div>
              <button className="btn btn-primary" onClick={() => setCreating(true)}>
                Create your first workflow
              </button>
            </div>
          )}
        </EmptyState>
      ) : (
        <>
          <table className="table" data-testid="workflows-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Status</th>
                <th>Version</th>
                <th>Last run</th>
                <th>Updated</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((w) => (
                <tr key={w.id} data-testid={`workflow-row-${w.id}`}>
                  <td>
                    <a href={href(`/workflows/${enc(w.id)}`)} className="strong" data-testid="workflow-link">
                      {w.name}
                    </a>
                    {w.description && <div className="muted small clamp">{w.description}</div>}
                  </td>
                  <td>
                    <label className="switch" title={w.enabled ? "Enabled: click to disable" : "Disabled: click to enable"}>
                      <input
                        type="checkbox"
                        checked={w.enabled}
                        disabled={!canEdit}
                        onChange={() => void toggle(w)}
                        data-testid="workflow-enabled"
                        aria-label={`${w.name} enabled`}
                      />
                      <span>{w.enabled ? "Enabled" : "Disabled"}</span>
                    </label>
                  </td>
                  <td>v{w.version}</td>
                  <td>
                    {w.last_execution ? (
                      <a href={href(`/executions/${enc(w.last_execution.id)}`)} className="last-run">
                        <StatusBadge status={w.last_execution.status} /> {relativeTime(w.last_execution.created_at)}
                      </a>
                    ) : (
                      <span className="muted">Never run</span>
                    )}
                  </td>
                  <td className="muted">{relativeTime(w.updated_at)}</td>
                  <td className="actions">
                    <a className="btn btn-small btn-ghost" href={href(`/executions?workflow_id=${enc(w.id)}`)}>
                      Runs
                    </a>
                    {canEdit && (
                      <ConfirmButton
                        label="Delete"
                        testId={`delete-workflow-${w.id}`}
                        onConfirm={async () => {
                          try {
                            await api.del(`/api/v1/workflows/${enc(w.id)}`);
                            await list.reload();
                          } catch (e) {
                            setActionError(e);
                          }
                        }}
                      />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager
            hasPrev={cursors.length > 1}
            hasNext={!!list.data.next_cursor}
            onPrev={() => setCursors(cursors.slice(0, -1))}
            onNext={() => setCursors([...cursors, list.data!.next_cursor!])}
          />
        </>
      )}
      {creating && <NewWorkflowDialog onClose={() => setCreating(false)} />}
    </div>
  );
}

const TRIGGERS = [
  { type: "trigger.webhook", label: "Generic Webhook", help: "Runs when an alert is POSTed to the workflow's URL with an API key." },
  { type: "trigger.manual", label: "Manual", help: "Runs when someone starts it from the console, API or CLI." },
  { type: "trigger.schedule", label: "Schedule", help: "Runs on a cron expression or a fixed interval." },
];

export const DRAFT_KEY = "flowgate.draft";

export function NewWorkflowDialog({ onClose }: { onClose: () => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [trigger, setTrigger] = useState("trigger.webhook");
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState("");
  const rules = nameRules(name);
  const valid = nameOk(name) && description.trim().length > 0;

  const create = async () => {
    setTouched(true);
    if (!valid) return;
    let params = {};
    try {
      const types = await cached("node-types", () => api.get<{ items: NodeType[] }>("/api/v1/node-types"));
      const nt = types.items.find((t) => t.type === trigger);
      if (nt) params = emptyValue(nt.params_schema, nt.params_schema) as object;
    } catch (e) {
      setError(errorMessage(e));
      return;
    }
    const doc: WorkflowDocument = {
      name: name.trim(),
      description: description.trim(),
      nodes: [{ id: "trigger_1", type: trigger, params, position: { x: 80, y: 200 } }],
      edges: [],
    };
    sessionStorage.setItem(DRAFT_KEY, JSON.stringify(doc));
    onClose();
    navigate("/workflows/new");
  };

  return (
    <Modal
      title="New workflow"
      onClose={onClose}
      testId="new-workflow-dialog"
      footer={
        <>
          <button className="btn btn-ghost" onClick={onClose}>
            Cancel
          </button>
          <button className="btn btn-primary" data-testid="create-workflow" onClick={() => void create()} disabled={touched && !valid}>
            Create
          </button>
        </>
      }
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <label className="field-label" htmlFor="wf-name">
          Name <span className="req">*</span>
        </label>
        <input id="wf-name" data-testid="wf-name" value={name} onChange={(e) => setName(e.target.value)} maxLength={200} />
        <ul className="rules" data-testid="name-rules" aria-live="polite">
          {rules.map((r) => (
            <li key={r.id} className={r.ok ? "rule-ok" : name || touched ? "rule-bad" : "rule-pending"} data-testid={`rule-${r.id}`} data-ok={r.ok}>
              {r.ok ? "✓" : "✗"} {r.label}
            </li>
          ))}
          <li className="muted small">{[...name].length}/128</li>
        </ul>
        <label className="field-label" htmlFor="wf-desc">
          Description <span className="req">*</span>
        </label>
        <textarea id="wf-desc" data-testid="wf-description" rows={2} value={description} onChange={(e) => setDescription(e.target.value)} />
        {touched && !description.trim() && <div className="field-error">A description is required.</div>}
        <fieldset className="trigger-choice">
          <legend className="field-label">Trigger</legend>
          {TRIGGERS.map((t) => (
            <label key={t.type} className={`choice${trigger === t.type ? " choice-active" : ""}`}>
              <input
                type="radio"
                name="trigger"
                value={t.type}
                checked={trigger === t.type}
                onChange={() => setTrigger(t.type)}
                data-testid={`trigger-${t.type}`}
              />
              <span>
                <strong>{t.label}</strong>
                <span className="muted small block">{t.help}</span>
              </span>
            </label>
          ))}
        </fieldset>
        {error && <div className="field-error">{error}</div>}
        <button type="submit" hidden />
      </form>
    </Modal>
  );
}
