//! Opening a GGUF file: map it, parse the header, metadata and tensor table, validate every
//! tensor, and hand out borrowed views of the data.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use retort_kernels::GgmlType;

use super::cursor::Cursor;
use super::error::GgufError;
use super::metadata::Metadata;
use super::tensor::TensorInfo;
use super::value::{read_value, MetaValue, RESERVE_LIMIT};

/// `GGUF` as stored at byte 0.
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// Alignment of the data section and of each tensor when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Smallest possible metadata entry: empty key (8), type (4), one-byte value.
const MIN_KV_BYTES: u64 = 8 + 4 + 1;
/// Smallest possible tensor info: empty name (8), n_dims (4), one dim (8), type (4), offset (8).
const MIN_TENSOR_INFO_BYTES: u64 = 8 + 4 + 8 + 4 + 8;
/// Most dimensions a ggml tensor has.
pub const MAX_DIMS: u32 = 4;

/// The bytes behind a [`GgufFile`]: a memory map, or a caller's buffer (firmware may map flash
/// itself). Never copied.
pub trait GgufBytes: AsRef<[u8]> + Send + Sync + 'static {}
impl<T: AsRef<[u8]> + Send + Sync + 'static> GgufBytes for T {}

/// A validated GGUF file. Tensor data are borrowed slices of its bytes.
pub struct GgufFile {
    bytes: Box<dyn GgufBytes>,
    /// Whether `bytes` is a read-only shared map of a file made by [`GgufFile::open`] (so its
    /// pages can be given back: see [`GgufFile::release`]).
    mapped: bool,
    /// The file a mapped image was opened from, as it was when opened.
    source: Option<FileSource>,
    version: u32,
    metadata: Metadata,
    tensors: Vec<TensorInfo>,
    alignment: u64,
    data_offset: u64,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("len", &self.len())
            .field("version", &self.version)
            .field("metadata", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

/// Which file a [`GgufFile`] was mapped from, and which version of it: enough to tell, later,
/// whether something derived from the file (a repacked copy of its weights kept on disk) was
/// derived from this very content. A file replaced or rewritten since gets a new modification
/// time, size or inode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSource {
    /// The path as opened, made absolute (symbolic links resolved) where the OS allows.
    pub path: std::path::PathBuf,
    /// Size in bytes.
    pub len: u64,
    /// Last modification, in nanoseconds since the Unix epoch (0 where the OS does not say).
    pub modified_ns: u128,
    /// Device and inode numbers (0 outside Unix).
    pub dev: u64,
    /// See `dev`.
    pub ino: u64,
}

impl FileSource {
    fn of(path: &Path, file: &File) -> std::io::Result<FileSource> {
        let meta = file.metadata()?;
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        Ok(FileSource {
            path: std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()),
            len: meta.len(),
            modified_ns,
            dev,
            ino,
        })
    }
}

/// What [`GgufFile`]'s page advice asks of the OS.
#[derive(Clone, Copy, Debug)]
enum PageAdvice {
    /// Drop the pages from this process (`MADV_DONTNEED`).
    Release,
    /// Map them with huge pages where possible (`MADV_HUGEPAGE`).
    PreferHuge,
    /// Never map them with huge pages (`MADV_NOHUGEPAGE`).
    AvoidHuge,
}

impl GgufFile {
    /// Maps the file at `path` read-only and validates it.
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile, GgufError> {
        let path = path.as_ref();
        let io = |source| GgufError::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        // SAFETY: the map is read-only and private to this process. Another process truncating
        // or rewriting the file while it is mapped could change or remove the pages under us;
        // like every mmap-based model loader we require that model files are not modified while
        // open (the catalog only ever replaces a file by renaming a complete new one over it,
        // which leaves this mapping on the old inode).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        let source = FileSource::of(path, &file).map_err(io)?;
        let mut file = Self::from_bytes(map)?;
        file.mapped = true;
        file.source = Some(source);
        // The header is parsed into owned values: its pages (a vocabulary's worth, megabytes
        // for a large one) need not stay resident.
        file.release(0..file.data_offset as usize);
        Ok(file)
    }

    /// Validates a GGUF image held by the caller (a buffer, a map of flash, a `&'static [u8]`).
    pub fn from_bytes(bytes: impl GgufBytes) -> Result<GgufFile, GgufError> {
        let bytes: Box<dyn GgufBytes> = Box::new(bytes);
        let header = parse(bytes.as_ref().as_ref())?;
        Ok(GgufFile {
            bytes,
            mapped: false,
            source: None,
            version: header.version,
            metadata: header.metadata,
            tensors: header.tensors,
            alignment: header.alignment,
            data_offset: header.data_offset,
        })
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_ref().as_ref()
    }

