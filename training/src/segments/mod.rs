//! The segments' slice of training: its settings (`[segments]`), what it reads (whichever of
//! the product catalogue, the customer file and the order lines the run has, and the review
//! model trained before it), the k-means and rules (`training.rs`), its summary, its report
//! sections and its files.

mod training;

pub use training::{SegmentInputs, TrainedSegments, bought_together, train};

use crate::config::{ConfigError, TrainConfig};
use crate::data::Exports;
use crate::report::ReportWriter;
use crate::sentiment::TrainedSentiment;
use crate::trainer::{
    self, BesideResult, Job, Prepared, Run, Settings, TrainError, TrainedModel, Trainer,
};
use serde::{Deserialize, Serialize};
use shopml_core::bundle::BundleWriter;
use shopml_core::segments::{AssociationRule, NAME, SegmentKind, SegmentSections};
use shopml_core::sentiment::SentimentPredictor;

/// `[segments]`: k-means over k, and the bought-together rules' thresholds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentSettings {
    pub k_min: usize,
    pub k_max: usize,
    pub restarts: usize,
    pub max_iterations: usize,
    pub region_min_lines: usize,
    /// A region figure: the share of lines whose attribute `region_share_attribute` (of
    /// `[columns.sales.attributes]`) is `region_share_value` (Amazon: fulfilled by Amazon);
    /// "" for none.
    #[serde(default)]
    pub region_share_attribute: String,
    #[serde(default)]
    pub region_share_value: String,
    pub rules_min_orders: usize,
    pub rules_min_confidence: f64,
    pub rules_min_lift: f64,
    pub rules_per_sku: usize,
}

impl Settings for SegmentSettings {
    fn check(&self) -> Result<(), String> {
        if self.k_min < 2
            || self.k_max < self.k_min
            || self.restarts == 0
            || self.max_iterations == 0
        {
            return Err("2 <= k_min <= k_max; restarts and max_iterations > 0".into());
        }
        if self.k_max > 50 || self.restarts > 1000 || self.max_iterations > 100_000 {
            return Err("k_max <= 50, restarts <= 1000, max_iterations <= 100000".into());
        }
        let rules = (0.0..=1.0).contains(&self.rules_min_confidence)
            && trainer::non_negative(self.rules_min_lift)
            && self.rules_min_orders > 0;
        if !rules {
            return Err(
                "rules_min_confidence in [0, 1], rules_min_lift finite and >= 0, rules_min_orders > 0"
                    .into(),
            );
        }
        Ok(())
    }
}

pub struct SegmentsTrainer;

impl Trainer for SegmentsTrainer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check_settings(&self, config: &TrainConfig) -> Result<(), ConfigError> {
        trainer::settings::<SegmentSettings>(config, NAME).map(drop)
    }

    fn prepare<'a>(
        &self,
        exports: &'a Exports,
        config: &'a TrainConfig,
    ) -> Result<Prepared<'a>, TrainError> {
        let settings = trainer::settings(config, NAME)?;
        Ok(Prepared::Job(Box::new(SegmentsJob { exports, settings })))
    }
}

struct SegmentsJob<'a> {
    exports: &'a Exports,
    settings: SegmentSettings,
}

impl<'a> Job<'a> for SegmentsJob<'a> {
    /// Segments use the sentiment model, when one was trained, to score product reviews.
    fn train(
        self: Box<Self>,
        run: &Run<'_, 'a>,
        _beside: Option<BesideResult<'_>>,
    ) -> Result<Box<dyn TrainedModel>, TrainError> {
        let exports = self.exports;
        let predictor = run.trained::<TrainedSentiment>().map(|s| {
            SentimentPredictor::new(s.encoder.clone(), s.model.clone(), s.calibration.clone())
        });
        trainer::staged(run.progress, "segments", |stage| {
            let inputs = SegmentInputs {
                products: exports.products.as_ref().map(|p| p.products.as_slice()),
                purchases: exports.customers.as_ref().map(|c| c.purchases.as_slice()),
                sales: exports.sales.as_ref(),
                sentiment: predictor.as_ref(),
                currency: &run.config.money.currency,
            };
            Ok(Box::new(train(inputs, &self.settings, run.config.seed, stage)))
        })
    }
}

