//! Start-up: open the store, check the master key, bootstrap the default organization and admin
//! token, start the engine and the background tasks, and build the router.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use flowgate_engine::{Engine, EngineConfig};
use flowgate_model::Templates;
use flowgate_nodes::{Clock, Registry, Services, SystemClock};
use flowgate_store::{Backend, Store};

use crate::auth::{hash_secret, new_secret};
use crate::connectors::VaultIntegrations;
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::state::AppState;
use crate::vault::Vault;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

/// What tests and the CLI can adjust beyond settings.
pub struct Options {
    pub clock: Arc<dyn Clock>,
    pub engine: EngineConfig,
    /// Print a generated bootstrap token to stdout (the CLI does; tests read it from here).
    pub print_token: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            engine: EngineConfig::default(),
            print_token: true,
        }
    }
}

/// A running server.
pub struct Running {
    pub state: AppState,
    pub addr: std::net::SocketAddr,
    /// The bootstrap admin token when it was generated on this start.
    pub generated_token: Option<String>,
    pub shutdown: tokio::sync::watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<()>,
}

pub async fn open_store(settings: &Settings) -> Result<(Store, bool), StartError> {
    let url = settings.database_url();
    let mut is_new = false;
    if settings.is_sqlite() {
        let dir = settings.data_dir();
        std::fs::create_dir_all(&dir).map_err(|e| {
            StartError(format!(
                "cannot create the data directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = url
            .trim_start_matches("sqlite://")
            .split('?')
            .next()
            .unwrap_or("")
            .to_string();
        is_new = !std::path::Path::new(&path).exists();
    }
    let store = Store::open(&url)
        .await
        .map_err(|e| StartError(format!("cannot open the database: {e}")))?;
    Ok((store, is_new))
}

/// Loads the master key and checks it against the database; a wrong key stops start-up.
pub async fn open_vault(
    settings: &Settings,
    store: &Store,
    database_is_new: bool,
) -> Result<Vault, StartError> {
    let canary = store
        .kv_get("vault", "canary")
        .await
        .map_err(|e| StartError(e.to_string()))?;
    let (key, _) = Vault::load_key(
        settings.master_key.as_deref(),
        &settings.data_dir(),
        database_is_new || canary.is_none(),
    )
    .map_err(|e| StartError(e.to_string()))?;
    let vault = Vault::from_key(&key);
    match canary {
        Some((_, sealed)) if !vault.check_canary(&sealed) => Err(StartError(
            "the master key does not open this database's secrets: set FLOWGATE_MASTER_KEY (or the data directory's master.key) to the key it was created with".into(),
        )),
        Some(_) => Ok(vault),
        None => {
            store.kv_insert("", "vault", "canary", &vault.canary(), None).await.map_err(|e| StartError(e.to_string()))?;
            Ok(vault)
        }
    }
}

pub async fn start(
    settings: Settings,
    listener: Option<TcpListener>,
    options: Options,
) -> Result<Running, StartError> {
    let listener = match listener {
        Some(l) => l,
        None => {
            let addr = settings.listen_addr().map_err(|e| StartError(e.0))?;
            TcpListener::bind(addr)
                .await
                .map_err(|e| StartError(format!("cannot listen on {addr}: {e}")))?
        }
    };
    let addr = listener
        .local_addr()
        .map_err(|e| StartError(e.to_string()))?;
    let (store, is_new) = open_store(&settings).await?;
    let vault = Arc::new(open_vault(&settings, &store, is_new).await?);
    if store.backend() == Backend::Sqlite {
        // One process owns a SQLite database: whatever a previous process held is ours now.
        store
            .release_all_leases()
            .await
            .map_err(|e| StartError(e.to_string()))?;
    }

    let default_org = store
        .ensure_org("default")
        .await
        .map_err(|e| StartError(e.to_string()))?;
    let mut generated_token = None;
    match settings.admin_token.as_deref() {
        Some(token) => store
            .ensure_bootstrap_token(&default_org.id, &hash_secret(token))
            .await
            .map_err(|e| StartError(e.to_string()))?,
        None if store
            .count_tokens()
            .await
            .map_err(|e| StartError(e.to_string()))?
            == 0 =>
        {
            let token = new_secret("fgt_");
            store
                .ensure_bootstrap_token(&default_org.id, &hash_secret(&token))
                .await
                .map_err(|e| StartError(e.to_string()))?;
            if options.print_token {
                println!("Flowgate bootstrap admin token (shown once, keep it): {token}");
            }
            generated_token = Some(token);
        }
        None => {}
    }

    let http = reqwest::Client::builder()
        .user_agent(concat!("Flowgate/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| StartError(e.to_string()))?;
    let public_url = settings.public_url(addr);
    let services = Arc::new(Services {
        http: http.clone(),
        integrations: Arc::new(VaultIntegrations {
            store: store.clone(),
            vault: vault.clone(),
        }),
        clock: options.clock.clone(),
        public_url: public_url.clone(),
        allow_private_networks: settings.allow_private_networks.unwrap_or(false),
    });
    let mut engine_config = options.engine;
    if let Some(secs) = settings.lease_seconds {
        engine_config.lease = Duration::from_secs(secs.max(1));
    }
    let registry = Arc::new(Registry::builtin());
    let templates = Arc::new(Templates::new());
    let metrics = Arc::new(Metrics::new());
    let engine = Arc::new(
        Engine::new(
            store.clone(),
            registry.clone(),
            templates.clone(),
            services,
            engine_config,
        )
        .with_observer(metrics.clone()),
    );

    let state = AppState {
        settings: Arc::new(settings.clone()),
        store: store.clone(),
        engine: engine.clone(),
        registry,
        templates,
        vault,
        metrics,
        http: http.clone(),
        public_url,
        default_org_id: default_org.id,
        sns_certs: Arc::new(flowgate_nodes::sns::CertCache::new(
            http.clone(),
            settings.sns_endpoint.clone(),
        )),
    };
    let (shutdown, mut rx) = tokio::sync::watch::channel(false);
    let mut engine_rx = rx.clone();
    tokio::spawn(engine.run(async move {
        let _ = engine_rx.wait_for(|v| *v).await;
    }));
    let retention = tokio::spawn(crate::retention::run(
        store,
        settings.retention_days(),
        Duration::from_secs(3600),
    ));
    let scheduler = tokio::spawn(crate::schedules::run(state.clone(), Duration::from_secs(1)));
    let app = router(state.clone());
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = rx.wait_for(|v| *v).await;
        });
        if let Err(e) = served.await {
            tracing::error!(error = %e, "server stopped");
        }
        retention.abort();
        scheduler.abort();
    });
    tracing::info!(%addr, "Flowgate is listening");
    Ok(Running {
        state,
        addr,
        generated_token,
        shutdown,
        task,
    })
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .nest(
            "/api/v1",
            crate::api::router()
                .route("/openapi.json", get(crate::ops::openapi))
                .route("/integrations/slack/install", post(crate::slack::install)),
        )
        .route("/webhooks/{id}", post(crate::webhook::receive))
        .route("/slack/interactions", post(crate::slack::interactions))
        .route("/slack/oauth/callback", get(crate::slack::oauth_callback))
        .route("/healthz", get(crate::ops::healthz))
        .route("/readyz", get(crate::ops::readyz))
        .route("/metrics", get(crate::ops::metrics))
        .method_not_allowed_fallback(crate::error::method_not_allowed)
        .fallback(crate::console::serve)
        .with_state(state)
}
