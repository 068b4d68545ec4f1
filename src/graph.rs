//! The transfer graph: a compact CSR (compressed sparse row) in both directions.
//!
//! Nodes are `u32` ids, numbered by decreasing degree; `external_id` gives the
//! store's id (address id minus one) back. Every value-moving
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
//! for the two offset arrays, 20 for its address, 4 for the address index and 4
//! for the external id.

mod index;
mod snapshot;

pub use index::AddressIndex;
/// The graph's big arrays: owned, or mapped from a snapshot.
pub(crate) type Words = crate::table::Table<u64>;

use alloy_primitives::Address;

use crate::transfer::MAX_BLOCK;

/// A vector of `n` values from `f`, whose memory is first advised to the kernel as
/// wanting transparent huge pages. The search reads these arrays at random, and
/// with 4 KiB pages nearly every such read also misses the TLB; 2 MiB pages make
/// the large arrays cheap to address. Without support (other systems, or THP
/// disabled) this is an ordinary vector. Its memory is made resident in one call
/// before it is written (see [`populate`]).
pub(crate) fn huge_vec<T>(n: usize, f: impl FnMut(usize) -> T) -> Vec<T> {
    let mut v: Vec<T> = Vec::with_capacity(n);
    advise_hot(&mut v, n);
    extend_resident(&mut v, 0..n, f);
    v
}

/// Appends the values of `range` from `f` to `v`, whose capacity holds them, its
/// pages made resident in one call first (see [`populate`]).
pub(crate) fn extend_resident<T>(
    v: &mut Vec<T>,
    range: std::ops::Range<usize>,
    f: impl FnMut(usize) -> T,
) {
    debug_assert!(v.len() == range.start && range.end <= v.capacity());
    let (len, added) = (v.len(), range.len());
    fill_resident(&mut v.spare_capacity_mut()[..added], range.start, f);
    // SAFETY: the `added` slots past the length are within the capacity (the
    // slicing above panics otherwise) and have just been written.
    unsafe { v.set_len(len + added) };
}

/// Writes `f(first + i)` into each of `slots`, their pages made resident in one
/// call first (see [`populate`]).
pub(crate) fn fill_resident<T>(
    slots: &mut [std::mem::MaybeUninit<T>],
    first: usize,
    mut f: impl FnMut(usize) -> T,
) {
    populate(
        slots.as_mut_ptr().cast::<u8>(),
        std::mem::size_of_val(slots),
    );
    for (i, slot) in slots.iter_mut().enumerate() {
        slot.write(f(first + i));
    }
}

/// Advises the first `hot` values of `v`'s capacity as wanting huge pages, the
/// rest being left to ordinary pages. Nodes are numbered by decreasing degree,
/// so the first values of per-node state take most of the random reads: in huge
/// pages, they mostly hit the TLB, while the rest, in 4 KiB pages, are faster to
/// make resident the first time (on the project VM, fresh huge pages cost about
/// 2.8 ms of CPU per MB against about 0.4 for 4 KiB pages).
pub(crate) fn advise_hot<T>(v: &mut Vec<T>, hot: usize) {
    let bytes = hot.min(v.capacity()) * std::mem::size_of::<T>();
    advise_huge_pages(v.as_mut_ptr().cast::<u8>(), bytes);
}

