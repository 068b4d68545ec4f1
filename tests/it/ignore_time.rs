//! `--ignore-time`: plain BFS hops, for comparison with tools that ignore block
//! order. The trap: A->B at block 10, B->C at block 5.

use crate::common::{hoptrace, import_both, write};

#[test]
fn ignore_time_reaches_what_time_order_forbids() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let (a, b, c) = (
        "0x00000000000000000000000000000000000000a1",
        "0x00000000000000000000000000000000000000b2",
        "0x00000000000000000000000000000000000000c3",
    );
    let transfers = write(
        dir.path(),
        "t.csv",
        &format!(
            "block,tx_hash,from,to,amount\n10,0x{:064x},{a},{b},5\n5,0x{:064x},{b},{c},5\n",
            1, 2
        ),
    );
    let labels = write(
        dir.path(),
        "l.csv",
        &format!("address,category\n{a},hack\n"),
    );
    import_both(&db, &transfers, &labels);
    let hops = |extra: &[&str]| -> Vec<String> {
        let out = hoptrace(&db)
            .args(["trace", "--direction", "downstream"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
            .collect()
    };
    let timed = vec![format!("{a},downstream,0"), format!("{b},downstream,1")];
    assert_eq!(hops(&[]), timed);
    let mut untimed = timed.clone();
    untimed.push(format!("{c},downstream,2"));
    assert_eq!(hops(&["--ignore-time"]), untimed);
}
