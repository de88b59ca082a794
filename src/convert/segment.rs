//! `SegmentService`'s requests: segment kinds and the profiles to assign.

use crate::error::ShopError;
use crate::proto;
use shopml_core::features::echo;
use shopml_core::segments::SegmentKind;

// ---------------------------------------------------------------------------------------------
// Segments

/// A segment kind named in a request (`kind`).
pub struct Kind(pub SegmentKind);

impl TryFrom<i32> for Kind {
    type Error = ShopError;

    fn try_from(value: i32) -> Result<Self, ShopError> {
        match proto::SegmentKind::try_from(value) {
            Ok(proto::SegmentKind::Product) => Ok(Self(SegmentKind::Product)),
            Ok(proto::SegmentKind::Customer) => Ok(Self(SegmentKind::Customer)),
            Ok(proto::SegmentKind::Region) => Ok(Self(SegmentKind::Region)),
            _ => Err(ShopError::invalid(
                "kind",
                "one of SEGMENT_KIND_PRODUCT, SEGMENT_KIND_CUSTOMER, SEGMENT_KIND_REGION",
            )),
        }
    }
}

pub fn proto_kind(kind: SegmentKind) -> i32 {
    (match kind {
        SegmentKind::Product => proto::SegmentKind::Product,
        SegmentKind::Customer => proto::SegmentKind::Customer,
        SegmentKind::Region => proto::SegmentKind::Region,
    }) as i32
}

/// A profile to place among the segments: its kind and raw figures in the order of the
/// segment set's features, each finite and within its feature's domain.
pub struct SegmentProfile {
    pub kind: SegmentKind,
    /// The profile's figures by feature name, each checked for its range, with the request
    /// field that gave it.
    pub figures: Vec<(String, f64)>,
    /// The request's message name ("product", "customer", "region"), for errors.
    message: &'static str,
}

/// A figure finite and within `[min, max]`.
fn within_range(field: &str, value: f64, min: f64, max: f64) -> Result<f64, ShopError> {
    if value.is_finite() && value >= min && value <= max {
        Ok(value)
    } else {
        Err(ShopError::invalid(
            field,
            format!("must be a finite number in [{min}, {max}], got {value}"),
        ))
    }
}

/// The range of a segment figure, by its name: shares and rates are in 0–1, percentages in
/// 0–100, ratings in 0–5, everything else (amounts, counts) in 0–1e12 (beyond any export,
/// and its square, the distance, stays finite).
fn figure_range(name: &str) -> (f64, f64) {
    if name.ends_with("_share") || name.ends_with("_rate") {
        (0.0, 1.0)
    } else if name.ends_with("_pct") {
        (0.0, 100.0)
    } else if name == "rating" {
        (0.0, 5.0)
    } else {
        (0.0, 1e12)
    }
}

impl TryFrom<proto::AssignSegmentRequest> for SegmentProfile {
    type Error = ShopError;

    fn try_from(request: proto::AssignSegmentRequest) -> Result<Self, ShopError> {
        use proto::assign_segment_request::Profile;
        let named = |pairs: &[(&str, f64)]| -> Vec<(String, f64)> {
            pairs.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect()
        };
        let (kind, message, mut figures) = match request.profile {
            Some(Profile::Product(p)) => {
                if !(p.price > 0.0 && p.price <= 1e12) {
                    return Err(ShopError::invalid(
                        "product.price",
                        format!("must be a number in (0, 1e12], got {}", p.price),
                    ));
                }
                let figures = named(&[
                    ("price", p.price),
                    ("rating", p.rating),
                    ("rating_count", p.rating_count),
                    ("discount_pct", p.discount_pct),
                ]);
                (SegmentKind::Product, "product", figures)
            }
            Some(Profile::Customer(c)) => {
                let figures = named(&[
                    ("total_amount", c.total_amount),
                    ("orders", c.orders),
                    ("lines", c.lines),
                    ("distinct_categories", c.distinct_categories),
                ]);
                (SegmentKind::Customer, "customer", figures)
            }
            Some(Profile::Region(r)) => {
                let mut figures = named(&[
                    ("ordered_amount", r.ordered_amount),
                    ("lines", r.lines),
                    ("cancellation_rate", r.cancellation_rate),
                    ("average_order_value", r.average_order_value),
                    ("fulfilment_amazon_share", r.amazon_fulfilled_share),
                ]);
                for (name, value) in r.figures {
                    match figures.iter_mut().find(|(n, _)| *n == name) {
                        Some(slot) => slot.1 = value,
                        None => figures.push((name, value)),
                    }
                }
                (SegmentKind::Region, "region", figures)
            }
            None => {
                return Err(ShopError::invalid(
                    "profile",
                    "one of product, customer, region is required",
                ));
            }
        };
        for (name, value) in &mut figures {
            let (min, max) = figure_range(name);
            *value = within_range(&format!("{message}.{name}"), *value, min, max)?;
        }
        Ok(Self { kind, figures, message })
    }
}

impl SegmentProfile {
    /// The figures in the order of `set`'s features; a feature the profile lacks is an error
    /// naming it.
    pub fn figures_for(
        &self,
        set: &shopml_core::segments::SegmentSet,
    ) -> Result<Vec<f64>, ShopError> {
        set.features
            .iter()
            .map(|f| {
                self.figures.iter().find(|(n, _)| *n == f.name).map(|(_, v)| *v).ok_or_else(|| {
                    ShopError::invalid(
                        format!("{}.figures[\"{}\"]", self.message, echo(&f.name)),
                        "this bundle's segments need it",
                    )
                })
            })
            .collect()
    }
}
