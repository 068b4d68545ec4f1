//! Recorded real mainnet JSON-RPC answers (`../shared/data/ethereum-etl-fixtures`
//! and `../shared/data/rpc-fixtures`, see SOURCES.md there) decoded by the same
//! functions the live fetch uses, checked against what the fixtures' own expected
//! outputs (ethereum-etl's CSV/JSON) imply.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use alloy::network::{AnyRpcBlock, AnyTransactionReceipt};
use alloy::rpc::types::Log;
use alloy::rpc::types::trace::parity::LocalizedTransactionTrace;
use alloy_primitives::{B256, U256, keccak256};
use hoptrace::fetch::decode;
use hoptrace::transfer::{Asset, Kind, Transfer, lower_hex};
use serde_json::Value;

use crate::common::shared_data;

fn etl(path: &str) -> PathBuf {
    shared_data().join("ethereum-etl-fixtures").join(path)
}

fn rpc_fixture(path: &str) -> PathBuf {
    shared_data().join("rpc-fixtures").join(path)
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `result` of a recorded JSON-RPC answer, decoded into an alloy type.
fn result<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    serde_json::from_value(json(path)["result"].clone())
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()))
}

/// A receipt recorded in 2016, before typed transactions (EIP-2718): nodes now
/// write `"type": "0x0"` for such receipts, this recording has no `type` field.
fn legacy_receipt(path: &Path) -> AnyTransactionReceipt {
    let mut r = json(path)["result"].clone();
    assert!(r.get("type").is_none());
    r["type"] = Value::String("0x0".into());
    serde_json::from_value(r).unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()))
}

/// (kind, tx, index, from, to, asset, amount) of a transfer, all as text.
fn shown(t: &Transfer) -> (String, String, u32, String, String, String, String) {
    (
        t.kind.to_string(),
        format!("{}", t.tx_hash),
        t.index,
        lower_hex(&t.from),
        lower_hex(&t.to),
        t.asset.to_string(),
        t.amount.to_string(),
    )
}

#[test]
fn native_transfers_of_a_recorded_block_with_its_receipts() {
    let dir = "test_stream/blocks_1755634_1755635";
    let block: AnyRpcBlock = result(&etl(&format!(
        "{dir}/web3_response.eth_getBlockByNumber_0x1ac9f3_true.json"
    )));
    let receipts: Vec<AnyTransactionReceipt> = [
        "0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d",
        "0x9a5437ec71b74ecf5930b406908ac6999966d38a86d1534b7190ece7599095eb",
    ]
    .iter()
    .map(|h| {
        legacy_receipt(&etl(&format!(
            "{dir}/web3_response.eth_getTransactionReceipt_{h}.json"
        )))
    })
    .collect();
    let got = decode::native(&block, &receipts).unwrap();
    // ethereum-etl's expected transactions: the one with a non-zero value.
    let text = std::fs::read_to_string(etl(&format!("{dir}/expected_transactions.json"))).unwrap();
    let want: Vec<_> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|t| t["value"].as_u64() != Some(0))
        .map(|t| {
            (
                "native".to_string(),
                t["hash"].as_str().unwrap().to_string(),
                0u32,
                t["from_address"].as_str().unwrap().to_string(),
                t["to_address"].as_str().unwrap().to_string(),
                "ETH".to_string(),
                t["value"].to_string(),
            )
        })
        .collect();
    assert_eq!(want.len(), 1);
    assert_eq!(got.iter().map(shown).collect::<Vec<_>>(), want);
    assert_eq!(got[0].block, 1_755_635);
    assert_eq!(got[0].timestamp, Some(1_466_669_562));
    // Without the receipts the status is unknown: an error, not a guess.
    assert!(matches!(
        decode::native(&block, &[]),
        Err(decode::DecodeError::MissingReceipt {
            block: 1_755_635,
            ..
        })
    ));
}

