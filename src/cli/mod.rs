//! The `retort` command line: one file per subcommand.

pub mod inspect;
pub mod keygen;
pub mod models;
pub mod progress;
pub mod pull;
pub mod run;
pub mod tokenize;
pub mod verify;
pub mod watermark_eval;

use std::path::PathBuf;

use anyhow::Result;
use retort::catalog::{self, Catalog};

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
