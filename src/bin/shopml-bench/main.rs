//! shopml-bench: a load generator for a running shopml-server. N concurrent callers call one
//! RPC for T seconds, after the same load on the empty RPC of the same server (the gRPC health
//! check), so the cost of the models shows as a ratio. Prints requests/s and latency
//! percentiles, and with `--server-pid` the server's CPU time per request (Linux), the cost
//! of a call without the load generator's own share of the cores.

mod catalogue;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use shopml_server::proto;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Server address.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    target: String,
    /// Concurrent callers.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// HTTP/2 connections the callers share (round robin).
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Seconds of load per RPC.
    #[arg(long, default_value_t = 10.0)]
    duration_secs: f64,
    /// RPCs to load, each after the empty RPC baseline.
    #[arg(long, value_delimiter = ',', default_value = "cancellation")]
    rpcs: Vec<Rpc>,
    /// Lines per order (cancellation) or products per call (price-batch).
    #[arg(long, default_value_t = 1)]
    items: usize,
    /// Ask for explanations (cancellation).
    #[arg(long)]
    explain: bool,
    /// The server's process id, to report its CPU time per request (read from /proc; Linux).
    #[arg(long)]
    server_pid: Option<u32>,
    /// A products export (`amazon_products.csv`, gzip or plain) whose rows the price RPCs send
    /// in turn; without it, variants of one example product.
    #[arg(long)]
    products: Option<PathBuf>,
    /// Instead of a load test: send each order of this file once (`shopml.v1.Order` in JSON,
    /// one a line, as `shopml-train orders` writes them) to PredictCancellation, with
    /// `--concurrency` callers, and exit non-zero if any call fails.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Instead of a load test: write the request bodies of the empty RPC, the checkout's
    /// order (`--items` lines, `--explain`) and a price request into this directory, as gRPC
    /// frames (`*.grpc`) and in the JSON mapping (`*.json`), for HTTP load tools (h2load).
    #[arg(long)]
    write_bodies: Option<PathBuf>,
}

