//! Segments (`../shared/EVALUATION.md` §5): k-means on Burn tensors with k-means++ restarts,
//! k chosen by silhouette, each segment named and described from its centroid by rules a
//! reader can check; and bought-together rules from multi-line orders.

use super::SegmentSettings;
use crate::data::customers::Purchase;
use crate::data::products::Product;
use crate::data::sales::{Outcome, SaleLine, Sales};
use crate::fit::{SeededRng, rng};
use crate::progress::Stage;
use burn::prelude::*;
use rand::RngExt;
use shopml_core::features::{
    Standardizer, float_matrix, normalize_key, normalize_state, to_f32_vec,
};
use shopml_core::segments::{
    AssociationRule, AttributeShare, BoughtTogether, Feature, Member, Segment, SegmentKind,
    SegmentSet, Transform,
};
use shopml_core::segments::{KindMetrics, SegmentMetrics};
use shopml_core::sentiment::SentimentPredictor;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub struct TrainedSegments {
    pub sets: Vec<SegmentSet>,
    pub bought_together: BoughtTogether,
    pub metrics: SegmentMetrics,
    /// The settings they were computed with (recorded in the bundle).
    pub settings: SegmentSettings,
}

/// Rows to cluster: id, raw figures, descriptive details.
struct Rows {
    ids: Vec<String>,
    figures: Vec<Vec<f64>>,
    details: Vec<BTreeMap<String, String>>,
}

/// Squared distances `[n, m]` between the rows of `a` `[n, d]` and `b` `[m, d]`.
fn squared_distances(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    let a2 = a.clone().powi_scalar(2).sum_dim(1);
    let b2 = b.clone().powi_scalar(2).sum_dim(1).transpose();
    (a2 + b2 - a.matmul(b.transpose()) * 2.0).clamp_min(0.0)
}

/// One-hot `[n, k]` of labels.
fn one_hot(labels: &[usize], k: usize, device: &Device) -> Tensor<2> {
    let mut values = vec![0.0f32; labels.len() * k];
    for (i, &l) in labels.iter().enumerate() {
        values[i * k + l] = 1.0;
    }
    float_matrix(values, labels.len(), k, device)
}

fn argmin_rows(values: &[f32], k: usize) -> (Vec<usize>, f64) {
    let mut inertia = 0.0;
    let labels = values
        .chunks(k)
        .map(|row| {
            let (best, d) =
                row.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).expect("k > 0");
            inertia += *d as f64;
            best
        })
        .collect();
    (labels, inertia)
}

/// k-means (Lloyd) from a k-means++ start; returns centroids `[k][d]`, labels and inertia.
fn kmeans_once(
    x: &Tensor<2>,
    data: &[Vec<f64>],
    k: usize,
    max_iterations: usize,
    rng: &mut SeededRng,
) -> (Vec<Vec<f64>>, Vec<usize>, f64) {
    let device = x.device();
    let (n, d) = (data.len(), data[0].len());
    // k-means++: each next centre drawn with probability proportional to D².
    let mut centres: Vec<Vec<f64>> = vec![data[rng.random_range(0..n)].clone()];
    while centres.len() < k {
        let c = float_matrix(
            centres.iter().flatten().map(|&v| v as f32).collect(),
            centres.len(),
            d,
            &device,
        );
        let nearest: Vec<f32> = to_f32_vec(squared_distances(x.clone(), c).min_dim(1));
        let total: f64 = nearest.iter().map(|&v| v as f64).sum();
        let mut target = rng.random::<f64>() * total;
        let mut chosen = n - 1;
        for (i, &v) in nearest.iter().enumerate() {
            target -= v as f64;
            if target <= 0.0 {
                chosen = i;
                break;
            }
        }
        centres.push(data[chosen].clone());
    }
    let mut labels = vec![usize::MAX; n];
    let mut inertia = f64::INFINITY;
    for _ in 0..max_iterations {
        let c = float_matrix(centres.iter().flatten().map(|&v| v as f32).collect(), k, d, &device);
        let (new_labels, new_inertia) =
            argmin_rows(&to_f32_vec(squared_distances(x.clone(), c)), k);
        inertia = new_inertia;
        if new_labels == labels {
            break;
        }
        labels = new_labels;
        let hot = one_hot(&labels, k, &device);
        let sums = to_f32_vec(hot.clone().transpose().matmul(x.clone()));
        let counts = to_f32_vec(hot.sum_dim(0));
        for (j, centre) in centres.iter_mut().enumerate() {
            if counts[j] > 0.0 {
                *centre = (0..d).map(|f| (sums[j * d + f] / counts[j]) as f64).collect();
            }
        }
    }
    (centres, labels, inertia)
}

