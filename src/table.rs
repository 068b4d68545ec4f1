//! Immutable arrays built in memory or mapped from one of hoptrace's cache files
//! (the graph snapshot, the computed results), and the reader and writer of such
//! files: a sequence of length-prefixed arrays, each starting on a fixed alignment,
//! so that the file can be memory-mapped and its arrays read in place.
//!
//! A mapped [`Table`] is how a graph or a result larger than memory is used: the
//! kernel pages in what a search or a lookup touches.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytemuck::{AnyBitPattern, NoUninit};
use memmap2::Mmap;

/// An immutable array of `T`, owned or mapped. The slice pointer is taken once,
/// at construction, so that reading an element costs what indexing a `Vec` costs.
pub(crate) struct Table<T> {
    ptr: *const T,
    len: usize,
    /// Keeps the memory alive: the vector, or the mapping.
    _owner: Owner<T>,
}

enum Owner<T> {
    Vec(Vec<T>),
    Map(Arc<Mmap>),
    /// Memory from the huge page pool ([`crate::pool`]), kept for its drop.
    Pool(#[allow(dead_code)] memmap2::MmapMut),
}

// SAFETY: `Table` is an immutable view; the memory it points into is owned by
// `_owner` (a `Vec` or a mapping of the huge page pool that is never touched
// again, or a read-only mapping held by an `Arc`), so sending or sharing it is as safe as sending or sharing a `&[T]`.
unsafe impl<T: Sync> Send for Table<T> {}
// SAFETY: as above: nothing mutates the elements after construction.
unsafe impl<T: Sync> Sync for Table<T> {}

impl<T: AnyBitPattern> Table<T> {
    /// `len` elements mapped from `map` at byte `start`. `None` when the range is
    /// outside the mapping or not aligned for `T` in memory.
    pub(crate) fn mapped(map: &Arc<Mmap>, start: usize, len: usize) -> Option<Table<T>> {
        let size = len.checked_mul(std::mem::size_of::<T>())?;
        let bytes = map.get(start..start.checked_add(size)?)?;
        let items: &[T] = bytemuck::try_cast_slice(bytes).ok()?;
        Some(Table {
            ptr: items.as_ptr(),
            len,
            _owner: Owner::Map(Arc::clone(map)),
        })
    }
}

impl<T> Table<T> {
    /// Whether the elements are mapped from a file.
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self._owner, Owner::Map(_))
    }
}

impl<T> From<Vec<T>> for Table<T> {
    fn from(v: Vec<T>) -> Table<T> {
        Table {
            ptr: v.as_ptr(),
            len: v.len(),
            _owner: Owner::Vec(v),
        }
    }
}

impl<T: Copy> From<crate::pool::Lines<T>> for Table<T> {
    fn from(lines: crate::pool::Lines<T>) -> Table<T> {
        match lines.into_parts() {
            Ok(v) => Table::from(v),
            // A mapping's memory stays where it is when the mapping is moved.
            Err((map, len)) => Table {
                ptr: map.as_ptr().cast::<T>(),
                len,
                _owner: Owner::Pool(map),
            },
        }
    }
}

impl<T> Default for Table<T> {
    fn default() -> Table<T> {
        Table::from(Vec::new())
    }
}

