//! `shopml.v1.SegmentService`: segments of products, customers and regions.

use crate::error::ShopError;
use crate::proto;
use crate::server::registry::ModelRegistry;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct SegmentApi {
    registry: Arc<ModelRegistry>,
}

impl SegmentApi {
    pub fn new(registry: Arc<ModelRegistry>) -> Self {
        Self { registry }
    }
}

#[tonic::async_trait]
impl proto::segment_service_server::SegmentService for SegmentApi {
    async fn lookup_segment(&self, _r: Request<proto::LookupSegmentRequest>) -> Result<Response<proto::LookupSegmentResponse>, Status> {
        let _ = &self.registry;
        Err(ShopError::ModelUnavailable("segments").into())
    }
    async fn assign_segment(&self, _r: Request<proto::AssignSegmentRequest>) -> Result<Response<proto::AssignSegmentResponse>, Status> {
        Err(ShopError::ModelUnavailable("segments").into())
    }
    async fn list_segments(&self, _r: Request<proto::ListSegmentsRequest>) -> Result<Response<proto::ListSegmentsResponse>, Status> {
        Err(ShopError::ModelUnavailable("segments").into())
    }
    async fn bought_together(&self, _r: Request<proto::BoughtTogetherRequest>) -> Result<Response<proto::BoughtTogetherResponse>, Status> {
        Err(ShopError::ModelUnavailable("segments").into())
    }
}
