//! The one list of trainers. A model's trainer lives beside its training code (its settings,
//! what it needs, its summary, its report sections, its files); the pipeline only iterates
//! [`TRAINERS`]. Adding a model is its folder and one line here.

use crate::trainer::Trainer;

/// The trainers, in the order their stages run (the CPU backend has one random generator per
/// process, so the order is part of what makes a run reproducible) and their sections appear
/// in the report.
pub const TRAINERS: &[&dyn Trainer] = &[
    &crate::cancellation::CancellationTrainer,
    &crate::price::PriceTrainer,
    &crate::forecast::ForecastTrainer,
    &crate::sentiment::SentimentTrainer,
    &crate::insights::InsightsTrainer,
    &crate::segments::SegmentsTrainer,
    &crate::customer_value::CustomerValueTrainer,
];

/// The names of every model this build trains.
pub fn names() -> Vec<&'static str> {
    TRAINERS.iter().map(|t| t.name()).collect()
}
