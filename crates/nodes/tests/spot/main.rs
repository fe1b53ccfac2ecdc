//! `spot.elastigroup_aws` and the Spot client against the Spot stand-in: every operation, the
//! error paths, the retry rules, and that the token never shows. One test binary; this file holds
//! the harness.

mod errors;
mod operations;
mod retries;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use flowgate_nodes::{
    Integration, IntegrationSource, Node, NodeContext, NodeError, Outcome, Registry, Services,
    SystemClock,
};
use flowgate_standins::spot::{Capacity, SpotStandin};
use serde_json::{json, Value};

pub const TOKEN: &str = "spot-token-5ecret-0123456789";
pub const NODE: &str = "spot.elastigroup_aws";

struct Source(Vec<Integration>);

#[async_trait]
impl IntegrationSource for Source {
    async fn integration(
        &self,
        org_id: &str,
        alias: &str,
    ) -> Result<Option<Integration>, NodeError> {
        assert_eq!(org_id, "org-1");
        Ok(self.0.iter().find(|i| i.alias == alias).cloned())
    }
}

fn integration(kind: &str, alias: &str, config: Value, token: &str) -> Integration {
    let secret = if kind == "slack" {
        "bot_token"
    } else {
        "token"
    };
    Integration {
        kind: kind.into(),
        alias: alias.into(),
        config,
        secrets: BTreeMap::from([(secret.to_string(), token.to_string())]),
    }
}

/// A stand-in with accounts act-111 (the default) and act-222, groups sig-100 (1..10, target 5)
/// and sig-200 (0..4, target 2, in act-222), and a context whose integrations point at it.
pub struct Env {
    pub spot: SpotStandin,
    pub ctx: NodeContext,
    pub node: Arc<dyn Node>,
}

async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

pub async fn env() -> Env {
    let spot = SpotStandin::start(TOKEN).await;
    spot.add_account("act-111", "prod");
    spot.add_account("act-222", "staging");
    spot.add_group(
        "act-111",
        "sig-100",
        "web",
        Capacity {
            minimum: 1,
            maximum: 10,
            target: 5,
        },
    );
    spot.add_group(
        "act-111",
        "sig-101",
        "batch",
        Capacity {
            minimum: 0,
            maximum: 3,
            target: 0,
        },
    );
    spot.add_group(
        "act-222",
        "sig-200",
        "staging-web",
        Capacity {
            minimum: 0,
            maximum: 4,
            target: 2,
        },
    );
    let base = spot.base_url();
    let integrations = vec![
        integration("spot", "spot", json!({ "base_url": base }), TOKEN),
        integration(
            "spot",
            "spot-staging",
            json!({ "base_url": base, "default_account_id": "act-222" }),
            TOKEN,
        ),
        integration(
            "spot",
            "spot-quick",
            json!({ "base_url": base, "timeout_seconds": 0.3 }),
            TOKEN,
        ),
        integration(
            "spot",
            "spot-bad",
            json!({ "base_url": base }),
            "not-the-token",
        ),
        integration(
            "spot",
            "spot-down",
            json!({ "base_url": closed_port_url().await }),
            TOKEN,
        ),
        integration("slack", "slack", json!({}), "xoxb-1"),
    ];
    let services = Arc::new(Services {
        http: reqwest::Client::new(),
        integrations: Arc::new(Source(integrations)),
        clock: Arc::new(SystemClock),
        public_url: "http://localhost".into(),
        allow_private_networks: true,
    });
    let ctx = NodeContext::new(services, "org-1", "wf-1", "ex-1", "spot_1", "", 1);
    let node = Registry::builtin().get(NODE).expect("registered").clone();
    Env { spot, ctx, node }
}

impl Env {
    pub async fn run(&self, params: Value) -> Result<Value, NodeError> {
        match self.node.execute(&self.ctx, params).await {
            Ok(Outcome::Done { output, port: None }) => {
                assert!(
                    !output.to_string().contains(TOKEN),
                    "the token leaked into {output}"
                );
                Ok(output)
            }
            Ok(other) => panic!("unexpected outcome {other:?}"),
            Err(e) => {
                assert!(
                    !e.message.contains(TOKEN),
                    "the token leaked into {}",
                    e.message
                );
                Err(e)
            }
        }
    }

    pub async fn fails(&self, params: Value) -> NodeError {
        match self.run(params).await {
            Ok(out) => panic!("expected a failure, got {out}"),
            Err(e) => e,
        }
    }

    pub fn target(&self, group: &str) -> u64 {
        self.spot.capacity(group).expect("group exists").target
    }
}

pub fn op(operation: &str, extra: Value) -> Value {
    let mut params = json!({ "integration": "spot", "operation": operation });
    params
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    params
}
