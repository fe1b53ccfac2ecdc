//! Access tokens and roles: admin / editor / viewer on every kind of endpoint, the bootstrap
//! token's privilege, secrets shown once and stored hashed.

use reqwest::Method;
use serde_json::{json, Value};
use sqlx::Row;

use crate::helpers::{manual_yaml, spawn_app, TestApp, ADMIN};

/// Every mutation kind with a body that would succeed for the right role.
fn editor_mutations(wf: &str, exec: &str) -> Vec<(Method, String, Value)> {
    vec![
        (
            Method::POST,
            "/api/v1/workflows".into(),
            serde_json::from_str(&yaml_as_json(&manual_yaml("created by a test"))).unwrap(),
        ),
        (
            Method::PUT,
            format!("/api/v1/workflows/{wf}"),
            serde_json::from_str(&yaml_as_json(&manual_yaml("saved again"))).unwrap(),
        ),
        (
            Method::PATCH,
            format!("/api/v1/workflows/{wf}"),
            json!({ "enabled": false }),
        ),
        (
            Method::POST,
            format!("/api/v1/workflows/{wf}/executions"),
            json!({ "x": 1 }),
        ),
        (
            Method::POST,
            format!("/api/v1/executions/{exec}/cancel"),
            json!({}),
        ),
        (
            Method::POST,
            "/api/v1/approvals/0190a1b2-0000-7000-8000-000000000000/decision".into(),
            json!({ "decision": "approve" }),
        ),
        (
            Method::PUT,
            format!("/api/v1/workflows/{wf}/trigger/output-schema"),
            json!({ "schema": { "type": "object" } }),
        ),
        (Method::DELETE, format!("/api/v1/workflows/{wf}"), json!({})),
    ]
}

fn admin_mutations() -> Vec<(Method, String, Value)> {
    vec![
        (
            Method::POST,
            "/api/v1/tokens".into(),
            json!({ "name": "t", "role": "viewer" }),
        ),
        (Method::GET, "/api/v1/tokens".into(), json!({})),
        (
            Method::DELETE,
            "/api/v1/tokens/0190a1b2-0000-7000-8000-000000000000".into(),
            json!({}),
        ),
        (
            Method::POST,
            "/api/v1/api-keys".into(),
            json!({ "name": "k" }),
        ),
        (Method::DELETE, "/api/v1/api-keys/k".into(), json!({})),
        (
            Method::POST,
            "/api/v1/integrations".into(),
            json!({ "type": "http", "alias": "h", "config": { "auth": "bearer" }, "secrets": { "token": "s" } }),
        ),
        (
            Method::PUT,
            "/api/v1/integrations/h".into(),
            json!({ "type": "http", "alias": "h", "config": { "auth": "bearer" }, "secrets": { "token": "s" } }),
        ),
        (Method::DELETE, "/api/v1/integrations/h".into(), json!({})),
        (
            Method::POST,
            "/api/v1/orgs".into(),
            json!({ "name": "not-allowed" }),
        ),
    ]
}

/// The YAML document as JSON text (the API takes both; these tests send JSON).
fn yaml_as_json(yaml: &str) -> String {
    let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
    v.to_string()
}

async fn setup() -> (TestApp, String, String, String, String) {
    let app = spawn_app().await;
    let editor = app.create_token(ADMIN, "ed", "editor").await;
    let viewer = app.create_token(ADMIN, "vi", "viewer").await;
    let wf = app.workflow_id(ADMIN, &manual_yaml("roles")).await;
    let exec = app.run_manual(ADMIN, &wf, &json!({})).await;
    app.wait_finished(ADMIN, &exec).await;
    (app, editor, viewer, wf, exec)
}

