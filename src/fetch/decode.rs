//! From node answers to transfers: pure functions over alloy's rpc types, so that
//! recorded responses and a live node go through exactly the same code.
//!
//! Identities match what `import` gives the same movements (`(tx_hash, kind, index)`):
//! - native: the `value` of a successful top-level transaction (the receipt's
//!   status, or equally the top-level trace frame's error), creations included
//!   (the receiver is the receipt's `contractAddress`, the frame's created
//!   address); index 0. Zero-value transactions move nothing and are not stored.
//! - internal: each value-carrying call frame inside a transaction. `index` is the
//!   frame's position in the transaction's trace in pre-order (the top-level call is
//!   position 0), which is the order of both `trace_block` and a flattened
//!   `callTracer` tree, so the two sources give the same identities. A frame that
//!   errored (reverted) moves nothing, and neither does anything under it.
//!   `CALL` and `CREATE`/`CREATE2` move `value` to the callee or the new contract;
//!   `SELFDESTRUCT` moves the balance to the beneficiary; `DELEGATECALL`,
//!   `STATICCALL` and `CALLCODE` move nothing between accounts.
//! - ERC-20: each `Transfer(address,address,uint256)` log with exactly three topics
//!   and a 32-byte amount; `index` is the log's index in the block. ERC-721
//!   `Transfer` logs (four topics: the token id is indexed) are skipped: they are
//!   not fungible amounts.

use std::collections::HashMap;

use alloy::consensus::Transaction as _;
use alloy::network::{
    AnyRpcBlock, AnyTransactionReceipt, ReceiptResponse as _, TransactionResponse as _,
};
use alloy::rpc::types::Log;
use alloy::rpc::types::trace::geth::CallFrame;
use alloy::rpc::types::trace::parity::{Action, CallType, LocalizedTransactionTrace, TraceOutput};
use alloy_primitives::{Address, B256, U256, b256};

use crate::transfer::{Asset, Kind, MAX_BLOCK, Transfer};

/// `keccak256("Transfer(address,address,uint256)")`.
pub const TRANSFER_TOPIC: B256 =
    b256!("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

/// Why an answer cannot be turned into transfers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A transaction of the block has no receipt in the receipts answer.
    #[error("block {block}: transaction {tx} has no receipt in the node's answer")]
    MissingReceipt {
        /// The block.
        block: u64,
        /// The transaction.
        tx: B256,
    },
    /// The answer lacks a field the transfer needs.
    #[error("block {block}: {what}")]
    Missing {
        /// The block.
        block: u64,
        /// What is missing.
        what: String,
    },
    /// A block number hoptrace cannot store.
    #[error("block {0} is above the largest supported block {MAX_BLOCK}")]
    BlockTooHigh(u64),
    /// A geth trace is not a call frame.
    #[error("block {block}: transaction {tx}: callTracer frame does not decode: {detail}")]
    Frame {
        /// The block.
        block: u64,
        /// The transaction (position if the node gave no hash).
        tx: String,
        /// The decoder's message.
        detail: String,
    },
}

fn block_u32(block: u64) -> Result<u32, DecodeError> {
    u32::try_from(block)
        .ok()
        .filter(|b| *b <= MAX_BLOCK)
        .ok_or(DecodeError::BlockTooHigh(block))
}

/// Native transfers of one block fetched with full transactions, given its receipts.
pub fn native(
    block: &AnyRpcBlock,
    receipts: &[AnyTransactionReceipt],
) -> Result<Vec<Transfer>, DecodeError> {
    let number = block.header.number;
    let timestamp = i64::try_from(block.header.timestamp).ok();
    let by_hash: HashMap<B256, &AnyTransactionReceipt> = receipts
        .iter()
        .map(|r| (r.inner.transaction_hash, r))
        .collect();
    let mut out = Vec::new();
    let Some(txs) = block.transactions.as_transactions() else {
        return Err(DecodeError::Missing {
            block: number,
            what: "the block came without full transactions".into(),
        });
    };
    for tx in txs {
        let value = tx.value();
        if value.is_zero() {
            continue;
        }
        let hash = tx.tx_hash();
        let receipt = by_hash.get(&hash).ok_or(DecodeError::MissingReceipt {
            block: number,
            tx: hash,
        })?;
        if !receipt.status() {
            continue;
        }
        let to = match tx.to() {
            Some(to) => to,
            None => receipt
                .inner
                .contract_address
                .ok_or_else(|| DecodeError::Missing {
                    block: number,
                    what: format!("creation {hash} has no contractAddress in its receipt"),
                })?,
        };
        out.push(Transfer {
            block: block_u32(number)?,
            timestamp,
            tx_hash: hash,
            kind: Kind::Native,
            index: 0,
            from: tx.from(),
            to,
            asset: Asset::Eth,
            amount: value,
        });
    }
    Ok(out)
}

