//! Integration tests: one binary, one module per concern. They drive the real
//! `hoptrace` binary on real SQLite files and real data under `../shared/data`.

mod bad_input;
mod cli;
mod common;
mod crawl;
mod export;
mod fetch;
mod fetch_fixtures;
mod fetch_node;
mod fifo;
mod haircut;
mod ignore_time;
mod labels;
mod properties;
mod real_cases;
mod scoring;
mod serve;
mod snapshot;