/// Silhouette of each row: (b − a) / max(a, b), with a the mean distance to its own cluster
/// and b the smallest mean distance to another; 0 for rows alone in their cluster.
fn silhouettes(x: &Tensor<2>, labels: &[usize], k: usize) -> Vec<f64> {
    let device = x.device();
    let distances = squared_distances(x.clone(), x.clone()).sqrt();
    let sums = to_f32_vec(distances.matmul(one_hot(labels, k, &device)));
    let mut counts = vec![0usize; k];
    for &l in labels {
        counts[l] += 1;
    }
    labels
        .iter()
        .enumerate()
        .map(|(i, &own)| {
            if counts[own] <= 1 {
                return 0.0;
            }
            let a = sums[i * k + own] as f64 / (counts[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && counts[c] > 0)
                .map(|c| sums[i * k + c] as f64 / counts[c] as f64)
                .fold(f64::INFINITY, f64::min);
            if !b.is_finite() { 0.0 } else { (b - a) / a.max(b).max(1e-12) }
        })
        .collect()
}

/// Features that are amounts of money (in the export's currency).
const MONEY_FEATURES: [&str; 4] =
    ["price", "total_amount", "ordered_amount", "average_order_value"];

/// The label of a feature far from the average, by its sign.
fn feature_label(kind: SegmentKind, feature: &str, high: bool) -> &'static str {
    match (kind, feature, high) {
        (SegmentKind::Product, "price", true) => "Premium",
        (SegmentKind::Product, "price", false) => "Budget",
        (SegmentKind::Product, "rating", true) => "Top rated",
        (SegmentKind::Product, "rating", false) => "Low rated",
        (SegmentKind::Product, "rating_count", true) => "Bestseller",
        (SegmentKind::Product, "rating_count", false) => "Long tail",
        (SegmentKind::Product, "discount_pct", true) => "Value for money",
        (SegmentKind::Product, "discount_pct", false) => "Full price",
        (SegmentKind::Customer, "total_amount", true) => "High value",
        (SegmentKind::Customer, "total_amount", false) => "Occasional",
        (SegmentKind::Customer, "orders", true) => "Frequent buyers",
        (SegmentKind::Customer, "orders", false) => "Rare buyers",
        (SegmentKind::Customer, "lines", true) => "Loyal",
        (SegmentKind::Customer, "lines", false) => "One-off",
        (SegmentKind::Customer, "distinct_categories", true) => "Explorers",
        (SegmentKind::Customer, "distinct_categories", false) => "Focused",
        (SegmentKind::Region, "ordered_amount", true) => "Core market",
        (SegmentKind::Region, "ordered_amount", false) => "Emerging",
        (SegmentKind::Region, "lines", true) => "High volume",
        (SegmentKind::Region, "lines", false) => "Low volume",
        (SegmentKind::Region, "cancellation_rate", true) => "High cancellation",
        (SegmentKind::Region, "cancellation_rate", false) => "Reliable",
        (SegmentKind::Region, "average_order_value", true) => "Big baskets",
        (SegmentKind::Region, "average_order_value", false) => "Small baskets",
        (SegmentKind::Region, "fulfilment_amazon_share", true) => "Amazon-fulfilled",
        (SegmentKind::Region, "fulfilment_amazon_share", false) => "Merchant-fulfilled",
        _ => "Distinct",
    }
}

