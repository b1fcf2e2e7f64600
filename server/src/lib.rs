//! keyward server: an axum service whose utoipa annotations are the API
//! contract (`openapi()`), over one sqlx store with SQLite or Postgres.

pub mod api;
pub mod app;
pub mod auth;
pub mod bench_seed;
pub mod bootstrap;
pub mod cache;
pub mod config;
pub mod domain;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod jobs;
pub mod keyfmt;

pub mod listener;
pub mod metrics;
pub mod ratelimit;
pub mod secrets;

pub mod store;
pub mod usage;
pub mod webhooks;

use axum::{
    BoxError, Json, Router, error_handling::HandleErrorLayer, extract::DefaultBodyLimit, http::StatusCode, routing::get,
};
use std::{future::Future, sync::Arc};
use tokio::net::TcpListener;
use tower::{ServiceBuilder, limit::GlobalConcurrencyLimitLayer};
use tower_http::{catch_panic::CatchPanicLayer, timeout::TimeoutLayer, trace::TraceLayer};
use utoipa_scalar::Servable;

pub use app::AppState;
pub use config::Config;
pub use store::Store;

/// Request bodies above this answer 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The OpenAPI 3.1 document, built from the route annotations (no server needed).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::router_and_spec().1
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let (api, spec) = api::router_and_spec();
    let spec = Arc::new(spec);
    let spec_json = {
        let spec = spec.clone();
        move || {
            let spec = spec.clone();
            async move { Json(spec.as_ref().clone()) }
        }
    };
    let api = if state.config.metrics { api.route("/metrics", get(api::health::metrics_handler)) } else { api };
    let request_timeout = state.config.request_timeout;
    let in_progress = Arc::new(tokio::sync::Semaphore::new(state.config.max_concurrent_requests));
    // Layers run outside in: the last added sees the request first.
    api.route("/openapi.json", get(spec_json))
        .merge(utoipa_scalar::Scalar::with_url("/docs", spec.as_ref().clone()))
        .layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::layer))
        .layer(axum::middleware::from_fn_with_state(state.clone(), api::audit::record_auth_failures))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::client_addr_layer))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, request_timeout))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: BoxError| async { error::overloaded_response() }))
                .load_shed()
                .layer(GlobalConcurrencyLimitLayer::with_semaphore(in_progress)),
        )
        .layer(axum::middleware::from_fn(error::request_scope))
}

/// Serve `state` on `listener` until `shutdown` resolves, then drain.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    secrets::startup(&state.store, &state.secrets).await?;
    if store::has_imported_keys(state.store.pool()).await? {
        state.imported_keys.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let flusher = jobs::usage_flush::spawn(state.clone());
    let follower = (state.store.backend() == store::Backend::Postgres)
        .then(|| jobs::cache_follow::follow(state.keys.clone(), state.config.database_url.clone()));
    let jobs = if state.config.background_jobs {
        vec![
            jobs::scheduler::spawn(state.clone()),
            jobs::delivery::spawn(state.clone()),
            jobs::housekeeping::spawn(state.clone()),
        ]
    } else {
        Vec::new()
    };
    let limits = listener::Limits {
        max_connections: state.config.max_connections,
        header_read_timeout: state.config.header_read_timeout,
    };
    let served = listener::serve(listener, app(state), limits, shutdown).await;
    for job in jobs.into_iter().chain(follower) {
        job.stop().await;
    }
    // Write-behind usage counters are flushed once more after the drain.
    flusher.stop().await;
    served?;
    Ok(())
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received, draining connections");
}
