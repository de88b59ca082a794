//! Money as a retailer's export states it: an ISO 4217 code beside every figure, and amounts
//! written the way readers of that currency expect (lakh and crore only for rupees).

/// Whether `code` looks like an ISO 4217 code ("USD", "GBP", "INR").
pub fn is_iso_code(code: &str) -> bool {
    code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase())
}

/// The usual symbol of a currency, or its code followed by a space.
pub fn symbol(code: &str) -> String {
    match code {
        "USD" => "$".into(),
        "CAD" => "CA$".into(),
        "AUD" => "A$".into(),
        "GBP" => "£".into(),
        "EUR" => "€".into(),
        "INR" => "₹".into(),
        "JPY" => "¥".into(),
        _ => format!("{code} "),
    }
}

/// Digits with a separator every three places ("1,234,567").
fn grouped(whole: u64) -> String {
    let digits = whole.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An amount in full, e.g. "$1,234.50", "-£12.00", "₹799.00".
pub fn format(amount: f64, code: &str) -> String {
    if !amount.is_finite() {
        return format!("{}{amount}", symbol(code));
    }
    let sign = if amount < 0.0 { "-" } else { "" };
    let cents = (amount.abs() * 100.0).round() as u64;
    format!("{sign}{}{}.{:02}", symbol(code), grouped(cents / 100), cents % 100)
}

/// An amount rounded to whole units, e.g. "$1,235".
pub fn format_whole(amount: f64, code: &str) -> String {
    if !amount.is_finite() {
        return format(amount, code);
    }
    let sign = if amount < 0.0 { "-" } else { "" };
    format!("{sign}{}{}", symbol(code), grouped(amount.abs().round() as u64))
}

/// A unit that keeps a set of large amounts readable: its divisor and name ("lakh" for rupees,
/// else thousands or millions), chosen from the largest amount shown.
pub fn scale_for(largest: f64, code: &str) -> (f64, &'static str) {
    let largest = largest.abs();
    if code == "INR" {
        if largest >= 1e7 {
            (1e7, "crore")
        } else if largest >= 1e5 {
            (1e5, "lakh")
        } else {
            (1.0, "")
        }
    } else if largest >= 1e7 {
        (1e6, "million")
    } else if largest >= 1e4 {
        (1e3, "thousand")
    } else {
        (1.0, "")
    }
}

/// An amount in a compact form: "$12.3k", "$4.5M", "₹3.2L", "₹1.1Cr", "£950".
pub fn format_compact(amount: f64, code: &str) -> String {
    let (divisor, unit) = scale_for(amount, code);
    let suffix = match unit {
        "crore" => "Cr",
        "lakh" => "L",
        "million" => "M",
        "thousand" => "k",
        _ => return format_whole(amount, code),
    };
    let sign = if amount < 0.0 { "-" } else { "" };
    format!("{sign}{}{:.1}{suffix}", symbol(code), amount.abs() / divisor)
}

/// The label of an axis or column of amounts divided by `divisor` from [`scale_for`]:
/// "USD thousand", "₹ lakh", "GBP".
pub fn unit_label(code: &str, unit: &str) -> String {
    match unit {
        "" => code.to_owned(),
        "lakh" | "crore" => format!("₹ {unit}"),
        _ => format!("{code} {unit}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_in_their_currency() {
        assert_eq!(format(1234.5, "USD"), "$1,234.50");
        assert_eq!(format(-12.0, "GBP"), "-£12.00");
        assert_eq!(format(799.0, "INR"), "₹799.00");
        assert_eq!(format(5.0, "CHF"), "CHF 5.00");
        assert_eq!(format_whole(1234567.4, "EUR"), "€1,234,567");
        assert_eq!(format_compact(3.2e5, "INR"), "₹3.2L");
        assert_eq!(format_compact(3.2e5, "USD"), "$320.0k");
        assert_eq!(format_compact(4.5e7, "GBP"), "£45.0M");
        assert_eq!(format_compact(950.0, "GBP"), "£950");
        assert_eq!(scale_for(2.0e6, "INR"), (1e5, "lakh"));
        assert_eq!(scale_for(2.0e6, "USD"), (1e3, "thousand"));
        assert_eq!(unit_label("USD", "thousand"), "USD thousand");
        assert_eq!(unit_label("INR", "lakh"), "₹ lakh");
        assert!(is_iso_code("GBP") && !is_iso_code("gbp") && !is_iso_code("POUND"));
    }
}
