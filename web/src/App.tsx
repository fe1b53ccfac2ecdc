// Top-level layout: sign-in gate, navigation bar and hash-routed pages.
import { Component, type ReactNode } from "react";
import { EmptyState, Loading } from "./components/ui";
import { href, useRoute } from "./lib/router";
import { ApiKeysPage } from "./pages/ApiKeys";
import { ApprovalsPage } from "./pages/Approvals";
import { BuilderPage } from "./builder/BuilderPage";
import { ExecutionDetailPage } from "./pages/ExecutionDetail";
import { ExecutionsPage } from "./pages/Executions";
import { IntegrationsPage } from "./pages/Integrations";
import { SignInPage } from "./pages/SignIn";
import { WorkflowsPage } from "./pages/Workflows";
import { useSession } from "./session";

const NAV = [
  { path: "/workflows", label: "Workflows" },
  { path: "/executions", label: "Executions" },
  { path: "/approvals", label: "Approvals" },
  { path: "/integrations", label: "Integrations" },
  { path: "/api-keys", label: "API keys" },
];

export function App() {
  const { session, checking, signOut } = useSession();
  const route = useRoute();
  if (checking) return <Loading label="Starting Flowgate…" />;
  if (!session) return <SignInPage />;
  const section = route.segments[0] ?? "workflows";
  const full = section === "workflows" && route.segments.length > 1;
  return (
    <div className={`app${full ? " app-full" : ""}`}>
      <header className="topbar">
        <a className="brand" href={href("/workflows")}>
          <span className="brand-mark" aria-hidden>◆</span> Flowgate
        </a>
        <nav aria-label="Main">
          {NAV.map((n) => (
            <a
              key={n.path}
              href={href(n.path)}
              className={`nav-link${`/${section}` === n.path ? " nav-active" : ""}`}
              aria-current={`/${section}` === n.path ? "page" : undefined}
              data-testid={`nav-${n.path.slice(1)}`}
            >
              {n.label}
            </a>
          ))}
        </nav>
        <div className="who" data-testid="session-info">
          <span title={`Organization ${session.org_id}`}>{session.org_name}</span>
          <span className="muted"> · {session.token_name} ({session.role})</span>
          <button className="btn btn-small btn-ghost" data-testid="sign-out" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main className="main">
        <ErrorBoundary key={route.path}>{renderRoute(route.segments)}</ErrorBoundary>
      </main>
    </div>
  );
}

function renderRoute(seg: string[]): ReactNode {
  switch (seg[0] ?? "workflows") {
    case "workflows":
      return seg[1] ? <BuilderPage workflowId={seg[1]} /> : <WorkflowsPage />;
    case "executions":
      return seg[1] ? <ExecutionDetailPage executionId={seg[1]} /> : <ExecutionsPage />;
    case "approvals":
      return <ApprovalsPage />;
    case "integrations":
      return <IntegrationsPage />;
    case "api-keys":
      return <ApiKeysPage />;
    default:
      return (
        <EmptyState title="Page not found">
          <a href={href("/workflows")}>Go to workflows</a>
        </EmptyState>
      );
  }
}

class ErrorBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  state = { error: null as Error | null };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  render() {
    if (this.state.error) {
      return (
        <EmptyState title="This page hit a problem" testId="page-crash">
          <p>{this.state.error.message}</p>
          <button className="btn" onClick={() => this.setState({ error: null })}>
            Try again
          </button>
        </EmptyState>
      );
    }
    return this.props.children;
  }
}
