//! The analytic tables beside the recommendations — weekdays, promotions, ship modes,
//! demographic groups, attribute rules — each row with the evidence of its figure, computed
//! once here for the RPCs, the dashboard and the recommendation rules.

use super::evidence::{Evidence, Sample};
use super::{AttributeRule, GroupFigures, Insights, Totals};
use crate::segments::AssociationRule;
use chrono::Datelike;

/// Weekday names, Monday first (weekday numbers are days from Monday).
pub const WEEKDAYS: [&str; 7] =
    ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// Least days of a weekday, in the mean-day comparison.
pub const WEEKDAY_DAYS: f64 = 8.0;
/// Least orders on each side of the promotion comparison; least lines of a ship mode.
pub const GROUP_SIZE: f64 = 50.0;
/// Least customers of a demographic group.
pub const GROUP_CUSTOMERS: f64 = 30.0;
/// Least lines with a rule's antecedent.
pub const RULE_LINES: f64 = 30.0;

/// Revenue of every open day of the export (closed weekdays left out), with its weekday.
pub fn open_days(ins: &Insights) -> Vec<(u32, f64)> {
    let days = ins.daily.series.get("total").map(Vec::as_slice).unwrap_or(&[]);
    days.iter()
        .enumerate()
        .map(|(i, t)| (ins.daily.first_date + chrono::Duration::days(i as i64), t.revenue))
        .filter(|(day, _)| !ins.is_closed(*day))
        .map(|(day, revenue)| (day.weekday().num_days_from_monday(), revenue))
        .collect()
}

/// One weekday of the export.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekdayRow {
    /// Days from Monday.
    pub weekday: u32,
    pub totals: Totals,
    /// Closed: no order on at least 90% of them; counted in no mean of days.
    pub closed: bool,
    /// The weekday's revenue per open day against the mean open day's (none when closed or
    /// absent from the export).
    pub evidence: Option<Evidence>,
}

/// Every weekday, Monday first.
pub fn weekdays(ins: &Insights) -> Vec<WeekdayRow> {
    let days = open_days(ins);
    let all = Sample::of(days.iter().map(|d| d.1));
    (0..7u32)
        .map(|w| {
            let closed = ins.closed_weekdays.contains(&w);
            let sample = Sample::of(days.iter().filter(|d| d.0 == w).map(|d| d.1));
            let name = WEEKDAYS[w as usize];
            let evidence = (!closed && sample.n > 0.0).then(|| {
                Evidence::means(
                    format!("mean revenue of a {name}"),
                    &sample,
                    ("the mean open day's".into(), &all),
                    format!("{} {name}s among {} open days", sample.n, all.n),
                    WEEKDAY_DAYS,
                )
            });
            WeekdayRow {
                weekday: w,
                totals: ins.weekdays.get(w as usize).cloned().unwrap_or_default(),
                closed,
                evidence,
            }
        })
        .collect()
}

/// The mean value of a kept order with a promotion against one without.
pub fn promotion_evidence(ins: &Insights) -> Option<Evidence> {
    let p = ins.promotion.as_ref()?;
    let (with, without) = (&p.kept_orders_with, &p.kept_orders_without);
    Some(Evidence::means(
        "mean value of an order not cancelled that carries a promotion".into(),
        with,
        ("that of one without".into(), without),
        format!(
            "{:.0} orders with a promotion and {:.0} without, none cancelled",
            with.n, without.n
        ),
        GROUP_SIZE,
    ))
}

/// A ship mode's mean days to ship against every line's (none for "all" or an unknown mode).
pub fn ship_mode_evidence(ins: &Insights, mode: &str) -> Option<Evidence> {
    let samples = &ins.delivery.as_ref()?.days_to_ship_samples;
    let (all, sample) = (samples.get("all")?, samples.get(mode)?);
    (mode != "all").then(|| {
        Evidence::means(
            format!("mean days to ship by {mode}"),
            sample,
            ("every line's".into(), all),
            format!("{:.0} lines shipped by {mode}", sample.n),
            GROUP_SIZE,
        )
    })
}