/// The hashes of a block's transactions that carry a value: the ones whose
/// receipt (status) native decoding needs.
pub fn value_transactions(block: &AnyRpcBlock) -> Vec<B256> {
    let mut out = Vec::new();
    for tx in block.transactions.txns() {
        if !tx.value().is_zero() {
            out.push(tx.tx_hash());
        }
    }
    out
}

/// Internal transfers from a block's `trace_block` answer (Parity/OpenEthereum
/// format: erigon, reth, nethermind, anvil). `timestamp` is the block's.
pub fn parity_internal(
    traces: &[LocalizedTransactionTrace],
    block: u64,
    timestamp: Option<i64>,
) -> Result<Vec<Transfer>, DecodeError> {
    let mut out = Vec::new();
    let mut current: Option<B256> = None;
    let mut position = 0u32;
    // Trace addresses of the frames of the current transaction that errored.
    let mut failed: Vec<&[usize]> = Vec::new();
    for t in traces {
        // Block rewards have no transaction: not a transfer between accounts.
        let Some(hash) = t.transaction_hash else {
            continue;
        };
        if current != Some(hash) {
            current = Some(hash);
            position = 0;
            failed.clear();
        } else {
            position += 1;
        }
        let address = t.trace.trace_address.as_slice();
        if t.trace.error.is_some() {
            failed.push(address);
        }
        if address.is_empty() || failed.iter().any(|f| address.starts_with(f)) {
            continue;
        }
        out.extend(eth_moved(
            t,
            hash,
            block,
            timestamp,
            Kind::Internal,
            position,
        )?);
    }
    Ok(out)
}

/// Fills what old geth versions leave out of a frame (a `SELFDESTRUCT` frame of
/// the JavaScript callTracer is only `{"type": "SELFDESTRUCT"}`), so that alloy's
/// `CallFrame` decodes it: `from` is the caller's `to`, `input` empty.
fn normalize_frame(frame: &mut serde_json::Value, parent_to: Option<&serde_json::Value>) {
    let Some(obj) = frame.as_object_mut() else {
        return;
    };
    if !obj.contains_key("from")
        && let Some(p) = parent_to
    {
        obj.insert("from".into(), p.clone());
    }
    obj.entry("input")
        .or_insert_with(|| serde_json::Value::String("0x".into()));
    let to = obj.get("to").cloned();
    if let Some(calls) = obj.get_mut("calls").and_then(|c| c.as_array_mut()) {
        for c in calls {
            normalize_frame(c, to.as_ref());
        }
    }
}

