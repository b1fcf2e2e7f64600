//! keyward server: an axum service whose utoipa annotations are the API
//! contract (`openapi()`), over one sqlx store with SQLite or Postgres.

pub mod api;
pub mod auth;
pub mod background;
pub mod bench_seed;
pub mod bootstrap;
pub mod cache;
pub mod cache_sync;
pub mod config;
pub mod error;
pub mod extract;
pub mod housekeeping;
pub mod idempotency;
pub mod keyfmt;
pub mod leaks;
pub mod metrics;
pub mod ratelimit;
pub mod scheduler;
pub mod secrets;
pub mod session;
pub mod state;
pub mod store;
pub mod tenancy;
pub mod usage;
pub mod webhooks;

use axum::{Json, Router, extract::DefaultBodyLimit, routing::get};
use utoipa_scalar::Servable;
use std::{future::Future, net::SocketAddr, sync::Arc};
use tokio::net::TcpListener;
use tower_http::{catch_panic::CatchPanicLayer, trace::TraceLayer};

pub use config::Config;
pub use state::AppState;
pub use store::Store;

/// Request bodies above this answer 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The OpenAPI 3.1 document, built from the route annotations (no server needed).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::api_router().split_for_parts().1
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let (api, spec) = api::api_router().split_for_parts();
    let spec = Arc::new(spec);
    let spec_json = {
        let spec = spec.clone();
        move || {
            let spec = spec.clone();
            async move { Json(spec.as_ref().clone()) }
        }
    };
    let api = if state.config.metrics { api.route("/metrics", get(metrics::metrics_handler)) } else { api };
    api.route("/openapi.json", get(spec_json))
        .merge(utoipa_scalar::Scalar::with_url("/docs", spec.as_ref().clone()))
        .layer(axum::middleware::from_fn_with_state(state.clone(), api::audit::record_auth_failures))
        .layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::layer))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(axum::middleware::from_fn(error::request_scope))
}

/// Serve `state` on `listener` until `shutdown` resolves, then drain.
pub async fn serve(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    secrets::startup(&state.store, &state.secrets).await?;
    if store::has_imported_keys(state.store.pool()).await? {
        state.imported_keys.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let flusher = usage::spawn_flusher(state.clone());
    let follower = (state.store.backend() == store::Backend::Postgres)
        .then(|| cache_sync::follow(state.keys.clone(), state.config.database_url.clone()));
    let jobs = if state.config.background_jobs {
        vec![scheduler::spawn(state.clone()), webhooks::delivery::spawn(state.clone()), housekeeping::spawn(state.clone())]
    } else {
        Vec::new()
    };
    let app = app(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
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
