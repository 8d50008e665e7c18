//! Resident memory of this process, from Linux's `/proc/self/status` and
//! `/proc/self/smaps_rollup`.
//!
//! A model's weights are a file mapping: their resident pages are page cache that the kernel
//! can drop and read again, shared with every other process mapping the file. What the runtime
//! itself adds (KV cache, scratch, tokenizer tables, a copy of weights repacked at this load) is
//! anonymous memory; a repacked copy kept from an earlier load (`LoadParams::packed_dir`) is a
//! file mapping like the weights. So two figures matter: the peak resident set (what
//! `/usr/bin/time` reports, and what an out-of-memory killer sees) and the resident memory
//! beyond the file-backed pages.
//!
//! On systems without `/proc` every reading is `None`; nothing here fails.

use serde::Serialize;

/// One reading of this process's resident memory, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemoryUsage {
    /// Highest resident set size since the process started or since [`reset_peak`]
    /// (`VmHWM`).
    pub peak_rss_bytes: Option<u64>,
    /// Resident set size now (`VmRSS`).
    pub rss_bytes: Option<u64>,
    /// Resident pages of mapped files, the weights among them (`RssFile`).
    pub rss_file_bytes: Option<u64>,
    /// Resident memory beyond the file-backed pages: anonymous memory (`RssAnon`, or
    /// `Anonymous` of `smaps_rollup` on kernels before 4.5) plus shared memory (`RssShmem`).
    pub rss_anon_bytes: Option<u64>,
    /// Proportional set size (`Pss` of `smaps_rollup`): file pages shared with other
    /// processes count for their share only.
    pub pss_bytes: Option<u64>,
}

impl MemoryUsage {
    /// Reads the current figures.
    pub fn now() -> MemoryUsage {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
        MemoryUsage::parse(&status, &rollup)
    }

    /// The figures in the text of a `status` and a `smaps_rollup` file.
    pub fn parse(status: &str, smaps_rollup: &str) -> MemoryUsage {
        let anon = kib_field(status, "RssAnon").or_else(|| kib_field(smaps_rollup, "Anonymous"));
        MemoryUsage {
            peak_rss_bytes: kib_field(status, "VmHWM"),
            rss_bytes: kib_field(status, "VmRSS"),
            rss_file_bytes: kib_field(status, "RssFile"),
            rss_anon_bytes: anon.map(|a| a + kib_field(status, "RssShmem").unwrap_or(0)),
            pss_bytes: kib_field(smaps_rollup, "Pss"),
        }
    }

    /// The larger of each figure of `self` and `other` (a running maximum over readings).
    pub fn max(self, other: MemoryUsage) -> MemoryUsage {
        let m = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        MemoryUsage {
            peak_rss_bytes: m(self.peak_rss_bytes, other.peak_rss_bytes),
            rss_bytes: m(self.rss_bytes, other.rss_bytes),
            rss_file_bytes: m(self.rss_file_bytes, other.rss_file_bytes),
            rss_anon_bytes: m(self.rss_anon_bytes, other.rss_anon_bytes),
            pss_bytes: m(self.pss_bytes, other.pss_bytes),
        }
    }
}

/// Resets the peak resident set size (`VmHWM`) to the current one, so that the next readings'
/// peak covers only what follows (Linux 4.0+; writing `5` to `/proc/self/clear_refs`).
/// Returns whether the kernel accepted it.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The value of a `Name:   123 kB` line, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        let mut words = rest.split_whitespace();
        let value: u64 = words.next()?.parse().ok()?;
        match words.next() {
            Some("kB") => value.checked_mul(1024),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tretort\nVmPeak:\t  500000 kB\nVmHWM:\t  140000 kB\n\
        VmRSS:\t  130000 kB\nRssAnon:\t   30000 kB\nRssFile:\t  100000 kB\nRssShmem:\t      16 kB\n";
    const ROLLUP: &str = "55-7f ---p 00000000 00:00 0 [rollup]\nRss:  130000 kB\n\
        Pss:   90000 kB\nPss_Anon:  30000 kB\nAnonymous:   29999 kB\n";

    #[test]
    fn fields_are_read_in_bytes() {
        let m = MemoryUsage::parse(STATUS, ROLLUP);
        assert_eq!(m.peak_rss_bytes, Some(140_000 * 1024));
        assert_eq!(m.rss_bytes, Some(130_000 * 1024));
        assert_eq!(m.rss_file_bytes, Some(100_000 * 1024));
        assert_eq!(m.rss_anon_bytes, Some(30_016 * 1024));
        // `Pss:` is not confused with `Pss_Anon:`.
        assert_eq!(m.pss_bytes, Some(90_000 * 1024));
    }

    #[test]
    fn old_kernels_and_missing_files() {
        let old = "VmHWM:\t 10 kB\nVmRSS:\t 9 kB\n";
        let m = MemoryUsage::parse(old, ROLLUP);
        assert_eq!(
            m.rss_anon_bytes,
            Some(29_999 * 1024),
            "smaps_rollup fallback"
        );
        assert_eq!(m.rss_file_bytes, None);
        assert_eq!(MemoryUsage::parse("", ""), MemoryUsage::default());
        assert_eq!(
            MemoryUsage::parse("VmHWM: lots kB\n", "").peak_rss_bytes,
            None
        );
    }

    #[test]
    fn the_running_maximum_keeps_the_larger_figures() {
        let a = MemoryUsage::parse(STATUS, "");
        let b = MemoryUsage::parse("VmHWM:\t 150000 kB\nVmRSS:\t 1 kB\n", ROLLUP);
        let m = a.max(b);
        assert_eq!(m.peak_rss_bytes, Some(150_000 * 1024));
        assert_eq!(m.rss_bytes, Some(130_000 * 1024));
        assert_eq!(m.pss_bytes, Some(90_000 * 1024));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_a_resident_set_and_its_peak_can_be_reset() {
        let before = MemoryUsage::now();
        let rss = before.rss_bytes.expect("VmRSS on Linux");
        assert!(before.peak_rss_bytes.unwrap() >= rss);
        // 64 MiB touched page by page raise the peak; resetting brings it back near the
        // current resident set.
        let mut big = vec![0u8; 64 << 20];
        for page in big.chunks_mut(4096) {
            page[0] = 1;
        }
        std::hint::black_box(&big);
        let during = MemoryUsage::now();
        assert!(during.rss_anon_bytes.unwrap() >= before.rss_anon_bytes.unwrap() + (60 << 20));
        drop(big);
        if reset_peak() {
            let after = MemoryUsage::now();
            assert!(
                after.peak_rss_bytes.unwrap() < during.peak_rss_bytes.unwrap() - (32 << 20),
                "{after:?} vs {during:?}"
            );
        }
    }
}
