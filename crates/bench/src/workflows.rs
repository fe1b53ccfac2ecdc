//! The benchmark's workflows. `compute` (trigger → core.jsonpath → core.transform → core.stop)
//! only computes, so each execution is stored once, finished; `enrich` (trigger → core.jsonpath →
//! core.http_request GET of a Spot group → core.stop) calls out, so each execution is stored when it
//! is accepted and again when it ends, with a real HTTP call between. The Spot stand-in it calls
//! runs in a child process so it does not share the load generator's runtime.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

use flowgate_standins::spot::Capacity;
use flowgate_standins::SpotStandin;

/// Which workflow the webhooks start.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchWorkflow {
    /// Four nodes that only compute.
    Compute,
    /// Four nodes, one of them an HTTP GET to a Spot stand-in on loopback.
    Enrich,
}

const SPOT_TOKEN: &str = "bench-spot-token";

/// The trigger and the JSONPath step both workflows start with.
const FIRST_NODES: &str = r#"nodes:
  - id: hook
    type: trigger.webhook
    params:
      api_key: KEY_NAME
  - id: pick
    type: core.jsonpath
    params:
      json_object: "{{ hook.output }}"
      json_path: "$.alert.severity"
"#;

const COMPUTE: &str = r#"  - id: shape
    type: core.transform
    params:
      value:
        severity: "{{ pick.output }}"
        host: "{{ hook.output.alert.host }}"
        summary: "{{ hook.output.alert.host }} is {{ pick.output }}"
  - id: done
    type: core.stop
    params:
      message: handled
edges:
  - { from: hook, to: pick }
  - { from: pick, to: shape }
  - { from: shape, to: done }
"#;

const ENRICH: &str = r#"  - id: group
    type: core.http_request
    params:
      method: GET
      url: "SPOT_URL/aws/ec2/group/sig-bench"
      query:
        accountId: act-bench
      headers:
        Authorization: "Bearer SPOT_TOKEN"
  - id: done
    type: core.stop
    params:
      message: "{{ pick.output }}: {{ group.output.response.items[0].name }}"
edges:
  - { from: hook, to: pick }
  - { from: pick, to: group }
  - { from: group, to: done }
"#;

/// What a run needs besides the servers: the workflow document for a key name, extra server
/// environment, and the stand-in process (stopped when dropped).
pub struct Prepared {
    yaml: String,
    pub server_env: Vec<(String, String)>,
    _standin: Option<Kill>,
}

impl Prepared {
    pub fn start(workflow: BenchWorkflow) -> Result<Self> {
        match workflow {
            BenchWorkflow::Compute => Ok(Self {
                yaml: format!(
                    "name: bench-4-node\ndescription: trigger, jsonpath, transform, stop\n{FIRST_NODES}{COMPUTE}"
                ),
                server_env: Vec::new(),
                _standin: None,
            }),
            BenchWorkflow::Enrich => {
                let (standin, url) = start_child("spot-standin")?;
                Ok(Self {
                    yaml: format!(
                        "name: bench-4-node-enrich\ndescription: trigger, jsonpath, HTTP GET of a Spot group, stop\n{FIRST_NODES}{ENRICH}"
                    )
                    .replace("SPOT_URL", &url)
                    .replace("SPOT_TOKEN", SPOT_TOKEN),
                    // The stand-in is on loopback, which `core.http_request` refuses by default.
                    server_env: vec![("FLOWGATE_ALLOW_PRIVATE_NETWORKS".into(), "true".into())],
                    _standin: Some(standin),
                })
            }
        }
    }

    /// The workflow document, triggered by the API key `key_name`.
    pub fn document(&self, key_name: &str) -> String {
        self.yaml.replace("KEY_NAME", key_name)
    }
}

/// Runs the Spot stand-in with one account and one group, printing its base URL.
pub async fn serve_spot_standin() -> Result<()> {
    let standin = SpotStandin::start(SPOT_TOKEN).await;
    standin.add_account("act-bench", "bench");
    let capacity = Capacity {
        minimum: 1,
        maximum: 10,
        target: 5,
    };
    standin.add_group("act-bench", "sig-bench", "bench-group", capacity);
    println!("{}", standin.base_url());
    std::future::pending::<()>().await;
    Ok(())
}

/// A child process, killed when dropped.
pub struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts this binary with `command` (a stand-in) and reads the URL it prints.
pub fn start_child(command: &str) -> Result<(Kill, String)> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg(command)
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("start `{command}`"))?;
    let stdout = child.stdout.take().context("stand-in stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    Ok((Kill(child), line.trim().to_string()))
}
