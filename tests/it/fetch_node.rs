//! A real anvil node per test, and a fault-injecting HTTP proxy in front of it.
//!
//! [`Devnet::seeded`] starts a fresh anvil on a free port with
//! `../shared/chain/devnet.sh` and runs `../shared/chain/seed.py` on it; the node
//! is stopped when the value is dropped. When anvil cannot be installed or
//! started the test fails and says why: these tests never skip.
//!
//! [`Proxy`] forwards JSON-RPC POSTs to the node and, per request, at random (a
//! seeded generator): drops the connection, delays, answers 429 with
//! `Retry-After`, answers 503, or cuts the body short. It can also always answer
//! garbage (malformed JSON) or refuse `eth_getLogs` ranges wider than N blocks
//! the way providers do.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The shared chain scripts.
pub(crate) fn chain_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/chain")
}

/// Where devnet.sh installs anvil (the CI installs it there first).
pub(crate) fn devnet_dir() -> PathBuf {
    if let Ok(d) = std::env::var("DEVNET_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    Path::new(&home).join(".cache/devnet")
}

/// A port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

/// A running anvil node; stopped on drop.
pub(crate) struct Devnet {
    /// Its JSON-RPC URL.
    pub(crate) url: String,
    port: u16,
    /// seed.py's manifest (Null for an unseeded node).
    pub(crate) manifest: Value,
}

impl Devnet {
    /// A fresh node with extra anvil arguments.
    pub(crate) fn start(extra: &[&str]) -> Devnet {
        let port = free_port();
        let mut cmd = Command::new("bash");
        cmd.arg(chain_dir().join("devnet.sh"))
            .args(["start", "--dir"])
            .arg(devnet_dir())
            .args(["--port", &port.to_string()]);
        if !extra.is_empty() {
            cmd.arg("--").args(extra);
        }
        let out = cmd.output().unwrap_or_else(|e| {
            panic!("cannot run ../shared/chain/devnet.sh (bash missing?): {e}")
        });
        assert!(
            out.status.success(),
            "anvil did not start: `devnet.sh start --dir {} --port {port}` failed ({}). \
             Install it with `../shared/chain/devnet.sh install --dir {}` (needs npm).\nstderr:\n{}",
            devnet_dir().display(),
            out.status,
            devnet_dir().display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            url.starts_with("http://"),
            "devnet.sh printed {url:?} instead of a URL"
        );
        Devnet {
            url,
            port,
            manifest: Value::Null,
        }
    }

    /// A fresh node with seed.py's scenario on it.
    pub(crate) fn seeded() -> Devnet {
        let mut node = Devnet::start(&[]);
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest = dir.path().join("manifest.json");
        let out = Command::new("python3")
            .arg(chain_dir().join("seed.py"))
            .arg(&node.url)
            .arg("--out")
            .arg(&manifest)
            .output()
            .unwrap_or_else(|e| panic!("cannot run python3 ../shared/chain/seed.py: {e}"));
        assert!(
            out.status.success(),
            "seed.py failed against {}:\n{}",
            node.url,
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&manifest).expect("seed.py wrote its manifest");
        node.manifest = serde_json::from_str(&text).expect("the manifest is JSON");
        node
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(chain_dir().join("devnet.sh"))
            .args(["stop", "--dir"])
            .arg(devnet_dir())
            .args(["--port", &self.port.to_string()])
            .output();
    }
}

/// What the proxy does to requests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Faults {
    /// Probability of closing the connection without an answer.
    pub(crate) drop: f64,
    /// Probability of a delay of up to `delay_ms` before forwarding.
    pub(crate) delay: f64,
    /// The longest delay.
    pub(crate) delay_ms: u64,
    /// Probability of `429 Too Many Requests` with `Retry-After: 1`.
    pub(crate) too_many: f64,
    /// Probability of `503 Service Unavailable`.
    pub(crate) unavailable: f64,
    /// Probability of forwarding the answer cut in half.
    pub(crate) truncate: f64,
    /// Answer every request with a body that is not JSON.
    pub(crate) garbage: bool,
    /// Refuse `eth_getLogs` over more than this many blocks, as providers do.
    pub(crate) max_log_range: Option<u64>,
    /// Methods answered with geth's "method not found" error, as a node that
    /// does not offer them would.
    pub(crate) deny: &'static [&'static str],
}

impl Faults {
    /// No faults: a plain forwarder.
    pub(crate) const NONE: Faults = Faults {
        drop: 0.0,
        delay: 0.0,
        delay_ms: 0,
        too_many: 0.0,
        unavailable: 0.0,
        truncate: 0.0,
        garbage: false,
        max_log_range: None,
        deny: &[],
    };
}

/// Counts of what the proxy did.
#[derive(Debug, Default)]
pub(crate) struct ProxyStats {
    pub(crate) requests: AtomicU64,
    pub(crate) faults: AtomicU64,
    pub(crate) refused_log_ranges: AtomicU64,
}

