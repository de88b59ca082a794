//! The dashboard's pages and REPORT.html, rendered on the server side from a bundle's insights,
//! metrics and customer values: plain HTML with inline SVG and inline styles (nothing fetched
//! from the network), readable on a laptop screen.

use super::{Dimension, Granularity, Insights, Metric, Period, QueryError, Totals};
use crate::charts::{self as svg, escape};
use crate::customer_value::{CustomerValuePredictor, SEGMENT_RULES};
use crate::insights::evidence::LEVEL;
use crate::money;
use crate::segments::{AssociationRule, SegmentIndex};
use crate::served::{Better, ModelFacts};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What a page may show besides the insights.
pub struct Context<'a> {
    pub insights: &'a Insights,
    pub bundle_version: &'a str,
    pub currency: &'a str,
    /// What each model of the bundle says of itself: what it predicts, its figures.
    pub facts: &'a BTreeMap<&'static str, ModelFacts>,
    pub skipped_models: &'a BTreeMap<String, String>,
    pub customers: Option<&'a CustomerValuePredictor>,
    /// The segments and the bought-together rules, when the bundle has them.
    pub segments: Option<&'a SegmentIndex>,
    /// Where the pages live ("/dashboard").
    pub base: &'a str,
}

/// The dashboard's pages.
#[derive(Debug, Clone, PartialEq)]
pub enum Page {
    Overview,
    Region(String),
    Products(ProductQuery),
    /// The bought-together rules: the strongest, or those of one SKU.
    BoughtTogether(Option<String>),
    Customers,
    Models,
}

/// The pages' style sheet, inline in every page (nothing is fetched).
pub const STYLE: &str = "body{margin:0;font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#222;background:#f6f7f9}header{background:#1f2937;color:#fff;padding:10px 24px}header a{color:#cbd5e1;margin-right:18px;text-decoration:none}header a:hover{color:#fff}header b{margin-right:24px}main{max-width:1100px;margin:0 auto;padding:16px 24px}section{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:12px 16px;margin:14px 0}h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:6px 0 10px}.kpis{display:flex;flex-wrap:wrap;gap:12px}.kpi{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:10px 14px;min-width:140px}.kpi b{display:block;font-size:20px}.kpi span{color:#555;font-size:12px}table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eee}td.n,th.n{text-align:right}.charts{display:flex;flex-wrap:wrap;gap:12px}svg.chart{max-width:100%;height:auto}form{margin:6px 0}select,button{font-size:13px;margin-right:8px}.muted{color:#666;font-size:12px}li{margin:4px 0}";

impl Context<'_> {
    fn href(&self, page: &Page) -> String {
        match page {
            Page::Overview => self.base.to_owned(),
            Page::Region(r) => format!("{}/regions/{}", self.base, url_encode(r)),
            Page::Products(q) => format!("{}/products?{}", self.base, q.query_string()),
            Page::BoughtTogether(None) => format!("{}/bought-together", self.base),
            Page::BoughtTogether(Some(sku)) => {
                format!("{}/bought-together?sku={}", self.base, url_encode(sku))
            }
            Page::Customers => format!("{}/customers", self.base),
            Page::Models => format!("{}/models", self.base),
        }
    }

    fn money(&self, v: f64) -> String {
        money::format_whole(v, self.currency)
    }

    fn compact(&self, v: f64) -> String {
        money::format_compact(v, self.currency)
    }

    fn nav(&self) -> String {
        format!(
            "<header><b>shopml</b><a href=\"{}\">Overview</a><a href=\"{}\">Products</a><a href=\"{}\">Bought together</a><a href=\"{}\">Customers</a><a href=\"{}\">Models</a><span class=\"muted\">bundle {} · {}</span></header>",
            self.href(&Page::Overview),
            self.href(&Page::Products(ProductQuery::default())),
            self.href(&Page::BoughtTogether(None)),
            self.href(&Page::Customers),
            self.href(&Page::Models),
            escape(self.bundle_version),
            escape(self.currency)
        )
    }
}

