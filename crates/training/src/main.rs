//! shopml-train: trains the models on a retailer's exports and writes a model bundle.

use anyhow::Context;
use clap::{Parser, Subcommand};
use shopml_training::config::TrainConfig;
use shopml_training::progress::{Progress, StageTime, seconds};
use shopml_training::trainers::TrainingMetrics;
use shopml_training::{gates, generate, pipeline, report};
use std::path::{Path, PathBuf};

/// Trains every model the exports allow, checks the quality gates and writes a versioned
/// model bundle (with REPORT.md).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Directory of the exports (published file names, gzip or plain); default: the generated
    /// sample in crates/training/data (written on first use).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Bundle directory to write (replaced atomically when it exists), or a repository in
    /// object storage (s3://bucket/prefix, gs://…, az://…, file:///…) to publish a new version
    /// into (credentials from AWS_*, GOOGLE_*, AZURE_*).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Training configuration (TOML, any subset of crates/training/config/default.toml, or a
    /// retailer profile of config/retailers/); given several times, the later files override
    /// the earlier ones.
    #[arg(long)]
    config: Vec<PathBuf>,
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
    /// Also write the cleaned order lines as a star schema of Parquet tables into this
    /// directory (replaced), for DuckDB, Spark or polars; see docs/DATA.md.
    #[arg(long)]
    warehouse: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Writes the small generated sample (same schemas as the published exports).
    Generate {
        /// Directory to write the sample into.
        #[arg(long, default_value = "crates/training/data")]
        out: PathBuf,
        /// Write only the online shop's export, with about this many lines (scale runs; see
        /// scripts/scale.sh).
        #[arg(long)]
        online_retail_lines: Option<usize>,
    },
}

/// Exit status of a run whose quality gates failed (no bundle published).
const GATES_FAILED: i32 = 3;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let files: Vec<&Path> = args.config.iter().map(PathBuf::as_path).collect();
    let config = TrainConfig::load_all(&files)?;
    if let Some(Command::Generate { out, online_retail_lines }) = args.command {
        if let Some(lines) = online_retail_lines {
            std::fs::create_dir_all(&out)?;
            let customers = (lines / 63).max(1);
            let written = generate::online_retail::write_sized(&out, config.seed, customers)?;
            eprintln!("{}: {written} lines", out.join(generate::online_retail::FILE).display());
            return Ok(());
        }
        return generate_sample(&out, config.seed);
    }
    let out = args.out.context("--out DIR is required: the bundle directory to write")?;
    let location = out.to_string_lossy().into_owned();
    // A repository in object storage: checked writable now, published after training from a
    // local copy of the bundle.
    let (out, repository) = if shopml_store::is_url(&location) {
        let repository = shopml_store::Repository::open(&location, &[])?;
        shopml_store::block_on(repository.check_writable())?;
        let staging = std::env::temp_dir()
            .join(format!("shopml-publish-{}", std::process::id()))
            .join("bundle");
        (staging, Some(repository))
    } else {
        (out, None)
    };
    pipeline::check_out(&out)?;
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => {
            pipeline::default_data_dir().context("generating the sample in crates/training/data")?
        }
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
    let baselines = baselines_file.as_deref().map(read_baselines).transpose()?.unwrap_or_default();

    let progress = Progress::new();
    let trained = pipeline::train(&data_dir, &config, &progress)?;

    if !gates_pass(&trained.metrics, &config, reference.as_ref(), args.no_gates) {
        std::process::exit(GATES_FAILED);
    }

    if let Some(dir) = &args.warehouse {
        let stage = progress.stage("warehouse");
        let counts = shopml_training::warehouse::write(&trained.exports, dir)?;
        stage.finish(format!(
            "{}: {} order lines in {} months, {} products, {} customers, {} regions, {} days",
            dir.display(),
            counts.fact_order_line,
            counts.months,
            counts.dim_product,
            counts.dim_customer,
            counts.dim_region,
            counts.dim_date
        ));
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

    if let Some(repository) = &repository {
        let stage = progress.stage("publish");
        let version = shopml_store::block_on(repository.publish(&out))?;
        let _ = std::fs::remove_dir_all(out.parent().unwrap_or(&out));
        stage.finish(format!("{}/{version}", repository.url()));
    }
    let written_to =
        repository.as_ref().map_or_else(|| out.display().to_string(), |r| r.url().to_owned());
    eprintln!("\nbundle {} written to {written_to}", manifest.bundle_version);
    for line in summary {
        eprintln!("  {line}");
    }
    let timings: Vec<String> = progress.timings().iter().map(StageTime::describe).collect();
    eprintln!("  time: {} in all ({})", seconds(progress.elapsed()), timings.join(", "));
    if baselines_file.is_none() {
        eprintln!(
            "  (no EVALUATION.md found beside {}: the report has no published baselines)",
            data_dir.display()
        );
    }
    Ok(())
}

