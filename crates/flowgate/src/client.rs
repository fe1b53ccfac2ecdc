//! CLI subcommands that talk to a running server over its HTTP API.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct ServerArgs {
    /// The server's base URL.
    #[arg(long, env = "FLOWGATE_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// An access token.
    #[arg(long, env = "FLOWGATE_TOKEN", hide_env_values = true)]
    token: String,
}

#[derive(Subcommand)]
pub enum WorkflowAction {
    /// List workflows.
    List,
    /// Show one workflow (its current document included).
    Get { id: String },
    /// Import a workflow file (JSON or YAML) as a new workflow.
    Create { file: PathBuf },
    /// Save a workflow file as a new version of an existing workflow.
    Update { id: String, file: PathBuf },
    /// Print a workflow's current document as YAML (or JSON with --json).
    Export {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Enable a workflow.
    Enable { id: String },
    /// Disable a workflow (its webhook answers 409).
    Disable { id: String },
    /// Delete a workflow.
    Delete { id: String },
    /// Start a manual run with a JSON payload file.
    Run {
        id: String,
        #[arg(long)]
        payload: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum ExecutionAction {
    /// List executions, newest first.
    List {
        #[arg(long)]
        workflow: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one execution with its steps.
    Get { id: String },
    /// Cancel a queued, running or waiting execution.
    Cancel { id: String },
}

#[derive(Subcommand)]
pub enum IntegrationAction {
    /// List integrations (secrets are never shown).
    List,
    /// Show one integration.
    Get { alias: String },
    /// Create an integration from a JSON file `{type, alias, config, secrets}`; the server checks
    /// the credentials with the service first.
    Create { file: PathBuf },
    /// Replace an integration from a JSON file (secrets left out keep their stored values).
    Update { alias: String, file: PathBuf },
    /// Delete an integration.
    Delete { alias: String },
}

#[derive(Subcommand)]
pub enum ApiKeyAction {
    /// List API key names.
    List,
    /// Create an API key; its value is printed once.
    Create { name: String },
    /// Delete an API key.
    Delete { name: String },
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    fn new(args: &ServerArgs) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: args.server.trim_end_matches('/').to_string(),
            token: args.token.clone(),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token);
        if let Some((ct, bytes)) = body {
            req = req.header("content-type", ct).body(bytes);
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("cannot reach the Flowgate server at {}", self.base))?;
        let status = res.status();
        let text = res.text().await?;
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if !status.is_success() {
            let message = value["error"]["message"]
                .as_str()
                .unwrap_or("request failed");
            let mut out = format!("{status}: {message}");
            for d in value["error"]["details"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "\n  {}: {}",
                    d["path"].as_str().unwrap_or(""),
                    d["message"].as_str().unwrap_or("")
                ));
            }
            bail!(out);
        }
        Ok(value)
    }
}

