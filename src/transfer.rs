//! The transfer: one movement of value on an EVM chain, and the parsers that turn
//! text from the outside world into its typed fields.
//!
//! Every string that enters hoptrace passes through one of the `parse_*` functions
//! here exactly once, at the border; the store, the graph and the exposure code only
//! ever see `Address`, `U256`, `B256` and checked block numbers.

use std::fmt;
use std::str::FromStr;

use alloy_primitives::{Address, B256, U256};

/// The largest block number hoptrace accepts. The graph keeps blocks as `u32`, and
/// reserves `u32::MAX` as "not reached"; no EVM chain is near this height today.
pub const MAX_BLOCK: u32 = u32::MAX - 1;

/// Where a transfer comes from inside a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// The `value` of a successful top-level transaction.
    Native,
    /// A value-carrying call inside a transaction (traces), self-destructs included.
    Internal,
    /// An ERC-20 `Transfer(address,address,uint256)` log.
    Erc20,
}

impl Kind {
    /// The stable number used in the store.
    pub fn code(self) -> i64 {
        match self {
            Kind::Native => 0,
            Kind::Internal => 1,
            Kind::Erc20 => 2,
        }
    }

    /// Inverse of [`Kind::code`].
    pub fn from_code(code: i64) -> Option<Kind> {
        match code {
            0 => Some(Kind::Native),
            1 => Some(Kind::Internal),
            2 => Some(Kind::Erc20),
            _ => None,
        }
    }

    /// The name used in CSV and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Native => "native",
            Kind::Internal => "internal",
            Kind::Erc20 => "erc20",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "native" => Ok(Kind::Native),
            "internal" => Ok(Kind::Internal),
            "erc20" | "erc-20" => Ok(Kind::Erc20),
            _ => Err(FieldError::new(format!(
                "unknown kind {s:?}: expected native, internal or erc20"
            ))),
        }
    }
}

/// What moved: the chain's native coin or an ERC-20 token contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Asset {
    /// The native coin, written `ETH` whatever the chain.
    Eth,
    /// A token, by its contract address.
    Token(Address),
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Asset::Eth => f.write_str("ETH"),
            Asset::Token(a) => write!(f, "{}", lower_hex(a)),
        }
    }
}

/// Parses `ETH` (any case) or a token contract address.
pub fn parse_asset(s: &str) -> Result<Asset, FieldError> {
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("eth") {
        return Ok(Asset::Eth);
    }
    parse_address(t).map(Asset::Token)
}

/// One movement of value. Its identity is `(tx_hash, kind, index)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Block number.
    pub block: u32,
    /// Block timestamp, unix seconds, when known.
    pub timestamp: Option<i64>,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Native, internal or ERC-20.
    pub kind: Kind,
    /// Position within the transaction for this kind.
    pub index: u32,
    /// Sender.
    pub from: Address,
    /// Receiver.
    pub to: Address,
    /// What moved.
    pub asset: Asset,
    /// How much, in base units (wei for ETH).
    pub amount: U256,
}

/// Why one field could not be parsed. The caller adds the file, line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FieldError(pub String);

impl FieldError {
    fn new(msg: impl Into<String>) -> Self {
        FieldError(msg.into())
    }
}

/// Writes an address as lowercase `0x` hex, the form every machine format uses.
pub fn lower_hex(a: &Address) -> String {
    format!("0x{}", hex::encode(a.as_slice()))
}

