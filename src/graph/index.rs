//! An index from address to node for callers that look up many addresses (the
//! screening server, `score`): a table of where each leading-bits prefix starts
//! in the address-sorted node list, so a lookup is one table read and a binary
//! search over a handful of entries instead of over all of them.
//!
//! Ethereum addresses are hash outputs, evenly spread over their leading bits;
//! vanity addresses that share a prefix only make their own bucket longer, and a
//! lookup within it is still a binary search.

use alloy_primitives::Address;

use super::Graph;

/// Where each prefix of `bits` leading bits starts among the graph's nodes sorted
/// by address.
#[derive(Debug, Clone)]
pub struct AddressIndex {
    bits: u32,
    /// `starts[p]..starts[p + 1]`: the positions in the sorted list whose address
    /// begins with prefix `p`.
    starts: Vec<u32>,
}

impl AddressIndex {
    /// Indexes `graph`'s addresses, about two per bucket (4 bytes per bucket).
    pub fn new(graph: &Graph) -> AddressIndex {
        let n = graph.by_address.len();
        let bits = (usize::BITS - n.leading_zeros())
            .saturating_sub(1)
            .clamp(1, 30);
        let mut starts = vec![0u32; (1usize << bits) + 1];
        // Count each prefix, then turn the counts into starting positions.
        for &node in &graph.by_address {
            starts[prefix(&graph.addresses[node as usize], bits) + 1] += 1;
        }
        for p in 1..starts.len() {
            starts[p] += starts[p - 1];
        }
        AddressIndex { bits, starts }
    }

    /// The node of `address` in `graph` (the graph this index was built from).
    pub fn node(&self, graph: &Graph, address: &Address) -> Option<u32> {
        let p = prefix(address, self.bits);
        let (from, to) = (self.starts[p] as usize, self.starts[p + 1] as usize);
        let bucket = graph.by_address.get(from..to)?;
        bucket
            .binary_search_by(|&i| graph.addresses[i as usize].cmp(address))
            .ok()
            .map(|pos| bucket[pos])
    }

    /// Bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.starts.capacity() * 4
    }
}

/// The leading `bits` bits of `address`.
fn prefix(address: &Address, bits: u32) -> usize {
    let mut lead = [0u8; 8];
    lead.copy_from_slice(&address.as_slice()[..8]);
    (u64::from_be_bytes(lead) >> (64 - bits)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn graph_of(addresses: &[Address]) -> Graph {
        let edges: Vec<(u32, u32, u32)> = (1..addresses.len() as u32).map(|i| (0, i, i)).collect();
        Graph::from_edges(addresses.to_vec(), &edges)
    }

    proptest! {
        /// The index finds exactly what the binary search over all nodes finds,
        /// for stored addresses and for others, including addresses crowded
        /// under one prefix (vanity addresses).
        #[test]
        fn index_agrees_with_the_full_search(
            seeds in proptest::collection::btree_set(any::<[u8; 20]>(), 1..300),
            crowded in 0usize..50,
            probes in proptest::collection::vec(any::<[u8; 20]>(), 0..50),
        ) {
            let mut addresses: Vec<Address> = seeds.iter().map(|b| Address::from(*b)).collect();
            // Vanity addresses: the same leading bytes.
            for i in 0..crowded {
                let mut b = [0u8; 20];
                b[19] = i as u8;
                b[18] = 1;
                let a = Address::from(b);
                if !addresses.contains(&a) {
                    addresses.push(a);
                }
            }
            let g = graph_of(&addresses);
            let index = AddressIndex::new(&g);
            for a in addresses.iter().chain(probes.iter().map(|b| Address::from(*b)).collect::<Vec<_>>().iter()) {
                prop_assert_eq!(index.node(&g, a), g.node(a));
            }
            for a in &addresses {
                let node = index.node(&g, a).expect("stored address found");
                prop_assert_eq!(g.address(node), *a);
            }
        }
    }

    #[test]
    fn an_empty_graph_finds_nothing() {
        let g = Graph::default();
        let index = AddressIndex::new(&g);
        assert_eq!(index.node(&g, &Address::repeat_byte(7)), None);
    }
}