/// A region or category as a URL path segment or query value.
pub fn url_encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes a percent-encoded path segment or query value ('+' is a space).
pub fn url_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or(""),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn slug(value: &str) -> String {
    value.chars().map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

fn kpis(items: &[(&str, String)]) -> String {
    let mut out = String::from("<div class=\"kpis\">");
    for (label, value) in items {
        let _ = write!(
            out,
            "<div class=\"kpi\"><b>{}</b><span>{}</span></div>",
            escape(value),
            escape(label)
        );
    }
    out.push_str("</div>");
    out
}

fn pct(v: f64) -> String {
    Metric::CancellationRate.format(v, "")
}

fn count(v: f64) -> String {
    Metric::Units.format(v, "")
}

/// Key figures of a set of lines.
fn totals_kpis(ctx: &Context<'_>, t: &super::Totals) -> String {
    let caps = &ctx.insights.capabilities;
    let mut items = vec![
        ("revenue", ctx.money(t.revenue)),
        ("orders", count(t.orders)),
        ("units", count(t.units)),
        ("average order value", money::format(t.average_order_value(), ctx.currency)),
    ];
    if caps.cancellations {
        items.push(("lines cancelled", pct(t.cancellation_rate())));
    }
    if caps.returns {
        items.push(("lines returned", pct(t.return_rate())));
    }
    if caps.profit {
        items.push(("profit", ctx.money(t.profit)));
        items.push(("margin", pct(t.margin())));
    }
    kpis(&items)
}

fn recommendations_list(ctx: &Context<'_>, items: &[&super::Recommendation]) -> String {
    if items.is_empty() {
        return "<p class=\"muted\">No rule passed its thresholds of support and significance on this data.</p>".into();
    }
    let mut out = String::from("<ol>");
    for r in items {
        let link = if r.region.is_empty() {
            String::new()
        } else {
            format!(
                " <a href=\"{}\">{}</a>",
                ctx.href(&Page::Region(r.region.clone())),
                escape(&r.region)
            )
        };
        let _ = write!(
            out,
            "<li>{}{link} <span class=\"muted\">[{}]</span><br><span class=\"muted evidence\">{}</span></li>",
            escape(&r.text),
            escape(&r.rule),
            escape(&r.evidence.describe())
        );
    }
    out.push_str("</ol>");
    out
}

/// The overview: key figures, recommendations, revenue over time, by region and category, the
/// region × category heat map, weekday and hour patterns, peak days, promotions, delivery.
pub fn overview(ctx: &Context<'_>) -> String {
    let ins = ctx.insights;
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1 id=\"overview\">Overview</h1><p class=\"muted\">{} to {}; amounts in {}.</p>",
        ins.first_date,
        ins.last_date,
        escape(ctx.currency)
    );
    body.push_str(&totals_kpis(ctx, &ins.total));
    let recommendations = ins.recommendations_for(None);
    let _ = write!(
        body,
        "<section><h2>Recommendations</h2>{}</section>",
        recommendations_list(ctx, &recommendations.into_iter().take(12).collect::<Vec<_>>())
    );
    body.push_str("<section><h2>Revenue over time</h2><div class=\"charts\">");
    body.push_str(&charts::revenue_over_time(ins, ctx.currency));
    body.push_str("</div></section>");
    let regions = ins.regions();
    body.push_str("<section><h2>Where and what sells</h2><div class=\"charts\">");
    for chart in [
        charts::revenue_by_region(ins, ctx.currency),
        charts::category_shares(ins, ctx.currency),
        charts::region_category_heatmap(ins, ctx.currency),
    ]
    .into_iter()
    .flatten()
    {
        body.push_str(&chart);
    }
    body.push_str("</div>");
    if !regions.is_empty() {
        let _ = write!(
            body,
            "<table><tr><th>{}</th><th class=\"n\">revenue</th><th class=\"n\">share</th><th class=\"n\">orders</th><th class=\"n\">average order</th>{}</tr>",
            escape(&ins.region_level),
            if ins.capabilities.cancellations { "<th class=\"n\">cancelled</th>" } else { "" }
        );
        for (r, t) in regions.iter().take(20) {
            let _ = write!(
                body,
                "<tr><td><a href=\"{}\">{}</a></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>{}</tr>",
                ctx.href(&Page::Region(r.clone())),
                escape(r),
                ctx.money(t.revenue),
                pct(t.revenue / ins.total.revenue.max(1e-12)),
                count(t.orders),
                money::format(t.average_order_value(), ctx.currency),
                if ins.capabilities.cancellations {
                    format!("<td class=\"n\">{}</td>", pct(t.cancellation_rate()))
                } else {
                    String::new()
                }
            );
        }
        body.push_str("</table>");
    }
    body.push_str("</section><section><h2>When</h2><div class=\"charts\">");
    for chart in [
        Some(charts::weekdays(ins, ctx.currency)),
        charts::hours(ins, ctx.currency),
        charts::calendar_months(ins, ctx.currency),
    ]
    .into_iter()
    .flatten()
    {
        body.push_str(&chart);
    }
    body.push_str("</div>");
    if !ins.peaks.is_empty() {
        body.push_str("<h2>Peak days</h2><table><tr><th>day</th><th class=\"n\">revenue</th><th class=\"n\">× a mean day</th><th>holiday</th></tr>");
        for p in &ins.peaks {
            let _ = write!(
                body,
                "<tr><td>{} ({})</td><td class=\"n\">{}</td><td class=\"n\">{:.1}</td><td>{}</td></tr>",
                p.date,
                p.date.format("%a"),
                ctx.money(p.revenue),
                p.ratio_to_mean,
                escape(p.holiday.as_deref().unwrap_or(""))
            );
        }
        body.push_str("</table>");
    }
    body.push_str("</section>");
    if let Some(p) = &ins.promotion {
        let _ = write!(
            body,
            "<section><h2>Promotions</h2><table><tr><th></th><th class=\"n\">lines</th><th class=\"n\">revenue</th><th class=\"n\">average order</th><th class=\"n\">cancelled</th></tr><tr><td>with a promotion</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr><tr><td>without</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr></table></section>",
            count(p.with_promotion.lines),
            ctx.money(p.with_promotion.revenue),
            money::format(p.with_promotion.average_order_value(), ctx.currency),
            pct(p.with_promotion.cancellation_rate()),
            count(p.without_promotion.lines),
            ctx.money(p.without_promotion.revenue),
            money::format(p.without_promotion.average_order_value(), ctx.currency),
            pct(p.without_promotion.cancellation_rate()),
        );
    }
    if let Some(d) = &ins.delivery {
        body.push_str("<section><h2>Delivery</h2>");
        for (title, rows) in
            [("by delivery status", &d.by_status), ("by ship mode", &d.by_ship_mode)]
        {
            if rows.is_empty() {
                continue;
            }
            let _ = write!(
                body,
                "<table><tr><th>{title}</th><th class=\"n\">lines</th><th class=\"n\">revenue</th><th class=\"n\">returned</th></tr>"
            );
            for (name, t) in rows.iter().take(12) {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                    escape(if name.is_empty() { "(none)" } else { name }),
                    count(t.lines),
                    ctx.money(t.revenue),
                    pct(t.return_rate())
                );
            }
            body.push_str("</table>");
        }
        if !d.days_to_ship.is_empty() {
            body.push_str("<table><tr><th>days to ship</th><th class=\"n\">mean</th><th class=\"n\">median</th><th class=\"n\">90th percentile</th><th class=\"n\">lines</th></tr>");
            for (mode, mean, median, p90, n) in &d.days_to_ship {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td class=\"n\">{mean:.1}</td><td class=\"n\">{median:.1}</td><td class=\"n\">{p90:.1}</td><td class=\"n\">{n}</td></tr>",
                    escape(mode)
                );
            }
            body.push_str("</table>");
        }
        body.push_str("</section>");
    }
    if !ins.attribute_rules.is_empty() {
        body.push_str("<section><h2>Rules on attributes</h2><table><tr><th>lines with</th><th>also have</th><th class=\"n\">support</th><th class=\"n\">confidence</th><th class=\"n\">lift</th></tr>");
        for r in ins.attribute_rules.iter().take(15) {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.2}</td></tr>",
                escape(&r.antecedent),
                escape(&r.consequent),
                pct(r.support),
                pct(r.confidence),
                r.lift
            );
        }
        body.push_str("</table></section>");
    }
    body
}

