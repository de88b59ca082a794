//! Segment lookups, assignment, listing and bought-together rules against the shipped bundle.

use crate::common::*;
use shopml_core::segments::SegmentKind;
use shopml_server::proto;
use tonic::Code;

#[tokio::test]
async fn segments_are_looked_up_assigned_and_listed() {
    let index = shopml_core::segments::load(&shipped_bundle()).unwrap();
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let mut client = segments(&channel);
    for (kind, proto_kind) in [
        (SegmentKind::Product, proto::SegmentKind::Product),
        (SegmentKind::Customer, proto::SegmentKind::Customer),
        (SegmentKind::Region, proto::SegmentKind::Region),
    ] {
        let set =
            index.set(kind).unwrap_or_else(|| panic!("the shipped bundle has {kind:?} segments"));
        let (id, member) = set.members.iter().next().unwrap();
        let found = client
            .lookup_segment(proto::LookupSegmentRequest { kind: proto_kind as i32, id: id.clone() })
            .await
            .unwrap()
            .into_inner();
        let segment = found.segment.unwrap();
        assert_eq!(segment.segment_id, member.segment);
        assert_eq!(
            found.member_figures.iter().map(|f| f.value).collect::<Vec<_>>(),
            member.figures
        );
        assert!(!segment.name.is_empty() && segment.description.starts_with(&segment.name));

        let listed = client
            .list_segments(proto::ListSegmentsRequest { kind: proto_kind as i32 })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.k as usize, set.k);
        assert_eq!(listed.segments.iter().map(|s| s.size).sum::<u64>() as usize, set.members.len());
        assert!(listed.segments.iter().all(|s| s.centroid.len() == set.features.len()));

        let (code, message) = code(
            client
                .lookup_segment(proto::LookupSegmentRequest {
                    kind: proto_kind as i32,
                    id: "no-such-id".into(),
                })
                .await,
        );
        assert_eq!(code, Code::NotFound, "{message}");
    }

    // Products carry their review sentiment summary.
    let products = index.set(SegmentKind::Product).unwrap();
    let (id, _) = products
        .members
        .iter()
        .find(|(_, m)| m.details.contains_key("review_negative_share"))
        .expect("scored products");
    let found = client
        .lookup_segment(proto::LookupSegmentRequest {
            kind: proto::SegmentKind::Product as i32,
            id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let share: f64 = found.member_details["review_negative_share"].parse().unwrap();
    assert!((0.0..=1.0).contains(&share));

    // Regions match any spelling of a state.
    let regions = index.set(SegmentKind::Region).unwrap();
    assert!(regions.members.contains_key("ODISHA"), "the sample ships orders to Odisha");
    for spelling in ["Orissa", "odisha", " ODISHA "] {
        let found = client
            .lookup_segment(proto::LookupSegmentRequest {
                kind: proto::SegmentKind::Region as i32,
                id: spelling.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(found.member_id, "ODISHA");
    }

    // A new profile lands in the segment whose centroid is nearest in training's scaling.
    let customers = index.set(SegmentKind::Customer).unwrap();
    let big =
        customers.segments.iter().max_by(|a, b| a.centroid[0].total_cmp(&b.centroid[0])).unwrap();
    let assigned = client
        .assign_segment(proto::AssignSegmentRequest {
            profile: Some(proto::assign_segment_request::Profile::Customer(
                proto::CustomerProfile {
                    total_amount: big.centroid[0],
                    orders: big.centroid[1],
                    lines: big.centroid[2],
                    distinct_categories: big.centroid[3],
                },
            )),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(assigned.segment.unwrap().segment_id, big.id);
    assert!(
        assigned.distance < 1.0,
        "a profile at the centroid's mean figures is close to it: {}",
        assigned.distance
    );
    let (code, message) = code(
        client
            .assign_segment(proto::AssignSegmentRequest {
                profile: Some(proto::assign_segment_request::Profile::Region(
                    proto::RegionProfile { cancellation_rate: 1.5, ..Default::default() },
                )),
            })
            .await,
    );
    assert_eq!(code, Code::InvalidArgument);
    assert!(message.starts_with("region.cancellation_rate"), "{message}");
    assert_eq!(
        code_of(client.assign_segment(proto::AssignSegmentRequest { profile: None }).await),
        Code::InvalidArgument
    );
    assert_eq!(
        code_of(client.list_segments(proto::ListSegmentsRequest { kind: 0 }).await),
        Code::InvalidArgument
    );
    server.shutdown().await.unwrap();
}

fn code_of<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> Code {
    code(result).0
}

#[tokio::test]
async fn bought_together_rules_are_ranked_by_lift() {
    let index = shopml_core::segments::load(&shipped_bundle()).unwrap();
    let (sku, rules) = index
        .bought_together
        .rules
        .iter()
        .max_by_key(|(_, r)| r.len())
        .expect("the sample has bundles bought together");
    let (server, channel) = start_ready(&shipped_bundle()).await;
    let mut client = segments(&channel);
    let answer = client
        .bought_together(proto::BoughtTogetherRequest { sku: sku.to_lowercase(), limit: 0 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.rules.len(), rules.len().min(10));
    assert!(answer.rules.windows(2).all(|w| w[0].lift >= w[1].lift));
    for rule in &answer.rules {
        assert_eq!(&rule.antecedent_sku, sku);
        assert!(
            rule.lift >= index.bought_together.min_lift
                && rule.confidence >= index.bought_together.min_confidence
        );
        assert!(rule.orders as usize >= index.bought_together.min_orders);
    }
    let one = client
        .bought_together(proto::BoughtTogetherRequest { sku: sku.clone(), limit: 1 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.rules.len(), 1);
    assert_eq!(
        code_of(
            client
                .bought_together(proto::BoughtTogetherRequest {
                    sku: "NO-SUCH-SKU".into(),
                    limit: 0
                })
                .await
        ),
        Code::NotFound
    );
    assert_eq!(
        code_of(
            client
                .bought_together(proto::BoughtTogetherRequest { sku: String::new(), limit: 0 })
                .await
        ),
        Code::InvalidArgument
    );
    server.shutdown().await.unwrap();
}

/// Every basket rule, a page at a time: the pages make the whole list, strongest first, each
/// rule as `BoughtTogether` gives it for its SKU, with its confidence's evidence.
#[tokio::test]
async fn basket_rules_page_through_every_rule_strongest_first() {
    let (_server, channel) = start_ready(&shipped_bundle()).await;
    let mut client = segments(&channel);
    let (mut token, mut rules) = (String::new(), Vec::new());
    loop {
        let page = client
            .list_basket_rules(proto::ListBasketRulesRequest { page_size: 7, page_token: token })
            .await
            .unwrap()
            .into_inner();
        assert!(page.rules.len() <= 7 && page.multi_line_orders > 0);
        rules.extend(page.rules);
        if page.next_page_token.is_empty() {
            assert_eq!(rules.len() as u64, page.total_count);
            break;
        }
        token = page.next_page_token;
    }
    assert!(!rules.is_empty());
    assert!(rules.windows(2).all(|w| w[0].lift >= w[1].lift));
    let first = &rules[0];
    let of_its_sku = client
        .bought_together(proto::BoughtTogetherRequest {
            sku: first.antecedent_sku.clone(),
            limit: 1000,
        })
        .await
        .unwrap()
        .into_inner()
        .rules;
    assert!(of_its_sku.contains(first), "{first:?}");
    for r in &rules {
        let e = r.evidence.as_ref().unwrap();
        assert_eq!(e.value, r.orders as f64 / e.size);
        assert!((e.value - r.confidence).abs() < 1e-2, "{r:?}");
        assert!((e.compared_value - r.confidence / r.lift).abs() < 1e-12);
    }
}