#[tokio::test]
async fn viewer_cannot_change_anything_but_can_read() {
    let (app, _, viewer, wf, exec) = setup().await;
    let before = app.counts().await;
    for (method, path, body) in editor_mutations(&wf, &exec)
        .into_iter()
        .chain(admin_mutations())
    {
        let r = app.json(method.clone(), &viewer, &path, &body).await;
        assert_eq!(r.status, 403, "{method} {path} as viewer: {:?}", r.body);
        r.expect_error(403, "forbidden");
    }
    assert_eq!(
        app.counts().await,
        before,
        "a refused request stored something"
    );
    let w = app.get(&viewer, &format!("/api/v1/workflows/{wf}")).await;
    assert!(w.expect(200)["enabled"].as_bool().unwrap(), "still enabled");
    for path in [
        "/api/v1/workflows".to_string(),
        format!("/api/v1/workflows/{wf}"),
        format!("/api/v1/workflows/{wf}/versions"),
        format!("/api/v1/workflows/{wf}/versions/1"),
        "/api/v1/executions".into(),
        format!("/api/v1/executions/{exec}"),
        "/api/v1/approvals?status=pending".into(),
        "/api/v1/node-types".into(),
        "/api/v1/api-keys".into(),
        "/api/v1/integrations".into(),
    ] {
        app.get(&viewer, &path).await.expect(200);
    }
}

#[tokio::test]
async fn editor_manages_workflows_and_runs_but_not_tokens_keys_integrations_or_orgs() {
    let (app, editor, _, wf, exec) = setup().await;
    for (method, path, body) in admin_mutations() {
        let r = app.json(method.clone(), &editor, &path, &body).await;
        assert_eq!(r.status, 403, "{method} {path} as editor: {:?}", r.body);
        r.expect_error(403, "forbidden");
    }
    // Every editor mutation gets past the role check: the finished execution's cancel is a 409,
    // the unknown approval a 404, and a manual trigger has no output schema (422).
    let expected = [201, 200, 200, 202, 409, 404, 422, 204];
    for ((method, path, body), status) in editor_mutations(&wf, &exec).into_iter().zip(expected) {
        let r = if method == Method::PATCH {
            // Re-enable after the PATCH so the manual run below is accepted.
            let r = app.json(method.clone(), &editor, &path, &body).await;
            app.json(Method::PATCH, &editor, &path, &json!({ "enabled": true }))
                .await
                .expect(200);
            r
        } else {
            app.json(method.clone(), &editor, &path, &body).await
        };
        assert_eq!(r.status, status, "{method} {path} as editor: {:?}", r.body);
    }
}

#[tokio::test]
async fn missing_or_unknown_tokens_are_401_everywhere() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/workflows",
        "/api/v1/executions",
        "/api/v1/tokens",
        "/api/v1/api-keys",
        "/api/v1/node-types",
    ] {
        let r = app.send(app.client.get(app.url(path))).await;
        r.expect_error(401, "unauthorized");
        app.get("fgt_not-a-real-token", path)
            .await
            .expect_error(401, "unauthorized");
    }
    let r = app
        .send(
            app.client
                .post(app.url("/api/v1/workflows"))
                .header("authorization", format!("Basic {ADMIN}"))
                .json(&json!({})),
        )
        .await;
    r.expect_error(401, "unauthorized");
}

#[tokio::test]
async fn only_the_bootstrap_token_creates_organizations() {
    let app = spawn_app().await;
    let other_admin = app.create_token(ADMIN, "second-admin", "admin").await;
    app.post(&other_admin, "/api/v1/orgs", &json!({ "name": "b" }))
        .await
        .expect_error(403, "forbidden");
    let (org_id, b_admin) = app.create_org("b").await;
    assert!(!org_id.is_empty());
    app.post(&b_admin, "/api/v1/orgs", &json!({ "name": "c" }))
        .await
        .expect_error(403, "forbidden");
    // The new organization's admin token works, in its own organization.
    let tokens = app.get(&b_admin, "/api/v1/tokens").await;
    let items = tokens.expect(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["role"], "admin");
    // A duplicate name is a conflict.
    app.post(ADMIN, "/api/v1/orgs", &json!({ "name": "b" }))
        .await
        .expect_error(409, "conflict");
    assert_eq!(app.count("orgs").await, 2);
}

