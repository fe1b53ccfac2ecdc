//! CLI subcommands that work without a running server: validate and run workflow files, and
//! rotate the master key.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine as _;
use clap::Subcommand;
use serde_json::{json, Value};

use flowgate_engine::TriggerEvent;
use flowgate_model::{
    parse_document, validate as validate_doc, DocumentFormat, Templates, WorkflowDocument,
};
use flowgate_nodes::Registry;
use flowgate_server::vault::{integration_ad, Vault};

#[derive(Subcommand)]
pub enum KeyAction {
    /// Re-encrypt every integration secret under a new master key. Uses the same settings as
    /// `serve` (FLOWGATE_DATA_DIR, FLOWGATE_DATABASE_URL, FLOWGATE_MASTER_KEY for the current key).
    Rotate {
        /// The new key (32 bytes, base64); generated when left out.
        #[arg(long)]
        new_key: Option<String>,
        #[arg(long)]
        config: Option<std::path::PathBuf>,
    },
}

fn read_document(file: &Path) -> anyhow::Result<WorkflowDocument> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let format = DocumentFormat::from_path(&file.to_string_lossy());
    let doc =
        parse_document(&bytes, format).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let problems = validate_doc(&doc, &Registry::builtin(), &Templates::new());
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        bail!(
            "{} has {} problem(s):\n{}",
            file.display(),
            problems.len(),
            list.join("\n")
        );
    }
    Ok(doc)
}

pub fn validate(file: &Path) -> anyhow::Result<ExitCode> {
    let doc = read_document(file)?;
    println!(
        "{} is valid: `{}`, {} nodes, {} edges",
        file.display(),
        doc.name,
        doc.nodes.len(),
        doc.edges.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn run(file: &Path, payload: Option<&Path>) -> anyhow::Result<ExitCode> {
    let doc = read_document(file)?;
    let body: Value = match payload {
        Some(p) => serde_json::from_slice(
            &std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
        )
        .with_context(|| format!("{} is not valid JSON", p.display()))?,
        None => json!({}),
    };
    let dir = std::env::temp_dir().join(format!("flowgate-run-{}", uuid::Uuid::new_v4().simple()));
    let settings = flowgate_server::Settings {
        data_dir: Some(dir.clone()),
        listen: Some("127.0.0.1:0".into()),
        ..flowgate_server::Settings::load(None)?
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = flowgate_server::start(
        settings,
        Some(listener),
        flowgate_server::Options {
            print_token: false,
            ..Default::default()
        },
    )
    .await?;
    let st = &running.state;
    let row = st
        .store
        .create_workflow(&st.default_org_id, &doc.name, serde_json::to_value(&doc)?)
        .await?;
    let event = TriggerEvent {
        kind: "manual".into(),
        output: json!({ "output": body.clone() }),
        body,
    };
    let started = st.engine.start(&row, event, None).await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let exec = loop {
        let exec = st
            .store
            .execution(&st.default_org_id, &started.execution_id)
            .await?
            .context("the execution vanished")?;
        if exec.status.is_finished()
            || exec.status == flowgate_store::ExecStatus::Waiting
            || Instant::now() > deadline
        {
            break exec;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for step in st.store.steps(&exec.id).await? {
        let port = step.port.map(|p| format!(" → {p}")).unwrap_or_default();
        let label = if step.scope.is_empty() {
            step.node_id.clone()
        } else {
            format!("{}.{}", step.scope, step.node_id)
        };
        println!("{label:<24} {:<10}{port}", step.status.as_str());
        if let Some(out) = &step.output {
            println!("    output: {}", serde_json::to_string(out)?);
        }
        if let Some(err) = &step.error {
            println!("    error:  {err}");
        }
    }
    println!(
        "execution {}: {}{}",
        exec.id,
        exec.status,
        exec.error.map(|e| format!(" ({e})")).unwrap_or_default()
    );
    let _ = running.shutdown.send(true);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(
        if exec.status == flowgate_store::ExecStatus::Succeeded
            || exec.status == flowgate_store::ExecStatus::Stopped
        {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

pub async fn keys(action: KeyAction) -> anyhow::Result<ExitCode> {
    let KeyAction::Rotate { new_key, config } = action;
    let settings = flowgate_server::Settings::load(config.as_deref())?;
    let (store, is_new) = flowgate_server::app::open_store(&settings).await?;
    let old = flowgate_server::app::open_vault(&settings, &store, is_new).await?;
    let new_bytes = match new_key {
        Some(k) => Vault::parse_key(&k)?,
        None => {
            let mut k = [0u8; 32];
            rand_key(&mut k);
            k
        }
    };
    let new = Vault::from_key(&new_bytes);
    let mut resealed = Vec::new();
    for row in store.all_integrations().await? {
        let ad = integration_ad(&row.org_id, &row.alias, &row.kind);
        let plain = old
            .open(&row.secrets, &ad)
            .with_context(|| format!("integration `{}`", row.alias))?;
        resealed.push((row.org_id.clone(), row.alias.clone(), new.seal(&plain, &ad)));
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(new_bytes);
    let key_file = settings.data_dir().join("master.key");
    let staged = settings.data_dir().join("master.key.new");
    let uses_file = settings.master_key.is_none();
    if uses_file {
        std::fs::write(&staged, &encoded)
            .with_context(|| format!("cannot write {}", staged.display()))?;
        #[cfg(unix)]
        std::fs::set_permissions(&staged, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    }
    let count = resealed.len();
    store.reseal_integrations(resealed, new.canary()).await?;
    if uses_file {
        std::fs::rename(&staged, &key_file)?;
        println!(
            "re-encrypted {count} integration(s); the new key is in {}",
            key_file.display()
        );
    } else {
        println!("re-encrypted {count} integration(s). Set FLOWGATE_MASTER_KEY to the new key before the next start:\n{encoded}");
    }
    Ok(ExitCode::SUCCESS)
}

fn rand_key(out: &mut [u8; 32]) {
    use rand::RngCore;
    rand::thread_rng().fill_bytes(out);
}
