//! Segments of products, customers and regions (k-means computed in training), looked up by
//! id and assigned to new profiles with the training scaling; and bought-together rules.

pub mod metrics;

use crate::served::{Figure, ServedModel};
pub use metrics::{KindMetrics, SegmentMetrics};

use crate::bundle::{BundleError, BundleWriter, read_json};
use crate::features::{Standardizer, normalize_key, normalize_state};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

pub const SEGMENTS_FILE: &str = "segments/segments.json";
pub const RULES_FILE: &str = "segments/bought_together.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    Product,
    Customer,
    Region,
}

impl SegmentKind {
    pub const ALL: [SegmentKind; 3] =
        [SegmentKind::Product, SegmentKind::Customer, SegmentKind::Region];

    /// Normalises a member id as training keyed it.
    pub fn member_key(self, id: &str) -> String {
        match self {
            SegmentKind::Product => id.trim().to_owned(),
            SegmentKind::Customer => id.trim().to_owned(),
            SegmentKind::Region => normalize_state(id),
        }
    }
}

/// How a raw figure becomes a clustering feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    Identity,
    /// ln(x), for prices.
    Ln,
    /// ln(1 + x), for counts.
    Ln1p,
}

impl Transform {
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Transform::Identity => x,
            Transform::Ln => x.ln(),
            Transform::Ln1p => x.ln_1p(),
        }
    }

    pub fn invert(self, y: f64) -> f64 {
        match self {
            Transform::Identity => y,
            Transform::Ln => y.exp(),
            Transform::Ln1p => y.exp_m1(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// Name, e.g. "price", "rating", "cancellation_rate".
    pub name: String,
    /// ISO 4217 code when the figure is an amount of money.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    pub transform: Transform,
    pub scaler: Standardizer,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeShare {
    pub attribute: String,
    pub value: String,
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub id: u32,
    pub name: String,
    pub description: String,
    pub size: usize,
    /// Centroid in original units, in feature order.
    pub centroid: Vec<f64>,
    /// Centroid in standardised units (what assignment measures distances to).
    pub standardized_centroid: Vec<f64>,
    pub silhouette: f64,
    pub attributes: Vec<AttributeShare>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub segment: u32,
    /// The member's figures in original units, in feature order.
    pub figures: Vec<f64>,
    pub details: BTreeMap<String, String>,
}

/// The segments of one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentSet {
    pub kind: SegmentKind,
    pub features: Vec<Feature>,
    pub segments: Vec<Segment>,
    pub k: usize,
    pub silhouette: f64,
    /// Mean silhouette of every k tried.
    pub silhouette_by_k: BTreeMap<usize, f64>,
    pub members: BTreeMap<String, Member>,
}

impl SegmentSet {
    /// Standardised features of raw figures (validated: finite, in the transform's domain).
    pub fn standardize(&self, figures: &[f64]) -> Vec<f64> {
        self.features
            .iter()
            .zip(figures)
            .map(|(f, &x)| f.scaler.transform(f.transform.apply(x)) as f64)
            .collect()
    }

    /// The nearest segment of standardised features, and the distance to its centroid.
    pub fn nearest(&self, standardized: &[f64]) -> (&Segment, f64) {
        self.segments
            .iter()
            .map(|s| {
                let d2: f64 = s
                    .standardized_centroid
                    .iter()
                    .zip(standardized)
                    .map(|(c, x)| (c - x).powi(2))
                    .sum();
                (s, d2.sqrt())
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("a segment set has segments")
    }

    pub fn member(&self, id: &str) -> Option<(&str, &Member)> {
        let key = self.kind.member_key(id);
        self.members.get_key_value(&key).map(|(k, m)| (k.as_str(), m))
    }

    fn validate(&self) -> Result<(), String> {
        let d = self.features.len();
        if self.segments.is_empty() || self.segments.len() != self.k {
            return Err(format!(
                "{:?}: k = {} but {} segments",
                self.kind,
                self.k,
                self.segments.len()
            ));
        }
        for s in &self.segments {
            if s.centroid.len() != d || s.standardized_centroid.len() != d {
                return Err(format!(
                    "{:?}: segment {} has a centroid of the wrong size",
                    self.kind, s.id
                ));
            }
        }
        if let Some((id, m)) =
            self.members.iter().find(|(_, m)| m.segment as usize >= self.k || m.figures.len() != d)
        {
            return Err(format!(
                "{:?}: member {id} names segment {} or has {} figures",
                self.kind,
                m.segment,
                m.figures.len()
            ));
        }
        Ok(())
    }
}

/// "Orders with the antecedent also hold the consequent."
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssociationRule {
    pub antecedent: String,
    pub consequent: String,
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
    pub orders: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BoughtTogether {
    /// Orders with several distinct SKUs the rules were mined from.
    pub multi_line_orders: usize,
    pub min_orders: usize,
    pub min_confidence: f64,
    pub min_lift: f64,
    /// SKUs seen in those orders (normalised), so a known SKU without rules is not "unknown".
    pub skus: Vec<String>,
    /// Rules by antecedent SKU (normalised), highest lift first.
    pub rules: BTreeMap<String, Vec<AssociationRule>>,
}

impl BoughtTogether {
    /// Every rule, the strongest first: by lift, then orders, then antecedent.
    pub fn strongest(&self) -> Vec<&AssociationRule> {
        let mut all: Vec<&AssociationRule> = self.rules.values().flatten().collect();
        all.sort_by(|a, b| {
            b.lift
                .total_cmp(&a.lift)
                .then(b.orders.cmp(&a.orders))
                .then(a.antecedent.cmp(&b.antecedent))
                .then(a.consequent.cmp(&b.consequent))
        });
        all
    }
}

/// Everything segment lookups need.
pub struct SegmentIndex {
    pub sets: HashMap<SegmentKind, SegmentSet>,
    pub bought_together: BoughtTogether,
    known_skus: std::collections::HashSet<String>,
}

impl SegmentIndex {
    pub fn new(sets: Vec<SegmentSet>, bought_together: BoughtTogether) -> Self {
        let known_skus = bought_together.skus.iter().cloned().collect();
        Self { sets: sets.into_iter().map(|s| (s.kind, s)).collect(), bought_together, known_skus }
    }

    pub fn set(&self, kind: SegmentKind) -> Option<&SegmentSet> {
        self.sets.get(&kind)
    }

    /// Rules of a SKU (None when the SKU was in no multi-line order).
    pub fn rules(&self, sku: &str) -> Option<&[AssociationRule]> {
        let key = normalize_key(sku);
        match self.bought_together.rules.get(&key) {
            Some(rules) => Some(rules),
            None if self.known_skus.contains(&key) => Some(&[]),
            None => None,
        }
    }

    pub fn warm_up(&self) {
        for set in self.sets.values() {
            if let Some(segment) = set.segments.first() {
                let _ = set.nearest(&segment.standardized_centroid);
            }
        }
    }
}

/// The segments' name in a bundle's manifest.
pub const NAME: &str = "segments";

pub fn save(
    writer: &mut BundleWriter,
    sets: &[SegmentSet],
    bought_together: &BoughtTogether,
    config: serde_json::Value,
) -> Result<(), BundleError> {
    writer.write_json(SEGMENTS_FILE, sets)?;
    writer.write_json(RULES_FILE, bought_together)?;
    writer.add_model(NAME, config, &[SEGMENTS_FILE, RULES_FILE]);
    Ok(())
}

pub fn load(dir: &Path) -> Result<SegmentIndex, BundleError> {
    let sets: Vec<SegmentSet> = read_json(dir, SEGMENTS_FILE)?;
    if sets.is_empty() {
        return Err(BundleError::incompatible(
            dir.join(SEGMENTS_FILE),
            "holds no segment set (the manifest lists segments)",
        ));
    }
    for set in &sets {
        set.validate()
            .map_err(|reason| BundleError::incompatible(dir.join(SEGMENTS_FILE), reason))?;
    }
    let bought_together: BoughtTogether = read_json(dir, RULES_FILE)?;
    Ok(SegmentIndex::new(sets, bought_together))
}

/// The segments' section of metrics.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SegmentSections {
    pub segments: SegmentMetrics,
}

impl crate::served::ModelMetrics for SegmentSections {
    fn figures(&self) -> Vec<Figure> {
        self.segments.figures("segments")
    }
}

impl ServedModel for SegmentIndex {
    const NAME: &'static str = NAME;
    type Metrics = SegmentSections;

    fn load(dir: &Path, _device: &burn::tensor::Device) -> Result<Self, BundleError> {
        load(dir)
    }

    fn warm_up(&self) {
        SegmentIndex::warm_up(self)
    }

    fn describe(&self, _currency: &str) -> String {
        "segments of products, customers and regions, and bought-together rules".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assigns_to_the_nearest_centroid_with_the_training_scaling() {
        let feature = |name: &str, transform| Feature {
            name: name.into(),
            currency: None,
            transform,
            scaler: Standardizer { mean: 0.0, std: 1.0 },
        };
        let segment = |id: u32, c: Vec<f64>| Segment {
            id,
            name: format!("s{id}"),
            description: String::new(),
            size: 1,
            centroid: c.clone(),
            standardized_centroid: c,
            silhouette: 0.0,
            attributes: vec![],
        };
        let set = SegmentSet {
            kind: SegmentKind::Region,
            features: vec![feature("a", Transform::Identity), feature("b", Transform::Ln1p)],
            segments: vec![segment(0, vec![0.0, 0.0]), segment(1, vec![10.0, 1.0])],
            k: 2,
            silhouette: 0.5,
            silhouette_by_k: BTreeMap::new(),
            members: BTreeMap::from([(
                "ODISHA".to_owned(),
                Member { segment: 1, figures: vec![10.0, 1.0], details: BTreeMap::new() },
            )]),
        };
        let z = set.standardize(&[9.0, std::f64::consts::E - 1.0]);
        assert!((z[1] - 1.0).abs() < 1e-9);
        let (nearest, distance) = set.nearest(&z);
        assert_eq!(nearest.id, 1);
        assert!((distance - 1.0).abs() < 1e-9);
        assert_eq!(set.member("Orissa").unwrap().0, "ODISHA");
        assert!(set.validate().is_ok());
    }
}
