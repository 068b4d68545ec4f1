//! hoptrace: how close is a wallet to known bad money, with the evidence.
//!
//! Data flows `import` -> `store` (SQLite, the source of truth) -> `graph` (CSR,
//! disposable) -> `exposure` (time-respecting hops) -> `report`. Only `import`,
//! `store` and the binary do I/O; everything from the graph down is synchronous,
//! pure, and tested on in-memory data.

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
pub mod report;
pub mod score;
pub mod serve;
pub mod store;
pub mod transfer;
