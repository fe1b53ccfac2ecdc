//! Slack: the Web API client, the `slack.send_message` and `slack.approval` nodes, and the pure
//! helpers the server uses for Slack's interactivity requests (signature, payload, messages).

pub mod approval;
pub mod client;
pub mod interaction;
pub mod messages;
pub mod send;

pub use client::{
    AuthInfo, Channel, OAuthAccess, Posted, SlackClient, SlackError, TeamRef, DEFAULT_BASE_URL,
};
pub use interaction::{
    parse_interaction, secrets_equal, sign, verify_signature, Choice, Interaction,
    InteractionError, SignatureError, SlackUser,
};
pub use messages::{already_decided_text, approval_request, decided_message, not_an_approver_text};
