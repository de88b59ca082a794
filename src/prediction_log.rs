//! The prediction log's writer. Handlers offer sampled records to a bounded queue and never
//! wait: when the queue is full the record is dropped and counted. One thread turns records
//! into JSON lines, in files that are finished (renamed from `.jsonl.open` to `.jsonl`) past a
//! size, at shutdown, and the oldest deleted past a count. The record schema is
//! `shopml_core::prediction_log`.

use crate::config::MonitoringSettings;
use crate::metrics::Metrics;
use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;
use shopml_core::prediction_log::{
    FILE_SUFFIX, LoggedPrediction, PredictionRecord, SCHEMA_VERSION,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The models that log, each with its own rate.
#[derive(Debug, Clone, Copy)]
pub enum LoggedModel {
    Cancellation,
    Price,
    Sentiment,
}

impl LoggedModel {
    const ALL: [LoggedModel; 3] = [Self::Cancellation, Self::Price, Self::Sentiment];

    fn name(self) -> &'static str {
        match self {
            Self::Cancellation => "cancellation",
            Self::Price => "price",
            Self::Sentiment => "sentiment",
        }
    }
}

/// Longest `x-request-id` kept.
const MAX_REQUEST_ID: usize = 128;
/// How often the writer drains the queue.
const POLL: Duration = Duration::from_millis(5);
/// The open file is flushed at least this often.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
const PREFIX: &str = "predictions-";

struct Pending {
    time: DateTime<Utc>,
    request_id: Option<String>,
    bundle_version: String,
    prediction: LoggedPrediction,
}

enum Message {
    Record(Box<Pending>),
    /// Finish the open file and stop.
    Close,
}

pub struct PredictionLog {
    sender: SyncSender<Message>,
    /// Per model, the draw below which a prediction is logged (rate × 2⁶⁴; u64::MAX: all).
    thresholds: [u64; 3],
    draws: AtomicU64,
    dropped: Counter,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// SplitMix64: a well-mixed draw from a counter, so sampling needs no shared generator.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl PredictionLog {
    /// Starts the writer when the settings name a directory (or an object-store URL) and a
    /// model logs; None otherwise. `store_options` configure the object store.
    pub fn start(
        settings: &MonitoringSettings,
        store_options: &[(String, String)],
        metrics: &Metrics,
    ) -> std::io::Result<Option<Arc<Self>>> {
        let location = settings.prediction_log_dir.trim();
        let rates = LoggedModel::ALL.map(|m| settings.log_rate(m.name()));
        if location.is_empty() || rates.iter().all(|&r| r <= 0.0) {
            return Ok(None);
        }
        // A repository in object storage: files are written in a local spool and uploaded
        // once finished.
        let (dir, upload) = if shopml_store::is_url(location) {
            let repository = shopml_store::Repository::open(location, store_options)
                .map_err(std::io::Error::other)?;
            let spool =
                std::env::temp_dir().join(format!("shopml-prediction-log-{}", std::process::id()));
            (spool, Some(repository))
        } else {
            (PathBuf::from(location), None)
        };
        std::fs::create_dir_all(&dir)?;
        let (sender, receiver) = std::sync::mpsc::sync_channel(settings.log_queue_records);
        let writer = Writer {
            dir,
            upload,
            max_bytes: settings.log_file_max_bytes,
            max_files: settings.log_max_files,
            open: None,
            sequence: 0,
            written: metrics.prediction_log_records("written"),
            failed: metrics.prediction_log_records("failed"),
            ids: 0,
            clock: Clock::default(),
        };
        let handle = std::thread::Builder::new()
            .name("prediction-log".into())
            .spawn(move || writer.run(receiver))?;
        let thresholds =
            rates.map(|r| if r >= 1.0 { u64::MAX } else { (r * u64::MAX as f64) as u64 });
        Ok(Some(Arc::new(Self {
            sender,
            thresholds,
            draws: AtomicU64::new(0),
            dropped: metrics.prediction_log_records("dropped"),
            writer: Mutex::new(Some(handle)),
        })))
    }

    /// Whether this prediction of `model` is logged.
    pub fn sampled(&self, model: LoggedModel) -> bool {
        match self.thresholds[model as usize] {
            0 => false,
            u64::MAX => true,
            below => mix(self.draws.fetch_add(1, Ordering::Relaxed)) < below,
        }
    }

