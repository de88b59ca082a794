//! The analysts' answers through the generated client and the dashboard over HTTP, on the
//! shipped bundle (the generated Amazon-like sample): figures that add up, rankings in order and
//! paged, trends, recommendations, and the errors a caller can act on.

use crate::common::*;
use shopml_server::proto;
use std::time::Duration;
use tonic::Code;

fn client(
    channel: &tonic::transport::Channel,
) -> proto::insights_service_client::InsightsServiceClient<tonic::transport::Channel> {
    proto::insights_service_client::InsightsServiceClient::new(channel.clone())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

#[tokio::test]
async fn the_overview_adds_up_and_names_its_currency() {
    let (_server, channel) = start_ready(&shipped_bundle()).await;
    let overview =
        client(&channel).get_overview(proto::GetOverviewRequest {}).await.unwrap().into_inner();
    assert_eq!(overview.currency, "INR");
    assert!(!overview.bundle_version.is_empty());
    let total = overview.total.unwrap();
    assert!(total.revenue > 0.0 && total.orders > 0.0);
    assert!(!total.has_profit, "the Amazon export has no cost");
    for groups in [&overview.regions, &overview.categories, &overview.months] {
        let sum: f64 = groups.iter().map(|g| g.totals.as_ref().unwrap().revenue).sum();
        assert!(close(sum, total.revenue), "{sum} vs {}", total.revenue);
        let shares: f64 = groups.iter().map(|g| g.revenue_share).sum();
        assert!((shares - 1.0).abs() < 1e-9);
    }
    assert!(overview.regions.windows(2).all(|w| {
        w[0].totals.as_ref().unwrap().revenue >= w[1].totals.as_ref().unwrap().revenue
    }));
    assert!(overview.months.windows(2).all(|w| w[0].name < w[1].name));
    assert_eq!(overview.months.first().unwrap().name, overview.first_date[..7]);
    assert!(!overview.recommendations.is_empty() && overview.recommendations.len() <= 10);
    for r in &overview.recommendations {
        assert!(!r.rule.is_empty() && !r.text.is_empty() && !r.figures.is_empty(), "{r:?}");
    }
    let caps = overview.capabilities.unwrap();
    assert!(caps.regions && caps.categories && caps.cancellations && !caps.profit);
}

#[tokio::test]
async fn a_region_profile_compares_its_categories_with_the_whole() {
    let (_server, channel) = start_ready(&shipped_bundle()).await;
    let mut insights = client(&channel);
    let overview = insights.get_overview(proto::GetOverviewRequest {}).await.unwrap().into_inner();
    let top = &overview.regions[0];
    let profile = insights
        .get_region_profile(proto::GetRegionProfileRequest { region: top.name.to_lowercase() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(profile.region, top.name, "matched case-insensitively, answered as spelt");
    assert!(close(profile.totals.unwrap().revenue, top.totals.as_ref().unwrap().revenue));
    let shares: f64 = profile.categories.iter().map(|c| c.region_share).sum();
    assert!((shares - 1.0).abs() < 1e-9);
    for c in &profile.categories {
        assert!(close(c.index, c.region_share / c.national_share), "{c:?}");
    }

    // A misspelt region: NOT_FOUND listing what was probably meant.
    let misspelt: String = top.name.chars().take(top.name.len() - 1).collect::<String>() + "x";
    let (status, message) = code(
        insights.get_region_profile(proto::GetRegionProfileRequest { region: misspelt }).await,
    );
    assert_eq!(status, Code::NotFound);
    assert!(message.contains(&top.name), "{message}");
    let (status, message) =
        code(insights.get_region_profile(proto::GetRegionProfileRequest::default()).await);
    assert_eq!(status, Code::InvalidArgument);
    assert!(message.starts_with("region"), "{message}");
}

#[tokio::test]
async fn products_rank_in_order_a_page_at_a_time() {
    let (_server, channel) = start_ready(&shipped_bundle()).await;
    let mut insights = client(&channel);
    let rank = |page_size: u32, page_token: String, ascending: bool| proto::RankProductsRequest {
        metric: proto::Metric::Units.into(),
        ascending,
        page_size,
        page_token,
        ..Default::default()
    };
    let whole = insights.rank_products(rank(20, String::new(), false)).await.unwrap().into_inner();
    assert_eq!(whole.products.len(), 20);
    assert!(whole.products.windows(2).all(|w| w[0].value >= w[1].value));
    assert!(whole.products.iter().all(|p| p.value == p.totals.as_ref().unwrap().units));
    let first = insights.rank_products(rank(10, String::new(), false)).await.unwrap().into_inner();
    let second =
        insights.rank_products(rank(10, first.next_page_token.clone(), false)).await.unwrap();
    let pages: Vec<String> = first
        .products
        .iter()
        .chain(&second.into_inner().products)
        .map(|p| p.product_id.clone())
        .collect();
    let at_once: Vec<String> = whole.products.iter().map(|p| p.product_id.clone()).collect();
    assert_eq!(pages, at_once, "two pages are the first twenty");
    assert_eq!(first.products[0].rank, 1);
    let lowest = insights.rank_products(rank(5, String::new(), true)).await.unwrap().into_inner();
    assert!(lowest.products.windows(2).all(|w| w[0].value <= w[1].value));
    assert_eq!(lowest.total_count, whole.total_count);

    // Within a region and a category, every product is of that category.
    let overview = insights.get_overview(proto::GetOverviewRequest {}).await.unwrap().into_inner();
    let category = overview.categories[0].name.clone();
    let within = insights
        .rank_products(proto::RankProductsRequest {
            region: overview.regions[0].name.clone(),
            category: category.to_uppercase(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!within.products.is_empty());
    assert!(within.products.iter().all(|p| p.category == category));
    assert!(within.products.windows(2).all(|w| w[0].value >= w[1].value), "by revenue");

    // What a caller can get wrong.
    let refused = |request: proto::RankProductsRequest| {
        let mut insights = insights.clone();
        async move { code(insights.rank_products(request).await) }
    };
    let (c, m) = refused(proto::RankProductsRequest {
        metric: proto::Metric::Profit.into(),
        ..Default::default()
    })
    .await;
    assert_eq!(c, Code::InvalidArgument, "no profit in this export: {m}");
    let (c, m) = refused(proto::RankProductsRequest {
        period: Some(proto::Period { from_month: "1999-01".into(), to_month: String::new() }),
        ..Default::default()
    })
    .await;
    assert_eq!(c, Code::InvalidArgument);
    assert!(m.starts_with("period.from_month") && m.contains("outside the data"), "{m}");
    let (c, _) = refused(proto::RankProductsRequest {
        category: "no such category".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(c, Code::NotFound);
    let (c, m) =
        refused(proto::RankProductsRequest { page_size: 5000, ..Default::default() }).await;
    assert_eq!(c, Code::InvalidArgument);
    assert!(m.starts_with("page_size"), "{m}");
}

#[tokio::test]
async fn trends_sum_to_the_totals_at_every_granularity() {
    let (_server, channel) = start_ready(&shipped_bundle()).await;
    let mut insights = client(&channel);
    let overview = insights.get_overview(proto::GetOverviewRequest {}).await.unwrap().into_inner();
    let total = overview.total.unwrap().revenue;
    for granularity in
        [proto::Granularity::Day, proto::Granularity::Week, proto::Granularity::Month]
    {
        let trend = insights
            .get_trend(proto::GetTrendRequest {
                granularity: granularity.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let sum: f64 = trend.points.iter().map(|p| p.value).sum();
        assert!(close(sum, total), "{granularity:?}: {sum} vs {total}");
        assert_eq!(trend.series, "total");
        assert!(trend.points.windows(2).all(|w| w[0].period_start < w[1].period_start));
        if granularity == proto::Granularity::Week {
            for p in &trend.points {
                let day = chrono::NaiveDate::parse_from_str(&p.period_start, "%Y-%m-%d").unwrap();
                assert_eq!(chrono::Datelike::weekday(&day), chrono::Weekday::Mon);
            }
        }
    }
    let region = &overview.regions[0];
    let months = insights
        .get_trend(proto::GetTrendRequest {
            region: region.name.clone(),
            metric: proto::Metric::Orders.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(months.series, format!("region:{}", region.name));
    let orders: f64 = months.points.iter().map(|p| p.value).sum();
    assert!(close(orders, region.totals.as_ref().unwrap().orders));
    let (c, m) = code(
        insights
            .get_trend(proto::GetTrendRequest {
                region: region.name.clone(),
                category: overview.categories[0].name.clone(),
                ..Default::default()
            })
            .await,
    );
    assert_eq!(c, Code::InvalidArgument, "{m}");
}

#[tokio::test]
async fn recommendations_can_be_asked_for_one_region() {
    let (_server, channel) = start_ready(&shipped_bundle()).await;
    let mut insights = client(&channel);
    let all = insights
        .list_recommendations(proto::ListRecommendationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(all.recommendations.windows(2).all(|w| w[0].weight >= w[1].weight));
    let region = all
        .recommendations
        .iter()
        .find(|r| !r.region.is_empty())
        .expect("a recommendation about a region")
        .region
        .clone();
    let here = insights
        .list_recommendations(proto::ListRecommendationsRequest { region: region.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(!here.recommendations.is_empty());
    assert!(here.recommendations.iter().all(|r| r.region == region));
}

/// The dashboard's pages of the shipped bundle.
fn dashboard_pages(region: &str) -> Vec<String> {
    vec![
        "/dashboard".into(),
        format!("/dashboard/regions/{}", region.replace(' ', "%20")),
        "/dashboard/products?metric=cancellation_rate".into(),
        format!(
            "/dashboard/products?metric=units&region={}&from=2022-05&to=2022-05&compare=previous",
            region.replace(' ', "%20")
        ),
        "/dashboard/customers".into(),
        "/dashboard/bought-together".into(),
        "/dashboard/models".into(),
    ]
}

/// The charts of a page without a mark (an empty chart).
fn empty_charts(html: &str) -> Vec<String> {
    html.split("<svg")
        .skip(1)
        .filter(|chart| chart.contains("class=\"chart\""))
        .map(|chart| chart.split("</svg>").next().unwrap_or(""))
        .filter(|chart| !chart.contains("class=\"mark\""))
        .map(|chart| chart.chars().take(200).collect())
        .collect()
}

#[tokio::test]
async fn the_dashboard_serves_every_page_and_names_what_is_not_there() {
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let overview =
        client(&channel).get_overview(proto::GetOverviewRequest {}).await.unwrap().into_inner();
    let http = server.metrics_addr.unwrap();
    for page in dashboard_pages(&overview.regions[0].name) {
        let (status, body) = http_get(http, &page).await;
        assert_eq!(status, 200, "{page}");
        assert!(body.starts_with("<!DOCTYPE html>") && body.contains("</html>"), "{page}");
        let fetched = ["src=\"http", "href=\"http", "url(http", "@import"];
        assert!(
            !fetched.iter().any(|f| body.contains(f)),
            "{page}: nothing fetched from elsewhere"
        );
        assert_eq!(empty_charts(&body), Vec::<String>::new(), "{page}");
    }
    let (status, body) = http_get(http, "/dashboard").await;
    assert_eq!(status, 200);
    assert!(body.contains(&overview.regions[0].name) && body.contains("₹"));
    // A letter left out, as a typo does.
    let name = &overview.regions[0].name;
    let misspelt = format!("/dashboard/regions/{}{}", &name[..2], &name[3..]).replace(' ', "%20");
    let (status, body) = http_get(http, &misspelt).await;
    assert_eq!(status, 404);
    assert!(body.contains("nearest"), "{body}");
    let (status, _) = http_get(http, "/dashboard/products?metric=joy").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_dashboard_asks_for_the_token_when_everything_needs_it() {
    let mut settings = settings(&shipped_bundle());
    settings.auth.admin_token = "s3cret-token".into();
    settings.auth.require_for_all = true;
    let (server, _channel) = start_with(settings).await;
    assert!(server.wait_ready(Duration::from_secs(20)).await);
    let http = server.metrics_addr.unwrap();
    let (status, body) = http_get(http, "/dashboard").await;
    assert_eq!(status, 401);
    assert!(!body.contains("revenue"), "nothing of the data without the token");
    let (status, body) =
        http_get_with(http, "/dashboard", &[("authorization", "Bearer s3cret-token")]).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = http_get_with(http, "/dashboard", &[("authorization", "Bearer wrong")]).await;
    assert_eq!(status, 401);
}

/// Renders every page in headless Chromium (Debian's `chromium`): no HTTP error, no console
/// error (the pages' content security policy refuses anything fetched from elsewhere, and
/// Chromium logs the refusal as one), and no chart without a mark in the DOM as rendered. Skipped
/// when Chromium is not installed, unless SHOPML_REQUIRE_CHROMIUM is set (CI sets it).
#[tokio::test]
async fn every_dashboard_page_renders_in_headless_chromium() {
    let browser = ["chromium", "chromium-browser", "google-chrome"].into_iter().find(|b| {
        std::process::Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success())
    });
    let Some(browser) = browser else {
        assert!(
            std::env::var_os("SHOPML_REQUIRE_CHROMIUM").is_none(),
            "SHOPML_REQUIRE_CHROMIUM is set but no chromium is installed"
        );
        eprintln!("chromium not installed: the browser test is skipped");
        return;
    };
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let overview =
        client(&channel).get_overview(proto::GetOverviewRequest {}).await.unwrap().into_inner();
    let http = server.metrics_addr.unwrap();
    let profile = tempfile::tempdir().unwrap();
    // The filtered view (a link: region, one month, against the month before) ranks as the RPC.
    let region = overview.regions[0].name.clone();
    let filtered = client(&channel)
        .rank_products(proto::RankProductsRequest {
            metric: proto::Metric::Units as i32,
            region: region.clone(),
            period: Some(proto::Period {
                from_month: "2022-05".into(),
                to_month: "2022-05".into(),
            }),
            page_size: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    for page in dashboard_pages(&region) {
        let url = format!("http://{http}{page}");
        // coreutils' timeout bounds a browser that hangs.
        let args: Vec<String> = [
            "60",
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            &format!("--user-data-dir={}", profile.path().display()),
            "--virtual-time-budget=2000",
            "--dump-dom",
            &url,
        ]
        .map(String::from)
        .into();
        let run = tokio::task::spawn_blocking(move || {
            std::process::Command::new("timeout").args(&args).output().expect("chromium runs")
        })
        .await
        .unwrap();
        let dom = String::from_utf8_lossy(&run.stdout);
        let log = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{page}: chromium failed: {log}");
        assert!(dom.contains("<main>"), "{page}: rendered: {}", &dom[..dom.len().min(500)]);
        let console_errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Refused to"))
            .collect();
        assert!(console_errors.is_empty(), "{page}: {console_errors:?}");
        assert!(dom.contains("class=\"chart\"") || page.ends_with("models"), "{page} has charts");
        assert_eq!(empty_charts(&dom), Vec::<String>::new(), "{page}");
        if page.contains("compare=previous") {
            let table = dom.split("id=\"ranking\"").nth(1).expect("the ranking table");
            let rows: Vec<&str> = table.split("<tr>").skip(2).take(5).collect();
            assert_eq!(rows.len(), filtered.products.len(), "{page}");
            for (row, expected) in rows.iter().zip(&filtered.products) {
                assert!(
                    row.contains(&expected.product_id),
                    "{page}: {row} is not {}",
                    expected.product_id
                );
            }
            assert!(dom.contains("Compared with 2022-04"), "{page}");
            assert!(dom.contains("<th class=\"n\">before</th>"), "{page}");
        }
    }
}

/// The cells of one CSV line (RFC 4180 quoting).
fn csv_cells(line: &str) -> Vec<String> {
    let (mut cells, mut cell, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(std::mem::take(&mut cell)),
            (c, _) => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

/// The products page's CSV: the RPC's ranking for the same filters, its figures unformatted,
/// and each product's figure over the months before.
#[tokio::test]
async fn the_products_csv_holds_the_ranking_s_figures_and_the_months_before() {
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let http = server.metrics_addr.unwrap();
    let mut insights = client(&channel);
    let overview = insights.get_overview(proto::GetOverviewRequest {}).await.unwrap().into_inner();
    let region = overview.regions[0].name.clone();
    let rank = |from: &str, to: &str| proto::RankProductsRequest {
        metric: proto::Metric::Revenue as i32,
        region: region.clone(),
        period: Some(proto::Period { from_month: from.into(), to_month: to.into() }),
        page_size: 1000,
        ..Default::default()
    };
    let now = insights.rank_products(rank("2022-05", "2022-06")).await.unwrap().into_inner();
    let before = insights.rank_products(rank("2022-03", "2022-04")).await.unwrap().into_inner();
    let path = format!(
        "/dashboard/products?metric=revenue&region={}&from=2022-05&to=2022-06&compare=previous&format=csv",
        region.replace(' ', "%20")
    );
    let (status, csv) = http_get(http, &path).await;
    assert_eq!(status, 200, "{csv}");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header[..7],
        [
            "rank",
            "product_id",
            "name",
            "category",
            "revenue_ranked",
            "revenue_before",
            "revenue_change"
        ]
    );
    let rows: Vec<Vec<String>> = lines.map(csv_cells).collect();
    assert_eq!(rows.len(), now.products.len().min(50));
    for (row, expected) in rows.iter().zip(&now.products) {
        assert_eq!(row[1], expected.product_id);
        assert_eq!(row[4].parse::<f64>().unwrap(), expected.value, "{}", row[1]);
        let then = before.products.iter().find(|p| p.product_id == row[1]);
        match then {
            Some(p) => {
                assert_eq!(row[5].parse::<f64>().unwrap(), p.value, "{}", row[1]);
                let change = (expected.value - p.value) / p.value.abs();
                assert!(close(row[6].parse::<f64>().unwrap(), change));
            }
            None => assert_eq!(row[5], "", "{} sold nothing before", row[1]),
        }
    }
    // The export's last month is cut by its last day: the page says so.
    let (_, page) = http_get(http, &path.replace("&format=csv", "")).await;
    assert!(page.contains("id=\"partial\"") && page.contains("2022-06"), "partial month marked");
    let (status, _) = http_get(http, "/dashboard/models?format=csv").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_analytic_tables_add_up_and_their_evidence_recomputes_from_the_daily_trend() {
    let (_server, channel) = start_ready(&shipped_bundle()).await;
    let mut insights = client(&channel);
    let overview = insights.get_overview(proto::GetOverviewRequest {}).await.unwrap().into_inner();
    let total = overview.total.unwrap();

    let patterns =
        insights.get_time_patterns(proto::GetTimePatternsRequest {}).await.unwrap().into_inner();
    assert_eq!(patterns.weekdays.len(), 7);
    let revenue = |t: &Option<proto::Totals>| t.as_ref().unwrap().revenue;
    let by_weekday: f64 = patterns.weekdays.iter().map(|w| revenue(&w.totals)).sum();
    assert!(close(by_weekday, total.revenue), "{by_weekday} vs {}", total.revenue);
    let by_month: f64 = patterns.months_of_year.iter().map(|m| revenue(&m.totals)).sum();
    assert!(close(by_month, total.revenue));
    assert!(patterns.months_of_year.iter().all(|m| (1..=12).contains(&m.period)));
    assert!(patterns.hours.is_empty(), "the Amazon-like export has no order times");
    // Each weekday's evidence, recomputed from the daily trend: its mean day against the mean
    // open day, over the open days only.
    let days = insights
        .get_trend(proto::GetTrendRequest {
            granularity: proto::Granularity::Day as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .points;
    let closed: Vec<u32> =
        patterns.weekdays.iter().filter(|w| w.closed).map(|w| w.weekday).collect();
    let open: Vec<(u32, f64)> = days
        .iter()
        .map(|p| {
            let day: chrono::NaiveDate = p.period_start.parse().unwrap();
            (
                chrono::Datelike::weekday(&day).num_days_from_monday(),
                p.totals.as_ref().unwrap().revenue,
            )
        })
        .filter(|(w, _)| !closed.contains(w))
        .collect();
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let all_days = mean(open.iter().map(|d| d.1).collect());
    for w in patterns.weekdays.iter().filter(|w| !w.closed) {
        let e = w.evidence.as_ref().expect("an open weekday has evidence");
        let its_days: Vec<f64> = open.iter().filter(|d| d.0 == w.weekday).map(|d| d.1).collect();
        assert_eq!(e.size, its_days.len() as f64, "{}", w.name);
        assert!(close(e.value, mean(its_days)), "{}: {}", w.name, e.value);
        assert!(close(e.compared_value, all_days));
        assert!(e.low < e.value && e.value < e.high && e.level == 0.9);
    }

    let promotions =
        insights.get_promotions(proto::GetPromotionsRequest {}).await.unwrap().into_inner();
    let lines = |t: &Option<proto::Totals>| t.as_ref().unwrap().lines;
    assert!(close(
        lines(&promotions.with_promotion) + lines(&promotions.without_promotion),
        total.lines
    ));
    let kept = promotions.kept_order_value.unwrap();
    assert!(kept.low <= kept.value && kept.value <= kept.high && kept.size > 0.0);

    let delivery = insights.get_delivery(proto::GetDeliveryRequest {}).await.unwrap().into_inner();
    let by_status: f64 = delivery.by_status.iter().map(|s| lines(&s.totals)).sum();
    assert!(close(by_status, total.lines), "{by_status} vs {}", total.lines);

    let demographics =
        insights.get_demographics(proto::GetDemographicsRequest {}).await.unwrap().into_inner();
    assert!(!demographics.attributes.is_empty());
    let customers =
        |a: &proto::DemographicAttribute| a.groups.iter().map(|g| g.customers).sum::<u64>();
    let first = customers(&demographics.attributes[0]);
    for attribute in &demographics.attributes {
        assert_eq!(
            customers(attribute),
            first,
            "{}: each customer in one group",
            attribute.attribute
        );
        for g in &attribute.groups {
            let e = g.amount_per_customer.as_ref().unwrap();
            assert_eq!(e.size.min(g.customers as f64), e.size);
            assert!(
                close(e.value * g.customers as f64, g.amount),
                "{}: {}",
                attribute.attribute,
                g.name
            );
        }
    }

    // Attribute rules, a page at a time: the pages are the whole list.
    let mut token = String::new();
    let mut rules = Vec::new();
    loop {
        let page = insights
            .list_attribute_rules(proto::ListAttributeRulesRequest {
                page_size: 3,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.rules.len() <= 3);
        rules.extend(page.rules);
        if page.next_page_token.is_empty() {
            assert_eq!(rules.len() as u64, page.total_count);
            break;
        }
        token = page.next_page_token;
    }
    for r in &rules {
        let e = r.evidence.as_ref().unwrap();
        assert!(close(e.value, r.confidence) && close(e.compared_value, r.confidence / r.lift));
    }
    let refused = insights
        .list_attribute_rules(proto::ListAttributeRulesRequest {
            page_size: 5000,
            ..Default::default()
        })
        .await;
    assert_eq!(code(refused).0, Code::InvalidArgument);
}

#[tokio::test]
async fn every_recommendation_carries_its_evidence() {
    let (_server, channel) = start_ready(&shipped_bundle()).await;
    let listed = client(&channel)
        .list_recommendations(proto::ListRecommendationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(!listed.recommendations.is_empty());
    for r in &listed.recommendations {
        let e = r.evidence.as_ref().expect("evidence");
        assert!(e.passes && e.size >= e.min_size, "{}", r.text);
        assert_eq!(r.figures["low"], e.low);
        assert_eq!(r.figures["size"], e.size);
        assert!(!e.population.is_empty() && !e.method.is_empty());
    }
}

/// The bought-together page: the strongest rules, and a SKU's rules as `BoughtTogether` gives
/// them, each with its orders and confidence.
#[tokio::test]
async fn the_bought_together_page_shows_a_sku_s_rules_as_the_rpc_gives_them() {
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let http = server.metrics_addr.unwrap();
    let (status, page) = http_get(http, "/dashboard/bought-together").await;
    assert_eq!(status, 200, "{page}");
    let link = page.split("bought-together?sku=").nth(1).expect("a rule links its SKU");
    let sku = shopml_core::insights::html::url_decode(link.split('"').next().unwrap());
    let rules = segments(&channel)
        .bought_together(proto::BoughtTogetherRequest { sku: sku.clone(), limit: 50 })
        .await
        .unwrap()
        .into_inner()
        .rules;
    assert!(!rules.is_empty(), "{sku} has rules");
    let (status, page) = http_get(
        http,
        &format!("/dashboard/bought-together?sku={}", link.split('"').next().unwrap()),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let table = page.split("id=\"rules\"").nth(1).expect("the rules table");
    let rows: Vec<&str> = table.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), rules.len());
    for (row, rule) in rows.iter().zip(&rules) {
        assert!(row.contains(&format!(">{}</a>", rule.consequent_sku)), "{row}");
        assert!(row.contains(&format!("<td class=\"n\">{}</td>", rule.orders)), "{row}");
    }
    let (status, _) = http_get(http, "/dashboard/bought-together?sku=NO-SUCH-SKU").await;
    assert_eq!(status, 404);
}
