//! Example requests in the shapes the checkout and the pricing team send, shared by the load
//! benchmark (`shopml-bench`) and the integration tests, and a starting point for a client.

use crate::proto;

/// A Merchant-fulfilled order to Mumbai with `lines` lines of `Set` styles; `first_style`
/// rotates the SKUs among 40 styles so that successive orders differ.
pub fn order(order_id: &str, lines: usize, first_style: usize) -> proto::Order {
    proto::Order {
        order_id: order_id.into(),
        order_date: "2022-06-12".into(),
        fulfilment: "Merchant".into(),
        sales_channel: "Amazon.in".into(),
        ship_service_level: "Standard".into(),
        b2b: false,
        ship_city: "MUMBAI".into(),
        ship_state: "Maharashtra".into(),
        ship_postal_code: "400081".into(),
        lines: (0..lines)
            .map(|line| {
                let style = format!("SET{}", 100 + ((first_style + line) % 40) * 7);
                proto::OrderLine {
                    line_id: format!("line-{line}"),
                    sku: format!("{style}-M"),
                    style,
                    asin: "B0UNKNOWN1".into(),
                    category: "Set".into(),
                    size: "M".into(),
                    unit_price: Some(799.0),
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    }
}

/// A pair of wireless earbuds listed at ₹2,999.
pub fn product(product_id: &str) -> proto::Product {
    proto::Product {
        product_id: product_id.into(),
        name: "boAt Wireless Bluetooth Earbuds with Mic (Black)".into(),
        category_path: "Electronics|Headphones,Earbuds&Accessories|Headphones|In-Ear".into(),
        list_price: 2999.0,
        rating: Some(4.1),
        rating_count: Some(12_000),
        ..Default::default()
    }
}