/// Writes `name.grpc` (one uncompressed gRPC frame) and `name.json` of `message` into `dir`.
fn write_body<M: prost::Message + serde::Serialize>(
    dir: &std::path::Path,
    name: &str,
    message: &M,
) -> anyhow::Result<()> {
    let bytes = message.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    frame.extend_from_slice(&bytes);
    let path = dir.join(format!("{name}.grpc"));
    std::fs::write(&path, frame).with_context(|| format!("writing {}", path.display()))?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec(message)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// What each call sends.
#[derive(Clone)]
struct Requests {
    /// Lines per order (cancellation) or products per call (price-batch).
    items: usize,
    explain: bool,
    products: Arc<Vec<proto::Product>>,
}

impl Requests {
    /// The `i`-th product to price.
    fn product(&self, i: usize) -> proto::Product {
        self.products[i % self.products.len()].clone()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Rpc {
    /// grpc.health.v1.Health/Check: the empty RPC.
    Health,
    Cancellation,
    Price,
    PriceBatch,
    Sentiment,
    Forecast,
    Lookup,
}

struct Outcome {
    latencies_us: Vec<u64>,
    errors: usize,
    elapsed: Duration,
    /// The server's CPU time over the measured interval, when its pid was given.
    server_cpu: Option<Duration>,
}

/// CPU time (user + system, all threads) the process has used so far, from /proc/PID/stat.
fn process_cpu(pid: u32) -> anyhow::Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime
    // are fields 14 and 15, in USER_HZ ticks (100 a second on Linux).
    let after_name =
        stat.rsplit_once(')').map(|(_, rest)| rest).context("no command name in /proc stat")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields.get(i - 3).context("short /proc stat")?.parse().context("a tick count")
    };
    Ok(Duration::from_millis((ticks(14)? + ticks(15)?) * 10))
}

fn order(lines: usize, i: usize) -> proto::Order {
    shopml_server::examples::order(&format!("bench-{i}"), lines, i)
}

/// Variants of the example product, a name that differs per call.
fn example_products() -> Vec<proto::Product> {
    (0..1000)
        .map(|i| proto::Product {
            name: format!("boAt Wireless Earbuds {i} with Mic (Black)"),
            ..shopml_server::examples::product(&format!("P{i}"))
        })
        .collect()
}

async fn call(rpc: Rpc, channel: Channel, args: &Requests, i: usize) -> Result<(), tonic::Status> {
    match rpc {
        Rpc::Health => {
            tonic_health::pb::health_client::HealthClient::new(channel)
                .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
                .await?;
        }
        Rpc::Cancellation => {
            proto::prediction_service_client::PredictionServiceClient::new(channel)
                .predict_cancellation(proto::PredictCancellationRequest {
                    order: Some(order(args.items, i)),
                    skip_explanations: !args.explain,
                })
                .await?;
        }
        Rpc::Price => {
            proto::prediction_service_client::PredictionServiceClient::new(channel)
                .predict_price(proto::PredictPriceRequest { product: Some(args.product(i)) })
                .await?;
        }
        Rpc::PriceBatch => {
            proto::prediction_service_client::PredictionServiceClient::new(channel)
                .predict_price_batch(proto::PredictPriceBatchRequest {
                    products: (0..args.items).map(|k| args.product(i + k)).collect(),
                })
                .await?;
        }
        Rpc::Sentiment => {
            proto::prediction_service_client::PredictionServiceClient::new(channel)
                .analyze_sentiment(proto::AnalyzeSentimentRequest {
                    title: "Waste of money".into(),
                    text: "It stopped working after a week and the battery died quickly.".into(),
                })
                .await?;
        }
        Rpc::Forecast => {
            proto::prediction_service_client::PredictionServiceClient::new(channel)
                .forecast_demand(proto::ForecastDemandRequest {
                    horizon_days: 14,
                    ..Default::default()
                })
                .await?;
        }
        Rpc::Lookup => {
            proto::segment_service_client::SegmentServiceClient::new(channel)
                .lookup_segment(proto::LookupSegmentRequest {
                    kind: proto::SegmentKind::Region as i32,
                    id: "Maharashtra".into(),
                })
                .await?;
        }
    }
    Ok(())
}

async fn load(
    rpc: Rpc,
    channels: &[Channel],
    args: &Args,
    requests: &Requests,
) -> anyhow::Result<Outcome> {
    // A short warm-up, not measured.
    for i in 0..20 {
        let _ = call(rpc, channels[i % channels.len()].clone(), requests, i).await;
    }
    let cpu_before = args.server_pid.map(process_cpu).transpose()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.duration_secs);
    let mut tasks = Vec::new();
    for worker in 0..args.concurrency {
        let channel = channels[worker % channels.len()].clone();
        let requests = requests.clone();
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors, mut i) =
                (Vec::with_capacity(100_000), 0usize, worker * 1_000_000);
            while Instant::now() < deadline {
                let start = Instant::now();
                match call(rpc, channel.clone(), &requests, i).await {
                    Ok(()) => latencies.push(start.elapsed().as_micros() as u64),
                    Err(_) => errors += 1,
                }
                i += 1;
            }
            (latencies, errors)
        }));
    }
    let mut outcome =
        Outcome { latencies_us: Vec::new(), errors: 0, elapsed: Duration::ZERO, server_cpu: None };
    for task in tasks {
        let (latencies, errors) = task.await.expect("a caller task");
        outcome.latencies_us.extend(latencies);
        outcome.errors += errors;
    }
    outcome.elapsed = started.elapsed();
    if let (Some(pid), Some(before)) = (args.server_pid, cpu_before) {
        outcome.server_cpu = Some(process_cpu(pid)?.saturating_sub(before));
    }
    outcome.latencies_us.sort_unstable();
    Ok(outcome)
}

/// The server's CPU time per answered request, in µs.
/// Sends each order of `path` once; fails naming the first order that failed.
async fn replay(
    path: &std::path::Path,
    channels: &[Channel],
    concurrency: usize,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let orders: Vec<proto::Order> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| format!("{}, line {}", path.display(), i + 1))
        })
        .collect::<anyhow::Result<_>>()?;
    let orders = Arc::new(orders);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut callers = Vec::new();
    for c in 0..concurrency.max(1) {
        let (orders, next) = (orders.clone(), next.clone());
        let mut client = proto::prediction_service_client::PredictionServiceClient::new(
            channels[c % channels.len()].clone(),
        );
        callers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(order) = orders.get(i) else { return Ok::<_, anyhow::Error>(()) };
                let mut request = tonic::Request::new(proto::PredictCancellationRequest {
                    order: Some(order.clone()),
                    skip_explanations: true,
                });
                request.metadata_mut().insert(
                    "x-request-id",
                    format!("replay-{i}").parse().expect("an ASCII request id"),
                );
                client.predict_cancellation(request).await.with_context(|| {
                    format!("order {} (number {} of the file)", order.order_id, i + 1)
                })?;
            }
        }));
    }
    for caller in callers {
        caller.await??;
    }
    println!(
        "{} orders sent from {} in {:.1} s",
        orders.len(),
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn server_us_per_request(o: &Outcome) -> Option<f64> {
    o.server_cpu
        .filter(|_| !o.latencies_us.is_empty())
        .map(|cpu| cpu.as_secs_f64() * 1e6 / o.latencies_us.len() as f64)
}

impl Outcome {
    /// This run's cells of the load table, the ratios against the `empty` RPC's run.
    fn summary(&self, empty: Option<&Outcome>) -> String {
        let ratio =
            empty.map_or("1".to_owned(), |e| format!("{:.2}", throughput(self) / throughput(e)));
        let cpu = match (server_us_per_request(self), empty.and_then(server_us_per_request)) {
            (Some(us), Some(e)) => format!("{us:.1} µs ({:.2}×)", us / e),
            (Some(us), None) => format!("{us:.1} µs"),
            _ => "—".to_owned(),
        };
        format!(
            "{:.0} | {:.2} | {:.2} | {ratio} | {cpu}",
            throughput(self),
            percentile(&self.latencies_us, 0.5),
            percentile(&self.latencies_us, 0.99)
        )
    }
}

fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0
}

