//! The Slack client and nodes against the Slack stand-in (a real HTTP server), and the pure
//! interactivity helpers (signature, payload parsing, messages).

//!
//! One test binary: the harness is here, the tests are in the modules below.

#[path = "slack/approval.rs"]
mod approval;
#[path = "slack/send.rs"]
mod send;
#[path = "slack/signing.rs"]
mod signing;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use flowgate_nodes::slack::SlackClient;
use flowgate_nodes::{
    Decision, Integration, IntegrationSource, NodeContext, NodeError, Outcome, Registry, Services,
    TestClock, Wake,
};
use flowgate_standins::slack::{self as standin, SlackStandin};

struct Integrations(HashMap<String, Integration>);

#[async_trait]
impl IntegrationSource for Integrations {
    async fn integration(&self, _org: &str, alias: &str) -> Result<Option<Integration>, NodeError> {
        Ok(self.0.get(alias).cloned())
    }
}

fn slack_integration(alias: &str, base_url: &str, token: &str) -> (String, Integration) {
    let secrets = BTreeMap::from([
        ("bot_token".to_string(), token.to_string()),
        (
            "signing_secret".to_string(),
            standin::SIGNING_SECRET.to_string(),
        ),
    ]);
    (
        alias.to_string(),
        Integration {
            kind: "slack".into(),
            alias: alias.into(),
            config: json!({ "base_url": base_url }),
            secrets,
        },
    )
}

struct Harness {
    slack: SlackStandin,
    clock: Arc<TestClock>,
    services: Arc<Services>,
    registry: Registry,
}

impl Harness {
    async fn start() -> Self {
        let slack = SlackStandin::start().await;
        slack.add_token("xoxb-revoked");
        slack.revoke_token("xoxb-revoked");
        slack.add_token("xoxb-inactive");
        slack.deactivate_token("xoxb-inactive");
        let api = slack.api_url();
        let integrations = HashMap::from([
            slack_integration("ops-slack", &api, standin::BOT_TOKEN),
            slack_integration("revoked-slack", &api, "xoxb-revoked"),
            slack_integration("inactive-slack", &api, "xoxb-inactive"),
            slack_integration("unknown-slack", &api, "xoxb-never-issued"),
        ]);
        let clock = Arc::new(TestClock::default());
        let services = Arc::new(Services {
            http: reqwest::Client::new(),
            integrations: Arc::new(Integrations(integrations)),
            clock: clock.clone(),
            public_url: "http://flowgate.invalid".into(),
            allow_private_networks: true,
        });
        Self {
            slack,
            clock,
            services,
            registry: Registry::builtin(),
        }
    }

    fn ctx(&self) -> NodeContext {
        NodeContext::new(
            self.services.clone(),
            "org-1",
            "wf-1",
            "exec-1",
            "step",
            "",
            1,
        )
    }

    fn client(&self) -> SlackClient {
        SlackClient::new(
            reqwest::Client::new(),
            &self.slack.api_url(),
            standin::BOT_TOKEN,
        )
    }

    async fn execute(&self, node_type: &str, params: Value) -> Result<Outcome, NodeError> {
        self.registry
            .get(node_type)
            .expect("registered")
            .execute(&self.ctx(), params)
            .await
    }

    async fn send(&self, params: Value) -> Result<Outcome, NodeError> {
        self.execute("slack.send_message", params).await
    }

    async fn resume(
        &self,
        params: Value,
        state: Value,
        decision: Option<Decision>,
    ) -> Result<Outcome, NodeError> {
        self.registry
            .get("slack.approval")
            .expect("registered")
            .resume(&self.ctx(), params, state, Wake { decision })
            .await
    }
}

fn done(outcome: Outcome) -> (Value, Option<String>) {
    match outcome {
        Outcome::Done { output, port } => (output, port),
        other => panic!("expected Done, got {other:?}"),
    }
}

fn send_params(channel: &str, text: &str) -> Value {
    json!({ "integration": "ops-slack", "channel": channel, "text": text, "variables": {} })
}
