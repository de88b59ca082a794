//! Proto messages → typed domain requests, validated once: a value that passes `TryFrom` holds
//! its parsed fields, so handlers never parse again. Errors name the field as the client wrote
//! it (`order.lines[2].unit_price`); batches prefix the item (`orders[3].…`). One module per
//! service; what they share (sizes, batches, ids, currencies, pages) is here.

pub mod customer;
pub mod insights;
pub mod prediction;
pub mod segment;

use crate::config::LimitSettings;
use crate::error::{ShopError, within};
use shopml_core::features::echo;

/// A request item's size, checked against the configured limits before it is converted (so an
/// oversized item costs no more than its decoding).
pub trait Bounded {
    fn check_size(&self, limits: &LimitSettings) -> Result<(), ShopError>;
}

fn at_most(
    field: &str,
    what: &str,
    size: usize,
    max: usize,
    setting: &str,
) -> Result<(), ShopError> {
    if size > max {
        return Err(ShopError::invalid(
            field,
            format!("{size} {what}; at most {max} (limits.{setting})"),
        ));
    }
    Ok(())
}

/// One request item, its size checked, then converted.
pub fn bounded<P: Bounded, T>(item: P, limits: &LimitSettings) -> Result<T, ShopError>
where
    T: TryFrom<P, Error = ShopError>,
{
    item.check_size(limits)?;
    T::try_from(item)
}

/// Converts every item of a batch, after checking the batch's and each item's size (`field`
/// names the batch in errors, `field[i]` an item).
pub fn batch<P: Bounded, T>(
    field: &str,
    items: Vec<P>,
    limits: &LimitSettings,
) -> Result<Vec<T>, ShopError>
where
    T: TryFrom<P, Error = ShopError>,
{
    let max = limits.max_batch_size;
    if items.is_empty() {
        return Err(ShopError::invalid(field, "at least one item is required"));
    }
    if items.len() > max {
        return Err(ShopError::invalid(
            field,
            format!("{} items; at most {max} per call (limits.max_batch_size)", items.len()),
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| bounded(item, limits).map_err(|e| within(&format!("{field}[{i}]"), e)))
        .collect()
}

/// The longest id or name a request may carry (an export's ids and names are far shorter).
pub const MAX_ID_BYTES: usize = 1024;

/// A required, non-blank identifier, trimmed, of at most [`MAX_ID_BYTES`].
pub fn required_id(field: &str, value: &str) -> Result<String, ShopError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ShopError::invalid(field, "required"));
    }
    if trimmed.len() > MAX_ID_BYTES {
        return Err(ShopError::invalid(
            field,
            format!("{}: at most {MAX_ID_BYTES} bytes", echo(trimmed)),
        ));
    }
    Ok(trimmed.to_owned())
}

/// A request's currency: empty (the bundle's) or the bundle's ISO code.
pub fn same_currency(field: &str, requested: &str, bundle_currency: &str) -> Result<(), ShopError> {
    let requested = requested.trim();
    if requested.is_empty() || requested.eq_ignore_ascii_case(bundle_currency) {
        return Ok(());
    }
    Err(ShopError::invalid(
        field,
        format!(
            "{}: this bundle's prices are in {bundle_currency}; send amounts in {bundle_currency}",
            echo(requested)
        ),
    ))
}

/// Largest page of a customer list.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The page size of a paged list: 1 to `MAX_PAGE_SIZE`, 0 for 50.
fn page_size(requested: u32) -> Result<usize, ShopError> {
    match requested {
        0 => Ok(50),
        n if n <= MAX_PAGE_SIZE => Ok(n as usize),
        n => Err(ShopError::invalid(
            "page_size",
            format!("must be 1 to {MAX_PAGE_SIZE} (0: 50), got {n}"),
        )),
    }
}

/// The offset a page token stands for; empty is the first page.
fn page_offset(token: &str) -> Result<usize, ShopError> {
    match token.trim() {
        "" => Ok(0),
        token => token.strip_prefix("offset:").and_then(|n| n.parse().ok()).ok_or_else(|| {
            ShopError::invalid(
                "page_token",
                format!("{} is not a page token of this service", echo(token)),
            )
        }),
    }
}

/// The token of the page starting at `offset`.
pub fn page_token(offset: usize) -> String {
    format!("offset:{offset}")
}

/// A page's offset and size from a request's `page_token` and `page_size`.
pub fn page(size: u32, token: &str) -> Result<(usize, usize), ShopError> {
    Ok((page_offset(token)?, page_size(size)?))
}

/// The token of the page after one that ends at `next` of `total` items; empty after the last.
pub fn next_page_token(next: usize, total: usize) -> String {
    if next < total { page_token(next) } else { String::new() }
}
