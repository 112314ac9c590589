//! Money as Stripe counts it: integer amounts in a currency's minor unit (cents for EUR, whole
//! yen for JPY), three-letter ISO 4217 codes, and a human string for people ("€12.50").

use std::str::FromStr;

use mcp_common::ToolError;

use stripe_types::Currency;

/// Currencies whose amounts have no minor unit: 500 JPY is `amount: 500`.
const ZERO_DECIMAL: [&str; 16] = [
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// Currencies with three decimals: 1.234 KWD is `amount: 1234`.
const THREE_DECIMAL: [&str; 5] = ["bhd", "jod", "kwd", "omr", "tnd"];

/// A validated currency argument.
pub fn currency(code: &str) -> Result<Currency, String> {
    let lower = code.trim().to_ascii_lowercase();
    if lower.len() != 3 || !lower.chars().all(|c| c.is_ascii_lowercase()) {
        return Err("a three-letter ISO 4217 currency code such as eur, usd or jpy".into());
    }
    match Currency::from_str(&lower) {
        Ok(Currency::Unknown(_)) | Err(_) => Err(format!(
            "a currency Stripe supports (ISO 4217, such as eur, usd or jpy); `{lower}` is not one"
        )),
        Ok(currency) => Ok(currency),
    }
}

/// How many decimals `currency`'s amounts have.
pub fn decimals(currency: &str) -> u32 {
    let lower = currency.to_ascii_lowercase();
    if ZERO_DECIMAL.contains(&lower.as_str()) {
        0
    } else if THREE_DECIMAL.contains(&lower.as_str()) {
        3
    } else {
        2
    }
}

/// `amount` minor units of `currency` for a person: "€12.50", "$0.99", "¥500", "12.50 CHF",
/// "-€3.00".
pub fn display(amount: i64, currency: &str) -> String {
    let places = decimals(currency);
    let sign = if amount < 0 { "-" } else { "" };
    let magnitude = amount.unsigned_abs();
    let number = if places == 0 {
        magnitude.to_string()
    } else {
        let unit = 10u64.pow(places);
        format!(
            "{}.{:0width$}",
            magnitude / unit,
            magnitude % unit,
            width = places as usize
        )
    };
    let upper = currency.to_ascii_uppercase();
    let symbol = match upper.as_str() {
        "EUR" => Some("€"),
        "USD" => Some("$"),
        "GBP" => Some("£"),
        "JPY" => Some("¥"),
        "INR" => Some("₹"),
        "KRW" => Some("₩"),
        "BRL" => Some("R$"),
        _ => None,
    };
    match symbol {
        Some(symbol) => format!("{sign}{symbol}{number}"),
        None => format!("{sign}{number} {upper}"),
    }
}

/// Checks an amount argument: positive, and below Stripe's own ceiling (eight digits for most
/// currencies), so a slip of the decimal point is caught before anything is sent.
pub fn amount(field: &str, value: i64, currency: &str) -> Result<i64, ToolError> {
    const MAX: i64 = 99_999_999;
    if value <= 0 {
        return Err(ToolError::invalid(
            field,
            format!(
                "a positive whole number of the currency's smallest unit (for {}, {} is {})",
                currency.to_ascii_uppercase(),
                example_units(currency),
                display(example_units(currency), currency)
            ),
        ));
    }
    if value > MAX {
        return Err(ToolError::invalid(
            field,
            format!(
                "at most {MAX} (Stripe's limit); {value} would be {}",
                display(value, currency)
            ),
        ));
    }
    Ok(value)
}

fn example_units(currency: &str) -> i64 {
    match decimals(currency) {
        0 => 500,
        3 => 1250,
        _ => 1250,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_people_write_them() {
        // (amount, currency, shown)
        let cases = [
            (1250, "eur", "€12.50"),
            (99, "usd", "$0.99"),
            (500, "jpy", "¥500"),
            (1250, "chf", "12.50 CHF"),
            (1234, "kwd", "1.234 KWD"),
            (-300, "eur", "-€3.00"),
            (5, "gbp", "£0.05"),
            (1000, "krw", "₩1000"),
        ];
        for (amount, currency, shown) in cases {
            assert_eq!(display(amount, currency), shown, "{amount} {currency}");
        }
    }

    #[test]
    fn currencies_are_validated() {
        assert_eq!(currency("EUR"), Ok(Currency::EUR));
        assert_eq!(currency("jpy"), Ok(Currency::JPY));
        for bad in ["xyz", "euro", "€", "", "e1r"] {
            assert!(currency(bad).is_err(), "{bad}");
        }
        assert!(currency("xyz").unwrap_err().contains("`xyz` is not one"));
    }

    #[test]
    fn amounts_are_bounded() {
        assert_eq!(amount("amount", 1250, "eur"), Ok(1250));
        let error = amount("amount", 0, "jpy").unwrap_err().message();
        assert!(
            error.starts_with("invalid argument `amount`: expected"),
            "{error}"
        );
        assert!(error.contains("for JPY, 500 is ¥500"), "{error}");
        assert!(amount("amount", 100_000_000, "eur").is_err());
    }
}
