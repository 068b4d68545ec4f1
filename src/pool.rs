//! Large arrays of per-address state taken from the kernel's pool of huge pages
//! (hugetlbfs, `vm.nr_hugepages`) when the process is asked to
//! ([`use_huge_pool`]; `--huge-pool` or `HOPTRACE_HUGE_POOL`) and the pool has
//! room, else from the heap as usual.
//!
//! Why: the haircut makes about 128 bytes of state per address and asset (1.3 GB
//! in the 50 M-transfer benchmark) and reads it at random. Fresh heap memory costs
//! whatever the kernel and, under a hypervisor, the host take to back it: on the
//! project VM, which hands freed memory back to its host within seconds, 0.4 GB/s
//! a thread, so that a command's first haircut spent 1.5-4 s making its state
//! (README, "Sixteenth session"). Pages of the pool are set aside once, when the
//! pool is reserved, and never go back to the kernel's free lists, so the host
//! keeps backing them after their first use: 1.3 GB of them are made in about
//! 0.15 s. Being 2 MiB pages, they also spare the pass most of its TLB misses.
//! The pool is the machine owner's to reserve (README, "Huge page pool"); pages
//! some other program expects to find there are taken only when asked.
//!
//! A mapping from the pool reserves all its pages when it is made, so a pool
//! without room is known at once (the map fails) and the array then comes from the
//! heap: never a fault later.

use std::mem::MaybeUninit;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

use memmap2::{MmapMut, MmapOptions};

/// Whether large arrays of state are taken from the huge page pool.
static HUGE_POOL: AtomicBool = AtomicBool::new(false);

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

/// A growable-once array of plain values, from the huge page pool or the heap:
/// made with room for its values, filled through [`Lines::spare_mut`], then read
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
        let bytes = n.saturating_mul(std::mem::size_of::<T>());
        if HUGE_POOL.load(Ordering::Relaxed) && bytes >= POOL_MIN {
            match pool_map(bytes) {
                Ok(map) => {
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

    /// The slots past the length, up to the capacity.
    pub(crate) fn spare_mut(&mut self) -> &mut [MaybeUninit<T>] {
        match &mut self.backing {
            Backing::Heap(v) => v.spare_capacity_mut(),
            Backing::Pool {
                map, len, capacity, ..
            } => {
                let base = map.as_mut_ptr().cast::<MaybeUninit<T>>();
                // SAFETY: the mapping is at least `capacity` values long and
                // page-aligned (so aligned for `T`, whose alignment is at most a
                // line); the slots past `len` are not borrowed elsewhere, since
                // `&mut self` is held.
                unsafe { std::slice::from_raw_parts_mut(base.add(*len), *capacity - *len) }
            }
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
                // and the mapping is aligned for `T` (see `spare_mut`).
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
    const HUGE: usize = 2 << 20;
    if !cfg!(target_os = "linux") {
        return Err(std::io::Error::other("no huge page pool on this system"));
    }
    MmapOptions::new()
        .len(bytes.next_multiple_of(HUGE))
        .huge(Some(21))
        .map_anon()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Free pages in the huge page pool (0 where there is none).
    fn free_huge_pages() -> u64 {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix("HugePages_Free:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    fn filled(lines: &mut Lines<u64>, n: usize) {
        for (i, slot) in lines.spare_mut()[..n].iter_mut().enumerate() {
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
    /// it if the machine has one with room, and from the heap otherwise: either
    /// way it holds what was written. (Which one it came from depends on the
    /// machine's `vm.nr_hugepages`.)
    #[test]
    fn pool_or_heap_lines_hold_what_was_written() {
        // CI reserves a pool of 64 pages (`.ci/run`): where one has room to
        // spare (this array takes 5 pages, and the haircut's test may take up to
        // 20 at the same time), the array is in it.
        let room = free_huge_pages() >= 32;
        use_huge_pool(true);
        let n = POOL_MIN / 8 + 5;
        let mut lines = Lines::<u64>::with_capacity(n, |_| ());
        use_huge_pool(false);
        assert!(lines.in_pool() || !room, "the pool had room");
        filled(&mut lines, n);
        lines[n - 1] = 1;
        assert_eq!(
            (lines.len(), lines[3], lines[n - 2]),
            (n, 9, (n as u64 - 2) * 3)
        );
        assert_eq!(lines[n - 1], 1);
    }
}
