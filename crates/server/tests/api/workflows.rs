//! Workflow documents: JSON and YAML, strict parsing, validation with every problem and its path,
//! versions, enable/disable, delete, pagination; refused requests store nothing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{manual_yaml, spawn_app, webhook_yaml, Resp, TestApp, ADMIN};

async fn post_doc(app: &TestApp, content_type: &str, body: impl Into<reqwest::Body>) -> Resp {
    app.raw(Method::POST, ADMIN, "/api/v1/workflows", content_type, body)
        .await
}

#[tokio::test]
async fn json_and_yaml_documents_create_the_same_workflow() {
    let app = spawn_app().await;
    let yaml = webhook_yaml("budget alert", "alerts");
    let from_yaml = app.create_workflow_yaml(ADMIN, &yaml).await;
    let doc: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let from_json = app.post(ADMIN, "/api/v1/workflows", &doc).await;
    let from_json = from_json.expect(201);

    assert_eq!(from_yaml["document"], from_json["document"]);
    assert_eq!(
        from_yaml["document"]["nodes"][0]["params"]["api_key"],
        "alerts"
    );
    for w in [&from_yaml, from_json] {
        assert_eq!(w["version"], 1);
        assert_eq!(w["enabled"], true);
        assert_eq!(w["name"], "budget alert");
        let id = w["id"].as_str().unwrap();
        assert_eq!(
            w["webhook_url"],
            format!("{}/webhooks/{id}", app.base).as_str()
        );
    }
    assert_ne!(from_yaml["id"], from_json["id"]);
    let one = app
        .get(
            ADMIN,
            &format!("/api/v1/workflows/{}", from_yaml["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(one.expect(200)["document"], from_yaml["document"]);
    assert!(one.body["created_at"].is_string() && one.body["updated_at"].is_string());

    let manual = app
        .create_workflow_yaml(ADMIN, &manual_yaml("by hand"))
        .await;
    assert_eq!(manual["webhook_url"], Value::Null);
    assert_eq!(app.count("workflows").await, 3);
    assert_eq!(app.count("workflow_versions").await, 3);
}

#[tokio::test]
async fn unknown_fields_and_wrong_types_are_named_with_their_path() {
    let app = spawn_app().await;
    let before = app.counts().await;
    let doc = json!({ "name": "n", "description": "d", "nodes": [
        { "id": "t", "type": "trigger.manual", "colour": "red" }
    ]});
    let r = app.post(ADMIN, "/api/v1/workflows", &doc).await;
    r.expect_error(422, "invalid");
    assert_eq!(r.detail_paths(), vec!["nodes[0].colour"]);
    assert!(
        r.error_text().contains("unknown field `colour`"),
        "{}",
        r.error_text()
    );

    let r = post_doc(
        &app,
        "application/yaml",
        "name: n\ndescription: d\nnodez: []\n",
    )
    .await;
    r.expect_error(422, "invalid");
    assert!(r.error_text().contains("nodez"), "{}", r.error_text());

    let r = app
        .post(
            ADMIN,
            "/api/v1/workflows",
            &json!({ "name": 5, "description": "d", "nodes": [] }),
        )
        .await;
    r.expect_error(422, "invalid");
    assert_eq!(r.detail_paths(), vec!["name"]);

    // Unknown params of a known node type are named too.
    let r = post_doc(&app, "application/yaml", "name: n\ndescription: d\nnodes:\n  - { id: t, type: trigger.manual }\n  - { id: a, type: core.transform, params: { value: 1, valeu: 2 } }\nedges:\n  - { from: t, to: a }\n").await;
    r.expect_error(422, "invalid");
    assert!(
        r.detail_paths()
            .iter()
            .any(|p| p.starts_with("nodes[1].params")),
        "{:?}",
        r.body
    );
    assert!(r.error_text().contains("valeu"), "{}", r.error_text());
    assert_eq!(app.counts().await, before);
}

#[tokio::test]
async fn validation_reports_every_problem_at_once_with_paths() {
    let app = spawn_app().await;
    let before = app.counts().await;
    let yaml = r#"
name: AWS budget
description: "   "
nodes:
  - { id: trigger_1, type: trigger.webhook, params: { api_key: alerts } }
  - { id: dup, type: core.transform, params: { value: "{{ later.output }}" } }
  - { id: dup, type: core.transform, params: { value: 1 } }
  - { id: Bad-Id, type: core.transform, params: { value: 1 } }
  - { id: mystery, type: core.teleport }
  - { id: pick, type: core.jsonpath, params: { json_object: "{{ trigger_1.output }}", json_path: "$[?(" } }
  - { id: ghost_ref, type: core.transform, params: { value: "{{ nowhere.output.x }}" } }
  - { id: later, type: core.transform, params: { value: 2 } }
edges:
  - { from: trigger_1, to: dup }
  - { from: dup, to: later }
  - { from: trigger_1, to: pick }
  - { from: pick, to: nothing_here }
  - { from: pick, port: maybe, to: ghost_ref }
  - { from: trigger_1, to: ghost_ref }
"#;
    let r = post_doc(&app, "application/yaml", yaml).await;
    r.expect_error(422, "invalid");
    let paths = r.detail_paths();
    let text = r.error_text();
    for expected in [
        "name",
        "description",
        "nodes[2].id",
        "nodes[3].id",
        "nodes[4].type",
        "nodes[5].params.json_path",
        "nodes[6].params",
        "nodes[1].params",
        "edges[3].to",
        "edges[4].port",
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "no {expected} in {text}"
        );
    }
    for words in [
        "may not start with `aws`",
        "description is required",
        "used by more than one node",
        "not a valid id",
        "unknown node type `core.teleport`",
        "not a valid JSONPath",
        "`nowhere`, which is not a step",
        "`later`, which is not upstream",
        "there is no node `nothing_here`",
        "no port `maybe`",
    ] {
        assert!(text.contains(words), "no `{words}` in {text}");
    }
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{} problems", paths.len())),
        "{message}"
    );
    assert_eq!(app.counts().await, before);
}

#[tokio::test]
async fn reserved_names_cycles_and_missing_triggers_are_refused() {
    let app = spawn_app().await;
    for name in ["aws-budget", "Amazon alerts", "AMZ", "amzing", "AwS"] {
        let r = post_doc(&app, "application/yaml", manual_yaml(name)).await;
        r.expect_error(422, "invalid");
        assert_eq!(r.detail_paths(), vec!["name"], "{name}: {}", r.error_text());
    }
    let cycle = "name: loopy\ndescription: d\nnodes:\n  - { id: t, type: trigger.manual }\n  - { id: a, type: core.transform, params: { value: 1 } }\n  - { id: b, type: core.transform, params: { value: 2 } }\nedges:\n  - { from: t, to: a }\n  - { from: a, to: b }\n  - { from: b, to: a }\n";
    let r = post_doc(&app, "application/yaml", cycle).await;
    r.expect_error(422, "invalid");
    assert!(r.error_text().contains("cycle"), "{}", r.error_text());
    assert!(r.detail_paths().contains(&"edges".to_string()));

    let no_trigger = "name: headless\ndescription: d\nnodes:\n  - { id: a, type: core.transform, params: { value: 1 } }\n";
    let r = post_doc(&app, "application/yaml", no_trigger).await;
    assert!(
        r.error_text().contains("exactly one trigger"),
        "{}",
        r.error_text()
    );

    let lonely = "name: lonely\ndescription: d\nnodes:\n  - { id: t, type: trigger.manual }\n";
    let r = post_doc(&app, "application/yaml", lonely).await;
    r.expect_error(422, "invalid");
    assert!(
        r.error_text().contains("no node is connected"),
        "{}",
        r.error_text()
    );
    // A node may not continue on an `error` port its type does not have.
    let stop_error = "name: s\ndescription: d\nnodes:\n  - { id: t, type: trigger.manual }\n  - { id: s, type: core.stop }\n  - { id: a, type: core.transform, params: { value: 1 } }\nedges:\n  - { from: t, to: s }\n  - { from: s, port: error, to: a }\n";
    let r = post_doc(&app, "application/yaml", stop_error).await;
    r.expect_error(422, "invalid");
    assert_eq!(r.detail_paths(), vec!["edges[1].port"]);
    assert_eq!(app.count("workflows").await, 0);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_stores_nothing_and_the_server_stays_up() {
    let app = spawn_app().await;
    let before = app.counts().await;

    let huge = format!(
        "{{\"name\":\"n\",\"description\":\"{}\",\"nodes\":[]}}",
        "x".repeat(10 * 1024 * 1024)
    );
    post_doc(&app, "application/json", huge)
        .await
        .expect_error(413, "too_large");
    let over = format!(
        "name: n\ndescription: \"{}\"\nnodes: []\n",
        "x".repeat(300 * 1024)
    );
    post_doc(&app, "application/yaml", over)
        .await
        .expect_error(413, "too_large");

    let deep_json = format!(
        r#"{{"name":"n","description":"d","nodes":[{{"id":"t","type":"trigger.manual","params":{{"a":{}{}}}}}]}}"#,
        "[".repeat(1000),
        "]".repeat(1000)
    );
    let r = post_doc(&app, "application/json", deep_json).await;
    assert!((400..500).contains(&r.status), "{:?}", r.body);
    r.expect(r.status);
    assert!(r.error_text().contains("recursion"), "{}", r.error_text());
    let deep_yaml = format!(
        "name: n\ndescription: d\nnodes:\n  - id: t\n    type: trigger.manual\n    params: {{ a: {}{} }}\n",
        "[".repeat(1000),
        "]".repeat(1000)
    );
    let r = post_doc(&app, "application/yaml", deep_yaml).await;
    assert!((400..500).contains(&r.status), "{:?}", r.body);
    r.expect(r.status);

    let r = post_doc(
        &app,
        "application/json",
        b"{\"name\":\"caf\xe9\",\"description\":\"d\",\"nodes\":[]}".to_vec(),
    )
    .await;
    r.expect_error(400, "bad_request");
    assert!(r.error_text().contains("UTF-8"), "{}", r.error_text());
    let r = post_doc(&app, "application/yaml", b"name: \xff\xfe\n".to_vec()).await;
    r.expect_error(400, "bad_request");

    for (ct, text) in [
        ("application/json", "{\"name\": \"n\", "),
        ("application/json", "{\"name\": \"n\"} trailing"),
        ("application/yaml", "name: [unclosed\ndescription: d\n"),
        ("application/yaml", "name: n\n  description: : :\n"),
    ] {
        let r = post_doc(&app, ct, text).await;
        assert!(
            matches!(r.status, 400 | 422),
            "{ct} {text:?}: {} {:?}",
            r.status,
            r.body
        );
        r.expect(r.status);
        let t = r.error_text();
        assert!(t.contains("JSON") || t.contains("YAML"), "{t}");
    }

    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        post_doc(&app, ct, manual_yaml("n"))
            .await
            .expect_error(415, "unsupported_media_type");
    }
    let no_ct = app
        .send(
            app.request(Method::POST, ADMIN, "/api/v1/workflows")
                .body(manual_yaml("n")),
        )
        .await;
    no_ct.expect_error(415, "unsupported_media_type");

    assert_eq!(app.counts().await, before, "a refused document was stored");
    app.send(app.client.get(app.url("/healthz")))
        .await
        .expect(200);
    app.create_workflow_yaml(ADMIN, &manual_yaml("still works"))
        .await;
}

#[tokio::test]
async fn each_save_is_a_version_and_executions_keep_theirs() {
    let app = spawn_app().await;
    let v1 = manual_yaml("versioned").replace("{{ start.output }}", "v1");
    let v2 = manual_yaml("versioned again").replace("{{ start.output }}", "v2");
    let id = app.workflow_id(ADMIN, &v1).await;
    let first = app.run_manual(ADMIN, &id, &json!({})).await;

    let r = app
        .raw(
            Method::PUT,
            ADMIN,
            &format!("/api/v1/workflows/{id}"),
            "application/yaml",
            v2,
        )
        .await;
    assert_eq!(r.expect(200)["version"], 2);
    assert_eq!(r.body["id"], id.as_str());
    let second = app.run_manual(ADMIN, &id, &json!({})).await;

    let first = app.wait_finished(ADMIN, &first).await;
    let second = app.wait_finished(ADMIN, &second).await;
    assert_eq!(first["workflow_version"], 1);
    assert_eq!(
        crate::helpers::step(&first, "echo")["output"]["output"],
        "v1"
    );
    assert_eq!(second["workflow_version"], 2);
    assert_eq!(
        crate::helpers::step(&second, "echo")["output"]["output"],
        "v2"
    );

    let w = app.get(ADMIN, &format!("/api/v1/workflows/{id}")).await;
    assert_eq!(w.expect(200)["version"], 2);
    assert_eq!(w.body["name"], "versioned again");
    let versions = app
        .get(ADMIN, &format!("/api/v1/workflows/{id}/versions"))
        .await;
    let mut numbers: Vec<i64> = versions.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, vec![1, 2]);
    let old = app
        .get(ADMIN, &format!("/api/v1/workflows/{id}/versions/1"))
        .await;
    assert_eq!(old.expect(200)["document"]["name"], "versioned");
    app.get(ADMIN, &format!("/api/v1/workflows/{id}/versions/3"))
        .await
        .expect_error(404, "not_found");
    app.get(ADMIN, &format!("/api/v1/workflows/{id}/versions/latest"))
        .await
        .expect_error(400, "bad_request");

    // An invalid save creates no version.
    let r = app
        .raw(
            Method::PUT,
            ADMIN,
            &format!("/api/v1/workflows/{id}"),
            "application/yaml",
            manual_yaml("aws nope"),
        )
        .await;
    r.expect_error(422, "invalid");
    assert_eq!(app.count("workflow_versions").await, 2);
    app.raw(
        Method::PUT,
        ADMIN,
        "/api/v1/workflows/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "application/yaml",
        manual_yaml("ghost"),
    )
    .await
    .expect_error(404, "not_found");
}

