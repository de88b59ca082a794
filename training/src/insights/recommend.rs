//! Recommendations from explicit rules. Each rule states the figure it reads, what it compares
//! it with, on which population, how large an effect it needs and how much support; it
//! recommends only when the population is large enough and the 90% interval of the figure is
//! clear of what it is compared with (`Evidence::passes`). Partial months never enter a
//! growth or decline rule; closed days never enter a mean of days.

use chrono::NaiveDate;
use shopml_core::insights::tables::{
    self, GROUP_CUSTOMERS, GROUP_SIZE, WEEKDAYS, open_days, pooled,
};
use shopml_core::insights::{
    Evidence, Granularity, Insights, Metric, Recommendation, Sample, Totals,
};
use shopml_core::money;

/// Least lines of a region for any regional rule.
const REGION_LINES: f64 = 100.0;
/// Least lines of a region for its cancellation or return rate.
const RATE_LINES: f64 = 200.0;
/// Least lines of the earlier month of a growth or decline.
const MONTH_LINES: f64 = 50.0;
/// Least lines of a product called an under-performer.
const PRODUCT_LINES: f64 = 30.0;

fn pct(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

/// A recommendation, made only when its evidence passes.
fn made(
    rule: &str,
    (region, about): (&str, &[(&str, String)]),
    text: String,
    evidence: Evidence,
    weight: f64,
) -> Option<Recommendation> {
    if !evidence.passes {
        return None;
    }
    let figures = [
        ("value", evidence.value),
        ("compared_value", evidence.compared_value),
        ("low", evidence.low),
        ("high", evidence.high),
        ("size", evidence.size),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Some(Recommendation {
        rule: rule.into(),
        region: region.into(),
        text,
        figures,
        weight,
        evidence,
        about: about.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
    })
}

/// Every recommendation whose evidence passes, heaviest first.
pub fn recommendations(ins: &Insights) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let regions = ins.regions();
    // Regions large enough to say something about: 1% of revenue and 100 lines.
    let sizeable: Vec<&(String, Totals)> = regions
        .iter()
        .filter(|(_, t)| t.revenue >= 0.01 * ins.total.revenue && t.lines >= REGION_LINES)
        .collect();
    for (region, totals) in &sizeable {
        out.extend(category_shares(ins, region, totals));
        out.extend(outcome_rates(ins, region, totals));
        out.extend(month_change(ins, region));
        out.extend(under_performer(ins, region, totals));
    }
    out.extend(weekday(ins));
    out.extend(peak_day(ins));
    out.extend(promotion(ins));
    out.extend(delivery(ins));
    out.extend(demographics(ins));
    out.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.text.cmp(&b.text)));
    out
}

/// Market gaps and regional preferences: a large category's share of the region's revenue
/// against its share everywhere.
fn category_shares(ins: &Insights, region: &str, totals: &Totals) -> Vec<Recommendation> {
    let level = ins.region_level.to_lowercase();
    let national = ins.total;
    let mut out = Vec::new();
    for (category, national_totals) in ins.categories().iter().take(8) {
        let national_share = national_totals.revenue / national.revenue.max(1e-12);
        if national_share < 0.05 {
            continue;
        }
        let here = ins.totals(Some(region), Some(category), &Default::default());
        let evidence = Evidence::share(
            format!("{category}'s share of {region}'s revenue"),
            (here.revenue, here.revenue_sq),
            (totals.revenue, totals.revenue_sq),
            (format!("its share of every {level}'s revenue"), national_share),
            (format!("order lines of {region}"), totals.lines, REGION_LINES),
        );
        let (share, index) = (evidence.value, evidence.value / national_share);
        let interval = format!("90% interval {}–{}", pct(evidence.low), pct(evidence.high));
        if index <= 0.6 {
            out.extend(made(
                "market_gap",
                (region, &[("category", category.clone())]),
                format!(
                    "{category} is {} of revenue in {region} ({interval}) against {} across every {level}: a market gap — stock and promote {category} there.",
                    pct(share),
                    pct(national_share)
                ),
                evidence,
                (national_share - share) * totals.revenue,
            ));
        } else if index >= 1.5 {
            out.extend(made(
                "regional_preference",
                (region, &[("category", category.clone())]),
                format!(
                    "{region} buys {category} at {index:.1}× its share everywhere ({} of revenue, {interval}, against {}): keep {category} in stock and lead with it there.",
                    pct(share),
                    pct(national_share)
                ),
                evidence,
                (share - national_share) * totals.revenue,
            ));
        }
    }
    out
}

