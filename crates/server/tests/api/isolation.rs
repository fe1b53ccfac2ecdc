//! Organization isolation: a token of organization B cannot read, list, run, change, cancel or
//! even detect organization A's workflows, executions, API keys, tokens and approvals.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{manual_yaml, spawn_app, webhook_yaml, Resp, TestApp, ADMIN};

/// An id that exists nowhere, shaped like real ones.
const UNKNOWN: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

struct OrgA {
    workflow: String,
    manual_workflow: String,
    execution: String,
    key: String,
    token_id: String,
    approval: String,
}

/// Organization A is `default`: a webhook workflow with one execution, a manual workflow, an API
/// key, a second token and a pending approval.
async fn org_a(app: &TestApp) -> OrgA {
    let key = app.create_api_key(ADMIN, "alerts").await;
    let workflow = app
        .workflow_id(ADMIN, &webhook_yaml("a-hook", "alerts"))
        .await;
    let manual_workflow = app.workflow_id(ADMIN, &manual_yaml("a-manual")).await;
    let r = app
        .post_webhook(&workflow, Some(&key), &json!({ "secret_of_a": 1 }))
        .await;
    let execution = r.expect(202)["execution_id"].as_str().unwrap().to_string();
    app.wait_finished(ADMIN, &execution).await;
    app.create_token(ADMIN, "a-viewer", "viewer").await;
    let tokens = app.get(ADMIN, "/api/v1/tokens").await;
    let token_id = tokens.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "a-viewer")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // No approval node exists on this branch: record a pending approval of A directly.
    let approval = "0190a1b2-0000-7000-8000-00000000a99a".to_string();
    sqlx::query(
        "INSERT INTO approvals (id, org_id, execution_id, workflow_id, node_id, scope, status, notes, secret, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, 'approval_1', '', 'pending', 'scale down?', 's', 9999999999999, 1)",
    )
    .bind(approval.clone())
    .bind(app.running.state.default_org_id.clone())
    .bind(execution.clone())
    .bind(workflow.clone())
    .execute(app.store().pool())
    .await
    .unwrap();
    OrgA {
        workflow,
        manual_workflow,
        execution,
        key,
        token_id,
        approval,
    }
}

/// Asserts that B's request about A's object gets exactly the answer for an unknown id.
async fn indistinguishable(
    app: &TestApp,
    token: &str,
    method: Method,
    path_of_a: &str,
    path_unknown: &str,
    body: Option<Value>,
) {
    let send = |path: String| {
        let mut req = app.request(method.clone(), token, &path);
        if let Some(b) = &body {
            req = req.json(b);
        }
        req
    };
    let a: Resp = app.send(send(path_of_a.to_string())).await;
    let unknown: Resp = app.send(send(path_unknown.to_string())).await;
    a.expect_error(404, "not_found");
    assert_eq!(
        a.bytes, unknown.bytes,
        "{method} {path_of_a} answers differently from an unknown id"
    );
}