fn generate_sample(out: &Path, seed: u64) -> anyhow::Result<()> {
    let counts = generate::sample(out, generate::SampleSize::default(), seed)
        .with_context(|| format!("writing the sample to {}", out.display()))?;
    eprintln!("sample written to {}:", out.display());
    for (file, rows) in generate::FILES.iter().zip(counts) {
        eprintln!("  {file}: {rows} rows");
    }
    Ok(())
}

/// The published baselines of an EVALUATION.md.
fn read_baselines(file: &Path) -> anyhow::Result<Vec<report::Baseline>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    Ok(report::parse_baselines(&text))
}

/// Checks the quality gates and says how they went; false when the bundle must not be
/// published (a gate failed and `no_gates` is not set).
fn gates_pass(
    metrics: &TrainingMetrics,
    config: &TrainConfig,
    reference: Option<&serde_json::Value>,
    no_gates: bool,
) -> bool {
    let failures = gates::check(&metrics.to_json(), &config.gates, reference);
    if failures.is_empty() {
        let compared = reference.map_or(0, |r| {
            config.gates.compare.iter().filter(|p| gates::figure(r, p).is_some()).count()
        });
        eprintln!(
            "quality gates passed: {} limits, {compared} comparisons with the serving bundle",
            config.gates.limits.len()
        );
        return true;
    }
    let verdict = if no_gates {
        "failed (published anyway: --no-gates)"
    } else {
        "failed; no bundle was published"
    };
    eprintln!("quality gates {verdict}:");
    for failure in &failures {
        eprintln!("  {failure}");
    }
    no_gates
}

/// Headline figures of each model, one line each.
fn summary(m: &TrainingMetrics) -> Vec<String> {
    let mut lines = Vec::new();
    let currency = m.currency.as_deref().unwrap_or("");
    if let Some(c) = &m.cancellation {
        let name = match c.outcome {
            shopml_core::cancellation::PredictedOutcome::Cancellation => "cancellation",
            shopml_core::cancellation::PredictedOutcome::Return => "return risk (after the fact)",
        };
        lines.push(format!(
            "{name}: ROC-AUC {:.3}, PR-AUC {:.3}, Brier {:.3}, log-loss {:.3}; orders: ROC-AUC {:.3}",
            c.roc_auc, c.pr_auc, c.brier, c.log_loss, c.order_roc_auc
        ));
    }
    if let Some(p) = &m.price {
        lines.push(format!(
            "price: R²(ln) {:.3}, MAE {}, MAPE {:.3}%, P10–P90 coverage {:.3}",
            p.r2_log,
            shopml_core::money::format(p.mae, currency),
            p.mape_pct,
            p.interval_coverage
        ));
    }
    let reviews = m.sentiment_reviews.as_ref().map(|r| ("sentiment (reviews)", &r.figures));
    let products = m.sentiment_products.as_ref().map(|p| ("sentiment (products)", &p.figures));
    for (name, s) in reviews.into_iter().chain(products) {
        lines.push(format!(
            "{name}: macro-F1 {:.3}, neg-F1 {:.3}, ROC-AUC {:.3}",
            s.macro_f1, s.neg_f1, s.roc_auc
        ));
    }
    if let Some(f) = &m.forecast {
        lines.push(format!(
            "forecast: mean MASE {:.3}, WAPE {:.3}, 80% coverage {:.3}, MSIS {:.3}",
            f.mase_mean, f.wape_mean, f.coverage80, f.msis80_mean
        ));
    }
    if let Some(s) = &m.segments {
        let silhouette = |k: &Option<shopml_training::segments::KindMetrics>| {
            k.as_ref().map_or("—".to_owned(), |k| format!("{:.3}", k.silhouette))
        };
        lines.push(format!(
            "segments: silhouette products {}, customers {}, regions {}",
            silhouette(&s.products),
            silhouette(&s.customers),
            silhouette(&s.regions)
        ));
    }
    for skipped in &m.skipped {
        lines.push(format!("{}: not trained: {}", skipped.model, skipped.reason));
    }
    if !currency.is_empty() {
        lines.push(format!("amounts in {currency}"));
    }
    lines
}