fn kind_name(kind: SegmentKind) -> &'static str {
    match kind {
        SegmentKind::Product => "products",
        SegmentKind::Customer => "customers",
        SegmentKind::Region => "regions",
    }
}

impl TrainedModel for TrainedSegments {
    fn name(&self) -> &'static str {
        NAME
    }

    fn metrics(&self) -> serde_json::Value {
        serde_json::to_value(SegmentSections { segments: self.metrics.clone() })
            .expect("figures serialise")
    }

    fn summary(&self) -> String {
        let m = &self.metrics;
        let parts: Vec<String> =
            [("products", &m.products), ("customers", &m.customers), ("regions", &m.regions)]
                .iter()
                .filter_map(|(name, m)| {
                    m.as_ref()
                        .map(|m| format!("{name}: k = {}, silhouette {:.3}", m.k, m.silhouette))
                })
                .collect();
        parts.join("; ")
    }

    /// The silhouette of every k tried, against the published k = 3 baseline.
    fn report_quality(&self, report: &mut ReportWriter<'_>) {
        report.line(
            "### Segments\n\nMean silhouette of every k tried (the highest is chosen):\n\n| kind | k chosen | silhouette by k | baseline (k = 3) |\n|---|---|---|---|",
        );
        for set in &self.sets {
            let kind = kind_name(set.kind);
            let by_k: Vec<String> =
                set.silhouette_by_k.iter().map(|(k, v)| format!("{k}: {v:.3}")).collect();
            let baseline = report
                .baselines
                .iter()
                .find(|b| b.task == "segments")
                .and_then(|b| b.figures.iter().find(|(n, _)| n == kind))
                .map(|f| f.1);
            report.line(format!(
                "| {kind} | {} | {} | {} |",
                set.k,
                by_k.join(", "),
                baseline.map_or("—".into(), |v| v.to_string())
            ));
        }
        report.line("");
    }

    /// Each segment described, and the strongest bought-together rules.
    fn report_business(&self, report: &mut ReportWriter<'_>) {
        for set in &self.sets {
            let title = match set.kind {
                SegmentKind::Product => "Product segments",
                SegmentKind::Customer => "Customer segments",
                SegmentKind::Region => "Region segments",
            };
            report.line(format!(
                "### {title}\n\n| segment | members | silhouette | description | most frequent attributes |\n|---|---|---|---|---|"
            ));
            for seg in &set.segments {
                let attributes: Vec<String> = seg
                    .attributes
                    .iter()
                    .map(|a| format!("{} {} {:.0}%", a.attribute, a.value, 100.0 * a.share))
                    .collect();
                report.line(format!(
                    "| {} | {} | {:.3} | {} | {} |",
                    seg.name,
                    seg.size,
                    seg.silhouette,
                    seg.description,
                    attributes.join(", ")
                ));
            }
            report.line("");
        }
        let bought = &self.bought_together;
        let mut rules: Vec<&AssociationRule> = bought.rules.values().flatten().collect();
        rules.sort_by(|a, b| b.lift.total_cmp(&a.lift).then(b.orders.cmp(&a.orders)));
        if rules.is_empty() {
            return;
        }
        report.line(format!(
            "### Bought together\n\nRules mined from {} orders with several products (at least {} orders, confidence ≥ {:.2}, lift ≥ {:.1}); the 15 strongest of {}:\n\n| with | also | support | confidence | lift | orders |\n|---|---|---|---|---|---|",
            bought.multi_line_orders,
            bought.min_orders,
            bought.min_confidence,
            bought.min_lift,
            rules.len()
        ));
        for r in rules.iter().take(15) {
            report.line(format!(
                "| {} | {} | {:.4} | {:.3} | {:.2} | {} |",
                r.antecedent, r.consequent, r.support, r.confidence, r.lift, r.orders
            ));
        }
        report.line("");
    }

    fn save(self: Box<Self>, writer: &mut BundleWriter) -> Result<(), TrainError> {
        shopml_core::segments::save(
            writer,
            &self.sets,
            &self.bought_together,
            serde_json::to_value(&self.settings).expect("settings serialise"),
        )?;
        Ok(())
    }
}