    /// The file the image was mapped from ([`GgufFile::open`]); `None` for a caller's buffer.
    pub fn source(&self) -> Option<&FileSource> {
        self.source.as_ref()
    }

    /// Whether the bytes are a memory map of a file ([`GgufFile::open`]), whose pages
    /// [`GgufFile::release`] can give back, rather than a caller's buffer.
    pub fn is_mapped(&self) -> bool {
        self.mapped
    }

    /// Gives back the memory pages lying wholly inside `range` of the file: for a model that
    /// keeps its own (repacked) copy of those bytes, they leave the process's resident set. They
    /// stay readable: the OS reads them back from the file if anything touches them again.
    /// Returns the bytes given back — 0 for a caller's buffer, a range shorter than a page, or
    /// an OS without the advice.
    pub fn release(&self, range: std::ops::Range<usize>) -> usize {
        self.advise_pages(range, PageAdvice::Release)
    }

    /// Asks the OS to map `range` of the file with huge pages where it can (Linux transparent
    /// huge pages over a page cache of large folios: ext4 and XFS on recent kernels). For a
    /// large tensor read whole at every step — a model's output head — this takes 512 times
    /// fewer TLB entries than 4 KiB pages. Call it before anything touches the range: pages
    /// already mapped keep their size. Returns the bytes advised (0 for a caller's buffer or
    /// another OS); the advice changes no byte and nothing else about the map.
    pub fn prefer_huge_pages(&self, range: std::ops::Range<usize>) -> usize {
        self.advise_pages(range, PageAdvice::PreferHuge)
    }

    /// Asks the OS never to map `range` with huge pages, even where the page cache holds the
    /// file in large folios: a model that [`GgufFile::release`]s most of a range and keeps
    /// reading small tensors between the released ones would otherwise have every such read
    /// map a whole 2 MiB page back in. Returns the bytes advised, as
    /// [`GgufFile::prefer_huge_pages`].
    pub fn avoid_huge_pages(&self, range: std::ops::Range<usize>) -> usize {
        self.advise_pages(range, PageAdvice::AvoidHuge)
    }

    /// `madvise` over the whole pages inside `range` of a mapped file; the bytes advised, 0
    /// when nothing was (a caller's buffer, a range inside one page, an OS without the advice).
    fn advise_pages(&self, range: std::ops::Range<usize>, advice: PageAdvice) -> usize {
        #[cfg(unix)]
        {
            let flag = match advice {
                PageAdvice::Release => libc::MADV_DONTNEED,
                #[cfg(target_os = "linux")]
                PageAdvice::PreferHuge => libc::MADV_HUGEPAGE,
                #[cfg(target_os = "linux")]
                PageAdvice::AvoidHuge => libc::MADV_NOHUGEPAGE,
                #[cfg(not(target_os = "linux"))]
                PageAdvice::PreferHuge | PageAdvice::AvoidHuge => return 0,
            };
            if !self.mapped || range.end > self.bytes().len() || range.start >= range.end {
                return 0;
            }
            // SAFETY: `sysconf` only reads a system constant.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            let Ok(page) = usize::try_from(page) else {
                return 0;
            };
            if page == 0 || !page.is_power_of_two() {
                return 0;
            }
            let base = self.bytes().as_ptr() as usize;
            let start = (base + range.start).next_multiple_of(page);
            let end = (base + range.end) & !(page - 1);
            if end <= start {
                return 0;
            }
            // SAFETY: `[start, end)` lies inside the map (checked above) and is page-aligned;
            // the map is a read-only shared map of a file (`mapped` is set only by `open`).
            // MADV_DONTNEED only drops the pages from this process's page tables: a later read
            // faults them back in from the file with the same contents (we require, as for the
            // map itself, that the file is not modified while open). MADV_HUGEPAGE and
            // MADV_NOHUGEPAGE only choose the size of pages mapped later. Every `&[u8]` into the
            // map keeps seeing the same bytes.
            let rc = unsafe { libc::madvise(start as *mut libc::c_void, end - start, flag) };
            if rc == 0 {
                end - start
            } else {
                0
            }
        }
        #[cfg(not(unix))]
        {
            let _ = (range, advice);
            0
        }
    }

    /// File length in bytes.
    pub fn len(&self) -> u64 {
        self.bytes().len() as u64
    }

    /// Whether the file is empty (never true for a valid file).
    pub fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }

    /// GGUF version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The metadata table.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Shortcut for `metadata().get(key)`.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }

    /// Every tensor, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// Data alignment (`general.alignment`, default 32).
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Absolute offset of the data section.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// The tensor called `name`, if present.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The tensor called `name`, or a `MissingTensor` error.
    pub fn require_tensor(&self, name: &str) -> Result<&TensorInfo, GgufError> {
        self.tensor(name).ok_or_else(|| GgufError::MissingTensor {
            name: name.to_owned(),
        })
    }

    /// The data of a tensor of this file, borrowed from the map. (`TensorInfo` fields are public:
    /// for a description that does not fit this file the result is empty rather than a panic.)
    pub fn tensor_data(&self, info: &TensorInfo) -> &[u8] {
        let range = usize::try_from(info.offset)
            .ok()
            .zip(usize::try_from(info.offset.saturating_add(info.bytes)).ok());
        range
            .and_then(|(start, end)| self.bytes().get(start..end))
            .unwrap_or(&[])
    }

    /// The data of a tensor viewed as typed blocks, after a size and alignment check; `T` must be
    /// as large as one block of the tensor's type (so a Q4_1 tensor is not viewed as Q4_K).
    pub fn tensor_blocks<T: bytemuck::Pod>(&self, info: &TensorInfo) -> Result<&[T], GgufError> {
        if std::mem::size_of::<T>() != info.ty.type_size() {
            return Err(GgufError::BadView {
                tensor: info.name.clone(),
                offset: info.offset,
                what: std::any::type_name::<T>(),
                reason: format!(
                    "{} blocks are {} bytes, not {}",
                    info.ty,
                    info.ty.type_size(),
                    std::mem::size_of::<T>()
                ),
            });
        }
        bytemuck::try_cast_slice(self.tensor_data(info)).map_err(|e| GgufError::BadView {
            tensor: info.name.clone(),
            offset: info.offset,
            what: std::any::type_name::<T>(),
            reason: format!("{e:?}"),
        })
    }
}

