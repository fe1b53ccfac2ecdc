// Per-node configuration panel: id/name, schema-driven params form, timeout/retry and next steps.
import type { Edge } from "@xyflow/react";
import { useEffect, useMemo, useState } from "react";
import type { DocEdge, DocNode, Integration, JsonValue, NodeType, Workflow } from "../api/types";
import { SchemaForm } from "../components/SchemaForm";
import type { UpstreamStep } from "../components/RefPicker";
import type { Option } from "../components/FieldEditors";
import { ConfirmButton } from "../components/ui";
import { DEFAULT_HANDLE, NODE_ID_RE, isTrigger, sourceHandles, type StepNode } from "../lib/graph";
import { stepOutputSchema, upstreamOf } from "../lib/refs";
import { isValidDuration } from "../lib/schema";
import type { NodeProblems } from "./context";
import { TriggerPanel } from "./TriggerPanel";

export interface ConfigPanelProps {
  node: StepNode;
  nt?: NodeType;
  catalog: Map<string, NodeType>;
  nodes: StepNode[];
  edges: Edge[];
  docEdges: DocEdge[];
  workflow: Workflow | null;
  problems?: NodeProblems;
  integrations: Integration[] | null;
  loadOptions: (source: string, alias: string) => Promise<Option[]>;
  canEdit: boolean;
  onUpdate: (fn: (d: DocNode) => DocNode, key: string) => void;
  onRenameId: (newId: string) => string | null;
  onDelete: () => void;
  onConnect: (handle: string, to: string) => void;
  onRemoveEdge: (edgeId: string) => void;
  onRun: () => void;
  onTriggerSchemaUpdated: () => Promise<void>;
  onSelect: (id: string) => void;
}

