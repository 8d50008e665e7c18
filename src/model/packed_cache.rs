//! The repacked weights kept as a file, so that a later load maps them instead of repacking.
//!
//! Repacking is quick arithmetic, but it writes a fresh copy of most of the model: hundreds of
//! megabytes of new anonymous memory for the kernel to find, zero and (in a VM that hands free
//! memory back to its host) for the host to back again, at every load. A copy kept in a file is
//! already in the page cache after the first load — shared by every process that maps it, read
//! back from disk otherwise, reclaimable under memory pressure — so a later load maps it like
//! the model itself and the time to the first token no longer pays for the copy. On recent
//! Linux kernels (ext4 and XFS with large folios) the mapped copy uses huge pages too.
//!
//! The file: the arena's bytes as [`super::packed`] lays them out, then a [`TRAILER_BYTES`]
//! trailer (magic, format version, arena length, key). Its name carries the model file's stem
//! and two hashes: of the model's path (one cached copy per model file: writing a new one
//! removes the others of the same path) and of the key — the model file's identity (path, size,
//! modification time, inode), Retort's version and the repacking plan (every matrix's name,
//! type, shape, place in the file and in the arena). A copy is used only if its length, trailer
//! and key agree, and if the first and last stripe of every matrix equal a fresh repack of the
//! file's rows (which catches a change of the x8 layout and a copy cut short or zeroed). A copy
//! that fails any check is repacked and written again; failing to write one is not an error
//! (the load goes on with the repacked copy in memory; [`PackedOrigin`] says why).
//!
//! A new copy is written to a temporary file in the same directory, flushed to disk, then
//! renamed over the name: a reader sees a complete file or none, even after a power cut. Like
//! the model file, a copy must not be modified while it is mapped (nothing of Retort's does:
//! it only ever renames complete files into place).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::gguf::FileSource;

/// `RTX8` + layout generation, at the start of the trailer.
const MAGIC: [u8; 8] = *b"RTX8PK01";
/// The trailer's format.
const TRAILER_VERSION: u32 = 1;
/// Bytes of the trailer: magic (8), version (4), reserved (4), arena length (8), key (32),
/// reserved (8).
pub(crate) const TRAILER_BYTES: usize = 64;
/// Extension of the cached copies.
const EXTENSION: &str = "x8";

/// Where a model's repacked layer matrices came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackedOrigin {
    /// Nothing was repacked (turned off, a caller's buffer, or no matrix with an x8 form).
    None,
    /// Repacked at this load. `kept`: the file the copy was written to, for later loads;
    /// `None` when no cache directory was given or writing failed (`note` says why).
    Repacked {
        /// The cache file written.
        kept: Option<PathBuf>,
        /// Why no copy was kept, when one was asked for.
        note: Option<String>,
    },
    /// Mapped from a copy an earlier load kept.
    Reused(PathBuf),
}

impl PackedOrigin {
    /// One word for reports: `none`, `repacked` (nothing kept), `kept` (repacked and written
    /// for the next load) or `reused`.
    pub fn kind(&self) -> &'static str {
        match self {
            PackedOrigin::None => "none",
            PackedOrigin::Repacked { kept: None, .. } => "repacked",
            PackedOrigin::Repacked { kept: Some(_), .. } => "kept",
            PackedOrigin::Reused(_) => "reused",
        }
    }
}

/// A model's cache entry: its file name in the cache directory and its key.
pub(crate) struct CacheEntry {
    dir: PathBuf,
    /// `stem-pathhash-`: every copy of this model file starts so.
    prefix: String,
    path: PathBuf,
    key: [u8; 32],
}

impl CacheEntry {
    /// The entry of `source`'s copy in `dir`; `plan` is every detail of the repacking (each
    /// matrix's name, type, shape and place in the file and the arena) as bytes.
    pub(crate) fn new(dir: &Path, source: &FileSource, plan: &[u8]) -> CacheEntry {
        let path_bytes = source.path.as_os_str().as_encoded_bytes();
        let path_hash = blake3::hash(path_bytes);
        let mut h = blake3::Hasher::new();
        h.update(&MAGIC);
        h.update(&TRAILER_VERSION.to_le_bytes());
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(&(path_bytes.len() as u64).to_le_bytes());
        h.update(path_bytes);
        h.update(&source.len.to_le_bytes());
        h.update(&source.modified_ns.to_le_bytes());
        h.update(&source.dev.to_le_bytes());
        h.update(&source.ino.to_le_bytes());
        h.update(plan);
        let key = *h.finalize().as_bytes();
        let stem: String = source
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let prefix = format!("{stem}-{}-", &path_hash.to_hex()[..8]);
        let name = format!("{prefix}{}.{EXTENSION}", &hex::encode(key)[..16]);
        CacheEntry {
            dir: dir.to_owned(),
            prefix,
            path: dir.join(name),
            key,
        }
    }

    /// The copy's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The trailer of an arena of `len` bytes under this key.
    fn trailer(&self, len: usize) -> [u8; TRAILER_BYTES] {
        let mut t = [0u8; TRAILER_BYTES];
        t[..8].copy_from_slice(&MAGIC);
        t[8..12].copy_from_slice(&TRAILER_VERSION.to_le_bytes());
        t[16..24].copy_from_slice(&(len as u64).to_le_bytes());
        t[24..56].copy_from_slice(&self.key);
        t
    }

    /// Maps the kept copy of an arena of `len` bytes, if there is one whose length and trailer
    /// agree (its stripes are checked by the caller). Read-only; `None` for anything else —
    /// a missing, short, long or foreign file.
    pub(crate) fn open(&self, len: usize) -> Option<Mmap> {
        let file = File::open(&self.path).ok()?;
        let total = len.checked_add(TRAILER_BYTES)?;
        if file.metadata().ok()?.len() != total as u64 {
            return None;
        }
        // SAFETY: a read-only map of a regular file of the length checked above. Like the model
        // file, it must not be modified while mapped: Retort only ever renames complete new
        // copies over it (`write`), which leaves this map on the old inode.
        let map = unsafe { memmap2::MmapOptions::new().len(total).map(&file) }.ok()?;
        if map[len..] != self.trailer(len) {
            return None;
        }
        #[cfg(target_os = "linux")]
        {
            // Advice only: the arena is streamed whole at every step (see `packed`).
            let _ = map.advise(memmap2::Advice::HugePage);
        }
        Some(map)
    }

    /// Writes `arena` as this entry's copy (temporary file, flushed, renamed into place), then
    /// removes the model file's other copies (older versions of it). The error names the file.
    pub(crate) fn write(&self, arena: &[u8]) -> Result<(), String> {
        let fail =
            |what: &str, path: &Path, e: std::io::Error| format!("{what} {}: {e}", path.display());
        std::fs::create_dir_all(&self.dir).map_err(|e| fail("creating", &self.dir, e))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = self.dir.join(format!(
            ".{}.{}-{nanos}.tmp",
            self.path.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        let written = (|| {
            let mut f = File::create_new(&tmp)?;
            f.write_all(arena)?;
            f.write_all(&self.trailer(arena.len()))?;
            f.sync_data()
        })();
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, &self.path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(fail("writing", &self.path, e));
        }
        self.remove_others();
        Ok(())
    }

    /// Removes the copies of the same model file under other keys (it was rewritten, or
    /// Retort's layout changed); errors are ignored (another process may be doing the same).
    fn remove_others(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let own = Some(name.as_ref()) == self.path.file_name().and_then(|n| n.to_str());
            if !own && name.starts_with(&self.prefix) && name.ends_with(&format!(".{EXTENSION}")) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}