/// A GGUF file's version and metadata (the vocabulary, the chat template, the
/// hyper-parameters), read without looking at its tensors: only the bytes before the tensor
/// infos are read, so a file whose tensor data are missing, truncated or zeroed opens as well as a
/// whole one. For what needs only the vocabulary (the watermark verifier); a model needs
/// [`GgufFile::open`], which validates every tensor.
#[derive(Clone, Debug)]
pub struct GgufHeader {
    version: u32,
    tensor_count: u64,
    metadata: Metadata,
    metadata_bytes: u64,
}

impl GgufHeader {
    /// Reads the header and metadata of the file at `path`. The file is mapped, and only the
    /// pages holding the metadata are touched; the map is gone when this returns.
    pub fn open(path: impl AsRef<Path>) -> Result<GgufHeader, GgufError> {
        let path = path.as_ref();
        let io = |source| GgufError::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        // SAFETY: as in `GgufFile::open`: a read-only private map of a file we require not to be
        // modified while open; it is dropped before this function returns, and the metadata
        // read from it is copied into owned values.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        GgufHeader::from_bytes(&map)
    }

    /// Reads the header and metadata at the start of `bytes` (which may end anywhere after
    /// them).
    pub fn from_bytes(bytes: &[u8]) -> Result<GgufHeader, GgufError> {
        let mut cur = Cursor::new(bytes);
        let (version, tensor_count, metadata) = parse_metadata(&mut cur)?;
        Ok(GgufHeader {
            version,
            tensor_count,
            metadata,
            metadata_bytes: cur.pos(),
        })
    }

    /// GGUF version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Tensors the file declares (not read, not validated).
    pub fn tensor_count(&self) -> u64 {
        self.tensor_count
    }

    /// The metadata table.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Bytes from the start of the file to the end of the metadata: all that was read.
    pub fn metadata_bytes(&self) -> u64 {
        self.metadata_bytes
    }
}

struct Header {
    version: u32,
    metadata: Metadata,
    tensors: Vec<TensorInfo>,
    alignment: u64,
    data_offset: u64,
}

/// Magic, version, counts and the metadata table: everything before the tensor infos. Reads
/// only these bytes.
fn parse_metadata(cur: &mut Cursor<'_>) -> Result<(u32, u64, Metadata), GgufError> {
    let magic = cur.array::<4>(|| "magic".into())?;
    if magic != GGUF_MAGIC {
        return Err(GgufError::BadMagic { found: magic });
    }
    let version = cur.u32(|| "version".into())?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::UnsupportedVersion { version });
    }
    let n_tensors = cur.count(MIN_TENSOR_INFO_BYTES, || "tensor count".into())?;
    let n_kv = cur.count(MIN_KV_BYTES, || "metadata entry count".into())?;

    let mut metadata = Metadata::default();
    for i in 0..n_kv {
        let key_offset = cur.pos();
        let key = cur.string(|| format!("key of metadata entry {i}"))?;
        let type_offset = cur.pos();
        let type_id = cur.u32(|| format!("metadata '{key}' value type"))?;
        let value = read_value(cur, type_id, type_offset, &key, 0)?;
        if !metadata.insert(key.clone(), value) {
            return Err(GgufError::DuplicateKey {
                key,
                offset: key_offset,
            });
        }
    }
    Ok((version, n_tensors, metadata))
}

