//! Label lists: every format read from the real files in `../shared/data` (and the
//! OFAC-schema samples in `tests/corpus/labels/`), provenance kept in the store and
//! cited by `check`, the taxonomy, `labels stats` / `labels diff`, and bad input.
//!
//! Expected values were computed independently with Python over the same files
//! (json/csv/re modules), not with hoptrace.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::Value;
use tempfile::TempDir;

use crate::common::{hoptrace, ok, shared_data};

const RONIN_EXPLOITER: &str = "0x098b716b8aaf21512996dc57eb0615e2383e2f96";
const TORNADO_100_ETH: &str = "0xa160cdab225685da1d56aa342ad8841c3b53f291";

fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/labels")
        .join(rel)
}

fn ofac_2026() -> PathBuf {
    shared_data().join("ofac-thomasgregg/sanctioned-addresses.json")
}

fn ofac_2025() -> PathBuf {
    shared_data().join("ofac-thomasgregg/sanctioned-addresses_2025-02-28.json")
}

fn tagpack(name: &str) -> PathBuf {
    shared_data().join("graphsense-tagpacks").join(name)
}

/// Runs `import labels ARGS...` and returns stderr; panics on failure.
fn import(db: &Path, args: &[&str]) -> String {
    let out = hoptrace(db)
        .args(["import", "labels"])
        .args(args)
        .output()
        .expect("run");
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert!(out.status.success(), "import failed: {err}");
    err
}

/// Runs `import labels ARGS...`, expects status 1, returns stderr.
fn import_fails(db: &Path, args: &[&str]) -> String {
    let out = hoptrace(db)
        .args(["import", "labels"])
        .args(args)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "expected failure");
    assert!(out.stdout.is_empty());
    String::from_utf8(out.stderr).expect("utf-8")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn count(db: &Path, sql: &str) -> i64 {
    Connection::open(db)
        .expect("open")
        .query_row(sql, [], |r| r.get(0))
        .expect("query")
}

/// One label row of `address`: (category, list, version, tag, name, uid, program).
type Row = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn labels_of(db: &Path, address: &str) -> Vec<Row> {
    let conn = Connection::open(db).expect("open");
    let blob = hex::decode(address.trim_start_matches("0x")).expect("hex");
    let mut stmt = conn
        .prepare(
            "SELECT l.category, l.list, l.version, l.tag, l.name, l.uid, l.program
             FROM labels l JOIN addresses a ON a.id = l.address_id
             WHERE a.address = ?1 ORDER BY l.list, l.version, l.category",
        )
        .expect("prepare");
    stmt.query_map([blob], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })
    .expect("query")
    .map(|r| r.expect("row"))
    .collect()
}

fn check_json(db: &Path, address: &str) -> Value {
    let out = hoptrace(db)
        .args(["check", address, "--format", "json"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v[0].clone()
}

#[test]
fn ofac_json_2026_has_104_evm_addresses_with_version_and_skips_reported() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("l.db");
    let err = import(&db, &[p(&ofac_2026())]);
    assert!(
        err.contains("104 labels as ofac-json (list ofac-sdn, version 2026-08-20)"),
        "{err}"
    );
    // 961 addresses in the file, 104 EVM: the other 857 addresses (864 entries, an
    // address can have several) are reported, never silently dropped.
    assert!(err.contains("864 entries skipped"), "{err}");
    assert!(err.contains("non-EVM currency XBT (529)"), "{err}");
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM labels WHERE list = 'ofac-sdn' AND version = '2026-08-20' AND category = 'sanctioned'"
        ),
        104
    );
    // 98 addresses typed ETH and 6 typed USDT (top-level type); tags keep the
    // original OFAC type(s) of every entry: 8 addresses are listed (also) as USDT,
    // 4 of them only as USDT.
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM labels WHERE tag LIKE '%Digital Currency Address - USDT%'"
        ),
        8
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM labels WHERE tag NOT LIKE '%ETH%'"
        ),
        4
    );
}