#[test]
fn erc20_transfers_of_recorded_logs_match_ethereum_etl() {
    let dir = "test_export_token_transfers_job/block_with_transfers";
    let logs: Vec<Log> = result(&etl(&format!(
        "{dir}/web3_response.eth_getFilterLogs_0x0.json"
    )));
    let got = decode::erc20(&logs, &HashMap::new()).unwrap();
    let mut reader =
        csv::Reader::from_path(etl(&format!("{dir}/expected_token_transfers.csv"))).unwrap();
    let want: Vec<_> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                "erc20".to_string(),
                r[4].to_string(),
                r[5].parse::<u32>().unwrap(),
                r[1].to_string(),
                r[2].to_string(),
                r[0].to_string(),
                r[3].to_string(),
            )
        })
        .collect();
    assert_eq!(want.len(), 2);
    assert_eq!(got.iter().map(shown).collect::<Vec<_>>(), want);
    assert!(
        got.iter()
            .all(|t| t.block == 483_920 && t.timestamp.is_none())
    );

    // The Transfer logs inside receipts (ethers-rs's mainnet block 17,451,262):
    // 2, 6 and 1 of them, by SOURCES.md; and the ERC-20 logs of block 1,755,635
    // against ethereum-etl's expected token transfers.
    for (file, count) in [("2", 2), ("6", 6), ("12", 1)] {
        let receipt: Value = json(&rpc_fixture(&format!(
            "ethers-rs/receipt-17451262-{file}.json"
        )));
        let receipt = if receipt.get("result").is_some() {
            receipt["result"].clone()
        } else {
            receipt
        };
        let logs: Vec<Log> = serde_json::from_value(receipt["logs"].clone()).unwrap();
        let got = decode::erc20(&logs, &HashMap::new()).unwrap();
        assert_eq!(got.len(), count, "receipt {file}");
        assert!(got.iter().all(|t| t.block == 17_451_262));
    }
    let dir = "test_stream/blocks_1755634_1755635";
    let receipt = legacy_receipt(&etl(&format!(
        "{dir}/web3_response.eth_getTransactionReceipt_0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d.json"
    )));
    let logs: Vec<Log> = receipt.inner.inner.logs().to_vec();
    let timestamps = HashMap::from([(1_755_635u64, 1_466_669_562i64)]);
    let got = decode::erc20(&logs, &timestamps).unwrap();
    let text =
        std::fs::read_to_string(etl(&format!("{dir}/expected_token_transfers.json"))).unwrap();
    let want: Vec<_> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|t| {
            (
                "erc20".to_string(),
                t["transaction_hash"].as_str().unwrap().to_string(),
                t["log_index"].as_u64().unwrap() as u32,
                t["from_address"].as_str().unwrap().to_string(),
                t["to_address"].as_str().unwrap().to_string(),
                t["token_address"].as_str().unwrap().to_string(),
                t["value"].to_string(),
            )
        })
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got.iter().map(shown).collect::<Vec<_>>(), want);
    assert!(got.iter().all(|t| t.timestamp == Some(1_466_669_562)));
}

/// The four blocks that ethereum-etl has in both formats: Parity `trace_block`
/// and geth `callTracer`.
const TRACED: [(&str, &str); 4] = [
    ("block_with_subtraces", "0xf4240"),
    ("block_with_create", "0xf44f2"),
    ("block_with_error", "0xf45bf"),
    ("block_with_suicide", "0xf7105"),
];

