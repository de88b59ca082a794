//! The sentiment model's figures in `metrics.json`: per review and per product.

use crate::served::Figure;
use serde::{Deserialize, Serialize};

/// The protocol's figures (the negative class is the one of interest).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SentimentMetrics {
    pub macro_f1: f64,
    pub neg_f1: f64,
    pub roc_auc: f64,
    pub accuracy: f64,
    pub threshold: f64,
    pub test_rows: usize,
    pub test_negatives: usize,
    pub train_rows: usize,
    pub best_epochs: Vec<usize>,
    /// [[tn, fp], [fn, tp]] with "negative review" as the positive class.
    pub confusion: [[usize; 2]; 2],
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewMetrics {
    #[serde(flatten)]
    pub figures: SentimentMetrics,
    /// The same model scored on the review text alone (titles left out), as the baseline read.
    pub text_only_macro_f1: f64,
    pub text_only_neg_f1: f64,
    pub text_only_roc_auc: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductMetrics {
    /// The stacked classifier (product-text model and review-model evidence; see
    /// `stack_products`), or the product-text model alone when `product_folds` is below 2.
    #[serde(flatten)]
    pub figures: SentimentMetrics,
    /// The product-text model alone (trained on the product split, its own threshold).
    pub text_model_roc_auc: f64,
    pub text_model_macro_f1: f64,
    /// The served review model applied unchanged to the product texts (domain transfer).
    pub review_model_roc_auc: f64,
    pub review_model_macro_f1: f64,
    /// Stacker weights: product-text log-odds, mean review-model log-odds of the review
    /// titles, of the review contents, then the intercept. Empty without stacking.
    pub stacker_weights: Vec<f64>,
    /// ROC-AUC of the stack on the out-of-fold scores of the training products (the test
    /// products play no part in it).
    pub stacker_out_of_fold_roc_auc: Option<f64>,
    /// ROC-AUC of the product-text model alone on the same out-of-fold scores.
    pub text_model_out_of_fold_roc_auc: Option<f64>,
}

impl SentimentMetrics {
    fn figures(&self, at: &dyn Fn(&str) -> String) -> Vec<Figure> {
        vec![
            Figure::higher(at("macro_f1"), self.macro_f1),
            Figure::higher(at("neg_f1"), self.neg_f1),
            Figure::higher(at("roc_auc"), self.roc_auc),
            Figure::higher(at("accuracy"), self.accuracy),
            Figure::neither(at("test_rows"), self.test_rows as f64),
        ]
    }
}

impl ReviewMetrics {
    /// The figures under `section`, with their direction.
    pub fn figures(&self, section: &str) -> Vec<Figure> {
        let at = |key: &str| format!("{section}.{key}");
        let mut figures = self.figures.figures(&at);
        figures.extend([
            Figure::higher(at("text_only_macro_f1"), self.text_only_macro_f1),
            Figure::higher(at("text_only_neg_f1"), self.text_only_neg_f1),
            Figure::higher(at("text_only_roc_auc"), self.text_only_roc_auc),
        ]);
        figures
    }
}

impl ProductMetrics {
    /// The figures under `section`, with their direction.
    pub fn figures(&self, section: &str) -> Vec<Figure> {
        let at = |key: &str| format!("{section}.{key}");
        let mut figures = self.figures.figures(&at);
        figures.extend([
            Figure::higher(at("text_model_roc_auc"), self.text_model_roc_auc),
            Figure::higher(at("text_model_macro_f1"), self.text_model_macro_f1),
            Figure::higher(at("review_model_roc_auc"), self.review_model_roc_auc),
            Figure::higher(at("review_model_macro_f1"), self.review_model_macro_f1),
        ]);
        figures
    }
}
