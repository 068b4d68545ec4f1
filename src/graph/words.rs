//! An immutable array of `u64` words, built in memory or mapped from a snapshot
//! file. The graph's two big arrays per direction are `Words`, so that a graph
//! larger than memory can be searched straight from its snapshot: the kernel pages
//! in what the search touches.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use memmap2::Mmap;

/// Where the words live. The slice pointer is taken once, at construction, so
/// that reading a word costs what indexing a `Vec` costs.
pub(crate) struct Words {
    ptr: *const u64,
    len: usize,
    /// Keeps the memory alive: the vector, or the mapping.
    _owner: Owner,
}

enum Owner {
    Vec(Vec<u64>),
    Map(Arc<Mmap>),
}

// SAFETY: `Words` is an immutable view; the memory it points into is owned by
// `_owner` (a `Vec` that is never touched again, or a read-only mapping held by an
// `Arc`), so sharing or sending it is as safe as sharing a `&[u64]`.
unsafe impl Send for Words {}
// SAFETY: as above: nothing mutates the words after construction.
unsafe impl Sync for Words {}

impl Words {
    /// Words mapped from `map`: `len` words from byte `start`. `None` when the
    /// range is outside the mapping or not 8-byte aligned in memory.
    pub(crate) fn mapped(map: &Arc<Mmap>, start: usize, len: usize) -> Option<Words> {
        let bytes = map.get(start..start.checked_add(len.checked_mul(8)?)?)?;
        let words: &[u64] = bytemuck::try_cast_slice(bytes).ok()?;
        Some(Words {
            ptr: words.as_ptr(),
            len,
            _owner: Owner::Map(Arc::clone(map)),
        })
    }

    /// Whether the words are mapped from a file.
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self._owner, Owner::Map(_))
    }
}

impl From<Vec<u64>> for Words {
    fn from(v: Vec<u64>) -> Words {
        Words {
            ptr: v.as_ptr(),
            len: v.len(),
            _owner: Owner::Vec(v),
        }
    }
}

impl Default for Words {
    fn default() -> Words {
        Words::from(Vec::new())
    }
}

impl Deref for Words {
    type Target = [u64];

    fn deref(&self) -> &[u64] {
        // SAFETY: `ptr` and `len` describe memory owned by `_owner` (checked in
        // `mapped`, or taken from the vector), alive and unchanged for as long as
        // `self` is.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Clone for Words {
    fn clone(&self) -> Words {
        match &self._owner {
            Owner::Vec(v) => Words::from(v.clone()),
            Owner::Map(map) => Words {
                ptr: self.ptr,
                len: self.len,
                _owner: Owner::Map(Arc::clone(map)),
            },
        }
    }
}

impl fmt::Debug for Words {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Words({} words, {})",
            self.len,
            if self.is_mapped() { "mapped" } else { "owned" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_and_mapped_words_read_the_same() {
        let v: Vec<u64> = (0..1000).map(|i| i * 3 + 1).collect();
        let owned = Words::from(v.clone());
        assert_eq!(&owned[..], &v[..]);
        assert_eq!(&owned.clone()[..], &v[..]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w");
        let mut bytes = vec![0u8; 8];
        bytes.extend_from_slice(bytemuck::cast_slice(&v));
        std::fs::write(&path, &bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: the file is this test's own and nobody changes it while mapped.
        let map = Arc::new(unsafe { Mmap::map(&file) }.unwrap());
        let mapped = Words::mapped(&map, 8, v.len()).unwrap();
        assert!(mapped.is_mapped());
        assert_eq!(&mapped[..], &v[..]);
        assert_eq!(&mapped.clone()[..], &v[..]);
        // Out of range or misaligned: refused, never read.
        assert!(Words::mapped(&map, 8, v.len() + 1).is_none());
        assert!(Words::mapped(&map, 4, 10).is_none());
        assert!(Words::mapped(&map, usize::MAX - 3, 1).is_none());
    }
}
