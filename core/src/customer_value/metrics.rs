//! The customer-value models' figures in `metrics.json`.

use super::{PurchaseModel, PurchaseModelKind, SpendModel};
use crate::served::Figure;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Fitted parameters of a purchase model, with its fit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FittedPurchases {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    pub log_likelihood: f64,
    pub iterations: usize,
    pub converged: bool,
}

impl FittedPurchases {
    pub fn model(&self, kind: PurchaseModelKind) -> PurchaseModel {
        PurchaseModel { kind, r: self.r, alpha: self.alpha, a: self.a, b: self.b }
    }
}

/// Holdout figures of a forecast of repeat purchases.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HoldoutFigures {
    pub mae: f64,
    pub rmse: f64,
    pub predicted_total: f64,
    pub actual_total: f64,
    /// (predicted − actual) / actual.
    pub total_error: f64,
    pub correlation: f64,
}

/// The covariate model's test against the plain BG/NBD.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CovariateTest {
    /// What the covariates are (one-hot levels of the customer's first purchase).
    pub covariates: Vec<String>,
    pub log_likelihood: f64,
    /// 2 (LL with covariates − LL without), its degrees of freedom and χ² p-value.
    pub lr_statistic: f64,
    pub degrees_of_freedom: usize,
    pub p_value: f64,
    /// Coefficients on the purchase rate (higher: buys more often) and on dropout (a and b).
    pub rate_coefficients: Vec<f64>,
    pub dropout_coefficients: Vec<f64>,
    pub holdout: HoldoutFigures,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomerValueMetrics {
    pub customers: usize,
    pub calibration_end: NaiveDate,
    pub holdout_end: NaiveDate,
    pub holdout_weeks: f64,
    pub repeat_customers: usize,
    pub bg_nbd: FittedPurchases,
    pub mbg_nbd: FittedPurchases,
    pub gamma_gamma: Option<SpendModel>,
    pub bg_nbd_holdout: HoldoutFigures,
    pub mbg_nbd_holdout: HoldoutFigures,
    /// Calibration rate × holdout weeks.
    pub naive_holdout: HoldoutFigures,
    /// The served model, chosen by its MAE on the inner split of the calibration period.
    pub served: PurchaseModelKind,
    pub inner_split_end: NaiveDate,
    pub inner_mae_bg_nbd: f64,
    pub inner_mae_mbg_nbd: f64,
    /// The served model's holdout figures (of the model fitted on the calibration period).
    pub served_holdout: HoldoutFigures,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub covariates: Option<CovariateTest>,
    /// Seconds the BG/NBD fit took (the calibration period's customers).
    pub bg_nbd_fit_seconds: f64,
    /// The served model refitted on the whole export, and its customers' segments.
    pub served_parameters: PurchaseModel,
    pub segments: BTreeMap<String, SegmentFigures>,
}

/// A named segment's figures at the export's end.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SegmentFigures {
    pub customers: usize,
    pub mean_lifetime_value: f64,
    pub mean_p_alive: f64,
    pub total_amount: f64,
}

impl HoldoutFigures {
    fn figures(&self, at: &dyn Fn(&str) -> String) -> Vec<Figure> {
        vec![
            Figure::lower(at("mae"), self.mae),
            Figure::lower(at("rmse"), self.rmse),
            Figure::higher(at("correlation"), self.correlation),
            Figure::neither(at("total_error"), self.total_error),
        ]
    }
}

impl CustomerValueMetrics {
    /// The figures under `section`, with their direction.
    pub fn figures(&self, section: &str) -> Vec<Figure> {
        let mut figures =
            vec![Figure::neither(format!("{section}.customers"), self.customers as f64)];
        for (name, holdout) in [
            ("served_holdout", &self.served_holdout),
            ("bg_nbd_holdout", &self.bg_nbd_holdout),
            ("mbg_nbd_holdout", &self.mbg_nbd_holdout),
            ("naive_holdout", &self.naive_holdout),
        ] {
            let at = |key: &str| format!("{section}.{name}.{key}");
            figures.extend(holdout.figures(&at));
        }
        figures
    }
}