#[test]
fn ofac_json_2025_holds_lazarus_and_tornado_with_uid_and_program() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("l.db");
    let err = import(&db, &[p(&ofac_2025())]);
    assert!(err.contains("157 labels as ofac-json"), "{err}");
    assert!(err.contains("version 2025-02-26"), "{err}");
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM labels WHERE name = 'LAZARUS GROUP' AND uid = '27307' AND program = 'DPRK3'"
        ),
        8
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM labels WHERE name = 'TORNADO CASH'"
        ),
        90
    );
    let exploiter = labels_of(&db, RONIN_EXPLOITER);
    assert_eq!(
        exploiter,
        vec![(
            "sanctioned".to_string(),
            "ofac-sdn".to_string(),
            "2025-02-26".to_string(),
            Some("Digital Currency Address - ETH".to_string()),
            Some("LAZARUS GROUP".to_string()),
            Some("27307".to_string()),
            Some("DPRK3".to_string()),
        )]
    );
    let pool = labels_of(&db, TORNADO_100_ETH);
    assert_eq!(pool.len(), 1);
    assert_eq!(pool[0].4.as_deref(), Some("TORNADO CASH"));
    // `check` cites the list, version and uid behind the seed.
    let c = check_json(&db, RONIN_EXPLOITER);
    assert_eq!(c["is_seed"], true);
    let sources = c["downstream"]["seed_sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0]["list"], "ofac-sdn");
    assert_eq!(sources[0]["version"], "2025-02-26");
    assert_eq!(sources[0]["uid"], "27307");
    assert_eq!(sources[0]["program"], "DPRK3");
    assert_eq!(sources[0]["entity"], "LAZARUS GROUP");
    assert_eq!(c["label_sources"][0]["uid"], "27307");
}