/// Native and internal transfers from recorded `trace_block` answers.
#[test]
fn internal_transfers_of_recorded_trace_block_answers() {
    let mut all = Vec::new();
    let mut natives = 0;
    for (dir, block) in TRACED {
        let traces: Vec<LocalizedTransactionTrace> = result(&etl(&format!(
            "test_export_traces_job/{dir}/web3_response.trace_block_{block}.json"
        )));
        let number = u64::from_str_radix(&block[2..], 16).unwrap();
        let got = decode::parity_internal(&traces, number, Some(1)).unwrap();
        // ethereum-etl's expected traces: value-moving rows below the top level
        // with status 1 (not reverted, nor under a reverted frame); calls only of
        // call type `call` (block_with_subtraces has a `callcode` to itself).
        let mut reader = csv::Reader::from_path(etl(&format!(
            "test_export_traces_job/{dir}/expected_traces.csv"
        )))
        .unwrap();
        let header = reader.headers().unwrap().clone();
        let col = |n: &str| header.iter().position(|h| h == n).unwrap();
        let mut want = Vec::new();
        let mut want_native = Vec::new();
        for r in reader.records() {
            let r = r.unwrap();
            // Top-level frames of successful transactions with a value: native.
            if r[col("trace_address")].is_empty()
                && !r[col("transaction_hash")].is_empty()
                && r[col("value")] != *"0"
                && &r[col("status")] == "1"
            {
                want_native.push((
                    r[col("transaction_hash")].to_string(),
                    r[col("from_address")].to_string(),
                    r[col("to_address")].to_string(),
                    r[col("value")].to_string(),
                ));
            }
            let moving = !r[col("trace_address")].is_empty()
                && r[col("value")] != *"0"
                && &r[col("status")] == "1"
                && (r[col("trace_type")] != *"call" || &r[col("call_type")] == "call");
            if moving {
                want.push((
                    r[col("from_address")].to_string(),
                    r[col("to_address")].to_string(),
                    r[col("value")].to_string(),
                ));
            }
        }
        let got_rows: Vec<_> = got
            .iter()
            .map(|t| (lower_hex(&t.from), lower_hex(&t.to), t.amount.to_string()))
            .collect();
        assert_eq!(got_rows, want, "block {block}");
        all.extend(got);
        let native: Vec<_> = decode::parity_native(&traces, number, None)
            .unwrap()
            .iter()
            .map(|t| {
                assert_eq!((t.kind, t.index), (Kind::Native, 0));
                (
                    format!("{}", t.tx_hash),
                    lower_hex(&t.from),
                    lower_hex(&t.to),
                    t.amount.to_string(),
                )
            })
            .collect();
        assert_eq!(native, want_native, "block {block}");
        natives += native.len();
    }
    // Native: 100 and 0.437 ETH (subtraces block), 64.66 ETH (create block: the
    // creation itself carries no value), 1.1 ETH (error block: the other
    // transaction ran out of gas and moved nothing); the self-destruct block's
    // call carries no value.
    assert_eq!(natives, 4);
    // Only the self-destruct moves value below the top level in these blocks:
    // 0.05 ETH from the destroyed contract to its beneficiary, at position 1.
    assert_eq!(all.len(), 1);
    let s = &all[0];
    assert_eq!(
        shown(s),
        (
            "internal".into(),
            "0x91acb43c5f141c393a189e091c190c9ffb20e4e8a502e4cc3087be9587bdbc89".into(),
            1,
            "0x474faa5018639791952fae334e2911700ac7fe9b".into(),
            "0x83973747eec131bf9a08ac64fb1a518e891bdf4b".into(),
            "ETH".into(),
            "50000000000000000".into()
        )
    );
    assert_eq!(s.block, 1_011_973);
}

#[test]
fn geth_call_tracer_answers_agree_with_trace_block() {
    for (dir, block) in TRACED {
        let number = u64::from_str_radix(&block[2..], 16).unwrap();
        let traces: Vec<LocalizedTransactionTrace> = result(&etl(&format!(
            "test_export_traces_job/{dir}/web3_response.trace_block_{block}.json"
        )));
        // This old geth gives no txHash: the block's transaction order does.
        let mut hashes: Vec<(u64, B256)> = traces
            .iter()
            .filter_map(|t| Some((t.transaction_position?, t.transaction_hash?)))
            .collect();
        hashes.dedup();
        let hashes: Vec<B256> = hashes.into_iter().map(|(_, h)| h).collect();
        let entries: Vec<Value> = serde_json::from_value(
            json(&etl(&format!(
                "test_extract_geth_traces_job/{dir}/web3_response.debug_traceBlockByNumber_{block}_tracer_calltracer.json"
            )))["result"]
                .clone(),
        )
        .unwrap();
        let geth = decode::geth_internal(&entries, &hashes, number, None).unwrap();
        let parity = decode::parity_internal(&traces, number, None).unwrap();
        if dir == "block_with_suicide" {
            // The JavaScript callTracer of 2016 wrote the self-destruct as a bare
            // `{"type": "SELFDESTRUCT"}`: no beneficiary, no amount, so nothing
            // can be stored from it. trace_block has both.
            assert_eq!((geth.len(), parity.len()), (0, 1));
        } else {
            assert_eq!(geth, parity, "block {block}");
        }
    }
}

