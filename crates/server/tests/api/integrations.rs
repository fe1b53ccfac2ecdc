//! Integrations through the API: CRUD per organization for `spot`, `slack` and `http`, secrets that
//! are never read back, checked with the service when saved, sealed at rest and bound to their
//! record, and a master key that must match the database before the server starts.

use reqwest::Method;
use serde_json::{json, Value};
use sqlx::Row;

use flowgate_server::Settings;
use flowgate_standins::slack::{SlackStandin, BOT_TOKEN, SIGNING_SECRET};
use flowgate_standins::spot::SpotStandin;

use crate::helpers::{spawn_app, spawn_app_with, TestApp, ADMIN};

pub const SPOT_TOKEN: &str = "spot-token-4f9a1c7e2b8d6f03";
const HTTP_TOKEN: &str = "http-bearer-7d1e93ab55c0";
const HTTP_PASSWORD: &str = "basic-password-19c4e2f7";
const HTTP_HEADER_VALUE: &str = "header-value-a83b61d0e5";
const KEY_A: &str = "q83vEjV1Plq3j9qLO8DTnOb2n3c5Vq4J0V0eX1yqVJ4=";
const KEY_B: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A Spot stand-in accepting [`SPOT_TOKEN`] with two accounts.
pub async fn spot_standin() -> SpotStandin {
    let spot = SpotStandin::start(SPOT_TOKEN).await;
    spot.add_account("act-29ddd123", "SpotAccountname");
    spot.add_account("act-0bb11aa2", "staging");
    spot
}

pub fn spot_body(alias: &str, spot: &SpotStandin, token: &str) -> Value {
    json!({ "type": "spot", "alias": alias, "config": { "base_url": spot.base_url() }, "secrets": { "token": token } })
}

