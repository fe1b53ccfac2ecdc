//! Spot's errors, bad params at save and run time, and the schema hints.

use flowgate_nodes::Registry;
use serde_json::{json, Value};

use crate::{env, op, NODE};

#[tokio::test]
async fn a_missing_group_reads_like_spot() {
    let env = env().await;
    let err = env
        .fails(op("get_elastigroup", json!({ "group_id": "sig-nope" })))
        .await;
    assert!(
        err.message
            .starts_with("Spot says GROUP_DOESNT_EXIST: Group doesn't exist (HTTP 400, request "),
        "{}",
        err.message
    );
    assert!(!err.retryable);
    assert_eq!(
        env.spot.count("GET", "/aws/ec2/group/sig-nope"),
        1,
        "a 400 is not retried"
    );
    // A group of another account is not found either.
    let err = env
        .fails(op(
            "scale_down",
            json!({ "group_id": "sig-200", "adjustment": 1 }),
        ))
        .await;
    assert!(
        err.message.contains("GROUP_DOESNT_EXIST"),
        "{}",
        err.message
    );
    assert_eq!(env.target("sig-200"), 2);
}

#[tokio::test]
async fn a_bad_token_is_refused_and_never_shown() {
    let env = env().await;
    let err = env
        .fails(json!({ "integration": "spot-bad", "operation": "list_elastigroups" }))
        .await;
    assert!(
        err.message.contains("Spot says UNAUTHORIZED") && err.message.contains("HTTP 401"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("check the Spot integration's token"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("not-the-token"));
    assert!(!err.retryable);
    assert!(!env.spot.requests()[0].authorized);
}

#[tokio::test]
async fn an_unknown_account_is_refused() {
    let env = env().await;
    let err = env
        .fails(op(
            "get_elastigroup",
            json!({ "group_id": "sig-100", "account_id": "act-999" }),
        ))
        .await;
    assert!(
        err.message.starts_with("Spot says Account_DOESNT_EXIST"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn unknown_or_wrong_type_integrations_fail_before_any_call() {
    let env = env().await;
    let err = env
        .fails(json!({ "integration": "nope", "operation": "list_elastigroups" }))
        .await;
    assert!(
        err.message.contains("no integration named `nope`"),
        "{}",
        err.message
    );
    let err = env
        .fails(json!({ "integration": "slack", "operation": "list_elastigroups" }))
        .await;
    assert!(
        err.message.contains("needs a `spot` integration"),
        "{}",
        err.message
    );
    assert!(env.spot.requests().is_empty());
}

#[tokio::test]
async fn missing_or_bad_params_fail_at_run_time_without_calling_spot() {
    let env = env().await;
    let cases = [
        (
            op("scale_down", json!({ "adjustment": 2 })),
            "group_id: `scale_down` needs the Elastigroup's id",
        ),
        (
            op("scale_up", json!({ "group_id": "sig-100" })),
            "adjustment: `scale_up` needs an adjustment",
        ),
        (
            op(
                "scale_down",
                json!({ "group_id": "sig-100", "adjustment": "two" }),
            ),
            "adjustment: the adjustment must be a whole number, not \"two\"",
        ),
        (
            op(
                "scale_down",
                json!({ "group_id": "sig-100", "adjustment": 0 }),
            ),
            "the adjustment must be at least 1",
        ),
        (
            op(
                "scale_down",
                json!({ "group_id": "sig-100", "adjustment": -1 }),
            ),
            "must be a whole number, not -1",
        ),
        (
            op("get_elastigroup", json!({ "group_id": "group-100" })),
            "`group-100` is not an Elastigroup id",
        ),
        (
            op("list_elastigroups", json!({ "account_id": "123" })),
            "`123` is not a Spot account id",
        ),
        (
            op("update_capacity", json!({ "group_id": "sig-100" })),
            "`update_capacity` needs a capacity",
        ),
        (
            op(
                "update_capacity",
                json!({ "group_id": "sig-100", "capacity": {} }),
            ),
            "give at least one of minimum, maximum and target",
        ),
        (
            op(
                "update_capacity",
                json!({ "group_id": "sig-100", "capacity": { "minimum": 3, "target": 2 } }),
            ),
            "the minimum (3) is above the target (2)",
        ),
        (
            op(
                "update_capacity",
                json!({ "group_id": "sig-100", "capacity": { "target": 9, "maximum": 4 } }),
            ),
            "the target (9) is above the maximum (4)",
        ),
        (
            op("list_elastigroups", json!({ "colour": "red" })),
            "unknown field `colour`",
        ),
        (op("resize", json!({})), "unknown variant `resize`"),
    ];
    for (params, expected) in cases {
        let err = env.fails(params.clone()).await;
        assert!(err.message.contains(expected), "{params}: {}", err.message);
        assert!(!err.retryable);
    }
    assert!(env.spot.requests().is_empty());
}

#[test]
fn literal_bad_values_fail_at_save_time_and_references_wait() {
    let registry = Registry::builtin();
    let node = registry.get(NODE).unwrap();
    let problems = |params: Value| {
        node.validate(&params, "nodes[1].params")
            .into_iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
    };
    let bad = problems(op(
        "scale_down",
        json!({ "group_id": "group-1", "adjustment": 0, "account_id": "123" }),
    ));
    assert!(
        bad.iter()
            .any(|p| p.starts_with("nodes[1].params.adjustment: 0 is less than the minimum of 1")),
        "{bad:?}"
    );
    let bad = problems(op(
        "scale_down",
        json!({ "group_id": "group-1", "adjustment": 2, "account_id": "123" }),
    ));
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(
        bad[0].starts_with("nodes[1].params.account_id: `123` is not a Spot account id"),
        "{bad:?}"
    );
    assert!(
        bad[1].starts_with("nodes[1].params.group_id: `group-1` is not an Elastigroup id"),
        "{bad:?}"
    );
    let bad = problems(op(
        "scale_down",
        json!({ "group_id": "sig-1", "adjustment": "two" }),
    ));
    assert!(
        bad.iter()
            .any(|p| p.starts_with("nodes[1].params.adjustment:")),
        "{bad:?}"
    );
    let bad = problems(op(
        "update_capacity",
        json!({ "group_id": "sig-1", "capacity": { "minimum": 5, "maximum": 2 } }),
    ));
    assert_eq!(bad, ["nodes[1].params.capacity: the minimum (5) is above the maximum (2); Spot needs minimum ≤ target ≤ maximum"]);
    assert_eq!(
        problems(op("get_elastigroup", json!({}))),
        ["nodes[1].params.group_id: `get_elastigroup` needs the Elastigroup's id (`sig-…`)"]
    );

    let refs = op(
        "scale_down",
        json!({ "group_id": "{{ trigger_1.output.Elastigroup_Id }}", "adjustment": "{{ trigger_1.output.count }}", "account_id": "{{ trigger_1.output.account }}" }),
    );
    assert_eq!(problems(refs), Vec::<String>::new());
    let refs = op(
        "update_capacity",
        json!({ "group_id": "sig-1", "capacity": { "minimum": "{{ a.b }}", "target": 3, "maximum": 4 } }),
    );
    assert_eq!(problems(refs), Vec::<String>::new());
}

#[test]
fn the_descriptor_and_schema_carry_the_console_hints() {
    let registry = Registry::builtin();
    let node = registry.get(NODE).unwrap();
    let d = node.descriptor();
    assert_eq!(
        (d.display_name, d.idempotent),
        ("Spot Elastigroup AWS", false)
    );
    assert_eq!(serde_json::to_value(d.category).unwrap(), "Spot by NetApp");
    let schema = node.params_schema();
    assert_eq!(
        schema["properties"]["integration"]["x-integration-type"],
        "spot"
    );
    assert_eq!(
        schema["properties"]["account_id"]["x-source"],
        "spot-accounts"
    );
    assert_eq!(schema["required"], json!(["integration", "operation"]));
    let ops = serde_json::to_string(&schema).unwrap();
    for name in [
        "list_elastigroups",
        "get_elastigroup",
        "scale_up",
        "scale_down",
        "update_capacity",
        "delete_elastigroup",
    ] {
        assert!(
            ops.contains(&format!("\"{name}\"")),
            "{name} missing from {ops}"
        );
    }
}
