// Schema-driven form generator: renders a node type's params JSON Schema as editable fields.
import { useState } from "react";
import type { JsonSchema, JsonValue } from "../api/types";
import {
  emptyValue,
  fieldKind,
  fieldLabel,
  matchVariant,
  normalize,
  requiredSet,
  resolveRef,
  variantLabel,
  type S,
} from "../lib/schema";
import { LeafEditor, ModeField, testKey, type FormContext } from "./FieldEditors";

export type { FormContext } from "./FieldEditors";

type Obj = Record<string, JsonValue>;

const joinPath = (base: string, key: string) => (base ? `${base}.${key}` : key);

interface SchemaFormProps {
  schema: JsonSchema;
  value: Obj;
  onChange: (v: Obj) => void;
  ctx: Omit<FormContext, "root">;
  /** Top-level properties rendered elsewhere (e.g. the trigger panel's API key). */
  hidden?: string[];
}

export function SchemaForm({ schema, value, onChange, ctx, hidden = [] }: SchemaFormProps) {
  const full: FormContext = { ...ctx, root: schema };
  const { schema: s } = normalize(schema, schema);
  const kind = fieldKind(s, schema);
  if (kind === "variant") {
    return (
      <div className="schema-form" data-testid="schema-form">
        <VariantFields schema={s} path="" value={value} onChange={(v) => onChange((v ?? {}) as Obj)} ctx={full} />
      </div>
    );
  }
  const props = s.properties ?? {};
  if (Object.keys(props).length === 0) {
    return (
      <div className="schema-form" data-testid="schema-form">
        <div className="muted small">This step has no settings.</div>
      </div>
    );
  }
  const unplaced = Object.entries(ctx.errors).filter(([p]) => p === "" || !isPlaced(p, s, schema));
  return (
    <div className="schema-form" data-testid="schema-form">
      {unplaced.map(([p, m]) => (
        <div key={p} className="field-error" data-testid="form-error">
          {p && <code>{p}</code>} {m}
        </div>
      ))}
      <ObjectFields schema={s} path="" value={value ?? {}} onChange={onChange} ctx={full} hidden={hidden} />
    </div>
  );
}