#[tokio::test]
async fn patch_enables_and_disables() {
    let app = spawn_app().await;
    let id = app.workflow_id(ADMIN, &manual_yaml("toggled")).await;
    let path = format!("/api/v1/workflows/{id}");
    let r = app
        .json(Method::PATCH, ADMIN, &path, &json!({ "enabled": false }))
        .await;
    assert_eq!(r.expect(200)["enabled"], false);
    assert_eq!(app.get(ADMIN, &path).await.body["enabled"], false);
    let executions = app.count("executions").await;
    let r = app
        .post(ADMIN, &format!("{path}/executions"), &json!({}))
        .await;
    r.expect_error(409, "conflict");
    assert!(r.error_text().contains("disabled"));
    assert_eq!(app.count("executions").await, executions);

    for bad in [
        json!({ "enabled": "yes" }),
        json!({}),
        json!({ "enabled": true, "name": "x" }),
    ] {
        app.json(Method::PATCH, ADMIN, &path, &bad)
            .await
            .expect_error(422, "invalid");
    }
    let r = app
        .json(Method::PATCH, ADMIN, &path, &json!({ "enabled": true }))
        .await;
    assert_eq!(r.expect(200)["enabled"], true);
    app.run_manual(ADMIN, &id, &json!({})).await;
    // A PATCH changes no version.
    assert_eq!(app.get(ADMIN, &path).await.body["version"], 1);
}