fn slack_body(alias: &str, slack: &SlackStandin) -> Value {
    json!({ "type": "slack", "alias": alias, "config": { "base_url": slack.api_url() },
            "secrets": { "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET } })
}

/// Stand-ins for Spot and Slack, and integrations `spot` and `slack` pointing at them.
async fn add_spot_and_slack(app: &TestApp) -> (SpotStandin, SlackStandin) {
    let spot = spot_standin().await;
    let slack = SlackStandin::start().await;
    app.post(
        ADMIN,
        "/api/v1/integrations",
        &spot_body("spot", &spot, SPOT_TOKEN),
    )
    .await
    .expect(201);
    app.post(ADMIN, "/api/v1/integrations", &slack_body("slack", &slack))
        .await
        .expect(201);
    (spot, slack)
}

/// Every secret value the tests in this file store.
const SECRETS: &[&str] = &[
    SPOT_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    HTTP_TOKEN,
    HTTP_PASSWORD,
    HTTP_HEADER_VALUE,
];

#[track_caller]
fn assert_no_secret(text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "secret `{s}` leaked in: {text}");
    }
}

fn names(v: &Value) -> Vec<&str> {
    v["secret_names"]
        .as_array()
        .unwrap_or_else(|| panic!("no secret_names in {v}"))
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect()
}

/// The raw `integrations.secrets` column of one integration, as stored.
pub async fn raw_secrets(app: &TestApp, alias: &str) -> String {
    sqlx::query("SELECT secrets FROM integrations WHERE alias = $1")
        .bind(alias)
        .fetch_one(app.store().pool())
        .await
        .expect("the integration row")
        .try_get::<String, _>("secrets")
        .unwrap()
}

#[tokio::test]
async fn spot_slack_and_http_integrations_are_created_read_updated_and_deleted_without_secrets() {
    let app = spawn_app().await;
    let spot = spot_standin().await;
    let slack = SlackStandin::start().await;

    let r = app
        .post(
            ADMIN,
            "/api/v1/integrations",
            &spot_body("spot", &spot, SPOT_TOKEN),
        )
        .await;
    let created = r.expect(201);
    assert_eq!(created["type"], "spot");
    assert_eq!(created["alias"], "spot");
    assert_eq!(names(created), ["token"]);
    assert_eq!(created["config"]["base_url"], spot.base_url());
    assert_no_secret(&String::from_utf8_lossy(&r.bytes));
    assert_eq!(
        spot.count("GET", "/setup/account"),
        1,
        "the token is checked"
    );

    let r = app
        .post(ADMIN, "/api/v1/integrations", &slack_body("slack", &slack))
        .await;
    assert_eq!(names(r.expect(201)), ["bot_token", "signing_secret"]);
    assert_no_secret(&String::from_utf8_lossy(&r.bytes));
    assert_eq!(slack.calls("auth.test"), 1, "the bot token is checked");

    let http = [
        (
            "http-bearer",
            json!({ "auth": "bearer" }),
            json!({ "token": HTTP_TOKEN }),
            vec!["token"],
        ),
        (
            "http-basic",
            json!({ "auth": "basic" }),
            json!({ "username": "ops", "password": HTTP_PASSWORD }),
            vec!["password", "username"],
        ),
        (
            "http-header",
            json!({ "auth": "header", "header_name": "X-Api-Token" }),
            json!({ "value": HTTP_HEADER_VALUE }),
            vec!["value"],
        ),
    ];
    for (alias, config, secrets, expected) in &http {
        let body = json!({ "type": "http", "alias": alias, "config": config, "secrets": secrets });
        let r = app.post(ADMIN, "/api/v1/integrations", &body).await;
        assert_eq!(names(r.expect(201)), *expected, "{alias}");
        assert_no_secret(&String::from_utf8_lossy(&r.bytes));
    }

    // The same alias twice is a conflict, and changes nothing.
    app.post(
        ADMIN,
        "/api/v1/integrations",
        &spot_body("spot", &spot, "another-token"),
    )
    .await
    .expect_error(409, "conflict");

    let r = app.get(ADMIN, "/api/v1/integrations").await;
    let list = r.expect(200);
    let aliases: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["alias"].as_str().unwrap())
        .collect();
    assert_eq!(
        aliases,
        ["http-basic", "http-bearer", "http-header", "slack", "spot"]
    );
    assert_no_secret(&String::from_utf8_lossy(&r.bytes));
    for item in list["items"].as_array().unwrap() {
        assert!(item.get("secrets").is_none(), "{item}");
    }

    for alias in ["spot", "slack", "http-bearer", "http-basic", "http-header"] {
        let r = app
            .get(ADMIN, &format!("/api/v1/integrations/{alias}"))
            .await;
        assert_eq!(r.expect(200)["alias"], alias);
        assert!(r.body.get("secrets").is_none());
        assert_no_secret(&String::from_utf8_lossy(&r.bytes));
    }

    // PUT without secrets keeps the stored ones; the token is checked again.
    let r = app
        .json(
            Method::PUT,
            ADMIN,
            "/api/v1/integrations/spot",
            &json!({ "type": "spot", "config": { "base_url": spot.base_url(), "default_account_id": "act-0bb11aa2" } }),
        )
        .await;
    let updated = r.expect(200);
    assert_eq!(updated["config"]["default_account_id"], "act-0bb11aa2");
    assert_eq!(names(updated), ["token"]);
    assert_no_secret(&String::from_utf8_lossy(&r.bytes));
    assert_eq!(spot.count("GET", "/setup/account"), 2);
    let requests = spot.requests();
    assert!(
        requests.iter().all(|r| r.authorized),
        "the kept token is the stored one"
    );

    // Changing the alias through PUT is refused.
    app.json(
        Method::PUT,
        ADMIN,
        "/api/v1/integrations/http-bearer",
        &json!({ "type": "http", "alias": "renamed", "config": { "auth": "bearer" } }),
    )
    .await
    .expect_error(422, "invalid");

    app.delete(ADMIN, "/api/v1/integrations/http-basic")
        .await
        .expect(204);
    app.get(ADMIN, "/api/v1/integrations/http-basic")
        .await
        .expect_error(404, "not_found");
    app.delete(ADMIN, "/api/v1/integrations/http-basic")
        .await
        .expect_error(404, "not_found");
    assert_eq!(app.count("integrations").await, 4);
}

