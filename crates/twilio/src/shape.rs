//! Twilio's answers trimmed for agents: the fields that matter per resource, dates in ISO 8601
//! (the 2010 API writes RFC 2822, "Thu, 30 Jul 2015 20:12:31 +0000"), counts as numbers.

use serde_json::{Map, Value};

/// The kinds of objects the tools return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A message (`SM…`/`MM…`).
    Message,
    /// A call (`CA…`).
    Call,
    /// One of the account's phone numbers (`PN…`).
    PhoneNumber,
}

impl Kind {
    fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Message => &[
                "sid",
                "status",
                "direction",
                "to",
                "from",
                "body",
                "num_segments",
                "num_media",
                "messaging_service_sid",
                "price",
                "price_unit",
                "error_code",
                "error_message",
                "date_created",
                "date_sent",
                "date_updated",
            ],
            Kind::Call => &[
                "sid",
                "status",
                "direction",
                "to",
                "from",
                "start_time",
                "end_time",
                "duration",
                "answered_by",
                "price",
                "price_unit",
                "parent_call_sid",
                "date_created",
            ],
            Kind::PhoneNumber => &[
                "sid",
                "phone_number",
                "friendly_name",
                "capabilities",
                "sms_url",
                "voice_url",
                "date_created",
            ],
        }
    }
}

/// The fields of `kind` that `object` has and are not null, dates as ISO 8601 and counts as
/// numbers.
pub fn trim(object: &Value, kind: Kind) -> Value {
    let mut trimmed = Map::new();
    for &field in kind.fields() {
        let Some(value) = object.get(field).filter(|v| !v.is_null()) else {
            continue;
        };
        let value = match value {
            Value::String(text) if field.starts_with("date_") || field.ends_with("_time") => {
                Value::String(iso_of_rfc2822(text).unwrap_or_else(|| text.clone()))
            }
            Value::String(text) if matches!(field, "num_segments" | "num_media" | "duration") => {
                text.parse::<u64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| value.clone())
            }
            other => other.clone(),
        };
        trimmed.insert(field.to_owned(), value);
    }
    Value::Object(trimmed)
}

/// `"Thu, 30 Jul 2015 20:12:31 +0000"` → `"2015-07-30T20:12:31Z"` (any offset is kept as
/// `+hh:mm`); `None` for anything else.
pub fn iso_of_rfc2822(text: &str) -> Option<String> {
    let rest = text.trim();
    let rest = match rest.split_once(", ") {
        Some((_weekday, rest)) => rest,
        None => rest,
    };
    let mut parts = rest.split_whitespace();
    let day: u32 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: u32 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    let valid_time = time.len() == 8
        && time
            .split(':')
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_digit()));
    if !valid_time || !(1..=31).contains(&day) {
        return None;
    }
    let offset = match parts.next() {
        None | Some("+0000" | "-0000" | "GMT" | "UT" | "UTC") => "Z".to_owned(),
        Some(zone)
            if zone.len() == 5
                && (zone.starts_with('+') || zone.starts_with('-'))
                && zone[1..].chars().all(|c| c.is_ascii_digit()) =>
        {
            format!("{}:{}", &zone[..3], &zone[3..])
        }
        Some(_) => return None,
    };
    Some(format!("{year:04}-{month:02}-{day:02}T{time}{offset}"))
}

/// One line about a message: "SMS SM… to +1… delivered".
pub fn message_headline(message: &Value) -> String {
    let sid = message["sid"].as_str().unwrap_or("?");
    let to = message["to"].as_str().unwrap_or("?");
    let status = message["status"].as_str().unwrap_or("unknown");
    let channel = if to.starts_with("whatsapp:") {
        "WhatsApp message"
    } else {
        "message"
    };
    let mut line = format!("{channel} {sid} to {to}: {status}");
    if let Some(code) = message["error_code"].as_u64() {
        let reason = message["error_message"]
            .as_str()
            .unwrap_or("see Twilio's error page");
        line.push_str(&format!(
            " (error {code}: {reason}; https://www.twilio.com/docs/errors/{code})"
        ));
    }
    line
}

/// One line about a call: "call CA… to +1…: in-progress".
pub fn call_headline(call: &Value) -> String {
    format!(
        "call {} to {}: {}",
        call["sid"].as_str().unwrap_or("?"),
        call["to"].as_str().unwrap_or("?"),
        call["status"].as_str().unwrap_or("unknown")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc2822_dates_become_iso() {
        let cases = [
            (
                "Thu, 30 Jul 2015 20:12:31 +0000",
                Some("2015-07-30T20:12:31Z"),
            ),
            (
                "Mon, 2 Mar 2026 08:00:05 +0100",
                Some("2026-03-02T08:00:05+01:00"),
            ),
            ("2 Mar 2026 08:00:05 GMT", Some("2026-03-02T08:00:05Z")),
            ("2026-03-02T08:00:05Z", None),
            ("Thu, 30 Foo 2015 20:12:31 +0000", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(iso_of_rfc2822(input).as_deref(), expected, "{input:?}");
        }
    }

    #[test]
    fn objects_are_trimmed() {
        let message = json!({
            "sid": "SM1", "status": "delivered", "to": "+15550100", "from": "+15550199",
            "body": "hi", "num_segments": "2", "price": null, "account_sid": "AC1",
            "subresource_uris": {"media": "/x"}, "date_sent": "Thu, 30 Jul 2015 20:12:31 +0000",
            "error_code": 30003, "error_message": "Unreachable destination handset"
        });
        let trimmed = trim(&message, Kind::Message);
        assert_eq!(trimmed["num_segments"], 2);
        assert_eq!(trimmed["date_sent"], "2015-07-30T20:12:31Z");
        assert!(trimmed.get("price").is_none() && trimmed.get("account_sid").is_none());
        assert_eq!(
            message_headline(&message),
            "message SM1 to +15550100: delivered (error 30003: Unreachable destination handset; https://www.twilio.com/docs/errors/30003)"
        );
    }
}
