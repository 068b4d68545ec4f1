//! Large arrays of per-address state taken from the kernel's pool of huge pages
//! (hugetlbfs, `vm.nr_hugepages`) when the process is asked to
//! ([`use_huge_pool`]; `--huge-pool` or `HOPTRACE_HUGE_POOL`) and the pool has
//! room, else from the heap as usual.
//!
//! Why: the haircut makes about 128 bytes of state per address and asset (1.3 GB
//! in the 50 M-transfer benchmark) and reads it at random. Fresh heap memory costs
//! whatever the kernel and, under a hypervisor, the host take to back it: on the
//! project VM, which hands freed memory back to its host within seconds, 0.4 GB/s a
//! thread, so that a command's first haircut spent 1.5-4 s making its state
//! (docs/haircut-log.md, "Sixteenth session"). Pages of the pool are set aside
//! once, when the pool is reserved, and never go back to the kernel's free lists,
//! so the host keeps backing them after their first use: 1.3 GB of them are made in
//! about 0.15 s. Being 2 MiB pages, they also spare the pass most of its TLB
//! misses. The pool is the machine owner's to reserve (README, "Huge page pool");
//! pages some other program expects to find there are taken only when asked.
//!
//! A mapping from the pool reserves all its pages when it is made, so a pool
//! without room is known at once (the map fails) and the array then comes from the
//! heap. (A hugetlb limit of a control group, `hugetlb.2MB.max`, is charged only
//! when a page is first touched: a process over it is killed then. Raise the
//! limit with the pool, or leave `--huge-pool` off.)

use std::mem::MaybeUninit;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

use memmap2::{MmapMut, MmapOptions};

use crate::graph::HUGE_PAGE;

/// Whether large arrays of state are taken from the huge page pool.
static HUGE_POOL: AtomicBool = AtomicBool::new(false);

/// Mappings made from the pool so far (for the tests).
#[cfg(test)]
pub(crate) static POOL_MAPS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// Arrays smaller than this come from the heap even when the pool is used: each
/// mapping from the pool takes whole 2 MiB pages.
pub(crate) const POOL_MIN: usize = 8 << 20;

/// Asks that large arrays of state (the haircut's) be taken from the kernel's
/// huge page pool when it has room (Linux; elsewhere the heap is used). Off by
/// default: the pool is reserved by the machine's owner, perhaps for another
/// program.
pub fn use_huge_pool(on: bool) {
    HUGE_POOL.store(on, Ordering::Relaxed);
}

/// An array of plain values of a fixed capacity, from the huge page pool or the heap:
/// made with room for its values, filled through [`Lines::cleared`], then read
/// and written as a slice.
pub(crate) struct Lines<T> {
    backing: Backing<T>,
}

enum Backing<T> {
    Heap(Vec<T>),
    Pool {
        map: MmapMut,
        len: usize,
        capacity: usize,
        _values: std::marker::PhantomData<T>,
    },
}

impl<T: Copy> Lines<T> {
    /// An empty array with room for `n` values: from the pool if it is used, the
    /// array is [`POOL_MIN`] bytes or more and the pool has room; otherwise from
    /// the heap, where `advise(&mut vec)` may advise the kernel on its memory.
    pub(crate) fn with_capacity(n: usize, advise: impl FnOnce(&mut Vec<T>)) -> Lines<T> {
        const {
            assert!(
                std::mem::align_of::<T>() <= 4096,
                "a mapping is page-aligned"
            )
        };
        let bytes = n.checked_mul(std::mem::size_of::<T>());
        if let Some(bytes) = bytes.filter(|&b| b >= POOL_MIN && HUGE_POOL.load(Ordering::Relaxed)) {
            match pool_map(bytes) {
                Ok(map) => {
                    assert!(map.len() >= bytes, "the mapping holds the array");
                    #[cfg(test)]
                    POOL_MAPS.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(mib = bytes >> 20, "state from the huge page pool");
                    return Lines {
                        backing: Backing::Pool {
                            map,
                            len: 0,
                            capacity: n,
                            _values: std::marker::PhantomData,
                        },
                    };
                }
                Err(e) => tracing::warn!(
                    mib = bytes >> 20,
                    error = %e,
                    "the huge page pool has no room for this state (see README, \
                     \"Huge page pool\"); it comes from ordinary memory"
                ),
            }
        }
        let mut v = Vec::with_capacity(n);
        advise(&mut v);
        Lines {
            backing: Backing::Heap(v),
        }
    }

    /// Empties the array and gives all the slots of its capacity, to be written
    /// and then kept with [`Lines::set_len`].
    pub(crate) fn cleared(&mut self) -> &mut [MaybeUninit<T>] {
        match &mut self.backing {
            Backing::Heap(v) => {
                v.clear();
                v.spare_capacity_mut()
            }
            Backing::Pool {
                map, len, capacity, ..
            } => {
                *len = 0;
                let base = map.as_mut_ptr().cast::<MaybeUninit<T>>();
                // SAFETY: the mapping is at least `capacity` values long
                // (`with_capacity` checks it) and page-aligned (so aligned for
                // `T`); no slot is borrowed elsewhere, since `&mut self` is held.
                unsafe { std::slice::from_raw_parts_mut(base, *capacity) }
            }
        }
    }

    /// How many values it has room for.
    pub(crate) fn capacity(&self) -> usize {
        match &self.backing {
            Backing::Heap(v) => v.capacity(),
            Backing::Pool { capacity, .. } => *capacity,
        }
    }

    /// Sets the length to `len`.
    ///
    /// # Safety
    /// `len` is at most the capacity, and every slot below it has been written.
    pub(crate) unsafe fn set_len(&mut self, new_len: usize) {
        match &mut self.backing {
            // SAFETY: as the caller promises.
            Backing::Heap(v) => unsafe { v.set_len(new_len) },
            Backing::Pool { len, capacity, .. } => {
                debug_assert!(new_len <= *capacity);
                *len = new_len;
            }
        }
    }

