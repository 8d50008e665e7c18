//! Prints the arg-max after every prompt position: `argmax_all MODEL 1,2,3`. A debugging aid.
use anyhow::Result;
use retort::model::Model;
use retort::session::{Session, SessionParams};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();

    let (Some(path), Some(list)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: argmax_all MODEL ID,ID,...");
    };
    let ids: Vec<u32> = list
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let model = Model::open(path)?;
    let mut s = Session::new(
        &model,
        &SessionParams {
            n_ctx: Some(2048),
            ..Default::default()
        },
    )?;
    let mut all = Vec::new();
    s.logits_all(&ids, &mut all)?;
    let n = model.hparams.n_vocab;
    let best: Vec<String> = all
        .chunks(n)
        .map(|r| {
            r.iter()
                .enumerate()
                .fold(0, |b, (i, &l)| if l > r[b] { i } else { b })
                .to_string()
        })
        .collect();
    println!("{}", best.join(","));
    let last = &all[all.len() - n..];
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| last[b].total_cmp(&last[a]));
    println!(
        "{:?}",
        idx[..5].iter().map(|&i| (i, last[i])).collect::<Vec<_>>()
    );
    Ok(())
}
