//! The servers under test: real `flowgate serve` child processes on free loopback ports, each
//! with its own data directory, sharing one database URL when several run (PostgreSQL).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use tokio::process::{Child, Command};

use crate::http::{Conn, Target};

/// How to start the servers.
#[derive(Debug, Clone)]
pub struct Launch {
    pub binary: PathBuf,
    /// `None`: each process uses SQLite in its data directory.
    pub database_url: Option<String>,
    pub processes: usize,
    /// Extra `KEY=VALUE` environment for the servers.
    pub env: Vec<(String, String)>,
    pub keep_data: bool,
}

/// The `flowgate` binary next to this one (both live in the same cargo target directory).
pub fn default_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("flowgate")))
        .unwrap_or_else(|| PathBuf::from("flowgate"))
}

pub struct Server {
    pub target: Target,
    child: Child,
    pub pid: u32,
    log: PathBuf,
}

/// A set of running servers and their scratch directory; stopped and removed on `stop`.
pub struct Fleet {
    pub servers: Vec<Server>,
    pub admin_token: String,
    dir: PathBuf,
    keep_data: bool,
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn secret(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

impl Fleet {
    pub async fn start(launch: &Launch) -> Result<Self> {
        if !launch.binary.exists() {
            bail!(
                "the server binary {} does not exist; build it first with `cargo build --release -p flowgate` or pass --server-bin",
                launch.binary.display()
            );
        }
        if launch.processes > 1
            && !launch
                .database_url
                .as_deref()
                .is_some_and(|u| u.starts_with("postgres"))
        {
            bail!("several processes need a shared PostgreSQL database (--database-url postgres://...)");
        }
        let dir = std::env::temp_dir().join(format!(
            "flowgate-bench-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir)?;
        let admin_token = secret("fgt_bench_");
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        let master_key = base64::engine::general_purpose::STANDARD.encode(key);
        let mut fleet = Fleet {
            servers: Vec::new(),
            admin_token,
            dir,
            keep_data: launch.keep_data,
        };
        for i in 0..launch.processes {
            // Started one after the other: the first one runs the migrations.
            match fleet.spawn_one(launch, i, &master_key).await {
                Ok(s) => fleet.servers.push(s),
                Err(e) => {
                    fleet.stop().await;
                    return Err(e);
                }
            }
        }
        Ok(fleet)
    }

    async fn spawn_one(&self, launch: &Launch, i: usize, master_key: &str) -> Result<Server> {
        let data = self.dir.join(format!("server-{i}"));
        std::fs::create_dir_all(&data)?;
        let log = self.dir.join(format!("server-{i}.log"));
        let mut last_err = None;
        for _ in 0..5 {
            let port = free_port()?;
            let mut cmd = Command::new(&launch.binary);
            cmd.arg("serve")
                .env("FLOWGATE_LISTEN", format!("127.0.0.1:{port}"))
                .env("FLOWGATE_DATA_DIR", &data)
                .env("FLOWGATE_ADMIN_TOKEN", &self.admin_token)
                .env("FLOWGATE_MASTER_KEY", master_key)
                .env("FLOWGATE_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log)?)
                .stderr(std::fs::File::options().append(true).open(&log)?)
                .kill_on_drop(true);
            match &launch.database_url {
                Some(url) => cmd.env("FLOWGATE_DATABASE_URL", url),
                None => cmd.env_remove("FLOWGATE_DATABASE_URL"),
            };
            for (k, v) in &launch.env {
                cmd.env(k, v);
            }
            let mut child = cmd
                .spawn()
                .with_context(|| format!("cannot start {}", launch.binary.display()))?;
            let pid = child.id().context("the server exited at once")?;
            let target = Target::new(([127, 0, 0, 1], port).into());
            match wait_ready(&target, &mut child).await {
                Ok(()) => {
                    return Ok(Server {
                        target,
                        child,
                        pid,
                        log,
                    })
                }
                Err(e) => {
                    let _ = child.kill().await;
                    last_err = Some(e.context(format!("server log: {}", tail(&log))));
                }
            }
        }
        Err(last_err.expect("at least one attempt"))
    }

    pub fn targets(&self) -> Vec<Target> {
        self.servers.iter().map(|s| s.target.clone()).collect()
    }

    pub fn pids(&self) -> Vec<u32> {
        self.servers.iter().map(|s| s.pid).collect()
    }

    /// SIGTERM, a grace period, then SIGKILL; removes the scratch directory unless kept.
    pub async fn stop(&mut self) {
        for s in &self.servers {
            // SAFETY: plain syscall on a child process id we started and still own.
            unsafe {
                libc::kill(s.pid as libc::pid_t, libc::SIGTERM);
            }
        }
        for s in &mut self.servers {
            if tokio::time::timeout(Duration::from_secs(10), s.child.wait())
                .await
                .is_err()
            {
                let _ = s.child.kill().await;
            }
        }
        if self.keep_data {
            eprintln!("kept the data and logs in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    pub fn log_tail(&self) -> String {
        self.servers
            .iter()
            .map(|s| tail(&s.log))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

async fn wait_ready(target: &Target, child: &mut Child) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("the server exited during start-up ({status})");
        }
        if let Ok(mut c) = Conn::connect(target).await {
            if let Ok((s, _)) = c
                .send(hyper::Method::GET, "/readyz", &[], bytes::Bytes::new())
                .await
            {
                if s.is_success() {
                    return Ok(());
                }
            }
        }
        if Instant::now() > deadline {
            bail!("the server did not become ready within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Peak resident set size (VmHWM) of a process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    proc_status_kib(pid, "VmHWM:")
}

fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// User plus system CPU time a process has used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((utime + stime) / ticks)
}
