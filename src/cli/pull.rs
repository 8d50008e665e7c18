//! `retort pull NAME`: fetch, assemble and verify a catalog model.

use anyhow::Result;
use retort::catalog::{self, Catalog};

use super::progress::Bar;

/// Pulls each named model (or the default) and prints where it landed.
pub fn run(names: &[String]) -> Result<()> {
    let catalog = Catalog::builtin()?;
    let default = vec![catalog.default_model().name.clone()];
    let names = if names.is_empty() { &default } else { names };
    for name in names {
        let model = catalog.require(name)?;
        let mut bar = Bar::new();
        let path = catalog::pull(model, &mut bar);
        bar.finish();
        let path = path?;
        println!(
            "{} {} ({} bytes, sha256 ok)",
            model.name,
            path.display(),
            model.size
        );
    }
    Ok(())
}
