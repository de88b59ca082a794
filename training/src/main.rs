//! shopml-train: trains the models on a retailer's exports and writes a model bundle.

use anyhow::Context;
use clap::{Parser, Subcommand};
use shopml_training::config::TrainConfig;
use shopml_training::progress::{Progress, StageTime, seconds};
use shopml_training::{gates, generate, pipeline, remote, report};
use std::path::{Path, PathBuf};

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
    /// Bundle directory to write (replaced atomically when it exists), or a repository in
    /// object storage (s3://bucket/prefix, gs://…, az://…, file:///…) to publish a new version
    /// into (credentials from AWS_*, GOOGLE_*, AZURE_*).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Training configuration (TOML, any subset of config/training.toml, or a
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
        #[arg(long, default_value = "training/data")]
        out: PathBuf,
        /// Write only the online shop's export, with about this many lines (scale runs; see
        /// scripts/scale.sh).
        #[arg(long)]
        online_retail_lines: Option<usize>,
    },
    /// Writes the orders of some days of the export (--data-dir) as the checkout would have
    /// sent them: `shopml.v1.Order` messages in JSON, one a line (for `shopml-bench --replay`).
    Orders {
        /// First day; default: the first test day of --test-days-of.
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last day (inclusive); default: the export's last.
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// A bundle whose cancellation test days to write (its metrics.json's split).
        #[arg(long)]
        test_days_of: Option<PathBuf>,
        /// File to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Recomputes every figure of a bundle's insights and recommendations from the exports
    /// (--data-dir, --config) with polars expressions and compares them (exit status 4 when
    /// one differs).
    Reconcile {
        /// The bundle trained on these exports.
        #[arg(long)]
        bundle: PathBuf,
    },
    /// Joins the cancellation predictions a server logged (monitoring.prediction_log_dir)
    /// with the outcomes of a later export (--data-dir), reports ROC-AUC, Brier, calibration
    /// and drift, and applies the quality gates of the cancellation figures (exit status 3
    /// when one fails). See docs/MONITORING.md.
    Evaluate {
        /// The bundle that made the predictions (its version picks the records).
        #[arg(long)]
        bundle: PathBuf,
        /// The prediction log: a directory, or its URL in object storage (s3://…, gs://…,
        /// az://…, file://…; credentials from AWS_*, GOOGLE_*, AZURE_*).
        #[arg(long)]
        predictions: PathBuf,
        /// Also write the evaluation as JSON to this file.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Compare with this bundle's (or metrics.json's) figures by gates.compare and
        /// gates.tolerance; default: the evaluated bundle's own test-day figures.
        #[arg(long)]
        compare_to: Option<PathBuf>,
    },
}

/// Exit status of a run whose quality gates failed (no bundle published).
const GATES_FAILED: i32 = 3;

/// Exit status of a reconciliation that found a figure differing.
const FIGURES_DIFFER: i32 = 4;