/// The amount per customer of every customer, pooled from the groups of one attribute.
pub fn pooled(groups: &[(String, GroupFigures)]) -> Sample {
    let n: f64 = groups.iter().map(|g| g.1.per_customer.n).sum();
    let mean =
        groups.iter().map(|g| g.1.per_customer.n * g.1.per_customer.mean).sum::<f64>() / n.max(1.0);
    let within: f64 = groups
        .iter()
        .map(|g| {
            let s = &g.1.per_customer;
            (s.n - 1.0).max(0.0) * s.sd.powi(2) + s.n * (s.mean - mean).powi(2)
        })
        .sum();
    Sample { n, mean, sd: (within / (n - 1.0).max(1.0)).sqrt() }
}

/// A demographic group's amount per customer against the mean customer's (`everyone`, the
/// attribute's [`pooled`] sample).
pub fn group_evidence(
    attribute: &str,
    name: &str,
    group: &GroupFigures,
    everyone: &Sample,
) -> Evidence {
    let label = attribute.replace('_', " ");
    Evidence::means(
        format!("amount per customer with {label} {name}"),
        &group.per_customer,
        ("the mean customer's".into(), everyone),
        format!("{:.0} customers with {label} {name} (each in one group)", group.per_customer.n),
        GROUP_CUSTOMERS,
    )
}

/// A rule's confidence — the share of lines (or orders) with its antecedent that have its
/// consequent — against the consequent's share of all of them (confidence ÷ lift). Rules name
/// their scope: "lines: size=XL", "orders: category=Set".
pub fn rule_evidence(rule: &AttributeRule) -> Evidence {
    let (scope, antecedent) =
        rule.antecedent.split_once(": ").unwrap_or(("lines", &rule.antecedent));
    let with_antecedent =
        if rule.confidence > 0.0 { (rule.count as f64 / rule.confidence).round() } else { 0.0 };
    let base = if rule.lift > 0.0 { rule.confidence / rule.lift } else { 0.0 };
    Evidence::rate(
        format!("share of {scope} with {antecedent} that have {}", rule.consequent),
        (rule.count as f64, with_antecedent),
        (format!("the share of all {scope} with {}", rule.consequent), base),
        format!("{with_antecedent:.0} {scope} with {antecedent}"),
        RULE_LINES,
    )
}

/// A bought-together rule's confidence — the share of the antecedent's orders that hold the
/// consequent — against the consequent's own share of orders (confidence ÷ lift); `min_orders`
/// is the mining's least orders of a rule.
pub fn basket_rule_evidence(rule: &AssociationRule, min_orders: f64) -> Evidence {
    let with_antecedent =
        if rule.confidence > 0.0 { (rule.orders as f64 / rule.confidence).round() } else { 0.0 };
    let base = if rule.lift > 0.0 { rule.confidence / rule.lift } else { 0.0 };
    Evidence::rate(
        format!("share of the orders with {} that hold {}", rule.antecedent, rule.consequent),
        (rule.orders as f64, with_antecedent),
        (format!("the share of orders with {}", rule.consequent), base),
        format!("{with_antecedent:.0} orders with {}", rule.antecedent),
        min_orders,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_s_evidence_compares_its_confidence_with_the_consequent_s_base_rate() {
        let rule = AttributeRule {
            antecedent: "lines: size=XL".into(),
            consequent: "category=Set".into(),
            support: 0.1,
            confidence: 0.6,
            lift: 2.0,
            count: 60,
        };
        let e = rule_evidence(&rule);
        assert!((e.value - 0.6).abs() < 1e-12);
        assert_eq!(e.size, 100.0);
        assert!((e.compared_value - 0.3).abs() < 1e-12);
        assert!(e.low < 0.6 && e.high > 0.6 && e.low > 0.3, "{e:?}");
        assert!(e.passes);
        assert_eq!(e.population, "100 lines with size=XL");
    }

    #[test]
    fn pooling_groups_gives_the_whole_sample_s_mean_and_spread() {
        let a = [1.0, 2.0, 3.0];
        let b = [10.0, 20.0];
        let group = |v: &[f64]| GroupFigures {
            per_customer: Sample::of(v.iter().copied()),
            ..Default::default()
        };
        let pooled = pooled(&[("a".into(), group(&a)), ("b".into(), group(&b))]);
        let whole = Sample::of(a.iter().chain(&b).copied());
        assert_eq!(pooled.n, whole.n);
        assert!((pooled.mean - whole.mean).abs() < 1e-9);
        assert!((pooled.sd - whole.sd).abs() < 1e-9);
    }
}