/// Parses `0x` + 40 hex digits. All-lowercase and all-uppercase are accepted as they
/// are; a mixed-case address must pass its EIP-55 checksum.
pub fn parse_address(s: &str) -> Result<Address, FieldError> {
    let t = s.trim();
    let digits = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .ok_or_else(|| {
            FieldError::new(format!("{t:?} is not an address: it must start with 0x"))
        })?;
    if digits.len() != 40 {
        return Err(FieldError::new(format!(
            "{t:?} is not an address: expected 40 hex digits after 0x, found {}",
            digits.len()
        )));
    }
    let mut bytes = [0u8; 20];
    if hex::decode_to_slice(digits, &mut bytes).is_err() {
        let bad = digits
            .chars()
            .find(|c| !c.is_ascii_hexdigit())
            .unwrap_or('?');
        return Err(FieldError::new(format!(
            "{t:?} is not an address: {bad:?} is not a hex digit"
        )));
    }
    let has_lower = digits.bytes().any(|c| c.is_ascii_lowercase());
    let has_upper = digits.bytes().any(|c| c.is_ascii_uppercase());
    let address = Address::from(bytes);
    if has_lower && has_upper {
        let expected = address.to_checksum(None);
        if expected[2..] != *digits {
            return Err(FieldError::new(format!(
                "{t:?} fails its EIP-55 checksum (expected {expected}); write it all lowercase to skip the check"
            )));
        }
    }
    Ok(address)
}

/// Parses `0x` + 64 hex digits.
pub fn parse_tx_hash(s: &str) -> Result<B256, FieldError> {
    let t = s.trim();
    let digits = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .ok_or_else(|| FieldError::new(format!("{t:?} is not a tx hash: it must start with 0x")))?;
    let mut bytes = [0u8; 32];
    if digits.len() != 64 || hex::decode_to_slice(digits, &mut bytes).is_err() {
        return Err(FieldError::new(format!(
            "{t:?} is not a tx hash: expected 0x and 64 hex digits"
        )));
    }
    Ok(B256::from(bytes))
}

/// Parses a block number: a non-negative decimal integer up to [`MAX_BLOCK`]
/// (hex with `0x` is accepted too, as nodes write it).
pub fn parse_block(s: &str) -> Result<u32, FieldError> {
    let t = s.trim();
    let parsed = match t.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => t.parse::<u64>().ok(),
    };
    match parsed {
        Some(b) if b <= u64::from(MAX_BLOCK) => Ok(b as u32),
        Some(_) => Err(FieldError::new(format!(
            "block {t} is above the largest supported block {MAX_BLOCK}"
        ))),
        None => Err(FieldError::new(format!(
            "{t:?} is not a block number: expected a non-negative integer"
        ))),
    }
}

/// Parses a small non-negative integer (a log index or position in a transaction).
pub fn parse_index(s: &str) -> Result<u32, FieldError> {
    let t = s.trim();
    t.parse::<u32>().map_err(|_| {
        FieldError::new(format!(
            "{t:?} is not an index: expected a non-negative integer"
        ))
    })
}

/// Parses an amount in base units: a non-negative decimal integer up to 2^256-1.
pub fn parse_amount(s: &str) -> Result<U256, FieldError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(FieldError::new("amount is empty"));
    }
    if t.starts_with('-') {
        return Err(FieldError::new(format!("amount {t} is negative")));
    }
    if let Some(h) = t.strip_prefix("0x") {
        return U256::from_str_radix(h, 16)
            .map_err(|_| FieldError::new(format!("{t:?} is not a hex amount up to 2^256-1")));
    }
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(format!(
            "{t:?} is not an amount: expected a non-negative integer in base units"
        )));
    }
    U256::from_str_radix(t, 10)
        .map_err(|_| FieldError::new(format!("amount {t} overflows 2^256-1")))
}

/// Parses a decimal amount in whole units (`1.5` ETH) into base units with
/// `decimals` places, exactly. Thousands separators (`,`) are ignored. Digits beyond
/// `decimals` places are an error, not silently rounded.
pub fn parse_decimal_units(s: &str, decimals: u8) -> Result<U256, FieldError> {
    let t: String = s.trim().chars().filter(|c| *c != ',').collect();
    if t.is_empty() {
        return Ok(U256::ZERO);
    }
    if t.starts_with('-') {
        return Err(FieldError::new(format!("amount {t} is negative")));
    }
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    let frac = frac.trim_end_matches('0');
    let valid = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if !valid(whole) || !valid(frac) || (whole.is_empty() && frac.is_empty() && !t.contains('0')) {
        return Err(FieldError::new(format!("{t:?} is not a decimal amount")));
    }
    if frac.len() > usize::from(decimals) {
        return Err(FieldError::new(format!(
            "{t:?} has more than {decimals} decimal places"
        )));
    }
    let mut digits = String::with_capacity(whole.len() + usize::from(decimals));
    digits.push_str(whole);
    digits.push_str(frac);
    for _ in frac.len()..usize::from(decimals) {
        digits.push('0');
    }
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(U256::ZERO);
    }
    U256::from_str_radix(digits, 10)
        .map_err(|_| FieldError::new(format!("amount {t} overflows 2^256-1")))
}