#[test]
fn sdn_xml_sdn_advanced_and_sdn_csv_samples_give_the_same_labels() {
    let dir = TempDir::new().unwrap();
    let xml_db = dir.path().join("x.db");
    let csv_db = dir.path().join("c.db");
    let err = import(&xml_db, &[p(&corpus("SDN.XML"))]);
    assert!(
        err.contains("4 labels as ofac-sdn-xml (list ofac-sdn, version 2025-02-26)"),
        "{err}"
    );
    assert!(
        err.contains("3 entries skipped: non-EVM currency XBT (2), non-EVM currency USDT (1)"),
        "{err}"
    );
    let err = import(&csv_db, &[p(&corpus("sdn.csv")), "--version", "2025-02-26"]);
    assert!(err.contains("4 labels as ofac-sdn-csv"), "{err}");
    assert!(err.contains("3 entries skipped"), "{err}");
    let xml = labels_of(&xml_db, RONIN_EXPLOITER);
    assert_eq!(xml, labels_of(&csv_db, RONIN_EXPLOITER));
    assert_eq!(xml[0].5.as_deref(), Some("27307"));
    // First and last name joined (XML), the SDN name as written (CSV).
    let x = labels_of(&xml_db, "0x04dba1194ee10112fe6c3207c0687def0e78bacf");
    let c = labels_of(&csv_db, "0x04dba1194ee10112fe6c3207c0687def0e78bacf");
    assert_eq!(
        x[0].4.as_deref(),
        Some("Alex Adrianus Martinus PEIJNENBURG")
    );
    assert_eq!(
        c[0].4.as_deref(),
        Some("PEIJNENBURG, Alex Adrianus Martinus")
    );
    assert_eq!(x[0].6.as_deref(), Some("ILLICIT-DRUGS-EO14059"));
    assert_eq!(c[0].6, x[0].6);
    // SDN_ADVANCED.XML (the same 3 entries in the advanced schema) gives exactly
    // the labels of SDN.XML: `labels diff` finds nothing.
    let adv_db = dir.path().join("a.db");
    let err = import(&adv_db, &[p(&corpus("SDN_ADVANCED.XML"))]);
    assert!(
        err.contains("4 labels as ofac-sdn-advanced-xml (list ofac-sdn, version 2025-02-26)"),
        "{err}"
    );
    assert!(
        err.contains("3 entries skipped: non-EVM currency XBT (2), non-EVM currency USDT (1)"),
        "{err}"
    );
    assert_eq!(labels_of(&adv_db, RONIN_EXPLOITER), xml);
    let out = hoptrace(&adv_db)
        .args([
            "labels",
            "diff",
            p(&corpus("SDN.XML")),
            p(&corpus("SDN_ADVANCED.XML")),
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("0 added, 0 removed, 0 recategorised, 0 changed"),
        "{err}"
    );
}

#[test]
fn tagpacks_map_onto_the_taxonomy() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("l.db");
    // ronin_bridge.yaml: 6 ETH tags, pack-level abuse service_hack.
    let err = import(&db, &[p(&tagpack("ronin_bridge.yaml"))]);
    assert!(
        err.contains(
            "6 labels as graphsense-tagpack (list graphsense-ronin_bridge, version 2022-04-05)"
        ),
        "{err}"
    );
    let r = labels_of(&db, RONIN_EXPLOITER);
    assert_eq!(r[0].0, "hack");
    assert_eq!(r[0].3.as_deref(), Some("abuse=service_hack"));
    assert_eq!(r[0].4.as_deref(), Some("Ronin bridge exploiter"));
    // tornado_cash.yaml: 39 tags, category mixing_service; 38 addresses (one is
    // listed twice, once with a trailing space).
    import(&db, &[p(&tagpack("tornado_cash.yaml"))]);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM labels WHERE list = 'graphsense-tornado_cash' AND category = 'mixer' AND tag = 'category=mixing_service'"
        ),
        38
    );
    // lazarus.yaml: abuse sanction; 1 ETH tag, 20 BTC tags skipped and reported.
    let err = import(&db, &[p(&tagpack("lazarus.yaml"))]);
    assert!(
        err.contains("20 entries skipped: non-EVM currency BTC (20)"),
        "{err}"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM labels WHERE list = 'graphsense-lazarus' AND category = 'sanctioned'"
        ),
        1
    );
    // etherscamdb: tag-level abuse (phishing; scam and investment_fraud -> scam);
    // 2,793 ETH tags give 2,058 distinct (address, category) labels.
    import(&db, &[p(&tagpack("etherscamdb_tagpack.yaml"))]);
    let by = |c: &str| {
        count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM labels WHERE list = 'graphsense-etherscamdb_tagpack' AND category = '{c}'"
            ),
        )
    };
    assert_eq!(
        (by("scam"), by("phishing")),
        (ETHERSCAMDB_SCAM, ETHERSCAMDB_PHISHING)
    );
    // ofac.yaml carries category `user` and no abuse: kept as `other`, reported.
    let err = import(&db, &[p(&tagpack("ofac.yaml"))]);
    assert!(
        err.contains("150 tags (1 distinct) map to no category and are stored as `other`: category=user (150)"),
        "{err}"
    );
}

/// Distinct ETH addresses per mapped abuse in etherscamdb_tagpack.yaml (Python with
/// PyYAML, tag-level fields over pack-level ones).
const ETHERSCAMDB_SCAM: i64 = 1506;
const ETHERSCAMDB_PHISHING: i64 = 552;

#[test]
fn two_lists_that_disagree_merge_into_a_union_with_each_source() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("l.db");
    import(&db, &[p(&ofac_2026())]);
    // 0xB10C's ETH list after the Tornado delisting: 96 addresses, all in the
    // thomasgregg list, which has 8 more (its USDT-typed and later additions).
    let b10c = shared_data().join("ofac-0xb10c/lists-17121db/sanctioned_addresses_ETH.txt");
    let err = import(
        &db,
        &[
            p(&b10c),
            "--category",
            "sanctioned",
            "--list",
            "ofac-0xb10c-eth",
        ],
    );
    assert!(
        err.contains("96 labels as address-list (list ofac-0xb10c-eth"),
        "{err}"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(DISTINCT address_id) FROM labels WHERE category = 'sanctioned'"
        ),
        104
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM labels"), 200);
    let c = check_json(&db, RONIN_EXPLOITER);
    let lists: Vec<&str> = c["downstream"]["seed_lists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(lists, ["ofac-0xb10c-eth", "ofac-sdn"]);
    let sources = c["downstream"]["seed_sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[1]["uid"], "27307");
    assert_eq!(sources[0]["uid"], Value::Null);
    // An address only thomasgregg has keeps one source.
    let only = labels_of(&db, "0x175d44451403edf28469df03a9280c1197adb92c");
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].1, "ofac-sdn");
    // The two versions of the same list coexist: 104 + 157 rows, 194 addresses.
    import(&db, &[p(&ofac_2025())]);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM labels WHERE list = 'ofac-sdn'"),
        104 + 157
    );
}