#[tokio::test]
async fn organization_b_cannot_see_or_touch_organization_a() {
    let app = spawn_app().await;
    let a = org_a(&app).await;
    let (_, b) = app.create_org("org-b").await;
    let b_editor = app.create_token(&b, "b-editor", "editor").await;
    let before = app.counts().await;
    let wf_doc: Value = serde_yaml_ng::from_str(&manual_yaml("b takes over")).unwrap();

    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/workflows/{w}".into(), None),
        (Method::GET, "/api/v1/workflows/{w}/versions".into(), None),
        (Method::GET, "/api/v1/workflows/{w}/versions/1".into(), None),
        (Method::PUT, "/api/v1/workflows/{w}".into(), Some(wf_doc)),
        (
            Method::PATCH,
            "/api/v1/workflows/{w}".into(),
            Some(json!({ "enabled": false })),
        ),
        (
            Method::PUT,
            "/api/v1/workflows/{w}/trigger/output-schema".into(),
            Some(json!({ "schema": { "type": "object" } })),
        ),
        (
            Method::POST,
            "/api/v1/workflows/{m}/executions".into(),
            Some(json!({})),
        ),
        (Method::DELETE, "/api/v1/workflows/{w}".into(), None),
        (Method::GET, "/api/v1/executions/{e}".into(), None),
        (
            Method::POST,
            "/api/v1/executions/{e}/cancel".into(),
            Some(json!({})),
        ),
        (
            Method::POST,
            "/api/v1/approvals/{a}/decision".into(),
            Some(json!({ "decision": "approve" })),
        ),
    ];
    for token in [&b, &b_editor] {
        for (method, template, body) in &cases {
            let fill = |w: &str, m: &str, e: &str, ap: &str| {
                template
                    .replace("{w}", w)
                    .replace("{m}", m)
                    .replace("{e}", e)
                    .replace("{a}", ap)
            };
            let of_a = fill(&a.workflow, &a.manual_workflow, &a.execution, &a.approval);
            let unknown = fill(UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN);
            indistinguishable(&app, token, method.clone(), &of_a, &unknown, body.clone()).await;
        }
    }
    // B's admin cannot delete A's token or API key.
    indistinguishable(
        &app,
        &b,
        Method::DELETE,
        &format!("/api/v1/tokens/{}", a.token_id),
        &format!("/api/v1/tokens/{UNKNOWN}"),
        None,
    )
    .await;
    app.delete(&b, "/api/v1/api-keys/alerts")
        .await
        .expect_error(404, "not_found");
    assert_eq!(app.counts().await, before, "B changed something of A");

    // B's lists hold nothing of A.
    for path in [
        "/api/v1/workflows".to_string(),
        "/api/v1/executions".into(),
        format!("/api/v1/executions?workflow_id={}", a.workflow),
        "/api/v1/api-keys".into(),
        "/api/v1/approvals".into(),
        "/api/v1/approvals?status=pending".into(),
        "/api/v1/integrations".into(),
    ] {
        let r = app.get(&b, &path).await;
        assert_eq!(
            r.expect(200)["items"],
            json!([]),
            "{path} shows A's items to B"
        );
    }
    let tokens = app.get(&b, "/api/v1/tokens").await;
    let names: Vec<&str> = tokens.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"a-viewer") && !names.contains(&"bootstrap"),
        "{names:?}"
    );
    assert!(names.contains(&"b-editor"), "{names:?}");

    // A still has everything, unchanged.
    let w = app
        .get(ADMIN, &format!("/api/v1/workflows/{}", a.workflow))
        .await;
    assert_eq!(w.expect(200)["version"], 1);
    assert_eq!(w.body["enabled"], true);
    let e = app.execution(ADMIN, &a.execution).await;
    assert_eq!(e["status"], "succeeded");
    let ap = app.get(ADMIN, "/api/v1/approvals?status=pending").await;
    assert_eq!(ap.expect(200)["items"][0]["id"], a.approval.as_str());

    // B's key of the same name does not open A's webhook; A's key still does.
    let b_key = app.create_api_key(&b, "alerts").await;
    let refused = app
        .post_webhook(&a.workflow, Some(&b_key), &json!({}))
        .await;
    refused.expect_error(401, "unauthorized");
    let executions = app.count("executions").await;
    app.post_webhook(&a.workflow, Some(&a.key), &json!({}))
        .await
        .expect(202);
    assert_eq!(app.count("executions").await, executions + 1);
}

#[tokio::test]
async fn organization_a_cannot_see_organization_b_either() {
    let app = spawn_app().await;
    let (_, b) = app.create_org("org-b").await;
    let b_wf = app.workflow_id(&b, &manual_yaml("b-flow")).await;
    let b_exec = app.run_manual(&b, &b_wf, &json!({ "b": true })).await;
    app.wait_finished(&b, &b_exec).await;
    let a_wf = app.workflow_id(ADMIN, &manual_yaml("a-flow")).await;

    app.get(ADMIN, &format!("/api/v1/workflows/{b_wf}"))
        .await
        .expect_error(404, "not_found");
    app.get(ADMIN, &format!("/api/v1/executions/{b_exec}"))
        .await
        .expect_error(404, "not_found");
    let list = app.get(ADMIN, "/api/v1/workflows").await;
    let ids: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![a_wf.as_str()]);
    assert_eq!(
        app.get(ADMIN, "/api/v1/executions").await.body["items"],
        json!([])
    );
    // B sees its own.
    let list = app.get(&b, "/api/v1/executions").await;
    assert_eq!(list.body["items"][0]["id"], b_exec.as_str());
}
