//! `retort keygen`: write a watermark key file (mode 0600, never over an existing file).

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use retort::watermark::{KeyFile, Scheme, SchemeKind, SecretKey, VocabularyId};

/// Passphrases shorter than this get a warning: `derive_key` is fast, so short ones are guessable.
const SHORT_PASSPHRASE: usize = 20;

/// Options of `retort keygen`.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Where to write the key file; `-` prints it to stdout (then keep it secret yourself).
    #[arg(short = 'o', long = "output", default_value = "watermark-key.toml")]
    output: PathBuf,
    /// The scheme: `green` (found in short and edited text; costs quality, see --delta) or
    /// `distortion-free` (text distributed as the model's, needs sampling at temperature > 0).
    #[arg(long, default_value = "green")]
    scheme: SchemeKind,
    /// Derive the key from this passphrase (BLAKE3 derive_key) instead of the OS's random
    /// generator: the same passphrase gives the same key on every device. Visible to other
    /// users in the process list; prefer --passphrase-file.
    #[arg(long)]
    passphrase: Option<String>,
    /// Read the passphrase from this file (`-` for stdin); one trailing newline is dropped.
    #[arg(long, conflicts_with = "passphrase")]
    passphrase_file: Option<PathBuf>,
    /// Bind the key to this model's vocabulary (catalog name or path; default: the default
    /// catalog model). Only the vocabulary is read.
    #[arg(short = 'm', long = "model")]
    model: Option<String>,
    /// Leave the key unbound: usable with any vocabulary (the verifier cannot then catch a text
    /// tokenized by another model).
    #[arg(long, conflicts_with = "model")]
    any_vocabulary: bool,
    /// Context ids each keyed value depends on (both schemes; default 4).
    #[arg(long)]
    context: Option<usize>,
    /// Green list: the fraction of green candidates (default 0.25).
    #[arg(long)]
    gamma: Option<f64>,
    /// Green list: the logit boost of green candidates (default 3.0; 2.0 costs less quality and is
    /// found less often: docs/watermark.md).
    #[arg(long)]
    delta: Option<f32>,
    /// Distortion-free: the fraction of steps drawn without the key so one prompt gives
    /// different texts (default 0.1).
    #[arg(long)]
    free_draws: Option<f64>,
}

/// Writes the key file.
pub fn run(args: KeygenArgs) -> Result<()> {
    let mut scheme = Scheme::default_for(args.scheme);
    match &mut scheme {
        Scheme::GreenList(p) => {
            if args.free_draws.is_some() {
                bail!("--free-draws belongs to the distortion-free scheme, not the green list");
            }
            p.context = args.context.unwrap_or(p.context);
            p.gamma = args.gamma.unwrap_or(p.gamma);
            p.delta = args.delta.unwrap_or(p.delta);
        }
        Scheme::DistortionFree(p) => {
            if args.gamma.is_some() || args.delta.is_some() {
                bail!(
                    "--gamma and --delta belong to the green list, not the distortion-free scheme"
                );
            }
            p.context = args.context.unwrap_or(p.context);
            p.free_draws = args.free_draws.unwrap_or(p.free_draws);
        }
    }
    scheme.validate()?;

    let passphrase = match (&args.passphrase, &args.passphrase_file) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(path)) => {
            let mut text = String::new();
            if path.as_os_str() == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the passphrase from {}", path.display()))?;
            }
            let text = text
                .strip_suffix('\n')
                .map(|t| t.strip_suffix('\r').unwrap_or(t))
                .unwrap_or(&text);
            Some(text.to_string())
        }
        (None, None) => None,
    };
    let key = match &passphrase {
        Some(p) => {
            if p.chars().count() < SHORT_PASSPHRASE {
                eprintln!(
                    "warning: the passphrase has fewer than {SHORT_PASSPHRASE} characters; keys \
                     are derived with a fast hash, so a short passphrase can be guessed — use a \
                     long random one, or no passphrase for a random key"
                );
            }
            SecretKey::from_passphrase(p)?
        }
        None => SecretKey::generate()?,
    };

    let vocabulary = if args.any_vocabulary {
        None
    } else {
        let path = super::resolve_model(args.model.as_deref())?;
        let tok = super::verify::vocabulary_only(&path)?;
        Some(VocabularyId::of(&tok))
    };
    let key_file = KeyFile::new(key, scheme, vocabulary);
    if args.output.as_os_str() == "-" {
        print!("{}", key_file.to_toml());
    } else {
        key_file.save(&args.output)?;
    }
    let bound = match &key_file.vocabulary {
        Some(v) => format!("bound to a vocabulary of {} tokens", v.tokens),
        None => "usable with any vocabulary".to_string(),
    };
    eprintln!(
        "{}: key id {}, {}, {bound}",
        if args.output.as_os_str() == "-" {
            "printed".to_string()
        } else {
            format!("wrote {} (mode 0600)", args.output.display())
        },
        key_file.id(),
        key_file.scheme,
    );
    Ok(())
}