/// Parses a timestamp: unix seconds, or RFC 3339 (`2022-03-23T12:00:00Z`).
pub fn parse_timestamp(s: &str) -> Result<i64, FieldError> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<i64>() {
        return Ok(secs);
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.timestamp())
        .map_err(|_| {
            FieldError::new(format!(
                "{t:?} is not a timestamp: expected unix seconds or RFC 3339"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_case_rules() {
        let lower = "0x098b716b8aaf21512996dc57eb0615e2383e2f96";
        let a = parse_address(lower).unwrap();
        assert_eq!(lower_hex(&a), lower);
        let checksummed = a.to_checksum(None);
        assert_eq!(parse_address(&checksummed).unwrap(), a);
        assert_eq!(
            parse_address(&lower.to_uppercase().replace("0X", "0x")).unwrap(),
            a
        );
        // Flip the case of one letter: the checksum must fail.
        let mut broken: Vec<char> = checksummed.chars().collect();
        let i = broken
            .iter()
            .skip(2)
            .position(|c| c.is_ascii_alphabetic())
            .unwrap()
            + 2;
        broken[i] = if broken[i].is_ascii_uppercase() {
            broken[i].to_ascii_lowercase()
        } else {
            broken[i].to_ascii_uppercase()
        };
        let broken: String = broken.into_iter().collect();
        assert!(parse_address(&broken).unwrap_err().0.contains("EIP-55"));
        assert!(parse_address("0x1234").is_err());
        assert!(parse_address("098b716b8aaf21512996dc57eb0615e2383e2f96").is_err());
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("0").unwrap(), U256::ZERO);
        assert_eq!(
            parse_amount("1000000000000000000").unwrap(),
            U256::from(10u64.pow(18))
        );
        let max = U256::MAX.to_string();
        assert_eq!(parse_amount(&max).unwrap(), U256::MAX);
        let over = "115792089237316195423570985008687907853269984665640564039457584007913129639936";
        assert!(parse_amount(over).unwrap_err().0.contains("overflows"));
        assert!(parse_amount("-1").unwrap_err().0.contains("negative"));
        assert!(parse_amount("1.5").is_err());
        assert!(parse_amount("").is_err());
    }

    #[test]
    fn decimal_units() {
        assert_eq!(
            parse_decimal_units("1.5", 18).unwrap(),
            U256::from(15u64 * 10u64.pow(17))
        );
        assert_eq!(parse_decimal_units("0", 18).unwrap(), U256::ZERO);
        assert_eq!(
            parse_decimal_units("1,000.25", 6).unwrap(),
            U256::from(1_000_250_000u64)
        );
        assert!(parse_decimal_units("0.0000001", 6).is_err());
        assert!(parse_decimal_units("abc", 6).is_err());
    }

    #[test]
    fn blocks_and_times() {
        assert_eq!(parse_block("14442835").unwrap(), 14_442_835);
        assert_eq!(parse_block("0x10").unwrap(), 16);
        assert!(parse_block("-3").is_err());
        assert!(parse_block("4294967295").is_err());
        assert_eq!(parse_timestamp("1648000000").unwrap(), 1_648_000_000);
        assert_eq!(
            parse_timestamp("2022-03-23T00:00:00Z").unwrap(),
            1_647_993_600
        );
        assert!(parse_timestamp("yesterday").is_err());
    }
}
