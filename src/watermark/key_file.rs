//! The key file: the secret, the scheme with all its parameters, the key id and the vocabulary
//! the key is bound to, as TOML. Created with mode 0600 and never overwritten.
//!
//! ```toml
//! format = "retort-watermark-key"
//! version = 1
//! key_id = "9c1f0e7a5b3d2c48"
//! scheme = "green"
//! secret = "…64 hex digits…"
//!
//! [green]
//! context = 4
//! gamma = 0.25
//! delta = 3.0
//!
//! [vocabulary]
//! tokens = 49152
//! fingerprint = "…32 hex digits…"
//! ```

use std::io::{Read, Write};
use std::path::Path;

use serde::Deserialize;

use super::error::WatermarkError;
use super::key::{KeyId, SecretKey, KEY_BYTES};
use super::scheme::{DistortionFreeParams, GreenListParams, Scheme, SchemeKind};
use super::vocabulary::VocabularyId;

/// The `format` field of every key file.
pub const KEY_FILE_FORMAT: &str = "retort-watermark-key";
/// The key file version this build writes and reads.
pub const KEY_FILE_VERSION: u32 = 1;
/// Key files are a few hundred bytes; anything much larger is something else.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// The contents of a key file.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyFile {
    /// The secret.
    pub key: SecretKey,
    /// The scheme and its parameters.
    pub scheme: Scheme,
    /// The vocabulary the key is bound to (`None`: usable with any vocabulary).
    pub vocabulary: Option<VocabularyId>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    format: String,
    version: u32,
    key_id: String,
    scheme: String,
    secret: String,
    green: Option<RawGreen>,
    #[serde(rename = "distortion-free")]
    distortion_free: Option<RawDistortionFree>,
    vocabulary: Option<VocabularyId>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGreen {
    context: usize,
    gamma: f64,
    delta: f32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDistortionFree {
    context: usize,
    free_draws: f64,
}

impl KeyFile {
    /// A key file for `key` and `scheme`, bound to `vocabulary` if given.
    pub fn new(key: SecretKey, scheme: Scheme, vocabulary: Option<VocabularyId>) -> KeyFile {
        KeyFile {
            key,
            scheme,
            vocabulary,
        }
    }

    /// The key's public id.
    pub fn id(&self) -> KeyId {
        self.key.id()
    }

    /// The file's text.
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        s.push_str(
            "# Retort watermark key. Keep it secret: whoever holds it can mark text as yours\n\
             # and can find the mark. Verify with: retort verify --key THIS_FILE -m MODEL TEXT\n",
        );
        s.push_str(&format!("format = \"{KEY_FILE_FORMAT}\"\n"));
        s.push_str(&format!("version = {KEY_FILE_VERSION}\n"));
        s.push_str(&format!("key_id = \"{}\"\n", self.id()));
        s.push_str(&format!("scheme = \"{}\"\n", self.scheme.kind()));
        s.push_str(&format!(
            "secret = \"{}\"\n",
            hex::encode(self.key.as_bytes())
        ));
        // `{:?}` prints the shortest text that reads back as the same float.
        match &self.scheme {
            Scheme::GreenList(p) => s.push_str(&format!(
                "\n[green]\ncontext = {}\ngamma = {:?}\ndelta = {:?}\n",
                p.context, p.gamma, p.delta
            )),
            Scheme::DistortionFree(p) => s.push_str(&format!(
                "\n[distortion-free]\ncontext = {}\nfree_draws = {:?}\n",
                p.context, p.free_draws
            )),
        }
        if let Some(v) = &self.vocabulary {
            s.push_str(&format!(
                "\n[vocabulary]\ntokens = {}\nfingerprint = \"{}\"\n",
                v.tokens, v.fingerprint
            ));
        }
        s
    }

    /// Parses a key file's text (`path` only names it in errors).
    pub fn from_toml(text: &str, path: &Path) -> Result<KeyFile, WatermarkError> {
        let path_buf = path.to_path_buf();
        let malformed = |reason: String| WatermarkError::Malformed {
            path: path_buf.clone(),
            reason,
        };
        let not_key = |reason: String| WatermarkError::NotAKeyFile {
            path: path_buf.clone(),
            reason,
        };
        let wrong_scheme = |reason: String| WatermarkError::WrongScheme {
            path: path_buf.clone(),
            reason,
        };
        // First as a plain table, so another TOML file is "not a key file", not "missing secret".
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| malformed(e.to_string().trim_end().replace('\n', " ")))?;
        match table.get("format").and_then(|v| v.as_str()) {
            Some(KEY_FILE_FORMAT) => {}
            Some(other) => return Err(not_key(format!("its format is {other:?}"))),
            None => {
                return Err(not_key(
                    "it has no `format = \"retort-watermark-key\"`".into(),
                ))
            }
        }
        match table.get("version").and_then(|v| v.as_integer()) {
            Some(v) if v == i64::from(KEY_FILE_VERSION) => {}
            Some(v) => {
                return Err(not_key(format!(
                    "its version is {v}; this build reads version {KEY_FILE_VERSION}"
                )))
            }
            None => return Err(malformed("`version` is missing or not an integer".into())),
        }
        let raw: Raw = toml::from_str(text)
            .map_err(|e: toml::de::Error| malformed(e.to_string().trim_end().replace('\n', " ")))?;
        debug_assert_eq!(raw.format, KEY_FILE_FORMAT);
        debug_assert_eq!(raw.version, KEY_FILE_VERSION);

        let bytes = hex::decode(raw.secret.trim())
            .ok()
            .and_then(|b| <[u8; KEY_BYTES]>::try_from(b).ok())
            .ok_or_else(|| {
                malformed(format!(
                    "`secret` must be {} hex digits (it has {} characters)",
                    2 * KEY_BYTES,
                    raw.secret.trim().len()
                ))
            })?;
        let key = SecretKey::from_bytes(bytes);
        let computed = key.id();
        if computed.as_str() != raw.key_id {
            return Err(WatermarkError::KeyIdMismatch {
                path: path_buf.clone(),
                stored: raw.key_id,
                computed: computed.to_string(),
            });
        }

        let kind: SchemeKind = raw.scheme.parse().map_err(&wrong_scheme)?;
        let scheme = match (kind, raw.green, raw.distortion_free) {
            (SchemeKind::GreenList, Some(g), None) => Scheme::GreenList(GreenListParams {
                context: g.context,
                gamma: g.gamma,
                delta: g.delta,
            }),
            (SchemeKind::DistortionFree, None, Some(d)) => {
                Scheme::DistortionFree(DistortionFreeParams {
                    context: d.context,
                    free_draws: d.free_draws,
                })
            }
            (kind, green, df) => {
                let mut tables = Vec::new();
                if green.is_some() {
                    tables.push("[green]");
                }
                if df.is_some() {
                    tables.push("[distortion-free]");
                }
                let has = if tables.is_empty() {
                    "no parameter table".to_string()
                } else {
                    tables.join(" and ")
                };
                let wanted = match kind {
                    SchemeKind::GreenList => "[green]",
                    SchemeKind::DistortionFree => "[distortion-free]",
                };
                return Err(wrong_scheme(format!(
                    "scheme = \"{kind}\" needs exactly one {wanted} table, but the file has {has}"
                )));
            }
        };
        scheme.validate()?;
        Ok(KeyFile {
            key,
            scheme,
            vocabulary: raw.vocabulary,
        })
    }

    /// Reads and checks a key file.
    pub fn load(path: impl AsRef<Path>) -> Result<KeyFile, WatermarkError> {
        let path = path.as_ref();
        let io = |source| WatermarkError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_KEY_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        let not_key = |reason: String| WatermarkError::NotAKeyFile {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
            return Err(not_key(format!(
                "it is larger than {MAX_KEY_FILE_BYTES} bytes (key files are a few hundred)"
            )));
        }
        if bytes.is_empty() {
            return Err(not_key("it is empty".into()));
        }
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            not_key(format!(
                "it is not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            ))
        })?;
        KeyFile::from_toml(text, path)
    }

    /// Writes the key file at `path`, created with mode 0600 (owner read/write only, on Unix).
    /// An existing file is never overwritten.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), WatermarkError> {
        let path = path.as_ref();
        let io = |source| WatermarkError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                WatermarkError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                io(e)
            }
        })?;
        let written = file
            .write_all(self.to_toml().as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(e) = written {
            // Never leave half a key behind.
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(io(e));
        }
        Ok(())
    }
}

