//! The screening server over a real socket: `serve(listener, app, shutdown)` on
//! port 0 with the demo data (the Ronin fixtures), a plain HTTP/1.1 client, and
//! the real binary for signals and logs. Expected values come from the fixture
//! CSVs: 0x8f51...2fff appears in exactly one transfer, an internal transfer of
//! 99581196500000000000 wei from the Tornado Cash pool 0xa160...f291 (a labelled
//! seed) in block 14517145, so it is 1 hop downstream with that transfer as its
//! whole evidence path, and everything it received is tainted.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hoptrace::serve::auth::Token;
use hoptrace::serve::state::Data;
use hoptrace::serve::{App, Settings, Shared, serve};
use serde_json::{Value, json};

use crate::common::{fixtures, hoptrace, import_both, ok, write};

const ONE_HOP: &str = "0x8f510dcd206b69e625fd9c2e41f34a1240242fff";
const TORNADO: &str = "0xa160cdab225685da1d56aa342ad8841c3b53f291";
const ONE_HOP_TX: &str = "0xccc59019bf79655e937a85bb232e2b36c5b95463d33ffe15b1facbbc89c55ae7";
/// The first wallet of fixtures/ronin/wallets.csv, an OFAC-listed Lazarus address.
const LAZARUS: &str = "0x098b716b8aaf21512996dc57eb0615e2383e2f96";
/// In no fixture.
const UNKNOWN: &str = "0x0000000000000000000000000000000000000001";

/// The demo store: the Ronin transfers and the OFAC/Tornado labels.
fn demo_db(dir: &Path) -> PathBuf {
    let db = dir.join("demo.db");
    import_both(
        &db,
        &fixtures().join("ronin/transfers.csv"),
        &fixtures().join("ronin/labels.csv"),
    );
    db
}

fn app(db: &Path, settings: Settings) -> App {
    app_keeping(db, settings, 1 << 20)
}

/// As [`app`], keeping at most `answer_cache` bytes of answers.
fn app_keeping(db: &Path, settings: Settings, answer_cache: usize) -> App {
    let data = Data::load(db, Default::default(), answer_cache).expect("demo data loads");
    Arc::new(Shared {
        data: Arc::new(data),
        settings,
    })
}

/// The demo store in a fresh directory and a server on it. Bind in this order:
/// the server stops (on drop) before the directory goes.
fn demo_server(settings: Settings) -> (tempfile::TempDir, PathBuf, Server) {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let server = Server::start(app(&db, settings));
    (dir, db, server)
}

/// A server on 127.0.0.1:0 in its own runtime; stopped (gracefully) on drop.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    fn start(app: App) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind port 0");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(serve(listener, app, async {
                let _ = stopped.await;
            }))
        });
        Server {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        request(self.addr, method, path, headers, body)
    }

    fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], b"")
    }

    fn post_json(&self, path: &str, body: &str) -> Reply {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }

    /// Stops the server and waits for it to finish.
    fn shutdown(mut self) -> std::io::Result<()> {
        self.stop_now()
    }

    /// Tells the server to shut down, without waiting.
    fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Whether the server has finished.
    fn finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    fn stop_now(&mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(t) => t.join().expect("server thread"),
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop_now();
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .expect("an error message")
            .to_string()
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !headers.iter().any(|(n, _)| {
        n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding")
    }) {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write head");
    // The server may answer (413) and close before reading a large body.
    let _ = stream.write_all(body);
    read_reply(stream)
}

/// Reads one HTTP/1.1 response from `stream`.
fn read_reply(stream: TcpStream) -> Reply {
    let mut raw = Vec::new();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header line");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).expect("chunk size");
            let size = usize::from_str_radix(line.trim(), 16).expect("chunk size");
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).expect("chunk");
            if size == 0 {
                break;
            }
            raw.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = length {
        raw.resize(n, 0);
        reader.read_exact(&mut raw).expect("body");
    } else {
        reader.read_to_end(&mut raw).expect("body");
    }
    Reply {
        status,
        headers,
        body: raw,
    }
}