#[tokio::test]
async fn delete_hides_the_workflow_but_keeps_its_history() {
    let app = spawn_app().await;
    let id = app.workflow_id(ADMIN, &manual_yaml("doomed")).await;
    let keep = app.workflow_id(ADMIN, &manual_yaml("kept")).await;
    let exec = app.run_manual(ADMIN, &id, &json!({})).await;
    app.wait_finished(ADMIN, &exec).await;
    let path = format!("/api/v1/workflows/{id}");
    app.delete(ADMIN, &path).await.expect(204);

    app.get(ADMIN, &path).await.expect_error(404, "not_found");
    app.delete(ADMIN, &path)
        .await
        .expect_error(404, "not_found");
    app.get(ADMIN, &format!("{path}/versions"))
        .await
        .expect_error(404, "not_found");
    app.get(ADMIN, &format!("{path}/versions/1"))
        .await
        .expect_error(404, "not_found");
    app.post(ADMIN, &format!("{path}/executions"), &json!({}))
        .await
        .expect_error(404, "not_found");
    app.json(Method::PATCH, ADMIN, &path, &json!({ "enabled": true }))
        .await
        .expect_error(404, "not_found");
    let list = app.get(ADMIN, "/api/v1/workflows").await;
    let ids: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![keep.as_str()]);
    // The finished execution stays readable until retention.
    assert_eq!(app.execution(ADMIN, &exec).await["status"], "succeeded");
}

#[tokio::test]
async fn workflow_lists_are_paginated() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(
            app.workflow_id(ADMIN, &manual_yaml(&format!("flow {i}")))
                .await,
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/workflows?limit=2&cursor={c}"),
            None => "/api/v1/workflows?limit=2".to_string(),
        };
        let r = app.get(ADMIN, &path).await;
        let body = r.expect(200);
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|w| w["id"].as_str().unwrap().to_string()));
        pages += 1;
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    let mut want = created.clone();
    want.sort();
    let mut got = seen.clone();
    got.sort();
    assert_eq!(got, want, "every workflow exactly once");
    let all = app.get(ADMIN, "/api/v1/workflows").await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 5);
    assert_eq!(all.body["next_cursor"], Value::Null);
    // An empty cursor is the first page, as clients that always send it expect.
    let first = app.get(ADMIN, "/api/v1/workflows?limit=2&cursor=").await;
    assert_eq!(first.expect(200)["items"].as_array().unwrap().len(), 2);
    assert!(first.body["next_cursor"].is_string());
    for bad in ["limit=0", "limit=501", "limit=two"] {
        app.get(ADMIN, &format!("/api/v1/workflows?{bad}"))
            .await
            .expect_error(400, "bad_request");
    }
}
