//! `retort models`: the catalog (models and evaluation texts) and what is cached.

use anyhow::Result;
use retort::catalog::{self, Catalog};

/// Prints one line per catalog model (name, architecture, quant, size, cached or not), then one
/// per evaluation text.
pub fn run() -> Result<()> {
    let catalog = Catalog::builtin()?;
    println!(
        "cache: {}",
        catalog::retort_home()?.join("models").display()
    );
    println!(
        "{:<38} {:<8} {:<8} {:>10}  {:<8} licence",
        "name", "arch", "quant", "size", "cached"
    );
    for m in catalog.models() {
        let cached = if catalog::is_cached(m)? { "yes" } else { "no" };
        let name = if m.default {
            format!("{} *", m.name)
        } else {
            m.name.clone()
        };
        println!(
            "{:<38} {:<8} {:<8} {:>10}  {:<8} {}",
            name,
            m.architecture,
            m.quantization,
            human_bytes(m.size),
            cached,
            m.license
        );
    }
    println!("(* the default model)");
    println!();
    println!("{:<38} {:>10}  {:<8} description", "text", "size", "cached");
    for t in catalog.texts() {
        let cached = if catalog::is_text_cached(t)? {
            "yes"
        } else {
            "no"
        };
        println!(
            "{:<38} {:>10}  {:<8} {}",
            t.name,
            human_bytes(t.size),
            cached,
            t.description
        );
    }
    Ok(())
}

/// `98.4 MB`-style sizes (decimal units, as download sizes are usually given).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
