// Leaf editors of the schema-driven form and the three input modes (value / from step / expression).
import { useEffect, useRef, useState } from "react";
import type { Integration, JsonSchema, JsonValue } from "../api/types";
import { detectMode, type InputMode } from "../lib/refs";
import { enumOptions, isValidDuration, type FieldKind, type S } from "../lib/schema";
import { RefPicker, type UpstreamStep } from "./RefPicker";

export interface Option {
  value: string;
  label: string;
}

export interface FormContext {
  root: JsonSchema;
  steps: UpstreamStep[];
  /** null while loading */
  integrations: Integration[] | null;
  loadOptions: (source: string, integrationAlias: string) => Promise<Option[]>;
  /** Validation messages keyed by param path (`channel`, `rules[0].port`). */
  errors: Record<string, string>;
  apiKeys?: string[] | null;
  /** Where the "add an integration" link points. */
  integrationsHref?: string;
}

export const testKey = (path: string) => path.replace(/[^A-Za-z0-9_.\-[\]]/g, "_");

export interface LeafProps {
  kind: FieldKind;
  schema: S;
  path: string;
  value: JsonValue | undefined;
  onChange: (v: JsonValue | undefined) => void;
  ctx: FormContext;
  required: boolean;
  siblings?: Record<string, JsonValue>;
  label: string;
}

const MODE_LABELS: Record<InputMode, string> = { value: "Value", step: "From step", expr: "Expression" };

/** Wraps a value editor with the three input modes of the seed product. */
export function ModeField(
  props: LeafProps & { renderValue: (onChange: (v: JsonValue | undefined) => void) => React.ReactNode; modes?: boolean },
) {
  const { path, value, ctx, modes = true } = props;
  const [mode, setMode] = useState<InputMode>(() => detectMode(value));
  const tk = testKey(path);
  // What this field itself last wrote: typing `{{ a.b }}` into Expression (or Value) must not
  // flip the field into another mode under the user's fingers.
  const emitted = useRef<{ v: JsonValue | undefined } | null>(null);
  const onChange = (v: JsonValue | undefined) => {
    emitted.current = { v };
    props.onChange(v);
  };
  useEffect(() => {
    // Follow external changes (undo, reload) that move the value into another mode.
    if (emitted.current && emitted.current.v === value) return;
    const detected = detectMode(value);
    if (detected !== "value" && detected !== mode) setMode(detected);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  const switchTo = (m: InputMode) => {
    if (m === mode) return;
    if (m === "value" && typeof value === "string" && value.includes("{{")) onChange(undefined);
    if (m === "expr" && value !== undefined && typeof value !== "string") onChange(JSON.stringify(value));
    setMode(m);
  };
  return (
    <div className="mode-field">
      {modes && (
        <div className="modes" role="radiogroup" aria-label={`${props.label} input mode`}>
          {(Object.keys(MODE_LABELS) as InputMode[]).map((m) => (
            <button
              key={m}
              type="button"
              role="radio"
              aria-checked={mode === m}
              className={`mode${mode === m ? " mode-active" : ""}`}
              data-testid={`mode-${tk}-${m}`}
              onClick={() => switchTo(m)}
            >
              {MODE_LABELS[m]}
            </button>
          ))}
        </div>
      )}
      {mode === "value" || !modes ? (
        props.renderValue(onChange)
      ) : mode === "step" ? (
        <RefPicker steps={ctx.steps} value={value} onChange={(r) => onChange(r)} testId={`ref-picker-${tk}`} />
      ) : (
        <textarea
          className="expr"
          rows={2}
          aria-label={`${props.label} expression`}
          data-testid={`expr-${tk}`}
          placeholder="{{ step.output.key }} or text with {{ references }}"
          value={typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value)}
          onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}
        />
      )}
    </div>
  );
}

/** The editor for a leaf value in "value" mode. */
export function LeafEditor(props: LeafProps) {
  const { kind, schema, path, value, onChange, ctx, required, label } = props;
  const tk = testKey(path);
  const common = { id: `f-${tk}`, "data-testid": `input-${tk}`, "aria-label": label };
  switch (kind) {
    case "boolean":
      return (
        <label className="checkbox">
          <input {...common} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />
          <span>{value === true ? "Yes" : "No"}</span>
        </label>
      );
    case "integer":
    case "number":
      return (
        <input
          {...common}
          type="number"
          step={kind === "integer" ? 1 : "any"}
          min={schema.minimum}
          max={schema.maximum}
          value={typeof value === "number" ? value : typeof value === "string" ? value : ""}
          onChange={(e) => {
            const t = e.target.value;
            if (t === "") return onChange(undefined);
            const n = kind === "integer" ? parseInt(t, 10) : parseFloat(t);
            onChange(Number.isFinite(n) ? n : t);
          }}
        />
      );
    case "enum": {
      const opts = enumOptions(schema, ctx.root) ?? [];
      const idx = opts.findIndex((o) => o.value === value);
      return (
        <select
          {...common}
          value={idx >= 0 ? String(idx) : ""}
          onChange={(e) => onChange(e.target.value === "" ? undefined : (opts[Number(e.target.value)].value as JsonValue))}
        >
          {(!required || idx < 0) && <option value="">{required ? "Choose…" : "(not set)"}</option>}
          {opts.map((o, i) => (
            <option key={i} value={String(i)} title={o.description}>
              {o.label}
            </option>
          ))}
        </select>
      );
    }
    case "duration": {
      const s = typeof value === "string" ? value : "";
      const bad = s !== "" && !isValidDuration(s);
      return (
        <div>
          <input
            {...common}
            type="text"
            placeholder="e.g. 30s, 15m, 4h, 7d"
            value={s}
            aria-invalid={bad}
            onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value.trim())}
          />
          {bad && <div className="field-hint warn">Use a number and a unit: ms, s, m, h or d (e.g. 4h).</div>}
        </div>
      );
    }
    case "text":
      return (
        <textarea
          {...common}
          rows={3}
          value={typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value)}
          onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}
        />
      );
    case "integration":
      return <IntegrationSelect {...props} />;
    case "source":
      return <SourceSelect {...props} />;
    case "json":
      return <JsonEditor {...props} />;
    default:
      return (
        <input
          {...common}
          type="text"
          placeholder={schema.examples?.[0] !== undefined ? String(schema.examples[0]) : undefined}
          value={typeof value === "string" ? value : value === undefined || value === null ? "" : String(value)}
          onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}
        />
      );
  }
}

