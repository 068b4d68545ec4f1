//! `hoptrace export transfers`: the canonical CSV that `import transfers` reads
//! back into the same store.

use crate::common::{hoptrace, write};
use crate::fetch::{export, fetch, parse_export};
use crate::fetch_node::Devnet;

/// A fetched chain, exported, imported into a new store and exported again, gives
/// the same bytes: same identities (tx hash, kind, index), timestamps and values.
#[test]
fn export_then_import_gives_the_same_store() {
    let node = Devnet::seeded();
    let dir = tempfile::tempdir().unwrap();
    let fetched = dir.path().join("fetched.db");
    fetch(&fetched, &node.url, &[]);
    let text = export(&fetched);
    let rows = parse_export(&text);
    assert_eq!(rows.len(), 71);
    let file = write(dir.path(), "transfers.csv", &text);
    let imported = dir.path().join("imported.db");
    hoptrace(&imported)
        .args(["import", "transfers"])
        .arg(&file)
        .assert()
        .success();
    assert_eq!(export(&imported), text);
    // `-o FILE` writes the same.
    let out = dir.path().join("out.csv");
    hoptrace(&fetched)
        .args(["export", "transfers", "-o"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
}

/// Hand-made rows with every field set come back unchanged, in key order.
#[test]
fn export_of_imported_rows_is_canonical() {
    let dir = tempfile::tempdir().unwrap();
    let a = "0x00000000000000000000000000000000000000aa";
    let b = "0x00000000000000000000000000000000000000bb";
    let usdt = "0xdac17f958d2ee523a2206206994597c13d831ec7";
    let h1 = format!("0x{}", "11".repeat(32));
    let h2 = format!("0x{}", "22".repeat(32));
    let file = write(
        dir.path(),
        "t.csv",
        &format!(
            "block,timestamp,tx_hash,kind,index,from,to,asset,amount\n\
             9,1700000108,{h2},erc20,7,{b},{a},{usdt},12500000\n\
             5,1700000060,{h1},internal,3,{a},{b},ETH,0\n\
             5,1700000060,{h1},native,0,{a},{b},ETH,1000000000000000000\n"
        ),
    );
    let db = dir.path().join("s.db");
    hoptrace(&db)
        .args(["import", "transfers"])
        .arg(&file)
        .assert()
        .success();
    assert_eq!(
        export(&db),
        format!(
            "block,timestamp,tx_hash,kind,index,from,to,asset,amount\n\
             5,1700000060,{h1},native,0,{a},{b},ETH,1000000000000000000\n\
             5,1700000060,{h1},internal,3,{a},{b},ETH,0\n\
             9,1700000108,{h2},erc20,7,{b},{a},{usdt},12500000\n"
        )
    );
    // No database: a clear error, and no file is created.
    let missing = dir.path().join("missing.db");
    let out = hoptrace(&missing)
        .args(["export", "transfers"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database at"));
    assert!(!missing.exists());
}