fn throughput(o: &Outcome) -> f64 {
    o.latencies_us.len() as f64 / o.elapsed.as_secs_f64()
}

fn row(name: &str, o: &Outcome) {
    println!(
        "{name:<24} {:>9} {:>7} {:>10.0} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
        o.latencies_us.len(),
        o.errors,
        throughput(o),
        percentile(&o.latencies_us, 0.5),
        percentile(&o.latencies_us, 0.9),
        percentile(&o.latencies_us, 0.99),
        percentile(&o.latencies_us, 1.0),
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let products = match &args.products {
        Some(path) => catalogue::products(path)?,
        None => example_products(),
    };
    let requests =
        Requests { items: args.items, explain: args.explain, products: Arc::new(products) };
    if let Some(dir) = &args.write_bodies {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let health = tonic_health::pb::HealthCheckRequest { service: String::new() };
        let bytes = prost::Message::encode_to_vec(&health);
        std::fs::write(
            dir.join("health.grpc"),
            [&[0, 0, 0, 0, bytes.len() as u8][..], &bytes].concat(),
        )?;
        let checkout = proto::PredictCancellationRequest {
            order: Some(order(args.items, 0)),
            skip_explanations: !args.explain,
        };
        write_body(dir, "cancellation", &checkout)?;
        write_body(
            dir,
            "price",
            &proto::PredictPriceRequest { product: Some(requests.product(0)) },
        )?;
        return Ok(());
    }
    let mut channels = Vec::new();
    for _ in 0..args.connections.max(1) {
        channels.push(
            Channel::from_shared(args.target.clone())?
                .connect()
                .await
                .with_context(|| format!("connecting to {}", args.target))?,
        );
    }
    if let Some(path) = &args.replay {
        return replay(path, &channels, args.concurrency).await;
    }
    println!(
        "{} callers over {} connections, {:.0} s per RPC, target {}",
        args.concurrency,
        channels.len(),
        args.duration_secs,
        args.target
    );
    println!(
        "{:<24} {:>9} {:>7} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "rpc", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    let empty = load(Rpc::Health, &channels, &args, &requests).await?;
    let mut table = vec![("health check (the empty RPC)".to_owned(), empty.summary(None))];
    row("health (empty RPC)", &empty);
    if let Some(us) = server_us_per_request(&empty) {
        println!("{:<24} server CPU {us:.1} µs a request", "");
    }
    for &rpc in &args.rpcs {
        if rpc == Rpc::Health {
            continue;
        }
        let outcome = load(rpc, &channels, &args, &requests).await?;
        table.push((format!("{rpc:?}"), outcome.summary(Some(&empty))));
        row(&format!("{rpc:?}").to_lowercase(), &outcome);
        println!(
            "{:<24} throughput {:.2}× the empty RPC's, p99 {:.2}× its",
            "",
            throughput(&outcome) / throughput(&empty),
            percentile(&outcome.latencies_us, 0.99) / percentile(&empty.latencies_us, 0.99)
        );
        if let (Some(us), Some(empty_us)) =
            (server_us_per_request(&outcome), server_us_per_request(&empty))
        {
            println!(
                "{:<24} server CPU {us:.1} µs a request, {:.2}× the empty RPC's",
                "",
                us / empty_us
            );
        }
    }
    println!(
        "\n| RPC | req/s | p50 ms | p99 ms | × the empty RPC's throughput | server CPU a request (× the empty RPC's) |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, summary) in table {
        println!("| {name} | {summary} |");
    }
    Ok(())
}