    /// Whether the values live in the huge page pool.
    #[cfg(test)]
    pub(crate) fn in_pool(&self) -> bool {
        matches!(self.backing, Backing::Pool { .. })
    }

    /// The values, and what keeps them alive: for [`crate::table::Table`].
    pub(crate) fn into_parts(self) -> Result<Vec<T>, (MmapMut, usize)> {
        match self.backing {
            Backing::Heap(v) => Ok(v),
            Backing::Pool { map, len, .. } => Err((map, len)),
        }
    }
}

impl<T> Default for Lines<T> {
    fn default() -> Lines<T> {
        Lines::from(Vec::new())
    }
}

impl<T> From<Vec<T>> for Lines<T> {
    fn from(v: Vec<T>) -> Lines<T> {
        Lines {
            backing: Backing::Heap(v),
        }
    }
}

impl<T> Deref for Lines<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match &self.backing {
            Backing::Heap(v) => v,
            Backing::Pool { map, len, .. } => {
                // SAFETY: the first `len` values have been written (`set_len`),
                // and the mapping is aligned for `T` (see `cleared`).
                unsafe { std::slice::from_raw_parts(map.as_ptr().cast::<T>(), *len) }
            }
        }
    }
}

impl<T> DerefMut for Lines<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.backing {
            Backing::Heap(v) => v,
            Backing::Pool { map, len, .. } => {
                // SAFETY: as in `deref`, with `&mut self` held.
                unsafe { std::slice::from_raw_parts_mut(map.as_mut_ptr().cast::<T>(), *len) }
            }
        }
    }
}

/// An anonymous mapping of `bytes` (rounded up to whole 2 MiB pages) from the
/// huge page pool. Fails when the pool has fewer free pages (or on systems
/// without one).
fn pool_map(bytes: usize) -> std::io::Result<MmapMut> {
    if !cfg!(target_os = "linux") {
        return Err(std::io::Error::other("no huge page pool on this system"));
    }
    let len = bytes
        .checked_next_multiple_of(HUGE_PAGE)
        .ok_or_else(|| std::io::Error::other("too large for the address space"))?;
    MmapOptions::new()
        .len(len)
        .huge(Some(HUGE_PAGE.trailing_zeros() as u8))
        .map_anon()
}

/// Runs `f` with the pool asked for, one such test at a time (the flag is the
/// process's), and gives back how many mappings it made from the pool.
#[cfg(test)]
pub(crate) fn with_pool<R>(f: impl FnOnce() -> R) -> (R, usize) {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = POOL_MAPS.load(Ordering::Relaxed);
    use_huge_pool(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    use_huge_pool(false);
    let made = POOL_MAPS.load(Ordering::Relaxed) - before;
    (
        result.unwrap_or_else(|e| std::panic::resume_unwind(e)),
        made,
    )
}

/// Whether the tests must find a pool with room: `.ci/run` sets
/// `HOPTRACE_TEST_POOL=1` once it has reserved one.
#[cfg(test)]
pub(crate) fn pool_required() -> bool {
    std::env::var("HOPTRACE_TEST_POOL").is_ok_and(|v| v == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Free pages of 2 MiB in the huge page pool, less those reserved by
    /// mappings not yet touched (0 where there is no pool).
    fn free_huge_pages() -> u64 {
        let read = |name: &str| -> u64 {
            std::fs::read_to_string(format!("/sys/kernel/mm/hugepages/hugepages-2048kB/{name}"))
                .ok()
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0)
        };
        read("free_hugepages").saturating_sub(read("resv_hugepages"))
    }

    fn filled(lines: &mut Lines<u64>, n: usize) {
        for (i, slot) in lines.cleared()[..n].iter_mut().enumerate() {
            slot.write(i as u64 * 3);
        }
        // SAFETY: `n` slots written just above.
        unsafe { lines.set_len(n) };
    }

    #[test]
    fn heap_lines_hold_what_was_written() {
        let mut lines = Lines::<u64>::with_capacity(1000, |_| ());
        assert!(!lines.in_pool());
        filled(&mut lines, 1000);
        lines[7] += 1;
        assert_eq!(
            (lines.len(), lines[0], lines[7], lines[999]),
            (1000, 0, 22, 2997)
        );
    }

    /// With the pool asked for, an array of `POOL_MIN` bytes or more comes from
    /// it if the machine has one with room (always in CI: `.ci/run` reserves one),
    /// and from the heap otherwise: either way it holds what was written.
    #[test]
    fn pool_or_heap_lines_hold_what_was_written() {
        let n = POOL_MIN / 8 + 5;
        let ((mut lines, room), made) = with_pool(|| {
            // Five pages; no other test takes any while this one holds the pool.
            let room = free_huge_pages() >= 5;
            (Lines::<u64>::with_capacity(n, |_| ()), room)
        });
        assert_eq!(lines.in_pool(), made == 1);
        if room || pool_required() {
            assert!(lines.in_pool(), "the pool had room");
        }
        filled(&mut lines, n);
        lines[n - 1] = 1;
        assert_eq!(
            (lines.len(), lines[3], lines[n - 2]),
            (n, 9, (n as u64 - 2) * 3)
        );
        assert_eq!(lines[n - 1], 1);
        // And as a table, as the haircut's results keep it.
        let table = crate::table::Table::from(lines);
        assert_eq!((table.len(), table[3], table[n - 1]), (n, 9, 1));
        let copy = table.clone();
        drop(table);
        assert_eq!((copy.len(), copy[3], copy[n - 1]), (n, 9, 1));
    }
}
