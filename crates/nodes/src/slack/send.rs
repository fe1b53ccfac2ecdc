//! `slack.send_message`: posts a message (text, optional Block Kit blocks) to a channel. The
//! `variables` are usable as bare `{{Name}}` in the text; the engine substitutes them before
//! the step runs.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use flowgate_model::template::has_template;

use super::client::SlackClient;
use crate::{Category, Descriptor, NodeContext, NodeError, Outcome, Problem, TypedNode};

/// Slack truncates, then refuses, longer texts.
const TEXT_MAX: usize = 40_000;
/// Slack's limit of blocks in one message.
const BLOCKS_MAX: usize = 50;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessageParams {
    /// Alias of the `slack` integration to post with.
    #[schemars(extend("x-integration-type" = "slack"))]
    pub integration: String,
    /// Channel id (e.g. `C0123ABCD`); the Flowgate app must be a member.
    #[schemars(extend("x-source" = "slack-channels"))]
    pub channel: String,
    /// Message text (Slack mrkdwn). `{{Name}}` is replaced by the variable `Name`; with `blocks`
    /// it is the notification fallback.
    pub text: String,
    /// Names usable as `{{Name}}` in the text, usually references to earlier steps.
    #[serde(default)]
    pub variables: Map<String, Value>,
    /// Optional Block Kit blocks (https://app.slack.com/block-kit-builder).
    #[serde(default)]
    pub blocks: Option<Vec<Value>>,
}

pub struct SendMessage;

static DESCRIPTOR: Descriptor = Descriptor {
    idempotent: false,
    ..Descriptor::new(
        "slack.send_message",
        "Slack Send Message",
        Category::Slack,
        "Posts a message to a Slack channel; `output` is `{channel, ts}`.",
    )
};

#[async_trait]
impl TypedNode for SendMessage {
    type Params = SendMessageParams;

    fn descriptor(&self) -> &'static Descriptor {
        &DESCRIPTOR
    }

    fn locals_param(&self) -> Option<&'static str> {
        Some("variables")
    }

    fn check(&self, p: &SendMessageParams) -> Vec<Problem> {
        let mut problems = Vec::new();
        if p.channel.trim().is_empty() {
            problems.push(Problem::new(
                "channel",
                "give the channel id, e.g. C0123ABCD",
            ));
        }
        if p.text.trim().is_empty() && p.blocks.as_ref().is_none_or(Vec::is_empty) {
            problems.push(Problem::new("text", "give the message a text (or blocks)"));
        }
        if !has_template(&p.text) && p.text.chars().count() > TEXT_MAX {
            problems.push(Problem::new(
                "text",
                format!("Slack accepts at most {TEXT_MAX} characters"),
            ));
        }
        if let Some(blocks) = &p.blocks {
            if blocks.len() > BLOCKS_MAX {
                problems.push(Problem::new(
                    "blocks",
                    format!("Slack accepts at most {BLOCKS_MAX} blocks in a message"),
                ));
            }
            for (i, block) in blocks.iter().enumerate() {
                let templated = block.as_str().is_some_and(has_template);
                if !templated && !block.get("type").is_some_and(Value::is_string) {
                    problems.push(Problem::new(
                        format!("blocks[{i}]"),
                        "a Block Kit block is an object with a `type`",
                    ));
                }
            }
        }
        problems
    }

    async fn run(&self, ctx: &NodeContext, p: SendMessageParams) -> Result<Outcome, NodeError> {
        let integration = ctx.integration(&p.integration, "slack").await?;
        let client = SlackClient::for_integration(ctx.services.http.clone(), &integration)?;
        let posted = client
            .post_message(&p.channel, &p.text, p.blocks.as_deref())
            .await?;
        Ok(Outcome::output(
            json!({ "output": { "channel": posted.channel, "ts": posted.ts } }),
        ))
    }
}
