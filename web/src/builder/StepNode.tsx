// Canvas node component: title, id, one input handle and one output handle per port.
import { Handle, Position, type NodeProps } from "@xyflow/react";
import { memo, useContext } from "react";
import { isTrigger, sourceHandles, type StepNode as StepNodeT } from "../lib/graph";
import { CatalogContext, ProblemsContext, categorySlug } from "./context";

function StepNodeView({ id, data, selected }: NodeProps<StepNodeT>) {
  const catalog = useContext(CatalogContext);
  const problems = useContext(ProblemsContext).get(id);
  const doc = data.doc;
  const nt = catalog.get(doc.type);
  const handles = sourceHandles(nt, doc.params);
  const trigger = isTrigger(doc.type);
  const count = problems ? Object.keys(problems.params).length + problems.other.length : 0;
  const title = doc.name || nt?.display_name || doc.type;
  const messages = problems ? [...problems.other, ...Object.entries(problems.params).map(([p, m]) => `${p}: ${m}`)] : [];
  return (
    <div
      className={`step-node cat-${categorySlug(nt?.category ?? "unknown")}${selected ? " selected" : ""}${count ? " has-error" : ""}${nt ? "" : " unknown-type"}`}
      data-testid={`node-${id}`}
      data-type={doc.type}
      title={messages.join("\n") || undefined}
    >
      {!trigger && (
        <Handle type="target" position={Position.Left} id="in" className="handle-in" data-testid={`handle-${id}-in`} />
      )}
      <div className="step-head">
        <span className="step-cat">{nt?.category ?? "Unknown type"}</span>
        {count > 0 && (
          <span className="step-err" data-testid={`node-errors-${id}`} aria-label={`${count} problems`}>
            ! {count}
          </span>
        )}
      </div>
      <div className="step-title">{title}</div>
      <div className="step-id">{id}</div>
      <div className="step-ports">
        {handles.map((h) => (
          <div key={h.id} className={`port-row port-${h.id === "error" ? "error" : h.port ? "named" : "default"}`}>
            <span className="port-label">{h.label}</span>
            <Handle
              type="source"
              position={Position.Right}
              id={h.id}
              className={`handle-out handle-${h.id}`}
              data-testid={`handle-${id}-${h.id}`}
              aria-label={`${title} output ${h.label}`}
            />
          </div>
        ))}
      </div>
    </div>
  );
}

export const StepNode = memo(StepNodeView);