/// Cancellation and return rates well above the whole's.
fn outcome_rates(ins: &Insights, region: &str, totals: &Totals) -> Vec<Recommendation> {
    let national = ins.total;
    let mut out = Vec::new();
    let rules = [
        (
            ins.capabilities.cancellations,
            "high_cancellation",
            "cancels",
            totals.cancelled_lines,
            national.cancellation_rate(),
            "check delivery promises and payment options there",
        ),
        (
            ins.capabilities.returns,
            "high_returns",
            "returns",
            totals.returned_lines,
            national.return_rate(),
            "look at sizes, descriptions and delivery damage there",
        ),
    ];
    for (present, rule, verb, k, overall, advice) in rules {
        if !present || k / totals.lines.max(1.0) < 1.5 * overall {
            continue;
        }
        let evidence = Evidence::rate(
            format!("share of {region}'s lines that it {verb}"),
            (k, totals.lines),
            ("the rate over every line".into(), overall),
            format!("order lines of {region}"),
            RATE_LINES,
        );
        out.extend(made(
            rule,
            (region, &[]),
            format!(
                "{region} {verb} {} of its {:.0} lines (90% interval {}–{}) against {} overall: {advice}.",
                pct(evidence.value),
                totals.lines,
                pct(evidence.low),
                pct(evidence.high),
                pct(overall)
            ),
            evidence,
            k * national.average_order_value(),
        ));
    }
    out
}

/// Growth or decline: the last whole month against the whole month before (partial months
/// are not compared).
fn month_change(ins: &Insights, region: &str) -> Option<Recommendation> {
    let months = ins.region_profile(region).ok()?.months;
    let whole: Vec<&(String, Totals)> = months
        .iter()
        .filter(|(month, _)| {
            let start = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d");
            start.is_ok_and(|start| !ins.is_partial(Granularity::Month, start))
        })
        .collect();
    let [.., before, last] = whole.as_slice() else { return None };
    let change = last.1.revenue / before.1.revenue.max(1e-12) - 1.0;
    if change.abs() < 0.25 {
        return None;
    }
    let evidence = Evidence::ratio(
        format!("{region}'s revenue in {} over {}", last.0, before.0),
        (before.1.revenue, before.1.revenue_sq),
        (last.1.revenue, last.1.revenue_sq),
        ("no change".into(), 1.0),
        (
            format!("order lines of {region} in {} and {}", before.0, last.0),
            before.1.lines,
            MONTH_LINES,
        ),
    );
    let (rule, verb, advice) = if change < 0.0 {
        ("decline", "fell", "find out what changed (stock-outs, delivery, competition)")
    } else {
        ("growth", "grew", "make sure stock keeps up")
    };
    let c = ins.currency.as_str();
    made(
        rule,
        (region, &[("months", format!("{},{}", before.0, last.0))]),
        format!(
            "Revenue in {region} {verb} {:.0}% from {} to {} ({} → {}; 90% interval of the ratio {:.2}–{:.2}): {advice}.",
            100.0 * change.abs(),
            before.0,
            last.0,
            money::format_whole(before.1.revenue, c),
            money::format_whole(last.1.revenue, c),
            evidence.low,
            evidence.high
        ),
        evidence,
        (last.1.revenue - before.1.revenue).abs(),
    )
}

