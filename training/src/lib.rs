//! shopml-training: reads a retailer's exports with polars, cleans them, trains and evaluates
//! the models with Burn on the protocol of `../shared/EVALUATION.md`, and writes a bundle the
//! server loads. Model definitions and feature encoders come from the `shopml` library, so a
//! row is encoded here exactly as the server encodes a request.

pub mod cancellation;
pub mod config;
pub mod customer_value;
pub mod data;
pub mod error;
pub mod evaluate;
pub mod fit;
pub mod forecast;
pub mod gates;
pub mod generate;
pub mod insights;
pub mod metrics;
pub mod outcome_rates;
pub mod pipeline;
pub mod price;
pub mod progress;
pub mod reconcile;
pub mod remote;
pub mod report;
pub mod segments;
pub mod sentiment;
pub mod trainer;
pub mod warehouse;

/// The one list of trainers, in the order their stages run (the CPU backend has one random
/// generator per process, so the order is part of what makes a run reproducible) and their
/// sections appear in the report. A model's trainer lives beside its training code (its
/// settings, what it needs, its summary, its report sections, its files); adding a model is
/// its folder and its line here.
pub const TRAINERS: &[&dyn trainer::Trainer] = &[
    &cancellation::CancellationTrainer,
    &price::PriceTrainer,
    &forecast::ForecastTrainer,
    &sentiment::SentimentTrainer,
    &insights::InsightsTrainer,
    &segments::SegmentsTrainer,
    &customer_value::CustomerValueTrainer,
    &outcome_rates::OutcomeRateTrainer,
];