#[test]
fn etherscan_and_tutela_label_sets() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("l.db");
    let err = import(
        &db,
        &[p(&shared_data().join(
            "etherscan-labels-brianleect/combinedAccountLabels.json",
        ))],
    );
    assert!(
        err.contains("as etherscan-labels-json (list etherscan-labels, no version)"),
        "{err}"
    );
    assert!(
        err.contains("map to no category and are stored as `other`"),
        "{err}"
    );
    let r = labels_of(&db, RONIN_EXPLOITER);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].4.as_deref(), Some("Ronin Bridge Exploiter"));
    assert_eq!(r[0].0, "sanctioned");
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM labels WHERE list = 'etherscan-labels' AND category = 'sanctioned'"
        ),
        72
    );
    let err = import(
        &db,
        &[p(&shared_data().join("tutela-labels/known_addresses.csv"))],
    );
    // The file repeats its header at line 5258: that row is skipped and reported.
    assert!(
        err.contains("1 entries skipped: line 5258: column `address`: \"contractaddress\""),
        "{err}"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM labels WHERE list = 'tutela-known-addresses' AND category = 'exchange'"
        ),
        339 // 340 rows, one address twice
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM labels WHERE list = 'tutela-known-addresses' AND category = 'mixer'"
        ),
        8
    );
}

#[test]
fn bad_label_files_fail_with_file_and_line_or_field_and_store_nothing() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("l.db");
    import(&db, &[p(&corpus("SDN.XML"))]);
    let before = count(&db, "SELECT COUNT(*) FROM labels");
    let cases: [(&str, &[&str], &str); 5] = [
        (
            "bad_truncated_SDN.XML",
            &[],
            "bad_truncated_SDN.XML:27: malformed XML:",
        ),
        (
            "bad_non_evm_in_eth_SDN.XML",
            &[],
            "bad_non_evm_in_eth_SDN.XML:47: field `idNumber`: \"1dbvk8p6imbulcwh2vruis4xsub8yawjqf\" is not an EVM address (0x + 40 hex digits) but its currency is ETH",
        ),
        ("bad_syntax.yaml", &[], "bad_syntax.yaml:8: malformed YAML:"),
        (
            "bad_non_evm_address.yaml",
            &[],
            "bad_non_evm_address.yaml:tags[1]: field `address`: \"TNrEqDemMG1Ydd2m3AFdJEAkpLqghnCNQr\" is not an EVM address",
        ),
        (
            "SDN.XML",
            &["--format", "tagpack"],
            "SDN.XML: no `tags:` list: not a GraphSense TagPack",
        ),
    ];
    for (file, extra, expected) in cases {
        let path = corpus(file);
        let mut args = vec![p(&path)];
        args.extend_from_slice(extra);
        let err = import_fails(&db, &args);
        assert!(err.contains(expected), "{file}: {err}");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM labels"), before, "{file}");
    }
    // An address list without --category is refused, not guessed.
    let err = import_fails(
        &db,
        &[p(
            &shared_data().join("ofac-0xb10c/sanctioned_addresses_ETH.txt")
        )],
    );
    assert!(
        err.contains("an address list carries no category: give --category"),
        "{err}"
    );
    // An unknown category in a TagPack is kept as `other` with its tag, and reported.
    let err = import(&db, &[p(&corpus("unknown_category.yaml"))]);
    assert!(
        err.contains(
            "1 tags (1 distinct) map to no category and are stored as `other`: category=casino (1)"
        ),
        "{err}"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM labels WHERE category = 'other' AND tag = 'category=casino'"
        ),
        1
    );
    // ... and does not make the address a seed.
    let c = check_json(&db, RONIN_EXPLOITER);
    assert_eq!(c["label_sources"].as_array().unwrap().len(), 2);
}

