// Shared UI primitives: banners, empty states, badges, copy buttons, modal dialog, loading.
import { useEffect, useRef, useState, type ReactNode } from "react";
import { ApiError, errorMessage } from "../api/client";

export function ErrorBanner({
  error,
  onRetry,
  testId,
  pathLabel = (p) => p,
}: {
  error: unknown;
  onRetry?: () => void;
  testId?: string;
  /** How to show a detail's path (e.g. `nodes[2].params` as the step id `notify.params`). */
  pathLabel?: (path: string) => string;
}) {
  if (!error) return null;
  const details = error instanceof ApiError ? error.details : [];
  return (
    <div className="banner banner-error" role="alert" data-testid={testId ?? "error-banner"}>
      <div className="banner-body">
        <strong>{errorMessage(error)}</strong>
        {details.length > 0 && (
          <ul className="detail-list">
            {details.slice(0, 20).map((d, i) => (
              <li key={i}>
                {d.path && <code>{pathLabel(d.path)}</code>} {d.message}
              </li>
            ))}
          </ul>
        )}
      </div>
      {onRetry && (
        <button className="btn btn-small" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function EmptyState({ title, children, testId }: { title: string; children?: ReactNode; testId?: string }) {
  return (
    <div className="empty" data-testid={testId ?? "empty-state"}>
      <div className="empty-title">{title}</div>
      {children && <div className="empty-body">{children}</div>}
    </div>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden /> {label}
    </div>
  );
}

export function StatusBadge({ status }: { status: string | null | undefined }) {
  const s = status ?? "unknown";
  return (
    <span className={`badge badge-${s}`} data-testid="status-badge" data-status={s}>
      {s}
    </span>
  );
}

export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall back below */
  }
  const ta = document.createElement("textarea");
  ta.value = text;
  ta.setAttribute("readonly", "");
  ta.style.position = "fixed";
  ta.style.opacity = "0";
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  document.body.removeChild(ta);
  return ok;
}

export function CopyButton({ text, label = "Copy", testId }: { text: string; label?: string; testId?: string }) {
  const [state, setState] = useState<"idle" | "ok" | "fail">("idle");
  useEffect(() => {
    if (state === "idle") return;
    const t = window.setTimeout(() => setState("idle"), 1800);
    return () => window.clearTimeout(t);
  }, [state]);
  return (
    <button
      type="button"
      className="btn btn-small"
      data-testid={testId}
      onClick={async () => setState((await copyText(text)) ? "ok" : "fail")}
    >
      {state === "ok" ? "Copied" : state === "fail" ? "Select and copy" : label}
    </button>
  );
}

export function Modal({
  title,
  onClose,
  children,
  footer,
  testId,
  wide,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
  footer?: ReactNode;
  testId?: string;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>("input, select, textarea, button:not(.modal-close)");
    first?.focus();
    return () => prev?.focus?.();
  }, []);
  return (
    <div
      className="modal-backdrop"
      onMouseDown={(e) => {
        if (e.target === e.currentTarget) onClose();
      }}
    >
      <div
        className={`modal${wide ? " modal-wide" : ""}`}
        role="dialog"
        aria-modal="true"
        aria-label={title}
        data-testid={testId}
        ref={ref}
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.stopPropagation();
            onClose();
          }
        }}
      >
        <div className="modal-head">
          <h2>{title}</h2>
          <button className="modal-close" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </div>
        <div className="modal-body">{children}</div>
        {footer && <div className="modal-foot">{footer}</div>}
      </div>
    </div>
  );
}

export function Tabs<T extends string>({
  tabs,
  active,
  onChange,
  testIdPrefix = "tab",
}: {
  tabs: { id: T; label: string }[];
  active: T;
  onChange: (t: T) => void;
  testIdPrefix?: string;
}) {
  return (
    <div className="tabs" role="tablist">
      {tabs.map((t) => (
        <button
          key={t.id}
          role="tab"
          type="button"
          aria-selected={active === t.id}
          className={`tab${active === t.id ? " tab-active" : ""}`}
          data-testid={`${testIdPrefix}-${t.id}`}
          onClick={() => onChange(t.id)}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

export function JsonBlock({ value, testId, empty = "Nothing here." }: { value: unknown; testId?: string; empty?: string }) {
  if (value === undefined || value === null) return <div className="muted" data-testid={testId}>{empty}</div>;
  return (
    <pre className="json" data-testid={testId}>
      {typeof value === "string" ? value : JSON.stringify(value, null, 2)}
    </pre>
  );
}

/** A destructive action that asks for an inline confirmation instead of a browser dialog. */
export function ConfirmButton({
  label,
  confirmLabel = "Yes, delete",
  onConfirm,
  testId,
  disabled,
}: {
  label: string;
  confirmLabel?: string;
  onConfirm: () => void | Promise<void>;
  testId?: string;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!asking)
    return (
      <button type="button" className="btn btn-small btn-danger-ghost" data-testid={testId} disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  return (
    <span className="confirm">
      <button
        type="button"
        className="btn btn-small btn-danger"
        data-testid={testId ? `${testId}-confirm` : undefined}
        disabled={busy}
        autoFocus
        onClick={async () => {
          setBusy(true);
          try {
            await onConfirm();
          } finally {
            setBusy(false);
            setAsking(false);
          }
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" className="btn btn-small btn-ghost" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

/** Cursor pagination controls: keeps a stack of previous cursors. */
export function Pager({
  hasPrev,
  hasNext,
  onPrev,
  onNext,
  label,
}: {
  hasPrev: boolean;
  hasNext: boolean;
  onPrev: () => void;
  onNext: () => void;
  label?: string;
}) {
  if (!hasPrev && !hasNext) return null;
  return (
    <div className="pager" data-testid="pager">
      <button className="btn btn-small" disabled={!hasPrev} onClick={onPrev} data-testid="pager-prev">
        ← Newer
      </button>
      {label && (
        <span className="muted small" data-testid="pager-label">
          {label}
        </span>
      )}
      <button className="btn btn-small" disabled={!hasNext} onClick={onNext} data-testid="pager-next">
        Older →
      </button>
    </div>
  );
}
