//! The `retort` command line: one file per subcommand.

pub mod bench;
#[cfg(feature = "chat")]
pub mod chat;
pub mod compare;
pub mod inspect;
pub mod keygen;
pub mod models;
pub mod perplexity;
pub mod progress;
pub mod pull;
pub mod run;
pub mod sampling_args;
#[cfg(feature = "serve")]
pub mod serve;
pub mod tokenize;
pub mod verify;
pub mod watermark_eval;

use std::path::PathBuf;

use anyhow::Result;
use retort::catalog::{self, Catalog};

/// Tells the user, on stderr, when the repacked weights could not be kept for the next load
/// (an unwritable or full cache directory): the load went on, but the next one repacks again.
pub fn warn_unkept_copy(model: &retort::model::Model) {
    if let retort::model::PackedOrigin::Repacked {
        note: Some(note), ..
    } = model.packed_origin()
    {
        eprintln!(
            "warning: the repacked weights were not kept for the next load ({note}); \
             set RETORT_PACKED_CACHE=off to stop trying"
        );
    }
}

/// Resolves a `-m` argument (catalog name or path), pulling a catalog model on first use with a
/// progress bar on stderr.
pub fn resolve_model(name_or_path: Option<&str>) -> Result<PathBuf> {
    let catalog = Catalog::builtin()?;
    let name = name_or_path
        .unwrap_or(&catalog.default_model().name)
        .to_owned();
    let mut bar = progress::Bar::new();
    let path = catalog::resolve(&catalog, &name, &mut bar)?;
    bar.finish();
    Ok(path)
}

/// Resolves an evaluation-text argument (catalog text name or path), pulling a catalog text on
/// first use with a progress bar on stderr.
pub fn resolve_text(name_or_path: &str) -> Result<PathBuf> {
    let catalog = Catalog::builtin()?;
    let mut bar = progress::Bar::new();
    let path = catalog::resolve_text(&catalog, name_or_path, &mut bar);
    bar.finish();
    Ok(path?)
}