/// Makes the whole pages among `len` bytes from `ptr` resident and writable now,
/// in one call (`MADV_POPULATE_WRITE`, Linux 5.14), rather than one page fault at
/// a time as they are first written. On the project VM, fresh 4 KiB pages become
/// resident at about 4.0 GB/s so, against 2.5 GB/s by first touch. Only for 256 KiB
/// or more (below that, the call saves little), which the haircut's 1 MiB slices
/// of state reach whatever their alignment; a kernel without it refuses the
/// advice, and the pages then fault in as usual.
#[cfg(target_os = "linux")]
fn populate(ptr: *mut u8, len: usize) {
    const PAGE: usize = 4096;
    let start = (ptr as usize).next_multiple_of(PAGE);
    let end = (ptr as usize + len) & !(PAGE - 1);
    if end >= start + (256 << 10) {
        // SAFETY: the range lies inside an allocation this process owns;
        // MADV_POPULATE_WRITE only faults its pages in, never changes contents.
        unsafe {
            libc::madvise(
                start as *mut libc::c_void,
                end - start,
                libc::MADV_POPULATE_WRITE,
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn populate(_ptr: *mut u8, _len: usize) {}

/// A vector of `n` zeros, taken zeroed from the allocator (for a large vector,
/// fresh pages from the kernel: nothing is written now, and each page is cleared
/// by whichever thread first touches it) and advised as wanting huge pages, as in
/// [`huge_vec`].
pub(crate) fn huge_zeroed<T: bytemuck::Zeroable>(n: usize) -> Vec<T> {
    let layout = std::alloc::Layout::array::<T>(n).expect("vector size overflows");
    if layout.size() == 0 {
        return Vec::new();
    }
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<T>();
    if ptr.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    advise_huge_pages(ptr.cast::<u8>(), layout.size());
    // SAFETY: `ptr` was allocated by the global allocator with the layout of `n`
    // values of `T`, all zero, which `Zeroable` says is a valid `T`.
    unsafe { Vec::from_raw_parts(ptr, n, n) }
}

/// The size of a huge page on x86-64 (and of the kernel's default pool).
pub(crate) const HUGE_PAGE: usize = 2 << 20;

#[cfg(target_os = "linux")]
fn advise_huge_pages(ptr: *mut u8, len: usize) {
    let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
    let end = (ptr as usize + len) & !(HUGE_PAGE - 1);
    if end > start {
        // SAFETY: the range lies inside an allocation this process owns; MADV_HUGEPAGE
        // only changes how the kernel backs it, never its contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_ptr: *mut u8, _len: usize) {}

/// The graph's node numbering of `n` ids with these `(from, to, block)` edges: by
/// decreasing degree (in + out), ties to the smaller id. Returns the ids in node
/// order (node -> id) and each id's node (id -> node).
pub fn numbering_by_degree(n: usize, edges: &[(u32, u32, u32)]) -> (Vec<u32>, Vec<u32>) {
    let mut degree = vec![0u32; n];
    for &(from, to, _) in edges {
        degree[from as usize] += 1;
        degree[to as usize] += 1;
    }
    let mut ids: Vec<u32> = (0..n as u32).collect();
    ids.sort_by_key(|&i| std::cmp::Reverse(degree[i as usize]));
    drop(degree);
    let mut nodes = vec![0u32; n];
    for (node, &id) in ids.iter().enumerate() {
        nodes[id as usize] = node as u32;
    }
    (ids, nodes)
}

/// One direction's adjacency.
#[derive(Debug, Clone, Default)]
pub struct Adjacency {
    offsets: Words,
    entries: Words,
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
    fn build(
        nodes: usize,
        edges: usize,
        fill: impl Fn(&mut dyn FnMut(u32, u32, u32)),
    ) -> Adjacency {
        let mut offsets = vec![0u64; nodes + 1];
        fill(&mut |n, _, _| offsets[n as usize + 1] += 1);
        for i in 0..nodes {
            offsets[i + 1] += offsets[i];
        }
        let mut cursor: Vec<u64> = offsets[..nodes].to_vec();
        let mut entries = huge_vec(edges, |_| 0u64);
        fill(&mut |n, key, other| {
            let c = &mut cursor[n as usize];
            entries[*c as usize] = pack(key, other);
            *c += 1;
        });
        drop(cursor);
        for i in 0..nodes {
            entries[offsets[i] as usize..offsets[i + 1] as usize].sort_unstable();
        }
        Adjacency {
            offsets: offsets.into(),
            entries: entries.into(),
        }
    }

    /// The sorted entries of `node`.
    #[inline]
    pub fn entries(&self, node: u32) -> &[u64] {
        let n = node as usize;
        &self.entries[self.offsets[n] as usize..self.offsets[n + 1] as usize]
    }

    /// Hints the CPU to load `node`'s offsets and the entries just below `pos`
    /// (relative to the node's first entry; `u32::MAX` for its end).
    #[inline]
    pub fn prefetch(&self, node: u32, pos: u32) {
        let n = node as usize;
        crate::exposure::prefetch(&self.offsets[n]);
        let start = self.offsets[n] as usize;
        let end = self.offsets[n + 1] as usize;
        let at = if pos == u32::MAX {
            end
        } else {
            start + pos as usize
        };
        if at > start {
            crate::exposure::prefetch(&self.entries[at - 1]);
        }
    }

    /// Number of entries of `node`.
    #[inline]
    pub fn degree(&self, node: u32) -> usize {
        let n = node as usize;
        (self.offsets[n + 1] - self.offsets[n]) as usize
    }

    /// Bytes held, in memory or mapped.
    pub fn heap_bytes(&self) -> usize {
        self.offsets.len() * 8 + self.entries.len() * 8
    }

    /// Whether the arrays are mapped from a snapshot file.
    pub fn is_mapped(&self) -> bool {
        self.entries.is_mapped()
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
    /// Per node, its external (store) id.
    external: Vec<u32>,
}

impl Graph {
    /// Builds a graph over `addresses` from `(from, to, block)` edges whose ends are
    /// *external* ids (indexes into `addresses`, i.e. store ids). Panics if an edge
    /// names an id outside `addresses`: callers give ids from the same store.
    ///
    /// Nodes are renumbered by decreasing degree, so that the hubs, which most
    /// edges point at, share a few cache lines at the front of every per-node
    /// array of the search; this alone makes the search several times faster on
    /// power-law graphs. `external_id` maps back.
    pub fn from_edges(addresses: Vec<Address>, edges: &[(u32, u32, u32)]) -> Graph {
        let n = addresses.len();
        let (external, internal) = numbering_by_degree(n, edges);
        // The two directions are independent: build them on two threads. Each
        // lists, per node, the nodes its edges lead to in that direction.
        let internal = &internal;
        let build = |direction: Direction| {
            Adjacency::build(n, edges.len(), |f| {
                for &(from, to, block) in edges {
                    let (node, other) = match direction {
                        Direction::Downstream => (from, to),
                        Direction::Upstream => (to, from),
                    };
                    f(
                        internal[node as usize],
                        direction.key(block),
                        internal[other as usize],
                    );
                }
            })
        };
        let (inn, out) = crate::join(
            || build(Direction::Upstream),
            || build(Direction::Downstream),
        );
        let mut addresses = addresses;
        let mut renumbered = Vec::with_capacity(n);
        renumbered.extend(external.iter().map(|&old| addresses[old as usize]));
        addresses = renumbered;
        let mut by_address: Vec<u32> = (0..n as u32).collect();
        by_address.sort_unstable_by_key(|&i| addresses[i as usize]);
        Graph {
            out,
            inn,
            addresses,
            by_address,
            external,
        }
    }

    /// The external (store) id of a node.
    pub fn external_id(&self, node: u32) -> u32 {
        self.external[node as usize]
    }

    /// Whether the adjacency arrays are mapped from a snapshot file.
    pub fn is_mapped(&self) -> bool {
        self.out.is_mapped()
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

    /// Every node, in the order of their addresses.
    pub fn nodes_by_address(&self) -> &[u32] {
        &self.by_address
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
            + self.external.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csr_keeps_parallel_edges_sorted_by_block() {
        let addrs: Vec<Address> = (1..=3).map(Address::repeat_byte).collect();
        let g = Graph::from_edges(
            addrs,
            &[(0, 1, 9), (0, 1, 3), (0, 2, 5), (0, 1, 3), (2, 0, 1)],
        );
        let id = |b: u8| g.node(&Address::repeat_byte(b)).unwrap();
        let (a, b, c) = (id(1), id(2), id(3));
        // Renumbered by degree: a (5) first, then b (3), then c (2).
        assert_eq!((a, b, c), (0, 1, 2));
        assert_eq!(g.external_id(c), 2);
        let out: Vec<(u32, u32)> = g
            .adjacency(Direction::Downstream)
            .entries(a)
            .iter()
            .map(|&e| (key_of(e), node_of(e)))
            .collect();
        assert_eq!(out, vec![(3, b), (3, b), (5, c), (9, b)]);
        let inn: Vec<(u32, u32)> = g
            .adjacency(Direction::Upstream)
            .entries(b)
            .iter()
            .map(|&e| (Direction::Upstream.block(key_of(e)), node_of(e)))
            .collect();
        assert_eq!(inn, vec![(9, a), (3, a), (3, a)]);
        assert_eq!(g.edge_count(), 5);
        assert_eq!(g.node(&Address::repeat_byte(7)), None);
        assert_eq!(g.degree(a), 5);
    }
}
