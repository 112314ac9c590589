//! Phone numbers: E.164 checks for the REST API and Verify, and the parsing, national formats and line types of
//! Lookups v2 for the countries the stand-in knows (+1 NANP, +34 Spain, +44 United Kingdom, +49 Germany).

use serde_json::{Value, json};

/// Whether `number` is E.164: `+`, a non-zero digit, 7 to 14 more digits.
pub fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A country the stand-in can parse: calling code, ISO code, national significant number lengths.
struct Country {
    calling: &'static str,
    iso: &'static str,
    lengths: &'static [usize],
}

const COUNTRIES: &[Country] = &[
    Country {
        calling: "1",
        iso: "US",
        lengths: &[10],
    },
    Country {
        calling: "34",
        iso: "ES",
        lengths: &[9],
    },
    Country {
        calling: "44",
        iso: "GB",
        lengths: &[10],
    },
    Country {
        calling: "49",
        iso: "DE",
        // Area codes of 2 to 5 digits make German national numbers 7 to 11 digits long.
        lengths: &[7, 8, 9, 10, 11],
    },
];

/// Calling codes that exist but the stand-in does not model (numbers there are valid if 6 to 12 digits long).
const OTHER_CALLING_CODES: &[(&str, &str)] = &[
    ("33", "FR"),
    ("39", "IT"),
    ("31", "NL"),
    ("351", "PT"),
    ("52", "MX"),
    ("55", "BR"),
    ("61", "AU"),
    ("81", "JP"),
    ("91", "IN"),
];

/// Canadian area codes (a +1 number with one of them is `CA`, not `US`).
const CANADIAN_AREA_CODES: &[&str] = &[
    "204", "226", "236", "250", "289", "306", "403", "416", "438", "514", "519", "604", "613",
    "647", "705", "778", "780", "819", "902", "905",
];

/// The outcome of parsing a number for Lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// E.164 when the country is known, else the input.
    pub phone_number: String,
    /// `"1"`, `"34"`, … when known.
    pub calling_country_code: Option<String>,
    /// `"US"`, `"ES"`, … when known.
    pub country_code: Option<String>,
    /// The national significant number (digits after the calling code).
    pub national: String,
    /// Lookups' validation errors; empty when valid.
    pub errors: Vec<&'static str>,
}

impl Parsed {
    /// No validation errors.
    pub fn valid(&self) -> bool {
        self.errors.is_empty()
    }
}

fn invalid(input: &str, error: &'static str) -> Parsed {
    Parsed {
        phone_number: input.to_string(),
        calling_country_code: None,
        country_code: None,
        national: String::new(),
        errors: vec![error],
    }
}

/// Parses a number as Lookups v2 does: E.164 (`+…`), or national with `country` (ISO code; US when absent).
pub fn parse(input: &str, country: Option<&str>) -> Parsed {
    let trimmed = input.trim();
    let international = trimmed.starts_with('+');
    let digits: String = trimmed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.' | '+'))
        .collect();
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || trimmed.chars().skip(1).any(|c| c == '+')
    {
        return invalid(trimmed, "NOT_A_NUMBER");
    }
    let (calling, iso, national, lengths): (String, String, String, Option<&[usize]>) =
        if international {
            if let Some(known) = COUNTRIES.iter().find(|c| digits.starts_with(c.calling)) {
                (
                    known.calling.to_string(),
                    known.iso.to_string(),
                    digits[known.calling.len()..].to_string(),
                    Some(known.lengths),
                )
            } else if let Some((calling, iso)) = OTHER_CALLING_CODES
                .iter()
                .find(|(calling, _)| digits.starts_with(calling))
            {
                (
                    calling.to_string(),
                    iso.to_string(),
                    digits[calling.len()..].to_string(),
                    None,
                )
            } else {
                return invalid(trimmed, "INVALID_COUNTRY_CODE");
            }
        } else {
            let iso = country.unwrap_or("US").to_ascii_uppercase();
            let Some(known) = COUNTRIES
                .iter()
                .find(|c| c.iso == iso || (iso == "CA" && c.iso == "US"))
            else {
                return invalid(trimmed, "INVALID_COUNTRY_CODE");
            };
            // National prefixes: a trunk `0` (ES has none, GB and DE do), or `1` for NANP.
            let national = match known.calling {
                "1" => digits
                    .strip_prefix('1')
                    .filter(|rest| rest.len() == 10)
                    .unwrap_or(&digits),
                "34" => &digits[..],
                _ => digits.strip_prefix('0').unwrap_or(&digits),
            };
            (
                known.calling.to_string(),
                iso,
                national.to_string(),
                Some(known.lengths),
            )
        };
    let phone_number = format!("+{calling}{national}");
    let (min, max) = match lengths {
        Some(lengths) => (
            lengths.iter().copied().min().unwrap_or(0),
            lengths.iter().copied().max().unwrap_or(0),
        ),
        None => (6, 12),
    };
    let mut errors = Vec::new();
    if national.len() < min {
        errors.push("TOO_SHORT");
    } else if national.len() > max {
        errors.push("TOO_LONG");
    } else if calling == "1" && (national.starts_with('0') || national.starts_with('1')) {
        errors.push("INVALID_BUT_POSSIBLE");
    }
    let iso = if calling == "1" && CANADIAN_AREA_CODES.contains(&national.get(..3).unwrap_or("")) {
        "CA".to_string()
    } else {
        iso
    };
    Parsed {
        phone_number,
        calling_country_code: Some(calling),
        country_code: Some(iso),
        national,
        errors,
    }
}

