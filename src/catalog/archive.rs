//! Fetching a PyPI distribution with the ordinary client and reading one member out of it: a
//! wheel (a zip file) or a source distribution (a `.tar.gz`, or a `.zip` for old packages).

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use super::CatalogError;

/// Which distribution of a package holds a member.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ArchiveKind {
    /// A wheel (`.whl`, a zip file).
    #[default]
    Wheel,
    /// The source distribution (`.tar.gz`; `.zip` for some old packages).
    Sdist,
}

/// The Python interpreter used for pip: `$RETORT_PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("RETORT_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Downloads `package==version` of the given kind into the empty directory `dir` with
/// `python3 -m pip download --no-deps` and returns the downloaded file.
///
/// For a source distribution pip is told `--no-binary PACKAGE` (for that package only): pip
/// still prepares the package's metadata, which needs its build backend (setuptools and
/// wheel), and build isolation fetches those from PyPI as wheels. Nothing is compiled.
pub fn pip_download(
    package: &str,
    version: &str,
    kind: ArchiveKind,
    dir: &Path,
) -> Result<PathBuf, CatalogError> {
    let python = python();
    let spec = format!("{package}=={version}");
    let mut cmd = Command::new(&python);
    cmd.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "-q",
    ]);
    match kind {
        ArchiveKind::Wheel => cmd.args(["--only-binary", ":all:"]),
        ArchiveKind::Sdist => cmd.args(["--no-binary", package]),
    };
    let output = cmd
        .arg("-d")
        .arg(dir)
        .arg(&spec)
        .output()
        .map_err(|source| CatalogError::PipMissing {
            python: python.clone(),
            package: spec.clone(),
            source,
        })?;
    let failed = |stderr: String| CatalogError::PipFailed {
        package: package.to_owned(),
        version: version.to_owned(),
        status: output.status.to_string(),
        stderr,
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(4).collect();
        return Err(failed(
            tail.into_iter().rev().collect::<Vec<_>>().join(" | "),
        ));
    }
    let entries = fs::read_dir(dir).map_err(|source| CatalogError::Io {
        what: "cannot list",
        path: dir.to_owned(),
        source,
    })?;
    let wanted: &[&str] = match kind {
        ArchiveKind::Wheel => &[".whl"],
        ArchiveKind::Sdist => &[".tar.gz", ".zip"],
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            wanted.iter().any(|ext| name.ends_with(ext))
        })
        .ok_or_else(|| {
            failed(format!(
                "no {} appeared in {}",
                wanted.join(" or "),
                dir.display()
            ))
        })
}

/// Opens the member called `member` (its full path inside the archive) of the distribution
/// file `archive` and hands a reader over its bytes to `f`.
pub fn with_member<T>(
    archive: &Path,
    member: &str,
    f: impl FnOnce(&mut dyn Read) -> Result<T, CatalogError>,
) -> Result<T, CatalogError> {
    let bad = |reason: String| CatalogError::BadArchive {
        archive: archive.to_owned(),
        reason,
    };
    let file = File::open(archive).map_err(|e| bad(e.to_string()))?;
    let name = archive.to_string_lossy();
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
        let entries = tar.entries().map_err(|e| bad(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| bad(e.to_string()))?;
            let path = entry.path().map_err(|e| bad(e.to_string()))?;
            if path.to_str() == Some(member) {
                return f(&mut entry);
            }
        }
        Err(bad(format!("no member '{member}'")))
    } else {
        let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
        let mut entry = zip
            .by_name(member)
            .map_err(|e| bad(format!("member '{member}': {e}")))?;
        f(&mut entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(archive: &Path, member: &str) -> Result<Vec<u8>, CatalogError> {
        with_member(archive, member, |r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v)
                .map_err(|e| CatalogError::BadArchive {
                    archive: archive.to_owned(),
                    reason: e.to_string(),
                })?;
            Ok(v)
        })
    }

    #[test]
    fn reads_a_member_of_a_tar_gz_and_of_a_zip() {
        let dir = tempfile::tempdir().unwrap();
        let tgz = dir.path().join("pkg-1.0.tar.gz");
        {
            let gz = flate2::write::GzEncoder::new(
                File::create(&tgz).unwrap(),
                flate2::Compression::default(),
            );
            let mut b = tar::Builder::new(gz);
            for (path, body) in [
                ("pkg-1.0/a.txt", &b"first"[..]),
                ("pkg-1.0/t/b.txt", b"second"),
            ] {
                let mut h = tar::Header::new_gnu();
                h.set_size(body.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                b.append_data(&mut h, path, body).unwrap();
            }
            b.into_inner().unwrap().finish().unwrap();
        }
        assert_eq!(read_all(&tgz, "pkg-1.0/t/b.txt").unwrap(), b"second");
        let e = read_all(&tgz, "pkg-1.0/missing.txt")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("pkg-1.0/missing.txt") && e.contains("pkg-1.0.tar.gz"),
            "{e}"
        );

        let whl = dir.path().join("pkg-1.0-py3-none-any.whl");
        {
            let mut z = zip::ZipWriter::new(File::create(&whl).unwrap());
            z.start_file("pkg/data.bin", zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(b"zipped").unwrap();
            z.finish().unwrap();
        }
        assert_eq!(read_all(&whl, "pkg/data.bin").unwrap(), b"zipped");
        assert!(read_all(&whl, "pkg/other.bin").is_err());
    }
}