/// A region's page: its figures, its categories against their national share, its months, its
/// best sellers and under-performers, and what to do there.
/// A region's customers against all regions': counts, repeat rate, orders and value per
/// customer, and the segment mix.
fn region_customers(
    ctx: &Context<'_>,
    region: &str,
    here: &crate::customer_value::RegionCustomers,
    cv: &CustomerValuePredictor,
) -> String {
    let mut all = crate::customer_value::RegionCustomers::default();
    for r in cv.regions.values() {
        all.add(r);
    }
    let mut out = format!(
        "<section><h2>Customers here</h2><p class=\"muted\">Customers whose first purchase was in {}, each counted once, with what they bought anywhere.</p><table><tr><th></th><th class=\"n\">here</th><th class=\"n\">all regions</th></tr>",
        escape(region)
    );
    let rows: [(&str, String, String); 6] = [
        ("customers", here.customers.to_string(), all.customers.to_string()),
        (
            "new in the last 90 days",
            here.new_last_90_days.to_string(),
            all.new_last_90_days.to_string(),
        ),
        ("repeat rate", pct(here.repeat_rate()), pct(all.repeat_rate())),
        (
            "orders per customer",
            format!("{:.2}", here.purchase_days_per_customer()),
            format!("{:.2}", all.purchase_days_per_customer()),
        ),
        (
            "spent per customer",
            ctx.money(here.amount_per_customer()),
            ctx.money(all.amount_per_customer()),
        ),
        (
            "mean lifetime value",
            money::format(here.mean_lifetime_value(), ctx.currency),
            money::format(all.mean_lifetime_value(), ctx.currency),
        ),
    ];
    for (name, a, b) in rows {
        let _ =
            write!(out, "<tr><td>{name}</td><td class=\"n\">{a}</td><td class=\"n\">{b}</td></tr>");
    }
    for (segment, _) in SEGMENT_RULES {
        let share = |r: &crate::customer_value::RegionCustomers| {
            pct(r.segments.get(segment).copied().unwrap_or(0) as f64 / r.customers.max(1) as f64)
        };
        if all.segments.contains_key(segment) {
            let _ = write!(
                out,
                "<tr><td>segment {segment}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                share(here),
                share(&all)
            );
        }
    }
    out.push_str("</table></section>");
    out
}

pub fn region(ctx: &Context<'_>, name: &str) -> Result<String, QueryError> {
    let ins = ctx.insights;
    let profile = ins.region_profile(name)?;
    let region = &profile.region;
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1 id=\"region-{}\">{}: {}</h1><p class=\"muted\">{} of all revenue.</p>",
        slug(region),
        escape(&ins.region_level),
        escape(region),
        pct(profile.revenue_share)
    );
    body.push_str(&totals_kpis(ctx, &profile.totals));
    if let Some(cv) = ctx.customers
        && let Some(here) = cv.regions.get(region)
    {
        body.push_str(&region_customers(ctx, region, here, cv));
    }
    let recommendations: Vec<&super::Recommendation> = profile.recommendations.iter().collect();
    let _ = write!(
        body,
        "<section><h2>What to do here</h2>{}</section>",
        recommendations_list(ctx, &recommendations)
    );
    body.push_str("<section><h2>Categories here against the whole</h2><div class=\"charts\">");
    let items: Vec<(String, Vec<f64>)> =
        profile.categories.iter().take(10).map(|c| (c.0.clone(), vec![c.2, c.3])).collect();
    if !items.is_empty() {
        body.push_str(&svg::paired_bars(
            "Share of revenue by category",
            &[region.as_str(), "all regions"],
            &items,
            &pct,
        ));
    }
    let points: Vec<(chrono::NaiveDate, f64)> = ins
        .trend(
            Metric::Revenue,
            &Dimension::Region(region.clone()),
            Granularity::Week,
            &Period::default(),
        )
        .map(|p| p.into_iter().map(|p| (p.0, p.2)).collect())
        .unwrap_or_default();
    if !points.is_empty() {
        body.push_str(&svg::lines_marking_partial(
            "Revenue by week (weeks start on Monday)",
            &[("revenue".into(), points)],
            &|start| ins.is_partial(Granularity::Week, start),
            &|v| ctx.compact(v),
        ));
    }
    body.push_str("</div><table><tr><th>category</th><th class=\"n\">revenue here</th><th class=\"n\">share here</th><th class=\"n\">share everywhere</th><th class=\"n\">index</th></tr>");
    for (category, t, share, national, index) in profile.categories.iter().take(15) {
        let _ = write!(
            body,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{index:.2}</td></tr>",
            escape(category),
            ctx.money(t.revenue),
            pct(*share),
            pct(*national)
        );
    }
    body.push_str("</table></section>");
    let mut metrics = vec![Metric::Revenue, Metric::Units];
    if ins.capabilities.profit {
        metrics.push(Metric::Margin);
    }
    body.push_str("<section><h2>Best sellers and under-performers</h2>");
    for metric in metrics {
        let (best, _) =
            ins.rank_products(metric, false, Some(region), None, &Period::default(), 5.0, 0, 5);
        let (worst, _) =
            ins.rank_products(metric, true, Some(region), None, &Period::default(), 5.0, 0, 5);
        let _ = write!(
            body,
            "<h2>by {}</h2><table><tr><th>best</th><th class=\"n\"></th><th>lowest (at least 5 lines)</th><th class=\"n\"></th></tr>",
            metric.name().replace('_', " ")
        );
        for i in 0..best.len().max(worst.len()) {
            let cell = |r: Option<&super::RankedProduct<'_>>| match r {
                Some(r) => format!(
                    "<td>{}</td><td class=\"n\">{}</td>",
                    escape(&r.product.label()),
                    metric.format(r.value, ctx.currency)
                ),
                None => "<td></td><td></td>".into(),
            };
            let _ = write!(body, "<tr>{}{}</tr>", cell(best.get(i)), cell(worst.get(i)));
        }
        body.push_str("</table>");
    }
    let _ = write!(
        body,
        "<p><a href=\"{}\">All products here, ranked</a></p></section>",
        ctx.href(&Page::Products(ProductQuery {
            region: Some(region.clone()),
            ..ProductQuery::default()
        }))
    );
    Ok(body)
}

