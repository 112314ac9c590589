//! Phone numbers as Twilio takes them: E.164 (`+` and 8 to 15 digits, no leading zero), with
//! the `whatsapp:` channel prefix for WhatsApp, and the operator's allow-list of destinations.

use mcp_common::ToolError;

/// What a valid number looks like, for errors.
pub const E164_EXPECTED: &str = "a phone number in E.164 form: + and the country code and number, digits only, e.g. +14155552671 or +34612345678";

/// A number in E.164 form, e.g. `+14155552671`. Spaces, dots, dashes and brackets people type
/// are removed first; anything else is refused with `field` named.
pub fn e164(field: &str, raw: &str) -> Result<String, ToolError> {
    let cleaned: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')' | '\u{a0}'))
        .collect();
    let digits = cleaned.strip_prefix('+').unwrap_or("");
    let valid = (8..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    if valid {
        Ok(cleaned)
    } else {
        let found = if raw.trim().starts_with("whatsapp:") {
            " (a WhatsApp number without the whatsapp: prefix; this tool adds it)".to_owned()
        } else if !cleaned.starts_with('+') && cleaned.chars().all(|c| c.is_ascii_digit()) {
            " (the + and country code are missing)".to_owned()
        } else {
            String::new()
        };
        Err(ToolError::invalid(field, format!("{E164_EXPECTED}{found}")))
    }
}

/// The destinations the operator allows (`TWILIO_ALLOWED_DESTINATIONS`): exact numbers or
/// prefixes such as `+34` or `+1555`. Empty means every number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destinations {
    prefixes: Vec<String>,
}

impl Destinations {
    /// The allow-list from its entries, each an E.164 number or prefix (`+` and 1 to 15
    /// digits); a bad entry is returned as the error.
    pub fn parse(entries: &[String]) -> Result<Destinations, String> {
        let mut prefixes = Vec::with_capacity(entries.len());
        for entry in entries {
            let cleaned: String = entry.chars().filter(|c| !c.is_whitespace()).collect();
            let digits = cleaned.strip_prefix('+').unwrap_or("");
            if digits.is_empty() || digits.len() > 15 || !digits.chars().all(|c| c.is_ascii_digit())
            {
                return Err(entry.clone());
            }
            prefixes.push(cleaned);
        }
        Ok(Destinations { prefixes })
    }

    /// Whether every destination is allowed.
    pub fn is_open(&self) -> bool {
        self.prefixes.is_empty()
    }

    /// Whether `number` (E.164) may be reached.
    pub fn allows(&self, number: &str) -> bool {
        self.is_open() || self.prefixes.iter().any(|p| number.starts_with(p.as_str()))
    }

    /// Refuses `number` when it is not allowed, saying what is.
    pub fn check(&self, field: &str, number: &str) -> Result<(), ToolError> {
        if self.allows(number) {
            return Ok(());
        }
        Err(ToolError::Refused(format!(
            "`{field}` {number} is not an allowed destination: this server only reaches numbers starting {} (TWILIO_ALLOWED_DESTINATIONS). Nothing was sent.",
            self.prefixes.join(", ")
        )))
    }
}

/// `whatsapp:+…` for a WhatsApp address.
pub fn whatsapp(number: &str) -> String {
    format!("whatsapp:{number}")
}

/// The number without a `whatsapp:` prefix.
pub fn bare(address: &str) -> &str {
    address.strip_prefix("whatsapp:").unwrap_or(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_checked_as_e164() {
        // (input, expected E.164 or None)
        let cases = [
            ("+14155552671", Some("+14155552671")),
            (" +34 612 34 56 78 ", Some("+34612345678")),
            ("+1 (415) 555-2671", Some("+14155552671")),
            ("14155552671", None),
            ("+0123456789", None),
            ("+1415", None),
            ("+1234567890123456", None),
            ("+1415555267a", None),
            ("whatsapp:+14155552671", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(e164("to", input).ok().as_deref(), expected, "{input:?}");
        }
        let error = e164("to", "612345678").unwrap_err().message();
        assert!(
            error.contains("`to`") && error.contains("+14155552671"),
            "{error}"
        );
        assert!(error.contains("country code are missing"), "{error}");
    }

    #[test]
    fn destinations_allow_numbers_and_prefixes() {
        let open = Destinations::parse(&[]).unwrap();
        assert!(open.allows("+14155552671"));
        let list = Destinations::parse(&["+34".into(), "+1555 0100".into()]).unwrap();
        assert!(list.allows("+34612345678"));
        assert!(list.allows("+15550100999"));
        assert!(!list.allows("+14155552671"));
        let refused = list.check("to", "+14155552671").unwrap_err().message();
        assert!(
            refused.contains("+34, +15550100") && refused.contains("Nothing was sent"),
            "{refused}"
        );
        assert_eq!(Destinations::parse(&["34".into()]), Err("34".into()));
        assert_eq!(Destinations::parse(&["+".into()]), Err("+".into()));
    }
}
