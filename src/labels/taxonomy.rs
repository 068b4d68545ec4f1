//! The one mapping from each source's own tags onto hoptrace's categories.
//!
//! Every reader calls one function here, so the table in the README and the code
//! agree by construction (the unit tests below walk the table). A tag that maps onto
//! nothing becomes [`Category::Other`]: it is stored with its original tag, counted
//! and reported by `import labels`, and is neither a seed nor a service.

use super::Category;

/// GraphSense TagPack `abuse` values (taxonomy "abuse").
pub fn graphsense_abuse(abuse: &str) -> Option<Category> {
    Some(match abuse.trim().to_ascii_lowercase().as_str() {
        "sanction" | "sanctioned" => Category::Sanctioned,
        "service_hack" | "hack" | "exploit" => Category::Hack,
        "ransomware" => Category::Ransomware,
        "darkweb" | "darknet" | "darknet_market" => Category::Darknet,
        "mixing_service" | "mixer" => Category::Mixer,
        "scam" | "investment_fraud" | "ponzi_scheme" | "pyramid_scheme" | "sextortion"
        | "giveaway" | "fraud" => Category::Scam,
        "phishing" => Category::Phishing,
        _ => return None,
    })
}

/// GraphSense TagPack `category` values (taxonomy "entity").
pub fn graphsense_category(category: &str) -> Option<Category> {
    Some(match category.trim().to_ascii_lowercase().as_str() {
        "mixing_service" | "coinjoin" => Category::Mixer,
        "exchange" => Category::Exchange,
        "bridge" | "defi_bridge" => Category::Bridge,
        "defi_dex" | "dex" => Category::Dex,
        "defi" | "defi_lending" | "defi_yield" => Category::Defi,
        _ => return None,
    })
}

/// Names of centralised exchanges as Etherscan labels write them.
const ETHERSCAN_EXCHANGES: [&str; 22] = [
    "exchange",
    "binance",
    "coinbase",
    "kraken",
    "huobi",
    "okx",
    "okex",
    "kucoin",
    "bitfinex",
    "bithumb",
    "bitstamp",
    "bittrex",
    "crypto-com",
    "ftx",
    "gate-io",
    "gemini",
    "poloniex",
    "upbit",
    "bybit",
    "bitmex",
    "hitbtc",
    "gemini-trust",
];

/// DEX protocols among Etherscan labels.
const ETHERSCAN_DEXES: [&str; 10] = [
    "dex",
    "uniswap",
    "sushiswap",
    "balancer",
    "curve-fi",
    "0x-protocol",
    "kyberswap",
    "bancor",
    "1inch",
    "dydx",
];

/// Other DeFi protocols among Etherscan labels.
const ETHERSCAN_DEFI: [&str; 8] = [
    "defi",
    "aave",
    "compound",
    "maker",
    "yearn-finance",
    "lido",
    "synthetix",
    "rocket-pool",
];

/// Etherscan label slugs (`combinedAccountLabels.json`, `etherscan_tags.csv`).
pub fn etherscan_label(label: &str) -> Option<Category> {
    let l = label.trim().to_ascii_lowercase();
    Some(match l.as_str() {
        "ofac-sanctions-lists" | "ofac-sanctioned" | "sanctioned" => Category::Sanctioned,
        "tornado-cash" | "ethereum-mixer" | "mixer" => Category::Mixer,
        "phish-hack" | "phishing" | "fake_phishing" => Category::Phishing,
        "heist" | "exploit" | "hack" => Category::Hack,
        "scam" | "ponzi" => Category::Scam,
        "bridge" => Category::Bridge,
        _ if l.ends_with("-hack") || l.ends_with("-exploit") || l.ends_with("-heist") => {
            Category::Hack
        }
        _ if l.ends_with("-scam") => Category::Scam,
        _ if ETHERSCAN_EXCHANGES.contains(&l.as_str()) => Category::Exchange,
        _ if ETHERSCAN_DEXES.contains(&l.as_str()) => Category::Dex,
        _ if ETHERSCAN_DEFI.contains(&l.as_str()) => Category::Defi,
        _ => return None,
    })
}

/// tutela `known_addresses.csv`: the `entity` column, else (for rows with
/// `legitimacy` 0, "illicit or suspicious") the `tags` column.
pub fn tutela(entity: &str, tags: &str, legitimacy: &str) -> Option<Category> {
    match entity.trim().to_ascii_lowercase().as_str() {
        "exchange" => return Some(Category::Exchange),
        "defi" => return Some(Category::Defi),
        "dex" => return Some(Category::Dex),
        "tornado" => return Some(Category::Mixer),
        _ => {}
    }
    if legitimacy.trim() != "0" {
        return None;
    }
    let t = tags.trim().to_ascii_lowercase();
    Some(match t.as_str() {
        "phish / hack" | "phishing" => Category::Phishing,
        "heist" | "compromised" => Category::Hack,
        "scamming" | "scam" | "ponzi" | "fake ico" | "spam token" => Category::Scam,
        _ if t.ends_with(" hack") || t.ends_with(" exploit") => Category::Hack,
        _ if t.ends_with(" scam") => Category::Scam,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphsense() {
        assert_eq!(graphsense_abuse("service_hack"), Some(Category::Hack));
        assert_eq!(graphsense_abuse("sanction"), Some(Category::Sanctioned));
        assert_eq!(graphsense_abuse("ponzi_scheme"), Some(Category::Scam));
        assert_eq!(graphsense_abuse("bad_coding"), None);
        assert_eq!(graphsense_category("mixing_service"), Some(Category::Mixer));
        assert_eq!(graphsense_category("defi_dex"), Some(Category::Dex));
        assert_eq!(graphsense_category("defi_lending"), Some(Category::Defi));
        assert_eq!(graphsense_category("user"), None);
    }

    #[test]
    fn etherscan() {
        assert_eq!(
            etherscan_label("ofac-sanctions-lists"),
            Some(Category::Sanctioned)
        );
        assert_eq!(etherscan_label("tornado-cash"), Some(Category::Mixer));
        assert_eq!(etherscan_label("upbit-hack"), Some(Category::Hack));
        assert_eq!(etherscan_label("binance"), Some(Category::Exchange));
        assert_eq!(etherscan_label("sushiswap"), Some(Category::Dex));
        assert_eq!(etherscan_label("blocked"), None);
        assert_eq!(etherscan_label("take-action"), None);
    }

    #[test]
    fn tutela_rows() {
        assert_eq!(tutela("exchange", "", "1"), Some(Category::Exchange));
        assert_eq!(tutela("tornado", "100 ETH", "1"), Some(Category::Mixer));
        assert_eq!(tutela("", "phish / hack", "0"), Some(Category::Phishing));
        assert_eq!(tutela("", "upbit hack", "0"), Some(Category::Hack));
        assert_eq!(tutela("", "scamming", "0"), Some(Category::Scam));
        assert_eq!(tutela("", "parity bug", "0"), None);
        assert_eq!(tutela("", "phishing", "1"), None);
    }
}