    /// Queues a record, or drops and counts it when the queue is full.
    pub fn offer(
        &self,
        request_id: Option<&str>,
        bundle_version: &str,
        prediction: LoggedPrediction,
    ) {
        let pending = Pending {
            time: Utc::now(),
            request_id: request_id
                .map(|id| shopml_core::features::echo(id).chars().take(MAX_REQUEST_ID).collect()),
            bundle_version: bundle_version.to_owned(),
            prediction,
        };
        match self.sender.try_send(Message::Record(Box::new(pending))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.inc();
            }
        }
    }

    /// Writes what is queued, finishes the open file and stops the writer.
    pub fn close(&self) {
        let Some(handle) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let _ = self.sender.send(Message::Close);
        let _ = handle.join();
    }
}

impl Drop for PredictionLog {
    fn drop(&mut self) {
        self.close();
    }
}

struct Writer {
    dir: PathBuf,
    /// Where finished files go, when the log is in object storage.
    upload: Option<shopml_store::Repository>,
    max_bytes: u64,
    max_files: usize,
    open: Option<OpenFile>,
    sequence: u64,
    written: Counter,
    failed: Counter,
    /// Request ids made up for calls that sent none.
    ids: u64,
    clock: Clock,
}

struct OpenFile {
    path: PathBuf,
    out: Counted<std::io::BufWriter<std::fs::File>>,
}

/// A writer that counts the bytes written to it (buffered or not).
struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// RFC 3339 times with milliseconds, the date and time of day formatted once a second.
#[derive(Default)]
struct Clock {
    second: i64,
    prefix: String,
}

impl Clock {
    fn format(&mut self, time: DateTime<Utc>) -> String {
        if time.timestamp() != self.second || self.prefix.is_empty() {
            self.second = time.timestamp();
            self.prefix = time.format("%Y-%m-%dT%H:%M:%S").to_string();
        }
        format!("{}.{:03}Z", self.prefix, time.timestamp_subsec_millis())
    }
}

impl Writer {
    /// Drains the queue every [`POLL`], so a handler's offer never has to wake this thread
    /// (a wake-up per record would cost more than writing it).
    fn run(mut self, receiver: Receiver<Message>) {
        let mut flushed = std::time::Instant::now();
        'serve: loop {
            loop {
                match receiver.try_recv() {
                    Ok(Message::Record(pending)) => {
                        if let Err(error) = self.write(*pending) {
                            self.failed.inc();
                            tracing::warn!(%error, dir = %self.dir.display(), "prediction log write failed");
                            self.open = None;
                        }
                    }
                    Ok(Message::Close) | Err(TryRecvError::Disconnected) => break 'serve,
                    Err(TryRecvError::Empty) => break,
                }
            }
            if flushed.elapsed() >= FLUSH_EVERY {
                if let Some(open) = &mut self.open {
                    let _ = open.out.flush();
                }
                flushed = std::time::Instant::now();
            }
            std::thread::sleep(POLL);
        }
        if let Err(error) = self.finish() {
            tracing::warn!(%error, "prediction log: the last file could not be finished");
        }
    }

    fn write(&mut self, pending: Pending) -> std::io::Result<()> {
        let request_id = pending.request_id.unwrap_or_else(|| {
            self.ids += 1;
            format!("shopml-{:x}-{:x}", std::process::id(), mix(self.ids))
        });
        let record = PredictionRecord {
            schema: SCHEMA_VERSION,
            request_id,
            time: self.clock.format(pending.time),
            bundle_version: pending.bundle_version,
            prediction: pending.prediction,
        };
        if self.open.is_none() {
            self.open = Some(self.create()?);
        }
        let open = self.open.as_mut().expect("opened above");
        serde_json::to_writer(&mut open.out, &record).map_err(std::io::Error::other)?;
        open.out.write_all(b"\n")?;
        self.written.inc();
        if open.out.bytes >= self.max_bytes {
            self.finish()?;
        }
        Ok(())
    }

    fn create(&mut self) -> std::io::Result<OpenFile> {
        self.sequence += 1;
        let name = format!(
            "{PREFIX}{}-{}-{}-{:06}{FILE_SUFFIX}.open",
            Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
            host_name(),
            std::process::id(),
            self.sequence
        );
        let path = self.dir.join(name);
        let file = std::fs::File::create(&path)?;
        let out = Counted { inner: std::io::BufWriter::with_capacity(1 << 16, file), bytes: 0 };
        Ok(OpenFile { path, out })
    }

    /// Flushes and renames the open file to its finished name, uploads the finished files
    /// when the log is in object storage, then applies the retention.
    fn finish(&mut self) -> std::io::Result<()> {
        let Some(mut open) = self.open.take() else { return Ok(()) };
        open.out.flush()?;
        let finished = open.path.with_extension("");
        std::fs::rename(&open.path, &finished)?;
        self.upload_finished();
        self.retain()
    }

    /// Uploads every finished file of the spool (one that failed before is tried again) and
    /// deletes each uploaded; a failure is counted and logged, and the file stays.
    fn upload_finished(&self) {
        let Some(repository) = &self.upload else { return };
        let Ok(files) = shopml_core::prediction_log::log_files(&self.dir) else { return };
        for file in files.into_iter().filter(|p| is_ours(p)) {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            match shopml_store::block_on(repository.put_file(&name, &file)) {
                Ok(()) => {
                    let _ = std::fs::remove_file(&file);
                }
                Err(error) => {
                    self.failed.inc();
                    tracing::warn!(%error, file = %file.display(), "prediction log upload failed; kept for the next try");
                }
            }
        }
    }

    fn retain(&self) -> std::io::Result<()> {
        if self.max_files == 0 {
            return Ok(());
        }
        let mut ours: Vec<PathBuf> = shopml_core::prediction_log::log_files(&self.dir)?
            .into_iter()
            .filter(|p| is_ours(p))
            .collect();
        while ours.len() > self.max_files {
            std::fs::remove_file(ours.remove(0))?;
        }
        Ok(())
    }
}

