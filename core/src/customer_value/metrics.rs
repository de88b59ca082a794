//! The customer-value models' figures in `metrics.json`.

use super::{ChurnRanking, PurchaseModel, PurchaseModelKind, SpendModel};
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
    /// Pareto/NBD (absent from bundles before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pareto_nbd: Option<FittedPurchases>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pareto_nbd_holdout: Option<HoldoutFigures>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inner_mae_pareto_nbd: Option<f64>,
    #[serde(default)]
    pub pareto_nbd_fit_seconds: f64,
    /// The churn risk validated as a classifier (absent where either outcome is missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub churn: Option<ChurnValidation>,
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

/// A ranking of customers by churn risk, as a classifier of "no purchase in the window".
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChurnCandidate {
    pub ranking: ChurnRanking,
    /// ROC-AUC on the inner split of the calibration period (what chooses).
    pub inner_roc_auc: f64,
    /// ROC-AUC and average precision on the holdout (what reports).
    pub holdout_roc_auc: f64,
    pub holdout_pr_auc: f64,
}

/// The served churn risk on the holdout: calibration customers at the calibration end,
/// "churned" when they make no purchase in the window after it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChurnValidation {
    pub window_weeks: f64,
    pub served: ChurnRanking,
    pub candidates: Vec<ChurnCandidate>,
    /// Whether the purchase model identifies dropout: its dropout parameter off its bound and
    /// its P(alive) ranking at least as good as recency on the inner split.
    pub dropout_identified: bool,
    /// Why not, in words (empty when identified).
    #[serde(default)]
    pub dropout_note: String,
    pub holdout_customers: usize,
    /// Share of them with no purchase in the window.
    pub holdout_churn_rate: f64,
    /// Mean served risk, and its Brier score, on the holdout.
    pub holdout_mean_risk: f64,
    pub holdout_brier: f64,
}

impl ChurnValidation {
    pub fn served_candidate(&self) -> Option<&ChurnCandidate> {
        self.candidates.iter().find(|c| c.ranking == self.served)
    }
}

/// A named segment's figures at the export's end.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SegmentFigures {
    pub customers: usize,
    pub mean_lifetime_value: f64,
    pub mean_p_alive: f64,
    #[serde(default)]
    pub mean_churn_risk: f64,
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
        // The fitted parameters, as metrics.json names them (gates pin them to the paper's).
        let fits = [("bg_nbd", Some(&self.bg_nbd)), ("mbg_nbd", Some(&self.mbg_nbd))];
        for (name, fit) in fits.into_iter().chain([("pareto_nbd", self.pareto_nbd.as_ref())]) {
            let Some(fit) = fit else { continue };
            for (key, value) in [("r", fit.r), ("alpha", fit.alpha), ("a", fit.a), ("b", fit.b)] {
                figures.push(Figure::neither(format!("{section}.{name}.{key}"), value));
            }
            figures.push(Figure::higher(
                format!("{section}.{name}.log_likelihood"),
                fit.log_likelihood,
            ));
        }
        if let Some(holdout) = &self.pareto_nbd_holdout {
            figures.extend(holdout.figures(&|key| format!("{section}.pareto_nbd_holdout.{key}")));
        }
        if let Some(churn) = &self.churn {
            if let Some(served) = churn.served_candidate() {
                figures.push(Figure::higher(
                    format!("{section}.churn.roc_auc"),
                    served.holdout_roc_auc,
                ));
                figures
                    .push(Figure::higher(format!("{section}.churn.pr_auc"), served.holdout_pr_auc));
            }
            if let Some(recency) =
                churn.candidates.iter().find(|c| c.ranking == ChurnRanking::Recency)
            {
                figures.push(Figure::higher(
                    format!("{section}.churn.recency_roc_auc"),
                    recency.holdout_roc_auc,
                ));
            }
            figures.push(Figure::lower(format!("{section}.churn.brier"), churn.holdout_brier));
        }
        figures
    }
}
