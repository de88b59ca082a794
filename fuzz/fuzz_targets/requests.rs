//! Request bytes → validation → features → prediction, on the shipped bundle. Whatever the
//! bytes, nothing panics, and what is accepted gets finite answers in range.
//!
//! `cargo fuzz run requests` (see README "Fuzzing").
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use shopml_core::models::LoadedBundle;
use shopml_server::config::{LimitSettings, Settings};
use shopml_server::convert::prediction::{CheckoutOrder, PricedProduct, Review};
use shopml_server::proto;
use std::sync::OnceLock;

fn limits() -> &'static LimitSettings {
    static LIMITS: OnceLock<LimitSettings> = OnceLock::new();
    LIMITS.get_or_init(|| Settings::defaults().limits)
}

fn bundle() -> &'static LoadedBundle {
    static BUNDLE: OnceLock<LoadedBundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        LoadedBundle::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models"))
            .expect("the shipped bundle loads")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let models = &bundle().models;
    match selector % 3 {
        0 => {
            let Ok(request) = proto::PredictCancellationRequest::decode(bytes) else { return };
            if let Ok(order) = CheckoutOrder::try_from(request) {
                let predictor = models.cancellation.as_ref().unwrap();
                let lines = order.lines();
                let risk =
                    &predictor.predict(&[lines], 3, predictor.calibration().risk_thresholds)[0];
                assert!((0.0..=1.0).contains(&risk.probability));
                assert!(risk.lines.iter().all(|l| (0.0..=1.0).contains(&l.probability)
                    && l.reasons.iter().all(|r| r.logit_effect.is_finite())));
            }
        }
        1 => {
            let Ok(request) = proto::PredictPriceRequest::decode(bytes) else { return };
            if let Ok(product) = PricedProduct::required("product", request.product, limits()) {
                let p = &models.price.as_ref().unwrap().predict(&[product.input()])[0];
                assert!(
                    p.price_inr.is_finite()
                        && p.price_inr >= 0.0
                        && p.p10_inr <= p.price_inr * (1.0 + 1e-9)
                        && p.price_inr <= p.p90_inr * (1.0 + 1e-9)
                );
            }
        }
        _ => {
            let Ok(request) = proto::AnalyzeSentimentRequest::decode(bytes) else { return };
            if let Ok(review) = Review::try_from(request) {
                let r = &models.sentiment.as_ref().unwrap().analyze(
                    &[(&review.title, &review.text)],
                    400,
                    5,
                )[0];
                assert!((0.0..=1.0).contains(&r.negative_probability));
                assert!(r.stats.words_used <= r.stats.words_total);
            }
        }
    }
});