/// What the products page ranks: by which metric, where, over which months, which end first,
/// and whether beside the months just before. Every field is a URL query parameter, so a view
/// is a link.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductQuery {
    pub metric: Metric,
    pub region: Option<String>,
    pub category: Option<String>,
    /// Lowest first (the under-performers).
    pub ascending: bool,
    /// First and last month (YYYY-MM), either end open.
    pub period: Period,
    /// Beside the same number of months just before the period.
    pub compare: bool,
}

impl Default for ProductQuery {
    fn default() -> Self {
        Self {
            metric: Metric::Revenue,
            region: None,
            category: None,
            ascending: false,
            period: Period::default(),
            compare: false,
        }
    }
}

impl ProductQuery {
    /// The query's URL parameters (without `?`).
    pub fn query_string(&self) -> String {
        let mut query = format!("metric={}", self.metric.name());
        if self.ascending {
            query.push_str("&order=lowest");
        }
        for (key, value) in [
            ("region", &self.region),
            ("category", &self.category),
            ("from", &self.period.from),
            ("to", &self.period.to),
        ] {
            if let Some(v) = value {
                let _ = write!(query, "&{key}={}", url_encode(v));
            }
        }
        if self.compare {
            query.push_str("&compare=previous");
        }
        query
    }
}

/// Products to show on a page and in its CSV.
const PRODUCT_ROWS: usize = 50;

/// The products page's table: the ranking over the period, and the same products' figure over
/// the months just before when compared.
struct ProductTable<'a> {
    ranked: Vec<super::RankedProduct<'a>>,
    total: usize,
    /// The months compared with, each product's figure then (by product id), and which of
    /// those months are partial.
    previous: Option<(Period, BTreeMap<&'a str, f64>, Vec<String>)>,
    /// Months of the period cut by the export's first or last day.
    partial_months: Vec<String>,
}

fn product_table<'a>(ins: &'a Insights, q: &ProductQuery) -> Result<ProductTable<'a>, QueryError> {
    let region = q.region.as_deref().map(|r| ins.find_region(r)).transpose()?;
    let category = q.category.as_deref().map(|c| ins.find_category(c)).transpose()?;
    ins.check_period(&q.period)?;
    let rank = |period: &Period, limit: usize| {
        ins.rank_products(
            q.metric,
            q.ascending,
            region.as_deref(),
            category.as_deref(),
            period,
            1.0,
            0,
            limit,
        )
    };
    let (ranked, total) = rank(&q.period, PRODUCT_ROWS);
    let months: Vec<String> = ins.months().into_iter().map(|(m, _)| m).collect();
    let inside = |m: &String| {
        q.period.from.as_ref().is_none_or(|f| m >= f) && q.period.to.as_ref().is_none_or(|t| m <= t)
    };
    let chosen: Vec<&String> = months.iter().filter(|m| inside(m)).collect();
    let partial = |months: &[&String]| -> Vec<String> {
        months
            .iter()
            .filter(|m| month_start(m).is_some_and(|d| ins.is_partial(Granularity::Month, d)))
            .map(|m| (*m).clone())
            .collect()
    };
    let partial_months = partial(&chosen);
    // The months just before, as many as chosen, when the export has them all.
    let previous = match (q.compare, chosen.first()) {
        (true, Some(first)) => {
            let at = months.iter().position(|m| m == *first).unwrap_or(0);
            (at >= chosen.len()).then(|| {
                let before = &months[at - chosen.len()..at];
                let period = Period { from: before.first().cloned(), to: before.last().cloned() };
                let (then, _) = rank(&period, usize::MAX);
                let figures = then.iter().map(|p| (p.product.id.as_str(), p.value)).collect();
                (period, figures, partial(&before.iter().collect::<Vec<_>>()))
            })
        }
        _ => None,
    };
    Ok(ProductTable { ranked, total, previous, partial_months })
}

/// A month's first day, from "YYYY-MM".
fn month_start(month: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()
}

/// A month range in words: "2022-04 to 2022-05", "every month".
fn months_label(period: &Period) -> String {
    match (&period.from, &period.to) {
        (None, None) => "every month".into(),
        (Some(f), Some(t)) if f == t => f.clone(),
        (f, t) => format!(
            "{} to {}",
            f.as_deref().unwrap_or("the first month"),
            t.as_deref().unwrap_or("the last month")
        ),
    }
}

