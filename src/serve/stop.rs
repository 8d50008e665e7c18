//! `stop` sequences over streamed text: the text is cut before the first occurrence of any
//! stop string, and a piece that might be the start of one is held back until the next piece
//! shows whether it was, so a client never receives text it should not have.

/// Filters streamed pieces against a request's stop strings.
#[derive(Debug, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    /// Text received but not yet released: a tail that is a prefix of some stop string.
    held: String,
    stopped: bool,
}

impl StopMatcher {
    /// A matcher for `stops` (each non-empty).
    pub fn new(stops: Vec<String>) -> StopMatcher {
        debug_assert!(stops.iter().all(|s| !s.is_empty()));
        StopMatcher {
            stops,
            held: String::new(),
            stopped: false,
        }
    }

    /// True once a stop string was found; nothing more is released.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Adds `piece`; returns the text that is now safe to release (possibly empty).
    pub fn push(&mut self, piece: &str) -> String {
        if self.stopped {
            return String::new();
        }
        if self.stops.is_empty() {
            return piece.to_owned();
        }
        self.held.push_str(piece);
        // An occurrence cannot start in text already released: that text's tail was held back
        // while it could still begin one.
        let first_stop = self.stops.iter().filter_map(|s| self.held.find(s)).min();
        if let Some(at) = first_stop {
            self.stopped = true;
            let out = self.held[..at].to_owned();
            self.held.clear();
            return out;
        }
        let keep = self
            .stops
            .iter()
            .map(|s| longest_suffix_prefix(&self.held, s))
            .max()
            .unwrap_or(0);
        let release = self.held.len() - keep;
        let out = self.held[..release].to_owned();
        self.held.drain(..release);
        out
    }

    /// Ends the stream: whatever was held back was not a stop string after all.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

/// Bytes of the longest proper prefix of `stop` that `text` ends with (on a char boundary).
fn longest_suffix_prefix(text: &str, stop: &str) -> usize {
    let max = (stop.len() - 1).min(text.len());
    (1..=max)
        .rev()
        .find(|&n| {
            text.is_char_boundary(text.len() - n)
                && stop.is_char_boundary(n)
                && text.ends_with(&stop[..n])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let mut m = StopMatcher::new(stops.iter().map(|s| s.to_string()).collect());
        let mut out = String::new();
        for p in pieces {
            out.push_str(&m.push(p));
            if m.stopped() {
                return (out, true);
            }
        }
        out.push_str(&m.finish());
        (out, false)
    }

    #[test]
    fn cuts_before_a_stop_split_across_pieces() {
        assert_eq!(
            run(&["END"], &["abc E", "N", "D more"]),
            ("abc ".into(), true)
        );
        assert_eq!(run(&["\n\n"], &["one\n", "\ntwo"]), ("one".into(), true));
    }

    #[test]
    fn releases_a_false_start_when_it_is_not_a_stop() {
        let mut m = StopMatcher::new(vec!["END".into()]);
        assert_eq!(m.push("x E"), "x ");
        assert_eq!(m.push("N"), "");
        assert_eq!(m.push("d"), "ENd");
        assert!(!m.stopped());
        assert_eq!(run(&["END"], &["EN"]), ("EN".into(), false));
    }

    #[test]
    fn the_earliest_of_several_stops_wins() {
        assert_eq!(run(&["b", "a"], &["xxab"]), ("xx".into(), true));
        // "long stop" starts before the "p" that completes it.
        assert_eq!(
            run(&["long stop", "p"], &["a long sto", "p"]),
            ("a ".into(), true)
        );
        assert_eq!(run(&["stop", "p"], &["a pitstop"]), ("a ".into(), true));
    }

    #[test]
    fn multibyte_text_is_cut_on_character_boundaries() {
        assert_eq!(run(&["é!"], &["café", "!"]), ("caf".into(), true));
        assert_eq!(
            run(&["日本"], &["こんにちは日", "本語"]),
            ("こんにちは".into(), true)
        );
        assert_eq!(run(&["éa"], &["é", "b"]), ("éb".into(), false));
    }

    #[test]
    fn without_stops_everything_passes_at_once() {
        let mut m = StopMatcher::new(Vec::new());
        assert_eq!(m.push("anything END"), "anything END");
    }
}