/// A warning when the file at `path` can be read by every user (Unix mode bit 0o004): a key
/// others can read proves nothing. `None` when it cannot (or on systems without such bits).
pub fn world_readable_warning(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        if mode & 0o004 != 0 {
            return Some(format!(
                "key file '{}' is readable by every user (mode {:03o}); anyone who can read it \
                 can forge or strip the mark — run: chmod 600 '{}'",
                path.display(),
                mode & 0o777,
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> KeyFile {
        KeyFile::new(
            SecretKey::from_bytes([3; KEY_BYTES]),
            Scheme::default(),
            Some(VocabularyId::of_texts(["a", "b"])),
        )
    }

    #[test]
    fn round_trips_through_toml() {
        for scheme in [
            Scheme::default_for(SchemeKind::GreenList),
            Scheme::default_for(SchemeKind::DistortionFree),
            Scheme::GreenList(GreenListParams {
                context: 3,
                gamma: 0.1,
                delta: 1.7,
            }),
        ] {
            for vocabulary in [None, Some(VocabularyId::of_texts(["x"]))] {
                let kf = KeyFile::new(SecretKey::generate().unwrap(), scheme, vocabulary);
                let back = KeyFile::from_toml(&kf.to_toml(), Path::new("k.toml")).unwrap();
                assert_eq!(back, kf);
            }
        }
    }

    fn err(text: &str) -> String {
        KeyFile::from_toml(text, Path::new("k.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn every_damage_is_named() {
        let good = sample().to_toml();
        // Truncated anywhere: never a panic, always a message naming the file.
        for cut in 0..good.len() {
            if let Err(e) = KeyFile::from_toml(&good[..cut], Path::new("k.toml")) {
                assert!(e.to_string().contains("k.toml"), "{e}");
            }
        }
        let cut = &good[..good.find("[green]").unwrap()];
        let e = err(cut);
        assert!(e.contains("needs exactly one [green] table"), "{e}");
        let e = err(&good.replace("scheme = \"green\"", "scheme = \"purple\""));
        assert!(e.contains("unknown watermark scheme \"purple\""), "{e}");
        let e = err(&good.replace("scheme = \"green\"", "scheme = \"distortion-free\""));
        assert!(
            e.contains("[distortion-free]") && e.contains("[green]"),
            "{e}"
        );
        let e = err(&good.replace("gamma = 0.25", "gamma = 1.5"));
        assert!(e.contains("gamma = 1.5"), "{e}");
        let e = err(&good.replace("gamma = 0.25", "gama = 0.25"));
        assert!(e.contains("gama"), "{e}");
        let e = err(&good.replace("version = 1", "version = 2"));
        assert!(e.contains("version is 2"), "{e}");
        let e = err("[package]\nname = \"x\"\n");
        assert!(e.contains("not a Retort watermark key file"), "{e}");
        let secret = hex::encode([3u8; KEY_BYTES]);
        let e = err(&good.replace(&secret, &secret[..60]));
        assert!(e.contains("64 hex digits"), "{e}");
        let e = err(&good.replace(&secret, &hex::encode([4u8; KEY_BYTES])));
        assert!(e.contains("does not match the secret"), "{e}");
    }

    #[test]
    fn save_is_0600_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.toml");
        let kf = sample();
        kf.save(&path).unwrap();
        assert_eq!(KeyFile::load(&path).unwrap(), kf);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            assert!(world_readable_warning(&path).is_none());
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let w = world_readable_warning(&path).unwrap();
            assert!(w.contains("644") && w.contains("chmod 600"), "{w}");
        }
        match kf.save(&path) {
            Err(WatermarkError::Exists { .. }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(KeyFile::load(&path).unwrap(), kf);
    }

    #[test]
    fn load_refuses_what_is_not_a_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert!(KeyFile::load(&empty)
            .unwrap_err()
            .to_string()
            .contains("empty"));
        let binary = dir.path().join("bin");
        std::fs::write(&binary, [0xffu8, 0xfe, 0, 1]).unwrap();
        assert!(KeyFile::load(&binary)
            .unwrap_err()
            .to_string()
            .contains("not UTF-8"));
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'#'; 100_000]).unwrap();
        assert!(KeyFile::load(&big)
            .unwrap_err()
            .to_string()
            .contains("larger than"));
        let missing = dir.path().join("missing");
        assert!(matches!(
            KeyFile::load(&missing),
            Err(WatermarkError::Io { .. })
        ));
    }
}
