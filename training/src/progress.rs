//! Progress of the training job: a bar per running stage on a terminal, plain log lines
//! otherwise, and the time each stage took for the summary.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a stage took.
#[derive(Debug, Clone)]
pub struct StageTime {
    pub name: String,
    pub duration: Duration,
    /// The stage ran on a thread of its own beside the ones that followed it (its time is
    /// not part of theirs: the run took less than the sum).
    pub beside: bool,
    /// The process's peak resident memory when the stage finished, in MiB (Linux).
    pub peak_rss_mib: Option<f64>,
}

impl StageTime {
    /// "name 1.2 s", marked when it ran beside.
    pub fn describe(&self) -> String {
        let beside = if self.beside { " (beside the others)" } else { "" };
        format!("{} {}{beside}", self.name, seconds(self.duration))
    }
}

/// The process's peak resident memory so far, in MiB (`VmHWM` of /proc/self/status; `None`
/// where there is no such file).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// "1.2 s".
pub fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

pub struct Progress {
    /// The bars of the running stages (on a terminal).
    bars: Option<MultiProgress>,
    started: Instant,
    timings: Mutex<Vec<StageTime>>,
}

impl Progress {
    pub fn new() -> Self {
        Self::with_bars(std::io::stderr().is_terminal())
    }

    /// A silent progress (tests).
    pub fn quiet() -> Self {
        Self::with_bars(false)
    }

    fn with_bars(interactive: bool) -> Self {
        Self {
            bars: interactive.then(MultiProgress::new),
            started: Instant::now(),
            timings: Mutex::new(Vec::new()),
        }
    }

    pub fn stage(&self, name: &str) -> Stage<'_> {
        self.start(name, false)
    }

    /// A stage that runs on a thread of its own beside the stages that follow.
    pub fn stage_beside(&self, name: &str) -> Stage<'_> {
        self.start(name, true)
    }

    fn start(&self, name: &str, beside: bool) -> Stage<'_> {
        let bar = self.bars.as_ref().map(|bars| {
            let bar = bars.add(ProgressBar::new(1));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>14.bold} [{bar:24}] {pos}/{len} {elapsed:>4} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(name.to_owned());
            bar
        });
        Stage { name: name.to_owned(), bar, started: Instant::now(), beside, progress: self }
    }

    pub fn timings(&self) -> Vec<StageTime> {
        self.timings.lock().expect("progress lock").clone()
    }

    /// Time since the run started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Logs a line (above the bars on a terminal).
    pub fn log(&self, line: &str) {
        match &self.bars {
            Some(bars) => bars.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
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
    beside: bool,
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
            if let Some(bars) = &self.progress.bars {
                bars.remove(bar);
            }
        }
        let peak = peak_rss_mib();
        self.progress.log(&format!(
            "[{}] done in {:.1}s{}: {}",
            self.name,
            elapsed.as_secs_f64(),
            peak.map_or(String::new(), |p| format!(" (peak RSS {p:.0} MiB)")),
            summary.as_ref()
        ));
        self.progress.timings.lock().expect("progress lock").push(StageTime {
            name: self.name.clone(),
            duration: elapsed,
            beside: self.beside,
            peak_rss_mib: peak,
        });
        elapsed
    }
}
