//! The analysts' insights, computed from the cleaned exports (`shopml_core::insights`):
//! totals by region × category × month and by day, products per region and month, patterns by
//! weekday, hour and calendar month, peak days (named when a known holiday is near), the effect
//! of promotions, delivery, demographics, rules on attributes, and recommendations from
//! explicit rules citing their figures.

use crate::data::Exports;
use crate::data::sales::{Outcome, SaleLine, Sales, SalesField};
use chrono::{Datelike, NaiveDate, Weekday};
use shopml_core::features::{FastMap, FastSet};
use shopml_core::insights::{
    AttributeRule, Capabilities, Cell, DailySeries, Delivery, GroupFigures, Insights, PeakDay,
    Product, ProductCell, PromotionEffect, Sample, Totals, month_of,
};
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash};

/// Products kept per export (by revenue): the rest add to totals but are not ranked.
const MAX_PRODUCTS: usize = 5000;

/// A line's contribution to totals (its order is counted separately).
fn line_totals(l: &SaleLine) -> Totals {
    let sold = l.outcome != Outcome::ReturnLine;
    Totals {
        revenue: l.revenue(),
        units: l.units(),
        orders: 0.0,
        lines: sold as u8 as f64,
        cancelled_lines: (l.outcome == Outcome::Cancelled) as u8 as f64,
        returned_lines: l.outcome.is_returned() as u8 as f64,
        profit: if l.outcome == Outcome::Cancelled { 0.0 } else { l.profit.unwrap_or(0.0) },
        revenue_sq: l.revenue().powi(2),
    }
}

/// Totals by key. An order counts once in all; a group holding part of an order's lines (a
/// category of a mixed basket) counts that share of it, so every grouping adds up to the
/// distinct orders.
struct Grouped<K> {
    totals: FastMap<K, Totals>,
}

impl<K: Hash + Eq> Grouped<K> {
    fn new() -> Self {
        Self { totals: FastMap::default() }
    }

    fn add(&mut self, key: K, line: &Totals, order_share: f64) {
        let totals = self.totals.entry(key).or_default();
        totals.add(line);
        totals.orders += order_share;
    }
}

/// Each line's share of its order: 1 / the order's lines (return lines are no order).
struct OrderShares(FastMap<u64, u32>);

impl OrderShares {
    fn of(sales: &Sales) -> Self {
        let mut lines: FastMap<u64, u32> = FastMap::default();
        for l in sales.lines.iter().filter(|l| l.outcome != Outcome::ReturnLine) {
            *lines.entry(order_hash(&l.order_id)).or_default() += 1;
        }
        Self(lines)
    }

    fn of_line(&self, line: &SaleLine) -> f64 {
        if line.outcome == Outcome::ReturnLine {
            return 0.0;
        }
        self.0.get(&order_hash(&line.order_id)).map_or(0.0, |&n| 1.0 / n as f64)
    }
}

fn order_hash(order: &str) -> u64 {
    foldhash::fast::FixedState::with_seed(7).hash_one(order)
}

/// Fixed or computed dates of well-known shopping holidays (a peak day within three days after
/// one is named after it).
fn holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let date = |m, d| NaiveDate::from_ymd_opt(year, m, d).expect("valid date");
    let nth = |m, weekday: Weekday, n| {
        NaiveDate::from_weekday_of_month_opt(year, m, weekday, n).expect("valid")
    };
    let thanksgiving = nth(11, Weekday::Thu, 4);
    let mut out = vec![
        (date(1, 1), "New Year"),
        (date(2, 14), "Valentine's Day"),
        (date(7, 4), "US Independence Day"),
        (date(8, 15), "India's Independence Day"),
        (thanksgiving, "Thanksgiving"),
        (thanksgiving + chrono::Duration::days(1), "Black Friday"),
        (thanksgiving + chrono::Duration::days(4), "Cyber Monday"),
        (date(12, 24), "Christmas Eve"),
        (date(12, 25), "Christmas"),
        (date(12, 26), "Boxing Day"),
    ];
    // Diwali moves with the lunar calendar.
    let diwali = [
        (2019, 10, 27),
        (2020, 11, 14),
        (2021, 11, 4),
        (2022, 10, 24),
        (2023, 11, 12),
        (2024, 11, 1),
        (2025, 10, 21),
        (2026, 11, 8),
    ];
    out.extend(
        diwali
            .iter()
            .filter(|d| d.0 == year)
            .map(|&(y, m, d)| (NaiveDate::from_ymd_opt(y, m, d).expect("valid"), "Diwali")),
    );
    out
}

