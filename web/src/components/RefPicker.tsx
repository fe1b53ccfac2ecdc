// "Set value from a previous step": pick an upstream step, its output field, then a key in a tree.
import { useMemo, useState } from "react";
import type { JsonSchema } from "../api/types";
import { buildRef, formatPath, parsePath, parseRef, schemaChildren, type PathSeg } from "../lib/refs";
import { normalize } from "../lib/schema";

export interface UpstreamStep {
  id: string;
  label: string;
  /** JSON Schema of the whole step output object (`{output, ...}`). */
  schema: JsonSchema;
}

interface Props {
  steps: UpstreamStep[];
  value: unknown;
  onChange: (ref: string) => void;
  testId?: string;
}

const samePath = (a: PathSeg[], b: PathSeg[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export function RefPicker({ steps, value, onChange, testId = "ref-picker" }: Props) {
  const parsed = parseRef(value);
  const [stepId, setStepId] = useState<string>(
    parsed && steps.some((s) => s.id === parsed.step) ? parsed.step : steps[0]?.id ?? "",
  );
  const step = steps.find((s) => s.id === stepId);
  const fields = useMemo(() => (step ? schemaChildren(step.schema, step.schema) : []), [step]);
  const [field, setField] = useState<string>(
    parsed && parsed.step === stepId ? parsed.field : (fields.find((f) => f.seg === "output")?.seg as string) ?? "output",
  );
  const [custom, setCustom] = useState("");
  const [customError, setCustomError] = useState("");

  if (steps.length === 0) {
    return (
      <div className="ref-picker ref-empty" data-testid={testId}>
        No previous steps. Connect an earlier step to this one to use its output.
      </div>
    );
  }

  const fieldSchema = fields.find((f) => f.seg === field)?.schema ?? {};
  const selected = parsed && parsed.step === stepId && parsed.field === field ? parsed.path : null;

  const pick = (path: PathSeg[]) => onChange(buildRef(stepId, field, path));

  return (
    <div className="ref-picker" data-testid={testId}>
      <div className="ref-row">
        <label>
          <span className="sub-label">Step</span>
          <select
            data-testid="ref-step"
            value={stepId}
            onChange={(e) => {
              setStepId(e.target.value);
              setField("output");
            }}
          >
            {steps.map((s) => (
              <option key={s.id} value={s.id}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span className="sub-label">Output field</span>
          <select data-testid="ref-field" value={field} onChange={(e) => setField(e.target.value)}>
            {fields.length === 0 && <option value="output">output</option>}
            {fields.map((f) => (
              <option key={String(f.seg)} value={String(f.seg)}>
                {f.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div className="ref-tree" role="tree" aria-label="Output keys" data-testid="ref-tree">
        <button
          type="button"
          role="treeitem"
          aria-selected={!!selected && selected.length === 0}
          className={`tree-item${selected && selected.length === 0 ? " tree-selected" : ""}`}
          data-testid="ref-key-"
          onClick={() => pick([])}
        >
          <span className="tree-key">(whole {field})</span>
        </button>
        <TreeLevel root={(fieldSchema as any)?.$defs ? fieldSchema : step!.schema} schema={fieldSchema} path={[]} selected={selected} onPick={pick} depth={0} />
      </div>
      <div className="ref-custom">
        <input
          aria-label="Custom path"
          placeholder='or type a path, e.g. .name or .tags["cost-center"]'
          data-testid="ref-custom"
          value={custom}
          onChange={(e) => {
            setCustom(e.target.value);
            setCustomError("");
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              applyCustom();
            }
          }}
        />
        <button type="button" className="btn btn-small" onClick={applyCustom} data-testid="ref-custom-apply">
          Use
        </button>
      </div>
      {customError && <div className="field-error">{customError}</div>}
      {parsed && !steps.some((s) => s.id === parsed.step) && (
        <div className="field-hint warn" data-testid="ref-not-upstream">
          <code>{parsed.step}</code> is not an earlier step of this one: pick another step, or connect it before this step.
        </div>
      )}
      {typeof value === "string" && value && (
        <div className="ref-current" data-testid="ref-current">
          <code>{value}</code>
        </div>
      )}
    </div>
  );

  function applyCustom() {
    const text = custom.trim().replace(/^\./, "");
    if (!text) return;
    const segs = parsePath(text.startsWith("[") ? `x${text}` : text);
    if (!segs) {
      setCustomError("Not a valid path. Use .key, [0] or [\"key with-dashes\"].");
      return;
    }
    pick(text.startsWith("[") ? segs.slice(1) : segs);
    setCustom("");
  }
}

function TreeLevel({
  root,
  schema,
  path,
  selected,
  onPick,
  depth,
}: {
  root: JsonSchema;
  schema: JsonSchema;
  path: PathSeg[];
  selected: PathSeg[] | null;
  onPick: (p: PathSeg[]) => void;
  depth: number;
}) {
  const children = useMemo(() => (depth > 8 ? [] : schemaChildren(schema, root)), [schema, root, depth]);
  if (children.length === 0 && depth === 0) {
    const { schema: s } = normalize(schema, root);
    return (
      <div className="muted small" data-testid="ref-tree-empty">
        {s.type === "object" || !s.type
          ? "No schema is known for this output yet. Type a path below"
          : `This field is a ${String(s.type)}; use it whole`}
        {s.type === "object" || !s.type ? (path.length === 0 ? " (for a trigger: use an alert body as its output schema)." : ".") : "."}
      </div>
    );
  }
  return (
    <ul className="tree-level" role="group">
      {children.map((c) => (
        <TreeNode
          key={String(c.seg)}
          root={root}
          child={c}
          path={[...path, c.seg]}
          selected={selected}
          onPick={onPick}
          depth={depth}
        />
      ))}
    </ul>
  );
}

function TreeNode({
  root,
  child,
  path,
  selected,
  onPick,
  depth,
}: {
  root: JsonSchema;
  child: ReturnType<typeof schemaChildren>[number];
  path: PathSeg[];
  selected: PathSeg[] | null;
  onPick: (p: PathSeg[]) => void;
  depth: number;
}) {
  const isOnSelectedPath = !!selected && selected.length > path.length && samePath(selected.slice(0, path.length), path);
  const [open, setOpen] = useState(isOnSelectedPath || depth < 1);
  const isSel = !!selected && samePath(selected, path);
  const key = formatPath(path);
  return (
    <li role="none">
      <div className="tree-row">
        {child.hasChildren ? (
          <button
            type="button"
            className="tree-toggle"
            aria-label={open ? `Collapse ${child.label}` : `Expand ${child.label}`}
            aria-expanded={open}
            data-testid={`ref-toggle-${key}`}
            onClick={() => setOpen(!open)}
          >
            {open ? "▾" : "▸"}
          </button>
        ) : (
          <span className="tree-toggle-spacer" />
        )}
        <button
          type="button"
          role="treeitem"
          aria-selected={isSel}
          className={`tree-item${isSel ? " tree-selected" : ""}`}
          data-testid={`ref-key-${key}`}
          onClick={() => onPick(path)}
        >
          <span className="tree-key">{child.label}</span>
          {child.type && <span className="tree-type">{child.type}</span>}
        </button>
      </div>
      {child.hasChildren && open && (
        <TreeLevel root={root} schema={child.schema} path={path} selected={selected} onPick={onPick} depth={depth + 1} />
      )}
    </li>
  );
}