/// The products page: products ranked by a metric within an optional region, category and
/// period, beside the months before when asked, with the table as CSV.
pub fn products(ctx: &Context<'_>, q: &ProductQuery) -> Result<String, QueryError> {
    let ins = ctx.insights;
    let table = product_table(ins, q)?;
    let metric = q.metric;
    let mut body = String::from("<h1 id=\"products\">Products</h1>");
    if !ctx.base.is_empty() {
        products_form(ctx, q, &mut body);
    }
    let chart: Vec<(String, f64)> =
        table.ranked.iter().take(15).map(|r| (r.product.label(), r.value)).collect();
    let _ = write!(
        body,
        "<section><h2>{} {} of {} by {}{}{}, {}</h2>",
        if q.ascending { "Lowest" } else { "Top" },
        table.ranked.len(),
        table.total,
        metric.name().replace('_', " "),
        q.region.as_deref().map(|r| format!(" in {}", escape(r))).unwrap_or_default(),
        q.category.as_deref().map(|c| format!(", {}", escape(c))).unwrap_or_default(),
        escape(&months_label(&q.period)),
    );
    if !table.partial_months.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\" id=\"partial\">Partial months (cut by the export's first or last day): {}.</p>",
            escape(&table.partial_months.join(", "))
        );
    }
    match (&table.previous, q.compare) {
        (Some((period, _, partial)), _) => {
            let _ = write!(
                body,
                "<p class=\"muted\">Compared with {}{}.</p>",
                escape(&months_label(period)),
                if partial.is_empty() {
                    String::new()
                } else {
                    format!(" (partial: {})", escape(&partial.join(", ")))
                }
            );
        }
        (None, true) => body.push_str(
            "<p class=\"muted\">No comparison: the export has no months of equal length before this period.</p>",
        ),
        (None, false) => {}
    }
    if !chart.is_empty() {
        body.push_str(&svg::bars(
            &format!("Products by {}", metric.name().replace('_', " ")),
            &chart,
            &|v| metric.format(v, ctx.currency),
        ));
    }
    let _ = write!(
        body,
        "<table id=\"ranking\"><tr><th>#</th><th>product</th><th>category</th><th class=\"n\">{}</th>",
        metric.name().replace('_', " ")
    );
    if table.previous.is_some() {
        body.push_str("<th class=\"n\">before</th><th class=\"n\">change</th>");
    }
    body.push_str(
        "<th class=\"n\">revenue</th><th class=\"n\">units</th><th class=\"n\">orders</th>",
    );
    if ins.capabilities.profit {
        body.push_str("<th class=\"n\">margin</th>");
    }
    if ins.capabilities.cancellations {
        body.push_str("<th class=\"n\">cancelled</th>");
    }
    body.push_str("</tr>");
    for (i, r) in table.ranked.iter().enumerate() {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>",
            i + 1,
            escape(&r.product.label()),
            escape(&r.product.category),
            metric.format(r.value, ctx.currency),
        );
        if let Some((_, then, _)) = &table.previous {
            let before = then.get(r.product.id.as_str()).copied();
            let _ = write!(
                body,
                "<td class=\"n\">{}</td><td class=\"n\">{}</td>",
                before.map(|v| metric.format(v, ctx.currency)).unwrap_or_else(|| "—".into()),
                before
                    .filter(|b| *b != 0.0)
                    .map(|b| format!("{:+.0}%", 100.0 * (r.value - b) / b.abs()))
                    .unwrap_or_else(|| "new".into()),
            );
        }
        let _ = write!(
            body,
            "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>{}{}</tr>",
            ctx.money(r.totals.revenue),
            count(r.totals.units),
            count(r.totals.orders),
            if ins.capabilities.profit {
                format!("<td class=\"n\">{}</td>", pct(r.totals.margin()))
            } else {
                String::new()
            },
            if ins.capabilities.cancellations {
                format!("<td class=\"n\">{}</td>", pct(r.totals.cancellation_rate()))
            } else {
                String::new()
            },
        );
    }
    body.push_str("</table>");
    if !ctx.base.is_empty() {
        let _ = write!(
            body,
            "<p><a id=\"csv\" href=\"{}/products?{}&amp;format=csv\" download>Download this table (CSV)</a></p>",
            ctx.base,
            escape(&q.query_string())
        );
    }
    body.push_str("</section>");
    Ok(body)
}

/// The products page's filters: a GET form, so the view it gives is a link.
fn products_form(ctx: &Context<'_>, q: &ProductQuery, body: &mut String) {
    let ins = ctx.insights;
    let _ = write!(
        body,
        "<form method=\"get\" action=\"{}/products\"><select name=\"metric\">",
        ctx.base
    );
    for m in Metric::ALL {
        let _ = write!(
            body,
            "<option value=\"{}\"{}>{}</option>",
            m.name(),
            if m == q.metric { " selected" } else { "" },
            m.name().replace('_', " ")
        );
    }
    let options =
        |body: &mut String, name: &str, all: &str, values: Vec<String>, chosen: Option<&str>| {
            let _ =
                write!(body, "</select><select name=\"{name}\"><option value=\"\">{all}</option>");
            for v in values {
                let _ = write!(
                    body,
                    "<option{}>{}</option>",
                    if chosen == Some(v.as_str()) { " selected" } else { "" },
                    escape(&v)
                );
            }
        };
    let names = |groups: Vec<(String, Totals)>| groups.into_iter().take(60).map(|g| g.0).collect();
    options(body, "region", "all regions", names(ins.regions()), q.region.as_deref());
    options(body, "category", "all categories", names(ins.categories()), q.category.as_deref());
    let months: Vec<String> = ins.months().into_iter().map(|m| m.0).collect();
    options(body, "from", "from the first month", months.clone(), q.period.from.as_deref());
    options(body, "to", "to the last month", months, q.period.to.as_deref());
    let _ = write!(
        body,
        "</select><select name=\"order\"><option value=\"highest\">highest first</option><option value=\"lowest\"{}>lowest first</option></select><label><input type=\"checkbox\" name=\"compare\" value=\"previous\"{}> against the months before</label> <button>Show</button></form>",
        if q.ascending { " selected" } else { "" },
        if q.compare { " checked" } else { "" }
    );
}