/// The holiday on `day`, if it is one.
pub fn holiday_on(day: NaiveDate) -> Option<&'static str> {
    holidays(day.year()).into_iter().find(|(h, _)| *h == day).map(|(_, name)| name)
}

fn holiday_near(day: NaiveDate) -> Option<String> {
    holidays(day.year())
        .into_iter()
        .chain(holidays(day.year() - 1))
        .find(|(h, _)| (0..=3).contains(&(day - *h).num_days()))
        .map(|(h, name)| if h == day { name.to_owned() } else { format!("{name} ({h})") })
}

/// The insights of the exports, or `None` without order lines.
pub fn compute(exports: &Exports, currency: &str) -> Option<Insights> {
    let sales = exports.sales.as_ref()?;
    let (first, last) = (sales.first_date()?, sales.last_date()?);
    let region_level = sales.region_field().map_or("Region".to_owned(), |f| sales.region_name(f));
    let capabilities = Capabilities {
        regions: sales.region_field().is_some(),
        categories: sales.has(SalesField::Category),
        products: sales.has(SalesField::ProductId),
        profit: sales.has(SalesField::Profit) || sales.has(SalesField::Cost),
        cancellations: sales.lines.iter().any(|l| l.outcome == Outcome::Cancelled),
        returns: sales.lines.iter().any(|l| l.outcome.is_returned()),
        customers: sales.has(SalesField::CustomerId),
        hours: sales.lines.iter().any(|l| l.hour.is_some()),
        promotions: sales.has(SalesField::Promotion),
        delivery: sales.has(SalesField::DeliveryStatus)
            || sales.has(SalesField::ShipDate)
            || ship_mode_attribute(sales).is_some(),
        ship_dates: sales.has(SalesField::ShipDate),
        demographics: exports.customers.is_some(),
    };
    let days = (last - first).num_days() as usize + 1;
    let regions: Vec<String> = sales.lines.iter().map(|l| sales.region_key(l)).collect();
    // A product group that prefixes its product ids is a style of sized or coloured SKUs
    // (Amazon's SET114 of SET114-KR-NP-S): the product ranked. A coarser group (Superstore's
    // sub-category) is not.
    let styled = sales.lines.iter().filter(|l| !l.product_group.is_empty());
    let (with_group, prefixed) = styled.fold((0usize, 0usize), |(n, p), l| {
        (n + 1, p + l.product_id.starts_with(&*l.product_group) as usize)
    });
    let group_is_style = with_group > 0 && prefixed as f64 >= 0.9 * with_group as f64;
    let product_key = |l: &SaleLine| -> String {
        if group_is_style && !l.product_group.is_empty() {
            l.product_group.to_string()
        } else {
            l.product_id.to_string()
        }
    };

    let mut cells: Grouped<(String, String, String)> = Grouped::new();
    let mut products: Grouped<(String, String, String)> = Grouped::new();
    let mut daily: Grouped<(String, usize)> = Grouped::new();
    let mut total = Grouped::<()>::new();
    let mut weekdays: Grouped<u32> = Grouped::new();
    let mut hours: Grouped<u32> = Grouped::new();
    let mut months: Grouped<u32> = Grouped::new();
    let mut names: FastMap<String, (String, String)> = FastMap::default();
    let mut customers: FastSet<&str> = FastSet::default();
    let shares = OrderShares::of(sales);
    for (l, region) in sales.lines.iter().zip(&regions) {
        let t = line_totals(l);
        let order = shares.of_line(l);
        let month = month_of(l.date);
        cells.add((region.clone(), l.category.to_string(), month.clone()), &t, order);
        if capabilities.products {
            let key = product_key(l);
            names
                .entry(key.clone())
                .or_insert_with(|| (l.product_name.to_string(), l.category.to_string()));
            products.add((key, region.clone(), month), &t, order);
        }
        let day = (l.date - first).num_days() as usize;
        daily.add(("total".to_owned(), day), &t, order);
        if !region.is_empty() {
            daily.add((format!("region:{region}"), day), &t, order);
        }
        if !l.category.is_empty() {
            daily.add((format!("category:{}", l.category), day), &t, order);
        }
        total.add((), &t, order);
        weekdays.add(l.date.weekday().num_days_from_monday(), &t, order);
        if let Some(h) = l.hour {
            hours.add(h, &t, order);
        }
        months.add(l.date.month0(), &t, order);
        if !l.customer_id.is_empty() {
            customers.insert(&l.customer_id);
        }
    }
    let total = total.totals.get(&()).copied().unwrap_or_default();
    let mut cell_list: Vec<Cell> = cells
        .totals
        .into_iter()
        .map(|((region, category, month), totals)| Cell { region, category, month, totals })
        .collect();
    cell_list.sort_by(|a, b| {
        (&a.region, &a.category, &a.month).cmp(&(&b.region, &b.category, &b.month))
    });

    // Products: the largest by revenue, each with its cells.
    let mut by_product: BTreeMap<String, f64> = BTreeMap::new();
    for ((p, _, _), t) in &products.totals {
        *by_product.entry(p.clone()).or_default() += t.revenue;
    }
    let mut ranked: Vec<(String, f64)> = by_product.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(MAX_PRODUCTS);
    ranked.sort_by(|a, b| a.0.cmp(&b.0));
    let index: FastMap<&str, u32> =
        ranked.iter().enumerate().map(|(i, p)| (p.0.as_str(), i as u32)).collect();
    let product_list: Vec<Product> = ranked
        .iter()
        .map(|(id, _)| {
            let (name, category) = names.get(id).cloned().unwrap_or_default();
            Product { id: id.clone(), name, category }
        })
        .collect();
    let mut product_cells: Vec<ProductCell> = products
        .totals
        .iter()
        .filter_map(|((p, region, month), totals)| {
            index.get(p.as_str()).map(|&product| ProductCell {
                product,
                region: region.clone(),
                month: month.clone(),
                totals: *totals,
            })
        })
        .collect();
    product_cells
        .sort_by(|a, b| (a.product, &a.region, &a.month).cmp(&(b.product, &b.region, &b.month)));

    let mut series: BTreeMap<String, Vec<Totals>> = BTreeMap::new();
    for ((key, day), t) in daily.totals {
        series.entry(key).or_insert_with(|| vec![Totals::default(); days])[day] = t;
    }
    let total_days = series.get("total").map(Vec::as_slice).unwrap_or(&[]);
    let closed_weekdays = closed_weekdays(total_days, first);
    let peaks = peak_days(total_days, first, &closed_weekdays);
    let by = |g: &Grouped<u32>, n: u32| {
        (0..n).map(|k| g.totals.get(&k).copied().unwrap_or_default()).collect::<Vec<_>>()
    };

    let (demographics, demographic_conflicts) = demographics(exports);
    let mut insights = Insights {
        currency: currency.to_owned(),
        region_level,
        first_date: first,
        last_date: last,
        total,
        distinct_customers: customers.len(),
        cells: cell_list,
        products: product_list,
        product_cells,
        daily: DailySeries { first_date: first, series },
        weekdays: by(&weekdays, 7),
        hours: if capabilities.hours { by(&hours, 24) } else { Vec::new() },
        calendar_months: by(&months, 12),
        peaks,
        promotion: capabilities.promotions.then(|| promotion_effect(sales)),
        delivery: capabilities.delivery.then(|| delivery(sales)),
        demographics,
        demographic_conflicts,
        closed_weekdays,
        attribute_rules: attribute_rules(sales, &regions),
        recommendations: Vec::new(),
        capabilities,
    };
    insights.recommendations = super::recommend::recommendations(&insights);
    Some(insights)
}

