//! A progress bar (indicatif) for pulls.

use indicatif::{ProgressBar, ProgressStyle};
use retort::catalog::PullProgress;

/// A stderr progress bar that switches between byte counts and a spinner.
pub struct Bar {
    bar: Option<ProgressBar>,
}

impl Bar {
    /// A bar that draws nothing until the first phase starts.
    pub fn new() -> Bar {
        Bar { bar: None }
    }

    /// Clears the bar.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl PullProgress for Bar {
    fn phase(&mut self, message: &str, total: Option<u64>) {
        self.finish();
        let bar = match total {
            Some(t) => {
                let b = ProgressBar::new(t);
                b.set_style(
                    ProgressStyle::with_template(
                        "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec})",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                b
            }
            None => {
                let b = ProgressBar::new_spinner();
                b.enable_steady_tick(std::time::Duration::from_millis(120));
                b
            }
        };
        bar.set_message(message.to_owned());
        self.bar = Some(bar);
    }

    fn advance(&mut self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }
}