/** True when an error path starts with a property the form renders. */
function isPlaced(path: string, s: S, root: JsonSchema): boolean {
  const first = /^([^.[]+)/.exec(path)?.[1];
  if (!first) return false;
  if (s.properties && first in s.properties) return true;
  const alt = s.oneOf ?? s.anyOf;
  return Array.isArray(alt) && alt.some((m: any) => first in (resolveRef(m, root).properties ?? {}));
}

function ObjectFields({
  schema,
  path,
  value,
  onChange,
  ctx,
  hidden = [],
  skip = [],
}: {
  schema: S;
  path: string;
  value: Obj;
  onChange: (v: Obj) => void;
  ctx: FormContext;
  hidden?: string[];
  skip?: string[];
}) {
  const req = requiredSet(schema);
  const entries = Object.entries<any>(schema.properties ?? {}).filter(([k]) => !hidden.includes(k) && !skip.includes(k));
  const set = (k: string, v: JsonValue | undefined) => {
    const next: Obj = { ...value };
    if (v === undefined) delete next[k];
    else next[k] = v;
    onChange(next);
  };
  return (
    <>
      {entries.map(([k, ps]) => (
        <Field
          key={k}
          name={k}
          schema={ps}
          path={joinPath(path, k)}
          value={value?.[k]}
          onChange={(v) => set(k, v)}
          ctx={ctx}
          required={req.has(k)}
          siblings={value}
        />
      ))}
    </>
  );
}

interface FieldProps {
  name: string;
  schema: JsonSchema;
  path: string;
  value: JsonValue | undefined;
  onChange: (v: JsonValue | undefined) => void;
  ctx: FormContext;
  required: boolean;
  siblings?: Obj;
  label?: string;
}

/** One field: label, help, the right editor for its kind, and its validation message. */
export function Field(props: FieldProps) {
  const { name, schema, path, value, onChange, ctx, required, siblings } = props;
  const { schema: s } = normalize(schema, ctx.root);
  const kind = fieldKind(s, ctx.root, name);
  const label = props.label ?? fieldLabel(name, s);
  const tk = testKey(path);
  const error = ctx.errors[path];
  const nestedErrors = Object.keys(ctx.errors).some((p) => p.startsWith(`${path}.`) || p.startsWith(`${path}[`));

  let body: React.ReactNode;
  if (kind === "object") {
    const obj = value && typeof value === "object" && !Array.isArray(value) ? (value as Obj) : {};
    body = (
      <fieldset className="nested">
        <ObjectFields schema={s} path={path} value={obj} onChange={(v) => onChange(v)} ctx={ctx} />
      </fieldset>
    );
  } else if (kind === "variant") {
    body = <VariantFields schema={s} path={path} value={value} onChange={onChange} ctx={ctx} />;
  } else {
    const leaf = { kind, schema: s, path, value, onChange, ctx, required, siblings, label };
    const renderValue = (change: (v: JsonValue | undefined) => void) =>
      kind === "array" ? (
        <ListEditor schema={s} path={path} value={value} onChange={change} ctx={ctx} label={label} />
      ) : kind === "map" ? (
        <MapEditor schema={s} path={path} value={value} onChange={change} ctx={ctx} label={label} />
      ) : (
        <LeafEditor {...leaf} onChange={change} />
      );
    body = <ModeField {...leaf} renderValue={renderValue} modes={kind !== "integration"} />;
  }
  return (
    <div
      className={`field${error ? " has-error" : ""}${nestedErrors ? " has-nested-error" : ""}`}
      data-testid={`field-${tk}`}
      data-kind={kind}
    >
      <label className="field-label" htmlFor={`f-${tk}`}>
        {label}
        {required && <span className="req" aria-label="required"> *</span>}
      </label>
      {typeof s.description === "string" && s.description && <div className="field-help">{s.description}</div>}
      {body}
      {error && (
        <div className="field-error" role="alert" data-testid={`error-${tk}`}>
          {error}
        </div>
      )}
    </div>
  );
}

function VariantFields({
  schema,
  path,
  value,
  onChange,
  ctx,
}: {
  schema: S;
  path: string;
  value: JsonValue | undefined;
  onChange: (v: JsonValue | undefined) => void;
  ctx: FormContext;
}) {
  const members: S[] = (schema.oneOf ?? schema.anyOf).map((m: any) => normalize(m, ctx.root).schema);
  const obj = value && typeof value === "object" && !Array.isArray(value) ? (value as Obj) : {};
  const idx = matchVariant(members, obj);
  const m = members[idx];
  const discriminators = Object.entries<any>(m.properties ?? {})
    .filter(([, p]) => p && ("const" in p || (Array.isArray(p.enum) && p.enum.length === 1)))
    .map(([k]) => k);
  const tk = testKey(path || "variant");
  const choose = (i: number) => {
    const target = members[i];
    const base = emptyValue(target, ctx.root) as Obj;
    for (const [k, p] of Object.entries<any>(target.properties ?? {})) {
      if (p && "const" in p) base[k] = p.const;
      else if (p && Array.isArray(p.enum) && p.enum.length === 1) base[k] = p.enum[0];
      else if (k in obj) base[k] = obj[k];
    }
    onChange(base);
  };
  return (
    <div className="variant">
      <select
        aria-label="Variant"
        data-testid={`variant-${tk}`}
        value={String(idx)}
        onChange={(e) => choose(Number(e.target.value))}
      >
        {members.map((mm, i) => (
          <option key={i} value={String(i)}>
            {variantLabel(mm, i)}
          </option>
        ))}
      </select>
      <ObjectFields
        schema={{ ...m, required: m.required }}
        path={path}
        value={obj}
        onChange={(v) => {
          const out = { ...v };
          for (const k of discriminators) out[k] = obj[k] ?? (m.properties[k].const ?? m.properties[k].enum[0]);
          onChange(out);
        }}
        ctx={ctx}
        skip={discriminators}
      />
    </div>
  );
}

function ListEditor({
  schema,
  path,
  value,
  onChange,
  ctx,
  label,
}: {
  schema: S;
  path: string;
  value: JsonValue | undefined;
  onChange: (v: JsonValue | undefined) => void;
  ctx: FormContext;
  label: string;
}) {
  const items = Array.isArray(value) ? value : [];
  const itemSchema: JsonSchema = schema.items && typeof schema.items === "object" ? schema.items : {};
  const tk = testKey(path);
  const setAt = (i: number, v: JsonValue | undefined) => {
    const next = [...items];
    next[i] = v === undefined ? "" : v;
    onChange(next);
  };
  return (
    <div className="list-editor" data-testid={`list-${tk}`}>
      {items.length === 0 && <div className="muted small">No items.</div>}
      {items.map((item, i) => (
        <div className="list-item" key={i}>
          <Field
            name={`${i + 1}`}
            label={`${label} #${i + 1}`}
            schema={itemSchema}
            path={`${path}[${i}]`}
            value={item}
            onChange={(v) => setAt(i, v)}
            ctx={ctx}
            required={false}
          />
          <button
            type="button"
            className="btn btn-small btn-ghost"
            aria-label={`Remove ${label} #${i + 1}`}
            data-testid={`remove-${tk}-${i}`}
            onClick={() => onChange(items.filter((_, j) => j !== i))}
          >
            Remove
          </button>
        </div>
      ))}
      <button
        type="button"
        className="btn btn-small"
        data-testid={`add-${tk}`}
        onClick={() => onChange([...items, emptyValue(itemSchema, ctx.root)])}
      >
        + Add {label.toLowerCase().replace(/s$/, "")}
      </button>
    </div>
  );
}

function MapEditor({
  schema,
  path,
  value,
  onChange,
  ctx,
  label,
}: {
  schema: S;
  path: string;
  value: JsonValue | undefined;
  onChange: (v: JsonValue | undefined) => void;
  ctx: FormContext;
  label: string;
}) {
  const obj = value && typeof value === "object" && !Array.isArray(value) ? (value as Obj) : {};
  const entries = Object.entries(obj);
  // Values of an open map (`additionalProperties: true`) are edited as text (or a reference).
  const valueSchema: JsonSchema = typeof schema.additionalProperties === "object" ? schema.additionalProperties : { type: "string" };
  const tk = testKey(path);
  const [newKey, setNewKey] = useState("");
  const rename = (oldK: string, newK: string) => {
    const next: Obj = {};
    for (const [k, v] of entries) next[k === oldK ? newK : k] = v;
    onChange(next);
  };
  const add = () => {
    let k = newKey.trim() || `key_${entries.length + 1}`;
    while (k in obj) k = `${k}_`;
    onChange({ ...obj, [k]: "" });
    setNewKey("");
  };
  return (
    <div className="map-editor" data-testid={`map-${tk}`}>
      {entries.length === 0 && <div className="muted small">No entries.</div>}
      {entries.map(([k, v], i) => (
        <div className="map-row" key={i} data-testid={`map-row-${tk}-${testKey(k)}`}>
          <input
            className="map-key"
            aria-label={`${label} key ${i + 1}`}
            data-testid={`map-key-${tk}-${i}`}
            value={k}
            onChange={(e) => {
              const nk = e.target.value;
              if (nk && !(nk in obj)) rename(k, nk);
            }}
          />
          <div className="map-value">
            <Field
              name={k}
              label={k}
              schema={valueSchema}
              path={`${path}.${k}`}
              value={v}
              onChange={(nv) => onChange({ ...obj, [k]: nv === undefined ? "" : nv })}
              ctx={ctx}
              required={false}
            />
          </div>
          <button
            type="button"
            className="btn btn-small btn-ghost"
            aria-label={`Remove ${k}`}
            data-testid={`map-remove-${tk}-${i}`}
            onClick={() => {
              const next = { ...obj };
              delete next[k];
              onChange(next);
            }}
          >
            Remove
          </button>
        </div>
      ))}
      <div className="map-add">
        <input
          aria-label={`New ${label} name`}
          placeholder="name"
          data-testid={`map-new-key-${tk}`}
          value={newKey}
          onChange={(e) => setNewKey(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              add();
            }
          }}
        />
        <button type="button" className="btn btn-small" data-testid={`map-add-${tk}`} onClick={add}>
          + Add
        </button>
      </div>
    </div>
  );
}