/// Weekdays with no order line on at least 90% of their days in the export (and at least
/// four of them): the shop is closed then. Not every weekday can be closed.
fn closed_weekdays(days: &[Totals], first: NaiveDate) -> Vec<u32> {
    let mut counts = [(0usize, 0usize); 7];
    for (i, t) in days.iter().enumerate() {
        let weekday = (first + chrono::Duration::days(i as i64)).weekday().num_days_from_monday();
        let c = &mut counts[weekday as usize];
        c.0 += 1;
        c.1 += usize::from(t.lines + t.cancelled_lines == 0.0);
    }
    let closed: Vec<u32> = (0..7u32)
        .filter(|&w| {
            let (all, empty) = counts[w as usize];
            all >= 4 && empty as f64 >= 0.9 * all as f64
        })
        .collect();
    if closed.len() == 7 { Vec::new() } else { closed }
}

/// Days whose revenue is more than three standard deviations above the mean open day (at
/// most ten, largest first); closed days count in neither the mean nor the spread.
fn peak_days(days: &[Totals], first: NaiveDate, closed: &[u32]) -> Vec<PeakDay> {
    let date = |i: usize| first + chrono::Duration::days(i as i64);
    let is_open = |i: &usize| !closed.contains(&date(*i).weekday().num_days_from_monday());
    let open: Vec<f64> = (0..days.len()).filter(is_open).map(|i| days[i].revenue).collect();
    let n = open.len().max(1) as f64;
    let mean = open.iter().sum::<f64>() / n;
    let sd = (open.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    let mut peaks: Vec<PeakDay> = days
        .iter()
        .enumerate()
        .filter(|(i, d)| is_open(i) && sd > 0.0 && d.revenue > mean + 3.0 * sd)
        .map(|(i, d)| {
            let date = first + chrono::Duration::days(i as i64);
            PeakDay {
                date,
                revenue: d.revenue,
                ratio_to_mean: d.revenue / mean.max(1e-12),
                holiday: holiday_near(date),
            }
        })
        .collect();
    peaks.sort_by(|a, b| b.revenue.total_cmp(&a.revenue));
    peaks.truncate(10);
    peaks
}

fn promotion_effect(sales: &Sales) -> PromotionEffect {
    let mut with = Grouped::<bool>::new();
    let shares = OrderShares::of(sales);
    // The orders not cancelled (no line cancelled): their value, and whether a line carries a
    // promotion.
    let mut orders: FastMap<&str, (f64, bool, bool)> = FastMap::default();
    for l in &sales.lines {
        with.add(!l.promotion.is_empty(), &line_totals(l), shares.of_line(l));
        if l.outcome == Outcome::ReturnLine {
            continue;
        }
        let order = orders.entry(&l.order_id).or_default();
        order.0 += l.revenue();
        order.1 |= !l.promotion.is_empty();
        order.2 |= l.outcome == Outcome::Cancelled;
    }
    let kept = |promoted: bool| {
        let mut values: Vec<(&str, f64)> = orders
            .iter()
            .filter(|(_, o)| !o.2 && o.1 == promoted)
            .map(|(id, o)| (*id, o.0))
            .collect();
        // A fixed order, so that the sums are the same whatever the hash map's.
        values.sort_by(|a, b| a.0.cmp(b.0));
        Sample::of(values.into_iter().map(|v| v.1))
    };
    PromotionEffect {
        with_promotion: with.totals.get(&true).copied().unwrap_or_default(),
        without_promotion: with.totals.get(&false).copied().unwrap_or_default(),
        kept_orders_with: kept(true),
        kept_orders_without: kept(false),
    }
}

/// The attribute that says how an order ships, when the export has one.
fn ship_mode_attribute(sales: &Sales) -> Option<&str> {
    ["ship_mode", "ship_service_level"]
        .into_iter()
        .find(|name| sales.attributes.iter().any(|a| a.name == *name))
}

fn sorted_groups(grouped: Grouped<String>) -> Vec<(String, Totals)> {
    let mut out: Vec<(String, Totals)> = grouped.totals.into_iter().collect();
    out.sort_by(|a, b| b.1.lines.total_cmp(&a.1.lines).then(a.0.cmp(&b.0)));
    out
}

fn delivery(sales: &Sales) -> Delivery {
    let mode_of = ship_mode_attribute(sales);
    let mut by_status = Grouped::<String>::new();
    let mut by_mode = Grouped::<String>::new();
    let mut to_ship: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let shares = OrderShares::of(sales);
    for l in &sales.lines {
        let (t, order, is_order) =
            (line_totals(l), shares.of_line(l), l.outcome != Outcome::ReturnLine);
        if sales.has(SalesField::DeliveryStatus) {
            by_status.add(l.delivery_status.to_string(), &t, order);
        }
        let mode = mode_of.map(|m| sales.attribute(l, m).to_owned());
        if let Some(mode) = &mode {
            by_mode.add(mode.clone(), &t, order);
        }
        if let Some(shipped) = l.ship_date
            && is_order
        {
            let days = (shipped - l.date).num_days() as f64;
            to_ship.entry("all".into()).or_default().push(days);
            if let Some(mode) = mode {
                to_ship.entry(mode).or_default().push(days);
            }
        }
    }
    let days_to_ship_samples = to_ship
        .iter()
        .map(|(mode, days)| (mode.clone(), Sample::of(days.iter().copied())))
        .collect();
    let days_to_ship = to_ship
        .into_iter()
        .map(|(mode, mut days)| {
            days.sort_by(f64::total_cmp);
            let at = |q: f64| days[((days.len() - 1) as f64 * q).round() as usize];
            let mean = days.iter().sum::<f64>() / days.len() as f64;
            (mode, mean, at(0.5), at(0.9), days.len())
        })
        .collect();
    Delivery {
        by_status: sorted_groups(by_status),
        by_ship_mode: sorted_groups(by_mode),
        days_to_ship,
        days_to_ship_samples,
    }
}

/// Demographic groups of the customer file. A customer whose rows name several values of an
/// attribute (one id, two genders) is put in the value of most of their rows (the first in
/// alphabetical order on a tie) and counted among the attribute's conflicts; so each customer
/// is in exactly one group of each attribute and the groups add up to the customers.
type Demographics = (BTreeMap<String, Vec<(String, GroupFigures)>>, BTreeMap<String, usize>);

fn demographics(exports: &Exports) -> Demographics {
    let Some(customers) = &exports.customers else { return Default::default() };
    let attributes = crate::data::customers::DEMOGRAPHICS;
    // Each customer's orders and amount, over all their rows.
    let mut spent: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for p in &customers.purchases {
        let c = spent.entry(&p.user_id).or_default();
        c.0 += p.orders.unwrap_or(0.0);
        c.1 += p.amount.unwrap_or(0.0);
    }
    let (mut out, mut conflicts) = (BTreeMap::new(), BTreeMap::new());
    for (name, value) in attributes {
        let mut values: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
        for p in &customers.purchases {
            let key = shopml_core::features::normalize_key(value(p));
            let key = if key.is_empty() { "(none)".into() } else { key };
            *values.entry(&p.user_id).or_default().entry(key).or_default() += 1;
        }
        let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        let mut conflicting = 0;
        for (customer, counts) in &values {
            conflicting += usize::from(counts.len() > 1);
            let most = counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)));
            let group = most.map_or("(none)".to_owned(), |(v, _)| v.clone());
            groups.entry(group).or_default().push(customer);
        }
        let mut list: Vec<(String, GroupFigures)> = groups
            .into_iter()
            .map(|(group, members)| {
                let figures = members.iter().map(|c| spent[c]);
                let (orders, amount) =
                    figures.clone().fold((0.0, 0.0), |a, f| (a.0 + f.0, a.1 + f.1));
                let per_customer = Sample::of(figures.map(|f| f.1));
                let customers = members.len() as f64;
                (group, GroupFigures { customers, orders, amount, per_customer })
            })
            .collect();
        list.sort_by(|a, b| b.1.amount.total_cmp(&a.1.amount).then(a.0.cmp(&b.0)));
        out.insert(name.to_owned(), list);
        conflicts.insert(name.to_owned(), conflicting);
    }
    (out, conflicts)
}