fn average_label(kind: SegmentKind) -> &'static str {
    match kind {
        SegmentKind::Product => "Mainstream",
        SegmentKind::Customer => "Regular",
        SegmentKind::Region => "Average market",
    }
}

fn format_figure(feature: &Feature, value: f64) -> String {
    let name = feature.name.as_str();
    if let Some(currency) = &feature.currency {
        shopml_core::money::format_whole(value, currency)
    } else if name.ends_with("_rate") || name.ends_with("_share") {
        format!("{:.1}%", 100.0 * value)
    } else if name.ends_with("_pct") {
        format!("{value:.0}%")
    } else if name == "rating" {
        format!("{value:.2}")
    } else {
        format!("{value:.1}")
    }
}

/// Names: the label of the feature furthest from average (in standard deviations), or the
/// average label when no feature is 0.5 sd away (customers: by overall volume); a name two segments share gets the label
/// of each one's second feature. Descriptions give every centroid figure beside the overall
/// mean, so a reader can check the name.
fn name_segments(
    kind: SegmentKind,
    features: &[Feature],
    segments: &mut [Segment],
    overall: &[f64],
) {
    let ranked: Vec<Vec<(usize, f64)>> = segments
        .iter()
        .map(|s| {
            let mut z: Vec<(usize, f64)> =
                s.standardized_centroid.iter().copied().enumerate().collect();
            z.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
            z
        })
        .collect();
    let label = |(f, z): (usize, f64)| {
        if z.abs() < 0.5 {
            average_label(kind)
        } else {
            feature_label(kind, &features[f].name, z > 0.0)
        }
    };
    let mut first: Vec<&str> = ranked.iter().map(|r| label(r[0])).collect();
    if kind == SegmentKind::Customer {
        // Spend, orders, lines and categories rise together: customers are named by their
        // overall volume (mean standardised figure), highest "High value", lowest
        // "Occasional", the rest "Regular".
        let volume: Vec<f64> =
            segments.iter().map(|s| s.standardized_centroid.iter().sum::<f64>()).collect();
        let mut order: Vec<usize> = (0..segments.len()).collect();
        order.sort_by(|&a, &b| volume[b].total_cmp(&volume[a]));
        for (rank, &i) in order.iter().enumerate() {
            first[i] = if rank == 0 {
                "High value"
            } else if rank + 1 == order.len() {
                "Occasional"
            } else {
                "Regular"
            };
        }
    }
    for (i, segment) in segments.iter_mut().enumerate() {
        let shared = first.iter().filter(|&&n| n == first[i]).count() > 1;
        segment.name = if shared && ranked[i].len() > 1 && ranked[i][1].1.abs() >= 0.25 {
            format!(
                "{} · {}",
                first[i],
                feature_label(kind, &features[ranked[i][1].0].name, ranked[i][1].1 > 0.0)
            )
        } else {
            first[i].to_owned()
        };
        let figures: Vec<String> = features
            .iter()
            .zip(&segment.centroid)
            .zip(overall)
            .map(|((f, &c), &o)| {
                format!("{} {} (overall {})", f.name, format_figure(f, c), format_figure(f, o))
            })
            .collect();
        segment.description =
            format!("{}: {} members; {}.", segment.name, segment.size, figures.join(", "));
    }
    // Names still shared after the second feature get a number.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for segment in segments.iter_mut() {
        let n = seen.entry(segment.name.clone()).or_default();
        *n += 1;
        if *n > 1 {
            segment.name = format!("{} {}", segment.name, n);
        }
    }
}

/// Most frequent values of each descriptive attribute among a segment's members.
fn attribute_shares(
    members: &[&BTreeMap<String, String>],
    attributes: &[&str],
) -> Vec<AttributeShare> {
    let mut out = Vec::new();
    for &attribute in attributes {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for details in members {
            if let Some(v) = details.get(attribute) {
                *counts.entry(v.as_str()).or_default() += 1;
            }
        }
        let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        out.extend(ranked.into_iter().take(3).map(|(value, count)| AttributeShare {
            attribute: attribute.to_owned(),
            value: value.to_owned(),
            share: count as f64 / members.len().max(1) as f64,
        }));
    }
    out
}

