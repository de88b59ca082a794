//! shopml-train: trains the models on a retailer's exports and writes a model bundle.

use anyhow::Context;
use clap::{Parser, Subcommand};
use shopml_training::config::TrainConfig;
use shopml_training::{generate, pipeline};
use shopml_training::progress::Progress;
use std::path::PathBuf;

/// Trains every model the exports allow and writes a versioned model bundle.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Directory of the exports (published file names, gzip or plain); default: the committed
    /// sample in training/data.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Bundle directory to write (replaced atomically when it exists).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Training configuration (TOML, any subset of training/config/default.toml).
    #[arg(long)]
    config: Option<PathBuf>,
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

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Command::Generate { out }) = args.command {
        let config = TrainConfig::load(args.config.as_deref())?;
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
    let config = TrainConfig::load(args.config.as_deref())?;
    let out = args.out.context("--out DIR is required: the bundle directory to write")?;
    let data_dir = args.data_dir.unwrap_or_else(pipeline::default_data_dir);
    let progress = Progress::new();
    let started = std::time::Instant::now();
    let trained = pipeline::train(&data_dir, &config, &progress)?;
    let manifest = pipeline::write_bundle(trained, &config, &out)?;
    eprintln!(
        "bundle {} written to {} in {:.1}s",
        manifest.bundle_version,
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
