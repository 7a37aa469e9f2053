//! The listener: what keeps slow or abusive clients from stopping the server. A connection gets
//! a limited time to send each request's headers (which also ends a kept-alive connection left
//! idle) and its body; there are at most so many connections, and at most so many from one
//! address; the API's routes are rate-limited per token and per address; and a shutdown lets
//! the requests in flight finish, within a deadline, before the store is closed.

use crate::problem::ApiError;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Calls that forget the rate limiters' callers not seen for a while.
pub(crate) type Prune = Vec<Box<dyn Fn() + Send + Sync>>;

/// A sustained rate, with the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

/// How the listener limits its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// To send a request's headers, and how long a kept-alive connection may wait idle for its
    /// next request.
    pub header_read: Duration,
    /// To send a request's body.
    pub body_read: Duration,
    pub max_connections: usize,
    pub connections_per_address: usize,
    /// How long a shutdown waits for the requests in flight.
    pub shutdown: Duration,
    /// Requests to the API's routes (all but health, the OpenAPI document and the public
    /// policy pages) per token; `None`: unlimited.
    pub per_token: Option<Rate>,
    /// The same, per client address.
    pub per_address: Option<Rate>,
}

impl Default for Limits {
    /// Timeouts and connection limits on; no rate limits (the configuration sets those).
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(30),
            max_connections: 512,
            connections_per_address: 64,
            shutdown: Duration::from_secs(10),
            per_token: None,
            per_address: None,
        }
    }
}

/// Connections open per address.
#[derive(Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

impl PerAddress {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(AddressSlot(Arc::clone(self), ip))
    }
}

/// One connection of an address, given back when the connection ends.
struct AddressSlot(Arc<PerAddress>, IpAddr);

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = (self.0).0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.1) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.1);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the requests in flight
/// finish for at most `limits.shutdown`.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            s = Arc::clone(&slots).acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors, say: a moment's pause, not a busy loop.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(address_slot) = per_address.take(peer.ip(), limits.connections_per_address) else {
            // One address holds its share already: this connection is closed at once.
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let body_read = limits.body_read;
        let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let app = app.clone();
            async move {
                let mut req = match read_body(req, body_read).await {
                    Ok(r) => r,
                    Err(resp) => return Ok::<_, std::convert::Infallible>(resp),
                };
                req.extensions_mut().insert(ConnectInfo(peer));
                let resp = tower::ServiceExt::oneshot(app, req)
                    .await
                    .unwrap_or_else(|e| match e {});
                Ok(resp)
            }
        });
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = conn.await;
            drop(address_slot);
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown) => {
            eprintln!("derbes: requests still in flight after {} s were cut off", limits.shutdown.as_secs());
        }
    }
    Ok(())
}

/// The request with its body read, within `limit` and the largest accepted size: a client that
/// sends its body slowly is answered 408 and holds nothing longer.
async fn read_body(
    req: Request<hyper::body::Incoming>,
    limit: Duration,
) -> Result<Request<Body>, Response<Body>> {
    use http_body_util::BodyExt;
    let (parts, body) = req.into_parts();
    let limited = http_body_util::Limited::new(body, crate::BODY_LIMIT);
    match tokio::time::timeout(limit, limited.collect()).await {
        Ok(Ok(collected)) => Ok(Request::from_parts(parts, Body::from(collected.to_bytes()))),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "The body is too large",
                format!("the body may be at most {} bytes", crate::BODY_LIMIT),
            )
            .into_response())
        }
        Ok(Err(_)) => {
            Err(ApiError::bad_request("the request body could not be read").into_response())
        }
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            "The request took too long to arrive",
            format!("send the whole request within {} seconds", limit.as_secs()),
        )
        .into_response()),
    }
}

/// The key a request is rate-limited under per token: a digest of its bearer token (never the
/// token), or none.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenKey;

/// A caller, for the per-token limit: its token, or, for a request that holds none (a webhook's
/// confirmation, a malformed header), its address, so that callers without a token do not share
/// one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Caller {
    Token([u8; 32]),
    Address(IpAddr),
}

impl tower_governor::key_extractor::KeyExtractor for TokenKey {
    type Key = Caller;

    fn extract<T>(&self, req: &Request<T>) -> Result<Self::Key, tower_governor::GovernorError> {
        use sha2::Digest;
        // The token as the server reads it: `bearer X` and `Bearer  X` share one bucket.
        match req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(crate::auth::bearer_token)
        {
            Some(t) => Ok(Caller::Token(sha2::Sha256::digest(t.as_bytes()).into())),
            None => AddressKey.extract(req).map(Caller::Address),
        }
    }
}

/// The key a request is rate-limited under per address: the client's address.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AddressKey;

impl tower_governor::key_extractor::KeyExtractor for AddressKey {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<Self::Key, tower_governor::GovernorError> {
        req.extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or(tower_governor::GovernorError::UnableToExtractKey)
    }
}

/// The answer to a caller over its rate: 429, and when to try again.
fn too_many(e: tower_governor::GovernorError) -> Response<Body> {
    match e {
        tower_governor::GovernorError::TooManyRequests { wait_time, .. } => {
            let mut resp = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                format!(
                    "this token or address sends more requests than derbes takes from one caller; try again in {} s",
                    wait_time.max(1)
                ),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&wait_time.max(1).to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
        _ => ApiError::internal("the request could not be rate-limited").into_response(),
    }
}

/// `router` limited to `rate` per key of `key`; the limiter's pruning goes to `prune`.
fn limited<K>(
    router: axum::Router<crate::AppState>,
    rate: Rate,
    key: K,
    prune: &mut Prune,
) -> axum::Router<crate::AppState>
where
    K: tower_governor::key_extractor::KeyExtractor + Send + Sync + 'static,
    K::Key: Send + Sync + 'static,
{
    let Some(config) = tower_governor::governor::GovernorConfigBuilder::default()
        .per_nanosecond(1_000_000_000 / u64::from(rate.per_second.max(1)))
        .burst_size(rate.burst.max(1))
        .key_extractor(key)
        .finish()
    else {
        return router;
    };
    let config = Arc::new(config);
    let limiter = Arc::clone(config.limiter());
    prune.push(Box::new(move || limiter.retain_recent()));
    router.layer(tower_governor::GovernorLayer::new(config).error_handler(too_many))
}

/// Adds the rate limits of `limits` to the API's routes; returns the limiters to be pruned now
/// and then.
pub(crate) fn rate_limited(
    router: axum::Router<crate::AppState>,
    limits: &Limits,
) -> (axum::Router<crate::AppState>, crate::listen::Prune) {
    let mut router = router;
    let mut prune: Prune = Vec::new();
    if let Some(rate) = limits.per_token {
        router = limited(router, rate, TokenKey, &mut prune);
    }
    if let Some(rate) = limits.per_address {
        router = limited(router, rate, AddressKey, &mut prune);
    }
    (router, prune)
}
