//! `shopml.v1.SegmentService`: segments of products, customers and regions, and
//! bought-together rules.

use super::observed;
use crate::bundle::LoadedBundle;
use crate::error::ShopError;
use crate::proto;
use crate::segments::{self, SegmentIndex, SegmentKind, SegmentSet};
use crate::server::registry::ModelRegistry;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Rules returned when the request asks for none in particular.
const DEFAULT_RULES: usize = 10;

pub struct SegmentApi {
    registry: Arc<ModelRegistry>,
}

impl SegmentApi {
    pub fn new(registry: Arc<ModelRegistry>) -> Self {
        Self { registry }
    }

    /// The bundle serving, when it has segments.
    fn bundle(&self) -> Result<Arc<LoadedBundle>, ShopError> {
        let bundle = self.registry.current()?;
        if bundle.models.segments.is_none() {
            return Err(ShopError::ModelUnavailable("segments"));
        }
        Ok(bundle)
    }
}

fn index_of(bundle: &LoadedBundle) -> &SegmentIndex {
    bundle.models.segments.as_ref().expect("checked by SegmentApi::bundle")
}

fn kind(value: i32) -> Result<SegmentKind, ShopError> {
    match proto::SegmentKind::try_from(value) {
        Ok(proto::SegmentKind::Product) => Ok(SegmentKind::Product),
        Ok(proto::SegmentKind::Customer) => Ok(SegmentKind::Customer),
        Ok(proto::SegmentKind::Region) => Ok(SegmentKind::Region),
        _ => Err(ShopError::invalid(
            "kind",
            "one of SEGMENT_KIND_PRODUCT, SEGMENT_KIND_CUSTOMER, SEGMENT_KIND_REGION",
        )),
    }
}

fn proto_kind(kind: SegmentKind) -> i32 {
    (match kind {
        SegmentKind::Product => proto::SegmentKind::Product,
        SegmentKind::Customer => proto::SegmentKind::Customer,
        SegmentKind::Region => proto::SegmentKind::Region,
    }) as i32
}

fn set(index: &SegmentIndex, kind: SegmentKind) -> Result<&SegmentSet, ShopError> {
    index.set(kind).ok_or_else(|| {
        ShopError::not_found("segments of kind", format!("{kind:?} (the bundle's data had none)"))
    })
}

fn figures(set: &SegmentSet, values: &[f64]) -> Vec<proto::Figure> {
    set.features
        .iter()
        .zip(values)
        .map(|(f, &v)| proto::Figure { name: f.name.clone(), value: v })
        .collect()
}

fn segment(set: &SegmentSet, s: &segments::Segment) -> proto::Segment {
    proto::Segment {
        kind: proto_kind(set.kind),
        segment_id: s.id,
        name: s.name.clone(),
        description: s.description.clone(),
        size: s.size as u64,
        centroid: figures(set, &s.centroid),
        silhouette: s.silhouette,
        attributes: s
            .attributes
            .iter()
            .map(|a| proto::AttributeShare {
                attribute: a.attribute.clone(),
                value: a.value.clone(),
                share: a.share,
            })
            .collect(),
    }
}

/// Checks a profile's figures: finite, and within each feature's domain.
fn check(field: &str, value: f64, min: f64, max: f64) -> Result<f64, ShopError> {
    if value.is_finite() && value >= min && value <= max {
        Ok(value)
    } else {
        Err(ShopError::invalid(
            field,
            format!("must be a finite number in [{min}, {max}], got {value}"),
        ))
    }
}

fn profile(request: proto::AssignSegmentRequest) -> Result<(SegmentKind, Vec<f64>), ShopError> {
    use proto::assign_segment_request::Profile;
    let inf = f64::INFINITY;
    match request.profile {
        Some(Profile::Product(p)) => {
            if !(p.price_inr.is_finite() && p.price_inr > 0.0) {
                return Err(ShopError::invalid(
                    "product.price_inr",
                    format!("must be a finite number > 0, got {}", p.price_inr),
                ));
            }
            Ok((
                SegmentKind::Product,
                vec![
                    p.price_inr,
                    check("product.rating", p.rating, 0.0, 5.0)?,
                    check("product.rating_count", p.rating_count, 0.0, inf)?,
                    check("product.discount_pct", p.discount_pct, 0.0, 100.0)?,
                ],
            ))
        }
        Some(Profile::Customer(c)) => Ok((
            SegmentKind::Customer,
            vec![
                check("customer.total_amount_inr", c.total_amount_inr, 0.0, inf)?,
                check("customer.orders", c.orders, 0.0, inf)?,
                check("customer.lines", c.lines, 0.0, inf)?,
                check("customer.distinct_categories", c.distinct_categories, 0.0, inf)?,
            ],
        )),
        Some(Profile::Region(r)) => Ok((
            SegmentKind::Region,
            vec![
                check("region.revenue_inr", r.revenue_inr, 0.0, inf)?,
                check("region.lines", r.lines, 0.0, inf)?,
                check("region.cancellation_rate", r.cancellation_rate, 0.0, 1.0)?,
                check("region.average_order_value_inr", r.average_order_value_inr, 0.0, inf)?,
                check("region.amazon_fulfilled_share", r.amazon_fulfilled_share, 0.0, 1.0)?,
            ],
        )),
        None => Err(ShopError::invalid("profile", "one of product, customer, region is required")),
    }
}

