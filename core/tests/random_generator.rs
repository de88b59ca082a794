//! What the training job's side-by-side fits rely on (see
//! `SentimentModelConfig::draws_random_numbers`): a sentiment net without a deep part is
//! initialised and run without drawing from Burn's random generator, and a deep net draws.
//!
//! Its own test binary: the CPU backend keeps one generator for the whole process, and the
//! library's unit tests seed and draw from it on other threads.

use burn::prelude::*;
use shopml_core::features::{float_matrix, index_matrix, to_f32_vec};
use shopml_core::sentiment::SentimentModelConfig;

#[test]
fn only_sentiment_nets_with_a_deep_part_draw_random_numbers() {
    let device = Device::flex();
    // The generator's next draw after `work`, from a fixed seed.
    let draw_after = |work: &dyn Fn()| {
        device.seed(11);
        work();
        to_f32_vec(Tensor::<1>::random([4], burn::tensor::Distribution::Default, &device))
    };
    let untouched = draw_after(&|| {});
    for hidden_dim in [0, 3] {
        let config = SentimentModelConfig::new(12)
            .with_embedding_dim(4)
            .with_hidden_dim(hidden_dim)
            .with_ensemble_size(2);
        // Parameters are initialised lazily: a forward pass makes them.
        let after = draw_after(&|| {
            config.init(&device).forward(
                index_matrix(vec![1, 2], 1, 2, &device),
                float_matrix(vec![0.5, 0.5], 1, 2, &device),
            );
        });
        assert_eq!(config.draws_random_numbers(), after != untouched, "hidden_dim {hidden_dim}");
    }
}