/// This machine's name (a pod's name under Kubernetes), reduced to letters, digits and
/// dashes, so replicas sharing a log directory write different files.
fn host_name() -> String {
    let name = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .unwrap_or_default();
    let name: String = name
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .take(63)
        .collect();
    if name.is_empty() { "host".into() } else { name }
}

fn is_ours(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shopml_core::prediction_log::{LoggedSentiment, read_records};

    fn settings(dir: &Path, queue: usize, max_bytes: u64, max_files: usize) -> MonitoringSettings {
        let mut s = crate::config::Settings::defaults().monitoring;
        s.prediction_log_dir = dir.to_string_lossy().into_owned();
        s.log_rate_sentiment = 1.0;
        s.log_queue_records = queue;
        s.log_file_max_bytes = max_bytes;
        s.log_max_files = max_files;
        s
    }

    fn sentiment(p: f64) -> LoggedPrediction {
        LoggedPrediction::Sentiment(LoggedSentiment {
            negative_probability: p,
            words_used: 3,
            words_total: 3,
        })
    }

    #[test]
    fn records_rotate_into_finished_files_and_the_oldest_go() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Metrics::new();
        let log = PredictionLog::start(&settings(dir.path(), 10_000, 4096, 3), &[], &metrics)
            .unwrap()
            .expect("a directory and a rate start the log");
        assert!(log.sampled(LoggedModel::Sentiment) && !log.sampled(LoggedModel::Price));
        for i in 0..2_000 {
            log.offer(Some("req\u{7}-1"), "v1", sentiment(i as f64 / 2000.0));
        }
        log.close();
        let files = shopml_core::prediction_log::log_files(dir.path()).unwrap();
        assert_eq!(files.len(), 3, "the retention keeps three finished files");
        let mut records = Vec::new();
        read_records(dir.path(), |r| records.push(r)).unwrap();
        assert!(records.len() < 2_000 && !records.is_empty());
        assert!(records.windows(2).all(|w| w[0].time <= w[1].time), "files read in order");
        assert!(!records[0].request_id.contains('\u{7}'), "control characters are not echoed");
        let time = chrono::DateTime::parse_from_rfc3339(&records[0].time).unwrap();
        assert!(
            (Utc::now() - time.with_timezone(&Utc)).num_seconds().abs() < 60,
            "{}",
            records[0].time
        );
        let text = metrics.encode();
        assert!(text.contains(r#"shopml_prediction_log_records_total{result="written"} 2000"#));
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Metrics::new();
        let log = PredictionLog::start(&settings(dir.path(), 1, 1 << 20, 0), &[], &metrics)
            .unwrap()
            .unwrap();
        let started = std::time::Instant::now();
        for _ in 0..50_000 {
            log.offer(None, "v1", sentiment(0.5));
        }
        assert!(started.elapsed() < Duration::from_secs(5), "offering never blocks");
        log.close();
        let mut written = 0;
        read_records(dir.path(), |_| written += 1).unwrap();
        let text = metrics.encode();
        let dropped: u64 = text
            .lines()
            .find(|l| l.starts_with(r#"shopml_prediction_log_records_total{result="dropped"}"#))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .expect("dropped records are counted");
        assert_eq!(written + dropped, 50_000, "every record is written or counted as dropped");
    }

    #[test]
    fn sampling_follows_the_rate() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path(), 16, 1 << 20, 0);
        s.log_rate_sentiment = 0.1;
        let log = PredictionLog::start(&s, &[], &Metrics::new()).unwrap().unwrap();
        let hits = (0..100_000).filter(|_| log.sampled(LoggedModel::Sentiment)).count();
        assert!((9_000..11_000).contains(&hits), "{hits}");
    }
}
