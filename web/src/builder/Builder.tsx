// The canvas editor: nodes/edges state, palette drag-and-drop, undo, save with server validation.
import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  applyEdgeChanges,
  applyNodeChanges,
  useReactFlow,
  type Connection,
  type Edge,
  type EdgeChange,
  type NodeChange,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiError, api, enc } from "../api/client";
import type { DocNode, ErrorDetail, Integration, NodeType, Page, Workflow, WorkflowDocument } from "../api/types";
import type { Option } from "../components/FieldEditors";
import { ErrorBanner } from "../components/ui";
import { cached, invalidate, useAsync } from "../lib/hooks";
import {
  docToFlow,
  flowToDoc,
  isTrigger,
  nextNodeId,
  problemFields,
  splitDetailPath,
  toFlowEdge,
  type Meta,
  type StepNode as StepNodeT,
} from "../lib/graph";
import { renameRefs, upstreamOf } from "../lib/refs";
import { navigate, href } from "../lib/router";
import { emptyValue } from "../lib/schema";
import { DRAFT_KEY } from "../pages/Workflows";
import { useSession } from "../session";
import { ConfigPanel } from "./ConfigPanel";
import { CatalogContext, ProblemsContext, type NodeProblems } from "./context";
import { DND_TYPE, Palette } from "./Palette";
import { RunDialog } from "./RunDialog";
import { CodePanel, ProblemsPanel, SettingsPanel, VersionsPanel } from "./SidePanels";
import { StepNode } from "./StepNode";
import { useHistory, type Snapshot } from "./useHistory";

const nodeTypes = { step: StepNode };
type PanelKind = "node" | "settings" | "versions" | "code" | "problems" | null;

