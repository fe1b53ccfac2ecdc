// Undo/redo history for the builder: snapshots of (meta, nodes, edges) with coalescing of rapid edits.
import type { Edge } from "@xyflow/react";
import { useCallback, useRef, useState } from "react";
import type { Meta, StepNode } from "../lib/graph";

export interface Snapshot {
  meta: Meta;
  nodes: StepNode[];
  edges: Edge[];
}

const LIMIT = 200;
const COALESCE_MS = 1200;

export function useHistory(current: () => Snapshot, restore: (s: Snapshot) => void) {
  const past = useRef<Snapshot[]>([]);
  const future = useRef<Snapshot[]>([]);
  const last = useRef<{ key: string; at: number }>({ key: "", at: 0 });
  const [, setTick] = useState(0);

  /** Records the state before a change; edits with the same key in quick succession form one step. */
  const push = useCallback(
    (key?: string) => {
      const now = Date.now();
      if (key && last.current.key === key && now - last.current.at < COALESCE_MS) {
        last.current.at = now;
        return;
      }
      last.current = { key: key ?? "", at: now };
      past.current.push(current());
      if (past.current.length > LIMIT) past.current.shift();
      future.current = [];
      setTick((t) => t + 1);
    },
    [current],
  );

  const undo = useCallback(() => {
    const s = past.current.pop();
    if (!s) return false;
    future.current.push(current());
    last.current = { key: "", at: 0 };
    restore(s);
    setTick((t) => t + 1);
    return true;
  }, [current, restore]);

  const redo = useCallback(() => {
    const s = future.current.pop();
    if (!s) return false;
    past.current.push(current());
    last.current = { key: "", at: 0 };
    restore(s);
    setTick((t) => t + 1);
    return true;
  }, [current, restore]);

  return { push, undo, redo, canUndo: past.current.length > 0, canRedo: future.current.length > 0 };
}