#[tokio::test]
async fn incomplete_integrations_are_refused_with_every_problem_and_store_nothing() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({ "type": "http", "alias": "h1", "config": {} }),
            "config.auth",
        ),
        (
            json!({ "type": "http", "alias": "h2", "config": { "auth": "oauth" }, "secrets": { "token": "x" } }),
            "config.auth",
        ),
        (
            json!({ "type": "http", "alias": "h3", "config": { "auth": "bearer" } }),
            "secrets.token",
        ),
        (
            json!({ "type": "http", "alias": "h4", "config": { "auth": "bearer" }, "secrets": { "token": "  " } }),
            "secrets.token",
        ),
        (
            json!({ "type": "http", "alias": "h5", "config": { "auth": "basic" }, "secrets": { "username": "ops" } }),
            "secrets.password",
        ),
        (
            json!({ "type": "http", "alias": "h6", "config": { "auth": "header" }, "secrets": { "value": "v" } }),
            "config.header_name",
        ),
        (
            json!({ "type": "http", "alias": "h7", "config": { "auth": "header", "header_name": "X-K" } }),
            "secrets.value",
        ),
        (
            json!({ "type": "http", "alias": "h8", "config": { "auth": "bearer", "base_url": "ftp://x" }, "secrets": { "token": "t0k3n" } }),
            "config.base_url",
        ),
        (
            json!({ "type": "spot", "alias": "s1", "config": {} }),
            "secrets.token",
        ),
        (
            json!({ "type": "slack", "alias": "k1", "secrets": { "bot_token": "xoxb-1" } }),
            "secrets.signing_secret",
        ),
        (
            json!({ "type": "pagerduty", "alias": "p1", "secrets": { "token": "t" } }),
            "type",
        ),
        (
            json!({ "type": "http", "config": { "auth": "bearer" }, "secrets": { "token": "t0k3n" } }),
            "alias",
        ),
    ];
    for (body, path) in &cases {
        let r = app.post(ADMIN, "/api/v1/integrations", body).await;
        r.expect_error(422, "invalid");
        assert!(
            r.detail_paths().iter().any(|p| p == path),
            "{body}: {}",
            r.error_text()
        );
    }
    // Both missing basic secrets are named at once.
    let r = app
        .post(
            ADMIN,
            "/api/v1/integrations",
            &json!({ "type": "http", "alias": "h9", "config": { "auth": "basic" } }),
        )
        .await;
    r.expect_error(422, "invalid");
    assert_eq!(r.detail_paths(), ["secrets.username", "secrets.password"]);
    assert_eq!(app.count("integrations").await, 0);

    // A PUT that leaves the integration incomplete is refused too and keeps the old one.
    app.post(ADMIN, "/api/v1/integrations", &json!({ "type": "http", "alias": "h", "config": { "auth": "bearer" }, "secrets": { "token": HTTP_TOKEN } }))
        .await
        .expect(201);
    let r = app
        .json(
            Method::PUT,
            ADMIN,
            "/api/v1/integrations/h",
            &json!({ "type": "http", "config": { "auth": "basic" } }),
        )
        .await;
    r.expect_error(422, "invalid");
    let kept = app.get(ADMIN, "/api/v1/integrations/h").await;
    assert_eq!(kept.expect(200)["config"]["auth"], "bearer");
}