fn print(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn document_body(file: &PathBuf) -> anyhow::Result<(&'static str, Vec<u8>)> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let yaml = matches!(
        file.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    Ok((
        if yaml {
            "application/yaml"
        } else {
            "application/json"
        },
        bytes,
    ))
}

fn payload_body(file: Option<&PathBuf>) -> anyhow::Result<Vec<u8>> {
    match file {
        Some(f) => std::fs::read(f).with_context(|| format!("cannot read {}", f.display())),
        None => Ok(b"{}".to_vec()),
    }
}

pub async fn workflows(args: &ServerArgs, action: WorkflowAction) -> anyhow::Result<ExitCode> {
    let api = Api::new(args);
    match action {
        WorkflowAction::List => {
            let list = api.call(Method::GET, "/workflows?limit=500", None).await?;
            for w in list["items"].as_array().into_iter().flatten() {
                println!(
                    "{}  v{}  {}  {}",
                    w["id"].as_str().unwrap_or(""),
                    w["version"],
                    if w["enabled"] == true {
                        "enabled "
                    } else {
                        "disabled"
                    },
                    w["name"].as_str().unwrap_or("")
                );
            }
        }
        WorkflowAction::Get { id } => print(
            &api.call(Method::GET, &format!("/workflows/{id}"), None)
                .await?,
        ),
        WorkflowAction::Create { file } => print(
            &api.call(Method::POST, "/workflows", Some(document_body(&file)?))
                .await?,
        ),
        WorkflowAction::Update { id, file } => print(
            &api.call(
                Method::PUT,
                &format!("/workflows/{id}"),
                Some(document_body(&file)?),
            )
            .await?,
        ),
        WorkflowAction::Export { id, json } => {
            let w = api
                .call(Method::GET, &format!("/workflows/{id}"), None)
                .await?;
            if json {
                print(&w["document"]);
            } else {
                print!("{}", serde_yaml_ng::to_string(&w["document"])?);
            }
        }
        WorkflowAction::Enable { id } => print(
            &api.call(
                Method::PATCH,
                &format!("/workflows/{id}"),
                Some((
                    "application/json",
                    json!({"enabled": true}).to_string().into_bytes(),
                )),
            )
            .await?,
        ),
        WorkflowAction::Disable { id } => print(
            &api.call(
                Method::PATCH,
                &format!("/workflows/{id}"),
                Some((
                    "application/json",
                    json!({"enabled": false}).to_string().into_bytes(),
                )),
            )
            .await?,
        ),
        WorkflowAction::Delete { id } => {
            api.call(Method::DELETE, &format!("/workflows/{id}"), None)
                .await?;
            println!("deleted {id}");
        }
        WorkflowAction::Run { id, payload } => print(
            &api.call(
                Method::POST,
                &format!("/workflows/{id}/executions"),
                Some(("application/json", payload_body(payload.as_ref())?)),
            )
            .await?,
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn executions(args: &ServerArgs, action: ExecutionAction) -> anyhow::Result<ExitCode> {
    let api = Api::new(args);
    match action {
        ExecutionAction::List {
            workflow,
            status,
            limit,
        } => {
            let mut path = format!("/executions?limit={limit}");
            if let Some(w) = workflow {
                path.push_str(&format!("&workflow_id={w}"));
            }
            if let Some(s) = status {
                path.push_str(&format!("&status={s}"));
            }
            let list = api.call(Method::GET, &path, None).await?;
            for e in list["items"].as_array().into_iter().flatten() {
                println!(
                    "{}  {:<9}  {}  {}",
                    e["id"].as_str().unwrap_or(""),
                    e["status"].as_str().unwrap_or(""),
                    e["created_at"].as_str().unwrap_or(""),
                    e["workflow_id"].as_str().unwrap_or("")
                );
            }
        }
        ExecutionAction::Get { id } => print(
            &api.call(Method::GET, &format!("/executions/{id}"), None)
                .await?,
        ),
        ExecutionAction::Cancel { id } => print(
            &api.call(Method::POST, &format!("/executions/{id}/cancel"), None)
                .await?,
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn integrations(
    args: &ServerArgs,
    action: IntegrationAction,
) -> anyhow::Result<ExitCode> {
    let api = Api::new(args);
    let json_file = |file: &PathBuf| -> anyhow::Result<(&'static str, Vec<u8>)> {
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        serde_json::from_slice::<Value>(&bytes)
            .with_context(|| format!("{} is not valid JSON", file.display()))?;
        Ok(("application/json", bytes))
    };
    match action {
        IntegrationAction::List => {
            for i in api.call(Method::GET, "/integrations", None).await?["items"]
                .as_array()
                .into_iter()
                .flatten()
            {
                println!(
                    "{:<24} {}",
                    i["alias"].as_str().unwrap_or(""),
                    i["type"].as_str().unwrap_or("")
                );
            }
        }
        IntegrationAction::Get { alias } => print(
            &api.call(Method::GET, &format!("/integrations/{alias}"), None)
                .await?,
        ),
        IntegrationAction::Create { file } => print(
            &api.call(Method::POST, "/integrations", Some(json_file(&file)?))
                .await?,
        ),
        IntegrationAction::Update { alias, file } => print(
            &api.call(
                Method::PUT,
                &format!("/integrations/{alias}"),
                Some(json_file(&file)?),
            )
            .await?,
        ),
        IntegrationAction::Delete { alias } => {
            api.call(Method::DELETE, &format!("/integrations/{alias}"), None)
                .await?;
            println!("deleted {alias}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn api_keys(args: &ServerArgs, action: ApiKeyAction) -> anyhow::Result<ExitCode> {
    let api = Api::new(args);
    match action {
        ApiKeyAction::List => {
            for k in api.call(Method::GET, "/api-keys", None).await?["items"]
                .as_array()
                .into_iter()
                .flatten()
            {
                println!("{}", k["name"].as_str().unwrap_or(""));
            }
        }
        ApiKeyAction::Create { name } => {
            let k = api
                .call(
                    Method::POST,
                    "/api-keys",
                    Some((
                        "application/json",
                        json!({ "name": name }).to_string().into_bytes(),
                    )),
                )
                .await?;
            println!("{}", k["key"].as_str().unwrap_or(""));
            eprintln!("This is the only time the key is shown; store it now.");
        }
        ApiKeyAction::Delete { name } => {
            api.call(Method::DELETE, &format!("/api-keys/{name}"), None)
                .await?;
            println!("deleted {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
