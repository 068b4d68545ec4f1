//! The haircut over the benchmark's synthetic transfers, timed by criterion
//! (README, "Figures"): `cargo bench --bench haircut`. The input is the one of
//! `hoptrace bench --haircut-only` (50 M transfers over 5 M addresses, 1,000
//! seeds, two assets, 90 % and 10 %); `HOPTRACE_BENCH_TRANSFERS` and
//! `HOPTRACE_BENCH_ADDRESSES` make it smaller. Generating it takes about 15 s
//! and 1.6 GB of memory.
//!
//! Each sample is one pass, result dropped inside the timing (its 1.3 GB of state
//! handed back is part of what a pass costs). Criterion's warm-up takes the
//! process's first pass, whose state the kernel must make resident from fresh
//! memory: on the project VM that costs 0.3 s to 4 s more, depending on whether the
//! host still backs the memory (docs/haircut-log.md, "Sixteenth session");
//! `hoptrace bench --haircut-only` reports that first pass on its own.
//!
//! `HOPTRACE_HUGE_POOL=1` takes the state from the huge page pool, as
//! `--huge-pool` does (README, "Huge page pool").

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hoptrace::bench::{HaircutInput, Synthetic};

fn size(var: &str, default: usize) -> usize {
    match std::env::var(var) {
        Ok(v) => v
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| panic!("{var}={v:?} is not a positive integer")),
        Err(_) => default,
    }
}

/// `HOPTRACE_HUGE_POOL`, read as the command line reads it.
fn huge_pool() -> bool {
    let v = std::env::var("HOPTRACE_HUGE_POOL").unwrap_or_default();
    match v.to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" | "n" | "f" => false,
        "1" | "true" | "yes" | "on" | "y" | "t" => true,
        _ => panic!("HOPTRACE_HUGE_POOL={v:?} is neither true nor false"),
    }
}

fn haircut(c: &mut Criterion) {
    let params = Synthetic {
        transfers: size("HOPTRACE_BENCH_TRANSFERS", 50_000_000),
        addresses: size("HOPTRACE_BENCH_ADDRESSES", 5_000_000),
        seeds: 1_000,
        rng_seed: 42,
        assets: 2,
    };
    // Warnings (a pool without room) on stderr.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .try_init();
    let pool = huge_pool();
    hoptrace::pool::use_huge_pool(pool);
    let input = HaircutInput::new(params);
    let haircut = input.haircut();
    let name = format!(
        "haircut/{}M transfers, {}M addresses, 2 assets{}",
        params.transfers as f64 / 1e6,
        params.addresses as f64 / 1e6,
        if pool { ", huge page pool" } else { "" }
    );
    c.bench_function(&name, |b| b.iter(|| haircut.run(black_box(&input.flows))));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    targets = haircut
}
criterion_main!(benches);