#[tokio::test]
async fn token_and_key_values_are_shown_once_and_stored_hashed() {
    let app = spawn_app().await;
    let token = app.create_token(ADMIN, "ci", "editor").await;
    let key = app.create_api_key(ADMIN, "alerts").await;
    assert!(token.starts_with("fgt_") && token.len() > 40, "{token}");
    assert!(key.starts_with("fgk_") && key.len() > 40, "{key}");

    let tokens = app.get(ADMIN, "/api/v1/tokens").await;
    let text = String::from_utf8_lossy(&tokens.bytes).to_string();
    assert!(!text.contains(&token) && !text.contains(ADMIN), "{text}");
    let items = tokens.body["items"].as_array().unwrap();
    let ci = items.iter().find(|t| t["name"] == "ci").expect("listed");
    assert_eq!(ci["role"], "editor");
    assert!(
        ci.get("token").is_none() && ci.get("hash").is_none(),
        "{ci}"
    );

    let keys = app.get(ADMIN, "/api/v1/api-keys").await;
    let text = String::from_utf8_lossy(&keys.bytes).to_string();
    assert!(!text.contains(&key), "{text}");
    assert_eq!(keys.body["items"][0]["name"], "alerts");
    assert!(keys.body["items"][0].get("key").is_none());

    // In the database: hashes only, never the plaintext, anywhere in the rows.
    let pool = app.store().pool();
    for (table, col) in [("tokens", "hash"), ("api_keys", "hash")] {
        let rows = sqlx::query(&format!("SELECT {col} FROM {table}"))
            .fetch_all(pool)
            .await
            .unwrap();
        assert!(!rows.is_empty());
        for r in rows {
            let hash: String = r.try_get(col).unwrap();
            assert_eq!(hash.len(), 64, "a SHA-256 hex digest: {hash}");
            for secret in [&token, &key, &ADMIN.to_string()] {
                assert!(!hash.contains(secret.as_str()));
            }
        }
    }
    // Nor anywhere in the database files.
    for entry in std::fs::read_dir(app.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains("flowgate.db") {
            let bytes = std::fs::read(&path).unwrap();
            for secret in [&token, &key, &ADMIN.to_string()] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{secret} in plaintext in {}",
                    path.display()
                );
            }
        }
    }
}

#[tokio::test]
async fn a_deleted_token_stops_working() {
    let app = spawn_app().await;
    let token = app.create_token(ADMIN, "temp", "viewer").await;
    app.get(&token, "/api/v1/workflows").await.expect(200);
    let list = app.get(ADMIN, "/api/v1/tokens").await;
    let id = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "temp")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(ADMIN, &format!("/api/v1/tokens/{id}"))
        .await
        .expect(204);
    app.get(&token, "/api/v1/workflows")
        .await
        .expect_error(401, "unauthorized");
    app.delete(ADMIN, &format!("/api/v1/tokens/{id}"))
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn token_requests_are_checked() {
    let app = spawn_app().await;
    let r = app
        .post(
            ADMIN,
            "/api/v1/tokens",
            &json!({ "name": "x", "role": "owner" }),
        )
        .await;
    assert!(r.error_text().contains("role"), "{:?}", r.body);
    r.expect(422);
    app.post(
        ADMIN,
        "/api/v1/tokens",
        &json!({ "name": "x", "role": "viewer", "extra": 1 }),
    )
    .await
    .expect(422);
    app.post(
        ADMIN,
        "/api/v1/tokens",
        &json!({ "name": "bad name!", "role": "viewer" }),
    )
    .await
    .expect(422);
    app.post(ADMIN, "/api/v1/api-keys", &json!({ "name": "dup" }))
        .await
        .expect(201);
    app.post(ADMIN, "/api/v1/api-keys", &json!({ "name": "dup" }))
        .await
        .expect_error(409, "conflict");
    assert_eq!(app.count("api_keys").await, 1);
    assert_eq!(app.count("tokens").await, 1);
}
