//! Greedy continuation of a prompt given as token ids: `greedy_ids MODEL 1,2,3 N`.
//! A debugging aid for comparing with the reference forward pass.

use anyhow::{Context, Result};
use retort::model::Model;
use retort::session::{Session, SessionParams};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, ids, n] = args.as_slice() else {
        anyhow::bail!("usage: greedy_ids MODEL ID,ID,... N");
    };
    let model = Model::open(path)?;
    let prompt: Vec<u32> = ids
        .split(',')
        .map(|s| s.trim().parse().context("token id"))
        .collect::<Result<_>>()?;
    let n: usize = n.parse()?;
    let mut s = Session::new(
        &model,
        &SessionParams {
            n_ctx: Some(2048),
            ..Default::default()
        },
    )?;
    let mut logits = s.prefill(&prompt)?.to_vec();
    let mut out = Vec::new();
    for _ in 0..n {
        let next = logits
            .iter()
            .enumerate()
            .fold(0, |b, (i, &l)| if l > logits[b] { i } else { b }) as u32;
        out.push(next.to_string());
        logits = s.decode(next)?.to_vec();
    }
    println!("{}", out.join(","));
    Ok(())
}
