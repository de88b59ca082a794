//! shopml-core: what training and serving share, so a row is encoded by the same code in both —
//! the feature encoders, the Burn models with their serving layouts, and the bundle format.
//! No gRPC, HTTP or async runtime here: the server and training crates sit on top of it.

#[macro_use]
pub mod models;
pub mod bundle;
pub mod cancellation;
pub mod charts;
pub mod customer_value;
pub mod drift;
pub mod features;
pub mod forecast;
pub mod insights;
pub mod money;
pub mod outcome_rates;
pub mod prediction_log;
pub mod price;
pub mod query;
pub mod segments;
pub mod sentiment;
pub mod served;
pub mod stats;

// The one list of models a bundle may hold (see `models.rs`): a model's folder above, and its
// line here.
models! {
    cancellation: cancellation::CancellationPredictor,
    price: price::PricePredictor,
    sentiment: sentiment::SentimentPredictor,
    forecast: forecast::Forecaster,
    segments: segments::SegmentIndex,
    customer_value: customer_value::CustomerValuePredictor,
    insights: insights::Insights,
    outcome_rates: outcome_rates::RateTable,
}
