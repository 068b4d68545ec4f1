//! hoptrace: how close is a wallet to known bad money, with the evidence.
//!
//! Data flows `import` (files) or `fetch` / `crawl` (a JSON-RPC node) -> `store`
//! (SQLite, the source of truth) -> `graph` (CSR, disposable; its snapshot and the
//! haircut's input are cached beside the database) -> `exposure` (time-respecting
//! hops, haircut) -> `report`, `score`; `serve` answers the same over HTTP. I/O
//! lives in `import`, `fetch`, `crawl`, `export`, `store`, `serve`, the caches'
//! readers and writers, and the binary; the graph and exposure algorithms are
//! synchronous, pure, and tested on in-memory data.

pub mod analysis;
pub mod bench;
pub mod crawl;
pub mod export;
pub mod exposure;
pub mod fetch;
pub mod graph;
pub mod import;
pub mod labels;
pub mod policy;
pub mod pool;
pub mod report;
pub mod score;
pub mod serve;
pub mod store;
mod table;
pub mod transfer;

/// Runs `a` on this thread and `b` on a second one, and returns both results. A
/// panic on the second thread is passed on as it was raised.
pub(crate) fn join<A, B: Send>(a: impl FnOnce() -> A, b: impl FnOnce() -> B + Send) -> (A, B) {
    std::thread::scope(|scope| {
        let b = scope.spawn(b);
        let a = a();
        (a, b.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    })
}