#[test]
fn labels_diff_shows_the_tornado_delisting() {
    let dir = TempDir::new().unwrap();
    let out = hoptrace(&dir.path().join("unused.db"))
        .args([
            "labels",
            "diff",
            p(&ofac_2025()),
            p(&ofac_2026()),
            "--format",
            "csv",
        ])
        .output()
        .expect("run");
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    // Independently (Python): 157 and 104 EVM addresses, 67 in both; all 90
    // removed addresses are TORNADO CASH (uid 39796); 9 keep their category but
    // change program (8 Roman SEMENOV addresses lose CYBER2, Garantex gains CYBER4).
    assert!(
        err.contains("37 added, 90 removed, 0 recategorised, 9 changed"),
        "{err}"
    );
    assert!(
        err.contains("removed by entity: TORNADO CASH (90)"),
        "{err}"
    );
    assert!(err.contains("version 2025-02-26, 157 addresses"), "{err}");
    assert!(err.contains("version 2026-08-20, 104 addresses"), "{err}");
    let mut reader = csv::Reader::from_reader(&out.stdout[..]);
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "change",
            "address",
            "old_category",
            "new_category",
            "entity",
            "detail"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 37 + 90 + 9);
    let pool = rows
        .iter()
        .find(|r| &r[1] == TORNADO_100_ETH)
        .expect("the 100 ETH pool is in the diff");
    assert_eq!(
        (&pool[0], &pool[2], &pool[3], &pool[4]),
        ("removed", "sanctioned", "", "TORNADO CASH")
    );
    let garantex = rows
        .iter()
        .find(|r| &r[1] == "0x7ff9cfad3877f21d41da833e2f775db0569ee3d9")
        .expect("garantex");
    assert_eq!(
        &garantex[5],
        "program: RUSSIA-EO14024 -> CYBER4, RUSSIA-EO14024"
    );
    // The Lazarus addresses are unchanged: not in the diff.
    assert!(!rows.iter().any(|r| &r[1] == RONIN_EXPLOITER));
}

#[test]
fn labels_stats_counts_by_list_version_and_category() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("l.db");
    import(&db, &[p(&ofac_2025())]);
    import(&db, &[p(&ofac_2026())]);
    import(&db, &[p(&tagpack("ronin_bridge.yaml"))]);
    import(&db, &[p(&tagpack("ofac.yaml"))]);
    let out = hoptrace(&db)
        .args(["labels", "stats", "--format", "csv"])
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "list,version,category,labels,addresses\n\
         graphsense-ofac,2024-02-26,other,150,150\n\
         graphsense-ronin_bridge,2022-04-05,hack,6,6\n\
         ofac-sdn,2025-02-26,sanctioned,157,157\n\
         ofac-sdn,2026-08-20,sanctioned,104,104\n"
    );
}

