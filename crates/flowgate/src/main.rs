//! The `flowgate` binary: `serve` runs everything; the other subcommands validate and run workflow
//! files locally, and manage a running server over its HTTP API.

mod client;
mod local;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "flowgate", version, about = "Event-driven workflow automation for cloud operations.", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run Flowgate: API, webhooks, workers, timers and the web console, in one process.
    Serve(ServeArgs),
    /// Check a workflow file (JSON or YAML) and list every problem.
    Validate {
        /// The workflow file (.json, .yaml or .yml).
        file: PathBuf,
    },
    /// Run a workflow file once, in this process, against a payload, and print each step.
    Run {
        file: PathBuf,
        /// A JSON file with the alert body (the trigger's output).
        #[arg(long)]
        payload: Option<PathBuf>,
    },
    /// Manage workflows on a running server.
    Workflows {
        #[command(flatten)]
        server: client::ServerArgs,
        #[command(subcommand)]
        action: client::WorkflowAction,
    },
    /// Inspect and cancel executions on a running server.
    Executions {
        #[command(flatten)]
        server: client::ServerArgs,
        #[command(subcommand)]
        action: client::ExecutionAction,
    },
    /// Manage integrations (Spot, Slack, HTTP credentials) on a running server.
    Integrations {
        #[command(flatten)]
        server: client::ServerArgs,
        #[command(subcommand)]
        action: client::IntegrationAction,
    },
    /// Manage the API keys webhook callers present.
    ApiKeys {
        #[command(flatten)]
        server: client::ServerArgs,
        #[command(subcommand)]
        action: client::ApiKeyAction,
    },
    /// Manage the master key that encrypts integration secrets (run with the server stopped).
    Keys {
        #[command(subcommand)]
        action: local::KeyAction,
    },
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// A TOML config file; FLOWGATE_* environment variables and flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address and port to listen on [env: FLOWGATE_LISTEN; default 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<String>,
    /// Data directory for the SQLite database and key file [env: FLOWGATE_DATA_DIR; default ./flowgate-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// sqlite://... or postgres://... [env: FLOWGATE_DATABASE_URL].
    #[arg(long)]
    database_url: Option<String>,
    /// Log as JSON lines [env: FLOWGATE_LOG_JSON].
    #[arg(long)]
    log_json: bool,
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLOWGATE_LOG")
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// mimalloc instead of glibc's allocator: the server allocates and frees many small JSON values
/// and strings per request from several threads (glibc malloc was a quarter of the CPU profile).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Validate { file } => local::validate(&file),
        Command::Run { file, payload } => local::run(&file, payload.as_deref()).await,
        Command::Workflows { server, action } => client::workflows(&server, action).await,
        Command::Executions { server, action } => client::executions(&server, action).await,
        Command::ApiKeys { server, action } => client::api_keys(&server, action).await,
        Command::Integrations { server, action } => client::integrations(&server, action).await,
        Command::Keys { action } => local::keys(action).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut settings = flowgate_server::Settings::load(args.config.as_deref())?;
    if let Some(v) = args.listen {
        settings.listen = Some(v);
    }
    if let Some(v) = args.data_dir {
        settings.data_dir = Some(v);
    }
    if let Some(v) = args.database_url {
        settings.database_url = Some(v);
    }
    init_logging(args.log_json || settings.log_json.unwrap_or(false));
    let running =
        flowgate_server::start(settings, None, flowgate_server::Options::default()).await?;
    println!(
        "Flowgate is running: web console and API at {}",
        running.state.public_url
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = running.shutdown.send(true);
    let _ = running.task.await;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
