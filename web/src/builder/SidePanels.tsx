// Builder side panels: workflow settings, version history, YAML code view, validation problems.
import { useState } from "react";
import YAML from "yaml";
import { api, enc, errorMessage } from "../api/client";
import type { ErrorDetail, WorkflowDocument } from "../api/types";
import { CopyButton, ErrorBanner, Loading } from "../components/ui";
import { formatDate } from "../lib/format";
import { useAsync } from "../lib/hooks";
import type { Meta } from "../lib/graph";
import { nameRules } from "../lib/naming";
import { isValidDuration } from "../lib/schema";

export function SettingsPanel({
  meta,
  onChange,
  canEdit,
  errors,
}: {
  meta: Meta;
  onChange: (m: Meta, key: string) => void;
  canEdit: boolean;
  errors: Record<string, string>;
}) {
  const rules = nameRules(meta.name);
  return (
    <div className="config-panel" data-testid="settings-panel">
      <h2>Workflow settings</h2>
      <fieldset className="plain" disabled={!canEdit}>
        <div className={`field${errors.name ? " has-error" : ""}`}>
          <label className="field-label" htmlFor="settings-name">
            Name <span className="req">*</span>
          </label>
          <input id="settings-name" data-testid="settings-name" value={meta.name} onChange={(e) => onChange({ ...meta, name: e.target.value }, "name")} />
          <ul className="rules">
            {rules.map((r) => (
              <li key={r.id} className={r.ok ? "rule-ok" : "rule-bad"}>
                {r.ok ? "✓" : "✗"} {r.label}
              </li>
            ))}
          </ul>
          {errors.name && <div className="field-error">{errors.name}</div>}
        </div>
        <div className={`field${errors.description ? " has-error" : ""}`}>
          <label className="field-label" htmlFor="settings-description">
            Description <span className="req">*</span>
          </label>
          <textarea
            id="settings-description"
            data-testid="settings-description"
            rows={3}
            value={meta.description}
            onChange={(e) => onChange({ ...meta, description: e.target.value }, "description")}
          />
          {!meta.description.trim() && <div className="field-hint warn">A description is required.</div>}
          {errors.description && <div className="field-error">{errors.description}</div>}
        </div>
        <div className={`field${errors.timeout ? " has-error" : ""}`}>
          <label className="field-label" htmlFor="settings-timeout">
            Execution timeout <span className="muted small">(optional, waits included)</span>
          </label>
          <input
            id="settings-timeout"
            data-testid="settings-timeout"
            placeholder="e.g. 7d"
            value={meta.timeout ?? ""}
            onChange={(e) => onChange({ ...meta, timeout: e.target.value.trim() || null }, "timeout")}
          />
          {meta.timeout && !isValidDuration(meta.timeout) && <div className="field-hint warn">Use a duration like 30m, 4h or 7d.</div>}
          {errors.timeout && <div className="field-error">{errors.timeout}</div>}
        </div>
      </fieldset>
    </div>
  );
}

export function VersionsPanel({
  workflowId,
  current,
  onLoad,
  canEdit,
}: {
  workflowId: string;
  current: number;
  onLoad: (doc: WorkflowDocument, version: number) => void;
  canEdit: boolean;
}) {
  const versions = useAsync(
    () => api.get<{ items: { version: number; created_at: string }[] }>(`/api/v1/workflows/${enc(workflowId)}/versions`),
    [workflowId, current],
  );
  const [shown, setShown] = useState<{ version: number; doc: WorkflowDocument } | null>(null);
  const [err, setErr] = useState("");
  const fetchVersion = async (n: number) => {
    setErr("");
    try {
      const v = await api.get<{ version: number; document: WorkflowDocument }>(`/api/v1/workflows/${enc(workflowId)}/versions/${n}`);
      return v;
    } catch (e) {
      setErr(errorMessage(e));
      return null;
    }
  };
  const items = [...(versions.data?.items ?? [])].sort((a, b) => b.version - a.version);
  return (
    <div className="config-panel" data-testid="versions-panel">
      <h2>Versions</h2>
      <p className="muted small">Each save creates a new immutable version. Runs record the version they ran.</p>
      {versions.error ? <ErrorBanner error={versions.error} onRetry={versions.reload} /> : !versions.data ? <Loading /> : null}
      {err && <div className="field-error">{err}</div>}
      <ul className="version-list">
        {items.map((v) => (
          <li key={v.version} data-testid={`version-${v.version}`} className={v.version === current ? "current" : ""}>
            <div>
              <strong>v{v.version}</strong> {v.version === current && <span className="muted small">(current)</span>}
              <div className="muted small">{formatDate(v.created_at)}</div>
            </div>
            <div className="row-actions">
              <button
                className="btn btn-small"
                onClick={async () => {
                  const d = await fetchVersion(v.version);
                  if (d) setShown({ version: d.version, doc: d.document });
                }}
              >
                View code
              </button>
              {canEdit && v.version !== current && (
                <button
                  className="btn btn-small"
                  data-testid={`load-version-${v.version}`}
                  onClick={async () => {
                    const d = await fetchVersion(v.version);
                    if (d) onLoad(d.document, d.version);
                  }}
                >
                  Load into editor
                </button>
              )}
            </div>
          </li>
        ))}
      </ul>
      {shown && (
        <div>
          <h3>v{shown.version}</h3>
          <pre className="json code-view">{YAML.stringify(shown.doc)}</pre>
        </div>
      )}
    </div>
  );
}

export function CodePanel({ doc }: { doc: WorkflowDocument }) {
  const text = YAML.stringify(doc, { lineWidth: 0 });
  return (
    <div className="config-panel" data-testid="code-panel">
      <div className="panel-title">
        <h2>Workflow as YAML</h2>
        <div className="row-actions">
          <CopyButton text={text} label="Copy" testId="copy-yaml" />
          <button
            className="btn btn-small"
            onClick={() => {
              const a = document.createElement("a");
              a.href = URL.createObjectURL(new Blob([text], { type: "application/yaml" }));
              a.download = `${(doc.name || "workflow").replace(/[^A-Za-z0-9_-]+/g, "-")}.yaml`;
              a.click();
              URL.revokeObjectURL(a.href);
            }}
          >
            Download
          </button>
        </div>
      </div>
      <p className="muted small">This is the document the console saves (unsaved edits included). The CLI imports the same file.</p>
      <pre className="json code-view" data-testid="code-view">
        {text}
      </pre>
    </div>
  );
}

export function ProblemsPanel({
  problems,
  nodeFor,
  onGo,
}: {
  problems: ErrorDetail[];
  nodeFor: (path: string) => string | null;
  onGo: (nodeId: string) => void;
}) {
  return (
    <div className="config-panel" data-testid="problems-panel">
      <h2>Problems</h2>
      {problems.length === 0 ? (
        <div className="muted">No problems from the last save.</div>
      ) : (
        <ul className="problem-list">
          {problems.map((d, i) => {
            const nodeId = nodeFor(d.path);
            return (
              <li key={i} data-testid="problem">
                <div>
                  {d.path && <code>{d.path}</code>} {d.message}
                </div>
                {nodeId && (
                  <button className="btn btn-small" onClick={() => onGo(nodeId)}>
                    Show {nodeId}
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