#[tonic::async_trait]
impl proto::segment_service_server::SegmentService for SegmentApi {
    async fn lookup_segment(
        &self,
        request: Request<proto::LookupSegmentRequest>,
    ) -> Result<Response<proto::LookupSegmentResponse>, Status> {
        let metrics = self.registry.metrics().clone();
        observed(&metrics, "LookupSegment", None, async {
            let request = request.into_inner();
            let kind = kind(request.kind)?;
            if request.id.trim().is_empty() {
                return Err(ShopError::invalid("id", "required"));
            }
            let bundle = self.bundle()?;
            let set = set(index_of(&bundle), kind)?;
            let (member_id, member) = set.member(&request.id).ok_or_else(|| {
                ShopError::not_found("member", format!("{kind:?} '{}'", request.id.trim()))
            })?;
            let seg = &set.segments[member.segment as usize];
            Ok(proto::LookupSegmentResponse {
                segment: Some(segment(set, seg)),
                member_id: member_id.to_owned(),
                member_figures: figures(set, &member.figures),
                member_details: member
                    .details
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                bundle_version: bundle.version().to_owned(),
            })
        })
        .await
    }

    async fn assign_segment(
        &self,
        request: Request<proto::AssignSegmentRequest>,
    ) -> Result<Response<proto::AssignSegmentResponse>, Status> {
        let metrics = self.registry.metrics().clone();
        observed(&metrics, "AssignSegment", None, async {
            let (kind, raw) = profile(request.into_inner())?;
            let bundle = self.bundle()?;
            let set = set(index_of(&bundle), kind)?;
            let (nearest, distance) = set.nearest(&set.standardize(&raw));
            Ok(proto::AssignSegmentResponse {
                segment: Some(segment(set, nearest)),
                distance,
                bundle_version: bundle.version().to_owned(),
            })
        })
        .await
    }

    async fn list_segments(
        &self,
        request: Request<proto::ListSegmentsRequest>,
    ) -> Result<Response<proto::ListSegmentsResponse>, Status> {
        let metrics = self.registry.metrics().clone();
        observed(&metrics, "ListSegments", None, async {
            let kind = kind(request.into_inner().kind)?;
            let bundle = self.bundle()?;
            let set = set(index_of(&bundle), kind)?;
            Ok(proto::ListSegmentsResponse {
                segments: set.segments.iter().map(|s| segment(set, s)).collect(),
                k: set.k as u32,
                silhouette: set.silhouette,
                bundle_version: bundle.version().to_owned(),
            })
        })
        .await
    }

    async fn bought_together(
        &self,
        request: Request<proto::BoughtTogetherRequest>,
    ) -> Result<Response<proto::BoughtTogetherResponse>, Status> {
        let metrics = self.registry.metrics().clone();
        observed(&metrics, "BoughtTogether", None, async {
            let request = request.into_inner();
            if request.sku.trim().is_empty() {
                return Err(ShopError::invalid("sku", "required"));
            }
            let bundle = self.bundle()?;
            let rules = index_of(&bundle)
                .rules(&request.sku)
                .ok_or_else(|| ShopError::not_found("SKU", request.sku.trim()))?;
            let limit = if request.limit == 0 { DEFAULT_RULES } else { request.limit as usize };
            Ok(proto::BoughtTogetherResponse {
                rules: rules
                    .iter()
                    .take(limit)
                    .map(|r| proto::AssociationRule {
                        antecedent_sku: r.antecedent.clone(),
                        consequent_sku: r.consequent.clone(),
                        support: r.support,
                        confidence: r.confidence,
                        lift: r.lift,
                        orders: r.orders as u64,
                    })
                    .collect(),
                bundle_version: bundle.version().to_owned(),
            })
        })
        .await
    }
}