/// The product cancelled (or returned) most often in the region, at least twice its rate.
fn under_performer(ins: &Insights, region: &str, totals: &Totals) -> Option<Recommendation> {
    if !(ins.capabilities.cancellations || ins.capabilities.returns) {
        return None;
    }
    let metric = if ins.capabilities.returns && !ins.capabilities.cancellations {
        Metric::ReturnRate
    } else {
        Metric::CancellationRate
    };
    let (worst, _) = ins.rank_products(
        metric,
        false,
        Some(region),
        None,
        &Default::default(),
        PRODUCT_LINES,
        0,
        1,
    );
    let w = worst.first()?;
    let overall = totals.metric(metric);
    if !(w.value >= 2.0 * overall && w.value > 0.0) {
        return None;
    }
    let k = match metric {
        Metric::ReturnRate => w.totals.returned_lines,
        _ => w.totals.cancelled_lines,
    };
    let (verb, what) = match metric {
        Metric::ReturnRate => ("come back", "returned"),
        _ => ("are cancelled", "cancelled"),
    };
    let evidence = Evidence::rate(
        format!("share of {}'s lines in {region} {what}", w.product.id),
        (k, w.totals.lines),
        (format!("the rate of {region}'s lines"), overall),
        format!("order lines of {} in {region}", w.product.id),
        PRODUCT_LINES,
    );
    made(
        "under_performer",
        (region, &[("product", w.product.id.clone())]),
        format!(
            "{} in {region}: {} of its {:.0} lines {verb} (90% interval {}–{}) against {} for the {}: review the product page, sizing and stock.",
            w.product.id,
            pct(w.value),
            w.totals.lines,
            pct(evidence.low),
            pct(evidence.high),
            pct(overall),
            ins.region_level.to_lowercase()
        ),
        evidence,
        w.totals.revenue.abs() * w.value,
    )
}

/// The busiest weekday: its mean day against the mean open day.
fn weekday(ins: &Insights) -> Option<Recommendation> {
    // Each weekday's evidence compares its mean day with the mean open day.
    let (day, evidence) = tables::weekdays(ins)
        .into_iter()
        .filter_map(|row| Some((row.weekday as usize, row.evidence?)))
        .max_by(|a, b| a.1.value.total_cmp(&b.1.value))?;
    let mean_day = evidence.compared_value;
    let lift = evidence.value / mean_day.max(1e-12) - 1.0;
    if lift < 0.1 {
        return None;
    }
    let name = WEEKDAYS[day];
    let weight = evidence.value - mean_day;
    let closed = if ins.closed_weekdays.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> =
            ins.closed_weekdays.iter().map(|&w| WEEKDAYS[w as usize % 7]).collect();
        format!(" (closed on {}, not counted)", names.join(", "))
    };
    made(
        "weekday",
        ("", &[("weekday", day.to_string())]),
        format!(
            "{name} brings {:.0}% more revenue than the mean open day{closed}: schedule campaigns and staffing for it.",
            100.0 * lift
        ),
        evidence,
        weight,
    )
}

/// The largest peak day: over three standard deviations above the mean open day.
fn peak_day(ins: &Insights) -> Option<Recommendation> {
    let peak = ins.peaks.first()?;
    let all = Sample::of(open_days(ins).into_iter().map(|d| d.1));
    let z = shopml_core::stats::normal_quantile(0.95);
    let mean_se = all.sd / all.n.max(1.0).sqrt();
    let (mean_low, mean_high) = ((all.mean - z * mean_se).max(1e-12), all.mean + z * mean_se);
    let threshold = (all.mean + 3.0 * all.sd) / all.mean.max(1e-12);
    let evidence = Evidence::with_interval(
        format!("{}'s revenue over the mean open day's", peak.date),
        peak.revenue / all.mean.max(1e-12),
        ("three standard deviations above the mean day".into(), threshold),
        (format!("{} open days", all.n), all.n, 28.0),
        (peak.revenue / mean_high, peak.revenue / mean_low, "the mean day's normal interval"),
    );
    made(
        "peak_day",
        ("", &[("day", peak.date.to_string())]),
        format!(
            "{} ({}) sold {:.1}× a mean open day (90% interval {:.1}–{:.1}×){}: plan stock and capacity for it next time.",
            peak.date,
            peak.date.format("%A"),
            evidence.value,
            evidence.low,
            evidence.high,
            peak.holiday.as_deref().map(|h| format!(", around {h}")).unwrap_or_default()
        ),
        evidence,
        peak.revenue,
    )
}

