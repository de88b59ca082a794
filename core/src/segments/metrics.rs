//! The segments' figures in `metrics.json`.

use crate::served::Figure;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KindMetrics {
    pub k: usize,
    pub silhouette: f64,
    pub silhouette_by_k: BTreeMap<usize, f64>,
    pub members: usize,
    pub segments: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SegmentMetrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub products: Option<KindMetrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customers: Option<KindMetrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regions: Option<KindMetrics>,
    pub bought_together_rules: usize,
    pub multi_line_orders: usize,
}

impl KindMetrics {
    fn figures(&self, at: &dyn Fn(&str) -> String) -> Vec<Figure> {
        let mut figures = vec![
            Figure::higher(at("silhouette"), self.silhouette),
            Figure::neither(at("k"), self.k as f64),
            Figure::neither(at("members"), self.members as f64),
        ];
        for (k, silhouette) in &self.silhouette_by_k {
            figures.push(Figure::higher(at(&format!("silhouette_by_k.{k}")), *silhouette));
        }
        figures
    }
}

impl SegmentMetrics {
    /// The figures under `section`, with their direction.
    pub fn figures(&self, section: &str) -> Vec<Figure> {
        let mut figures = vec![Figure::neither(
            format!("{section}.bought_together_rules"),
            self.bought_together_rules as f64,
        )];
        for (kind, metrics) in [
            ("products", &self.products),
            ("customers", &self.customers),
            ("regions", &self.regions),
        ] {
            if let Some(m) = metrics {
                let at = |key: &str| format!("{section}.{kind}.{key}");
                figures.extend(m.figures(&at));
            }
        }
        figures
    }
}