/// A fault-injecting proxy on its own thread and runtime, until dropped.
pub(crate) struct Proxy {
    /// The proxy's URL.
    pub(crate) url: String,
    pub(crate) stats: Arc<ProxyStats>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// A proxy to `upstream` with `faults`, random choices from `seed`.
    pub(crate) fn start(upstream: &str, faults: Faults, seed: u64) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy port");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let stats = Arc::new(ProxyStats::default());
        let (shutdown, mut stop) = tokio::sync::oneshot::channel::<()>();
        let upstream = upstream.to_string();
        let thread_stats = stats.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let client = reqwest::Client::new();
                let rng = Arc::new(std::sync::Mutex::new(fastrand::Rng::with_seed(seed)));
                loop {
                    tokio::select! {
                        _ = &mut stop => break,
                        accepted = listener.accept() => {
                            let Ok((conn, _)) = accepted else { continue };
                            let (client, upstream, rng, stats) =
                                (client.clone(), upstream.clone(), rng.clone(), thread_stats.clone());
                            tokio::spawn(async move {
                                let _ = serve(conn, client, &upstream, faults, rng, stats).await;
                            });
                        }
                    }
                }
            });
        });
        Proxy {
            url,
            stats,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one HTTP/1.1 request (headers and a Content-Length body); `None` at EOF.
async fn read_request(
    conn: &mut tokio::net::TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Vec<u8>>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let total = end + 4 + length;
            while buf.len() < total {
                let mut chunk = [0u8; 65536];
                let n = conn.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(None);
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = buf[end + 4..total].to_vec();
            buf.drain(..total);
            return Ok(Some(body));
        }
        let mut chunk = [0u8; 65536];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn respond(
    conn: &mut tokio::net::TcpStream,
    status: &str,
    extra: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(body).await?;
    conn.flush().await
}

/// The widest `eth_getLogs` range in a request, if any.
fn widest_log_range(body: &[u8]) -> Option<(u64, Value)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let calls = match &v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    let hex = |v: &Value| u64::from_str_radix(v.as_str()?.trim_start_matches("0x"), 16).ok();
    calls
        .iter()
        .filter(|c| c["method"] == "eth_getLogs")
        .filter_map(|c| {
            let f = &c["params"][0];
            Some((
                hex(&f["toBlock"])? - hex(&f["fromBlock"])? + 1,
                c["id"].clone(),
            ))
        })
        .max_by_key(|(w, _)| *w)
}

/// The "method not found" answer when a request calls a denied method.
fn denied(body: &[u8], deny: &[&str]) -> Option<String> {
    if deny.is_empty() {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    let calls = match &v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    let method = calls
        .iter()
        .filter_map(|c| c["method"].as_str())
        .find(|m| deny.contains(m))?
        .to_string();
    let error = |c: &Value| {
        serde_json::json!({"jsonrpc": "2.0", "id": c["id"].clone(), "error": {
            "code": -32601,
            "message": format!("the method {method} does not exist/is not available")}})
    };
    Some(match &v {
        Value::Array(a) => Value::Array(a.iter().map(error).collect()).to_string(),
        other => error(other).to_string(),
    })
}

async fn serve(
    mut conn: tokio::net::TcpStream,
    client: reqwest::Client,
    upstream: &str,
    faults: Faults,
    rng: Arc<std::sync::Mutex<fastrand::Rng>>,
    stats: Arc<ProxyStats>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    while let Some(body) = read_request(&mut conn, &mut buf).await? {
        stats.requests.fetch_add(1, Ordering::Relaxed);
        if faults.garbage {
            respond(&mut conn, "200 OK", "", b"<html>502 upstream hiccup").await?;
            continue;
        }
        if let (Some(max), Some((width, id))) = (faults.max_log_range, widest_log_range(&body))
            && width > max
        {
            stats.refused_log_ranges.fetch_add(1, Ordering::Relaxed);
            let answer = serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {
                "code": -32005, "message": "query returned more than 10000 results"}});
            // A batch gets a one-element array back.
            let text = if body.first() == Some(&b'[') {
                format!("[{answer}]")
            } else {
                answer.to_string()
            };
            respond(&mut conn, "200 OK", "", text.as_bytes()).await?;
            continue;
        }
        if let Some(answer) = denied(&body, faults.deny) {
            respond(&mut conn, "200 OK", "", answer.as_bytes()).await?;
            continue;
        }
        let (roll, delay_roll, delay) = {
            let mut r = rng.lock().expect("rng");
            (r.f64(), r.f64(), r.u64(0..=faults.delay_ms))
        };
        if delay_roll < faults.delay {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let mut edge = faults.drop;
        if roll < edge {
            stats.faults.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        edge += faults.too_many;
        if roll < edge {
            stats.faults.fetch_add(1, Ordering::Relaxed);
            respond(
                &mut conn,
                "429 Too Many Requests",
                "retry-after: 1\r\n",
                b"rate limited",
            )
            .await?;
            continue;
        }
        edge += faults.unavailable;
        if roll < edge {
            stats.faults.fetch_add(1, Ordering::Relaxed);
            respond(&mut conn, "503 Service Unavailable", "", b"").await?;
            continue;
        }
        let answer = client
            .post(upstream)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        let Ok(answer) = answer else { return Ok(()) };
        let status = answer.status();
        let Ok(bytes) = answer.bytes().await else {
            return Ok(());
        };
        edge += faults.truncate;
        if roll < edge {
            stats.faults.fetch_add(1, Ordering::Relaxed);
            let half = &bytes[..bytes.len() / 2];
            if delay_roll < 0.5 {
                // Half the body, honestly sized: not JSON.
                respond(&mut conn, "200 OK", "", half).await?;
                continue;
            }
            // Half the body under a Content-Length that promises all of it.
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                bytes.len()
            );
            conn.write_all(head.as_bytes()).await?;
            conn.write_all(half).await?;
            return Ok(());
        }
        respond(&mut conn, &format!("{} OK", status.as_u16()), "", &bytes).await?;
    }
    Ok(())
}
