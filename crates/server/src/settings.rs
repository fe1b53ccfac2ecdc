//! Server settings (spec §8): defaults, an optional TOML file, then `FLOWGATE_*` environment
//! variables (and command-line flags, which the CLI maps onto the same fields) on top.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub admin_token: Option<String>,
    pub master_key: Option<String>,
    pub retention_days: Option<u32>,
    pub webhook_max_body: Option<usize>,
    pub allow_private_networks: Option<bool>,
    pub slack_client_id: Option<String>,
    pub slack_client_secret: Option<String>,
    pub slack_signing_secret: Option<String>,
    pub slack_oauth_base_url: Option<String>,
    pub sns_endpoint: Option<String>,
    pub log_json: Option<bool>,
    /// Seconds a claim on an execution lasts without a heartbeat (PostgreSQL takeover time).
    pub lease_seconds: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

macro_rules! env_overlay {
    ($settings:ident, $( $field:ident => $var:literal : $kind:ident ),+ $(,)?) => {
        $(
            if let Ok(v) = std::env::var($var) {
                if !v.is_empty() {
                    $settings.$field = Some(env_overlay!(@parse $kind, $var, v));
                }
            }
        )+
    };
    (@parse string, $var:literal, $v:ident) => { $v };
    (@parse path, $var:literal, $v:ident) => { PathBuf::from($v) };
    (@parse parsed, $var:literal, $v:ident) => {
        $v.parse().map_err(|_| SettingsError(format!("{} has an invalid value `{}`", $var, $v)))?
    };
    (@parse bool, $var:literal, $v:ident) => {
        match $v.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => return Err(SettingsError(format!("{} must be true or false, not `{}`", $var, $v))),
        }
    };
}

impl Settings {
    /// Reads the optional TOML file, then applies the environment.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, SettingsError> {
        let mut s = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    SettingsError(format!("cannot read config file {}: {e}", path.display()))
                })?;
                toml::from_str(&text)
                    .map_err(|e| SettingsError(format!("config file {}: {e}", path.display())))?
            }
            None => Settings::default(),
        };
        env_overlay!(s,
            listen => "FLOWGATE_LISTEN": string,
            data_dir => "FLOWGATE_DATA_DIR": path,
            database_url => "FLOWGATE_DATABASE_URL": string,
            public_url => "FLOWGATE_PUBLIC_URL": string,
            admin_token => "FLOWGATE_ADMIN_TOKEN": string,
            master_key => "FLOWGATE_MASTER_KEY": string,
            retention_days => "FLOWGATE_RETENTION_DAYS": parsed,
            webhook_max_body => "FLOWGATE_WEBHOOK_MAX_BODY": parsed,
            allow_private_networks => "FLOWGATE_ALLOW_PRIVATE_NETWORKS": bool,
            slack_client_id => "FLOWGATE_SLACK_CLIENT_ID": string,
            slack_client_secret => "FLOWGATE_SLACK_CLIENT_SECRET": string,
            slack_signing_secret => "FLOWGATE_SLACK_SIGNING_SECRET": string,
            slack_oauth_base_url => "FLOWGATE_SLACK_OAUTH_BASE_URL": string,
            sns_endpoint => "FLOWGATE_SNS_ENDPOINT": string,
            log_json => "FLOWGATE_LOG_JSON": bool,
            lease_seconds => "FLOWGATE_LEASE_SECONDS": parsed,
        );
        Ok(s)
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, SettingsError> {
        let text = self.listen.as_deref().unwrap_or("127.0.0.1:8080");
        text.parse().map_err(|_| {
            SettingsError(format!(
                "FLOWGATE_LISTEN must be address:port, e.g. 127.0.0.1:8080, not `{text}`"
            ))
        })
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("flowgate-data"))
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!("sqlite://{}", self.data_dir().join("flowgate.db").display())
        })
    }

    pub fn is_sqlite(&self) -> bool {
        !self.database_url().starts_with("postgres")
    }

    /// The externally visible base URL, without a trailing slash.
    pub fn public_url(&self, listen: SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_string()
    }

    pub fn retention_days(&self) -> u32 {
        self.retention_days.unwrap_or(30)
    }

    pub fn webhook_max_body(&self) -> usize {
        self.webhook_max_body.unwrap_or(1024 * 1024)
    }

    pub fn slack_oauth_base_url(&self) -> String {
        self.slack_oauth_base_url
            .clone()
            .unwrap_or_else(|| "https://slack.com".into())
            .trim_end_matches('/')
            .to_string()
    }
}
