//! JSON-RPC over HTTP for the fetcher: alloy's [`RpcClient`] (request ids, batch
//! arrays, typed answers) over a small HTTP transport of ours, and one retry loop.
//!
//! The transport is ours, not alloy's `Http<reqwest::Client>`, for one reason: a
//! rate-limited provider says how long to wait in the `Retry-After` header, and
//! alloy's HTTP error keeps only the status and body. Everything the node sends
//! back is still decoded by alloy (`ResponsePacket`, the rpc types).
//!
//! Every call goes through [`Rpc::batch`]: one HTTP request carrying a JSON-RPC
//! array, bounded by a semaphore (`--concurrency`) and an optional request-rate
//! limit (`--rps`), retried with exponential backoff and full jitter while the
//! failure is transient (network errors, timeouts, HTTP 429 and 5xx, truncated or
//! malformed bodies, rate-limit JSON-RPC codes). A permanent failure comes back as
//! [`RpcError`] naming the method, the block and the node's message.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use alloy::rpc::client::RpcClient;
use alloy::rpc::json_rpc::{RequestPacket, ResponsePacket, RpcRecv, RpcSend};
use alloy::transports::{TransportError, TransportErrorKind, TransportFut};
use tokio::sync::{Mutex, Semaphore};
use url::Url;

/// What went wrong talking to the node, after retries where retrying made sense.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The node answered with a JSON-RPC error that retrying will not fix.
    #[error("{method}{block} failed: the node at {url} answered error {code}: {message}")]
    Node {
        /// The method.
        method: &'static str,
        /// The (first) block the call was about.
        block: At,
        /// The node's URL, credentials removed.
        url: String,
        /// JSON-RPC error code.
        code: i64,
        /// The node's message.
        message: String,
    },
    /// The node does not offer the method.
    #[error("the node at {url} does not offer {method}: {message}")]
    Unsupported {
        /// The method.
        method: &'static str,
        /// The node's URL, credentials removed.
        url: String,
        /// The node's message.
        message: String,
    },
    /// The node refused a result as too large (an `eth_getLogs` range); the caller
    /// shrinks the request.
    #[error("{method}{block}: the node refused the result as too large: {message}")]
    TooLarge {
        /// The method.
        method: &'static str,
        /// The first block of the request.
        block: At,
        /// The node's message.
        message: String,
    },
    /// Transient failures went on past the retry budget.
    #[error("{method}{block} failed {attempts} times against {url}; last error: {last}")]
    GaveUp {
        /// The method.
        method: &'static str,
        /// The (first) block the call was about.
        block: At,
        /// The node's URL, credentials removed.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The answer was valid JSON-RPC but not the shape alloy expects for the method.
    #[error("{method}{block}: cannot decode the answer of {url}: {detail}")]
    Decode {
        /// The method.
        method: &'static str,
        /// The (first) block the call was about.
        block: At,
        /// The node's URL, credentials removed.
        url: String,
        /// What the decoder said.
        detail: String,
    },
}

/// The block a request is about, for messages: ` for block N`, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At(pub Option<u64>);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(b) => write!(f, " for block {b}"),
            None => Ok(()),
        }
    }
}

/// A failure below JSON-RPC: the HTTP exchange itself. Carried inside alloy's
/// `TransportErrorKind::Custom` and recovered by downcasting.
#[derive(Debug, thiserror::Error)]
pub enum HttpFault {
    /// No answer: connection refused or reset, timeout, body cut off.
    #[error("network error: {0}")]
    Network(String),
    /// An HTTP status other than success.
    #[error("HTTP {status}{}: {body}", retry_after.map(|d| format!(" (Retry-After {} s)", d.as_secs())).unwrap_or_default())]
    Status {
        /// The status code.
        status: u16,
        /// What `Retry-After` asked for, if anything.
        retry_after: Option<Duration>,
        /// The start of the body.
        body: String,
    },
    /// A success status whose body is not a JSON-RPC answer (truncated, HTML, ...).
    #[error("malformed JSON-RPC answer ({detail}); it begins {start:?}")]
    Malformed {
        /// What the JSON parser said.
        detail: String,
        /// The start of the body.
        start: String,
    },
}