impl<T> Deref for Table<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` and `len` describe memory owned by `_owner` (checked in
        // `mapped`, or taken from the vector), alive and unchanged for as long as
        // `self` is.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl<'a, T> IntoIterator for &'a Table<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: Clone> Clone for Table<T> {
    fn clone(&self) -> Table<T> {
        match &self._owner {
            Owner::Vec(v) => Table::from(v.clone()),
            // The pool's pages are for making state; a copy goes to the heap.
            Owner::Pool(_) => Table::from(self.to_vec()),
            Owner::Map(map) => Table {
                ptr: self.ptr,
                len: self.len,
                _owner: Owner::Map(Arc::clone(map)),
            },
        }
    }
}

impl<T> fmt::Debug for Table<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Table({} x {} bytes, {})",
            self.len,
            std::mem::size_of::<T>(),
            if self.is_mapped() { "mapped" } else { "owned" }
        )
    }
}

/// Writes a table file: raw bytes, and arrays of plain values, each array a `u64`
/// length and then its elements starting at a multiple of `align` bytes from the
/// file's start (zero padding between).
pub(crate) struct TableWriter<W: Write> {
    w: W,
    written: usize,
    align: usize,
}

impl<W: Write> TableWriter<W> {
    /// A writer at the start of a file whose arrays are aligned to `align` bytes (a
    /// power of two, at least 8).
    pub(crate) fn new(w: W, align: usize) -> TableWriter<W> {
        debug_assert!(align.is_power_of_two() && align >= 8);
        TableWriter {
            w,
            written: 0,
            align,
        }
    }

    /// Writes `bytes` as they are.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.w.write_all(bytes)?;
        self.written += bytes.len();
        Ok(())
    }

    /// Writes a `u64`.
    pub(crate) fn u64(&mut self, v: u64) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    /// Zero bytes up to the next multiple of `to`.
    fn pad(&mut self, to: usize) -> io::Result<()> {
        const ZEROS: [u8; 64] = [0; 64];
        let mut rest = self.written.next_multiple_of(to) - self.written;
        while rest > 0 {
            let n = rest.min(ZEROS.len());
            self.bytes(&ZEROS[..n])?;
            rest -= n;
        }
        Ok(())
    }

    /// Writes `items` as an array: its length, then its elements, aligned.
    pub(crate) fn table<T: NoUninit>(&mut self, items: &[T]) -> io::Result<()> {
        self.pad(8)?;
        self.u64(items.len() as u64)?;
        self.pad(self.align)?;
        self.bytes(bytemuck::cast_slice(items))?;
        self.pad(8)
    }

    /// The writer underneath, to flush it.
    pub(crate) fn into_inner(self) -> W {
        self.w
    }
}

/// Reads what a [`TableWriter`] with the same alignment wrote, in the same order,
/// from a mapped file. `what` names the file in errors.
pub(crate) struct TableReader<'a> {
    map: &'a Arc<Mmap>,
    at: usize,
    align: usize,
    what: &'static str,
}

impl<'a> TableReader<'a> {
    /// A reader at byte `at` of `map`.
    pub(crate) fn new(
        map: &'a Arc<Mmap>,
        at: usize,
        align: usize,
        what: &'static str,
    ) -> TableReader<'a> {
        TableReader {
            map,
            at,
            align,
            what,
        }
    }

    /// The offset of the next byte to read.
    pub(crate) fn position(&self) -> usize {
        self.at
    }

    /// An error about the file, naming it.
    pub(crate) fn invalid(&self, msg: &str) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, format!("{}: {msg}", self.what))
    }

    fn skip_to(&mut self, to: usize) -> io::Result<()> {
        let next = self.at.next_multiple_of(to);
        if next > self.map.len() {
            return Err(self.invalid("truncated"));
        }
        self.at = next;
        Ok(())
    }

    /// The next `len` raw bytes.
    pub(crate) fn bytes(&mut self, len: usize) -> io::Result<&'a [u8]> {
        let map: &'a Mmap = self.map;
        let out = self
            .at
            .checked_add(len)
            .and_then(|end| map.get(self.at..end))
            .ok_or_else(|| self.invalid("truncated"))?;
        self.at += len;
        Ok(out)
    }

    /// The next `u64`.
    pub(crate) fn u64(&mut self) -> io::Result<u64> {
        let b = self.bytes(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// The next array, mapped in place.
    pub(crate) fn table<T: AnyBitPattern>(&mut self) -> io::Result<Table<T>> {
        self.skip_to(8)?;
        let len = usize::try_from(self.u64()?)
            .ok()
            .filter(|&l| l <= self.map.len())
            .ok_or_else(|| self.invalid("array longer than the file"))?;
        self.skip_to(self.align)?;
        let start = self.at;
        let size = len
            .checked_mul(std::mem::size_of::<T>())
            .ok_or_else(|| self.invalid("truncated"))?;
        self.bytes(size)?;
        self.skip_to(8).ok();
        Table::mapped(self.map, start, len).ok_or_else(|| self.invalid("misaligned array"))
    }
}

/// Removes the temporary files `path.tmp<PID>` left by writers that were killed
/// (their process is gone), so that interrupted writes do not pile up. Where
/// processes cannot be checked (no `/proc`), nothing is removed.
fn remove_stale_temporaries(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if !Path::new("/proc/self").exists() {
        return;
    }
    let prefix = format!("{}.tmp", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(pid) = file
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// One kind of cache file: its magic, format version, array alignment and name
/// (for errors). Every such file starts with the magic, the version and the key it
/// was written under; a file of another kind, version or key is not used.
pub(crate) struct CacheFile {
    pub(crate) magic: &'static [u8; 12],
    pub(crate) version: u32,
    pub(crate) align: usize,
    pub(crate) what: &'static str,
}

impl CacheFile {
    /// Writes `path` under `key`, the rest by `body`, through a temporary file of
    /// this process renamed into place (so a reader sees a whole file or the old
    /// one, and two writers never mix); with `sync`, the data is on disk before the
    /// rename.
    pub(crate) fn write(
        &self,
        path: &Path,
        key: &str,
        sync: bool,
        body: impl FnOnce(&mut TableWriter<BufWriter<File>>) -> io::Result<()>,
    ) -> io::Result<()> {
        remove_stale_temporaries(path);
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let written = (|| {
            let file = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
            let mut w = TableWriter::new(file, self.align);
            w.bytes(self.magic)?;
            w.bytes(&self.version.to_le_bytes())?;
            w.table(key.as_bytes())?;
            body(&mut w)?;
            let mut file = w.into_inner();
            file.flush()?;
            if sync {
                file.get_ref().sync_data()?;
            }
            Ok(())
        })();
        match written {
            Ok(()) => std::fs::rename(&tmp, path),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Maps `path` if it is a file of this kind written under `key`, with the
    /// offset where what `body` wrote begins; `Ok(None)` when it is missing, of
    /// another kind or version, or for another key.
    pub(crate) fn open(&self, path: &Path, key: &str) -> io::Result<Option<(Arc<Mmap>, usize)>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        // SAFETY: the file is hoptrace's own, replaced only by rename (a mapped
        // file is never rewritten in place); another process truncating it while
        // mapped is outside what hoptrace supports, as for the database.
        let map = Arc::new(unsafe { Mmap::map(&file)? });
        if map.len() < 16 || &map[..12] != self.magic || map[12..16] != self.version.to_le_bytes() {
            return Ok(None);
        }
        let mut r = self.reader(&map, 16);
        if &r.table::<u8>()?[..] != key.as_bytes() {
            return Ok(None);
        }
        let start = r.position();
        Ok(Some((map, start)))
    }

    /// A reader of `map` from byte `at`.
    pub(crate) fn reader<'a>(&self, map: &'a Arc<Mmap>, at: usize) -> TableReader<'a> {
        TableReader::new(map, at, self.align, self.what)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `bytes` written to a file in a fresh directory (kept while the map lives)
    /// and mapped.
    pub(crate) fn map_of(bytes: &[u8]) -> (tempfile::TempDir, Arc<Mmap>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        std::fs::write(&path, bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: the file is this test's own and nobody changes it while mapped.
        let map = Arc::new(unsafe { Mmap::map(&file) }.unwrap());
        (dir, map)
    }

    #[test]
    fn owned_and_mapped_tables_read_the_same() {
        let v: Vec<u64> = (0..1000).map(|i| i * 3 + 1).collect();
        let owned = Table::from(v.clone());
        assert_eq!(&owned[..], &v[..]);
        assert_eq!(&owned.clone()[..], &v[..]);
        let mut bytes = vec![0u8; 8];
        bytes.extend_from_slice(bytemuck::cast_slice(&v));
        let (_dir, map) = map_of(&bytes);
        let mapped = Table::<u64>::mapped(&map, 8, v.len()).unwrap();
        assert!(mapped.is_mapped());
        assert_eq!(&mapped[..], &v[..]);
        assert_eq!(&mapped.clone()[..], &v[..]);
        // Out of range or misaligned: refused, never read.
        assert!(Table::<u64>::mapped(&map, 8, v.len() + 1).is_none());
        assert!(Table::<u64>::mapped(&map, 4, 10).is_none());
        assert!(Table::<u64>::mapped(&map, usize::MAX - 3, 1).is_none());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_cache_file_is_written_whole_and_stale_temporaries_are_removed() {
        const FILE: CacheFile = CacheFile {
            magic: b"HOPTRACE-TST",
            version: 3,
            align: 64,
            what: "test cache",
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db.test");
        // Left by a killed writer (no process has this number: above pid_max), and
        // by a live one (this process's parent).
        let stale = dir.path().join("x.db.test.tmp4194305");
        let live = dir.path().join(format!(
            "x.db.test.tmp{}",
            std::os::unix::process::parent_id()
        ));
        std::fs::write(&stale, b"partial").unwrap();
        std::fs::write(&live, b"in progress").unwrap();
        FILE.write(&path, "key", false, |w| w.table(&[5u64, 6]))
            .unwrap();
        assert!(!stale.exists(), "a dead writer's temporary is removed");
        assert!(live.exists(), "a live writer's temporary is left alone");
        let (map, start) = FILE.open(&path, "key").unwrap().unwrap();
        assert_eq!(
            &FILE.reader(&map, start).table::<u64>().unwrap()[..],
            &[5, 6]
        );
        assert!(FILE.open(&path, "other key").unwrap().is_none());
        assert!(
            FILE.open(&dir.path().join("missing"), "key")
                .unwrap()
                .is_none()
        );
        let other = CacheFile { version: 4, ..FILE };
        assert!(other.open(&path, "key").unwrap().is_none());
    }

    #[test]
    fn a_written_file_reads_back_in_order() {
        let mut w = TableWriter::new(Vec::new(), 64);
        w.bytes(b"MAGIC").unwrap();
        w.table(&[1u32, 2, 3]).unwrap();
        w.table(&[[7u64; 8]; 2]).unwrap();
        w.u64(99).unwrap();
        w.table::<u16>(&[]).unwrap();
        let bytes = w.into_inner();
        let (_dir, map) = map_of(&bytes);
        let mut r = TableReader::new(&map, 0, 64, "test file");
        assert_eq!(r.bytes(5).unwrap(), b"MAGIC");
        assert_eq!(&r.table::<u32>().unwrap()[..], &[1, 2, 3]);
        let wide = r.table::<[u64; 8]>().unwrap();
        assert_eq!(&wide[..], &[[7u64; 8]; 2]);
        assert_eq!(wide.as_ptr() as usize % 64, 0);
        assert_eq!(r.u64().unwrap(), 99);
        assert!(r.table::<u16>().unwrap().is_empty());
        // Past the end: an error naming the file, never a panic.
        let e = r.table::<u32>().unwrap_err();
        assert!(e.to_string().starts_with("test file: "), "{e}");
        // A file cut inside an array.
        let mut w = TableWriter::new(Vec::new(), 64);
        w.table(&[1u32, 2, 3]).unwrap();
        w.table(&[[7u64; 8]; 2]).unwrap();
        let bytes = w.into_inner();
        let (_dir, short) = map_of(&bytes[..bytes.len() - 9]);
        let mut r = TableReader::new(&short, 0, 64, "test file");
        r.table::<u32>().unwrap();
        assert!(r.table::<[u64; 8]>().is_err());
    }
}
