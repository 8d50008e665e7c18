//! `retort pull NAME`: fetch, assemble and verify a catalog model or text.

use anyhow::Result;
use retort::catalog::{self, Catalog};

use super::progress::Bar;

/// Pulls each named model or text (or the default model) and prints where it landed.
pub fn run(names: &[String]) -> Result<()> {
    let catalog = Catalog::builtin()?;
    let default = vec![catalog.default_model().name.clone()];
    let names = if names.is_empty() { &default } else { names };
    for name in names {
        let mut bar = Bar::new();
        let (path, size) = match catalog.get(name) {
            Some(model) => (catalog::pull(model, &mut bar), model.size),
            None => {
                let text = catalog.require_text(name).map_err(|_| {
                    anyhow::anyhow!(
                        "'{name}' is not in the catalog (models: {}; texts: {})",
                        names_of(catalog.models().iter().map(|m| m.name.as_str())),
                        names_of(catalog.texts().iter().map(|t| t.name.as_str())),
                    )
                })?;
                (catalog::pull_text(text, &mut bar), text.size)
            }
        };
        bar.finish();
        println!("{name} {} ({size} bytes, sha256 ok)", path?.display());
    }
    Ok(())
}

fn names_of<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}