/// The HTTP transport: POSTs the serialized packet, parses the answer.
#[derive(Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    url: Url,
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("url", &redact(&self.url))
            .finish()
    }
}

fn start_of(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]);
    text.trim().to_string()
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl HttpTransport {
    /// A transport to `url` with a per-request timeout.
    pub fn new(url: Url, timeout: Duration) -> Result<HttpTransport, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(HttpTransport { client, url })
    }

    async fn send(self, request: RequestPacket) -> Result<ResponsePacket, TransportError> {
        let body = serde_json::to_vec(&request).map_err(TransportError::ser_err)?;
        let network = |e: reqwest::Error| {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            TransportErrorKind::custom(HttpFault::Network(text))
        };
        let response = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(network)?;
        let status = response.status();
        let wait = retry_after(response.headers());
        let bytes = response.bytes().await.map_err(network)?;
        if !status.is_success() {
            return Err(TransportErrorKind::custom(HttpFault::Status {
                status: status.as_u16(),
                retry_after: wait,
                body: start_of(&bytes),
            }));
        }
        serde_json::from_slice::<ResponsePacket>(&bytes).map_err(|e| {
            TransportErrorKind::custom(HttpFault::Malformed {
                detail: e.to_string(),
                start: start_of(&bytes),
            })
        })
    }
}

impl tower::Service<RequestPacket> for HttpTransport {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: RequestPacket) -> Self::Future {
        Box::pin(self.clone().send(request))
    }
}

/// The URL without user, password, query or path (provider URLs often carry an
/// API key in the path), for messages and the store.
pub fn redact(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{}://{h}:{p}", url.scheme()),
        (Some(h), None) => format!("{}://{h}", url.scheme()),
        _ => url.scheme().to_string(),
    }
}

/// How a failure is handled.
#[derive(Debug)]
enum Class {
    /// Worth another attempt, after at least this long.
    Transient(String, Option<Duration>),
    /// The request asked for too much.
    TooLarge(String),
    /// The method is not offered.
    Unsupported(String),
    /// A JSON-RPC error that will not go away.
    Permanent(i64, String),
    /// The answer does not decode.
    Decode(String),
}

fn looks_too_large(m: &str) -> bool {
    let m = m.to_ascii_lowercase();
    [
        "more than",
        "too large",
        "range too",
        "block range",
        "too many results",
        "response size",
        "query timeout",
        "exceed maximum block range",
        "limit the query",
        "log response size exceeded",
    ]
    .iter()
    .any(|p| m.contains(p))
}

fn looks_unsupported(code: i64, m: &str) -> bool {
    let m = m.to_ascii_lowercase();
    code == -32601
        || m.contains("method not found")
        || m.contains("does not exist")
        || m.contains("not supported")
        || m.contains("unsupported")
        || m.contains("not available")
        || m.contains("not implemented")
}

fn looks_rate_limited(code: i64, m: &str) -> bool {
    let m = m.to_ascii_lowercase();
    code == 429
        || code == -32005
        || code == -32016
        || code == -32090
        || m.contains("rate limit")
        || m.contains("too many requests")
        || m.contains("capacity")
        || m.contains("try again")
}

