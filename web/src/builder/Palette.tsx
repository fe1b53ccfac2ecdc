// Node palette opened with "+": node types grouped by category, draggable onto the canvas.
import { useMemo, useState } from "react";
import type { NodeType } from "../api/types";
import { categorySlug } from "./context";

export const DND_TYPE = "application/x-flowgate-node-type";
const ORDER = ["Core", "Control Structures", "Spot by NetApp", "Slack"];

export function Palette({
  types,
  onAdd,
  onClose,
}: {
  types: NodeType[];
  onAdd: (type: string) => void;
  onClose: () => void;
}) {
  const [q, setQ] = useState("");
  const groups = useMemo(() => {
    const query = q.trim().toLowerCase();
    const m = new Map<string, NodeType[]>();
    for (const t of types) {
      if (t.type.startsWith("trigger.") || t.category === "Triggers") continue;
      if (query && !`${t.display_name} ${t.type} ${t.category} ${t.description ?? ""}`.toLowerCase().includes(query)) continue;
      if (!m.has(t.category)) m.set(t.category, []);
      m.get(t.category)!.push(t);
    }
    const cats = [...m.keys()].sort((a, b) => {
      const ia = ORDER.indexOf(a);
      const ib = ORDER.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
    });
    return cats.map((c) => ({ category: c, items: m.get(c)! }));
  }, [types, q]);
  return (
    <aside
      className="palette"
      data-testid="palette"
      aria-label="Add a step"
      onKeyDown={(e) => {
        if (e.key === "Escape") onClose();
      }}
    >
      <div className="palette-head">
        <strong>Add a step</strong>
        <button className="modal-close" aria-label="Close palette" onClick={onClose} data-testid="palette-close">
          ×
        </button>
      </div>
      <input
        className="palette-search"
        placeholder="Search steps…"
        aria-label="Search steps"
        autoFocus
        value={q}
        onChange={(e) => setQ(e.target.value)}
        data-testid="palette-search"
      />
      <p className="muted small">Drag a step onto the canvas, or press Enter on it.</p>
      <div className="palette-groups">
        {groups.length === 0 && <div className="muted small">No step matches “{q}”.</div>}
        {groups.map((g) => (
          <section key={g.category} className="palette-group" data-testid={`palette-group-${categorySlug(g.category)}`}>
            <h3>{g.category}</h3>
            {g.items.map((t) => (
              <button
                type="button"
                key={t.type}
                className={`palette-item cat-${categorySlug(t.category)}`}
                draggable
                data-testid={`palette-${t.type}`}
                title={t.description}
                onDragStart={(e) => {
                  e.dataTransfer.setData(DND_TYPE, t.type);
                  e.dataTransfer.setData("text/plain", t.type);
                  e.dataTransfer.effectAllowed = "move";
                }}
                onClick={() => onAdd(t.type)}
              >
                <span className="palette-name">{t.display_name}</span>
                {t.description && <span className="palette-desc">{t.description}</span>}
              </button>
            ))}
          </section>
        ))}
      </div>
    </aside>
  );
}
