//! Writes the load-test data of `hoptrace serve` (see README, "Screening
//! server"): the synthetic transfers of `hoptrace bench` as CSV, its seeds as a
//! label CSV (category `sanctioned`, with the generator's `since` blocks), and a
//! list of addresses to screen: reached ones and not reached ones, shuffled. An
//! existing `transfers.csv` in DIR is kept (it takes minutes to write).
//!
//! `cargo run --release --example serve_data -- DIR [TRANSFERS [ADDRESSES [SEEDS]]]`
//! (defaults: 50 M transfers, 5 M addresses, 1000 seeds, as `hoptrace bench`).

use std::io::Write;
use std::path::PathBuf;

use hoptrace::bench::{Synthetic, synthetic_address, write_csv};
use hoptrace::transfer::lower_hex;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: serve_data DIR [TRANSFERS [ADDRESSES [SEEDS]]]");
        std::process::exit(2);
    };
    let mut number = |default: usize| -> usize {
        args.next()
            .map(|s| {
                s.replace('_', "").parse().unwrap_or_else(|_| {
                    eprintln!("serve_data: {s:?} is not a number");
                    std::process::exit(2)
                })
            })
            .unwrap_or(default)
    };
    let params = Synthetic {
        transfers: number(50_000_000),
        addresses: number(5_000_000),
        seeds: number(1000),
        rng_seed: 42,
        assets: 2,
    };
    std::fs::create_dir_all(&dir)?;
    let transfers = dir.join("transfers.csv");
    if transfers.exists() {
        eprintln!(
            "serve_data: keeping {} (delete it to regenerate)",
            transfers.display()
        );
    } else {
        write_csv(params, &transfers)?;
    }
    let mut labels = std::io::BufWriter::new(std::fs::File::create(dir.join("labels.csv"))?);
    writeln!(labels, "address,category,name,source,since_block")?;
    for (i, s) in params.starts().iter().enumerate() {
        writeln!(
            labels,
            "{},sanctioned,synthetic seed {i},synthetic-seeds,{}",
            lower_hex(&synthetic_address(s.node)),
            s.since
        )?;
    }
    labels.flush()?;
    // Addresses to screen: every 97th node (reached or not, as the graph has
    // them) and a tenth as many that are in no transfer.
    let mut rng = fastrand::Rng::with_seed(7);
    let mut screen: Vec<String> = (0..params.addresses as u32)
        .step_by(97)
        .map(|i| lower_hex(&synthetic_address(i)))
        .collect();
    let unknown = screen.len() / 10;
    screen.extend((0..unknown).map(|_| format!("0x{:040x}", rng.u128(..))));
    rng.shuffle(&mut screen);
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("addresses.txt"))?);
    for a in &screen {
        writeln!(out, "{a}")?;
    }
    out.flush()
}