fn classify(e: &TransportError) -> Class {
    match e {
        alloy::transports::RpcError::ErrorResp(p) => {
            let message = p.message.to_string();
            if looks_too_large(&message) {
                Class::TooLarge(message)
            } else if looks_rate_limited(p.code, &message) {
                Class::Transient(format!("error {}: {message}", p.code), None)
            } else if looks_unsupported(p.code, &message) {
                Class::Unsupported(message)
            } else if p.code == -32603 || p.code == -32000 && message.contains("timeout") {
                // "Internal error" and timeouts on a loaded node are usually passing.
                Class::Transient(format!("error {}: {message}", p.code), None)
            } else {
                Class::Permanent(p.code, message)
            }
        }
        alloy::transports::RpcError::Transport(TransportErrorKind::Custom(inner)) => {
            match inner.downcast_ref::<HttpFault>() {
                Some(HttpFault::Status {
                    status,
                    retry_after,
                    ..
                }) if *status == 429 || *status >= 500 || *status == 408 => {
                    Class::Transient(inner.to_string(), *retry_after)
                }
                Some(HttpFault::Status { status, body, .. }) => {
                    Class::Permanent(i64::from(*status), format!("HTTP {status}: {body}"))
                }
                Some(fault) => Class::Transient(fault.to_string(), None),
                None => Class::Transient(inner.to_string(), None),
            }
        }
        alloy::transports::RpcError::Transport(kind) => Class::Transient(kind.to_string(), None),
        alloy::transports::RpcError::NullResp => {
            Class::Transient("the node answered null".into(), None)
        }
        alloy::transports::RpcError::DeserError { err, text } => {
            let start: String = text.chars().take(200).collect();
            Class::Decode(format!("{err}; the answer begins {start:?}"))
        }
        other => Class::Permanent(0, other.to_string()),
    }
}

/// Retry budget and backoff.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The first backoff; it doubles on each retry.
    pub base: Duration,
    /// The largest backoff (a `Retry-After` may ask for more, up to a minute).
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 10,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: uniform in `[0, min(cap, base * 2^attempt)]`.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.cap);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// A request-rate limit: calls are spaced `1 / rps` apart.
#[derive(Debug)]
struct RateLimit {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimit {
    async fn acquire(&self, calls: usize) {
        let wait_until = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.interval.mul_f64(calls as f64);
            at
        };
        tokio::time::sleep_until(wait_until.into()).await;
    }
}

/// The node, as the fetcher sees it.
#[derive(Debug, Clone)]
pub struct Rpc {
    client: RpcClient,
    url: String,
    inflight: Arc<Semaphore>,
    rate: Option<Arc<RateLimit>>,
    policy: RetryPolicy,
}