fn reconcile(data_dir: &Path, config: &TrainConfig, bundle: &Path) -> anyhow::Result<()> {
    let exports = shopml_training::data::read_exports(data_dir, config)?;
    let insights: shopml_core::insights::Insights =
        shopml_core::bundle::read_json(bundle, "insights/insights.json")
            .with_context(|| format!("{}: the bundle's insights", bundle.display()))?;
    let check =
        shopml_training::reconcile::reconcile(&exports, &insights).map_err(anyhow::Error::msg)?;
    eprintln!(
        "{} figures recomputed from {}: {} differ",
        check.checked,
        data_dir.display(),
        check.mismatches.len()
    );
    for mismatch in check.mismatches.iter().take(50) {
        eprintln!("  {mismatch}");
    }
    if !check.mismatches.is_empty() {
        std::process::exit(FIGURES_DIFFER);
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let files: Vec<&Path> = args.config.iter().map(PathBuf::as_path).collect();
    let config = pipeline::load_config(&files)?;
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
    match args.command {
        Some(Command::Orders { from, to, test_days_of, out }) => {
            return write_orders(&data_dir(args.data_dir)?, &config, from, to, test_days_of, &out);
        }
        Some(Command::Reconcile { bundle }) => {
            return reconcile(&data_dir(args.data_dir)?, &config, &bundle);
        }
        Some(Command::Evaluate { bundle, predictions, report, compare_to }) => {
            let passed = evaluate(
                &data_dir(args.data_dir)?,
                &config,
                &bundle,
                &predictions,
                report.as_deref(),
                compare_to.as_deref(),
            )?;
            if !passed {
                std::process::exit(GATES_FAILED);
            }
            return Ok(());
        }
        _ => {}
    }
    let out = args.out.context("--out DIR is required: the bundle directory to write")?;
    let location = out.to_string_lossy().into_owned();
    // A repository in object storage: checked writable now, published after training from a
    // local copy of the bundle.
    let (out, repository) = if remote::is_url(&location) {
        let repository = remote::open_writable(&location)?;
        let staging = std::env::temp_dir()
            .join(format!("shopml-publish-{}", std::process::id()))
            .join("bundle");
        (staging, Some(repository))
    } else {
        (out, None)
    };
    pipeline::check_out(&out)?;
    let data_dir = data_dir(args.data_dir)?;
    pipeline::check_out_apart(&out, &data_dir)?;
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
    let summary = summary(&trained);
    let stage = progress.stage("write");
    let manifest =
        pipeline::write_bundle_with_report(trained, &config, &out, created_at, Some(report))?;
    stage.finish(out.display().to_string());

    if let Some(repository) = &repository {
        let stage = progress.stage("publish");
        let version = remote::publish(repository, &out)?;
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

/// The exports' directory: the one given, or the generated sample.
fn data_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match given {
        Some(dir) => Ok(dir),
        None => pipeline::default_data_dir().context("generating the sample in training/data"),
    }
}

fn read_sales(
    data_dir: &Path,
    config: &TrainConfig,
) -> anyhow::Result<shopml_training::data::sales::Sales> {
    shopml_training::data::read_exports(data_dir, config)?
        .sales
        .with_context(|| format!("{} has no order-line export", data_dir.display()))
}

fn write_orders(
    data_dir: &Path,
    config: &TrainConfig,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    test_days_of: Option<PathBuf>,
    out: &Path,
) -> anyhow::Result<()> {
    use std::io::Write;
    let from = match (from, test_days_of) {
        (Some(from), _) => from,
        (None, Some(bundle)) => {
            let metrics = gates::read_reference(&bundle).map_err(anyhow::Error::msg)?;
            let day = metrics
                .pointer("/split/cancellation_test_from")
                .and_then(|v| v.as_str())
                .with_context(|| {
                    format!(
                        "{}: metrics.json has no split.cancellation_test_from",
                        bundle.display()
                    )
                })?;
            day.parse().with_context(|| format!("split.cancellation_test_from {day:?}"))?
        }
        (None, None) => anyhow::bail!("give --from DAY or --test-days-of BUNDLE"),
    };
    let sales = read_sales(data_dir, config)?;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut file = std::io::BufWriter::new(file);
    let orders = shopml_training::evaluate::checkout_orders(&sales, from, to, |order| {
        serde_json::to_writer(&mut file, order)?;
        file.write_all(b"\n")
    })
    .with_context(|| format!("writing {}", out.display()))?;
    file.flush()?;
    eprintln!("{orders} orders from {from} written to {}", out.display());
    Ok(())
}

/// Runs a live evaluation, prints it and checks the cancellation gates; false when one fails.
fn evaluate(
    data_dir: &Path,
    config: &TrainConfig,
    bundle: &Path,
    predictions: &Path,
    report: Option<&Path>,
    compare_to: Option<&Path>,
) -> anyhow::Result<bool> {
    let sales = read_sales(data_dir, config)?;
    // A log in object storage is read from a local copy of its finished files.
    let location = predictions.to_string_lossy().into_owned();
    let copy = remote::is_url(&location)
        .then(|| std::env::temp_dir().join(format!("shopml-evaluate-{}", std::process::id())));
    if let Some(copy) = &copy {
        let fetched = remote::download_log(&location, copy)?;
        eprintln!("{fetched} log files fetched from {}", remote::redacted(&location));
    }
    let evaluation =
        shopml_training::evaluate::evaluate(bundle, copy.as_deref().unwrap_or(predictions), &sales);
    if let Some(copy) = &copy {
        let _ = std::fs::remove_dir_all(copy);
    }
    let evaluation = evaluation?;
    let json = serde_json::to_value(&evaluation)?;
    if let Some(path) = report {
        std::fs::write(path, serde_json::to_string_pretty(&json)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let c = &evaluation.cancellation;
    let j = &evaluation.join;
    eprintln!(
        "bundle {}: {} lines joined ({} logged; {} not in the export, {} without an outcome yet, {} repeated; {} records of other versions)",
        evaluation.bundle_version,
        j.lines_joined,
        j.lines_logged,
        j.lines_not_in_export,
        j.lines_without_outcome,
        j.lines_repeated,
        j.other_versions
    );
    let days = match (c.first_order_date, c.last_order_date) {
        (Some(a), Some(b)) => format!("{a} to {b}"),
        _ => "-".into(),
    };
    eprintln!(
        "  orders of {days}: ROC-AUC {:.4}, PR-AUC {:.4}, Brier {:.4}, log-loss {:.4}; positive rate {:.4}, mean probability {:.4}",
        c.roc_auc, c.pr_auc, c.brier, c.log_loss, c.test_positive_rate, c.mean_probability
    );
    eprintln!("  calibration (probability bin: lines, mean probability, observed rate):");
    for b in &c.calibration {
        eprintln!(
            "    {:.1}–{:.1}: {:>7} lines, {:.4}, {:.4}",
            b.from, b.to, b.lines, b.mean_probability, b.observed_rate
        );
    }
    if let Some(drift) = &c.drift {
        let mut inputs = drift.inputs.clone();
        inputs.sort_by(|a, b| b.1.total_cmp(&a.1));
        let top: Vec<String> = inputs.iter().take(5).map(|(n, v)| format!("{n} {v:.3}")).collect();
        eprintln!(
            "  drift (PSI against the bundle's reference): score {:.3}; inputs {}",
            drift.score,
            top.join(", ")
        );
    }
    // The gates of the cancellation figures, against the bundle's own test-day figures unless
    // another reference is given.
    let reference =
        gates::read_reference(compare_to.unwrap_or(bundle)).map_err(anyhow::Error::msg)?;
    let mut gate_settings = config.gates.clone();
    gate_settings.limits.retain(|path, _| path.starts_with("cancellation."));
    gate_settings.compare.retain(|path| path.starts_with("cancellation."));
    let failures = gates::check(&evaluation.figures(), &gate_settings, Some(&reference));
    if let Some(trained) = gates::value_at(&reference, "cancellation.roc_auc") {
        eprintln!("  training's test days: ROC-AUC {trained:.4} (live {:.4})", c.roc_auc);
    }
    if failures.is_empty() {
        eprintln!(
            "quality gates passed: {} limits, {} comparisons",
            gate_settings.limits.len(),
            gate_settings.compare.len()
        );
        Ok(true)
    } else {
        eprintln!("quality gates FAILED: retrain");
        for failure in &failures {
            eprintln!("  {failure}");
        }
        Ok(false)
    }
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
    metrics: &serde_json::Value,
    config: &TrainConfig,
    reference: Option<&serde_json::Value>,
    no_gates: bool,
) -> bool {
    let mut failures = gates::check(&gates::figures(metrics), &config.gates, reference);
    failures.extend(gates::check_baselines(metrics, &config.gates));
    if failures.is_empty() {
        let compared = reference.map_or(0, |r| {
            config.gates.compare.iter().filter(|p| gates::value_at(r, p).is_some()).count()
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

/// Headline figures of each model, one line each, then what was not trained.
fn summary(trained: &pipeline::Trained) -> Vec<String> {
    let mut lines: Vec<String> =
        trained.models.iter().map(|m| format!("{}: {}", m.name(), m.summary())).collect();
    for skipped in &trained.skipped {
        lines.push(format!("{}: not trained: {}", skipped.model, skipped.reason));
    }
    if let Some(sales) = &trained.exports.sales {
        lines.push(format!("amounts in {}", sales.currency));
    }
    lines
}
