//! References (spec §4): whole-value references keep their JSON type, embedded ones interpolate,
//! and one that does not resolve fails the step with a message naming it and the missing part.

use serde_json::json;

use crate::helpers::{ran, spawn_app, step, ADMIN};

const SHAPES: &str = r#"
name: shapes
description: references of every shape
nodes:
  - id: start
    type: trigger.manual
  - id: shape
    type: core.transform
    params:
      value:
        number: "{{ start.output.count }}"
        object: "{{ start.output.group }}"
        list: "{{ start.output.sizes }}"
        first: "{{ start.output.sizes[0] }}"
        dashed: '{{ start.output["with-dash"] }}'
        flag: "{{ start.output.enabled }}"
        text: "count={{ start.output.count }} group={{ start.output.group }} sizes={{ start.output.sizes }}"
        plain: no references here
        literal: 7
  - id: again
    type: core.transform
    params:
      value: "{{ shape.output.object.name }} has {{ shape.output.number }}"
edges:
  - { from: start, to: shape }
  - { from: shape, to: again }
"#;

#[tokio::test]
async fn whole_references_keep_types_and_embedded_ones_interpolate() {
    let app = spawn_app().await;
    let id = app.workflow_id(ADMIN, SHAPES).await;
    let payload = json!({
        "count": 3,
        "group": { "name": "web-prod", "id": "sig-1" },
        "sizes": [2, 4],
        "with-dash": "dashes work",
        "enabled": true
    });
    let exec = app.run_manual(ADMIN, &id, &payload).await;
    let exec = app.wait_finished(ADMIN, &exec).await;
    assert_eq!(exec["status"], "succeeded", "{exec:#}");
    let shape = step(&exec, "shape");
    assert_eq!(
        shape["output"]["output"],
        json!({
            "number": 3,
            "object": { "name": "web-prod", "id": "sig-1" },
            "list": [2, 4],
            "first": 2,
            "dashed": "dashes work",
            "flag": true,
            "text": r#"count=3 group={"name":"web-prod","id":"sig-1"} sizes=[2,4]"#,
            "plain": "no references here",
            "literal": 7
        })
    );
    // The step's input is its params after references were resolved.
    assert_eq!(shape["input"]["value"]["number"], 3);
    assert_eq!(step(&exec, "again")["output"]["output"], "web-prod has 3");
}

#[tokio::test]
async fn an_unresolved_reference_fails_the_step_naming_the_reference_and_the_missing_part() {
    let app = spawn_app().await;
    let yaml = r#"
name: missing parts
description: references that do not resolve
nodes:
  - id: start
    type: trigger.manual
  - id: read
    type: core.transform
    params:
      value: "{{ start.output.group.nmae }}"
  - id: never
    type: core.transform
    params:
      value: 1
edges:
  - { from: start, to: read }
  - { from: read, to: never }
"#;
    let id = app.workflow_id(ADMIN, yaml).await;
    let exec = app
        .run_manual(ADMIN, &id, &json!({ "group": { "name": "web" } }))
        .await;
    let exec = app.wait_finished(ADMIN, &exec).await;
    assert_eq!(exec["status"], "failed", "{exec:#}");
    let read = step(&exec, "read");
    assert_eq!(read["status"], "failed");
    let error = read["error"].as_str().unwrap();
    assert!(error.contains("start.output.group.nmae"), "{error}");
    assert!(error.contains("has no key `nmae`"), "{error}");
    let exec_error = exec["error"].as_str().unwrap();
    assert!(
        exec_error.contains("read") && exec_error.contains("nmae"),
        "{exec_error}"
    );
    assert!(!ran(&exec, "never"), "{exec:#}");

    // An index past the end, and a key into something that is not an object.
    for (payload, expected) in [
        (json!({ "group": { "nmae": [] } }), None),
        (
            json!({ "group": "flat" }),
            Some("is a string, not an object"),
        ),
        (json!({}), Some("has no key `group`")),
    ] {
        let exec = app.run_manual(ADMIN, &id, &payload).await;
        let exec = app.wait_finished(ADMIN, &exec).await;
        match expected {
            None => assert_eq!(exec["status"], "succeeded", "{exec:#}"),
            Some(words) => {
                assert_eq!(exec["status"], "failed", "{exec:#}");
                let error = step(&exec, "read")["error"].as_str().unwrap().to_string();
                assert!(error.contains(words), "{error}");
                assert!(error.contains("{{ start.output.group.nmae }}"), "{error}");
            }
        }
    }
}

#[tokio::test]
async fn an_index_past_the_end_is_named() {
    let app = spawn_app().await;
    let yaml = "name: idx\ndescription: d\nnodes:\n  - { id: start, type: trigger.manual }\n  - { id: pick, type: core.transform, params: { value: 'third is {{ start.output.items[2] }}' } }\nedges:\n  - { from: start, to: pick }\n";
    let id = app.workflow_id(ADMIN, yaml).await;
    let exec = app
        .run_manual(ADMIN, &id, &json!({ "items": [1, 2] }))
        .await;
    let exec = app.wait_finished(ADMIN, &exec).await;
    assert_eq!(exec["status"], "failed");
    let error = step(&exec, "pick")["error"].as_str().unwrap().to_string();
    assert!(error.contains("start.output.items[2]"), "{error}");
    assert!(
        error.contains("has 2 items, so there is no index 2"),
        "{error}"
    );
}
