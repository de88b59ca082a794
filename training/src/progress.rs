//! Progress of the training job: a bar per stage on a terminal, plain log lines otherwise, and
//! the time each stage took for the summary.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Progress {
    interactive: bool,
    timings: Mutex<Vec<(String, Duration)>>,
}

impl Progress {
    pub fn new() -> Self {
        Self { interactive: std::io::stderr().is_terminal(), timings: Mutex::new(Vec::new()) }
    }

    /// A silent progress (tests).
    pub fn quiet() -> Self {
        Self { interactive: false, timings: Mutex::new(Vec::new()) }
    }

    pub fn stage(&self, name: &str) -> Stage<'_> {
        let bar = self.interactive.then(|| {
            let bar = ProgressBar::new(1);
            bar.set_style(
                ProgressStyle::with_template("{prefix:>14.bold} [{bar:24}] {pos}/{len} {elapsed:>4} {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(name.to_owned());
            bar
        });
        Stage { name: name.to_owned(), bar, started: Instant::now(), progress: self }
    }

    pub fn timings(&self) -> Vec<(String, Duration)> {
        self.timings.lock().expect("progress lock").clone()
    }

    /// Logs a line (above the bars on a terminal).
    pub fn log(&self, line: &str) {
        eprintln!("{line}");
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

pub struct Stage<'p> {
    name: String,
    bar: Option<ProgressBar>,
    started: Instant,
    progress: &'p Progress,
}

impl Stage<'_> {
    pub fn set_length(&self, steps: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(steps);
        }
    }

    /// One step done, with a message.
    pub fn tick(&self, message: impl AsRef<str>) {
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(message.as_ref().to_owned());
            }
            None if self.progress.interactive => {}
            None => {
                if !message.as_ref().is_empty() {
                    eprintln!("[{}] {}", self.name, message.as_ref());
                }
            }
        }
    }

    pub fn finish(self, summary: impl AsRef<str>) -> Duration {
        let elapsed = self.started.elapsed();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprintln!("[{}] done in {:.1}s: {}", self.name, elapsed.as_secs_f64(), summary.as_ref());
        self.progress.timings.lock().expect("progress lock").push((self.name.clone(), elapsed));
        elapsed
    }
}
