//! Normalisation of categorical values, written once: training keys its vocabularies and the
//! server looks requests up with the same functions.

/// Appends `value` lower-cased (as `char::to_lowercase` does), copying ASCII text in one go:
/// most requests are ASCII and the per-char path was a quarter of the encoding cost.
pub fn push_lowercase(out: &mut String, value: &str) {
    push_cased(out, value, str::make_ascii_lowercase, char::to_lowercase);
}

/// Appends `value` upper-cased (as `char::to_uppercase` does), ASCII in one go.
pub fn push_uppercase(out: &mut String, value: &str) {
    push_cased(out, value, str::make_ascii_uppercase, char::to_uppercase);
}

fn push_cased<I: Iterator<Item = char>>(
    out: &mut String,
    value: &str,
    ascii: fn(&mut str),
    per_char: fn(char) -> I,
) {
    if value.is_ascii() {
        let start = out.len();
        out.push_str(value);
        ascii(&mut out[start..]);
    } else {
        out.extend(value.chars().flat_map(per_char));
    }
}

/// Trims, collapses inner whitespace (non-breaking spaces included) and upper-cases a value, so
/// "  mumbai " and "MUMBAI" are one key.
pub fn normalize_key(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for word in value.split(|c: char| c.is_whitespace() || c == '\u{a0}').filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        push_uppercase(&mut out, word);
    }
    out
}

/// Postal codes arrive as "400081", " 400081 " or "400081.0" (a float column in the export).
pub fn normalize_postal_code(value: &str) -> String {
    let key = normalize_key(value);
    match key.strip_suffix(".0") {
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.to_owned()
        }
        _ => key,
    }
}

/// Spelling variants of Indian state names seen in the exports, mapped to one name.
const STATE_VARIANTS: &[(&str, &str)] = &[
    ("ORISSA", "ODISHA"),
    ("PONDICHERRY", "PUDUCHERRY"),
    ("NEW DELHI", "DELHI"),
    ("RAJSHTHAN", "RAJASTHAN"),
    ("RAJSTHAN", "RAJASTHAN"),
    ("RJ", "RAJASTHAN"),
    ("PB", "PUNJAB"),
    ("PUNJAB/MOHALI/ZIRAKPUR", "PUNJAB"),
    ("NL", "NAGALAND"),
    ("AR", "ARUNACHAL PRADESH"),
    ("JAMMU AND KASHMIR", "JAMMU & KASHMIR"),
    ("ANDAMAN AND NICOBAR", "ANDAMAN & NICOBAR"),
    ("ANDAMAN AND NICOBAR ISLANDS", "ANDAMAN & NICOBAR"),
    ("ANDAMAN & NICOBAR ISLANDS", "ANDAMAN & NICOBAR"),
    ("DADRA AND NAGAR HAVELI", "DADRA AND NAGAR"),
    ("DADRA & NAGAR HAVELI", "DADRA AND NAGAR"),
];

/// Normalises a state name: case, spaces (NBSP included) and known spelling variants, so
/// "Orissa", "odisha" and "ODISHA" are one region.
pub fn normalize_state(value: &str) -> String {
    let key = normalize_key(value);
    STATE_VARIANTS
        .iter()
        .find(|(variant, _)| *variant == key)
        .map(|(_, canonical)| (*canonical).to_owned())
        .unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_state_spellings() {
        for v in ["Orissa", "odisha", "ODISHA", " Odisha  "] {
            assert_eq!(normalize_state(v), "ODISHA");
        }
        assert_eq!(normalize_state("Andhra\u{a0}Pradesh"), "ANDHRA PRADESH");
        assert_eq!(normalize_state("RJ"), "RAJASTHAN");
        assert_eq!(normalize_state("Kerala"), "KERALA");
    }

    #[test]
    fn normalises_postal_codes_and_keys() {
        assert_eq!(normalize_postal_code("400081.0"), "400081");
        assert_eq!(normalize_postal_code(" 400081 "), "400081");
        assert_eq!(normalize_postal_code("ABC.0"), "ABC.0");
        assert_eq!(normalize_key("  navi   mumbai "), "NAVI MUMBAI");
    }

    #[test]
    fn case_helpers_agree_with_the_char_mappings() {
        for value in ["Mixed CASE 5.0", "ÄÖÜ straße", "बहुत अच्छा", "İstanbul ǅ", ""]
        {
            let mut lower = String::from("x");
            push_lowercase(&mut lower, value);
            assert_eq!(
                lower,
                format!("x{}", value.chars().flat_map(char::to_lowercase).collect::<String>())
            );
            let mut upper = String::new();
            push_uppercase(&mut upper, value);
            assert_eq!(upper, value.chars().flat_map(char::to_uppercase).collect::<String>());
        }
    }
}