/// Real mainnet transactions with block timestamps (ethereum-etl, blocks 3,300,000
/// to 3,302,204 on 2017-03-06), decompressed into `dir`.
fn raphtory_transactions(dir: &Path) -> PathBuf {
    use std::io::Read;
    let gz = std::fs::File::open(
        shared_data().join("raphtory-data/transactions_03300000_03399999_small.csv.gz"),
    )
    .expect("open");
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_string(&mut text)
        .expect("gunzip");
    let path = dir.join("transactions.csv");
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn since_date_becomes_a_block_through_stored_timestamps() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("l.db");
    // Labels only: no timestamps yet; the date is kept and the label counts from 0.
    let labels = dir.path().join("dated.csv");
    let seed = "0x942c4bc02dc8986215adc1ba2d27723fd4a98a8b";
    std::fs::write(
        &labels,
        format!(
            "address,category,name,source,since_date\n\
             {seed},hack,dated,test,2017-03-06T09:00:00Z\n\
             0x00000000000000000000000000000000000000a1,hack,exact,test,2017-03-06T06:58:30Z\n\
             0x00000000000000000000000000000000000000a2,hack,first,test,2017-03-06\n\
             0x00000000000000000000000000000000000000a3,hack,after,test,2017-03-07\n"
        ),
    )
    .unwrap();
    import(&db, &[p(&labels)]);
    let out = hoptrace(&db)
        .args(["check", seed, "--format", "json"])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("since_date 2017-03-06T09:00:00Z: no block timestamps are stored, so it cannot become a block; 1 label(s) keep the date and count from block 0"),
        "{err}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["label_sources"][0]["since_block"], Value::Null);
    assert_eq!(
        v[0]["label_sources"][0]["since_date"],
        "2017-03-06T09:00:00Z"
    );
    // With the transfers (and their block timestamps) stored. Expected blocks from
    // Python over the same file (rows with a receiver; creations are not stored).
    import_transfers(&db, &raphtory_transactions(dir.path()));
    let out = hoptrace(&db)
        .args(["check", seed, "--format", "json"])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    for line in [
        "since_date 2017-03-06 -> block 3300000 for 1 label(s) (approximate: it is the first stored block",
        "since_date 2017-03-06T06:58:30Z -> block 3300990 for 1 label(s) (exact: the block before it is stored and earlier)",
        "since_date 2017-03-06T09:00:00Z -> block 3301495 for 1 label(s) (approximate: blocks 3301494..3301494 are not stored",
        "since_date 2017-03-07 is after the last stored block 3302204: 1 label(s) count from block 3302205",
    ] {
        assert!(err.contains(line), "{line}\n{err}");
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["label_sources"][0]["since_block"], 3_301_495);
    assert_eq!(v[0]["is_seed"], true);
}

fn import_transfers(db: &Path, file: &Path) {
    ok(hoptrace(db).args(["import", "transfers", p(file)]));
}

#[test]
fn bundled_ofac_seeds_equal_the_list() {
    let dir = TempDir::new().unwrap();
    let seeds = crate::common::fixtures().join("seeds/ofac-sdn-evm.csv");
    let out = hoptrace(&dir.path().join("unused.db"))
        .args([
            "labels",
            "diff",
            p(&seeds),
            p(&ofac_2026()),
            "--format",
            "csv",
        ])
        .output()
        .expect("run");
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("0 added, 0 removed, 0 recategorised, 0 changed"),
        "{err}"
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "change,address,old_category,new_category,entity,detail\n"
    );
}

