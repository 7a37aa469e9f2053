//! derbes server: the HTTP front end. The REST API under `/api/v1` with its OpenAPI document,
//! bearer-token authentication, errors as problem+json, and the listener with its limits; every
//! operation is one call into `derbes-service`.

// The OpenAPI document is written as `json!` literals, deeper than the default limit allows.
#![recursion_limit = "256"]

mod api;
mod auth;
mod listen;
mod problem;
mod web;

pub use api::{router, ROUTES};
pub use listen::{Limits, Rate};
pub use problem::ApiError;
pub use web::ConsoleOptions;

use derbes_service::App;
use std::sync::Arc;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 256 * 1024;

/// Everything a request handler needs: the application.
#[derive(Clone)]
pub struct AppState {
    pub app: Arc<App>,
    /// How the console is served.
    pub console: ConsoleOptions,
}

impl AppState {
    pub fn new(app: Arc<App>) -> Self {
        Self {
            app,
            console: ConsoleOptions::default(),
        }
    }

    pub fn with_console(mut self, console: ConsoleOptions) -> Self {
        self.console = console;
        self
    }
}

/// Serves the API on `listener` until `shutdown` completes, with the default limits (timeouts
/// and connection limits, no rate limits).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, Limits::default(), shutdown).await
}

/// Serves only the console on `listener` (an address of its own, e.g. on an internal network)
/// with `limits` until `shutdown` completes; the API's listener then leaves it out
/// (`ConsoleOptions::own_listener`).
pub async fn serve_console(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listen::serve(listener, api::console_router(state), limits, shutdown).await
}

/// Serves the API on `listener` with `limits` until `shutdown` completes; then the requests in
/// flight finish, for at most `limits.shutdown`.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (app, prune) = api::router_with(state, &limits);
    // The limiters keep a cell per token and address: those not seen for a while go.
    let pruning = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            for p in &prune {
                p();
            }
        }
    });
    let served = listen::serve(listener, app, limits, shutdown).await;
    pruning.abort();
    served
}