/// geth's own tracer tests: the same transaction traced by `callTracer` and by
/// the flat (Parity-format) tracer gives the same internal transfers.
#[test]
fn geth_tracetest_call_and_flat_tracers_agree() {
    for name in [
        "simple",
        "delegatecall",
        "deep_calls",
        "inner_throw_outer_revert",
        "revert",
        "create",
    ] {
        let call = json(&rpc_fixture(&format!(
            "geth-tracetest/call_tracer/{name}.json"
        )));
        let flat = json(&rpc_fixture(&format!(
            "geth-tracetest/call_tracer_flat/{name}.json"
        )));
        let raw = hex::decode(call["input"].as_str().unwrap().trim_start_matches("0x")).unwrap();
        let hash = keccak256(&raw);
        let block: u64 = call["context"]["number"].as_str().unwrap().parse().unwrap();
        let entries = vec![serde_json::json!({"result": call["result"].clone()})];
        let geth = decode::geth_internal(&entries, &[hash], block, None).unwrap();
        // The flat fixtures carry no transaction hash: give each trace the one
        // of the transaction they trace.
        let mut flat_result = flat["result"].clone();
        // geth's flat tracer also keeps a partial `result` ({gasUsed} only) on
        // errored frames, where trace_block nodes give null: nothing moves there
        // either way.
        for t in flat_result.as_array_mut().unwrap() {
            t["transactionHash"] = Value::String(format!("{hash}"));
            t["blockNumber"] = Value::from(block);
            if t.get("error").is_some() {
                t["result"] = Value::Null;
            }
        }
        let traces: Vec<LocalizedTransactionTrace> = serde_json::from_value(flat_result).unwrap();
        let parity = decode::parity_internal(&traces, block, None).unwrap();
        assert_eq!(geth, parity, "{name}");
        if name == "simple" {
            // 0.5 ETH from the called contract to 0x0024f6…, the first call frame.
            assert_eq!(geth.len(), 1);
            assert_eq!(geth[0].index, 1);
            assert_eq!(geth[0].kind, Kind::Internal);
            assert_eq!(geth[0].asset, Asset::Eth);
            assert_eq!(
                lower_hex(&geth[0].to),
                "0x0024f658a46fbb89d8ac105e98d7ac7cbbaf27c5"
            );
            assert_eq!(geth[0].amount, U256::from(500_000_000_000_000_000u64));
        } else {
            // These move no value below the top level, or revert it.
            assert!(geth.is_empty(), "{name}: {geth:?}");
        }
    }
    // A self-destruct frame pays the contract's balance to the beneficiary.
    let call = json(&rpc_fixture("geth-tracetest/call_tracer/selfdestruct.json"));
    let raw = hex::decode(call["input"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    let entries = vec![serde_json::json!({"result": call["result"].clone()})];
    let got = decode::geth_internal(&entries, &[keccak256(&raw)], 1, None).unwrap();
    let frame = &call["result"]["calls"][0];
    assert_eq!(frame["type"], "SELFDESTRUCT");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].index, 1);
    assert_eq!(
        lower_hex(&got[0].from),
        frame["from"].as_str().unwrap().to_ascii_lowercase()
    );
    assert_eq!(
        lower_hex(&got[0].to),
        frame["to"].as_str().unwrap().to_ascii_lowercase()
    );
    assert_eq!(
        got[0].amount,
        U256::from_str_radix(
            frame["value"].as_str().unwrap().trim_start_matches("0x"),
            16
        )
        .unwrap()
    );
}

#[test]
fn a_recorded_post_london_block_decodes() {
    // 58 transactions of mainnet block 15,571,241 (legacy, EIP-2930 and EIP-1559
    // types) decode into alloy's block type; without receipts, native decoding
    // asks for them instead of guessing the status.
    let path = rpc_fixture("ethereumjs-blocks/infura15571241wtxns.json");
    let value = json(&path);
    let value = if value.get("result").is_some() {
        value["result"].clone()
    } else {
        value
    };
    let block: AnyRpcBlock = serde_json::from_value(value).unwrap();
    assert_eq!(block.header.number, 15_571_241);
    assert_eq!(block.transactions.len(), 58);
    assert!(matches!(
        decode::native(&block, &[]),
        Err(decode::DecodeError::MissingReceipt {
            block: 15_571_241,
            ..
        })
    ));
}