/// The national format of a valid number: `(501) 712-2661`, `910 00 00 00`, `07400 123456`, `030 1234567`.
pub fn national_format(parsed: &Parsed) -> Option<String> {
    if !parsed.valid() {
        return None;
    }
    let n = parsed.national.as_str();
    Some(match parsed.calling_country_code.as_deref()? {
        "1" => format!("({}) {}-{}", &n[..3], &n[3..6], &n[6..]),
        "34" => format!("{} {} {} {}", &n[..3], &n[3..5], &n[5..7], &n[7..]),
        "44" if n.starts_with('2') => format!("0{} {} {}", &n[..2], &n[2..6], &n[6..]),
        "44" => format!("0{} {}", &n[..4], &n[4..]),
        "49" if n.starts_with('1') => format!("0{} {}", &n[..3], &n[3..]),
        "49" => format!("0{} {}", &n[..2], &n[2..]),
        _ => n.to_string(),
    })
}

/// How Twilio's `to_formatted`/`from_formatted` of a call show a number: national for NANP, else as given.
pub fn call_format(number: &str) -> String {
    if number.starts_with("+1") && is_e164(number) {
        let parsed = parse(number, None);
        if let Some(national) = national_format(&parsed) {
            return national;
        }
    }
    number.to_string()
}

/// The line type, carrier and network codes Lookups' `line_type_intelligence` reports (carriers are invented
/// but plausible).
pub fn line_type_intelligence(parsed: &Parsed) -> Value {
    let n = parsed.national.as_str();
    let (kind, carrier, mcc, mnc) = match parsed.calling_country_code.as_deref() {
        Some("1") if n.starts_with("500") => ("nonFixedVoip", "Twilio - Test", "", ""),
        Some("1") if parsed.country_code.as_deref() == Some("CA") => {
            ("mobile", "Rogers Wireless", "302", "720")
        }
        Some("1") => ("mobile", "Verizon Wireless", "310", "012"),
        Some("34") if n.starts_with('6') || n.starts_with('7') => {
            ("mobile", "Telefonica Moviles Espana", "214", "07")
        }
        Some("34") => ("landline", "Telefonica de Espana", "", ""),
        Some("44") if n.starts_with('7') => ("mobile", "Vodafone UK", "234", "15"),
        Some("44") => ("landline", "BT Group", "", ""),
        Some("49") if n.starts_with("15") || n.starts_with("16") || n.starts_with("17") => {
            ("mobile", "Telekom Deutschland GmbH", "262", "01")
        }
        Some("49") => ("landline", "Deutsche Telekom", "", ""),
        _ => ("mobile", "Unknown", "", ""),
    };
    let code = |value: &str| {
        if value.is_empty() {
            Value::Null
        } else {
            json!(value)
        }
    };
    json!({
        "carrier_name": carrier,
        "error_code": null,
        "mobile_country_code": code(mcc),
        "mobile_network_code": code(mnc),
        "type": kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_known_countries() {
        let us = parse("+15017122661", None);
        assert!(us.valid());
        assert_eq!(national_format(&us).as_deref(), Some("(501) 712-2661"));
        assert_eq!(us.country_code.as_deref(), Some("US"));
        let es = parse("910000000", Some("ES"));
        assert_eq!(es.phone_number, "+34910000000");
        assert_eq!(national_format(&es).as_deref(), Some("910 00 00 00"));
        assert_eq!(line_type_intelligence(&es)["type"], "landline");
        assert_eq!(
            line_type_intelligence(&parse("+34600000001", None))["type"],
            "mobile"
        );
        assert_eq!(parse("+3460000", None).errors, vec!["TOO_SHORT"]);
        assert_eq!(
            parse("+999123456", None).errors,
            vec!["INVALID_COUNTRY_CODE"]
        );
        assert_eq!(parse("hello", None).errors, vec!["NOT_A_NUMBER"]);
        assert!(parse("+447400123456", None).valid());
        assert!(parse("+4930123456", None).valid());
        assert_eq!(
            line_type_intelligence(&parse("+15005550006", None))["type"],
            "nonFixedVoip"
        );
        assert!(is_e164("+15558675310"));
        assert!(!is_e164("15558675310"));
        assert!(!is_e164("+1555"));
        assert_eq!(call_format("+15558675310"), "(555) 867-5310");
    }
}
