// Conversion between the workflow document (§3) and the canvas model, plus handle/port rules.
import type { Edge, Node } from "@xyflow/react";
import type { DocEdge, DocNode, JsonValue, NodeType, WorkflowDocument } from "../api/types";

export const DEFAULT_HANDLE = "default";

export type StepData = { doc: DocNode };
export type StepNode = Node<StepData, "step">;

export interface Meta {
  name: string;
  description: string;
  timeout?: string | null;
}

export interface SourceHandle {
  id: string;
  port: string | null;
  label: string;
}

export const isTrigger = (type: string) => type.startsWith("trigger.");

/** The output handles of a node: named ports, `if` rule ports + else, default path, error. */
/** Types that end the run: nothing can follow them, so they get no output handle. */
const TERMINAL_TYPES = new Set(["core.stop"]);

export function sourceHandles(nt: NodeType | undefined, params: DocNode["params"]): SourceHandle[] {
  const out: SourceHandle[] = [];
  const seen = new Set<string>();
  const add = (port: string | null, label: string) => {
    const id = port ?? DEFAULT_HANDLE;
    if (seen.has(id)) return;
    seen.add(id);
    out.push({ id, port, label });
  };
  if (!nt) {
    add(null, "next");
    return out;
  }
  if (TERMINAL_TYPES.has(nt.type)) return out;
  if (nt.dynamic_ports) {
    const rules = Array.isArray(params?.rules) ? (params!.rules as JsonValue[]) : [];
    for (const r of rules) {
      const port = r && typeof r === "object" && !Array.isArray(r) ? r.port : null;
      if (typeof port === "string" && port.trim()) add(port.trim(), port.trim());
    }
    for (const p of nt.ports ?? []) add(p, p);
    add("else", "else");
  } else if (nt.ports && nt.ports.length > 0) {
    for (const p of nt.ports) add(p, p.replace(/_/g, " "));
  } else {
    add(null, "next");
  }
  if (nt.error_port) add("error", "error");
  return out;
}

export function edgeId(from: string, port: string | null | undefined, to: string): string {
  return `e:${from}:${port ?? ""}:${to}`;
}

export function toFlowEdge(e: DocEdge): Edge {
  return {
    id: edgeId(e.from, e.port, e.to),
    source: e.from,
    target: e.to,
    sourceHandle: e.port ?? DEFAULT_HANDLE,
    targetHandle: "in",
    label: e.port ?? undefined,
    data: { port: e.port ?? null },
  };
}

export function docToFlow(doc: WorkflowDocument): { meta: Meta; nodes: StepNode[]; edges: Edge[] } {
  const nodes: StepNode[] = (doc.nodes ?? []).map((n, i) => {
    const { position, ...rest } = n;
    return {
      id: n.id,
      type: "step",
      position: position && Number.isFinite(position.x) ? { x: position.x, y: position.y } : autoPosition(i),
      data: { doc: { ...rest, params: rest.params ?? {} } },
      deletable: !isTrigger(n.type),
    };
  });
  const edges = (doc.edges ?? []).map(toFlowEdge);
  return { meta: { name: doc.name ?? "", description: doc.description ?? "", timeout: doc.timeout ?? null }, nodes, edges };
}

function autoPosition(i: number) {
  return { x: 80 + (i % 6) * 280, y: 80 + Math.floor(i / 6) * 160 };
}

export function flowToDoc(meta: Meta, nodes: StepNode[], edges: Edge[]): WorkflowDocument {
  const doc: WorkflowDocument = {
    name: meta.name,
    description: meta.description,
    nodes: nodes.map((n) => {
      const d = n.data.doc;
      const out: DocNode = { id: n.id, type: d.type };
      if (d.name) out.name = d.name;
      out.params = d.params ?? {};
      if (d.retry) out.retry = d.retry;
      if (d.timeout) out.timeout = d.timeout;
      out.position = { x: Math.round(n.position.x), y: Math.round(n.position.y) };
      return out;
    }),
    edges: edges.map((e) => {
      const port = e.sourceHandle && e.sourceHandle !== DEFAULT_HANDLE ? e.sourceHandle : null;
      const out: DocEdge = { from: e.source, to: e.target };
      if (port) out.port = port;
      return out;
    }),
  };
  if (meta.timeout) doc.timeout = meta.timeout;
  return doc;
}

export const NODE_ID_RE = /^[a-z][a-z0-9_]{0,63}$/;

/** A fresh node id from the type, e.g. `slack.approval` → `approval_1`. */
export function nextNodeId(type: string, taken: Set<string>): string {
  let base = isTrigger(type) ? "trigger" : (type.split(".").pop() ?? "step");
  base = base.toLowerCase().replace(/[^a-z0-9_]/g, "_").replace(/^[^a-z]+/, "") || "step";
  base = base.slice(0, 58);
  for (let i = 1; ; i++) {
    const id = `${base}_${i}`;
    if (!taken.has(id)) return id;
  }
}

/** Maps `nodes[3].params.channel` to the node id and the path inside the node. */
export function splitDetailPath(path: string, nodeOrder: string[]): { nodeId: string | null; rest: string } {
  const m = /^nodes\[(\d+)\](?:\.(.*))?$/.exec(path.trim());
  if (!m) {
    const byId = /^nodes\.([a-z][a-z0-9_]*)(?:\.(.*))?$/.exec(path.trim());
    if (byId && nodeOrder.includes(byId[1])) return { nodeId: byId[1], rest: byId[2] ?? "" };
    return { nodeId: null, rest: path };
  }
  const id = nodeOrder[Number(m[1])];
  return { nodeId: id ?? null, rest: m[2] ?? "" };
}

/**
 * The params fields a whole-`params` problem concerns, when the message names them: a missing
 * required property (`"channel" is a required property`) or a reference to a step
 * (`refers to \`done\`, …`: every top-level param whose templates use that step). Empty if unknown.
 */
export function problemFields(message: string, params: Record<string, unknown> | undefined): string[] {
  const required = /^"([^"]+)" is a required property/.exec(message);
  if (required) return [required[1]];
  const ref = /refers to `([a-z][a-z0-9_]*)`/.exec(message);
  if (ref && params) {
    const uses = new RegExp(`\\{\\{[^}]*(?<![\\w.])${ref[1]}\\b`);
    return Object.keys(params).filter((k) => uses.test(JSON.stringify(params[k]) ?? ""));
  }
  return [];
}
