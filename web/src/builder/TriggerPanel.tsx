// Trigger panel: webhook URL and curl example with copy buttons, API key choice, output schema.
import { useState } from "react";
import { api, enc, errorMessage, qs } from "../api/client";
import type { ApiKey, DocNode, Execution, Page, Workflow } from "../api/types";
import { CopyButton, JsonBlock, StatusBadge } from "../components/ui";
import { relativeTime } from "../lib/format";
import { useAsync } from "../lib/hooks";
import type { StepNode } from "../lib/graph";
import { href } from "../lib/router";

interface Props {
  node: StepNode;
  workflow: Workflow | null;
  canEdit: boolean;
  onUpdate: (fn: (d: DocNode) => DocNode, key: string) => void;
  onRun: () => void;
  onSchemaUpdated: () => Promise<void>;
  error?: string;
}

export function webhookUrlFor(w: Workflow): string {
  return w.webhook_url || `${window.location.origin}/webhooks/${w.id}`;
}

export function curlExample(url: string, keyName: string | undefined): string {
  return [
    `curl -X POST '${url}' \\`,
    `  -H 'Content-Type: application/json' \\`,
    `  -H 'x-api-key: <value of API key ${keyName || "…"}>' \\`,
    `  -d '{"Elastigroup_Id": "sig-e26f1234", "MTD_Spend": "3.8", "Budget": "4.0"}'`,
  ].join("\n");
}

export function TriggerPanel({ node, workflow, canEdit, onUpdate, onRun, onSchemaUpdated, error }: Props) {
  const doc = node.data.doc;
  const isWebhook = doc.type === "trigger.webhook";
  const keys = useAsync(
    () => (isWebhook ? api.get<Page<ApiKey>>("/api/v1/api-keys").then((r) => r.items) : Promise.resolve([] as ApiKey[])),
    [isWebhook],
  );
  const apiKey = typeof doc.params?.api_key === "string" ? doc.params.api_key : "";
  const schema = doc.params?.output_schema;
  return (
    <section className="panel-section trigger-panel" data-testid="trigger-panel">
      <h3>Trigger</h3>
      {isWebhook && (
        <>
          <div className="field">
            <span className="field-label">Webhook URL</span>
            {workflow ? (
              <>
                <div className="copy-row">
                  <code className="url" data-testid="webhook-url">
                    {webhookUrlFor(workflow)}
                  </code>
                  <CopyButton text={webhookUrlFor(workflow)} label="Copy URL" testId="copy-webhook-url" />
                </div>
                <details className="curl">
                  <summary>curl example</summary>
                  <pre className="json" data-testid="curl-example">
                    {curlExample(webhookUrlFor(workflow), apiKey)}
                  </pre>
                </details>
                <CopyButton text={curlExample(webhookUrlFor(workflow), apiKey)} label="Copy curl example" testId="copy-curl" />
                <div className="field-help">
                  Send the API key in the <code>x-api-key</code> header or query parameter. AWS SNS subscriptions to this URL are
                  confirmed automatically.
                </div>
              </>
            ) : (
              <div className="muted small" data-testid="webhook-url-pending">
                Save the workflow to get its webhook URL.
              </div>
            )}
          </div>
          <div className={`field${error ? " has-error" : ""}`} data-testid="field-api_key">
            <label className="field-label" htmlFor="trigger-api-key">
              API key <span className="req">*</span>
            </label>
            {keys.error ? (
              <div className="field-error">Could not load API keys: {errorMessage(keys.error)}</div>
            ) : (
              <select
                id="trigger-api-key"
                data-testid="trigger-api-key"
                value={apiKey}
                disabled={!canEdit}
                onChange={(e) =>
                  onUpdate((d) => ({ ...d, params: { ...(d.params ?? {}), api_key: e.target.value } }), "api_key")
                }
              >
                <option value="">{keys.data?.length ? "Choose an API key…" : keys.loading ? "Loading…" : "No API keys yet"}</option>
                {apiKey && !keys.data?.some((k) => k.name === apiKey) && <option value={apiKey}>{apiKey}</option>}
                {keys.data?.map((k) => (
                  <option key={k.name} value={k.name}>
                    {k.name}
                  </option>
                ))}
              </select>
            )}
            {error && <div className="field-error" data-testid="error-api_key">{error}</div>}
            <div className="field-help">
              The caller must present this key. <a href={href("/api-keys")}>Manage API keys</a>
            </div>
          </div>
          <div className="field">
            <span className="field-label">Output schema</span>
            {schema ? (
              <details>
                <summary className="small">Schema of the alert body (used by “From step”)</summary>
                <JsonBlock value={schema} testId="trigger-output-schema" />
              </details>
            ) : (
              <div className="muted small" data-testid="trigger-output-schema-empty">
                No output schema yet: send a sample alert, then use its body as the schema.
              </div>
            )}
            {workflow && <RecentBodies workflowId={workflow.id} canEdit={canEdit} onSchemaUpdated={onSchemaUpdated} />}
          </div>
        </>
      )}
      {workflow && (
        <button type="button" className="btn" data-testid="trigger-run" onClick={onRun}>
          ▶ Run now…
        </button>
      )}
    </section>
  );
}

function RecentBodies({
  workflowId,
  canEdit,
  onSchemaUpdated,
}: {
  workflowId: string;
  canEdit: boolean;
  onSchemaUpdated: () => Promise<void>;
}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState("");
  const [err, setErr] = useState("");
  const runs = useAsync(
    () =>
      open
        ? api.get<Page<Execution>>(`/api/v1/executions${qs({ workflow_id: workflowId, limit: 5 })}`).then((r) => r.items)
        : Promise.resolve([] as Execution[]),
    [open, workflowId],
  );
  if (!open)
    return (
      <button type="button" className="link-btn" data-testid="show-recent-bodies" onClick={() => setOpen(true)}>
        Use a recent alert body as the output schema…
      </button>
    );
  return (
    <div className="recent-bodies" data-testid="recent-bodies">
      {runs.loading && <div className="muted small">Loading recent runs…</div>}
      {!runs.loading && runs.data?.length === 0 && <div className="muted small">No runs yet. Send an alert to the webhook first.</div>}
      {runs.data?.map((r) => (
        <div key={r.id} className="recent-row">
          <StatusBadge status={r.status} /> <span className="small">{relativeTime(r.created_at)}</span>
          <a className="small" href={href(`/executions/${enc(r.id)}`)}>
            view
          </a>
          {canEdit && (
            <button
              type="button"
              className="btn btn-small"
              disabled={!!busy}
              data-testid={`use-body-${r.id}`}
              onClick={async () => {
                setBusy(r.id);
                setErr("");
                try {
                  await api.put(`/api/v1/workflows/${enc(workflowId)}/trigger/output-schema`, { from_execution: r.id });
                  await onSchemaUpdated();
                } catch (e) {
                  setErr(errorMessage(e));
                } finally {
                  setBusy("");
                }
              }}
            >
              {busy === r.id ? "Saving…" : "Use this body"}
            </button>
          )}
        </div>
      ))}
      {err && <div className="field-error">{err}</div>}
    </div>
  );
}