/// The products page's table as CSV: the same ranking, the figures unformatted (amounts in
/// the export's currency, rates 0–1).
pub fn products_csv(ctx: &Context<'_>, q: &ProductQuery) -> Result<String, QueryError> {
    let ins = ctx.insights;
    let table = product_table(ins, q)?;
    // The ranked figure is named for its metric, apart from the totals beside it.
    let metric = q.metric.name();
    let mut header: Vec<String> =
        ["rank", "product_id", "name", "category"].map(String::from).into();
    header.push(format!("{metric}_ranked"));
    if table.previous.is_some() {
        header.extend([format!("{metric}_before"), format!("{metric}_change")]);
    }
    header.extend(
        ["revenue", "units", "orders", "lines", "cancellation_rate", "return_rate"]
            .map(String::from),
    );
    if ins.capabilities.profit {
        header.extend(["profit", "margin"].map(String::from));
    }
    let mut out = csv_row(header);
    for (i, r) in table.ranked.iter().enumerate() {
        let t = &r.totals;
        let mut row = vec![
            (i + 1).to_string(),
            r.product.id.clone(),
            r.product.name.clone(),
            r.product.category.clone(),
            r.value.to_string(),
        ];
        if let Some((_, then, _)) = &table.previous {
            let before = then.get(r.product.id.as_str()).copied();
            row.push(before.map(|b| b.to_string()).unwrap_or_default());
            row.push(
                before
                    .filter(|b| *b != 0.0)
                    .map(|b| ((r.value - b) / b.abs()).to_string())
                    .unwrap_or_default(),
            );
        }
        row.extend(
            [t.revenue, t.units, t.orders, t.lines, t.cancellation_rate(), t.return_rate()]
                .map(|v| v.to_string()),
        );
        if ins.capabilities.profit {
            row.extend([t.profit.to_string(), t.margin().to_string()]);
        }
        out.push_str(&csv_row(row));
    }
    Ok(out)
}

/// One CSV line (RFC 4180). A text that a spreadsheet would run as a formula (starting with
/// `=`, `+`, `-`, `@`, tab or carriage return) is prefixed with `'`; numbers are written as
/// numbers.
fn csv_row(cells: impl IntoIterator<Item = String>) -> String {
    let cells: Vec<String> = cells
        .into_iter()
        .map(|cell| {
            let formula =
                cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err();
            let cell = if formula { format!("'{cell}") } else { cell };
            if cell.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", cell.replace('"', "\"\""))
            } else {
                cell
            }
        })
        .collect();
    cells.join(",") + "\r\n"
}

/// Rules the bought-together page shows.
const RULE_ROWS: usize = 50;

/// The bought-together page: the strongest rules (by lift, then orders), or those of one SKU,
/// each confidence with its interval.
pub fn bought_together(ctx: &Context<'_>, sku: Option<&str>) -> Result<String, QueryError> {
    let mut body = String::from("<h1 id=\"bought-together\">Bought together</h1>");
    let Some(index) = ctx.segments else {
        body.push_str("<p>The bundle serving has no bought-together rules (train it with the \"segments\" model).</p>");
        return Ok(body);
    };
    let bt = &index.bought_together;
    let _ = write!(
        body,
        "<p class=\"muted\">Mined from {} orders with several SKUs; a rule needs at least {} orders, confidence {} and lift {}. Confidence: the share of the orders with the first SKU that also hold the second, with its {:.0}% interval (Jeffreys).</p>",
        count(bt.multi_line_orders as f64),
        bt.min_orders,
        pct(bt.min_confidence),
        bt.min_lift,
        100.0 * LEVEL
    );
    if !ctx.base.is_empty() {
        let _ = write!(
            body,
            "<form method=\"get\" action=\"{}/bought-together\"><input name=\"sku\" placeholder=\"SKU\" value=\"{}\"> <button>Show its rules</button></form>",
            ctx.base,
            escape(sku.unwrap_or(""))
        );
    }
    let rules: Vec<&AssociationRule> = match sku {
        Some(sku) => index
            .rules(sku)
            .ok_or_else(|| QueryError::NotFound {
                what: "SKU",
                value: crate::features::echo(sku),
                near: Vec::new(),
            })?
            .iter()
            .take(RULE_ROWS)
            .collect(),
        None => bt.strongest().into_iter().take(RULE_ROWS).collect(),
    };
    let _ = write!(
        body,
        "<section><h2>{}</h2>",
        match sku {
            Some(sku) => format!("Bought with {}", escape(sku)),
            None => format!("The {} strongest rules", rules.len()),
        }
    );
    if rules.is_empty() {
        body.push_str("<p>No rule clears the thresholds here.</p></section>");
        return Ok(body);
    }
    let chart: Vec<(String, f64)> = rules
        .iter()
        .take(15)
        .map(|r| (format!("{} → {}", r.antecedent, r.consequent), r.lift))
        .collect();
    body.push_str(&svg::bars("Lift", &chart, &|v| format!("{v:.1}")));
    body.push_str("<table id=\"rules\"><tr><th>orders with</th><th>also hold</th><th class=\"n\">orders</th><th class=\"n\">support</th><th class=\"n\">confidence</th><th class=\"n\">90% interval</th><th class=\"n\">lift</th></tr>");
    for r in rules {
        let e = super::tables::basket_rule_evidence(r, bt.min_orders as f64);
        let _ = write!(
            body,
            "<tr><td><a href=\"{}\">{}</a></td><td><a href=\"{}\">{}</a></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}–{}</td><td class=\"n\">{:.2}</td></tr>",
            ctx.href(&Page::BoughtTogether(Some(r.antecedent.clone()))),
            escape(&r.antecedent),
            ctx.href(&Page::BoughtTogether(Some(r.consequent.clone()))),
            escape(&r.consequent),
            r.orders,
            pct(r.support),
            pct(r.confidence),
            pct(e.low),
            pct(e.high),
            r.lift
        );
    }
    body.push_str("</table></section>");
    Ok(body)
}

