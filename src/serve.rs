//! `hoptrace serve`: the screening server an exchange calls before crediting a
//! deposit. At start it loads the store, builds the graph and computes both
//! directions (and the haircut) for all seeds; after that every answer comes from
//! memory, plus an indexed SQLite lookup per evidence transfer.
//!
//! Shape: [`router`] builds the axum `Router` over the shared state; [`serve`]
//! runs it on a listener until a shutdown future resolves (tests bind port 0).
//! The data sits behind an atomic pointer ([`state::Data`]); `POST /v1/reload` or
//! SIGHUP loads the store afresh on a blocking thread and swaps it in, while
//! requests in flight finish on the data they started with.
//!
//! Safety layers (tower / tower-http): a request body limit (413), a timeout per
//! request (503), a global concurrency limit (requests beyond it wait), optional
//! bearer-token auth compared in constant time, and one span per request that
//! carries the method, the route template and the status at info level; the
//! request URI (which holds the address screened) is logged at debug level only.
//! Unknown paths get a JSON 404; no input reaches a panic or a 500.

pub mod api;
pub mod auth;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::LatencyUnit;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::analysis::setup::Options;
use auth::{Token, TokenError};
use state::{Data, LoadError};

/// Arguments of `hoptrace serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0 picks a free one; the address is
    /// printed on stdout once listening).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Require `Authorization: Bearer TOKEN` with the token in this file (all
    /// endpoints except /v1/health and /openapi.json).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// The screening policy, a TOML file (see `hoptrace policy show`).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Stop after this many hops (default: the policy's max_hops).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub max_hops: Option<u32>,
    /// Skip the haircut: no shares, scores take reached addresses as fully tainted.
    #[arg(long)]
    pub no_haircut: bool,
    /// Most addresses in one POST /v1/screen.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_batch: u32,
    /// Largest request body, in bytes (larger gets 413).
    #[arg(long, default_value_t = 256 * 1024)]
    pub body_limit: usize,
    /// Time limit of one request, in seconds (503 past it; reloads are not limited).
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
    /// Most requests handled at once; more wait.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// Memory for answers kept for addresses asked again, in MiB (0: none). An
    /// answer depends only on the data loaded, so a kept one is exact; a reload
    /// starts afresh.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub answer_cache: usize,
}

/// The server's settings, resolved once from the arguments.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Most addresses in one batch.
    pub max_batch: usize,
    /// Largest request body, bytes.
    pub body_limit: usize,
    /// Time limit per request.
    pub timeout: Duration,
    /// Most requests at once.
    pub concurrency: usize,
    /// The expected bearer token, if any.
    pub token: Option<Token>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_batch: 1000,
            body_limit: 256 * 1024,
            timeout: Duration::from_secs(10),
            concurrency: 512,
            token: None,
        }
    }
}

/// Why the server cannot start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The token file cannot be used.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The data cannot be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A setting is out of range.
    #[error("{0}")]
    Setting(String),
    /// Listening or serving failed.
    #[error("cannot serve on {addr}")]
    Io {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Everything the handlers share.
pub struct Shared {
    /// The current data.
    pub data: Arc<Data>,
    /// The settings.
    pub settings: Settings,
}

/// The state handed to every handler.
pub type App = Arc<Shared>;

/// The application with every layer.
pub fn router(app: App) -> Router {
    let settings = app.settings.clone();
    // Reloads may take minutes on a large store: they are outside the timeout.
    let timed = Router::new()
        .route("/v1/addresses/{address}", get(api::get_address))
        .route("/v1/screen", post(api::screen))
        .route("/v1/status", get(api::status))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.timeout,
        ));
    let protected = timed.route("/v1/reload", post(api::reload)).route_layer(
        axum::middleware::from_fn_with_state(Arc::clone(&app), api::require_token),
    );
    Router::new()
        .route("/v1/health", get(api::health))
        .route("/openapi.json", get(api::openapi))
        .merge(protected)
        .fallback(api::not_found)
        .with_state(app)
        .layer(
            ServiceBuilder::new()
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|request: &Request| {
                            let route = request
                                .extensions()
                                .get::<MatchedPath>()
                                .map_or("unmatched", |p| p.as_str());
                            // The URI holds the address screened: debug only.
                            tracing::debug!(uri = %request.uri(), "request");
                            tracing::info_span!("request", method = %request.method(), route)
                        })
                        .on_request(())
                        .on_response(
                            DefaultOnResponse::new()
                                .level(Level::INFO)
                                .latency_unit(LatencyUnit::Micros),
                        ),
                )
                .layer(GlobalConcurrencyLimitLayer::new(settings.concurrency))
                .layer(DefaultBodyLimit::disable())
                .layer(RequestBodyLimitLayer::new(settings.body_limit)),
        )
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and
/// waits for the requests in flight to finish.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        // Small responses: do not wait to coalesce them.
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Loads the data and resolves the settings of `args`.
pub fn prepare(db: &Path, args: &ServeArgs) -> Result<App, ServeError> {
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| {
            ServeError::Setting(format!(
                "--timeout must be a positive, finite number of seconds, not {}",
                args.timeout
            ))
        })?;
    let token = args.token_file.as_deref().map(Token::read).transpose()?;
    let options = Options {
        policy: args.policy.clone(),
        max_hops: args.max_hops,
        no_haircut: args.no_haircut,
        ignore_time: false,
    };
    let data = Data::load(db, options, args.answer_cache.saturating_mul(1 << 20))?;
    Ok(Arc::new(Shared {
        data: Arc::new(data),
        settings: Settings {
            max_batch: args.max_batch as usize,
            body_limit: args.body_limit,
            timeout,
            concurrency: args.concurrency as usize,
            token,
        },
    }))
}

/// `hoptrace serve`: loads the data, listens, reloads on SIGHUP, and shuts down
/// gracefully on SIGINT or SIGTERM.
pub fn run(db: &Path, args: ServeArgs) -> Result<(), ServeError> {
    let listen = args.listen;
    let io = |source| ServeError::Io {
        addr: listen.to_string(),
        source,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(io)?;
    runtime.block_on(async {
        // Load before binding: the port opens only when the service can answer.
        let db = db.to_path_buf();
        let app = tokio::task::spawn_blocking(move || prepare(&db, &args))
            .await
            .map_err(|_| ServeError::Load(LoadError::Interrupted))??;
        let listener = TcpListener::bind(listen).await.map_err(io)?;
        let local = listener.local_addr().map_err(io)?;
        println!("listening on http://{local}");
        tracing::info!(%local, "listening");
        let reloader = tokio::spawn(reload_on_hangup(Arc::clone(&app)));
        let result = serve(listener, app, shutdown_signal()).await.map_err(io);
        reloader.abort();
        tracing::info!("stopped");
        result
    })
}

/// Reloads the data on each SIGHUP.
async fn reload_on_hangup(app: App) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP: reload with POST /v1/reload");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading");
        if let Err(e) = app.data.reload().await {
            tracing::error!(error = %e, "reload failed; still serving the previous data");
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let terminated = async {
        match term.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminated => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
