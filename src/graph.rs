//! The transfer graph: a compact CSR (compressed sparse row) in both directions.
//!
//! Nodes are `u32` ids (the store's address id minus one). Every value-moving
//! transfer is an edge, parallel edges included. Each adjacency entry is one `u64`:
//! `key << 32 | neighbour`, and each node's entries are sorted, so that a binary
//! search finds the first edge usable after a given time.
//!
//! The key makes both directions the same problem for the exposure engine:
//! - out-edges (downstream, money flows forward): `key = block`;
//! - in-edges (upstream, followed backwards in time): `key = MAX_BLOCK - block`,
//!   so "earlier in the reversed walk" is again "smaller key".
//!
//! Memory: 8 bytes per edge per direction (16 per transfer), plus 16 bytes per node
//! for the two offset arrays, 20 for its address and 4 for the address index.

use alloy_primitives::Address;

use crate::transfer::MAX_BLOCK;

/// One direction's adjacency.
#[derive(Debug, Clone, Default)]
pub struct Adjacency {
    offsets: Vec<u64>,
    entries: Vec<u64>,
}

/// Packs a key and a neighbour into one adjacency entry.
#[inline]
pub fn pack(key: u32, node: u32) -> u64 {
    (u64::from(key) << 32) | u64::from(node)
}

/// The key of an entry.
#[inline]
pub fn key_of(entry: u64) -> u32 {
    (entry >> 32) as u32
}

/// The neighbour of an entry.
#[inline]
pub fn node_of(entry: u64) -> u32 {
    entry as u32
}

impl Adjacency {
    /// Builds from `(node, key, neighbour)` triples given twice by `fill`: once to
    /// count, once to place. Cost O(E log d) for the per-node sorts.
    fn build(nodes: usize, edges: usize, fill: impl Fn(&mut dyn FnMut(u32, u32, u32))) -> Adjacency {
        let mut offsets = vec![0u64; nodes + 1];
        fill(&mut |n, _, _| offsets[n as usize + 1] += 1);
        for i in 0..nodes {
            offsets[i + 1] += offsets[i];
        }
        let mut cursor: Vec<u64> = offsets[..nodes].to_vec();
        let mut entries = vec![0u64; edges];
        fill(&mut |n, key, other| {
            let c = &mut cursor[n as usize];
            entries[*c as usize] = pack(key, other);
            *c += 1;
        });
        drop(cursor);
        for i in 0..nodes {
            entries[offsets[i] as usize..offsets[i + 1] as usize].sort_unstable();
        }
        Adjacency { offsets, entries }
    }

    /// The sorted entries of `node`.
    #[inline]
    pub fn entries(&self, node: u32) -> &[u64] {
        let n = node as usize;
        &self.entries[self.offsets[n] as usize..self.offsets[n + 1] as usize]
    }

    /// Number of entries of `node`.
    #[inline]
    pub fn degree(&self, node: u32) -> usize {
        let n = node as usize;
        (self.offsets[n + 1] - self.offsets[n]) as usize
    }

    /// Bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * 8 + self.entries.capacity() * 8
    }
}

/// Which way value is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// From a seed forward in time: "received from".
    Downstream,
    /// To a seed backward in time: "sent to".
    Upstream,
}

impl Direction {
    /// The name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Downstream => "downstream",
            Direction::Upstream => "upstream",
        }
    }

    /// The adjacency key of a block in this direction.
    #[inline]
    pub fn key(self, block: u32) -> u32 {
        match self {
            Direction::Downstream => block,
            Direction::Upstream => MAX_BLOCK - block,
        }
    }

    /// The block of an adjacency key in this direction.
    #[inline]
    pub fn block(self, key: u32) -> u32 {
        // The map is its own inverse.
        self.key(key)
    }
}

/// The transfer graph.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    out: Adjacency,
    inn: Adjacency,
    addresses: Vec<Address>,
    /// Node ids sorted by address, for lookups.
    by_address: Vec<u32>,
}

impl Graph {
    /// Builds a graph over `addresses` (node id = index) from `(from, to, block)`
    /// edges. Panics if an edge names a node outside `addresses`: callers give ids
    /// that come from the same store.
    pub fn from_edges(addresses: Vec<Address>, edges: &[(u32, u32, u32)]) -> Graph {
        let n = addresses.len();
        let out = Adjacency::build(n, edges.len(), |f| {
            for &(from, to, block) in edges {
                f(from, Direction::Downstream.key(block), to);
            }
        });
        let inn = Adjacency::build(n, edges.len(), |f| {
            for &(from, to, block) in edges {
                f(to, Direction::Upstream.key(block), from);
            }
        });
        let mut by_address: Vec<u32> = (0..n as u32).collect();
        by_address.sort_unstable_by_key(|&i| addresses[i as usize]);
        Graph {
            out,
            inn,
            addresses,
            by_address,
        }
    }

    /// The adjacency followed in `direction`.
    #[inline]
    pub fn adjacency(&self, direction: Direction) -> &Adjacency {
        match direction {
            Direction::Downstream => &self.out,
            Direction::Upstream => &self.inn,
        }
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.addresses.len()
    }

    /// Number of edges (transfers).
    pub fn edge_count(&self) -> usize {
        self.out.entries.len()
    }

    /// The address of a node.
    pub fn address(&self, node: u32) -> Address {
        self.addresses[node as usize]
    }

    /// The node of an address, if the graph knows it. O(log n).
    pub fn node(&self, address: &Address) -> Option<u32> {
        self.by_address
            .binary_search_by(|&i| self.addresses[i as usize].cmp(address))
            .ok()
            .map(|pos| self.by_address[pos])
    }

    /// Total degree (in + out) of a node.
    pub fn degree(&self, node: u32) -> usize {
        self.out.degree(node) + self.inn.degree(node)
    }

    /// Bytes held by the graph's arrays.
    pub fn heap_bytes(&self) -> usize {
        self.out.heap_bytes()
            + self.inn.heap_bytes()
            + self.addresses.capacity() * 20
            + self.by_address.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csr_keeps_parallel_edges_sorted_by_block() {
        let addrs: Vec<Address> = (1..=3).map(Address::repeat_byte).collect();
        let g = Graph::from_edges(addrs, &[(0, 1, 9), (0, 1, 3), (0, 2, 5), (0, 1, 3), (2, 0, 1)]);
        let out: Vec<(u32, u32)> = g
            .adjacency(Direction::Downstream)
            .entries(0)
            .iter()
            .map(|&e| (key_of(e), node_of(e)))
            .collect();
        assert_eq!(out, vec![(3, 1), (3, 1), (5, 2), (9, 1)]);
        let inn: Vec<(u32, u32)> = g
            .adjacency(Direction::Upstream)
            .entries(1)
            .iter()
            .map(|&e| (Direction::Upstream.block(key_of(e)), node_of(e)))
            .collect();
        assert_eq!(inn, vec![(9, 0), (3, 0), (3, 0)]);
        assert_eq!(g.edge_count(), 5);
        assert_eq!(g.node(&Address::repeat_byte(3)), Some(2));
        assert_eq!(g.node(&Address::repeat_byte(7)), None);
        assert_eq!(g.degree(0), 5);
    }
}
