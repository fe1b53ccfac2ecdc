// React contexts shared by the builder canvas nodes: node-type catalogue and validation errors.
import { createContext } from "react";
import type { NodeType } from "../api/types";

export const CatalogContext = createContext<Map<string, NodeType>>(new Map());

export interface NodeProblems {
  /** messages keyed by param path (`channel`, `rules[0].port`) */
  params: Record<string, string>;
  /** messages about the node itself (id, type, edges) */
  other: string[];
}

export const ProblemsContext = createContext<Map<string, NodeProblems>>(new Map());

export const categorySlug = (c: string) => c.toLowerCase().replace(/[^a-z0-9]+/g, "-");
