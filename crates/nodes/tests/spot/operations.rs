//! Every operation against the stand-in, and the token check the server runs.

use std::collections::BTreeMap;

use flowgate_standins::spot::Capacity;
use serde_json::json;

use crate::{env, op, TOKEN};

#[tokio::test]
async fn list_uses_the_default_account_unless_one_is_given() {
    let env = env().await;
    let out = env.run(op("list_elastigroups", json!({}))).await.unwrap();
    let ids: Vec<&str> = out["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["sig-100", "sig-101"]);
    assert_eq!(out["output"]["id"], "sig-100");
    assert!(out["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    let first = &env.spot.requests()[0];
    assert!(first.authorized);
    assert!(
        !first.query.contains_key("accountId"),
        "no account configured, none sent"
    );

    let out = env
        .run(op("list_elastigroups", json!({ "account_id": "act-222" })))
        .await
        .unwrap();
    assert_eq!(out["items"].as_array().unwrap().len(), 1);
    assert_eq!(out["output"]["id"], "sig-200");
    assert_eq!(
        env.spot.requests()[1]
            .query
            .get("accountId")
            .map(String::as_str),
        Some("act-222")
    );

    let out = env
        .run(json!({ "integration": "spot-staging", "operation": "list_elastigroups" }))
        .await
        .unwrap();
    assert_eq!(
        out["output"]["id"], "sig-200",
        "the integration's default_account_id applies"
    );
}

#[tokio::test]
async fn get_returns_the_group() {
    let env = env().await;
    let out = env
        .run(op("get_elastigroup", json!({ "group_id": "sig-100" })))
        .await
        .unwrap();
    assert_eq!(out["output"]["name"], "web");
    assert_eq!(
        out["output"]["capacity"],
        json!({ "minimum": 1, "maximum": 10, "target": 5, "unit": "instance" })
    );
    assert_eq!(out["items"].as_array().unwrap().len(), 1);
    assert_eq!(env.spot.count("GET", "/aws/ec2/group/sig-100"), 1);
}

#[tokio::test]
async fn scale_down_lowers_the_target_once_and_names_the_victims() {
    let env = env().await;
    let out = env
        .run(op(
            "scale_down",
            json!({ "group_id": "sig-100", "adjustment": 2 }),
        ))
        .await
        .unwrap();
    assert_eq!(
        out["output"]["victimSpotRequests"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(env.target("sig-100"), 3);
    assert_eq!(
        env.spot.count("PUT", "/aws/ec2/group/sig-100/scale/down"),
        1
    );
    let req = &env.spot.requests()[0];
    assert_eq!(req.query.get("adjustment").map(String::as_str), Some("2"));
    assert!(req.body.is_none());

    // Not below the minimum (1): only 2 of the 3 remaining can go.
    let out = env
        .run(op(
            "scale_down",
            json!({ "group_id": "sig-100", "adjustment": 5 }),
        ))
        .await
        .unwrap();
    assert_eq!(
        out["output"]["victimSpotRequests"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(env.target("sig-100"), 1);
}

#[tokio::test]
async fn scale_up_raises_the_target() {
    let env = env().await;
    let out = env
        .run(op(
            "scale_up",
            json!({ "group_id": "sig-100", "adjustment": 3 }),
        ))
        .await
        .unwrap();
    assert_eq!(
        out["output"]["newSpotRequests"].as_array().unwrap().len(),
        3
    );
    assert_eq!(env.target("sig-100"), 8);
    assert_eq!(env.spot.count("PUT", "/aws/ec2/group/sig-100/scale/up"), 1);
}

#[tokio::test]
async fn a_numeric_string_adjustment_from_a_reference_is_accepted_at_run_time() {
    let env = env().await;
    env.run(op(
        "scale_down",
        json!({ "group_id": "sig-100", "adjustment": "2" }),
    ))
    .await
    .unwrap();
    assert_eq!(env.target("sig-100"), 3);
}

#[tokio::test]
async fn update_capacity_sends_the_given_values() {
    let env = env().await;
    let out = env.run(op("update_capacity", json!({ "group_id": "sig-100", "capacity": { "minimum": 2, "maximum": 6, "target": 4 } }))).await.unwrap();
    assert_eq!(out["output"]["capacity"]["target"], 4);
    assert_eq!(
        env.spot.capacity("sig-100"),
        Some(Capacity {
            minimum: 2,
            maximum: 6,
            target: 4
        })
    );
    assert_eq!(
        env.spot.requests()[0].body,
        Some(json!({ "capacity": { "minimum": 2, "maximum": 6, "target": 4 } }))
    );

    env.run(op(
        "update_capacity",
        json!({ "group_id": "sig-100", "capacity": { "target": 3 } }),
    ))
    .await
    .unwrap();
    assert_eq!(
        env.spot.capacity("sig-100"),
        Some(Capacity {
            minimum: 2,
            maximum: 6,
            target: 3
        })
    );
    assert_eq!(
        env.spot.requests()[1].body,
        Some(json!({ "capacity": { "target": 3 } }))
    );
}

#[tokio::test]
async fn delete_removes_the_group() {
    let env = env().await;
    let out = env
        .run(op("delete_elastigroup", json!({ "group_id": "sig-101" })))
        .await
        .unwrap();
    assert_eq!(
        out,
        json!({ "output": null, "items": [], "request_id": out["request_id"] })
    );
    assert!(env.spot.group("sig-101").is_none());
    let err = env
        .fails(op("get_elastigroup", json!({ "group_id": "sig-101" })))
        .await;
    assert!(
        err.message.starts_with("Spot says GROUP_DOESNT_EXIST"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn verify_token_lists_the_accounts_or_refuses_the_token() {
    let env = env().await;
    let http = reqwest::Client::new();
    let config = json!({ "base_url": env.spot.base_url() });
    let secrets = |t: &str| BTreeMap::from([("token".to_string(), t.to_string())]);
    let accounts = flowgate_nodes::spot::verify_token(&http, &config, &secrets(TOKEN))
        .await
        .unwrap();
    let ids: Vec<&str> = accounts
        .iter()
        .map(|a| a["accountId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["act-111", "act-222"]);
    let req = &env.spot.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("GET", "/setup/account")
    );
    assert!(req.query.is_empty(), "no accountId on /setup/account");

    let err = flowgate_nodes::spot::verify_token(&http, &config, &secrets("wrong-token"))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("HTTP 401") && !err.message.contains("wrong-token"),
        "{}",
        err.message
    );
    let err = flowgate_nodes::spot::verify_token(&http, &config, &BTreeMap::new())
        .await
        .unwrap_err();
    assert!(
        err.message.contains("has no `token` secret"),
        "{}",
        err.message
    );
    let err = flowgate_nodes::spot::verify_token(
        &http,
        &json!({ "base_url": "ftp://x" }),
        &secrets(TOKEN),
    )
    .await
    .unwrap_err();
    assert!(
        err.message.contains("is not an http(s) URL"),
        "{}",
        err.message
    );
    assert_eq!(env.spot.requests().len(), 2);
}
