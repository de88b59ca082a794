//! The insights' part of the report: the same figures and charts as the dashboard's overview
//! and region pages, from the bundle's insights.

use crate::report::ReportWriter;
use shopml_core::insights::{Insights, Metric};
use std::fmt::Write as _;

/// The business insights in Markdown: the same figures and charts as the dashboard's
/// overview and region pages, from the bundle's insights.
pub fn section(ins: &Insights, report: &mut ReportWriter<'_>) {
    let mut text = String::new();
    let out = &mut text;
    let mut charts: Vec<(String, String)> = Vec::new();
    let mut chart = |name: &str, svg: Result<String, String>, out: &mut String, alt: &str| match svg
    {
        Ok(svg) => {
            let _ = writeln!(out, "![{alt}](report/{name})\n");
            charts.push((name.to_owned(), svg));
        }
        Err(e) => {
            let _ = writeln!(out, "_({alt}: not drawn: {e})_\n");
        }
    };
    use shopml_core::insights::html::charts as insight_charts;
    use shopml_core::money;
    let currency = ins.currency.as_str();
    let caps = &ins.capabilities;
    let whole = |v: f64| money::format_whole(v, currency);
    let pct = |v: f64| Metric::CancellationRate.format(v, currency);
    let count = |v: f64| Metric::Units.format(v, currency);
    let _ = writeln!(
        out,
        "{} to {}; revenue counts lines not cancelled, net of returns and credit notes, in {currency}.\n",
        ins.first_date, ins.last_date
    );
    let t = &ins.total;
    let mut figures = vec![
        ("revenue", whole(t.revenue)),
        ("orders", count(t.orders)),
        ("units", count(t.units)),
        ("order lines", count(t.lines)),
        ("average order value", money::format(t.average_order_value(), currency)),
    ];
    if caps.customers {
        figures.push(("customers", count(ins.distinct_customers as f64)));
    }
    if caps.cancellations {
        figures.push(("lines cancelled", pct(t.cancellation_rate())));
    }
    if caps.returns {
        figures.push(("lines returned", pct(t.return_rate())));
    }
    if caps.profit {
        figures.push(("profit", whole(t.profit)));
        figures.push(("margin", pct(t.margin())));
    }
    let _ = writeln!(out, "| figure | value |\n|---|---|");
    for (name, value) in figures {
        let _ = writeln!(out, "| {name} | {value} |");
    }
    let _ = writeln!(out, "\n### Recommendations\n");
    let recommendations = ins.recommendations_for(None);
    if recommendations.is_empty() {
        let _ = writeln!(
            out,
            "No rule passed its thresholds of support and significance on this data."
        );
    }
    for (i, r) in recommendations.iter().take(15).enumerate() {
        let _ = writeln!(out, "{}. {} _[{}]_  ", i + 1, r.text, r.rule);
        let _ = writeln!(out, "   _Evidence: {}._", r.evidence.describe());
    }
    let _ = writeln!(out, "\n### Revenue over time\n");
    chart(
        "revenue_over_time.svg",
        Ok(insight_charts::revenue_over_time(ins, currency)),
        out,
        "revenue over time",
    );
    let level = ins.region_level.to_lowercase();
    let regions = ins.regions();
    if !regions.is_empty() {
        let _ = writeln!(out, "### Revenue by {level} and category\n");
        if let Some(svg) = insight_charts::revenue_by_region(ins, currency) {
            chart("revenue_by_region.svg", Ok(svg), out, "revenue by region");
        }
        if let Some(svg) = insight_charts::region_category_heatmap(ins, currency) {
            chart("region_category_revenue.svg", Ok(svg), out, "revenue by region and category");
        }
        let _ = writeln!(
            out,
            "| {} | revenue | share | orders | average order |{}\n|---|---|---|---|---|{}",
            ins.region_level,
            if caps.cancellations { " lines cancelled |" } else { "" },
            if caps.cancellations { "---|" } else { "" }
        );
        for (r, t) in regions.iter().take(15) {
            let _ = writeln!(
                out,
                "| {r} | {} | {} | {} | {} |{}",
                whole(t.revenue),
                pct(t.revenue / ins.total.revenue.max(1e-12)),
                count(t.orders),
                money::format(t.average_order_value(), currency),
                if caps.cancellations {
                    format!(" {} |", pct(t.cancellation_rate()))
                } else {
                    String::new()
                }
            );
        }
        let _ = writeln!(out);
    }
    if let Some(svg) = insight_charts::category_shares(ins, currency) {
        chart("category_shares.svg", Ok(svg), out, "share of revenue by category");
    }
    if !regions.is_empty() && caps.categories {
        let _ = writeln!(
            out,
            "### Regional preferences and market gaps\n\nA category's share of a {level}'s revenue against its share everywhere (index = the ratio): above 1.25 a preference, below 0.8 a gap, among the 8 largest.\n\n| {} | over-indexed category (share here / everywhere, index) | under-indexed category |\n|---|---|---|",
            ins.region_level
        );
        for (region, _) in regions.iter().take(8) {
            let Ok(profile) = ins.region_profile(region) else { continue };
            let describe = |c: &(String, shopml_core::insights::Totals, f64, f64, f64)| {
                format!("{} ({} / {}, {:.2})", c.0, pct(c.2), pct(c.3), c.4)
            };
            let sizeable: Vec<_> = profile.categories.iter().filter(|c| c.3 >= 0.02).collect();
            let over = sizeable.iter().max_by(|a, b| a.4.total_cmp(&b.4).then(b.0.cmp(&a.0)));
            let under = sizeable.iter().min_by(|a, b| a.4.total_cmp(&b.4).then(a.0.cmp(&b.0)));
            let _ = writeln!(
                out,
                "| {region} | {} | {} |",
                over.map_or("—".into(), |c| describe(c)),
                under.map_or("—".into(), |c| describe(c))
            );
        }
        let _ = writeln!(out);
    }
    if caps.products && !regions.is_empty() {
        let mut metrics = vec![Metric::Revenue];
        if caps.profit {
            metrics.push(Metric::Margin);
        }
        if caps.cancellations {
            metrics.push(Metric::CancellationRate);
        }
        let _ = writeln!(
            out,
            "### Best sellers and under-performers by {level}\n\nBest seller: the most revenue; lowest: the least revenue among products with at least 5 lines there{}{}.\n",
            if caps.profit { "; margin: profit over revenue" } else { "" },
            if caps.cancellations {
                "; cancellation: the highest rate among products with at least 20 lines"
            } else {
                ""
            },
        );
        let header: Vec<String> = metrics
            .iter()
            .map(|m| match m {
                Metric::Revenue => "best seller | lowest revenue".to_owned(),
                Metric::Margin => "best margin | worst margin".to_owned(),
                _ => "most cancelled".to_owned(),
            })
            .collect();
        let columns = header.join(" | ").matches('|').count() + 1;
        let _ = writeln!(
            out,
            "| {} | {} |\n|---|{}",
            ins.region_level,
            header.join(" | "),
            "---|".repeat(columns)
        );
        let all = shopml_core::insights::Period::default();
        for (region, _) in regions.iter().take(8) {
            let mut cells = Vec::new();
            for &metric in &metrics {
                let text = |r: Option<&shopml_core::insights::RankedProduct<'_>>| {
                    r.map_or("—".to_owned(), |r| {
                        format!("{} ({})", r.product.label(), metric.format(r.value, currency))
                    })
                };
                match metric {
                    Metric::CancellationRate => {
                        let (worst, _) =
                            ins.rank_products(metric, false, Some(region), None, &all, 20.0, 0, 1);
                        cells.push(text(worst.first()));
                    }
                    _ => {
                        let (best, _) =
                            ins.rank_products(metric, false, Some(region), None, &all, 5.0, 0, 1);
                        let (worst, _) =
                            ins.rank_products(metric, true, Some(region), None, &all, 5.0, 0, 1);
                        cells.push(text(best.first()));
                        cells.push(text(worst.first()));
                    }
                }
            }
            let _ = writeln!(out, "| {region} | {} |", cells.join(" | ").replace('\n', " "));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "### When customers buy\n");
    chart(
        "revenue_by_weekday.svg",
        Ok(insight_charts::weekdays(ins, currency)),
        out,
        "revenue by weekday",
    );
    if let Some(svg) = insight_charts::hours(ins, currency) {
        chart("revenue_by_hour.svg", Ok(svg), out, "revenue by hour");
    }
    if let Some(svg) = insight_charts::calendar_months(ins, currency) {
        chart("revenue_by_calendar_month.svg", Ok(svg), out, "revenue by calendar month");
    }
    if !ins.peaks.is_empty() {
        let _ = writeln!(
            out,
            "Peak days (revenue far above a mean day):\n\n| day | revenue | × a mean day | holiday |\n|---|---|---|---|"
        );
        for p in &ins.peaks {
            let _ = writeln!(
                out,
                "| {} ({}) | {} | {:.1} | {} |",
                p.date,
                p.date.format("%a"),
                whole(p.revenue),
                p.ratio_to_mean,
                p.holiday.as_deref().unwrap_or("")
            );
        }
        let _ = writeln!(out);
    }
    if let Some(p) = &ins.promotion {
        let _ = writeln!(
            out,
            "### Promotions\n\n| lines | count | revenue | average order | lines cancelled |\n|---|---|---|---|---|"
        );
        for (name, t) in
            [("with a promotion", &p.with_promotion), ("without", &p.without_promotion)]
        {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} |",
                count(t.lines),
                whole(t.revenue),
                money::format(t.average_order_value(), currency),
                pct(t.cancellation_rate())
            );
        }
        let _ = writeln!(out);
    }
    if let Some(d) = &ins.delivery {
        let _ = writeln!(out, "### Delivery\n");
        for (title, rows) in [("courier status", &d.by_status), ("ship mode", &d.by_ship_mode)] {
            if rows.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "| {title} | lines | revenue | lines cancelled | lines returned |\n|---|---|---|---|---|"
            );
            for (name, t) in rows.iter().take(12) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    if name.is_empty() { "(none)" } else { name },
                    count(t.lines),
                    whole(t.revenue),
                    pct(t.cancellation_rate()),
                    pct(t.return_rate())
                );
            }
            let _ = writeln!(out);
        }
        if !d.days_to_ship.is_empty() {
            let _ = writeln!(
                out,
                "| ship mode | days to ship: mean | median | 90th percentile | lines |\n|---|---|---|---|---|"
            );
            for (mode, mean, median, p90, n) in &d.days_to_ship {
                let _ = writeln!(out, "| {mode} | {mean:.1} | {median:.1} | {p90:.1} | {n} |");
            }
            let _ = writeln!(out);
        }
    }
    if !ins.demographics.is_empty() {
        let _ = writeln!(
            out,
            "### Customers by demographic\n\nFrom the customer file: customers, orders and amount spent per group. Each customer is in one group of each attribute (the value of most of their rows), so the groups add up to the customers.\n"
        );
        let conflicts: Vec<String> = ins
            .demographic_conflicts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(a, n)| format!("{n} with several {}", a.replace('_', " ")))
            .collect();
        if !conflicts.is_empty() {
            let _ = writeln!(
                out,
                "Customers whose rows disagree, put in the value of most of their rows: {}.\n",
                conflicts.join(", ")
            );
        }
        for (attribute, groups) in &ins.demographics {
            let _ = writeln!(
                out,
                "| {} | customers | orders | amount | amount per customer |\n|---|---|---|---|---|",
                attribute.replace('_', " ")
            );
            for (group, g) in groups.iter().take(12) {
                let _ = writeln!(
                    out,
                    "| {group} | {} | {} | {} | {} |",
                    count(g.customers),
                    count(g.orders),
                    whole(g.amount),
                    money::format(g.amount / g.customers.max(1.0), currency)
                );
            }
            let _ = writeln!(out);
        }
    }
    if !ins.attribute_rules.is_empty() {
        let _ = writeln!(
            out,
            "### Rules on attributes\n\nCategory, price band and {level} that go together, strongest lift first.\n\n| if | then | support | confidence | lift | count |\n|---|---|---|---|---|---|"
        );
        for r in ins.attribute_rules.iter().take(15) {
            let _ = writeln!(
                out,
                "| {} | {} | {:.3} | {:.3} | {:.2} | {} |",
                r.antecedent, r.consequent, r.support, r.confidence, r.lift, r.count
            );
        }
        let _ = writeln!(out);
    }
    report.out.push_str(&text);
    report.charts.extend(charts);
}