function IntegrationSelect({ schema, path, value, onChange, ctx, label }: LeafProps) {
  const type: string | undefined = schema["x-integration-type"];
  const tk = testKey(path);
  if (ctx.integrations === null) return <div className="muted small">Loading integrations…</div>;
  const list = ctx.integrations.filter((i) => !type || i.type === type);
  const current = typeof value === "string" ? value : "";
  return (
    <div>
      <select
        id={`f-${tk}`}
        data-testid={`input-${tk}`}
        aria-label={label}
        value={current}
        onChange={(e) => onChange(e.target.value || undefined)}
      >
        <option value="">{list.length ? "Choose an integration…" : "No integration yet"}</option>
        {current && !list.some((i) => i.alias === current) && <option value={current}>{current} (missing)</option>}
        {list.map((i) => (
          <option key={i.alias} value={i.alias}>
            {i.alias}
          </option>
        ))}
      </select>
      {list.length === 0 && (
        <div className="field-hint">
          No {type ?? ""} integration yet. <a href={ctx.integrationsHref ?? "#/integrations"}>Add one</a>.
        </div>
      )}
    </div>
  );
}

const SOURCE_NOUN: Record<string, string> = { "slack-channels": "channels", "spot-accounts": "accounts", "api-keys": "API keys" };

function SourceSelect({ schema, path, value, onChange, ctx, siblings, label }: LeafProps) {
  const source: string = schema["x-source"];
  const alias = typeof siblings?.integration === "string" ? siblings.integration : "";
  const tk = testKey(path);
  const [opts, setOpts] = useState<Option[] | null>(null);
  const [err, setErr] = useState<string>("");
  const [manual, setManual] = useState(false);
  const needsIntegration = source !== "api-keys";
  useEffect(() => {
    let live = true;
    setOpts(null);
    setErr("");
    if (needsIntegration && (!alias || alias.includes("{{"))) return;
    ctx
      .loadOptions(source, alias)
      .then((o) => live && setOpts(o))
      .catch((e) => live && setErr(e instanceof Error ? e.message : "Could not load the list."));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [source, alias]);
  const current = typeof value === "string" ? value : value === undefined || value === null ? "" : String(value);
  const noun = SOURCE_NOUN[source] ?? "items";
  const textInput = (
    <input
      id={`f-${tk}`}
      data-testid={`input-${tk}`}
      aria-label={label}
      type="text"
      value={current}
      onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}
    />
  );
  if (manual || err || (needsIntegration && !alias)) {
    return (
      <div>
        {textInput}
        {needsIntegration && !alias && <div className="field-hint">Choose an integration to list its {noun}, or type an id.</div>}
        {err && <div className="field-hint warn">Could not load {noun}: {err}. Type the id instead.</div>}
        {manual && opts && (
          <button type="button" className="link-btn" onClick={() => setManual(false)}>
            Pick from the list
          </button>
        )}
      </div>
    );
  }
  if (opts === null) return <div className="muted small">Loading {noun}…</div>;
  return (
    <div>
      <select
        id={`f-${tk}`}
        data-testid={`input-${tk}`}
        aria-label={label}
        value={current}
        onChange={(e) => {
          if (e.target.value === "__other__") setManual(true);
          else onChange(e.target.value || undefined);
        }}
      >
        <option value="">{opts.length ? `Choose…` : `No ${noun} found`}</option>
        {current && !opts.some((o) => o.value === current) && <option value={current}>{current}</option>}
        {opts.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
        <option value="__other__">Other (type an id)…</option>
      </select>
    </div>
  );
}

function JsonEditor({ path, value, onChange, label }: LeafProps) {
  const tk = testKey(path);
  const [text, setText] = useState(() => (value === undefined ? "" : JSON.stringify(value, null, 2)));
  const [bad, setBad] = useState(false);
  useEffect(() => {
    // Re-sync when the value changes from outside (e.g. undo) and differs from what we show.
    try {
      const parsed = text.trim() === "" ? undefined : JSON.parse(text);
      if (JSON.stringify(parsed) !== JSON.stringify(value)) setText(value === undefined ? "" : JSON.stringify(value, null, 2));
    } catch {
      /* user is typing */
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  return (
    <div>
      <textarea
        id={`f-${tk}`}
        data-testid={`input-${tk}`}
        aria-label={label}
        className="code"
        rows={Math.min(12, Math.max(3, text.split("\n").length))}
        value={text}
        aria-invalid={bad}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value.trim() === "") {
            setBad(false);
            return onChange(undefined);
          }
          try {
            onChange(JSON.parse(e.target.value));
            setBad(false);
          } catch {
            setBad(true);
          }
        }}
      />
      {bad && <div className="field-hint warn">Not valid JSON yet; the last valid value is kept.</div>}
    </div>
  );
}
