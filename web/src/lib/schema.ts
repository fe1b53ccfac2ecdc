// JSON Schema helpers for the schema-driven forms: $ref resolution, nullable unwrapping, field kinds.
import type { JsonSchema, JsonValue } from "../api/types";

export type S = { [k: string]: any };

export type FieldKind =
  | "integration"
  | "source"
  | "enum"
  | "duration"
  | "string"
  | "text"
  | "integer"
  | "number"
  | "boolean"
  | "array"
  | "object"
  | "map"
  | "variant"
  | "json";

/** Resolves a local `$ref` (`#/$defs/X`, `#/definitions/X`) against the root schema. */
export function resolveRef(schema: JsonSchema, root: JsonSchema): S {
  let s: any = schema;
  let guard = 0;
  while (s && typeof s === "object" && typeof s.$ref === "string" && guard++ < 32) {
    const ref: string = s.$ref;
    if (!ref.startsWith("#/")) break;
    let target: any = root;
    for (const part of ref.slice(2).split("/")) {
      target = target?.[decodeURIComponent(part.replace(/~1/g, "/").replace(/~0/g, "~"))];
    }
    if (!target) break;
    // Sibling keywords next to $ref (2020-12) override the referenced schema's annotations.
    const { $ref: _ignored, ...rest } = s;
    s = { ...target, ...rest };
  }
  if (s === true || s === undefined || s === null) return {};
  if (s === false) return { not: {} };
  return s as S;
}

const isNullSchema = (s: any) => s && typeof s === "object" && (s.type === "null" || s.const === null);

/** Resolves refs, unwraps `Option<T>` forms (anyOf with null, type [T, "null"]) and single allOf. */
export function normalize(schema: JsonSchema, root: JsonSchema): { schema: S; nullable: boolean } {
  let s = resolveRef(schema, root);
  let nullable = false;
  for (let i = 0; i < 8; i++) {
    if (Array.isArray(s.type) && s.type.includes("null")) {
      const rest = s.type.filter((t: string) => t !== "null");
      nullable = true;
      s = { ...s, type: rest.length === 1 ? rest[0] : rest };
      continue;
    }
    const alt = s.anyOf ?? s.oneOf;
    if (Array.isArray(alt) && alt.some(isNullSchema)) {
      const others = alt.filter((a: any) => !isNullSchema(a));
      nullable = true;
      const key = s.anyOf ? "anyOf" : "oneOf";
      const { [key]: _drop, ...rest } = s;
      if (others.length === 1) {
        s = { ...resolveRef(others[0], root), ...annotations(rest) };
      } else {
        s = { ...rest, [key]: others };
      }
      continue;
    }
    if (Array.isArray(s.allOf) && s.allOf.length === 1) {
      const { allOf, ...rest } = s;
      s = { ...resolveRef(allOf[0], root), ...annotations(rest) };
      continue;
    }
    break;
  }
  return { schema: s, nullable };
}

function annotations(s: S): S {
  const out: S = {};
  for (const k of ["title", "description", "default", "format", "x-integration-type", "x-source", "examples"]) {
    if (k in s) out[k] = s[k];
  }
  return out;
}

export interface EnumOption {
  value: JsonValue;
  label: string;
  description?: string;
}

/** Enum choices from `enum`, or from `oneOf`/`anyOf` whose members are all `const`. */
export function enumOptions(s: S, root: JsonSchema): EnumOption[] | null {
  if (Array.isArray(s.enum)) return s.enum.map((v: JsonValue) => ({ value: v, label: String(v) }));
  const alt = s.oneOf ?? s.anyOf;
  if (Array.isArray(alt) && alt.length > 0) {
    const members = alt.map((a: any) => resolveRef(a, root));
    const opts: EnumOption[] = [];
    for (const m of members) {
      if ("const" in m) opts.push({ value: m.const, label: String(m.title ?? m.const), description: m.description });
      else if (Array.isArray(m.enum)) {
        for (const v of m.enum) opts.push({ value: v, label: String(v), description: m.description });
      } else return null;
    }
    return opts;
  }
  return null;
}

export function schemaType(s: S): string | undefined {
  if (typeof s.type === "string") return s.type;
  if (Array.isArray(s.type) && s.type.length === 1) return s.type[0];
  if (s.properties) return "object";
  if (s.items) return "array";
  return undefined;
}

