//! shopml-train: trains the models on a retailer's exports and writes a model bundle.

use anyhow::Context;
use clap::{Parser, Subcommand};
use shopml_training::config::TrainConfig;
use shopml_training::progress::{Progress, StageTime, seconds};
use shopml_training::{gates, generate, pipeline, report};
use std::path::PathBuf;

/// Trains every model the exports allow, checks the quality gates and writes a versioned
/// model bundle (with REPORT.md).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Directory of the exports (published file names, gzip or plain); default: the generated
    /// sample in training/data (written on first use).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Bundle directory to write (replaced atomically when it exists).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Training configuration (TOML, any subset of training/config/default.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The bundle serving (a bundle directory or its metrics.json): the new figures may be
    /// worse than its by at most gates.tolerance.
    #[arg(long)]
    compare_to: Option<PathBuf>,
    /// Publish even when quality gates fail.
    #[arg(long)]
    no_gates: bool,
    /// EVALUATION.md whose baselines the report compares with; default: the one beside the
    /// data directory, when there is one.
    #[arg(long)]
    baselines: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Writes the small generated sample (same schemas as the published exports).
    Generate {
        /// Directory to write the sample into.
        #[arg(long, default_value = "training/data")]
        out: PathBuf,
    },
}

/// Exit status of a run whose quality gates failed (no bundle published).
const GATES_FAILED: i32 = 3;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = TrainConfig::load(args.config.as_deref())?;
    if let Some(Command::Generate { out }) = args.command {
        let counts = generate::sample(&out, generate::SampleSize::default(), config.seed)
            .with_context(|| format!("writing the sample to {}", out.display()))?;
        eprintln!(
            "sample written to {}: {} order lines, {} products, {} customer rows, {} reviews",
            out.display(),
            counts[0],
            counts[1],
            counts[2],
            counts[3]
        );
        return Ok(());
    }
    let out = args.out.context("--out DIR is required: the bundle directory to write")?;
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => pipeline::default_data_dir().context("generating the sample in training/data")?,
    };
    let reference = args
        .compare_to
        .as_deref()
        .map(gates::read_reference)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let baselines_file = args
        .baselines
        .or_else(|| data_dir.parent().map(|p| p.join("EVALUATION.md")).filter(|p| p.is_file()));
    let baselines = match &baselines_file {
        Some(file) => report::parse_baselines(
            &std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?,
        ),
        None => Vec::new(),
    };

    let progress = Progress::new();
    let trained = pipeline::train(&data_dir, &config, &progress)?;

    let failures = gates::check(&trained.metrics, &config.gates, reference.as_ref());
    if !failures.is_empty() {
        let verdict = if args.no_gates {
            "failed (published anyway: --no-gates)"
        } else {
            "failed; no bundle was published"
        };
        eprintln!("quality gates {verdict}:");
        for failure in &failures {
            eprintln!("  {failure}");
        }
        if !args.no_gates {
            std::process::exit(GATES_FAILED);
        }
    } else {
        let compared = reference.as_ref().map_or(0, |r| {
            config.gates.compare.iter().filter(|p| gates::figure(r, p).is_some()).count()
        });
        eprintln!(
            "quality gates passed: {} limits, {compared} comparisons with the serving bundle",
            config.gates.limits.len()
        );
    }

    let created_at = chrono::Utc::now();
    let stage = progress.stage("report");
    let timings = report::Timings { stages: &progress.timings(), elapsed: progress.elapsed() };
    let report = pipeline::report(&trained, created_at, &timings, &baselines);
    stage.finish(format!("REPORT.md with {} charts", report.charts.len()));
    let summary = summary(&trained.metrics);
    let stage = progress.stage("write");
    let manifest =
        pipeline::write_bundle_with_report(trained, &config, &out, created_at, Some(report))?;
    stage.finish(out.display().to_string());

    eprintln!("\nbundle {} written to {}", manifest.bundle_version, out.display());
    for line in summary {
        eprintln!("  {line}");
    }
    let timings = progress.timings();
    eprintln!(
        "  time: {} in all ({})",
        seconds(progress.elapsed()),
        timings.iter().map(StageTime::describe).collect::<Vec<_>>().join(", ")
    );
    if baselines_file.is_none() {
        eprintln!(
            "  (no EVALUATION.md found beside {}: the report has no published baselines)",
            data_dir.display()
        );
    }
    Ok(())
}

/// Headline figures of each model, one line each.
fn summary(m: &serde_json::Value) -> Vec<String> {
    let f = |section: &str, key: &str| {
        gates::figure(m, &format!("{section}.{key}"))
            .map_or("—".to_owned(), |v| format!("{v:.3}"))
    };
    let mut lines = Vec::new();
    if m.get("cancellation").is_some() {
        lines.push(format!(
            "cancellation: ROC-AUC {}, PR-AUC {}, Brier {}, log-loss {}",
            f("cancellation", "roc_auc"),
            f("cancellation", "pr_auc"),
            f("cancellation", "brier"),
            f("cancellation", "log_loss")
        ));
    }
    if m.get("price").is_some() {
        lines.push(format!(
            "price: R²(ln) {}, MAE ₹{}, MAPE {}%, P10–P90 coverage {}",
            f("price", "r2_log"),
            f("price", "mae_inr"),
            f("price", "mape_pct"),
            f("price", "interval_coverage")
        ));
    }
    for (section, name) in [
        ("sentiment_reviews", "sentiment (reviews)"),
        ("sentiment_products", "sentiment (products)"),
    ] {
        if m.get(section).is_some() {
            lines.push(format!(
                "{name}: macro-F1 {}, neg-F1 {}, ROC-AUC {}",
                f(section, "macro_f1"),
                f(section, "neg_f1"),
                f(section, "roc_auc")
            ));
        }
    }
    if m.get("forecast").is_some() {
        lines.push(format!(
            "forecast: mean MASE {}, WAPE {}, 80% coverage {}, MSIS {}",
            f("forecast", "mase_mean"),
            f("forecast", "wape_mean"),
            f("forecast", "coverage80"),
            f("forecast", "msis80_mean")
        ));
    }
    if m.get("segments").is_some() {
        lines.push(format!(
            "segments: silhouette products {}, customers {}, regions {}",
            f("segments", "products.silhouette"),
            f("segments", "customers.silhouette"),
            f("segments", "regions.silhouette")
        ));
    }
    lines
}