export function ConfigPanel(p: ConfigPanelProps) {
  const { node, nt, problems } = p;
  const doc = node.data.doc;
  const trigger = isTrigger(doc.type);
  const [idText, setIdText] = useState(node.id);
  const [idError, setIdError] = useState("");
  useEffect(() => {
    setIdText(node.id);
    setIdError("");
  }, [node.id]);

  const steps: UpstreamStep[] = useMemo(() => {
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    return upstreamOf(node.id, p.docEdges)
      .map((id) => byId.get(id))
      .filter((n): n is StepNode => !!n)
      .map((n) => {
        const d = n.data.doc;
        const t = p.catalog.get(d.type);
        return { id: n.id, label: `${d.name || t?.display_name || d.type} (${n.id})`, schema: stepOutputSchema(d, t) };
      });
  }, [node.id, p.nodes, p.docEdges, p.catalog]);

  const applyId = () => {
    const v = idText.trim();
    if (v === node.id) return;
    if (!NODE_ID_RE.test(v)) {
      setIdError("Lowercase letter first, then lowercase letters, digits or _ (max 64).");
      return;
    }
    const err = p.onRenameId(v);
    setIdError(err ?? "");
  };

  const handles = sourceHandles(nt, doc.params);
  const outgoing = p.edges.filter((e) => e.source === node.id);
  const targets = p.nodes.filter((n) => n.id !== node.id && !isTrigger(n.data.doc.type));

  return (
    <div className="config-panel" data-testid="config-panel" data-node={node.id}>
      <div className="panel-title">
        <div>
          <div className="muted small">{nt?.category ?? "Unknown type"}</div>
          <h2>{nt?.display_name ?? doc.type}</h2>
          {nt?.description && <p className="muted small">{nt.description}</p>}
          {!nt && <p className="field-error">Unknown node type “{doc.type}”. The server will refuse it.</p>}
        </div>
      </div>
      {problems && problems.other.length > 0 && (
        <ul className="problems-inline" data-testid="node-problems">
          {problems.other.map((m, i) => (
            <li key={i} className="field-error">
              {m}
            </li>
          ))}
        </ul>
      )}
      <div className="field">
        <label className="field-label" htmlFor="node-name">
          Name
        </label>
        <input
          id="node-name"
          data-testid="node-name-input"
          placeholder={nt?.display_name}
          value={doc.name ?? ""}
          disabled={!p.canEdit}
          onChange={(e) => p.onUpdate((d) => ({ ...d, name: e.target.value || undefined }), "name")}
        />
      </div>
      <div className={`field${idError ? " has-error" : ""}`}>
        <label className="field-label" htmlFor="node-id">
          Step id <span className="muted small">(used in references)</span>
        </label>
        <input
          id="node-id"
          data-testid="node-id-input"
          value={idText}
          disabled={!p.canEdit}
          onChange={(e) => setIdText(e.target.value)}
          onBlur={applyId}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              applyId();
            }
          }}
        />
        {idError && <div className="field-error">{idError}</div>}
      </div>

      {trigger && (
        <TriggerPanel
          node={node}
          workflow={p.workflow}
          canEdit={p.canEdit}
          onUpdate={p.onUpdate}
          onRun={p.onRun}
          onSchemaUpdated={p.onTriggerSchemaUpdated}
          error={problems?.params.api_key}
        />
      )}

      <section className="panel-section">
        <h3>Settings</h3>
        {nt ? (
          <fieldset disabled={!p.canEdit} className="plain">
            <SchemaForm
              schema={nt.params_schema}
              value={(doc.params ?? {}) as Record<string, JsonValue>}
              onChange={(v) => p.onUpdate((d) => ({ ...d, params: v }), "params")}
              hidden={doc.type === "trigger.webhook" ? ["api_key", "output_schema"] : []} // both shown in the trigger panel
              ctx={{
                steps,
                integrations: p.integrations,
                loadOptions: p.loadOptions,
                errors: problems?.params ?? {},
              }}
            />
          </fieldset>
        ) : (
          <div className="muted small">No form for an unknown type.</div>
        )}
      </section>

      {!trigger && (
        <section className="panel-section">
          <h3>Timeout and retries</h3>
          <div className="inline-fields">
            <label>
              <span className="sub-label">Timeout</span>
              <input
                data-testid="node-timeout"
                placeholder="e.g. 30s"
                value={doc.timeout ?? ""}
                disabled={!p.canEdit}
                aria-invalid={!!doc.timeout && !isValidDuration(doc.timeout)}
                onChange={(e) => p.onUpdate((d) => ({ ...d, timeout: e.target.value.trim() || undefined }), "timeout")}
              />
            </label>
            <label>
              <span className="sub-label">Max attempts</span>
              <input
                type="number"
                min={1}
                data-testid="node-retry-attempts"
                value={doc.retry?.max_attempts ?? ""}
                disabled={!p.canEdit}
                onChange={(e) => {
                  const n = parseInt(e.target.value, 10);
                  p.onUpdate((d) => {
                    const retry = { ...(d.retry ?? {}), max_attempts: Number.isFinite(n) ? n : undefined };
                    return { ...d, retry: retry.max_attempts || retry.backoff ? retry : undefined };
                  }, "retry");
                }}
              />
            </label>
            <label>
              <span className="sub-label">Back-off</span>
              <input
                placeholder="e.g. 10s"
                data-testid="node-retry-backoff"
                value={doc.retry?.backoff ?? ""}
                disabled={!p.canEdit}
                onChange={(e) =>
                  p.onUpdate((d) => {
                    const retry = { ...(d.retry ?? {}), backoff: e.target.value.trim() || undefined };
                    return { ...d, retry: retry.max_attempts || retry.backoff ? retry : undefined };
                  }, "retry")
                }
              />
            </label>
          </div>
        </section>
      )}

      <section className="panel-section" data-testid="next-steps">
        <h3>Next steps</h3>
        {handles.map((h) => {
          const conns = outgoing.filter((e) => (e.sourceHandle ?? DEFAULT_HANDLE) === h.id);
          return (
            <div key={h.id} className="next-row">
              <div className="next-port">
                <span className={`port-dot port-${h.id === "error" ? "error" : h.port ? "named" : "default"}`} /> {h.label}
              </div>
              <ul className="next-list">
                {conns.map((e) => (
                  <li key={e.id}>
                    <button type="button" className="link-btn" onClick={() => p.onSelect(e.target)}>
                      {e.target}
                    </button>
                    {p.canEdit && (
                      <button
                        type="button"
                        className="btn btn-small btn-ghost"
                        aria-label={`Disconnect ${h.label} from ${e.target}`}
                        data-testid={`disconnect-${node.id}-${h.id}-${e.target}`}
                        onClick={() => p.onRemoveEdge(e.id)}
                      >
                        ×
                      </button>
                    )}
                  </li>
                ))}
              </ul>
              {p.canEdit && (
                <select
                  aria-label={`Connect ${h.label} to`}
                  data-testid={`connect-${node.id}-${h.id}`}
                  value=""
                  onChange={(e) => e.target.value && p.onConnect(h.id, e.target.value)}
                >
                  <option value="">Connect to…</option>
                  {targets
                    .filter((t) => !conns.some((c) => c.target === t.id))
                    .map((t) => (
                      <option key={t.id} value={t.id}>
                        {t.data.doc.name ? `${t.data.doc.name} (${t.id})` : t.id}
                      </option>
                    ))}
                </select>
              )}
            </div>
          );
        })}
      </section>

      {p.canEdit && !trigger && (
        <div className="panel-danger">
          <ConfirmButton label="Delete step" testId="delete-node" onConfirm={p.onDelete} />
        </div>
      )}
    </div>
  );
}