export function fieldKind(s: S, root: JsonSchema, name?: string): FieldKind {
  if (s["x-integration-type"] || (name === "integration" && schemaType(s) === "string")) return "integration";
  if (s["x-source"]) return "source";
  if (enumOptions(s, root)) return "enum";
  if (Array.isArray(s.oneOf ?? s.anyOf)) {
    const members = (s.oneOf ?? s.anyOf).map((a: any) => resolveRef(a, root));
    if (members.every((m: S) => schemaType(m) === "object")) return "variant";
    return "json";
  }
  const t = schemaType(s);
  switch (t) {
    case "string":
      if (s.format === "duration") return "duration";
      if (name && /^(timeout|backoff|duration)$/.test(name)) return "duration";
      if (s.format === "textarea" || (typeof s.maxLength === "number" && s.maxLength > 500)) return "text";
      if (name && /^(text|notes|message|body|description)$/.test(name)) return "text";
      return "string";
    case "integer":
      return "integer";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "array":
      return "array";
    case "object":
      if (s.properties && Object.keys(s.properties).length > 0) return "object";
      // `additionalProperties: true` (any values, e.g. Slack `variables`) is a map of text values.
      if (s.additionalProperties === true) return "map";
      if (s.additionalProperties && typeof s.additionalProperties === "object") {
        const v = resolveRef(s.additionalProperties, root);
        const vt = schemaType(v);
        if (vt === "string" || vt === "number" || vt === "integer" || vt === "boolean" || Object.keys(v).length === 0) return "map";
      }
      return "json";
    default:
      return "json";
  }
}

export function humanize(name: string): string {
  const s = name.replace(/[_-]+/g, " ").trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function fieldLabel(name: string, s: S): string {
  return typeof s.title === "string" && s.title ? s.title : humanize(name);
}

export function requiredSet(s: S): Set<string> {
  return new Set(Array.isArray(s.required) ? s.required : []);
}

/** A sensible empty value for a schema (used when adding list items or required fields). */
export function emptyValue(schema: JsonSchema, root: JsonSchema): JsonValue {
  const { schema: s } = normalize(schema, root);
  if ("default" in s) return s.default as JsonValue;
  const kind = fieldKind(s, root);
  switch (kind) {
    case "integer":
    case "number":
      return 0;
    case "boolean":
      return false;
    case "array":
      return [];
    case "object": {
      const out: { [k: string]: JsonValue } = {};
      const req = requiredSet(s);
      for (const [k, v] of Object.entries(s.properties ?? {})) {
        if (req.has(k)) out[k] = emptyValue(v as JsonSchema, root);
      }
      return out;
    }
    case "map":
      return {};
    case "enum": {
      const opts = enumOptions(s, root);
      return opts && opts.length ? opts[0].value : "";
    }
    default:
      return "";
  }
}

/** For a oneOf of objects: picks the member that best matches the current value. */
export function matchVariant(members: S[], value: any): number {
  if (!value || typeof value !== "object") return 0;
  let best = 0;
  let bestScore = -1;
  members.forEach((m, i) => {
    let score = 0;
    for (const [k, p] of Object.entries<any>(m.properties ?? {})) {
      if (p && "const" in p) {
        if (value[k] === p.const) score += 10;
        else score -= 100;
      } else if (p && Array.isArray(p.enum) && p.enum.length === 1) {
        if (value[k] === p.enum[0]) score += 10;
        else score -= 100;
      } else if (k in value) score += 1;
    }
    if (score > bestScore) {
      bestScore = score;
      best = i;
    }
  });
  return best;
}

export function variantLabel(m: S, i: number): string {
  if (m.title) return String(m.title);
  for (const p of Object.values<any>(m.properties ?? {})) {
    if (p && "const" in p) return String(p.const);
    if (p && Array.isArray(p.enum) && p.enum.length === 1) return String(p.enum[0]);
  }
  return `Option ${i + 1}`;
}

const DURATION_RE = /^\s*(\d+)\s*(ms|s|m|h|d)\s*$/;

/** Accepts compact durations like `30s`, `15m`, `4h`, `7d`, or combinations like `1h30m`. */
export function isValidDuration(v: string): boolean {
  if (DURATION_RE.test(v)) return true;
  return /^(\d+(ms|s|m|h|d))+$/.test(v.replace(/\s+/g, ""));
}
