//! The machine's memory read bandwidth: how fast `n` threads stream a buffer far larger than
//! the caches, each its own contiguous part, as decode streams the weights. The buffer is
//! anonymous memory advised for huge pages (as the repacked weights are), written once before
//! the timed passes so every page is resident. Together with
//! [`Model::decode_step_bytes`](crate::model::Model::decode_step_bytes) it gives decode's
//! roofline: bandwidth ÷ bytes per step is the fastest a decode step can be on this machine.

use std::time::Instant;

use super::Summary;
use crate::error::Error;
use crate::model::ModelError;

/// Bytes streamed per pass: well beyond any last-level cache of the machines this runs on.
const BUFFER_BYTES: usize = 512 << 20;

/// Read bandwidth, bytes per second, of `n_threads` threads streaming 512 MiB in
/// `passes` timed passes (after one untimed pass).
pub fn read_bandwidth(n_threads: usize, passes: usize) -> Result<Summary, Error> {
    if n_threads == 0 || passes == 0 {
        return Err(Error::Model(ModelError::BadParam(format!(
            "memory bandwidth over {n_threads} threads and {passes} passes"
        ))));
    }
    let mut map = memmap2::MmapMut::map_anon(BUFFER_BYTES).map_err(|e| {
        Error::Model(ModelError::OutOfMemory(format!(
            "{BUFFER_BYTES} bytes to measure the memory bandwidth: {e}"
        )))
    })?;
    #[cfg(target_os = "linux")]
    {
        // A hint: without huge pages the figure is that of 4 KiB pages.
        let _ = map.advise(memmap2::Advice::HugePage);
    }
    for (i, b) in map.iter_mut().enumerate() {
        *b = i as u8;
    }
    let words: &[u64] = bytemuck::cast_slice(&map[..]);
    let part = words.len().div_ceil(n_threads);
    let mut rates = Vec::with_capacity(passes);
    for pass in 0..=passes {
        let t0 = Instant::now();
        let sum = std::thread::scope(|s| {
            let parts: Vec<_> = words
                .chunks(part)
                .map(|p| s.spawn(move || stream(p)))
                .collect();
            parts
                .into_iter()
                .map(|h| h.join().unwrap_or(0))
                .fold(0u64, u64::wrapping_add)
        });
        let secs = t0.elapsed().as_secs_f64();
        std::hint::black_box(sum);
        if pass > 0 {
            rates.push(BUFFER_BYTES as f64 / secs.max(1e-12));
        }
    }
    Summary::of(&rates).ok_or_else(|| {
        Error::Model(ModelError::BadParam(
            "the clock gave no usable bandwidth reading".into(),
        ))
    })
}

/// Reads every word of `words` (a wrapping sum, in independent lanes the compiler keeps in
/// vector registers).
fn stream(words: &[u64]) -> u64 {
    const LANES: usize = 16;
    let mut acc = [0u64; LANES];
    let chunks = words.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] = acc[i].wrapping_add(c[i]);
        }
    }
    acc.into_iter()
        .chain(tail.iter().copied())
        .fold(0, u64::wrapping_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_reads_every_word() {
        let words: Vec<u64> = (1..=1000).collect();
        assert_eq!(stream(&words), 500_500);
        assert_eq!(stream(&words[..7]), 28);
    }

    #[test]
    fn bandwidth_is_measured_per_pass_and_bad_counts_are_errors() {
        let s = read_bandwidth(2, 2).unwrap();
        assert_eq!(s.samples.len(), 2);
        assert!(s.min > 0.0);
        assert!(read_bandwidth(0, 2).is_err());
        assert!(read_bandwidth(1, 0).is_err());
    }
}