#[tokio::test]
async fn a_bad_token_is_refused_when_saved_and_nothing_is_stored() {
    let app = spawn_app().await;
    let spot = spot_standin().await;
    let slack = SlackStandin::start().await;

    let r = app
        .post(
            ADMIN,
            "/api/v1/integrations",
            &spot_body("spot", &spot, "not-the-token-1234"),
        )
        .await;
    r.expect_error(422, "invalid");
    let text = r.error_text();
    assert!(text.contains("Spot refused the credentials"), "{text}");
    assert!(text.contains("401"), "the status is named: {text}");
    assert!(r.detail_paths().contains(&"secrets".to_string()), "{text}");
    assert!(!String::from_utf8_lossy(&r.bytes).contains("not-the-token-1234"));
    assert_eq!(app.count("integrations").await, 0, "nothing stored");
    assert_eq!(spot.count("GET", "/setup/account"), 1);
    assert!(!spot.requests()[0].authorized);

    let mut body = slack_body("slack", &slack);
    body["secrets"]["bot_token"] = json!("xoxb-wrong-0000");
    let r = app.post(ADMIN, "/api/v1/integrations", &body).await;
    r.expect_error(422, "invalid");
    assert!(
        r.error_text().contains("Slack refused the credentials"),
        "{}",
        r.error_text()
    );
    assert!(
        r.error_text().contains("invalid_auth"),
        "{}",
        r.error_text()
    );
    assert_eq!(app.count("integrations").await, 0, "nothing stored");

    // An unreachable service is refused too.
    let r = app
        .post(ADMIN, "/api/v1/integrations", &json!({ "type": "spot", "alias": "gone", "config": { "base_url": "http://127.0.0.1:9" }, "secrets": { "token": SPOT_TOKEN } }))
        .await;
    r.expect_error(422, "invalid");
    assert_eq!(app.count("integrations").await, 0);

    // A good token is saved; updating it to a bad one is refused and keeps the good one.
    app.post(
        ADMIN,
        "/api/v1/integrations",
        &spot_body("spot", &spot, SPOT_TOKEN),
    )
    .await
    .expect(201);
    let sealed = raw_secrets(&app, "spot").await;
    app.json(
        Method::PUT,
        ADMIN,
        "/api/v1/integrations/spot",
        &spot_body("spot", &spot, "still-wrong-5678"),
    )
    .await
    .expect_error(422, "invalid");
    assert_eq!(
        raw_secrets(&app, "spot").await,
        sealed,
        "the stored token is untouched"
    );
    let accounts = app.get(ADMIN, "/api/v1/integrations/spot/accounts").await;
    accounts.expect(200);
}

