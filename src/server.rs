//! The HTTP server: `/metrics` (Prometheus text), `/healthz`, `/readyz`,
//! and whatever routes are nested in (ChatOps callbacks).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State as AxumState;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;

/// What the web server shares with the controller.
pub struct State {
    /// The metrics registry (owned, not global).
    pub registry: Registry,
    /// Set once the watches have listed their initial state.
    pub ready: AtomicBool,
}

impl State {
    /// A fresh state, not ready.
    pub fn new(registry: Registry) -> Arc<Self> {
        Arc::new(State { registry, ready: AtomicBool::new(false) })
    }

    /// Marks the controller ready (or not).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}

/// The router with the operational endpoints, plus `extra` routes.
pub fn router(state: Arc<State>, extra: Router) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state)
        .merge(extra)
}

async fn metrics(AxumState(state): AxumState<Arc<State>>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn readyz(AxumState(state): AxumState<Arc<State>>) -> impl IntoResponse {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

/// Serves `app` on `addr` until shutdown is requested; then accepts no new
/// connection and returns once the requests in flight are answered.
pub async fn serve(addr: SocketAddr, app: Router, shutdown: crate::shutdown::Shutdown) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /metrics, /healthz, /readyz");
    axum::serve(listener, app).with_graceful_shutdown(shutdown.requested()).await
}