/// Rules between line attributes — category, price band (thirds of the unit price) and region
/// (the largest ten) — and between the categories of one order: support at least 1%, lift at
/// least 1.2; the 20 strongest by lift × support.
fn attribute_rules(sales: &Sales, regions: &[String]) -> Vec<AttributeRule> {
    let mut prices: Vec<f64> =
        sales.lines.iter().filter_map(|l| l.unit_price.or(l.amount)).filter(|p| *p > 0.0).collect();
    prices.sort_by(f64::total_cmp);
    let band = |p: Option<f64>| -> Option<&'static str> {
        let p = p.filter(|p| *p > 0.0)?;
        let (low, high) = (prices[prices.len() / 3], prices[2 * prices.len() / 3]);
        Some(if p < low {
            "low"
        } else if p < high {
            "mid"
        } else {
            "high"
        })
    };
    let mut region_revenue: FastMap<&str, f64> = FastMap::default();
    for (l, r) in sales.lines.iter().zip(regions) {
        *region_revenue.entry(r.as_str()).or_default() += l.revenue();
    }
    let mut top: Vec<(&str, f64)> =
        region_revenue.into_iter().filter(|(r, _)| !r.is_empty()).collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let top: FastSet<&str> = top.into_iter().take(10).map(|r| r.0).collect();
    let mut singles: FastMap<String, usize> = FastMap::default();
    let mut pairs: FastMap<(String, String), usize> = FastMap::default();
    let mut n = 0usize;
    let count = |items: &[String],
                 singles: &mut FastMap<String, usize>,
                 pairs: &mut FastMap<(String, String), usize>| {
        for (i, a) in items.iter().enumerate() {
            *singles.entry(a.clone()).or_default() += 1;
            for b in items.iter().skip(i + 1) {
                *pairs.entry((a.clone(), b.clone())).or_default() += 1;
                *pairs.entry((b.clone(), a.clone())).or_default() += 1;
            }
        }
    };
    for (l, r) in sales.lines.iter().zip(regions).filter(|(l, _)| l.outcome != Outcome::ReturnLine)
    {
        let mut items = Vec::with_capacity(3);
        if !l.category.is_empty() {
            items.push(format!("category={}", l.category));
        }
        if let Some(b) = band(l.unit_price.or(l.amount)) {
            items.push(format!("price_band={b}"));
        }
        if top.contains(r.as_str()) {
            items.push(format!("region={r}"));
        }
        n += 1;
        count(&items, &mut singles, &mut pairs);
    }
    let mut rules = Vec::new();
    let mut push_rules = |pairs: &FastMap<(String, String), usize>,
                          singles: &FastMap<String, usize>,
                          n: usize,
                          scope: &str| {
        for ((a, b), &both) in pairs {
            let support = both as f64 / n.max(1) as f64;
            let confidence = both as f64 / singles[a] as f64;
            let lift = confidence / (singles[b] as f64 / n.max(1) as f64);
            // Rules on lines relate different attributes; rules on orders relate categories.
            let different = a.split('=').next() != b.split('=').next() || scope == "orders";
            if different && support >= 0.01 && lift >= 1.2 {
                rules.push(AttributeRule {
                    antecedent: format!("{scope}: {a}"),
                    consequent: b.clone(),
                    support,
                    confidence,
                    lift,
                    count: both,
                });
            }
        }
    };
    push_rules(&pairs, &singles, n, "lines");
    // Orders holding several categories.
    let mut orders: FastMap<&str, Vec<String>> = FastMap::default();
    for l in
        sales.lines.iter().filter(|l| l.outcome != Outcome::ReturnLine && !l.category.is_empty())
    {
        let items = orders.entry(&l.order_id).or_default();
        let item = format!("category={}", l.category);
        if !items.contains(&item) {
            items.push(item);
        }
    }
    let (mut order_singles, mut order_pairs) = (FastMap::default(), FastMap::default());
    let baskets: Vec<&Vec<String>> = orders.values().filter(|i| i.len() > 1).collect();
    for items in &baskets {
        count(items, &mut order_singles, &mut order_pairs);
    }
    push_rules(&order_pairs, &order_singles, baskets.len(), "orders");
    rules.sort_by(|a, b| {
        (b.lift * b.support)
            .total_cmp(&(a.lift * a.support))
            .then(a.antecedent.cmp(&b.antecedent))
            .then(a.consequent.cmp(&b.consequent))
    });
    rules.truncate(20);
    rules
}
