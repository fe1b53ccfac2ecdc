//! `flowgate keys rotate` on the real binary: serve → create a Spot integration → stop → rotate →
//! serve again, and the integration still reaches Spot with its token while the old key no longer
//! opens the database; both with the generated key file and with `FLOWGATE_MASTER_KEY`.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use flowgate_standins::spot::SpotStandin;

const ADMIN: &str = "keys-test-admin-token";
const SPOT_TOKEN: &str = "spot-rotate-token-5e6f7a8b9c";
const KEY_1: &str = "q83vEjV1Plq3j9qLO8DTnOb2n3c5Vq4J0V0eX1yqVJ4=";
const KEY_2: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// `flowgate <args>` on `dir`, with `FLOWGATE_MASTER_KEY` when given and nothing inherited.
fn flowgate(dir: &Path, master_key: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowgate"));
    cmd.args(args)
        .env_remove("FLOWGATE_DATABASE_URL")
        .env_remove("FLOWGATE_MASTER_KEY")
        .env("FLOWGATE_DATA_DIR", dir)
        .env("FLOWGATE_ADMIN_TOKEN", ADMIN)
        .env("FLOWGATE_LOG", "warn");
    if let Some(key) = master_key {
        cmd.env("FLOWGATE_MASTER_KEY", key);
    }
    cmd
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Stops the server the way an operator does (SIGTERM) and waits for it to exit.
    fn stop(mut self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "flowgate did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

async fn serve(dir: &Path, master_key: Option<&str>) -> Server {
    let port = common::free_port();
    let child = flowgate(dir, master_key, &["serve"])
        .env("FLOWGATE_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start flowgate serve");
    let mut server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("flowgate serve exited early: {status}");
        }
        let ready = http.get(format!("{}/readyz", server.base)).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return server;
        }
        assert!(Instant::now() < deadline, "flowgate did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts `flowgate serve` expecting it to refuse to start; returns what it printed.
fn serve_refused(dir: &Path, master_key: Option<&str>) -> String {
    let mut child = flowgate(dir, master_key, &["serve"])
        .env(
            "FLOWGATE_LISTEN",
            format!("127.0.0.1:{}", common::free_port()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flowgate serve");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("flowgate started with a key that does not open its database");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn rotate(dir: &Path, master_key: Option<&str>, args: &[&str]) -> Output {
    let mut all = vec!["keys", "rotate"];
    all.extend_from_slice(args);
    flowgate(dir, master_key, &all)
        .output()
        .expect("run keys rotate")
}

async fn create_integration(server: &Server, spot: &SpotStandin) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/integrations", server.base))
        .bearer_auth(ADMIN)
        .json(
            &json!({ "type": "spot", "alias": "spot", "config": { "base_url": spot.base_url() },
                       "secrets": { "token": SPOT_TOKEN } }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

/// The integration works: its secrets open and Spot accepts the token they hold.
async fn assert_integration_works(server: &Server, spot: &SpotStandin) {
    let before = spot.requests().len();
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/integrations/spot/accounts", server.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["accountId"], "act-29ddd123");
    let requests = spot.requests();
    assert_eq!(requests.len(), before + 1);
    assert!(requests[before].authorized, "the token survived rotation");
}

async fn standin() -> SpotStandin {
    let spot = SpotStandin::start(SPOT_TOKEN).await;
    spot.add_account("act-29ddd123", "SpotAccountname");
    spot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_key_file_keeps_integrations_and_retires_the_old_key() {
    let spot = standin().await;
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), None).await;
    create_integration(&server, &spot).await;
    assert_integration_works(&server, &spot).await;
    server.stop();

    let key_file = dir.path().join("master.key");
    let old_key = std::fs::read_to_string(&key_file).unwrap();

    // A wrong current key refuses to rotate and changes nothing.
    let out = rotate(dir.path(), Some(KEY_2), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("master key"), "{err}");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), old_key);

    let out = rotate(dir.path(), None, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("re-encrypted 1 integration"), "{stdout}");
    let new_key = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(new_key.trim(), old_key.trim());
    assert!(
        !stdout.contains(new_key.trim()),
        "a key in a file is not printed"
    );
    assert!(!dir.path().join("master.key.new").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the new key file is private");
    }

    let server = serve(dir.path(), None).await;
    assert_integration_works(&server, &spot).await;
    server.stop();

    let err = serve_refused(dir.path(), Some(old_key.trim()));
    assert!(err.contains("master key does not open"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_an_environment_key_prints_the_new_one_and_retires_the_old() {
    let spot = standin().await;
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), Some(KEY_1)).await;
    create_integration(&server, &spot).await;
    server.stop();
    assert!(!dir.path().join("master.key").exists());

    let out = rotate(dir.path(), Some(KEY_1), &["--new-key", KEY_2]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("FLOWGATE_MASTER_KEY") && stdout.contains(KEY_2),
        "{stdout}"
    );
    assert!(
        !dir.path().join("master.key").exists(),
        "no key file appears"
    );

    let server = serve(dir.path(), Some(KEY_2)).await;
    assert_integration_works(&server, &spot).await;
    server.stop();
    let err = serve_refused(dir.path(), Some(KEY_1));
    assert!(err.contains("master key does not open"), "{err}");

    // The database file holds no plaintext token under either key.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(SPOT_TOKEN));
    }
}