/// The customers page: customer value (segments, the most valuable, those at risk) and the
/// demographics of the customer file.
pub fn customers(ctx: &Context<'_>) -> String {
    let mut body = String::from("<h1 id=\"customers\">Customers</h1>");
    match ctx.customers {
        Some(cv) => {
            let _ = write!(
                body,
                "<p class=\"muted\">{} customers valued as of {} over {} days ({:?}); churn risk: {}.</p>",
                cv.known.len(),
                cv.model.as_of,
                cv.model.horizon_days,
                cv.model.purchases.kind,
                cv.model.churn.as_ref().map_or("1 − P(active)".to_owned(), |c| format!(
                    "no purchase in {:.0} weeks, ranked by {}",
                    c.window_weeks,
                    c.ranking.name()
                ))
            );
            let mut segments: BTreeMap<&str, (usize, f64, f64)> = BTreeMap::new();
            for c in &cv.known {
                let s = segments.entry(c.value.segment).or_default();
                s.0 += 1;
                s.1 += c.value.lifetime_value;
                s.2 += c.record.total_amount;
            }
            let items: Vec<(String, f64)> = SEGMENT_RULES
                .iter()
                .filter_map(|(n, _)| segments.get(n).map(|s| (n.to_string(), s.0 as f64)))
                .collect();
            body.push_str("<section><h2>Segments</h2><div class=\"charts\">");
            body.push_str(&svg::donut("Customers by segment", &items, &|v| format!("{v:.0}")));
            body.push_str("</div><table><tr><th>segment</th><th>rule (RFM scores 1–5)</th><th class=\"n\">customers</th><th class=\"n\">mean lifetime value</th><th class=\"n\">spent</th></tr>");
            for (name, rule) in SEGMENT_RULES {
                if let Some((n, value, spent)) = segments.get(name) {
                    let _ = write!(
                        body,
                        "<tr><td>{name}</td><td>{}</td><td class=\"n\">{n}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                        escape(rule),
                        money::format(value / *n as f64, ctx.currency),
                        ctx.money(*spent)
                    );
                }
            }
            body.push_str("</table></section>");
            let table = |title: &str, rows: Vec<&crate::customer_value::KnownCustomer>| {
                let mut out = format!(
                    "<section><h2>{title}</h2><table><tr><th>customer</th><th>segment</th><th class=\"n\">purchase days</th><th class=\"n\">spent</th><th class=\"n\">P(active)</th><th class=\"n\">churn risk</th><th class=\"n\">lifetime value</th></tr>"
                );
                for c in rows {
                    let _ = write!(
                        out,
                        "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.2}</td><td class=\"n\">{:.2}</td><td class=\"n\">{}</td></tr>",
                        escape(&c.id),
                        c.value.segment,
                        c.value.purchase_days,
                        ctx.money(c.record.total_amount),
                        c.value.p_alive,
                        c.value.churn_risk,
                        money::format(c.value.lifetime_value, ctx.currency)
                    );
                }
                out.push_str("</table></section>");
                out
            };
            body.push_str(&table(
                "Most valuable customers",
                cv.by_value.iter().take(15).map(|&i| &cv.known[i]).collect(),
            ));
            let mut at_risk: Vec<&crate::customer_value::KnownCustomer> = cv
                .known
                .iter()
                .filter(|c| c.value.churn_risk > 0.5 || c.value.segment == "at_risk")
                .collect();
            at_risk.sort_by(|a, b| {
                b.record.total_amount.total_cmp(&a.record.total_amount).then(a.id.cmp(&b.id))
            });
            body.push_str(&table(
                "High-value customers at risk",
                at_risk.into_iter().take(15).collect(),
            ));
        }
        None => {
            let reason = ctx
                .skipped_models
                .get("customer_value")
                .map(String::as_str)
                .unwrap_or("no customer value model");
            let _ = write!(
                body,
                "<section><p class=\"muted\">Customer value: {}.</p></section>",
                escape(reason)
            );
        }
    }
    let demographics = &ctx.insights.demographics;
    if !demographics.is_empty() {
        body.push_str("<section><h2>Demographics (customer file)</h2><div class=\"charts\">");
        for (attribute, groups) in demographics {
            let items: Vec<(String, f64)> =
                groups.iter().take(12).map(|(g, f)| (g.clone(), f.amount)).collect();
            body.push_str(&svg::bars(
                &format!("Amount spent by {}", attribute.replace('_', " ")),
                &items,
                &|v| ctx.compact(v),
            ));
        }
        body.push_str("</div></section>");
    }
    body
}

/// The models page: what the bundle serves, what each model predicts and how good it is (the
/// headline figures each model declares, with which way is better).
pub fn models(ctx: &Context<'_>) -> String {
    let mut body = String::from("<h1 id=\"models\">Model quality</h1>");
    for (name, facts) in ctx.facts {
        if facts.figures.is_empty() {
            continue;
        }
        let _ = write!(
            body,
            "<section><h2>{}</h2><p class=\"muted\">{}</p><table><tr><th>figure</th><th class=\"n\">value</th><th>better</th></tr>",
            escape(name),
            escape(&facts.predicts)
        );
        for figure in &facts.figures {
            let value = if figure.value.fract() == 0.0 && figure.value.abs() < 1e15 {
                format!("{:.0}", figure.value)
            } else {
                format!("{:.4}", figure.value)
            };
            let better = match figure.better {
                Better::Higher => "higher",
                Better::Lower => "lower",
                Better::Neither => "",
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"n\">{}</td><td>{better}</td></tr>",
                escape(&figure.path),
                escape(&value)
            );
        }
        body.push_str("</table>");
        for backtest in &facts.backtests {
            body.push_str(&backtest_table(backtest));
        }
        body.push_str("</section>");
    }
    if !ctx.skipped_models.is_empty() {
        body.push_str("<section><h2>Not trained</h2><ul>");
        for (model, reason) in ctx.skipped_models {
            let _ = write!(body, "<li><b>{}</b>: {}</li>", escape(model), escape(reason));
        }
        body.push_str("</ul></section>");
    }
    body
}

/// A model's backtest: each candidate on the validation and test periods, what serves marked.
fn backtest_table(backtest: &crate::served::Backtest) -> String {
    let scope = if backtest.scope.is_empty() {
        String::new()
    } else {
        format!(" — {}", escape(&backtest.scope))
    };
    let mut out = format!(
        "<h3>Backtest{scope}: {} ({})</h3><table><tr><th>candidate</th><th class=\"n\">validation</th><th class=\"n\">test</th><th></th></tr>",
        escape(&backtest.metric),
        match backtest.better {
            Better::Lower => "lower is better",
            Better::Higher => "higher is better",
            Better::Neither => "",
        }
    );
    for c in &backtest.candidates {
        let served = c.name == backtest.served;
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{:.4}</td><td class=\"n\">{:.4}</td><td>{}</td></tr>",
            if served { format!("<b>{}</b>", escape(&c.name)) } else { escape(&c.name) },
            c.validation,
            c.test,
            if served {
                "served"
            } else if c.baseline {
                "baseline"
            } else {
                "model"
            }
        );
    }
    out.push_str("</table>");
    out
}

