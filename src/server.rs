//! The HTTP server: `/metrics` (Prometheus text), `/healthz`, `/readyz`,
//! and whatever routes are nested in (ChatOps callbacks).
//!
//! # Limits
//!
//! The port is reachable before any authentication (the kubelet's probes,
//! Prometheus, Slack), so [`serve`] bounds what any client can hold, in
//! this order:
//!
//! - **Connections**: at most [`Limits::max_connections`] at once. A new
//!   connection beyond that closes the *oldest* one, so a flood of slow
//!   clients cannot lock the kubelet's probes or Prometheus out: they open
//!   new, short connections, the flood's are the old ones.
//! - **Request heads**: at most [`Limits::max_header_bytes`] (431 beyond),
//!   received within [`Limits::header_timeout`] (else the connection is
//!   closed); the same timeout closes idle keep-alive connections.
//! - **Per connection**: read buffers at most [`Limits::max_header_bytes`];
//!   one request at a time (HTTP/1.1, no pipelining buffered).
//! - **Bodies**: only the ChatOps routes read one, each in one of a fixed
//!   number of slots, at most 64 KiB, within 10 s (see
//!   [`crate::chatops::inbound`]).
//!
//! With the defaults, 1,024 connections of at most ~24 KiB each plus 64
//! bodies of 64 KiB stay far below the chart's 256 MiB memory limit
//! whatever the clients do (`tests/hardening.rs` measures it with 3,000
//! slow clients).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State as AxumState;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::Notify;

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

/// Bounds on what clients can hold (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once; a new one beyond closes the oldest.
    pub max_connections: usize,
    /// Time to receive a request head (and idle time between requests).
    pub header_timeout: Duration,
    /// Largest request head, and the read buffer of a connection.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_connections: 1024, header_timeout: Duration::from_secs(10), max_header_bytes: 16 * 1024 }
    }
}

/// Serves `app` on `addr` with the default [`Limits`] until shutdown is
/// requested; then accepts no new connection and returns once the requests
/// in flight are answered (idle keep-alive connections are closed).
pub async fn serve(addr: SocketAddr, app: Router, shutdown: crate::shutdown::Shutdown) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /metrics, /healthz, /readyz");
    serve_with(listener, app, Limits::default(), shutdown).await
}

/// The open connections, oldest first: a close signal for each.
#[derive(Default)]
struct Open {
    next_id: u64,
    conns: VecDeque<(u64, Arc<Notify>)>,
}

/// How long, after shutdown is requested, requests in flight may take.
const DRAIN: Duration = Duration::from_secs(3);

/// Serves `app` on `listener` within `limits` until `shutdown` is requested
/// (see [`serve`]).
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: crate::shutdown::Shutdown,
) -> std::io::Result<()> {
    let stop = shutdown.requested();
    tokio::pin!(stop);
    let draining = Arc::new(AtomicBool::new(false));
    let open = Arc::new(Mutex::new(Open::default()));
    let max = limits.max_connections.max(1);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // hyper needs at least 8 KiB of read buffer.
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_header_size(limits.max_header_bytes)
        .max_headers(64);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut stop => break,
            a = listener.accept() => a,
        };
        let (stream, _) = match accepted {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors or a connection reset before
                // accept: back off briefly, then go on serving.
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let close = Arc::new(Notify::new());
        let id = {
            let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
            while open.conns.len() >= max {
                if let Some((_, oldest)) = open.conns.pop_front() {
                    oldest.notify_one();
                }
            }
            open.next_id += 1;
            let id = open.next_id;
            open.conns.push_back((id, close.clone()));
            id
        };
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let (open, draining) = (open.clone(), draining.clone());
        tokio::spawn(async move {
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => if let Err(e) = r { tracing::trace!(error = %e, "connection ended") },
                () = close.notified() => {
                    if draining.load(Ordering::Relaxed) {
                        // Shutdown: the request in flight (if any) is answered first.
                        conn.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(DRAIN, conn).await;
                    } else {
                        tracing::trace!("connection closed to make room for a newer one");
                    }
                }
            }
            let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = open.conns.iter().position(|(c, _)| *c == id) {
                open.conns.remove(i);
            }
        });
    }
    // Shutdown: no new connections; each open one finishes its request in
    // flight (within DRAIN), idle ones close now.
    drop(listener);
    draining.store(true, Ordering::Relaxed);
    let conns: Vec<Arc<Notify>> = {
        let open = open.lock().unwrap_or_else(|e| e.into_inner());
        open.conns.iter().map(|(_, c)| c.clone()).collect()
    };
    conns.iter().for_each(|c| c.notify_one());
    let deadline = tokio::time::Instant::now() + DRAIN + Duration::from_millis(200);
    while !open.lock().unwrap_or_else(|e| e.into_inner()).conns.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
