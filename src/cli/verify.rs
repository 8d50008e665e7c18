//! `retort verify`: is this text watermarked under this key? Needs the key file and the model's
//! vocabulary only; the model's weights are never read.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use retort::gguf::GgufHeader;
use retort::tokenizer::{GgufVocab, Tokenizer};
use retort::watermark::{
    too_short_note, verdict_json, window_excerpt, world_readable_warning, Detector, DetectorParams,
    KeyFile, Scheme, Verdict, VerifiedText, Watermark,
};
use serde_json::json;

/// Options of `retort verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The watermark key file.
    #[arg(short = 'k', long = "key")]
    key: PathBuf,
    /// The model whose tokenizer the text came from (catalog name or GGUF path); only its
    /// vocabulary is read, never its weights.
    #[arg(short = 'm', long = "model")]
    model: Option<String>,
    /// The text file; `-` or nothing reads stdin.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// The false-positive rate to decide at.
    #[arg(long, default_value_t = 1e-6)]
    fpr: f64,
    /// Also find the most significant span of N tokens (for a watermarked passage inside longer
    /// text); its p-value is corrected for the number of spans tried.
    #[arg(long, value_name = "N")]
    window: Option<usize>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Refuse inputs longer than this many bytes.
    #[arg(long, default_value_t = 32 << 20)]
    max_bytes: u64,
}

/// The tokenizer of the GGUF file at `path`, from its header and metadata only.
pub fn vocabulary_only(path: &Path) -> Result<Tokenizer> {
    let header = GgufHeader::open(path)
        .with_context(|| format!("reading the vocabulary of {}", path.display()))?;
    let vocab = GgufVocab::from_metadata(header.metadata())?;
    Ok(Tokenizer::from_vocab(&vocab)?)
}

/// Reads the input: at most `max_bytes`, UTF-8, not binary.
fn read_input(file: Option<&Path>, max_bytes: u64) -> Result<(String, String)> {
    let (name, mut reader): (String, Box<dyn Read>) = match file {
        None => ("stdin".into(), Box::new(std::io::stdin().lock())),
        Some(p) if p.as_os_str() == "-" => ("stdin".into(), Box::new(std::io::stdin().lock())),
        Some(p) => {
            let f = std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
            if let Ok(meta) = f.metadata() {
                if meta.is_file() && meta.len() > max_bytes {
                    bail!(
                        "{} is {} bytes, more than --max-bytes {max_bytes}; raise the limit or \
                         verify it in parts (--window finds a marked span in a long text)",
                        p.display(),
                        meta.len()
                    );
                }
            }
            (p.display().to_string(), Box::new(f))
        }
    };
    let mut bytes = Vec::new();
    reader
        .by_ref()
        .take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {name}"))?;
    if bytes.len() as u64 > max_bytes {
        bail!(
            "{name} is longer than --max-bytes {max_bytes}; raise the limit or verify it in parts"
        );
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        bail!("{name} is binary, not text: it has a NUL byte at offset {at}");
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let byte = e.as_bytes()[at];
        anyhow::anyhow!("{name} is not UTF-8 text: byte 0x{byte:02x} at offset {at} is invalid")
    })?;
    Ok((name, text))
}

/// Runs the verifier.
pub fn run(args: VerifyArgs) -> Result<()> {
    let params = DetectorParams {
        fpr: args.fpr,
        window: args.window,
    };
    params.validate()?;
    let key_file = KeyFile::load(&args.key)?;
    if let Some(w) = world_readable_warning(&args.key) {
        eprintln!("warning: {w}");
    }
    let watermark = Watermark::new(key_file)?;
    let path = super::resolve_model(args.model.as_deref())?;
    let tok = vocabulary_only(&path)?;
    watermark.check_tokenizer(&tok).with_context(|| {
        format!(
            "key {} and the vocabulary of {}",
            watermark.key_id(),
            path.display()
        )
    })?;
    let (name, text) = read_input(args.file.as_deref(), args.max_bytes)?;

    let t0 = Instant::now();
    let ids = tok.encode_long(&text)?;
    let tokenize_time = t0.elapsed();
    let detector = Detector::new(watermark.clone(), params)?;
    let t1 = Instant::now();
    let verdict = detector.score(&ids);
    let score_time = t1.elapsed();

    let scheme = *watermark.scheme();
    if args.json {
        let report = verdict_json(
            &tok,
            &verdict,
            &scheme,
            &VerifiedText {
                ids: &ids,
                bytes: text.len(),
                tokenize_time,
                score_time,
            },
        );
        let mut v = json!({ "input": name });
        if let (Some(obj), Some(fields)) = (v.as_object_mut(), report.as_object()) {
            obj.extend(fields.clone());
            obj.insert("model".into(), json!(path.display().to_string()));
        }
        println!("{v}");
        return Ok(());
    }
    let note = too_short_note(&verdict, &scheme);
    let span_text = window_excerpt(&tok, &verdict, &ids);
    print_verdict(&verdict, &scheme, note.as_deref(), span_text.as_deref());
    Ok(())
}

fn print_verdict(v: &Verdict, scheme: &Scheme, note: Option<&str>, span: Option<&str>) {
    println!("key {} · {}", v.key_id, scheme);
    println!(
        "text: {} tokens, {} scored ({} repeated, {} context)",
        v.tokens, v.scored_tokens, v.repeated_tokens, v.context_tokens
    );
    let z = v.z.map_or("–".to_string(), |z| format!("{z:.2}"));
    match v.green_fraction {
        Some(f) => println!(
            "score: {} green of {} ({:.1} %; {:.1} % expected without the key), z = {z}",
            v.score,
            v.scored_tokens,
            100.0 * f,
            100.0 * v.expected_score / v.scored_tokens.max(1) as f64
        ),
        None => println!(
            "score: {:.1} ({:.1} expected without the key), z = {z}",
            v.score, v.expected_score
        ),
    }
    println!("p-value: {:.3e} (whole text)", v.text_p_value);
    if let Some(w) = &v.window {
        println!(
            "most significant {}-token span: tokens {}..{} ({} scored), p = {:.3e}; corrected \
             for {} spans: {:.3e}",
            w.size, w.start, w.end, w.scored_tokens, w.p_value, w.tries, v.p_value
        );
        if let Some(s) = span {
            println!("  \"{s}\"");
        }
    }
    if let Some(n) = note {
        println!("verdict: not watermarked — {n}");
    } else if v.watermarked {
        println!(
            "verdict: WATERMARKED under key {} (p = {:.3e} ≤ FPR {:e})",
            v.key_id, v.p_value, v.fpr
        );
    } else {
        println!(
            "verdict: not watermarked under key {} (p = {:.3e} > FPR {:e})",
            v.key_id, v.p_value, v.fpr
        );
    }
}
