// References between steps: parsing/building `{{ step.field.path }}`, upstream search, output schemas.
import type { DocEdge, DocNode, JsonSchema, JsonValue, NodeType } from "../api/types";
import { normalize, resolveRef, schemaType, type S } from "./schema";

export type InputMode = "value" | "step" | "expr";

export type PathSeg = string | number;

export interface ParsedRef {
  step: string;
  field: string;
  path: PathSeg[];
}

const EXACT_REF = /^\{\{\s*([^{}]*?)\s*\}\}$/;

/** Parses `{{ step.field.path }}` (the whole string is one reference) into parts. */
export function parseRef(value: unknown): ParsedRef | null {
  if (typeof value !== "string") return null;
  const m = EXACT_REF.exec(value.trim());
  if (!m) return null;
  const segs = parsePath(m[1]);
  if (!segs || segs.length < 2 || typeof segs[0] !== "string" || typeof segs[1] !== "string") return null;
  if (!/^[a-z][a-z0-9_]{0,63}$/.test(segs[0])) return null;
  return { step: segs[0], field: segs[1], path: segs.slice(2) };
}

/** Parses `a.b[0]["c-d"]` into segments; null if it is not a plain path. */
export function parsePath(src: string): PathSeg[] | null {
  const out: PathSeg[] = [];
  let i = 0;
  const s = src.trim();
  const ident = /^[A-Za-z_][A-Za-z0-9_-]*/;
  const first = ident.exec(s);
  if (!first) return null;
  out.push(first[0]);
  i = first[0].length;
  while (i < s.length) {
    const rest = s.slice(i);
    let m: RegExpExecArray | null;
    if ((m = /^\.([A-Za-z_][A-Za-z0-9_-]*)/.exec(rest))) {
      out.push(m[1]);
    } else if ((m = /^\[(\d+)\]/.exec(rest))) {
      out.push(Number(m[1]));
    } else if ((m = /^\[\s*"((?:[^"\\]|\\.)*)"\s*\]/.exec(rest)) || (m = /^\[\s*'((?:[^'\\]|\\.)*)'\s*\]/.exec(rest))) {
      out.push(m[1].replace(/\\(.)/g, "$1"));
    } else {
      return null;
    }
    i += m[0].length;
  }
  return out;
}

export function formatPath(segs: PathSeg[]): string {
  let out = "";
  for (const seg of segs) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += `.${seg}`;
    else out += `["${seg.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"]`;
  }
  return out;
}

export function buildRef(step: string, field: string, path: PathSeg[]): string {
  return `{{ ${step}${formatPath([field, ...path])} }}`;
}

/** Which input mode a stored value is shown in when a field is first opened. */
export function detectMode(value: unknown): InputMode {
  if (typeof value !== "string") return "value";
  if (parseRef(value)) return "step";
  if (value.includes("{{")) return "expr";
  return "value";
}

/** Every node from which `nodeId` can be reached (its upstream steps), nearest first. */
export function upstreamOf(nodeId: string, edges: DocEdge[]): string[] {
  const incoming = new Map<string, string[]>();
  for (const e of edges) {
    if (!incoming.has(e.to)) incoming.set(e.to, []);
    incoming.get(e.to)!.push(e.from);
  }
  const seen = new Set<string>([nodeId]);
  const order: string[] = [];
  let frontier = [nodeId];
  while (frontier.length) {
    const next: string[] = [];
    for (const n of frontier) {
      for (const p of incoming.get(n) ?? []) {
        if (!seen.has(p)) {
          seen.add(p);
          order.push(p);
          next.push(p);
        }
      }
    }
    frontier = next;
  }
  return order;
}

const obj = (properties: S, extra: S = {}): S => ({ type: "object", properties, ...extra });
const str = { type: "string" };
const ELASTIGROUP = obj({
  id: str,
  name: str,
  description: str,
  region: str,
  capacity: obj({ minimum: { type: "integer" }, maximum: { type: "integer" }, target: { type: "integer" }, unit: str }),
  createdAt: str,
  updatedAt: str,
});

