//! `shopml.v1.SegmentService`: segments of products, customers and regions, and
//! bought-together rules.

use super::{Served, reply};
use crate::convert::insights::proto_evidence;
use crate::convert::segment::{Kind, SegmentProfile, proto_kind};
use crate::convert::{next_page_token, page, required_id};
use crate::error::ShopError;
use crate::proto;
use crate::registry::ModelRegistry;
use shopml_core::features::echo;
use shopml_core::insights::tables::basket_rule_evidence;
use shopml_core::segments::{self, SegmentIndex, SegmentKind, SegmentSet};
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

    fn segments(&self) -> Result<Served<SegmentIndex>, ShopError> {
        Served::current(&self.registry, |m| m.segments.as_ref())
    }

    fn lookup(
        &self,
        request: proto::LookupSegmentRequest,
    ) -> Result<proto::LookupSegmentResponse, ShopError> {
        let Kind(kind) = Kind::try_from(request.kind)?;
        let id = required_id("id", &request.id)?;
        let served = self.segments()?;
        let set = set(served.model(), kind)?;
        let (member_id, member) = set
            .member(&id)
            .ok_or_else(|| ShopError::not_found("member", format!("{kind:?} '{}'", echo(&id))))?;
        Ok(proto::LookupSegmentResponse {
            segment: Some(segment(set, &set.segments[member.segment as usize])),
            member_id: member_id.to_owned(),
            member_figures: figures(set, &member.figures),
            member_details: member.details.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            bundle_version: served.version().to_owned(),
        })
    }

    fn assign(
        &self,
        request: proto::AssignSegmentRequest,
    ) -> Result<proto::AssignSegmentResponse, ShopError> {
        let profile = SegmentProfile::try_from(request)?;
        let served = self.segments()?;
        let set = set(served.model(), profile.kind)?;
        let figures = profile.figures_for(set)?;
        let (nearest, distance) = set.nearest(&set.standardize(&figures));
        Ok(proto::AssignSegmentResponse {
            segment: Some(segment(set, nearest)),
            distance,
            bundle_version: served.version().to_owned(),
        })
    }

    fn list(
        &self,
        request: proto::ListSegmentsRequest,
    ) -> Result<proto::ListSegmentsResponse, ShopError> {
        let Kind(kind) = Kind::try_from(request.kind)?;
        let served = self.segments()?;
        let set = set(served.model(), kind)?;
        Ok(proto::ListSegmentsResponse {
            segments: set.segments.iter().map(|s| segment(set, s)).collect(),
            k: set.k as u32,
            silhouette: set.silhouette,
            bundle_version: served.version().to_owned(),
        })
    }

    fn bought_together(
        &self,
        request: proto::BoughtTogetherRequest,
    ) -> Result<proto::BoughtTogetherResponse, ShopError> {
        let sku = required_id("sku", &request.sku)?;
        let served = self.segments()?;
        let rules =
            served.model().rules(&sku).ok_or_else(|| ShopError::not_found("SKU", echo(&sku)))?;
        let limit = if request.limit == 0 { DEFAULT_RULES } else { request.limit as usize };
        let min_orders = served.model().bought_together.min_orders as f64;
        Ok(proto::BoughtTogetherResponse {
            rules: rules.iter().take(limit).map(|r| association_rule(r, min_orders)).collect(),
            bundle_version: served.version().to_owned(),
        })
    }

    fn basket_rules(
        &self,
        request: proto::ListBasketRulesRequest,
    ) -> Result<proto::ListBasketRulesResponse, ShopError> {
        let (offset, size) = page(request.page_size, &request.page_token)?;
        let served = self.segments()?;
        let mined = &served.model().bought_together;
        let all = mined.strongest();
        let end = offset.saturating_add(size).min(all.len());
        let min_orders = mined.min_orders as f64;
        Ok(proto::ListBasketRulesResponse {
            rules: all[offset.min(end)..end]
                .iter()
                .map(|r| association_rule(r, min_orders))
                .collect(),
            total_count: all.len() as u64,
            multi_line_orders: mined.multi_line_orders as u64,
            next_page_token: next_page_token(end, all.len()),
            bundle_version: served.version().to_owned(),
        })
    }
}

fn association_rule(r: &segments::AssociationRule, min_orders: f64) -> proto::AssociationRule {
    proto::AssociationRule {
        antecedent_sku: r.antecedent.clone(),
        consequent_sku: r.consequent.clone(),
        support: r.support,
        confidence: r.confidence,
        lift: r.lift,
        orders: r.orders as u64,
        evidence: Some(proto_evidence(&basket_rule_evidence(r, min_orders))),
    }
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
        .map(|(f, &v)| proto::Figure {
            name: f.name.clone(),
            value: v,
            currency: f.currency.clone().unwrap_or_default(),
        })
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

#[tonic::async_trait]
impl proto::segment_service_server::SegmentService for SegmentApi {
    async fn lookup_segment(
        &self,
        request: Request<proto::LookupSegmentRequest>,
    ) -> Result<Response<proto::LookupSegmentResponse>, Status> {
        reply(self.lookup(request.into_inner()))
    }

    async fn assign_segment(
        &self,
        request: Request<proto::AssignSegmentRequest>,
    ) -> Result<Response<proto::AssignSegmentResponse>, Status> {
        reply(self.assign(request.into_inner()))
    }

    async fn list_segments(
        &self,
        request: Request<proto::ListSegmentsRequest>,
    ) -> Result<Response<proto::ListSegmentsResponse>, Status> {
        reply(self.list(request.into_inner()))
    }

    async fn bought_together(
        &self,
        request: Request<proto::BoughtTogetherRequest>,
    ) -> Result<Response<proto::BoughtTogetherResponse>, Status> {
        reply(self.bought_together(request.into_inner()))
    }

    async fn list_basket_rules(
        &self,
        request: Request<proto::ListBasketRulesRequest>,
    ) -> Result<Response<proto::ListBasketRulesResponse>, Status> {
        reply(self.basket_rules(request.into_inner()))
    }
}