/// `hoptrace check --format json` on `addresses`, parsed.
fn check_json(db: &Path, addresses: &[&str]) -> Vec<Value> {
    let (out, _) = ok(hoptrace(db)
        .args(["check", "--format", "json"])
        .args(addresses));
    serde_json::from_str(&out).expect("check prints JSON")
}

#[test]
fn address_answer_is_the_check_json() {
    let (_dir, db, server) = demo_server(Settings::default());
    let expected = check_json(&db, &[ONE_HOP, LAZARUS, UNKNOWN]);
    for (address, want) in [ONE_HOP, LAZARUS, UNKNOWN].iter().zip(&expected) {
        let reply = server.get(&format!("/v1/addresses/{address}"));
        assert_eq!(reply.status, 200, "{address}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(&reply.json(), want, "{address}: differs from check");
    }
    // The values themselves, from the fixture CSVs (see the module doc).
    let one_hop = server.get(&format!("/v1/addresses/{ONE_HOP}")).json();
    assert_eq!(one_hop["known"], json!(true));
    assert_eq!(one_hop["is_seed"], json!(false));
    assert_eq!(one_hop["downstream_hops"], json!(1));
    assert_eq!(one_hop["upstream_hops"], Value::Null);
    assert_eq!(one_hop["risk_level"], json!("high"));
    let down = &one_hop["downstream"];
    assert_eq!(down["seed"], json!(TORNADO));
    assert_eq!(
        down["path"],
        json!([{
            "tx_hash": ONE_HOP_TX,
            "from": TORNADO,
            "to": ONE_HOP,
            "block": 14517145,
            "asset": "ETH",
            "amount": "99581196500000000000",
            "kind": "internal",
            "index": 0
        }])
    );
    assert_eq!(
        one_hop["exposure"][0]["received"],
        json!("99581196500000000000")
    );
    assert_eq!(one_hop["exposure"][0]["share"], json!(1.0));
    let lazarus = server.get(&format!("/v1/addresses/{LAZARUS}")).json();
    assert_eq!(lazarus["is_seed"], json!(true));
    assert_eq!(lazarus["risk_level"], json!("severe"));
    assert_eq!(lazarus["score"], json!(100));
    let unknown = server.get(&format!("/v1/addresses/{UNKNOWN}")).json();
    assert_eq!(unknown["known"], json!(false));
    assert_eq!(unknown["score"], json!(0));
    // Upper case (and a valid EIP-55 checksum) name the same address.
    let upper = format!("0x{}", ONE_HOP[2..].to_uppercase());
    assert_eq!(
        server.get(&format!("/v1/addresses/{upper}")).json(),
        one_hop
    );
    server.shutdown().expect("clean shutdown");
}

#[test]
fn screen_answers_each_address_in_order() {
    let (_dir, db, server) = demo_server(Settings::default());
    let order = [UNKNOWN, ONE_HOP, LAZARUS, ONE_HOP];
    let body = json!({ "addresses": order }).to_string();
    let reply = server.post_json("/v1/screen", &body);
    assert_eq!(reply.status, 200);
    let results = reply.json()["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), 4);
    let expected = check_json(&db, &order);
    assert_eq!(results, expected);
    let scores: Vec<&Value> = results.iter().map(|r| &r["score"]).collect();
    assert_eq!(scores, [&json!(0), &json!(100), &json!(100), &json!(100)]);
    // Empty is allowed: nothing to screen.
    let reply = server.post_json("/v1/screen", r#"{"addresses": []}"#);
    assert_eq!((reply.status, reply.json()), (200, json!({"results": []})));
}

#[test]
fn status_health_and_openapi() {
    let (_dir, _db, server) = demo_server(Settings::default());
    let health = server.get("/v1/health");
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );
    let status = server.get("/v1/status").json();
    // fixtures/ronin: 1732 transfer rows; the last block of the file; 157 OFAC
    // SDN addresses and one Tornado pool label (158 labels).
    assert_eq!(status["data_block"], json!(14808949));
    assert_eq!(status["counts"]["transfers"], json!(1732));
    assert_eq!(status["counts"]["labels"], json!(158));
    assert_eq!(status["counts"]["seeds"], json!(157));
    assert_eq!(status["bundled_seeds"], json!(false));
    assert_eq!(status["generation"], json!(1));
    let lists: Vec<(String, u64)> = status["label_lists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["list"].as_str().unwrap().to_string(),
                l["labels"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lists,
        [
            ("ofac-sdn-2025-02-26".to_string(), 157),
            ("tornado-pools".to_string(), 1)
        ]
    );
    let policy = hoptrace::policy::Policy::default().hash();
    assert_eq!(status["policy_hash"], json!(policy));
    let loaded_at = status["loaded_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(loaded_at).is_ok(),
        "{loaded_at}"
    );
    let spec = server.get("/openapi.json");
    assert_eq!(spec.status, 200);
    assert_eq!(spec.body, hoptrace::serve::api::OPENAPI.as_bytes());
    let on_disk = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("api/openapi.json"));
    assert_eq!(spec.body, on_disk.unwrap());
}

/// Validates `instance` against `#/components/schemas/{name}` of the spec.
fn validate(spec: &Value, name: &str, instance: &Value) {
    // The schemas refer to each other as `#/components/schemas/X`: validate with
    // the whole spec as the root document.
    let mut root = spec.clone();
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["$ref"] = json!(format!("#/components/schemas/{name}"));
    let validator = jsonschema::draft202012::new(&root).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}\n{instance:#}");
}

/// The schema of `status` for `method path` in the spec.
fn response_schema(spec: &Value, method: &str, path: &str, status: u16) -> String {
    let r = &spec["paths"][path][method]["responses"][status.to_string()];
    assert!(r.is_object(), "{method} {path}: {status} is not documented");
    let reference = r["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap_or_else(|| panic!("{method} {path} {status}: no JSON schema"));
    reference
        .strip_prefix("#/components/schemas/")
        .unwrap()
        .to_string()
}

#[test]
fn real_responses_validate_against_the_openapi_spec() {
    let (_dir, _db, server) = demo_server(Settings {
        max_batch: 2,
        ..Settings::default()
    });
    let spec: Value = serde_json::from_str(hoptrace::serve::api::OPENAPI).unwrap();
    assert_eq!(spec["openapi"], json!("3.1.0"));
    let addr = "/v1/addresses/{address}";
    let cases: Vec<(&str, &str, Reply)> = vec![
        ("get", "/v1/health", server.get("/v1/health")),
        ("get", "/v1/status", server.get("/v1/status")),
        ("get", addr, server.get(&format!("/v1/addresses/{ONE_HOP}"))),
        ("get", addr, server.get(&format!("/v1/addresses/{LAZARUS}"))),
        ("get", addr, server.get(&format!("/v1/addresses/{UNKNOWN}"))),
        ("get", addr, server.get("/v1/addresses/0x1234")),
        (
            "post",
            "/v1/screen",
            server.post_json(
                "/v1/screen",
                &json!({ "addresses": [ONE_HOP, UNKNOWN] }).to_string(),
            ),
        ),
        ("post", "/v1/screen", server.post_json("/v1/screen", "{")),
        (
            "post",
            "/v1/screen",
            server.post_json(
                "/v1/screen",
                &json!({ "addresses": [ONE_HOP, UNKNOWN, LAZARUS] }).to_string(),
            ),
        ),
        (
            "post",
            "/v1/screen",
            server.request("POST", "/v1/screen", &[], br#"{"addresses":[]}"#),
        ),
        ("post", "/v1/reload", server.post_json("/v1/reload", "")),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (method, path, reply) in &cases {
        let name = response_schema(&spec, method, path, reply.status);
        validate(&spec, &name, &reply.json());
        seen.insert((method.to_string(), path.to_string(), reply.status));
    }
    // Each kind of answer above was exercised, errors included.
    for (m, p, s) in [
        ("get", addr, 200),
        ("get", addr, 400),
        ("post", "/v1/screen", 200),
        ("post", "/v1/screen", 400),
        ("post", "/v1/screen", 415),
        ("post", "/v1/reload", 200),
    ] {
        assert!(
            seen.contains(&(m.to_string(), p.to_string(), s)),
            "{m} {p} {s}"
        );
    }
    // A failing document is caught: the validator is not vacuous.
    let mut bad = server.get(&format!("/v1/addresses/{ONE_HOP}")).json();
    bad["score"] = json!("high");
    let root = {
        let mut r = spec.clone();
        r["$ref"] = json!("#/components/schemas/CheckResult");
        r
    };
    assert!(!jsonschema::draft202012::new(&root).unwrap().is_valid(&bad));
}

/// Under a FIFO policy the answers carry the FIFO fields, and still validate.
#[test]
fn fifo_answers_validate_against_the_openapi_spec() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let policy = crate::common::default_policy_with(
        dir.path(),
        "fifo.toml",
        &[("max_hops = 6", "fifo = true\nmax_hops = 6")],
    );
    let options = hoptrace::analysis::setup::Options {
        policy: Some(policy),
        ..Default::default()
    };
    let data = Data::load(&db, options, 1 << 20).expect("demo data loads");
    let server = Server::start(Arc::new(Shared {
        data: Arc::new(data),
        settings: Settings::default(),
    }));
    let spec: Value = serde_json::from_str(hoptrace::serve::api::OPENAPI).unwrap();
    let reply = server.get(&format!("/v1/addresses/{ONE_HOP}"));
    assert_eq!(reply.status, 200);
    let answer = reply.json();
    let name = response_schema(&spec, "get", "/v1/addresses/{address}", 200);
    validate(&spec, &name, &answer);
    assert_eq!(answer["provenance"]["policy"]["fifo"], true);
    // One hop from the exploiter, all of what it received tainted in both views.
    let exposure = &answer["exposure"][0];
    assert_eq!(exposure["fifo_tainted"], exposure["received"], "{answer}");
    assert_eq!(exposure["fifo_share"], 1.0);
    assert_eq!(answer["downstream"]["fifo_share"], 1.0);
    drop(server);
}

#[test]
fn bad_input_gets_a_4xx_that_says_what_is_wrong() {
    let (_dir, _db, server) = demo_server(Settings {
        max_batch: 3,
        body_limit: 1000,
        ..Settings::default()
    });
    let cases: Vec<(Reply, u16, &str)> = vec![
        (
            server.get("/v1/addresses/0x1234"),
            400,
            "expected 40 hex digits after 0x, found 4",
        ),
        (
            server.get("/v1/addresses/8f510dcd206b69e625fd9c2e41f34a1240242fff"),
            400,
            "it must start with 0x",
        ),
        (
            server.get("/v1/addresses/0x8f510dcd206b69e625fd9c2e41f34a1240242ffZ"),
            400,
            "'Z' is not a hex digit",
        ),
        (
            // Mixed case with a wrong EIP-55 checksum.
            server.get("/v1/addresses/0x8F510dcd206b69e625fd9c2e41f34a1240242fff"),
            400,
            "fails its EIP-55 checksum",
        ),
        (
            server.get("/v1/addresses/%200x8f510dcd206b69e625fd9c2e41f34a1240242fff"),
            400,
            "surrounding whitespace",
        ),
        (
            server.post_json("/v1/screen", r#"{"addresses": ["#),
            400,
            "EOF while parsing a list",
        ),
        (
            server.post_json("/v1/screen", r#"{"addresses": [1]}"#),
            400,
            "addresses[0]: invalid type: integer `1`, expected a string",
        ),
        (
            server.post_json("/v1/screen", r#"{"address": []}"#),
            400,
            "unknown field `address`",
        ),
        (
            server.post_json("/v1/screen", r#""0x""#),
            400,
            "expected struct ScreenRequest",
        ),
        (
            server.post_json(
                "/v1/screen",
                &json!({ "addresses": [ONE_HOP, "0x12", LAZARUS] }).to_string(),
            ),
            400,
            "addresses[1]: \"0x12\" is not an address",
        ),
        (
            server.post_json(
                "/v1/screen",
                &json!({ "addresses": [ONE_HOP, ONE_HOP, ONE_HOP, ONE_HOP] }).to_string(),
            ),
            400,
            "too many addresses: 4 given, at most 3 per request",
        ),
        (
            server.request("POST", "/v1/screen", &[], br#"{"addresses":[]}"#),
            415,
            "Content-Type",
        ),
        (
            server.get("/v1/nothing/here"),
            404,
            "no such path: /v1/nothing/here",
        ),
        (server.get("/"), 404, "no such path: /"),
        (
            server.get(&format!("/v1/addresses/{ONE_HOP}/more")),
            404,
            "no such path",
        ),
    ];
    for (reply, status, message) in &cases {
        assert_eq!(reply.status, *status, "{reply:?}");
        let error = reply.error();
        assert!(
            error.contains(message),
            "{status}: {error:?} should contain {message:?}"
        );
    }
    // Over the body limit: refused by Content-Length before reading, and also
    // when the body comes in chunks without a length.
    let big = format!(r#"{{"addresses": ["{}"]}}"#, "0".repeat(2000));
    let reply = server.post_json("/v1/screen", &big);
    assert_eq!(reply.status, 413);
    let mut chunked = format!("{:x}\r\n", big.len()).into_bytes();
    chunked.extend_from_slice(big.as_bytes());
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let reply = server.request(
        "POST",
        "/v1/screen",
        &[
            ("Content-Type", "application/json"),
            ("Transfer-Encoding", "chunked"),
        ],
        &chunked,
    );
    assert_eq!(reply.status, 413, "{reply:?}");
    // A method the path does not have.
    assert_eq!(server.request("DELETE", "/v1/health", &[], b"").status, 405);
    // Garbage never reaches a 5xx (nor a panic: the server keeps answering).
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..300 {
        let len = rng.usize(0..80);
        let junk: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        let path_part: String = junk.iter().map(|b| format!("%{b:02X}")).collect::<String>();
        let reply = server.get(&format!("/v1/addresses/{path_part}"));
        assert!((400..500).contains(&reply.status), "{reply:?}");
        let reply = server.request(
            "POST",
            "/v1/screen",
            &[("Content-Type", "application/json")],
            &junk,
        );
        assert!((400..500).contains(&reply.status), "{reply:?}");
    }
    assert_eq!(server.get("/v1/health").status, 200);
}

#[test]
fn bearer_token_is_required_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let token = Token::new("t0ken-for-tests\n", "test").unwrap();
    let server = Server::start(app(
        &db,
        Settings {
            token: Some(token),
            ..Settings::default()
        },
    ));
    let path = format!("/v1/addresses/{ONE_HOP}");
    let none = server.get(&path);
    assert_eq!(none.status, 401);
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    assert_eq!(none.error(), "missing or invalid bearer token");
    for wrong in [
        "Bearer t0ken-for-test",
        "Bearer t0ken-for-tests2",
        "bearer t0ken-for-tests",
        "t0ken-for-tests",
    ] {
        let reply = server.request("GET", &path, &[("Authorization", wrong)], b"");
        assert_eq!(reply.status, 401, "{wrong}");
    }
    let auth = [("Authorization", "Bearer t0ken-for-tests")];
    let ok = server.request("GET", &path, &auth, b"");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["downstream_hops"], json!(1));
    assert_eq!(server.request("GET", "/v1/status", &auth, b"").status, 200);
    assert_eq!(server.get("/v1/status").status, 401);
    assert_eq!(server.request("POST", "/v1/reload", &[], b"").status, 401);
    assert_eq!(
        server
            .request(
                "POST",
                "/v1/screen",
                &[("Content-Type", "application/json")],
                b"{}"
            )
            .status,
        401
    );
    // Health and the spec stay open for load balancers and clients.
    assert_eq!(server.get("/v1/health").status, 200);
    assert_eq!(server.get("/openapi.json").status, 200);
}

#[test]
fn a_request_over_the_time_limit_gets_503() {
    let (_dir, _db, server) = demo_server(Settings {
        timeout: Duration::from_millis(500),
        ..Settings::default()
    });
    // The rest of the body never comes: the handler cannot finish before the
    // limit, however fast the machine (a short batch with a tiny limit raced it).
    let body = json!({ "addresses": [ONE_HOP] }).to_string();
    let started = Instant::now();
    let reply = read_reply(start_post(server.addr, "/v1/screen", &body, 10));
    assert_eq!(reply.status, 503);
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(server.get("/v1/health").status, 200);
    // Within the limit the same request is answered.
    assert_eq!(server.post_json("/v1/screen", &body).status, 200);
}

#[test]
fn reload_under_load_fails_no_request_and_serves_the_new_data() {
    let (dir, db, server) = demo_server(Settings::default());
    let before = server.get(&format!("/v1/addresses/{ONE_HOP}")).json();
    assert_eq!(before["is_seed"], json!(false));
    // New data: ONE_HOP becomes a labelled hack address.
    let labels = write(
        dir.path(),
        "extra.csv",
        &format!("address,category,name,source\n{ONE_HOP},hack,Test Hack,test-list\n"),
    );
    hoptrace(&db)
        .args(["import", "labels"])
        .arg(&labels)
        .assert()
        .success();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let addr = server.addr;
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let path = if i % 2 == 0 {
                        format!("/v1/addresses/{ONE_HOP}")
                    } else {
                        "/v1/status".to_string()
                    };
                    let reply = request(addr, "GET", &path, &[], b"");
                    if reply.status != 200 {
                        failures.push(reply);
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                failures
            })
        })
        .collect();
    for _ in 0..10 {
        let reply = server.post_json("/v1/reload", "");
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    // Keep the load going a moment after the last swap.
    let t = Instant::now();
    let target = done.load(Ordering::Relaxed) + 50;
    while done.load(Ordering::Relaxed) < target && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let failures = c.join().unwrap();
        assert!(failures.is_empty(), "{failures:?}");
    }
    assert!(done.load(Ordering::Relaxed) >= 50);
    let status = server.get("/v1/status").json();
    assert_eq!(status["generation"], json!(11));
    assert_eq!(status["counts"]["labels"], json!(159));
    assert_eq!(status["counts"]["seeds"], json!(158));
    let after = server.get(&format!("/v1/addresses/{ONE_HOP}")).json();
    assert_eq!(after["is_seed"], json!(true));
    assert_eq!(after["labels"], json!(["hack:test-list"]));
    assert_eq!(after["downstream_hops"], json!(0));
    server.shutdown().expect("clean shutdown");
}

/// Sends `signal` to the process `pid`.
fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) on a child process we started; no memory is shared.
    let rc = unsafe { libc::kill(pid as i32, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal})");
}

#[test]
fn binary_reloads_on_sighup_logs_no_address_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let token = write(dir.path(), "token", "binary-test-token\n");
    let mut child = StdCommand::new(env!("CARGO_BIN_EXE_hoptrace"))
        .env_remove("HOPTRACE_DB")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .arg("--db")
        .arg(&db)
        .args(["-v", "serve", "--listen", "127.0.0.1:0", "--token-file"])
        .arg(&token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hoptrace serve");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).expect("listening line");
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("an address");
    let auth = [("Authorization", "Bearer binary-test-token")];
    let status = |addr| request(addr, "GET", "/v1/status", &auth, b"").json();
    assert_eq!(status(addr)["generation"], json!(1));
    let reply = request(addr, "GET", &format!("/v1/addresses/{ONE_HOP}"), &auth, b"");
    assert_eq!(reply.json()["downstream_hops"], json!(1));
    signal(child.id(), libc::SIGHUP);
    let t = Instant::now();
    while status(addr)["generation"] != json!(2) {
        assert!(t.elapsed() < Duration::from_secs(30), "no reload on SIGHUP");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(child.id(), libc::SIGTERM);
    let t = Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no exit on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    // Info level: each request logged by route, never by the address asked for.
    assert!(log.contains(r#"route="/v1/addresses/{address}""#), "{log}");
    assert!(log.contains("SIGHUP: reloading"), "{log}");
    assert!(
        !log.contains(&ONE_HOP[2..]),
        "the address leaked into the log:\n{log}"
    );
    assert!(!log.contains("binary-test-token"), "{log}");
}

/// Every address of the demo transfers, in order of first appearance.
fn demo_addresses() -> Vec<String> {
    let mut reader = csv::Reader::from_path(fixtures().join("ronin/transfers.csv")).unwrap();
    let mut out: Vec<String> = Vec::new();
    for row in reader.records() {
        let row = row.unwrap();
        for a in [&row[2], &row[3]] {
            if !out.iter().any(|o| o == a) {
                out.push(a.to_string());
            }
        }
    }
    out
}

#[test]
fn kept_answers_are_the_answers_computed_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let keeping = Server::start(app(&db, Settings::default()));
    let computing = Server::start(app_keeping(&db, Settings::default(), 0));
    let mut addresses = demo_addresses();
    assert_eq!(addresses.len(), 324, "the demo transfers' addresses");
    addresses.push(UNKNOWN.to_string());
    // Twice: the second round on the keeping server answers from what it kept.
    for round in 0..2 {
        for a in &addresses {
            let path = format!("/v1/addresses/{a}");
            let (kept, fresh) = (keeping.get(&path), computing.get(&path));
            assert_eq!((kept.status, fresh.status), (200, 200), "{a}");
            assert_eq!(kept.body, fresh.body, "{a}, round {round}");
            assert_eq!(kept.json()["address"], json!(a), "{a}: answered for itself");
        }
    }
    // Upper case names the same address: the same kept answer.
    let upper = format!("0x{}", ONE_HOP[2..].to_uppercase());
    assert_eq!(
        keeping.get(&format!("/v1/addresses/{upper}")).body,
        computing.get(&format!("/v1/addresses/{ONE_HOP}")).body
    );
    // A batch assembled from kept answers is the batch computed afresh.
    let body = json!({ "addresses": addresses }).to_string();
    let kept = keeping.post_json("/v1/screen", &body);
    let fresh = computing.post_json("/v1/screen", &body);
    assert_eq!((kept.status, fresh.status), (200, 200));
    assert_eq!(kept.body, fresh.body);
    let results = kept.json()["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), addresses.len());
    assert_eq!(results[results.len() - 1]["known"], json!(false));
}

/// Sends a POST's head and the first `sent` bytes of its JSON `body`; the rest
/// is written later with [`finish_post`].
fn start_post(addr: SocketAddr, path: &str, body: &str, sent: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    stream
        .write_all(&body.as_bytes()[..sent])
        .expect("write body");
    stream
}

/// Writes the rest of a POST begun with [`start_post`] and reads the reply.
fn finish_post(mut stream: TcpStream, body: &str, sent: usize) -> Reply {
    stream
        .write_all(&body.as_bytes()[sent..])
        .expect("write body");
    read_reply(stream)
}

#[test]
fn shutdown_finishes_the_request_in_flight_and_accepts_no_more() {
    let (_dir, db, mut server) = demo_server(Settings::default());
    let addr = server.addr;
    let body = json!({ "addresses": [ONE_HOP, LAZARUS] }).to_string();
    // In flight: the server has the head and waits for the rest of the body.
    let stream = start_post(addr, "/v1/screen", &body, 10);
    std::thread::sleep(Duration::from_millis(200));
    server.begin_shutdown();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !server.finished(),
        "the server waits for the request in flight"
    );
    assert!(
        TcpStream::connect(addr).is_err(),
        "no new connection is accepted once shutdown began"
    );
    let reply = finish_post(stream, &body, 10);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let results = reply.json()["results"].as_array().expect("results").clone();
    assert_eq!(results, check_json(&db, &[ONE_HOP, LAZARUS]));
    server.shutdown().expect("clean shutdown");
}

#[test]
fn requests_past_the_concurrency_limit_wait_their_turn() {
    let (_dir, _db, server) = demo_server(Settings {
        concurrency: 1,
        ..Settings::default()
    });
    let addr = server.addr;
    let body = json!({ "addresses": [LAZARUS] }).to_string();
    // The one permit: held by a request still receiving its body.
    let first = start_post(addr, "/v1/screen", &body, 10);
    std::thread::sleep(Duration::from_millis(200));
    let second = std::thread::spawn(move || {
        request(addr, "GET", &format!("/v1/addresses/{ONE_HOP}"), &[], b"")
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(!second.is_finished(), "a request past the limit waits");
    let first = finish_post(first, &body, 10);
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["results"][0]["score"], json!(100));
    // Then the waiting one is answered, not failed.
    let second = second.join().expect("client thread");
    assert_eq!(second.status, 200);
    assert_eq!(second.json()["downstream_hops"], json!(1));
}