/// What one kind of segments is computed from: its features, the attributes that describe its
/// members, and the currency of its amounts.
struct KindSpec<'a> {
    kind: SegmentKind,
    names: &'a [(&'a str, Transform)],
    attributes: &'a [&'a str],
    currency: &'a str,
}

fn segment_kind(
    spec: KindSpec<'_>,
    rows: Rows,
    settings: &SegmentSettings,
    seed: u64,
    stage: &Stage,
) -> Option<(SegmentSet, KindMetrics)> {
    let KindSpec { kind, names, attributes, currency } = spec;
    let n = rows.ids.len();
    if n < settings.k_min * 2 {
        stage.tick(format!("{kind:?}: {n} members are too few to segment; skipped"));
        return None;
    }
    let d = names.len();
    let features: Vec<Feature> = names
        .iter()
        .enumerate()
        .map(|(j, &(name, transform))| Feature {
            name: name.to_owned(),
            currency: MONEY_FEATURES.contains(&name).then(|| currency.to_owned()),
            transform,
            scaler: Standardizer::fit(rows.figures.iter().map(|f| transform.apply(f[j]))),
        })
        .collect();
    let standardized: Vec<Vec<f64>> = rows
        .figures
        .iter()
        .map(|f| {
            features
                .iter()
                .zip(f)
                .map(|(feat, &x)| feat.scaler.transform(feat.transform.apply(x)) as f64)
                .collect()
        })
        .collect();
    let device = Device::flex();
    let x = float_matrix(standardized.iter().flatten().map(|&v| v as f32).collect(), n, d, &device);
    let mut random = rng(seed);
    let mut by_k = BTreeMap::new();
    // (mean silhouette, k, centres, labels, silhouette of each row) of the best k so far
    type Clustering = (f64, usize, Vec<Vec<f64>>, Vec<usize>, Vec<f64>);
    let mut best: Option<Clustering> = None;
    for k in settings.k_min..=settings.k_max.min(n - 1) {
        let (centres, labels, _) = (0..settings.restarts)
            .map(|_| kmeans_once(&x, &standardized, k, settings.max_iterations, &mut random))
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .expect("restarts > 0");
        let s = silhouettes(&x, &labels, k);
        let mean = s.iter().sum::<f64>() / n as f64;
        by_k.insert(k, mean);
        if best.as_ref().is_none_or(|b| mean > b.0) {
            best = Some((mean, k, centres, labels, s));
        }
    }
    let (silhouette, k, centres, labels, per_row) = best?;
    let overall: Vec<f64> =
        (0..d).map(|j| rows.figures.iter().map(|f| f[j]).sum::<f64>() / n as f64).collect();
    let mut segments: Vec<Segment> = (0..k)
        .map(|c| {
            let members: Vec<usize> = (0..n).filter(|&i| labels[i] == c).collect();
            let size = members.len().max(1) as f64;
            Segment {
                id: c as u32,
                name: String::new(),
                description: String::new(),
                size: members.len(),
                // Centroid in original units: the members' mean figures.
                centroid: (0..d)
                    .map(|j| members.iter().map(|&i| rows.figures[i][j]).sum::<f64>() / size)
                    .collect(),
                standardized_centroid: centres[c].clone(),
                silhouette: members.iter().map(|&i| per_row[i]).sum::<f64>() / size,
                attributes: attribute_shares(
                    &members.iter().map(|&i| &rows.details[i]).collect::<Vec<_>>(),
                    attributes,
                ),
            }
        })
        .collect();
    name_segments(kind, &features, &mut segments, &overall);
    let members = rows
        .ids
        .into_iter()
        .zip(rows.figures)
        .zip(rows.details)
        .zip(&labels)
        .map(|(((id, figures), details), &l)| (id, Member { segment: l as u32, figures, details }))
        .collect();
    stage.tick(format!("{kind:?}: k = {k}, silhouette {silhouette:.3}"));
    let metrics = KindMetrics {
        k,
        silhouette,
        silhouette_by_k: by_k.clone(),
        members: n,
        segments: segments.iter().map(|s| s.name.clone()).collect(),
    };
    Some((
        SegmentSet { kind, features, segments, k, silhouette, silhouette_by_k: by_k, members },
        metrics,
    ))
}

