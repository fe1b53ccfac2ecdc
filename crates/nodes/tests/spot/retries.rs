//! Which calls are retried and which fail with "outcome unknown".

use std::time::{Duration, Instant};

use flowgate_standins::spot::Fault;
use serde_json::json;

use crate::{env, op, Env};

#[tokio::test]
async fn reads_are_retried_after_429_honouring_retry_after() {
    let env = env().await;
    env.spot.inject(
        "/aws/ec2/group/sig-100",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    let started = Instant::now();
    let out = env
        .run(op("get_elastigroup", json!({ "group_id": "sig-100" })))
        .await
        .unwrap();
    assert_eq!(out["output"]["id"], "sig-100");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After: 1 was not honoured ({:?})",
        started.elapsed()
    );
    assert_eq!(env.spot.count("GET", "/aws/ec2/group/sig-100"), 2);
}

#[tokio::test]
async fn reads_are_retried_after_500_and_dropped_connections() {
    let env = env().await;
    env.spot.inject("/aws/ec2/group", Fault::ServerError, 1);
    env.spot.inject("/aws/ec2/group", Fault::Drop, 1);
    let out = env.run(op("list_elastigroups", json!({}))).await.unwrap();
    assert_eq!(out["items"].as_array().unwrap().len(), 2);
    assert_eq!(env.spot.count("GET", "/aws/ec2/group"), 3);
}

#[tokio::test]
async fn reads_give_up_after_three_attempts_with_a_retryable_error() {
    let env = env().await;
    env.spot
        .inject("/aws/ec2/group/sig-100", Fault::ServerError, 3);
    let err = env
        .fails(op("get_elastigroup", json!({ "group_id": "sig-100" })))
        .await;
    assert!(
        err.message.starts_with(
            "Spot says INTERNAL_SERVER_ERROR: Internal server error (HTTP 500, request "
        ),
        "{}",
        err.message
    );
    assert!(err.retryable, "the engine may try the step again later");
    assert_eq!(env.spot.count("GET", "/aws/ec2/group/sig-100"), 3);
}

#[tokio::test]
async fn a_long_retry_after_goes_back_to_the_engine() {
    let env = env().await;
    env.spot.inject(
        "/aws/ec2/group/sig-100",
        Fault::RateLimited {
            retry_after_secs: 120,
        },
        1,
    );
    let err = env
        .fails(op("get_elastigroup", json!({ "group_id": "sig-100" })))
        .await;
    assert!(err.retryable);
    assert_eq!(err.retry_after_ms, Some(120_000));
    assert_eq!(env.spot.count("GET", "/aws/ec2/group/sig-100"), 1);
}

async fn assert_scale_down_outcome_unknown(env: &Env, integration: &str, reason: &str) {
    let err = env.fails(json!({ "integration": integration, "operation": "scale_down", "group_id": "sig-100", "adjustment": 2 })).await;
    assert!(
        err.message.starts_with(
            "outcome unknown: PUT /aws/ec2/group/sig-100/scale/down may have reached Spot, but "
        ),
        "{}",
        err.message
    );
    assert!(err.message.contains(reason), "{}", err.message);
    assert!(!err.retryable, "the engine must not repeat it either");
    assert_eq!(
        env.spot.count("PUT", "/aws/ec2/group/sig-100/scale/down"),
        1,
        "a scale request that may have arrived is sent once"
    );
}

#[tokio::test]
async fn scale_down_after_a_500_is_not_retried() {
    let env = env().await;
    env.spot
        .inject("/aws/ec2/group/sig-100/scale/down", Fault::ServerError, 1);
    assert_scale_down_outcome_unknown(&env, "spot", "HTTP 500").await;
}

#[tokio::test]
async fn scale_down_after_a_dropped_connection_is_not_retried() {
    let env = env().await;
    env.spot
        .inject("/aws/ec2/group/sig-100/scale/down", Fault::Drop, 1);
    assert_scale_down_outcome_unknown(
        &env,
        "spot",
        "the connection failed before an answer arrived",
    )
    .await;
    assert_eq!(
        env.target("sig-100"),
        3,
        "the stand-in acted before dropping: the operator has to look"
    );
}

#[tokio::test]
async fn scale_down_after_a_timeout_is_not_retried() {
    let env = env().await;
    env.spot.inject(
        "/aws/ec2/group/sig-100/scale/down",
        Fault::Slow(Duration::from_secs(3)),
        1,
    );
    let started = Instant::now();
    assert_scale_down_outcome_unknown(&env, "spot-quick", "no answer within 300ms").await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the per-call timeout applies"
    );
}

#[tokio::test]
async fn scale_up_and_delete_follow_the_same_rule() {
    let env = env().await;
    env.spot
        .inject("/aws/ec2/group/sig-100/scale/up", Fault::ServerError, 1);
    let err = env
        .fails(op(
            "scale_up",
            json!({ "group_id": "sig-100", "adjustment": 1 }),
        ))
        .await;
    assert!(
        err.message.starts_with("outcome unknown: "),
        "{}",
        err.message
    );
    assert_eq!(env.spot.count("PUT", "/aws/ec2/group/sig-100/scale/up"), 1);
    env.spot.inject("/aws/ec2/group/sig-101", Fault::Drop, 1);
    let err = env
        .fails(op("delete_elastigroup", json!({ "group_id": "sig-101" })))
        .await;
    assert!(
        err.message
            .starts_with("outcome unknown: DELETE /aws/ec2/group/sig-101"),
        "{}",
        err.message
    );
    assert_eq!(env.spot.count("DELETE", "/aws/ec2/group/sig-101"), 1);
}

#[tokio::test]
async fn scale_down_after_a_429_is_retried_because_spot_did_not_act() {
    let env = env().await;
    env.spot.inject(
        "/aws/ec2/group/sig-100/scale/down",
        Fault::RateLimited {
            retry_after_secs: 0,
        },
        1,
    );
    env.run(op(
        "scale_down",
        json!({ "group_id": "sig-100", "adjustment": 2 }),
    ))
    .await
    .unwrap();
    assert_eq!(
        env.spot.count("PUT", "/aws/ec2/group/sig-100/scale/down"),
        2
    );
    assert_eq!(env.target("sig-100"), 3, "applied once");
}

#[tokio::test]
async fn update_capacity_is_absolute_so_it_is_retried() {
    let env = env().await;
    env.spot
        .inject("/aws/ec2/group/sig-100/capacity", Fault::ServerError, 1);
    env.run(op(
        "update_capacity",
        json!({ "group_id": "sig-100", "capacity": { "target": 7 } }),
    ))
    .await
    .unwrap();
    assert_eq!(env.spot.count("PUT", "/aws/ec2/group/sig-100/capacity"), 2);
    assert_eq!(env.target("sig-100"), 7);
}

#[tokio::test]
async fn a_refused_connection_is_retryable_not_unknown() {
    let env = env().await;
    let err = env.fails(json!({ "integration": "spot-down", "operation": "scale_down", "group_id": "sig-100", "adjustment": 1 })).await;
    assert!(
        err.message
            .starts_with("could not reach Spot for PUT /aws/ec2/group/sig-100/scale/down: "),
        "{}",
        err.message
    );
    assert!(err.retryable, "nothing was sent, so trying again is safe");
}
