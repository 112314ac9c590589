//! `application/x-www-form-urlencoded` bodies and query strings, as Twilio's helper libraries write them (keys
//! such as `DateSent>` arrive percent-encoded: `DateSent%3E=2026-01-01`).

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes percent escapes, and `+` as a space when `plus_is_space` (form data and queries; not paths).
pub fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(index + 1).copied().and_then(hex),
                bytes.get(index + 2).copied().and_then(hex),
            )
        {
            out.push(high * 16 + low);
            index += 3;
            continue;
        }
        out.push(if byte == b'+' && plus_is_space {
            b' '
        } else {
            byte
        });
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a key or value for a query string (unreserved characters stay).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Parsed parameters in arrival order; a key may repeat (`MediaUrl`).
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses `a=1&b=2` (form body or query string).
    pub fn parse(text: &str) -> Params {
        Params(
            text.split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(key, true), decode(value, true))
                })
                .collect(),
        )
    }

    /// The first value of `key` (keys are case-sensitive, as in Twilio).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    /// The first non-empty value of `key`.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|value| !value.is_empty())
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// A phone-number parameter: an unencoded `+` decodes as a space, so a leading space (also after
    /// `whatsapp:`) is read back as `+`.
    pub fn phone(&self, key: &str) -> Option<String> {
        self.non_empty(key).map(normalize_phone)
    }
}

/// Restores a `+` that arrived unencoded (decoded to a space) at the start of a number.
pub fn normalize_phone(value: &str) -> String {
    let (prefix, number) = match value.split_once(':') {
        Some((prefix, number)) => (format!("{prefix}:"), number),
        None => (String::new(), value),
    };
    let number = match number.strip_prefix(' ') {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => format!("+{rest}"),
        _ => number.trim().to_string(),
    };
    format!("{prefix}{number}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_encoded_keys_values_and_repeats() {
        let params = Params::parse(
            "To=%2B15558675310&Body=Hi+there%21&DateSent%3E=2026-01-01&MediaUrl=a&MediaUrl=b&From= 15017122661",
        );
        assert_eq!(params.get("To"), Some("+15558675310"));
        assert_eq!(params.get("Body"), Some("Hi there!"));
        assert_eq!(params.get("DateSent>"), Some("2026-01-01"));
        assert_eq!(params.all("MediaUrl"), vec!["a", "b"]);
        assert_eq!(params.phone("From").as_deref(), Some("+15017122661"));
        assert_eq!(
            normalize_phone("whatsapp: 34600000001"),
            "whatsapp:+34600000001"
        );
        assert_eq!(encode("DateSent>"), "DateSent%3E");
        assert_eq!(decode("%2B1%20x+y", false), "+1 x+y");
    }
}