/// Products: ln(price), rating, ln(1 + rating count), discount; with the share of each
/// product's review titles the review sentiment model labels negative.
fn product_rows(products: &[Product], sentiment: Option<&SentimentPredictor>) -> Rows {
    let mut rows = Rows { ids: Vec::new(), figures: Vec::new(), details: Vec::new() };
    for p in products {
        let (Some(price), Some(rating), Some(count), Some(discount)) =
            (p.discounted_price, p.rating, p.rating_count, p.discount_pct)
        else {
            continue;
        };
        if price <= 0.0 {
            continue;
        }
        let mut details = BTreeMap::from([
            ("name".to_owned(), p.name.clone()),
            ("category".to_owned(), p.category_path.split('|').next().unwrap_or("").to_owned()),
        ]);
        if let Some(predictor) = sentiment {
            let titles: Vec<(&str, &str)> =
                crate::sentiment::review_pieces(&p.review_title).map(|t| ("", t)).collect();
            if !titles.is_empty() {
                let results = predictor.analyze(&titles, 64, 0);
                let negative = results.iter().filter(|r| r.negative).count();
                details.insert(
                    "review_negative_share".into(),
                    format!("{:.3}", negative as f64 / results.len() as f64),
                );
                details.insert("reviews_scored".into(), results.len().to_string());
            }
        }
        rows.ids.push(p.product_id.clone());
        rows.figures.push(vec![price, rating, count, discount]);
        rows.details.push(details);
    }
    rows
}

/// Customers: total amount, orders, lines and distinct categories per customer id.
fn customer_rows(purchases: &[Purchase]) -> Rows {
    #[derive(Default)]
    struct Acc<'a> {
        amount: f64,
        orders: f64,
        lines: usize,
        categories: BTreeSet<&'a str>,
        first: Option<&'a Purchase>,
    }
    let mut by_user: BTreeMap<&str, Acc<'_>> = BTreeMap::new();
    for p in purchases {
        let acc = by_user.entry(&p.user_id).or_default();
        acc.amount += p.amount.unwrap_or(0.0);
        acc.orders += p.orders.unwrap_or(0.0);
        acc.lines += 1;
        acc.categories.insert(&p.product_category);
        acc.first.get_or_insert(p);
    }
    let mut rows = Rows { ids: Vec::new(), figures: Vec::new(), details: Vec::new() };
    for (user, acc) in by_user {
        let p = acc.first.expect("one purchase at least");
        rows.ids.push(user.to_owned());
        rows.figures.push(vec![
            acc.amount,
            acc.orders,
            acc.lines as f64,
            acc.categories.len() as f64,
        ]);
        rows.details.push(BTreeMap::from([
            ("age_group".to_owned(), p.age_group.clone()),
            ("gender".to_owned(), p.gender.clone()),
            ("occupation".to_owned(), p.occupation.clone()),
            ("state".to_owned(), normalize_state(&p.state)),
            ("marital_status".to_owned(), p.marital_status.clone()),
        ]));
    }
    rows
}