/// One geth `debug_traceBlockByNumber` (`callTracer`) entry: `{txHash?, result}`
/// or `{txHash?, error}`, decoded into alloy's `CallFrame`.
pub fn geth_frame(entry: &serde_json::Value) -> Result<Option<CallFrame>, String> {
    let Some(mut result) = entry.get("result").cloned() else {
        return Ok(None);
    };
    normalize_frame(&mut result, None);
    serde_json::from_value::<CallFrame>(result)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Internal transfers from a block's `debug_traceBlockByNumber` answer with
/// `callTracer` (geth). `tx_hashes` are the block's transactions in order, for
/// nodes that do not put `txHash` in each entry.
pub fn geth_internal(
    entries: &[serde_json::Value],
    tx_hashes: &[B256],
    block: u64,
    timestamp: Option<i64>,
) -> Result<Vec<Transfer>, DecodeError> {
    let mut out = Vec::new();
    let number = block_u32(block)?;
    for (i, entry) in entries.iter().enumerate() {
        let hash = match entry.get("txHash").and_then(|h| h.as_str()) {
            Some(h) => h.parse::<B256>().map_err(|e| DecodeError::Frame {
                block,
                tx: h.to_string(),
                detail: e.to_string(),
            })?,
            None => *tx_hashes.get(i).ok_or_else(|| DecodeError::Missing {
                block,
                what: format!(
                    "{} traces but {} transactions, and the traces carry no txHash",
                    entries.len(),
                    tx_hashes.len()
                ),
            })?,
        };
        let frame = geth_frame(entry).map_err(|detail| DecodeError::Frame {
            block,
            tx: format!("{hash}"),
            detail,
        })?;
        // A transaction the tracer failed on gives `error` instead of `result`.
        let Some(frame) = frame else { continue };
        let mut position = 0u32;
        walk(&frame, true, false, &mut position, &mut |f, index| {
            out.push(Transfer {
                block: number,
                timestamp,
                tx_hash: hash,
                kind: Kind::Internal,
                index,
                from: f.0,
                to: f.1,
                asset: Asset::Eth,
                amount: f.2,
            });
        });
    }
    Ok(out)
}

/// Pre-order walk of a call tree; `emit` gets the value-moving frames that neither
/// errored nor sit under a frame that did, with their position.
fn walk(
    frame: &CallFrame,
    top: bool,
    parent_failed: bool,
    position: &mut u32,
    emit: &mut impl FnMut((Address, Address, U256), u32),
) {
    let failed = parent_failed || frame.error.is_some();
    let here = *position;
    *position += 1;
    if !top && !failed {
        let value = frame.value.unwrap_or_default();
        let moves = matches!(
            frame.typ.to_ascii_uppercase().as_str(),
            "CALL" | "CREATE" | "CREATE2" | "SELFDESTRUCT"
        );
        if moves
            && !value.is_zero()
            && let Some(to) = frame.to
        {
            emit((frame.from, to, value), here);
        }
    }
    for c in &frame.calls {
        walk(c, false, failed, position, emit);
    }
}

/// ERC-20 transfers from `eth_getLogs` answers. `timestamps` gives each block's
/// time when the logs do not carry `blockTimestamp`.
pub fn erc20(logs: &[Log], timestamps: &HashMap<u64, i64>) -> Result<Vec<Transfer>, DecodeError> {
    let mut out = Vec::new();
    for log in logs {
        let topics = log.topics();
        if log.removed
            || topics.len() != 3
            || topics[0] != TRANSFER_TOPIC
            || log.data().data.len() != 32
        {
            continue;
        }
        let block = log.block_number.ok_or_else(|| DecodeError::Missing {
            block: 0,
            what: "a log without blockNumber (pending?)".into(),
        })?;
        let missing = |what: &str| DecodeError::Missing {
            block,
            what: format!("a Transfer log without {what}"),
        };
        let tx_hash = log
            .transaction_hash
            .ok_or_else(|| missing("transactionHash"))?;
        let index = log.log_index.ok_or_else(|| missing("logIndex"))?;
        let timestamp = log
            .block_timestamp
            .and_then(|t| i64::try_from(t).ok())
            .or_else(|| timestamps.get(&block).copied());
        out.push(Transfer {
            block: block_u32(block)?,
            timestamp,
            tx_hash,
            kind: Kind::Erc20,
            index: u32::try_from(index).map_err(|_| missing("a log index below 2^32"))?,
            from: Address::from_word(topics[1]),
            to: Address::from_word(topics[2]),
            asset: Asset::Token(log.address()),
            amount: U256::from_be_slice(&log.data().data),
        });
    }
    Ok(out)
}

/// Native transfers from Parity traces (a block's `trace_block` or a
/// transaction's `trace_transaction`): each top-level frame's value when it did
/// not error (a failed transaction's top-level frame carries the error), the
/// receiver being the created contract for a creation. Same identities as
/// [`native`] (index 0); `fetch` uses it when it reads `trace_block` anyway,
/// the crawl because it finds transactions through `trace_filter`.
pub fn parity_native(
    traces: &[LocalizedTransactionTrace],
    block: u64,
    timestamp: Option<i64>,
) -> Result<Vec<Transfer>, DecodeError> {
    let mut out = Vec::new();
    for t in traces {
        let Some(hash) = t.transaction_hash else {
            continue;
        };
        if !t.trace.trace_address.is_empty() || t.trace.error.is_some() {
            continue;
        }
        out.extend(eth_moved(t, hash, block, timestamp, Kind::Native, 0)?);
    }
    Ok(out)
}

/// The ETH transfer a trace frame of transaction `hash` makes, when it moves
/// any: a call (not a delegate or static call, which move none of their own), a
/// contract creation that succeeded, or a self-destruct's refund. A transaction's
/// own top-level frame is a plain call or a creation. `block` is used when the
/// trace does not name its own.
fn eth_moved(
    t: &LocalizedTransactionTrace,
    hash: B256,
    block: u64,
    timestamp: Option<i64>,
    kind: Kind,
    index: u32,
) -> Result<Option<Transfer>, DecodeError> {
    let trace = &t.trace;
    let moved = match &trace.action {
        Action::Call(c) if matches!(c.call_type, CallType::Call | CallType::None) => {
            Some((c.from, c.to, c.value))
        }
        Action::Create(c) => match &trace.result {
            Some(TraceOutput::Create(o)) => Some((c.from, o.address, c.value)),
            _ => None,
        },
        Action::Selfdestruct(s) => Some((s.address, s.refund_address, s.balance)),
        _ => None,
    };
    let Some((from, to, amount)) = moved.filter(|m| !m.2.is_zero()) else {
        return Ok(None);
    };
    Ok(Some(Transfer {
        block: block_u32(t.block_number.unwrap_or(block))?,
        timestamp,
        tx_hash: hash,
        kind,
        index,
        from,
        to,
        asset: Asset::Eth,
        amount,
    }))
}
