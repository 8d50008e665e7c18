//! Memory a model and a session take beyond the mapped weights, at given context sizes:
//! `cargo run --release --example footprint -- [--kv-cache f16|f32|q8_0] MODEL.gguf [CTX ...]`
//! (default F16, 512 2048).
//!
//! For each context size, in a fresh process (so one measurement cannot reuse another's
//! freed memory), it reads `/proc/self/status` after opening the model and building its
//! tokenizer, after creating a session, and after filling the whole context (a prefill of
//! `CTX` positions: every KV-cache page touched). "Beyond the map" is `RssAnon`: heap, stacks
//! and anonymous maps; the weights are the file's pages (`RssFile`), shared and reclaimable.

use std::process::Command;

use anyhow::{bail, Context, Result};
use retort::kv_cache::KvCacheType;
use retort::model::Model;
use retort::session::{Session, SessionParams};
use retort::tokenizer::Tokenizer;

/// Resident memory from `/proc/self/status`, in KiB.
#[derive(Clone, Copy, Debug)]
struct Rss {
    anon: u64,
    file: u64,
}

fn rss() -> Result<Rss> {
    let status = std::fs::read_to_string("/proc/self/status").context("/proc/self/status")?;
    let field = |name: &str| -> Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{name} missing from /proc/self/status"))?;
        Ok(line.split_whitespace().nth(1).unwrap_or("0").parse()?)
    };
    Ok(Rss {
        anon: field("RssAnon:")?,
        file: field("RssFile:")?,
    })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One measurement, in this process.
fn measure(path: &str, n_ctx: usize, kv_cache: KvCacheType) -> Result<()> {
    let start = rss()?;
    let model = Model::open(path)?;
    let tok = Tokenizer::from_gguf(model.gguf())?;
    let loaded = rss()?;
    let mut session = Session::new(
        &model,
        &SessionParams {
            n_ctx: Some(n_ctx),
            kv_cache,
            ..SessionParams::default()
        },
    )?;
    let created = rss()?;
    // Any valid ids fill the cache alike; a real text's, repeated.
    let text = tok.encode("The quick brown fox jumps over the lazy dog. ", false)?;
    let ids: Vec<u32> = text.iter().copied().cycle().take(n_ctx).collect();
    session.prefill(&ids)?;
    let full = rss()?;
    println!(
        "{n_ctx}\t{:.1}\t{:.1}\t{:.1}\t{:.1}\t{:.1}\t{:.1}",
        mib(loaded.anon - start.anon),
        mib(created.anon - loaded.anon),
        mib(full.anon - loaded.anon),
        mib(full.anon),
        session.memory_bytes() as f64 / (1024.0 * 1024.0),
        mib(full.file),
    );
    Ok(())
}

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut kv_cache = KvCacheType::F16;
    if args.first().map(String::as_str) == Some("--kv-cache") {
        let name = args
            .get(1)
            .context("--kv-cache needs a type: f16, f32 or q8_0")?;
        kv_cache = KvCacheType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
            .with_context(|| format!("--kv-cache {name:?}: expected f16, f32 or q8_0"))?;
        args.drain(..2);
    }
    let Some(path) = args.first() else {
        bail!("usage: footprint [--kv-cache f16|f32|q8_0] MODEL.gguf [CTX ...]");
    };
    if let [_, flag, ctx] = args.as_slice() {
        if flag == "--one" {
            return measure(path, ctx.parse()?, kv_cache);
        }
    }
    let sizes: Vec<usize> = if args.len() > 1 {
        args[1..]
            .iter()
            .map(|a| a.parse())
            .collect::<Result<_, _>>()?
    } else {
        vec![512, 2048]
    };
    println!(
        "kv cache {}\nctx\tmodel+tokenizer MiB\tsession at creation MiB\tsession full MiB\tprocess RssAnon MiB\tsession reserved MiB\tRssFile MiB",
        kv_cache.name()
    );
    let me = std::env::current_exe()?;
    for n_ctx in sizes {
        let status = Command::new(&me)
            .args(["--kv-cache", kv_cache.name(), path.as_str(), "--one"])
            .arg(n_ctx.to_string())
            .status()?;
        if !status.success() {
            bail!("measuring ctx {n_ctx} failed: {status}");
        }
    }
    Ok(())
}