/// Regions: amount ordered (cancelled lines included, returns netted), lines, cancellation
/// rate, average order value and the share of lines with the configured attribute value
/// (Amazon: fulfilled by Amazon), per region (see [`Sales::region_key`]) with enough lines.
fn region_rows(sales: &Sales, share: &RegionShare, min_lines: usize) -> Rows {
    #[derive(Default)]
    struct Acc<'a> {
        revenue: f64,
        lines: usize,
        cancelled: usize,
        matching: usize,
        orders: BTreeSet<&'a str>,
    }
    let mut by_region: BTreeMap<String, Acc<'_>> = BTreeMap::new();
    for l in &sales.lines {
        let region = sales.region_key(l);
        if region.is_empty() {
            continue;
        }
        let acc = by_region.entry(region).or_default();
        acc.revenue += l.amount.unwrap_or(0.0);
        acc.lines += 1;
        acc.cancelled += (l.outcome == Outcome::Cancelled) as usize;
        acc.matching +=
            sales.attribute(l, &share.attribute).eq_ignore_ascii_case(&share.value) as usize;
        acc.orders.insert(&l.order_id);
    }
    let mut rows = Rows { ids: Vec::new(), figures: Vec::new(), details: Vec::new() };
    for (region, acc) in by_region.into_iter().filter(|(_, a)| a.lines >= min_lines) {
        let lines = acc.lines as f64;
        rows.ids.push(region);
        let mut figures = vec![acc.revenue, lines];
        if share.cancellation {
            figures.push(acc.cancelled as f64 / lines);
        }
        figures.push(acc.revenue / acc.orders.len().max(1) as f64);
        if !share.attribute.is_empty() {
            figures.push(acc.matching as f64 / lines);
        }
        rows.figures.push(figures);
        rows.details.push(BTreeMap::from([("orders".to_owned(), acc.orders.len().to_string())]));
    }
    rows
}

