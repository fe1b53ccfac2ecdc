//! A minimal HTTP/1.1 keep-alive client over hyper's connection API: one connection per load task
//! and no pool, so the load generator costs little CPU next to the server it measures.

use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{header, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where a server listens: a loopback socket address.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    host: String,
}

impl Target {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            host: addr.to_string(),
        }
    }

    /// Parses `http://host:port[/]`; only loopback addresses are accepted.
    pub async fn from_url(url: &str) -> Result<Self> {
        let rest = url.strip_prefix("http://").context(
            "--url must start with http:// (the benchmark speaks plain HTTP on loopback)",
        )?;
        let hostport = rest.trim_end_matches('/');
        if hostport.contains('/') {
            bail!("--url must be a base URL such as http://127.0.0.1:8080, without a path");
        }
        let hostport = if hostport.contains(':') {
            hostport.to_string()
        } else {
            format!("{hostport}:80")
        };
        let addr = tokio::net::lookup_host(&hostport)
            .await
            .with_context(|| format!("cannot resolve {hostport}"))?
            .find(|a| a.ip().is_loopback())
            .with_context(|| {
                format!("{hostport} is not a loopback address; the benchmark only runs on loopback")
            })?;
        Ok(Self::new(addr))
    }
}

/// One keep-alive connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    pub async fn connect(target: &Target) -> Result<Self> {
        let stream = TcpStream::connect(target.addr)
            .await
            .with_context(|| format!("cannot connect to {}", target.addr))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            sender,
            host: target.host.clone(),
        })
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<(StatusCode, Bytes)> {
        self.sender.ready().await?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self.sender.send_request(req.body(Full::new(body))?).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// The management API, one short-lived connection per call (set-up and polling only).
#[derive(Clone)]
pub struct Api {
    pub target: Target,
    pub token: String,
}

impl Api {
    async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes)> {
        let mut conn = Conn::connect(&self.target).await?;
        let auth = format!("Bearer {}", self.token);
        conn.send(
            method,
            path,
            &[("authorization", &auth), ("content-type", content_type)],
            body,
        )
        .await
    }

    /// A JSON answer with a 2xx status, or an error naming the call.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<Bytes>,
    ) -> Result<serde_json::Value> {
        let (status, bytes) = self
            .call(method.clone(), path, content_type, body.into())
            .await?;
        if !status.is_success() {
            bail!(
                "{method} {path} answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        serde_json::from_slice(&bytes).with_context(|| format!("{method} {path}: not JSON"))
    }

    pub async fn get(&self, path: &str) -> Result<serde_json::Value> {
        self.json(Method::GET, path, "application/json", Bytes::new())
            .await
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> Result<String> {
        let (status, bytes) = self
            .call(Method::GET, "/metrics", "text/plain", Bytes::new())
            .await?;
        if !status.is_success() {
            bail!("GET /metrics answered {status}");
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}