#[tokio::test]
async fn accounts_lists_the_tokens_spot_accounts() {
    let app = spawn_app().await;
    let (spot, _slack) = add_spot_and_slack(&app).await;

    let r = app.get(ADMIN, "/api/v1/integrations/spot/accounts").await;
    let items = r.expect(200)["items"].as_array().unwrap().clone();
    let ids: Vec<&str> = items
        .iter()
        .map(|a| a["accountId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["act-29ddd123", "act-0bb11aa2"]);
    assert_eq!(items[0]["name"], "SpotAccountname");
    assert_no_secret(&String::from_utf8_lossy(&r.bytes));
    let last = spot.requests().pop().unwrap();
    assert_eq!(last.path, "/setup/account");
    assert!(
        last.authorized && !last.query.contains_key("accountId"),
        "{last:?}"
    );

    // Only for `spot` integrations, and only existing ones.
    app.get(ADMIN, "/api/v1/integrations/slack/accounts")
        .await
        .expect_error(422, "invalid");
    app.get(ADMIN, "/api/v1/integrations/nope/accounts")
        .await
        .expect_error(404, "not_found");
    let viewer = app.create_token(ADMIN, "viewer", "viewer").await;
    app.get(&viewer, "/api/v1/integrations/spot/accounts")
        .await
        .expect(200);
    // Viewers read but do not write.
    app.post(
        &viewer,
        "/api/v1/integrations",
        &spot_body("v", &spot, SPOT_TOKEN),
    )
    .await
    .expect_error(403, "forbidden");
    app.delete(&viewer, "/api/v1/integrations/spot")
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn another_organization_cannot_see_change_or_delete_an_integration() {
    let app = spawn_app().await;
    let spot = spot_standin().await;
    let (_, other) = app.create_org("other").await;
    app.post(
        ADMIN,
        "/api/v1/integrations",
        &spot_body("spot", &spot, SPOT_TOKEN),
    )
    .await
    .expect(201);
    let sealed = raw_secrets(&app, "spot").await;

    let list = app.get(&other, "/api/v1/integrations").await;
    assert_eq!(list.expect(200)["items"], json!([]));
    for path in [
        "/api/v1/integrations/spot",
        "/api/v1/integrations/spot/accounts",
    ] {
        app.get(&other, path).await.expect_error(404, "not_found");
    }
    app.json(
        Method::PUT,
        &other,
        "/api/v1/integrations/spot",
        &spot_body("spot", &spot, SPOT_TOKEN),
    )
    .await
    .expect_error(404, "not_found");
    app.delete(&other, "/api/v1/integrations/spot")
        .await
        .expect_error(404, "not_found");
    assert_eq!(raw_secrets(&app, "spot").await, sealed, "unchanged");
    app.get(ADMIN, "/api/v1/integrations/spot")
        .await
        .expect(200);

    // The other organization may use the same alias for its own integration.
    app.post(&other, "/api/v1/integrations", &json!({ "type": "http", "alias": "spot", "config": { "auth": "bearer" }, "secrets": { "token": HTTP_TOKEN } }))
        .await
        .expect(201);
    assert_eq!(
        app.get(&other, "/api/v1/integrations/spot")
            .await
            .expect(200)["type"],
        "http"
    );
    assert_eq!(
        app.get(ADMIN, "/api/v1/integrations/spot")
            .await
            .expect(200)["type"],
        "spot"
    );
    app.delete(&other, "/api/v1/integrations/spot")
        .await
        .expect(204);
    assert_eq!(
        app.get(ADMIN, "/api/v1/integrations/spot")
            .await
            .expect(200)["type"],
        "spot"
    );
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_bound_to_their_record() {
    let app = spawn_app().await;
    let (spot, _slack) = add_spot_and_slack(&app).await;
    app.post(ADMIN, "/api/v1/integrations", &json!({ "type": "http", "alias": "basic", "config": { "auth": "basic" }, "secrets": { "username": "ops", "password": HTTP_PASSWORD } }))
        .await
        .expect(201);

    let rows = sqlx::query("SELECT alias, config, secrets FROM integrations")
        .fetch_all(app.store().pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        let sealed: String = row.try_get("secrets").unwrap();
        let config: String = row.try_get("config").unwrap();
        assert_no_secret(&sealed);
        assert_no_secret(&config);
        assert!(
            !sealed.contains("token") && !sealed.contains("password"),
            "names are sealed too: {sealed}"
        );
        assert!(sealed.len() >= 40, "nonce, ciphertext and tag: {sealed}");
    }
    // The database file itself holds no plaintext (WAL included).
    for entry in std::fs::read_dir(app.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert_no_secret(&text);
    }

    // Sealing twice gives different ciphertexts (random nonces).
    let before = raw_secrets(&app, "spot").await;
    app.json(
        Method::PUT,
        ADMIN,
        "/api/v1/integrations/spot",
        &spot_body("spot", &spot, SPOT_TOKEN),
    )
    .await
    .expect(200);
    assert_ne!(raw_secrets(&app, "spot").await, before);

    // A sealed value copied from another record does not open on this one, whether that record
    // differs by type (slack), by alias (a second spot integration with the very same token) or
    // by organization (the same alias, type and token in another organization).
    app.post(
        ADMIN,
        "/api/v1/integrations",
        &spot_body("spot-b", &spot, SPOT_TOKEN),
    )
    .await
    .expect(201);
    let (other_org, other) = app.create_org("other").await;
    app.post(
        &other,
        "/api/v1/integrations",
        &spot_body("spot", &spot, SPOT_TOKEN),
    )
    .await
    .expect(201);
    let own = sealed_of(&app, &app.running.state.default_org_id, "spot").await;
    let copies = [
        sealed_of(&app, &app.running.state.default_org_id, "slack").await,
        sealed_of(&app, &app.running.state.default_org_id, "spot-b").await,
        sealed_of(&app, &other_org, "spot").await,
    ];
    let calls = spot.count("GET", "/setup/account");
    for copy in &copies {
        set_sealed(&app, &app.running.state.default_org_id, "spot", copy).await;
        let r = app.get(ADMIN, "/api/v1/integrations/spot").await;
        r.expect(500);
        assert!(
            r.error_text().contains("could not be decrypted"),
            "{}",
            r.error_text()
        );
        assert_no_secret(&String::from_utf8_lossy(&r.bytes));
        let r = app.get(ADMIN, "/api/v1/integrations/spot/accounts").await;
        assert!(
            r.error_text().contains("could not be decrypted"),
            "{}",
            r.error_text()
        );
        assert_no_secret(&String::from_utf8_lossy(&r.bytes));
    }
    assert_eq!(
        spot.count("GET", "/setup/account"),
        calls,
        "nothing was sent to Spot"
    );

    // One unreadable record does not hide the others: the list names it and the problem.
    let r = app.get(ADMIN, "/api/v1/integrations").await;
    let items = r.expect(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 4, "{items:?}");
    let broken = items.iter().find(|i| i["alias"] == "spot").unwrap();
    assert!(
        broken["error"]
            .as_str()
            .unwrap()
            .contains("could not be decrypted"),
        "{broken}"
    );
    let fine = items.iter().find(|i| i["alias"] == "spot-b").unwrap();
    assert_eq!(fine["secret_names"], json!(["token"]));
    assert!(fine.get("error").is_none(), "{fine}");
    assert_no_secret(&String::from_utf8_lossy(&r.bytes));
    // A PUT that leaves the secrets out cannot keep what does not open...
    let r = app
        .json(
            Method::PUT,
            ADMIN,
            "/api/v1/integrations/spot",
            &json!({ "type": "spot", "config": { "base_url": spot.base_url() } }),
        )
        .await;
    assert!(
        r.error_text().contains("could not be decrypted"),
        "{}",
        r.error_text()
    );
    // ...and the record's own value still opens: the copies failed because of where they were.
    set_sealed(&app, &app.running.state.default_org_id, "spot", &own).await;
    app.get(ADMIN, "/api/v1/integrations/spot/accounts")
        .await
        .expect(200);
    // Re-entering the secrets repairs an unreadable record.
    set_sealed(&app, &app.running.state.default_org_id, "spot", &copies[1]).await;
    app.json(
        Method::PUT,
        ADMIN,
        "/api/v1/integrations/spot",
        &spot_body("spot", &spot, SPOT_TOKEN),
    )
    .await
    .expect(200);
    app.get(ADMIN, "/api/v1/integrations/spot/accounts")
        .await
        .expect(200);
    let r = app.get(ADMIN, "/api/v1/integrations").await;
    assert!(r.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i.get("error").is_none()));
}

async fn sealed_of(app: &TestApp, org_id: &str, alias: &str) -> String {
    sqlx::query("SELECT secrets FROM integrations WHERE org_id = $1 AND alias = $2")
        .bind(org_id)
        .bind(alias)
        .fetch_one(app.store().pool())
        .await
        .expect("the integration row")
        .try_get::<String, _>("secrets")
        .unwrap()
}

pub async fn set_sealed(app: &TestApp, org_id: &str, alias: &str, sealed: &str) {
    let done = sqlx::query("UPDATE integrations SET secrets = $1 WHERE org_id = $2 AND alias = $3")
        .bind(sealed)
        .bind(org_id)
        .bind(alias)
        .execute(app.store().pool())
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

/// Settings for a restart on `app`'s data directory with this master key.
fn settings_for(app: &TestApp, master_key: Option<&str>) -> Settings {
    Settings {
        admin_token: Some(ADMIN.into()),
        data_dir: Some(app.dir.path().to_path_buf()),
        database_url: app.running.state.settings.database_url.clone(),
        master_key: master_key.map(str::to_string),
        ..Default::default()
    }
}

async fn start_err(settings: Settings) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = flowgate_server::Options {
        print_token: false,
        ..Default::default()
    };
    match flowgate_server::start(settings, Some(listener), options).await {
        Ok(_) => panic!("the server started with a key that does not open its secrets"),
        Err(e) => e.to_string(),
    }
}

/// Stops serving; the data directory stays for the next start.
fn stop(app: &TestApp) {
    let _ = app.running.shutdown.send(true);
}

#[tokio::test]
async fn a_wrong_or_missing_master_key_stops_start_up_with_a_clear_message() {
    let app = spawn_app_with(|s, _| s.master_key = Some(KEY_A.into())).await;
    app.post(ADMIN, "/api/v1/integrations", &json!({ "type": "http", "alias": "h", "config": { "auth": "bearer" }, "secrets": { "token": HTTP_TOKEN } }))
        .await
        .expect(201);
    assert!(
        !app.dir.path().join("master.key").exists(),
        "the setting is used, no file"
    );
    stop(&app);

    let err = start_err(settings_for(&app, Some(KEY_B))).await;
    assert!(err.contains("master key does not open"), "{err}");
    assert!(
        !err.contains(KEY_A) && !err.contains(KEY_B),
        "keys are not printed: {err}"
    );
    let err = start_err(settings_for(&app, None)).await;
    assert!(err.contains("no master key"), "{err}");
    let err = start_err(settings_for(&app, Some("not base64!"))).await;
    assert!(err.contains("FLOWGATE_MASTER_KEY"), "{err}");
    let err = start_err(settings_for(&app, Some("c2hvcnQ="))).await;
    assert!(err.contains("32 bytes"), "{err}");

    // The right key opens it again, and the secret with it.
    let app = app
        .restart_with(|s, _| s.master_key = Some(KEY_A.into()))
        .await;
    let r = app.get(ADMIN, "/api/v1/integrations/h").await;
    assert_eq!(r.expect(200)["secret_names"], json!(["token"]));
}

#[tokio::test]
async fn a_generated_key_file_is_private_and_a_different_key_is_refused() {
    let app = spawn_app().await;
    app.post(ADMIN, "/api/v1/integrations", &json!({ "type": "http", "alias": "h", "config": { "auth": "bearer" }, "secrets": { "token": HTTP_TOKEN } }))
        .await
        .expect(201);
    let key_file = app.dir.path().join("master.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is private");
    }
    stop(&app);
    let err = start_err(settings_for(&app, Some(KEY_B))).await;
    assert!(err.contains("master key does not open"), "{err}");

    // A replaced key file is refused as well; the original one works again.
    let original = std::fs::read(&key_file).unwrap();
    std::fs::write(&key_file, KEY_B).unwrap();
    let err = start_err(settings_for(&app, None)).await;
    assert!(err.contains("master key does not open"), "{err}");
    std::fs::remove_file(&key_file).unwrap();
    let err = start_err(settings_for(&app, None)).await;
    assert!(
        err.contains("no master key") && err.contains("master.key"),
        "{err}"
    );
    assert!(
        !key_file.exists(),
        "no new key is generated for an existing database"
    );
    std::fs::write(&key_file, original).unwrap();
    let app = app.restart_with(|_, _| {}).await;
    app.get(ADMIN, "/api/v1/integrations/h").await.expect(200);
}