/// A name usable as a feature name: lower case, runs of other characters as one `_`.
fn normalize_feature_name(value: &str) -> String {
    let mut out = String::new();
    for ch in value.trim().chars() {
        if ch.is_alphanumeric() {
            out.extend(ch.to_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_owned()
}

/// Which optional region figures the export allows.
struct RegionShare {
    /// Whether lines can be cancelled (a status with cancelled values).
    cancellation: bool,
    /// An attribute whose value share is a region figure ("" for none), and the value.
    attribute: String,
    value: String,
}

/// Rules "orders with A also hold B" from orders with several distinct SKUs.
pub fn bought_together(lines: &[SaleLine], settings: &SegmentSettings) -> BoughtTogether {
    let mut orders: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    // Return lines and credit notes are not purchases.
    for l in lines.iter().filter(|l| l.outcome != Outcome::ReturnLine) {
        orders.entry(&l.order_id).or_default().insert(normalize_key(&l.product_id));
    }
    let baskets: Vec<Vec<String>> =
        orders.into_values().filter(|s| s.len() > 1).map(|s| s.into_iter().collect()).collect();
    let total = baskets.len();
    let mut single: HashMap<&str, usize> = HashMap::new();
    let mut pairs: HashMap<(&str, &str), usize> = HashMap::new();
    for basket in &baskets {
        for (i, a) in basket.iter().enumerate() {
            *single.entry(a).or_default() += 1;
            for b in &basket[i + 1..] {
                *pairs.entry((a, b)).or_default() += 1;
            }
        }
    }
    let mut rules: BTreeMap<String, Vec<AssociationRule>> = BTreeMap::new();
    for (&(a, b), &both) in &pairs {
        if both < settings.rules_min_orders {
            continue;
        }
        for (x, y) in [(a, b), (b, a)] {
            let confidence = both as f64 / single[x] as f64;
            let lift = confidence / (single[y] as f64 / total as f64);
            if confidence >= settings.rules_min_confidence && lift >= settings.rules_min_lift {
                rules.entry(x.to_owned()).or_default().push(AssociationRule {
                    antecedent: x.to_owned(),
                    consequent: y.to_owned(),
                    support: both as f64 / total as f64,
                    confidence,
                    lift,
                    orders: both,
                });
            }
        }
    }
    for list in rules.values_mut() {
        list.sort_by(|p, q| {
            q.lift
                .total_cmp(&p.lift)
                .then(q.orders.cmp(&p.orders))
                .then(p.consequent.cmp(&q.consequent))
        });
        list.truncate(settings.rules_per_sku);
    }
    let mut skus: Vec<String> = single.into_keys().map(str::to_owned).collect();
    skus.sort();
    BoughtTogether {
        multi_line_orders: total,
        min_orders: settings.rules_min_orders,
        min_confidence: settings.rules_min_confidence,
        min_lift: settings.rules_min_lift,
        skus,
        rules,
    }
}

/// What segments are computed from: each export that was read, and the sentiment model
/// that gives products their review summary.
pub struct SegmentInputs<'a> {
    pub products: Option<&'a [Product]>,
    pub purchases: Option<&'a [Purchase]>,
    pub sales: Option<&'a Sales>,
    pub sentiment: Option<&'a SentimentPredictor>,
    /// ISO 4217 code of the exports' amounts.
    pub currency: &'a str,
}

pub fn train(
    inputs: SegmentInputs<'_>,
    settings: &SegmentSettings,
    seed: u64,
    stage: &Stage,
) -> TrainedSegments {
    let SegmentInputs { products, purchases, sales, sentiment, currency } = inputs;
    stage.set_length(4);
    let mut sets = Vec::new();
    let mut metrics = SegmentMetrics::default();
    if let Some(products) = products {
        let features = [
            ("price", Transform::Ln),
            ("rating", Transform::Identity),
            ("rating_count", Transform::Ln1p),
            ("discount_pct", Transform::Identity),
        ];
        if let Some((set, m)) = segment_kind(
            KindSpec {
                kind: SegmentKind::Product,
                names: &features,
                attributes: &["category"],
                currency,
            },
            product_rows(products, sentiment),
            settings,
            seed,
            stage,
        ) {
            metrics.products = Some(m);
            sets.push(set);
        }
    }
    if let Some(purchases) = purchases {
        let features = [
            ("total_amount", Transform::Identity),
            ("orders", Transform::Identity),
            ("lines", Transform::Identity),
            ("distinct_categories", Transform::Identity),
        ];
        let attributes = ["age_group", "gender", "occupation", "state"];
        if let Some((set, m)) = segment_kind(
            KindSpec {
                kind: SegmentKind::Customer,
                names: &features,
                attributes: &attributes,
                currency,
            },
            customer_rows(purchases),
            settings,
            seed,
            stage,
        ) {
            metrics.customers = Some(m);
            sets.push(set);
        }
    }
    let mut rules = BoughtTogether::default();
    if let Some(sales) = sales {
        let share = RegionShare {
            cancellation: sales.lines.iter().any(|l| l.outcome == Outcome::Cancelled),
            attribute: settings.region_share_attribute.clone(),
            value: settings.region_share_value.clone(),
        };
        let share_name = format!(
            "{}_{}_share",
            normalize_feature_name(&share.attribute),
            normalize_feature_name(&share.value)
        );
        let mut features: Vec<(&str, Transform)> =
            vec![("ordered_amount", Transform::Identity), ("lines", Transform::Identity)];
        if share.cancellation {
            features.push(("cancellation_rate", Transform::Identity));
        }
        features.push(("average_order_value", Transform::Identity));
        if !share.attribute.is_empty() {
            features.push((share_name.as_str(), Transform::Identity));
        }
        if let Some((set, m)) = segment_kind(
            KindSpec { kind: SegmentKind::Region, names: &features, attributes: &[], currency },
            region_rows(sales, &share, settings.region_min_lines),
            settings,
            seed,
            stage,
        ) {
            metrics.regions = Some(m);
            sets.push(set);
        }
        let lines = &sales.lines;
        rules = bought_together(lines, settings);
        stage.tick(format!(
            "{} rules from {} multi-line orders",
            rules.rules.values().map(Vec::len).sum::<usize>(),
            rules.multi_line_orders
        ));
    }
    metrics.bought_together_rules = rules.rules.values().map(Vec::len).sum();
    metrics.multi_line_orders = rules.multi_line_orders;
    TrainedSegments { sets, bought_together: rules, metrics, settings: settings.clone() }
}
