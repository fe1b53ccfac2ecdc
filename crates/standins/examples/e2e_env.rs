//! End-to-end test environment: runs the Spot and Slack stand-ins on loopback, prints their URLs and
//! credentials as one JSON line on stdout, and stays up until killed (used by `web/e2e`).

use flowgate_standins::slack::{self, SlackStandin};
use flowgate_standins::spot::Capacity;
use flowgate_standins::SpotStandin;
use serde_json::json;

/// The Spot token the stand-in accepts (only ever used against this loopback stand-in).
const SPOT_TOKEN: &str = "spot-e2e-token-0123456789";
const ACCOUNT_ID: &str = "act-29ddd123";
const GROUP_ID: &str = "sig-e26f1234";
const CHANNEL_ID: &str = "C0123ABCD";

#[tokio::main]
async fn main() {
    let spot = SpotStandin::start(SPOT_TOKEN).await;
    spot.add_account(ACCOUNT_ID, "SpotAccountname");
    spot.add_group(
        ACCOUNT_ID,
        GROUP_ID,
        "web-prod",
        Capacity {
            minimum: 0,
            maximum: 10,
            target: 4,
        },
    );
    let slack = SlackStandin::start().await;
    slack.add_channel(CHANNEL_ID, "budget-alerts", false, true);
    let ready = json!({
        "spot": {"base_url": spot.base_url(), "token": SPOT_TOKEN, "account_id": ACCOUNT_ID, "group_id": GROUP_ID},
        "slack": {"api_url": slack.api_url(), "bot_token": slack::BOT_TOKEN, "signing_secret": slack::SIGNING_SECRET, "channel": CHANNEL_ID,
                  "base_url": slack.base_url(), "client_id": slack::CLIENT_ID, "client_secret": slack::CLIENT_SECRET},
    });
    println!("{ready}");
    // Stay up until the test kills the process (SIGTERM/SIGINT) or closes stdin.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    drop(slack);
    drop(spot);
}
