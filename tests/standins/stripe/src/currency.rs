//! The currencies Stripe accepts, and which are zero-decimal (amounts in whole units).

use crate::error::ApiError;

/// Stripe's presentment currencies, in the order its error message lists them.
pub const SUPPORTED: &[&str] = &[
    "usd", "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd",
    "bdt", "bgn", "bhd", "bif", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad",
    "cdf", "chf", "clp", "cny", "cop", "crc", "cve", "czk", "djf", "dkk", "dop", "dzd", "egp",
    "etb", "eur", "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf", "gtq", "gyd", "hkd", "hnl",
    "htg", "huf", "idr", "ils", "inr", "isk", "jmd", "jod", "jpy", "kes", "kgs", "khr", "kmf",
    "krw", "kwd", "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd",
    "mmk", "mnt", "mop", "mur", "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok",
    "npr", "nzd", "omr", "pab", "pen", "pgk", "php", "pkr", "pln", "pyg", "qar", "ron", "rsd",
    "rub", "rwf", "sar", "sbd", "scr", "sek", "sgd", "shp", "sle", "sos", "srd", "std", "szl",
    "thb", "tjs", "tnd", "top", "try", "ttd", "twd", "tzs", "uah", "ugx", "uyu", "uzs", "vnd",
    "vuv", "wst", "xaf", "xcd", "xof", "xpf", "yer", "zar", "zmw",
];

/// Currencies whose amounts are whole units (¥100 is `100`).
pub const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// Checks a `currency` parameter and returns it lower-cased, or Stripe's "Invalid currency" error.
pub fn check(value: &str, param: &str) -> Result<String, ApiError> {
    let lower = value.to_ascii_lowercase();
    if SUPPORTED.contains(&lower.as_str()) {
        return Ok(lower);
    }
    Err(ApiError::invalid(
        format!(
            "Invalid currency: {lower}. Stripe currently supports these currencies: {}",
            SUPPORTED.join(", ")
        ),
        Some(param),
    ))
}

/// Whether amounts in `currency` have no minor unit.
pub fn is_zero_decimal(currency: &str) -> bool {
    ZERO_DECIMAL.contains(&currency)
}

/// The smallest charge Stripe allows, in the currency's smallest unit (50 cents for the two-decimal ones).
pub fn minimum_charge(currency: &str) -> i64 {
    match currency {
        "jpy" => 50,
        "krw" => 100,
        "huf" => 17500,
        "mxn" => 1000,
        "gbp" => 30,
        "hkd" => 400,
        "nok" | "sek" | "dkk" => 300,
        "czk" => 1500,
        "pln" => 200,
        "ron" => 200,
        "bgn" => 100,
        _ if is_zero_decimal(currency) => 1,
        _ => 50,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn known_currencies_pass_lower_cased_and_unknown_ones_name_the_list() {
        assert_eq!(check("EUR", "currency").unwrap(), "eur");
        let error = check("xyz", "currency").unwrap_err();
        assert!(error.message.starts_with(
            "Invalid currency: xyz. Stripe currently supports these currencies: usd, aed"
        ));
        assert_eq!(error.param.as_deref(), Some("currency"));
        assert!(is_zero_decimal("jpy") && !is_zero_decimal("eur"));
    }
}