fn parse(bytes: &[u8]) -> Result<Header, GgufError> {
    let mut cur = Cursor::new(bytes);
    let (version, n_tensors, metadata) = parse_metadata(&mut cur)?;
    let alignment = alignment_of(&metadata)?;

    let reserve = (n_tensors as usize).min(RESERVE_LIMIT);
    let mut raw = Vec::with_capacity(reserve);
    let mut names = HashSet::with_capacity(reserve);
    for i in 0..n_tensors {
        let info_offset = cur.pos();
        let t = read_tensor_info(&mut cur, i)?;
        if !names.insert(t.name.clone()) {
            return Err(GgufError::DuplicateTensor {
                tensor: t.name,
                offset: info_offset,
            });
        }
        raw.push((t, info_offset));
    }

    let data_offset = cur.aligned_pos(alignment);
    let file_len = bytes.len() as u64;
    let tensors = raw
        .into_iter()
        .map(|(t, info_offset)| validate_tensor(t, info_offset, alignment, data_offset, file_len))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Header {
        version,
        metadata,
        tensors,
        alignment,
        data_offset,
    })
}

fn alignment_of(metadata: &Metadata) -> Result<u64, GgufError> {
    let Some(v) = metadata.get("general.alignment") else {
        return Ok(DEFAULT_ALIGNMENT);
    };
    match v.as_i128() {
        Some(a) if a > 0 && a <= (1 << 30) && (a as u64).is_power_of_two() => Ok(a as u64),
        _ => Err(GgufError::BadAlignment {
            value: format!("{v} ({})", v.type_name()),
        }),
    }
}

struct RawTensor {
    name: String,
    shape: Vec<u64>,
    type_id: u32,
    type_offset: u64,
    offset: u64,
}

fn read_tensor_info(cur: &mut Cursor<'_>, index: u64) -> Result<RawTensor, GgufError> {
    let name = cur.string(|| format!("name of tensor {index}"))?;
    let dims_offset = cur.pos();
    let n_dims = cur.u32(|| format!("tensor '{name}' dimension count"))?;
    if n_dims == 0 || n_dims > MAX_DIMS {
        return Err(GgufError::BadDimCount {
            tensor: name,
            n_dims,
            offset: dims_offset,
        });
    }
    let mut shape = Vec::with_capacity(n_dims as usize);
    for d in 0..n_dims {
        shape.push(cur.u64(|| format!("tensor '{name}' dimension {d}"))?);
    }
    let type_offset = cur.pos();
    let type_id = cur.u32(|| format!("tensor '{name}' type"))?;
    let offset = cur.u64(|| format!("tensor '{name}' data offset"))?;
    Ok(RawTensor {
        name,
        shape,
        type_id,
        type_offset,
        offset,
    })
}

fn validate_tensor(
    t: RawTensor,
    info_offset: u64,
    alignment: u64,
    data_offset: u64,
    file_len: u64,
) -> Result<TensorInfo, GgufError> {
    let ty = GgmlType::from_u32(t.type_id).ok_or_else(|| GgufError::UnknownTensorType {
        tensor: t.name.clone(),
        type_id: t.type_id,
        offset: t.type_offset,
    })?;
    if let Some(index) = t.shape.iter().position(|&d| d == 0) {
        return Err(GgufError::ZeroDim {
            tensor: t.name,
            index,
            shape: t.shape,
        });
    }
    let overflow = || GgufError::SizeOverflow {
        tensor: t.name.clone(),
        shape: t.shape.clone(),
    };
    let n_rows = t.shape[1..]
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .ok_or_else(overflow)?;
    t.shape[0].checked_mul(n_rows).ok_or_else(overflow)?;
    let row_bytes = ty.row_bytes(t.shape[0]).ok_or_else(|| {
        if !t.shape[0].is_multiple_of(ty.block_size() as u64) {
            GgufError::NotWholeBlocks {
                tensor: t.name.clone(),
                ty,
                row: t.shape[0],
                block: ty.block_size(),
            }
        } else {
            overflow()
        }
    })?;
    let bytes = row_bytes.checked_mul(n_rows).ok_or_else(overflow)?;
    if !t.offset.is_multiple_of(alignment) {
        return Err(GgufError::MisalignedTensor {
            tensor: t.name,
            offset: t.offset,
            alignment,
        });
    }
    let start = data_offset as u128 + t.offset as u128;
    let end = start + bytes as u128;
    if end > file_len as u128 {
        return Err(GgufError::TensorOutOfBounds {
            tensor: t.name,
            start,
            end,
            file_len,
        });
    }
    Ok(TensorInfo {
        name: t.name,
        ty,
        shape: t.shape,
        offset: start as u64,
        bytes,
        info_offset,
    })
}
