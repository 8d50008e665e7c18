//! `retort pull NAME`: fetch, assemble and verify a catalog model.

use anyhow::Result;
use retort::catalog::{self, Catalog, CatalogError};

use super::progress::Bar;

/// Pulls each named model (or the default) and prints where it landed.
pub fn run(names: &[String]) -> Result<()> {
    let catalog = Catalog::builtin()?;
    let default = vec![catalog.default_model().name.clone()];
    let names = if names.is_empty() { &default } else { names };
    for name in names {
        let model = catalog
            .get(name)
            .ok_or_else(|| CatalogError::UnknownModel {
                name: name.clone(),
                known: catalog
                    .models()
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
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