/// A dashboard page as a whole HTML document.
pub fn page(ctx: &Context<'_>, page: &Page) -> Result<String, QueryError> {
    let (title, body) = match page {
        Page::Overview => ("Overview".to_owned(), overview(ctx)),
        Page::Region(r) => (format!("{r} — region"), region(ctx, r)?),
        Page::Products(query) => ("Products".to_owned(), products(ctx, query)?),
        Page::BoughtTogether(sku) => {
            ("Bought together".to_owned(), bought_together(ctx, sku.as_deref())?)
        }
        Page::Customers => ("Customers".to_owned(), customers(ctx)),
        Page::Models => ("Models".to_owned(), models(ctx)),
    };
    Ok(document(&format!("shopml — {title}"), &format!("{}<main>{body}</main>", ctx.nav())))
}

/// The overview's charts, shared by the dashboard and the bundle's report.
pub mod charts {
    use super::super::{Dimension, Granularity, Insights, Metric, Period};
    use super::svg;
    use crate::money;

    /// Revenue by month (by week when the data spans under 200 days), dates on the axis.
    pub fn revenue_over_time(ins: &Insights, currency: &str) -> String {
        let granularity = if (ins.last_date - ins.first_date).num_days() > 200 {
            Granularity::Month
        } else {
            Granularity::Week
        };
        let points = ins
            .trend(Metric::Revenue, &Dimension::Total, granularity, &Period::default())
            .unwrap_or_default();
        let label = if granularity == Granularity::Month {
            "Revenue by month"
        } else {
            "Revenue by week (weeks start on Monday)"
        };
        svg::lines_marking_partial(
            label,
            &[("revenue".into(), points.iter().map(|p| (p.0, p.2)).collect())],
            &|start| ins.is_partial(granularity, start),
            &|v| money::format_compact(v, currency),
        )
    }

    /// The 15 regions with the most revenue.
    pub fn revenue_by_region(ins: &Insights, currency: &str) -> Option<String> {
        let regions = ins.regions();
        (!regions.is_empty()).then(|| {
            let top: Vec<(String, f64)> =
                regions.iter().take(15).map(|(r, t)| (r.clone(), t.revenue)).collect();
            svg::bars(
                &format!("Revenue by {} (largest 15)", ins.region_level.to_lowercase()),
                &top,
                &|v| money::format_compact(v, currency),
            )
        })
    }

    /// Each category's share of revenue, the smallest together as "other categories".
    pub fn category_shares(ins: &Insights, currency: &str) -> Option<String> {
        let categories = ins.categories();
        (!categories.is_empty()).then(|| {
            let mut shares: Vec<(String, f64)> =
                categories.iter().take(7).map(|(c, t)| (c.clone(), t.revenue)).collect();
            let rest: f64 = categories.iter().skip(7).map(|(_, t)| t.revenue).sum();
            if rest > 0.0 {
                shares.push(("other categories".into(), rest));
            }
            svg::donut("Share of revenue by category", &shares, &|v| {
                money::format_compact(v, currency)
            })
        })
    }

    /// Revenue of the 12 largest regions × the 6 largest categories.
    pub fn region_category_heatmap(ins: &Insights, currency: &str) -> Option<String> {
        let (regions, categories) = (ins.regions(), ins.categories());
        if regions.is_empty() || categories.is_empty() {
            return None;
        }
        let rows: Vec<String> = regions.iter().take(12).map(|r| r.0.clone()).collect();
        let columns: Vec<String> = categories.iter().take(6).map(|c| c.0.clone()).collect();
        let values: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| {
                columns
                    .iter()
                    .map(|c| ins.totals(Some(r), Some(c), &Period::default()).revenue)
                    .collect()
            })
            .collect();
        let labels: Vec<Vec<String>> = values
            .iter()
            .map(|row| row.iter().map(|v| money::format_compact(*v, currency)).collect())
            .collect();
        Some(svg::heatmap(
            &format!("Revenue by {} and category", ins.region_level.to_lowercase()),
            &rows,
            &columns,
            &values,
            &labels,
        ))
    }

    /// Revenue by weekday.
    pub fn weekdays(ins: &Insights, currency: &str) -> String {
        let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let days: Vec<(String, f64)> =
            ins.weekdays.iter().zip(names).map(|(t, n)| (n.to_owned(), t.revenue)).collect();
        svg::bars("Revenue by weekday", &days, &|v| money::format_compact(v, currency))
    }

    /// Revenue by hour of the order, when the export has times.
    pub fn hours(ins: &Insights, currency: &str) -> Option<String> {
        ins.capabilities.hours.then(|| {
            let hours: Vec<(String, f64)> = ins
                .hours
                .iter()
                .enumerate()
                .filter(|(_, t)| t.lines > 0.0)
                .map(|(h, t)| (format!("{h:02}:00"), t.revenue))
                .collect();
            svg::bars("Revenue by hour of the order", &hours, &|v| {
                money::format_compact(v, currency)
            })
        })
    }

    /// Revenue by calendar month over all years, when the data covers more than two.
    pub fn calendar_months(ins: &Insights, currency: &str) -> Option<String> {
        let months =
            ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let by_month: Vec<(String, f64)> = ins
            .calendar_months
            .iter()
            .zip(months)
            .filter(|(t, _)| t.lines > 0.0)
            .map(|(t, m)| (m.to_owned(), t.revenue))
            .collect();
        (by_month.len() > 2).then(|| {
            svg::bars("Revenue by calendar month (all years)", &by_month, &|v| {
                money::format_compact(v, currency)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        let cells = ["a,b", "say \"hi\"", "=HYPERLINK(\"x\")", "-3.5", "@x", "plain"];
        assert_eq!(
            csv_row(cells.map(String::from)),
            "\"a,b\",\"say \"\"hi\"\"\",\"'=HYPERLINK(\"\"x\"\")\",-3.5,'@x,plain\r\n"
        );
    }
}