/** Output schemas of the built-in types, from the product's node catalogue (used when the server gives none). */
const BUILTIN_OUTPUTS: Record<string, S> = {
  "trigger.webhook": obj({ output: obj({}), headers: obj({}, { additionalProperties: str }), query: obj({}, { additionalProperties: str }) }),
  "trigger.manual": obj({ output: obj({}) }),
  "trigger.schedule": obj({ output: obj({ scheduled_at: str }) }),
  "core.jsonpath": obj({ output: {}, matches: { type: "array", items: {} } }),
  "core.http_request": obj({ output: {}, status: { type: "integer" }, headers: obj({}, { additionalProperties: str }), elapsed_ms: { type: "integer" } }),
  "core.loop": obj({ output: { type: "array", items: {} } }),
  "core.wait": obj({ output: obj({ waited_until: str }) }),
  "core.transform": obj({ output: {} }),
  "core.string": obj({ output: {} }),
  "core.if": obj({ output: {} }),
  "slack.send_message": obj({ output: obj({ channel: str, ts: str }) }),
  "slack.approval": obj({
    output: obj({ decision: str, decided_by: obj({ id: str, name: str }), decided_at: str, channel: str, ts: str }),
  }),
  "spot.elastigroup_aws": obj({ output: ELASTIGROUP, items: { type: "array", items: ELASTIGROUP }, request_id: str }),
};

/** The JSON Schema of a step's whole output object (`{output, ...}`) for the reference picker. */
export function stepOutputSchema(node: DocNode, nodeType?: NodeType): S {
  const params = (node.params ?? {}) as Record<string, JsonValue>;
  let base: S =
    nodeType?.output_schema && typeof nodeType.output_schema === "object"
      ? (nodeType.output_schema as S)
      : BUILTIN_OUTPUTS[node.type] ?? obj({ output: {} });
  const custom =
    node.type === "trigger.webhook"
      ? params.output_schema
      : node.type === "trigger.manual"
        ? params.parameters
        : undefined;
  if (custom && typeof custom === "object" && !Array.isArray(custom)) {
    base = { ...base, properties: { ...(base.properties ?? {}), output: custom } };
  }
  return base;
}

export interface TreeChild {
  label: string;
  seg: PathSeg;
  schema: S;
  type?: string;
  hasChildren: boolean;
}

/** Children of a schema node in the picker tree: object properties, or `[0]` for lists. */
export function schemaChildren(schema: JsonSchema, root: JsonSchema): TreeChild[] {
  const { schema: s } = normalize(schema, root);
  const out: TreeChild[] = [];
  const t = schemaType(s);
  if (s.properties && typeof s.properties === "object") {
    for (const [k, v] of Object.entries<any>(s.properties)) {
      const { schema: cs } = normalize(v, root);
      out.push({ label: k, seg: k, schema: cs, type: describeType(cs), hasChildren: hasChildren(cs, root) });
    }
  }
  if (t === "array" && s.items && typeof s.items === "object") {
    const it = resolveRef(s.items, root);
    out.push({ label: "[0] first item", seg: 0, schema: it, type: describeType(it), hasChildren: hasChildren(it, root) });
  }
  return out;
}

function hasChildren(s: S, root: JsonSchema): boolean {
  const { schema: n } = normalize(s, root);
  if (n.properties && Object.keys(n.properties).length > 0) return true;
  return schemaType(n) === "array" && !!n.items && typeof n.items === "object" && Object.keys(n.items).length > 0;
}

function describeType(s: S): string | undefined {
  const t = schemaType(s);
  return Array.isArray(t) ? t.join(" | ") : t;
}

/** Replaces references to `oldId` by `newId` in every string of a params value. */
export function renameRefs(value: JsonValue, oldId: string, newId: string): JsonValue {
  if (typeof value === "string") {
    if (!value.includes("{{")) return value;
    const inner = new RegExp(`(?<![\\w.\\]"'])${oldId}(?=\\s*[.\\[])`, "g");
    return value.replace(/\{\{[\s\S]*?\}\}/g, (block) => block.replace(inner, newId));
  }
  if (Array.isArray(value)) return value.map((v) => renameRefs(v, oldId, newId));
  if (value && typeof value === "object") {
    const out: { [k: string]: JsonValue } = {};
    for (const [k, v] of Object.entries(value)) out[k] = renameRefs(v, oldId, newId);
    return out;
  }
  return value;
}
