//! Rows as the store hands them out. Times are Unix milliseconds; JSON columns are parsed values.

use serde::{Deserialize, Serialize};
use serde_json::Value;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// An access token's role.
    Role { Admin => "admin", Editor => "editor", Viewer => "viewer" }
);

string_enum!(
    /// An execution's status (spec §6).
    ExecStatus {
        Queued => "queued", Running => "running", Waiting => "waiting", Succeeded => "succeeded",
        Failed => "failed", Stopped => "stopped", Cancelled => "cancelled",
    }
);

string_enum!(
    /// A step's status (spec §6).
    StepStatus {
        Pending => "pending", Running => "running", Waiting => "waiting", Succeeded => "succeeded",
        Failed => "failed", Skipped => "skipped", Cancelled => "cancelled",
    }
);

impl ExecStatus {
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Stopped | Self::Cancelled)
    }
}

impl StepStatus {
    /// Whether the step will not change again.
    pub fn is_settled(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Skipped | Self::Cancelled)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub role: Role,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyRow {
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct IntegrationRow {
    pub org_id: String,
    pub alias: String,
    pub kind: String,
    pub config: Value,
    /// Ciphertext of the secrets object, as sealed by the server's vault.
    pub secrets: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct WorkflowRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub enabled: bool,
    pub version: i64,
    pub document: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionRow {
    pub version: i64,
    pub document: Value,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct ExecutionRow {
    pub id: String,
    pub org_id: String,
    pub workflow_id: String,
    pub workflow_version: i64,
    pub status: ExecStatus,
    pub trigger_type: String,
    pub trigger: Value,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
    pub wake_at: Option<i64>,
    pub deadline: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    pub execution_id: String,
    /// Empty at the top level; `loop_id[index]` inside a loop body.
    pub scope: String,
    pub node_id: String,
    /// Order in which steps were first recorded within the execution.
    pub seq: i64,
    pub node_type: String,
    pub name: Option<String>,
    pub status: StepStatus,
    pub port: Option<String>,
    pub attempts: i64,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub error: Option<String>,
    /// Engine-private state of a suspended step (what it waits for).
    pub state: Option<Value>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApprovalRow {
    pub id: String,
    pub org_id: String,
    pub execution_id: String,
    pub workflow_id: String,
    pub node_id: String,
    pub scope: String,
    pub status: String,
    pub notes: String,
    pub integration: Option<String>,
    pub channel: Option<String>,
    pub ts: Option<String>,
    pub approvers: Option<Value>,
    #[serde(skip_serializing)]
    pub secret: String,
    pub expires_at: i64,
    pub decision: Option<String>,
    pub decided_by: Option<Value>,
    pub decided_at: Option<i64>,
    pub comment: Option<String>,
    pub created_at: i64,
}

/// A page of a list and the cursor for the next one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows ordered by id descending.
    pub fn from_rows(mut rows: Vec<T>, limit: usize, id: impl Fn(&T) -> String) -> Self {
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(id)
        } else {
            None
        };
        Self { items: rows, next_cursor }
    }
}
