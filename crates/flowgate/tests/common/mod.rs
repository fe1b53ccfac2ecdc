//! Helpers shared by the tests that run the real `flowgate` binary: a free loopback port, and
//! creating an API key and a workflow through the HTTP API.
#![allow(dead_code)] // each test binary uses only some of them

use serde_json::{json, Value};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("local addr")
        .port()
}

/// Creates an API key on the server at `base` and returns its value.
pub async fn create_api_key(http: &reqwest::Client, base: &str, admin: &str, name: &str) -> String {
    let r = http
        .post(format!("{base}/api/v1/api-keys"))
        .bearer_auth(admin)
        .json(&json!({ "name": name }))
        .send()
        .await
        .expect("create the key");
    assert_eq!(r.status(), 201, "creating API key {name}");
    r.json::<Value>().await.expect("JSON")["key"]
        .as_str()
        .expect("key")
        .to_string()
}

/// Creates a workflow from a YAML document and returns its id.
pub async fn create_workflow(
    http: &reqwest::Client,
    base: &str,
    admin: &str,
    yaml: &str,
) -> String {
    let r = http
        .post(format!("{base}/api/v1/workflows"))
        .bearer_auth(admin)
        .header("content-type", "application/yaml")
        .body(yaml.to_string())
        .send()
        .await
        .expect("create the workflow");
    assert_eq!(r.status(), 201, "creating the workflow");
    r.json::<Value>().await.expect("JSON")["id"]
        .as_str()
        .expect("id")
        .to_string()
}