export function Builder({
  types,
  initialDoc,
  initialWorkflow,
}: {
  types: NodeType[];
  initialDoc: WorkflowDocument;
  initialWorkflow: Workflow | null;
}) {
  const { canEdit } = useSession();
  const rf = useReactFlow();
  const catalog = useMemo(() => new Map(types.map((t) => [t.type, t])), [types]);
  const initial = useMemo(() => docToFlow(initialDoc), [initialDoc]);
  const [meta, setMeta] = useState<Meta>(initial.meta);
  const [nodes, setNodes] = useState<StepNodeT[]>(initial.nodes);
  const [edges, setEdges] = useState<Edge[]>(initial.edges);
  const [workflow, setWorkflow] = useState<Workflow | null>(initialWorkflow);
  const [panel, setPanel] = useState<PanelKind>(initial.nodes.length ? "node" : "settings");
  const [paletteOpen, setPaletteOpen] = useState(false);
  const [dirty, setDirty] = useState(!initialWorkflow);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string>("");
  const [problems, setProblems] = useState<ErrorDetail[]>([]);
  const [problemOrder, setProblemOrder] = useState<string[]>([]);
  const [running, setRunning] = useState(false);
  const wrapper = useRef<HTMLDivElement>(null);

  const stateRef = useRef<Snapshot>({ meta, nodes, edges });
  stateRef.current = { meta, nodes, edges };
  const current = useCallback(() => stateRef.current, []);
  const restore = useCallback((s: Snapshot) => {
    setMeta(s.meta);
    setNodes(s.nodes);
    setEdges(s.edges);
    setDirty(true);
  }, []);
  const history = useHistory(current, restore);
  const change = useCallback(
    (key?: string) => {
      history.push(key);
      setDirty(true);
    },
    [history],
  );

  const integrations = useAsync(
    () => cached("integrations", () => api.get<Page<Integration>>("/api/v1/integrations")).then((r) => r.items),
    [],
  );
  const loadOptions = useCallback(async (source: string, alias: string): Promise<Option[]> => {
    if (source === "slack-channels") {
      const r = await cached(`channels:${alias}`, () =>
        api.get<{ items: { id: string; name?: string }[] }>(`/api/v1/integrations/${enc(alias)}/channels`),
      );
      return r.items.map((c) => ({ value: c.id, label: c.name ? `#${c.name} (${c.id})` : c.id }));
    }
    if (source === "spot-accounts") {
      const r = await cached(`accounts:${alias}`, () =>
        api.get<{ items: { accountId: string; name?: string }[] }>(`/api/v1/integrations/${enc(alias)}/accounts`),
      );
      return r.items.map((a) => ({ value: a.accountId, label: a.name ? `${a.name} (${a.accountId})` : a.accountId }));
    }
    if (source === "api-keys") {
      const r = await api.get<Page<{ name: string }>>("/api/v1/api-keys");
      return r.items.map((k) => ({ value: k.name, label: k.name }));
    }
    return [];
  }, []);

  // ---- problems from the last save, per node ----
  const nodeProblems = useMemo(() => {
    const m = new Map<string, NodeProblems>();
    for (const d of problems) {
      const { nodeId, rest } = splitDetailPath(d.path, problemOrder);
      if (!nodeId) continue;
      if (!m.has(nodeId)) m.set(nodeId, { params: {}, other: [] });
      const np = m.get(nodeId)!;
      if (rest.startsWith("params.") || rest.startsWith("params[")) np.params[rest.replace(/^params\.?/, "")] = d.message;
      else {
        // A problem about `params` as a whole may still name its field(s): show it there too.
        const params = stateRef.current.nodes.find((n) => n.id === nodeId)?.data.doc.params;
        const fields = rest === "params" ? problemFields(d.message, params) : [];
        for (const f of fields) np.params[f] = d.message;
        if (!fields.length) np.other.push(rest ? `${rest}: ${d.message}` : d.message);
      }
    }
    for (const d of problems) {
      const em = /^edges\[(\d+)\]/.exec(d.path);
      if (!em) continue;
      const e = edges[Number(em[1])];
      if (e && m.has(e.source)) m.get(e.source)!.other.push(`edge to ${e.target}: ${d.message}`);
      else if (e) m.set(e.source, { params: {}, other: [`edge to ${e.target}: ${d.message}`] });
    }
    return m;
  }, [problems, problemOrder, edges]);
  const metaErrors = useMemo(() => {
    const out: Record<string, string> = {};
    for (const d of problems) if (/^(name|description|timeout)$/.test(d.path)) out[d.path] = d.message;
    return out;
  }, [problems]);

  // ---- selection ----
  const selectedNodes = nodes.filter((n) => n.selected);
  const selected = selectedNodes.length === 1 ? selectedNodes[0] : null;
  const selectNode = useCallback(
    (id: string, center = true) => {
      setNodes((ns) => ns.map((n) => (n.selected === (n.id === id) ? n : { ...n, selected: n.id === id })));
      setPanel("node");
      if (center) {
        const n = stateRef.current.nodes.find((x) => x.id === id);
        if (n) void rf.setCenter(n.position.x + 110, n.position.y + 50, { zoom: Math.max(rf.getZoom(), 0.8), duration: 300 });
      }
    },
    [rf],
  );

  // ---- canvas changes ----
  const onNodesChange = useCallback(
    (changes: NodeChange<StepNodeT>[]) => {
      if (changes.some((c) => c.type === "remove")) change("remove");
      setNodes((ns) => applyNodeChanges(changes, ns));
    },
    [change],
  );
  const onEdgesChange = useCallback(
    (changes: EdgeChange[]) => {
      if (changes.some((c) => c.type === "remove")) change("remove");
      setEdges((es) => applyEdgeChanges(changes, es));
    },
    [change],
  );
  const docEdges = useMemo(
    () => edges.map((e) => ({ from: e.source, to: e.target, port: e.sourceHandle ?? null })),
    [edges],
  );
  const isValidConnection = useCallback(
    (c: Connection | Edge) => {
      if (!c.source || !c.target || c.source === c.target) return false;
      const target = stateRef.current.nodes.find((n) => n.id === c.target);
      if (!target || isTrigger(target.data.doc.type)) return false;
      // No cycles: the target may not already lead to the source.
      return !upstreamOf(c.source, docEdges).includes(c.target);
    },
    [docEdges],
  );
  const connect = useCallback(
    (source: string, handle: string | null, target: string) => {
      if (!isValidConnection({ source, target, sourceHandle: handle, targetHandle: "in" })) {
        setNotice("That connection would create a loop or target a trigger.");
        return;
      }
      const port = handle && handle !== "default" ? handle : null;
      const e = toFlowEdge({ from: source, port, to: target });
      if (stateRef.current.edges.some((x) => x.id === e.id)) return;
      change();
      setEdges((es) => [...es, e]);
    },
    [isValidConnection, change],
  );
  const onConnect = useCallback((c: Connection) => connect(c.source, c.sourceHandle ?? null, c.target), [connect]);

  const addNode = useCallback(
    (type: string, position?: { x: number; y: number }) => {
      const nt = catalog.get(type);
      if (!nt) return;
      const taken = new Set(stateRef.current.nodes.map((n) => n.id));
      const id = nextNodeId(type, taken);
      let pos = position;
      if (!pos) {
        const rect = wrapper.current?.getBoundingClientRect();
        const center = rect ? { x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 } : { x: 400, y: 300 };
        pos = rf.screenToFlowPosition(center);
        pos = { x: pos.x - 110 + (taken.size % 5) * 24, y: pos.y - 40 + (taken.size % 5) * 24 };
      }
      const params = emptyValue(nt.params_schema, nt.params_schema);
      const node: StepNodeT = {
        id,
        type: "step",
        position: pos,
        selected: true,
        data: { doc: { id, type, params: params && typeof params === "object" && !Array.isArray(params) ? params : {} } },
      };
      change();
      setNodes((ns) => [...ns.map((n) => (n.selected ? { ...n, selected: false } : n)), node]);
      setPanel("node");
    },
    [catalog, rf, change],
  );

  const updateNode = useCallback(
    (id: string, fn: (d: DocNode) => DocNode, key: string) => {
      change(`${id}:${key}`);
      setNodes((ns) => ns.map((n) => (n.id === id ? { ...n, data: { doc: fn(n.data.doc) } } : n)));
    },
    [change],
  );

  const renameId = useCallback(
    (oldId: string, newId: string): string | null => {
      if (stateRef.current.nodes.some((n) => n.id === newId)) return `A step with id “${newId}” already exists.`;
      change();
      setNodes((ns) =>
        ns.map((n) => {
          const params = renameRefs(n.data.doc.params ?? {}, oldId, newId) as DocNode["params"];
          if (n.id === oldId) return { ...n, id: newId, data: { doc: { ...n.data.doc, id: newId, params } } };
          return params === n.data.doc.params ? n : { ...n, data: { doc: { ...n.data.doc, params } } };
        }),
      );
      setEdges((es) =>
        es.map((e) =>
          e.source === oldId || e.target === oldId
            ? toFlowEdge({
                from: e.source === oldId ? newId : e.source,
                port: e.sourceHandle && e.sourceHandle !== "default" ? e.sourceHandle : null,
                to: e.target === oldId ? newId : e.target,
              })
            : e,
        ),
      );
      return null;
    },
    [change],
  );

  const deleteNode = useCallback(
    (id: string) => {
      change();
      setNodes((ns) => ns.filter((n) => n.id !== id));
      setEdges((es) => es.filter((e) => e.source !== id && e.target !== id));
    },
    [change],
  );

  // ---- save ----
  const save = useCallback(async () => {
    if (!canEdit || saving) return;
    const s = stateRef.current;
    const doc = flowToDoc(s.meta, s.nodes, s.edges);
    setSaving(true);
    setSaveError(null);
    setNotice("");
    try {
      if (!workflow) {
        const created = await api.post<{ id: string; version: number }>("/api/v1/workflows", doc);
        sessionStorage.removeItem(DRAFT_KEY);
        setDirty(false);
        navigate(`/workflows/${created.id}`);
        return;
      }
      const r = await api.put<{ id: string; version: number; warnings?: unknown[] }>(`/api/v1/workflows/${enc(workflow.id)}`, doc);
      setWorkflow({ ...workflow, version: r.version, name: doc.name, document: doc });
      setProblems([]);
      setDirty(false);
      const warnings = (r.warnings ?? []).map((w) => (typeof w === "string" ? w : (w as { message?: string })?.message ?? ""));
      setNotice(`Saved as version ${r.version}.${warnings.length ? ` Warnings: ${warnings.join("; ")}` : ""}`);
    } catch (e) {
      if (e instanceof ApiError && e.details.length) {
        setProblems(e.details);
        setProblemOrder(doc.nodes.map((n) => n.id));
        setPanel((p) => (p === "node" && selected ? p : "problems"));
      }
      setSaveError(e);
    } finally {
      setSaving(false);
    }
  }, [canEdit, saving, workflow, selected]);

  // ---- keyboard: undo/redo/save ----
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      if (!mod) return;
      const k = e.key.toLowerCase();
      if (k === "s") {
        e.preventDefault();
        void save();
        return;
      }
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
      if (k === "z" && !e.shiftKey) {
        e.preventDefault();
        history.undo();
      } else if ((k === "z" && e.shiftKey) || k === "y") {
        e.preventDefault();
        history.redo();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [history, save]);

  useEffect(() => {
    if (!dirty) return;
    const before = (e: BeforeUnloadEvent) => {
      e.preventDefault();
    };
    window.addEventListener("beforeunload", before);
    return () => window.removeEventListener("beforeunload", before);
  }, [dirty]);

  const refreshTriggerSchema = useCallback(async () => {
    if (!workflow) return;
    const fresh = await api.get<Workflow>(`/api/v1/workflows/${enc(workflow.id)}`);
    setWorkflow({ ...fresh });
    const trig = fresh.document.nodes.find((n) => isTrigger(n.type));
    if (trig) {
      setNodes((ns) =>
        ns.map((n) =>
          isTrigger(n.data.doc.type)
            ? { ...n, data: { doc: { ...n.data.doc, params: { ...(n.data.doc.params ?? {}), output_schema: trig.params?.output_schema ?? null } } } }
            : n,
        ),
      );
    }
    setNotice(`The trigger's output schema was saved as version ${fresh.version}.`);
  }, [workflow]);

  const toggleEnabled = async () => {
    if (!workflow) return;
    try {
      await api.patch(`/api/v1/workflows/${enc(workflow.id)}`, { enabled: !workflow.enabled });
      setWorkflow({ ...workflow, enabled: !workflow.enabled });
    } catch (e) {
      setSaveError(e);
    }
  };

  const big = nodes.length > 200;
  // A big workflow opens on its first steps at a readable zoom rather than all of it as specks;
  // the minimap is off then, and "Find a step" or the fit-view control reach the rest.
  const [fitViewOptions] = useState(() =>
    initial.nodes.length > 200
      ? { maxZoom: 1, minZoom: 0.5, padding: 0.1, nodes: initial.nodes.slice(0, 12).map((n) => ({ id: n.id })) }
      : { maxZoom: 1, padding: 0.2 },
  );
  const openPanel = (p: PanelKind) => setPanel((cur) => (cur === p ? null : p));
  const currentDoc = panel === "code" ? flowToDoc(meta, nodes, edges) : null;

  return (
    <CatalogContext.Provider value={catalog}>
      <ProblemsContext.Provider value={nodeProblems}>
        <div className="builder" data-testid="builder">
          <div className="builder-bar">
            <a href={href("/workflows")} className="btn btn-ghost btn-small" aria-label="Back to workflows">
              ←
            </a>
            <div className="builder-title">
              <strong data-testid="builder-name">{meta.name || "Untitled"}</strong>
              <span className="muted small">
                {workflow ? ` v${workflow.version}` : " (not saved yet)"}
                {dirty && <span data-testid="dirty"> · unsaved changes</span>}
              </span>
            </div>
            {workflow && (
              <label className="switch">
                <input type="checkbox" checked={workflow.enabled} disabled={!canEdit} onChange={() => void toggleEnabled()} data-testid="builder-enabled" />
                <span>{workflow.enabled ? "Enabled" : "Disabled"}</span>
              </label>
            )}
            <div className="spacer" />
            <button className="btn btn-small" onClick={() => history.undo()} disabled={!history.canUndo} title="Undo (Ctrl+Z)" data-testid="undo">
              Undo
            </button>
            <button className="btn btn-small" onClick={() => history.redo()} disabled={!history.canRedo} title="Redo (Ctrl+Shift+Z)" data-testid="redo">
              Redo
            </button>
            <button className={`btn btn-small${panel === "settings" ? " btn-on" : ""}`} onClick={() => openPanel("settings")} data-testid="open-settings">
              Settings
            </button>
            {workflow && (
              <button className={`btn btn-small${panel === "versions" ? " btn-on" : ""}`} onClick={() => openPanel("versions")} data-testid="open-versions">
                Versions
              </button>
            )}
            <button className={`btn btn-small${panel === "code" ? " btn-on" : ""}`} onClick={() => openPanel("code")} data-testid="open-code">
              View code
            </button>
            {problems.length > 0 && (
              <button className="btn btn-small btn-warn" onClick={() => openPanel("problems")} data-testid="open-problems">
                {problems.length} problem{problems.length > 1 ? "s" : ""}
              </button>
            )}
            {workflow && (
              <>
                <a className="btn btn-small" href={href(`/executions?workflow_id=${enc(workflow.id)}`)} data-testid="builder-runs">
                  Runs
                </a>
                <button className="btn btn-small" onClick={() => setRunning(true)} data-testid="run-workflow" disabled={!canEdit}>
                  ▶ Run
                </button>
              </>
            )}
            <button className="btn btn-primary" onClick={() => void save()} disabled={!canEdit || saving} data-testid="save-button" title="Save (Ctrl+S)">
              {saving ? "Saving…" : "Save"}
            </button>
          </div>
          {saveError ? (
            <ErrorBanner
              error={saveError}
              testId="save-error"
              pathLabel={(p) => {
                const { nodeId, rest } = splitDetailPath(p, problemOrder);
                return nodeId ? `${nodeId}${rest ? `.${rest}` : ""}` : p;
              }}
            />
          ) : null}
          {notice && (
            <div className="banner banner-info" role="status" data-testid="save-notice">
              {notice}
              <button className="modal-close" aria-label="Dismiss" onClick={() => setNotice("")}>
                ×
              </button>
            </div>
          )}
          <div className="builder-body">
            <div
              className="canvas"
              ref={wrapper}
              data-testid="canvas"
              onDragOver={(e) => {
                e.preventDefault();
                e.dataTransfer.dropEffect = "move";
              }}
              onDrop={(e) => {
                e.preventDefault();
                const type = e.dataTransfer.getData(DND_TYPE) || e.dataTransfer.getData("text/plain");
                if (!type || !catalog.has(type) || !canEdit) return;
                const p = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY });
                addNode(type, { x: p.x - 100, y: p.y - 30 });
              }}
            >
              {canEdit && (
                <button
                  className="palette-toggle"
                  aria-label="Add a step"
                  aria-expanded={paletteOpen}
                  data-testid="palette-toggle"
                  onClick={() => setPaletteOpen((o) => !o)}
                >
                  +
                </button>
              )}
              {paletteOpen && <Palette types={types} onAdd={(t) => addNode(t)} onClose={() => setPaletteOpen(false)} />}
              {nodes.length <= 1 && (
                <div className="canvas-hint muted">Press + and drag steps here, then connect their handles.</div>
              )}
              <ReactFlow
                nodes={nodes}
                edges={edges}
                nodeTypes={nodeTypes}
                onNodesChange={onNodesChange}
                onEdgesChange={onEdgesChange}
                onConnect={onConnect}
                isValidConnection={isValidConnection}
                onNodeDragStart={() => change()}
                onNodeClick={() => setPanel("node")}
                onNodeDoubleClick={() => {
                  setPanel("node");
                  window.setTimeout(() => document.getElementById("node-name")?.focus(), 0);
                }}
                nodesDraggable={canEdit}
                nodesConnectable={canEdit}
                elementsSelectable
                deleteKeyCode={canEdit ? ["Delete", "Backspace"] : null}
                onlyRenderVisibleElements
                fitView
                fitViewOptions={fitViewOptions}
                minZoom={0.05}
                maxZoom={2}
                defaultEdgeOptions={{ interactionWidth: 16 }}
                proOptions={{ hideAttribution: true }}
              >
                <Background gap={20} />
                <Controls showInteractive={false} />
                {!big && <MiniMap pannable zoomable nodeStrokeWidth={2} />}
              </ReactFlow>
            </div>
            {panel && (
              <aside className="side" aria-label="Details" data-testid="side-panel">
                <button className="modal-close side-close" aria-label="Close panel" onClick={() => setPanel(null)}>
                  ×
                </button>
                {panel === "node" &&
                  (selected ? (
                    <ConfigPanel
                      key={selected.id}
                      node={selected}
                      nt={catalog.get(selected.data.doc.type)}
                      catalog={catalog}
                      nodes={nodes}
                      edges={edges}
                      docEdges={docEdges}
                      workflow={workflow}
                      problems={nodeProblems.get(selected.id)}
                      integrations={integrations.error ? [] : integrations.data ?? null}
                      loadOptions={loadOptions}
                      canEdit={canEdit}
                      onUpdate={(fn, key) => updateNode(selected.id, fn, key)}
                      onRenameId={(nid) => renameId(selected.id, nid)}
                      onDelete={() => deleteNode(selected.id)}
                      onConnect={(h, to) => connect(selected.id, h, to)}
                      onRemoveEdge={(id) => {
                        change();
                        setEdges((es) => es.filter((e) => e.id !== id));
                      }}
                      onRun={() => setRunning(true)}
                      onTriggerSchemaUpdated={refreshTriggerSchema}
                      onSelect={(id) => selectNode(id)}
                    />
                  ) : (
                    <div className="config-panel muted" data-testid="no-selection">
                      {selectedNodes.length > 1
                        ? `${selectedNodes.length} steps selected. Press Delete to remove them.`
                        : "Select a step to configure it."}
                      <NodeJumpList nodes={nodes} onGo={selectNode} />
                    </div>
                  ))}
                {panel === "settings" && (
                  <SettingsPanel
                    meta={meta}
                    canEdit={canEdit}
                    errors={metaErrors}
                    onChange={(m, key) => {
                      change(`meta:${key}`);
                      setMeta(m);
                    }}
                  />
                )}
                {panel === "versions" && workflow && (
                  <VersionsPanel
                    workflowId={workflow.id}
                    current={workflow.version}
                    canEdit={canEdit}
                    onLoad={(doc, v) => {
                      change();
                      const f = docToFlow(doc);
                      setMeta(f.meta);
                      setNodes(f.nodes);
                      setEdges(f.edges);
                      setNotice(`Loaded version ${v} into the editor. Save to make it the current version.`);
                    }}
                  />
                )}
                {panel === "code" && currentDoc && <CodePanel doc={currentDoc} />}
                {panel === "problems" && (
                  <ProblemsPanel
                    problems={problems}
                    nodeFor={(p) => splitDetailPath(p, problemOrder).nodeId}
                    onGo={(id) => selectNode(id)}
                  />
                )}
              </aside>
            )}
          </div>
          {running && workflow && (
            <RunDialog
              workflowId={workflow.id}
              onClose={() => setRunning(false)}
              onStarted={(id) => {
                invalidate("executions");
                navigate(`/executions/${id}`);
              }}
            />
          )}
        </div>
      </ProblemsContext.Provider>
    </CatalogContext.Provider>
  );
}

/** Keyboard-friendly list of steps to jump to (useful on big canvases). */
function NodeJumpList({ nodes, onGo }: { nodes: StepNodeT[]; onGo: (id: string) => void }) {
  const [q, setQ] = useState("");
  const matches = nodes.filter((n) => !q || n.id.includes(q) || (n.data.doc.name ?? "").toLowerCase().includes(q.toLowerCase()));
  const list = matches.slice(0, 50);
  return (
    <div className="jump">
      <input placeholder="Find a step…" aria-label="Find a step" value={q} onChange={(e) => setQ(e.target.value)} data-testid="find-step" />
      <ul>
        {list.map((n) => (
          <li key={n.id}>
            <button className="link-btn" onClick={() => onGo(n.id)}>
              {n.data.doc.name ? `${n.data.doc.name} (${n.id})` : n.id}
            </button>
          </li>
        ))}
      </ul>
      {matches.length > list.length && (
        <div className="muted small" data-testid="find-step-more">
          {matches.length - list.length} more: type to narrow the list.
        </div>
      )}
    </div>
  );
}