impl Rpc {
    /// A client for `url` with at most `concurrency` requests in flight and at most
    /// `rps` calls per second.
    pub fn new(
        url: &Url,
        concurrency: usize,
        rps: Option<f64>,
        policy: RetryPolicy,
    ) -> Result<Rpc, reqwest::Error> {
        let transport = HttpTransport::new(url.clone(), Duration::from_secs(60))?;
        let local = url
            .host_str()
            .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "::1");
        Ok(Rpc {
            client: RpcClient::new(transport, local),
            url: redact(url),
            inflight: Arc::new(Semaphore::new(concurrency.max(1))),
            rate: rps.filter(|r| *r > 0.0).map(|r| {
                Arc::new(RateLimit {
                    interval: Duration::from_secs_f64(1.0 / r),
                    next: Mutex::new(Instant::now()),
                })
            }),
            policy,
        })
    }

    /// The node's URL with credentials removed.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The same client with another retry policy.
    pub fn with_policy(&self, policy: RetryPolicy) -> Rpc {
        Rpc {
            policy,
            ..self.clone()
        }
    }

    /// One call.
    pub async fn call<P: RpcSend, R: RpcRecv>(
        &self,
        method: &'static str,
        params: P,
        block: Option<u64>,
    ) -> Result<R, RpcError> {
        let mut out = self.batch(method, &[params], block).await?;
        Ok(out.remove(0))
    }

    /// Calls `method` once per element of `params` in one JSON-RPC array, retrying
    /// the whole array while failures are transient. `block` names the request in
    /// errors. Answers come back in the order of `params`.
    pub async fn batch<P: RpcSend, R: RpcRecv>(
        &self,
        method: &'static str,
        params: &[P],
        block: Option<u64>,
    ) -> Result<Vec<R>, RpcError> {
        let block = At(block);
        if params.is_empty() {
            return Ok(Vec::new());
        }
        let mut attempt = 0u32;
        loop {
            let (class, wait) = match self.attempt(method, params).await {
                Ok(out) => return Ok(out),
                Err(e) => {
                    let class = classify(&e);
                    tracing::debug!(target: "fetch::rpc", method, block = ?block.0, attempt, error = %e, "request failed");
                    (class, attempt)
                }
            };
            match class {
                Class::Transient(last, after) => {
                    attempt += 1;
                    if attempt >= self.policy.attempts {
                        return Err(RpcError::GaveUp {
                            method,
                            block,
                            url: self.url.clone(),
                            attempts: attempt,
                            last,
                        });
                    }
                    let backoff = self.policy.backoff(wait);
                    let pause = match after {
                        Some(a) => a.min(Duration::from_secs(60)).max(backoff),
                        None => backoff,
                    };
                    tokio::time::sleep(pause).await;
                }
                Class::TooLarge(message) => {
                    return Err(RpcError::TooLarge {
                        method,
                        block,
                        message,
                    });
                }
                Class::Unsupported(message) => {
                    return Err(RpcError::Unsupported {
                        method,
                        url: self.url.clone(),
                        message,
                    });
                }
                Class::Permanent(code, message) => {
                    return Err(RpcError::Node {
                        method,
                        block,
                        url: self.url.clone(),
                        code,
                        message,
                    });
                }
                Class::Decode(detail) => {
                    return Err(RpcError::Decode {
                        method,
                        block,
                        url: self.url.clone(),
                        detail,
                    });
                }
            }
        }
    }

    async fn attempt<P: RpcSend, R: RpcRecv>(
        &self,
        method: &'static str,
        params: &[P],
    ) -> Result<Vec<R>, TransportError> {
        if let Some(rate) = &self.rate {
            rate.acquire(params.len()).await;
        }
        let _permit = self
            .inflight
            .acquire()
            .await
            .map_err(TransportErrorKind::custom)?;
        let mut batch = self.client.new_batch();
        let mut waiters = Vec::with_capacity(params.len());
        for p in params {
            waiters.push(batch.add_call::<P, R>(Cow::Borrowed(method), p)?);
        }
        batch.send().await?;
        let mut out = Vec::with_capacity(waiters.len());
        for w in waiters {
            out.push(w.await?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_provider_errors() {
        let resp = |code, message: &'static str| {
            alloy::transports::RpcError::ErrorResp(alloy::rpc::json_rpc::ErrorPayload {
                code,
                message: Cow::Borrowed(message),
                data: None,
            })
        };
        assert!(matches!(
            classify(&resp(-32005, "query returned more than 10000 results")),
            Class::TooLarge(_)
        ));
        assert!(matches!(
            classify(&resp(-32602, "block range too large")),
            Class::TooLarge(_)
        ));
        assert!(matches!(
            classify(&resp(
                -32005,
                "daily request count exceeded, request rate limited"
            )),
            Class::Transient(..)
        ));
        assert!(matches!(
            classify(&resp(
                -32601,
                "the method trace_block does not exist/is not available"
            )),
            Class::Unsupported(_)
        ));
        assert!(matches!(
            classify(&resp(
                -32602,
                "invalid argument 0: hex string without 0x prefix"
            )),
            Class::Permanent(-32602, _)
        ));
        let http = |status, retry| {
            TransportErrorKind::custom(HttpFault::Status {
                status,
                retry_after: retry,
                body: String::new(),
            })
        };
        match classify(&http(429, Some(Duration::from_secs(3)))) {
            Class::Transient(_, Some(d)) => assert_eq!(d, Duration::from_secs(3)),
            other => panic!("429 classified as {other:?}"),
        }
        assert!(matches!(classify(&http(503, None)), Class::Transient(..)));
        assert!(matches!(
            classify(&http(401, None)),
            Class::Permanent(401, _)
        ));
    }

    #[test]
    fn redacts_keys() {
        let url = Url::parse("https://user:pw@eth-mainnet.example.com/v2/SECRETKEY?x=1").unwrap();
        assert_eq!(redact(&url), "https://eth-mainnet.example.com");
        let url = Url::parse("http://127.0.0.1:8545").unwrap();
        assert_eq!(redact(&url), "http://127.0.0.1:8545");
    }

    #[test]
    fn backoff_stays_under_cap() {
        let p = RetryPolicy::default();
        for a in 0..40 {
            assert!(p.backoff(a) <= p.cap);
        }
    }
}