/// Orders not cancelled with a promotion against those without: an association (promotion
/// ids are recorded with the order's outcome, not before it), said so.
fn promotion(ins: &Insights) -> Option<Recommendation> {
    let p = ins.promotion.as_ref()?;
    let (with, without) = (&p.kept_orders_with, &p.kept_orders_without);
    let evidence = tables::promotion_evidence(ins)?;
    let change = with.mean / without.mean.max(1e-12) - 1.0;
    let c = ins.currency.as_str();
    made(
        "promotion",
        ("", &[]),
        format!(
            "Orders not cancelled that carry a promotion average {} against {} without ({:+.0}%; 90% interval {}–{}). This is an association, not an effect: the export records promotions with the order's outcome, so test a promotion against a holdout before extending it.",
            money::format(with.mean, c),
            money::format(without.mean, c),
            100.0 * change,
            money::format(evidence.low, c),
            money::format(evidence.high, c)
        ),
        evidence,
        with.mean * with.n * change.abs(),
    )
}

/// The slowest ship mode, well slower than all.
fn delivery(ins: &Insights) -> Option<Recommendation> {
    let samples = &ins.delivery.as_ref()?.days_to_ship_samples;
    let all = samples.get("all")?;
    let (mode, slowest) = samples
        .iter()
        .filter(|(m, s)| m.as_str() != "all" && s.n >= GROUP_SIZE)
        .max_by(|a, b| a.1.mean.total_cmp(&b.1.mean))?;
    if slowest.mean <= 1.3 * all.mean {
        return None;
    }
    let evidence = tables::ship_mode_evidence(ins, mode)?;
    made(
        "delivery",
        ("", &[("ship_mode", mode.clone())]),
        format!(
            "{mode} ships in {:.1} days on average (90% interval {:.1}–{:.1}) against {:.1} overall: promise it honestly at checkout or speed it up.",
            slowest.mean, evidence.low, evidence.high, all.mean
        ),
        evidence,
        slowest.n,
    )
}

/// The demographic group spending most per customer, well above the mean customer.
fn demographics(ins: &Insights) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for (attribute, groups) in &ins.demographics {
        let everyone = pooled(groups);
        let Some((name, g)) = groups
            .iter()
            .filter(|g| g.1.per_customer.n >= GROUP_CUSTOMERS)
            .max_by(|a, b| a.1.per_customer.mean.total_cmp(&b.1.per_customer.mean))
        else {
            continue;
        };
        let lift = g.per_customer.mean / everyone.mean.max(1e-12) - 1.0;
        if lift < 0.1 {
            continue;
        }
        let label = attribute.replace('_', " ");
        let evidence = tables::group_evidence(attribute, name, g, &everyone);
        let c = ins.currency.as_str();
        out.extend(made(
            "demographic",
            ("", &[("attribute", attribute.clone()), ("group", name.clone())]),
            format!(
                "Customers with {label} {name} spend {} each (90% interval {}–{}), {:.0}% above the mean customer: target campaigns at them.",
                money::format_whole(g.per_customer.mean, c),
                money::format_whole(evidence.low, c),
                money::format_whole(evidence.high, c),
                100.0 * lift
            ),
            evidence,
            g.amount * lift,
        ));
    }
    out
}