#[test]
fn a_store_without_labels_uses_the_bundled_seeds() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("l.db");
    // The real Tornado 0.1 ETH withdrawals to Roman SEMENOV's address (OFAC uid
    // 44718, on the 2026-08-20 list): 10 of the 57,243 derived withdrawals (Python).
    let semenov = "0xdcbeffbecce100cce9e4b153c4e15cb885643193";
    let pool = "0x12d66f87a04a9e220743712ce6d9bb1b5616b8fc";
    let mut reader = csv::Reader::from_path(
        shared_data().join("tornado-cash/DERIVED_tornado_withdrawals_mainnet.csv"),
    )
    .unwrap();
    let mut text = String::from("block,tx_hash,from,to,asset,amount,kind,index\n");
    let mut n = 0;
    for r in reader.deserialize::<std::collections::HashMap<String, String>>() {
        let r = r.unwrap();
        if r["to"].to_lowercase() == semenov && r["pool"] == "0.1 ETH" {
            let fee: u128 = r["fee"].parse().unwrap();
            text += &format!(
                "{},{},{},{},ETH,{},internal,0\n",
                r["block_number"],
                r["transaction_hash"],
                r["pool_address"],
                r["to"],
                100_000_000_000_000_000u128 - fee
            );
            n += 1;
        }
    }
    assert_eq!(n, 10);
    let transfers = dir.path().join("semenov.csv");
    std::fs::write(&transfers, text).unwrap();
    import_transfers(&db, &transfers);
    let out = hoptrace(&db)
        .args(["check", semenov, pool, "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("the store has no labels: using the 112 bundled seeds"),
        "{err}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["is_seed"], true);
    let source = &v[0]["upstream"]["seed_sources"][0];
    assert_eq!(source["list"], "ofac-sdn");
    assert_eq!(source["version"], "2026-08-20");
    assert_eq!(source["uid"], "44718");
    assert_eq!(source["entity"], "Roman SEMENOV");
    // The pool sent to the seed: 1 hop upstream, citing the same list.
    assert_eq!(v[1]["upstream_hops"], 1);
    assert_eq!(v[1]["upstream"]["seed"], semenov);
    assert_eq!(v[1]["upstream"]["seed_sources"][0]["version"], "2026-08-20");
    // Nothing was written to the store.
    assert_eq!(count(&db, "SELECT COUNT(*) FROM labels"), 0);
}

#[test]
fn each_file_is_one_transaction() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("l.db");
    // A good file, then a bad one whose first tag is good: the first file is kept
    // whole, nothing of the second (its good first tag included) is stored.
    let err = import_fails(
        &db,
        &[
            p(&tagpack("ronin_bridge.yaml")),
            p(&corpus("bad_non_evm_address.yaml")),
        ],
    );
    assert!(err.contains("ronin_bridge.yaml: 6 labels"), "{err}");
    assert!(err.contains("bad_non_evm_address.yaml:tags[1]"), "{err}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM labels"), 6);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM labels WHERE list <> 'graphsense-ronin_bridge'"
        ),
        0
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM sources"), 1);
    // Importing the same file again changes nothing.
    let err = import(&db, &[p(&tagpack("ronin_bridge.yaml"))]);
    assert!(err.contains("already imported; nothing changed"), "{err}");
    // Two versions of one list give one `labels` entry and two label sources.
    import(&db, &[p(&ofac_2025())]);
    import(&db, &[p(&ofac_2026())]);
    let c = check_json(&db, RONIN_EXPLOITER);
    assert_eq!(
        c["labels"],
        serde_json::json!(["hack:graphsense-ronin_bridge", "sanctioned:ofac-sdn"])
    );
    assert_eq!(c["label_sources"].as_array().unwrap().len(), 3);
    assert_eq!(c["downstream"]["seed_category"], "sanctioned");
    let versions: Vec<&str> = c["downstream"]["seed_sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["2022-04-05", "2025-02-26", "2026-08-20"]);
}

#[test]
fn etherscan_label_csvs() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("l.db");
    // brianleect's per-label scrapes: the label is the file's name.
    let accounts = shared_data().join("etherscan-labels-brianleect/accounts");
    let err = import(&db, &[p(&accounts.join("binance.csv"))]);
    assert!(err.contains("57 labels as etherscan-labels-csv"), "{err}");
    let err = import(&db, &[p(&accounts.join("ofac-sanctions-lists.csv"))]);
    assert!(err.contains("72 labels as etherscan-labels-csv"), "{err}");
    let by = |c: &str| {
        count(
            &db,
            &format!("SELECT COUNT(*) FROM labels WHERE category = '{c}'"),
        )
    };
    assert_eq!((by("exchange"), by("sanctioned")), (57, 72));
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM labels WHERE tag = 'binance' AND name = 'Binance'"
        ),
        1
    );
    // Raphtory's etherscan_tags.csv: the label in `family`. Distinct addresses per
    // mapped category (Python, addresses trimmed: some have a leading space).
    let db = dir.path().join("r.db");
    import(
        &db,
        &[p(&shared_data().join("raphtory-data/etherscan_tags.csv"))],
    );
    let by = |c: &str| {
        count(
            &db,
            &format!("SELECT COUNT(*) FROM labels WHERE category = '{c}'"),
        )
    };
    assert_eq!((by("phishing"), by("mixer"), by("hack")), (4903, 45, 851));
}
