//! Checks on a raw JSON-RPC message before rmcp sees it, shared by the stdio and HTTP transports.
//!
//! rmcp drops a stdio line it cannot parse as JSON without a word (the client waits forever) and
//! answers such an HTTP body with a plain-text 415. Among those are lines a quick skim accepts:
//! a lone surrogate escape (`"\ud800"`), bytes that are not UTF-8, and nesting at or beyond
//! serde_json's recursion limit of 128. [`check_syntax`] finds exactly the syntax errors rmcp's
//! own parse would hit, so the transports can answer them with a JSON-RPC parse error instead.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

/// JSON-RPC "Parse error": the message is not valid JSON.
pub(crate) const PARSE_ERROR: i64 = -32700;
/// JSON-RPC "Invalid Request": valid JSON, but not a JSON-RPC message.
pub(crate) const INVALID_REQUEST: i64 = -32600;

/// Containers nested this deep or deeper make serde_json (and so rmcp) give up.
pub(crate) const MAX_DEPTH: usize = 128;

/// Why a message cannot be served: the JSON-RPC error to answer it with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rejection {
    /// The request's id, as far as it could be recovered; `null` otherwise.
    pub(crate) id: Value,
    /// The JSON-RPC error code.
    pub(crate) code: i64,
    /// One sentence for the client.
    pub(crate) message: String,
}

impl Rejection {
    /// The JSON-RPC error response.
    pub(crate) fn to_json(&self) -> Value {
        json!({"jsonrpc": "2.0", "id": self.id, "error": {"code": self.code, "message": self.message}})
    }
}

/// Checks that `message` is JSON that serde_json parses in full, validating every string
/// (UTF-8, escapes, surrogate pairs) and the nesting depth the way a typed parse does, but
/// without building a value: strings without escapes are only borrowed. `what` names the
/// message in the error ("line", "request body").
pub(crate) fn check_syntax(message: &[u8], what: &str) -> Result<(), Rejection> {
    match serde_json::from_slice::<WellFormed>(message) {
        Ok(WellFormed) => Ok(()),
        Err(error) => {
            let detail = error.to_string();
            let detail = if detail.starts_with("recursion limit exceeded") {
                format!("nested {MAX_DEPTH} or more levels deep; {detail}")
            } else {
                detail
            };
            Err(Rejection {
                id: find_id(message),
                code: PARSE_ERROR,
                message: format!("Parse error: the {what} is not valid JSON ({detail})"),
            })
        }
    }
}

/// Any JSON value, checked and thrown away.
struct WellFormed;

impl<'de> Deserialize<'de> for WellFormed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `deserialize_any`, unlike `IgnoredAny`, makes serde_json decode strings and count depth.
        deserializer.deserialize_any(WellFormedVisitor)
    }
}

struct WellFormedVisitor;

impl<'de> Visitor<'de> for WellFormedVisitor {
    type Value = WellFormed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<WellFormed, E> {
        Ok(WellFormed)
    }

    fn visit_i64<E>(self, _: i64) -> Result<WellFormed, E> {
        Ok(WellFormed)
    }

    fn visit_u64<E>(self, _: u64) -> Result<WellFormed, E> {
        Ok(WellFormed)
    }

    fn visit_f64<E>(self, _: f64) -> Result<WellFormed, E> {
        Ok(WellFormed)
    }

    fn visit_str<E>(self, _: &str) -> Result<WellFormed, E> {
        Ok(WellFormed)
    }

    fn visit_unit<E>(self) -> Result<WellFormed, E> {
        Ok(WellFormed)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WellFormed, A::Error> {
        while seq.next_element::<WellFormed>()?.is_some() {}
        Ok(WellFormed)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WellFormed, A::Error> {
        while map.next_key::<WellFormed>()?.is_some() {
            map.next_value::<WellFormed>()?;
        }
        Ok(WellFormed)
    }
}

/// Finds the `"id"` member of a top-level object, a number or a string, in a message that may
/// be truncated or not parse as a whole: the scan follows strings and nesting, so an `"id"`
/// inside `params` or inside a string is never taken for the request's.
pub(crate) fn find_id(message: &[u8]) -> Value {
    let start = message
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(message.len());
    if message.get(start) != Some(&b'{') {
        // Not an object (a batch, garbage): no single request to answer.
        return Value::Null;
    }
    let mut depth = 0usize;
    // True where a member name may start: right after `{` or `,` of the top-level object.
    let mut at_key = false;
    let mut index = start;
    while let Some(&byte) = message.get(index) {
        match byte {
            b'"' => {
                let Some(end) = string_end(message, index + 1) else {
                    return Value::Null;
                };
                if depth == 1 && at_key && &message[index + 1..end] == b"id" {
                    return id_value(&message[end + 1..]);
                }
                at_key = false;
                index = end + 1;
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                at_key = byte == b'{' && depth == 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                at_key = false;
            }
            b',' => at_key = depth == 1,
            byte if byte.is_ascii_whitespace() => {}
            _ => at_key = false,
        }
        index += 1;
    }
    Value::Null
}

/// The index of the quote that closes the string whose contents start at `from`.
fn string_end(message: &[u8], from: usize) -> Option<usize> {
    let mut index = from;
    while let Some(&byte) = message.get(index) {
        match byte {
            b'\\' => index += 2,
            b'"' => return Some(index),
            _ => index += 1,
        }
    }
    None
}

/// The value after a member name: `: <number or string>`.
fn id_value(after_name: &[u8]) -> Value {
    let rest = after_name.trim_ascii_start();
    let Some(rest) = rest.strip_prefix(b":") else {
        return Value::Null;
    };
    let mut values =
        serde_json::Deserializer::from_slice(rest.trim_ascii_start()).into_iter::<Value>();
    match values.next() {
        Some(Ok(id @ (Value::Number(_) | Value::String(_)))) => id,
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!(
            r#"{{"jsonrpc":"2.0","id":5,"method":"ping","params":{{"x":{}{}}}}}"#,
            "[".repeat(depth - 2),
            "]".repeat(depth - 2)
        )
    }

    #[test]
    fn ids_are_found_in_top_level_objects_only() {
        let cases = [
            (
                r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"#,
                json!(7),
            ),
            (
                r#"{"jsonrpc":"2.0", "id" : "abc-1", "method":"x""#,
                json!("abc-1"),
            ),
            (
                r#"{"jsonrpc":"2.0","method":"x","params":{"text":"aaaa"#,
                Value::Null,
            ),
            (r#"{"method":"x","params":{"id":3},"id":4}"#, json!(4)),
            (r#"{"method":"x","params":{"id":3}}"#, Value::Null),
            (r#"{"note":"\"id\":9","id":10}"#, json!(10)),
            (r#"{"x":["id",1],"id":11}"#, json!(11)),
            (
                r#"[{"jsonrpc":"2.0","id":78,"method":"ping"}]"#,
                Value::Null,
            ),
            (r#"{"id":{"nested":1}}"#, Value::Null),
            (r#"{"id":null}"#, Value::Null),
            (r#"garbage"#, Value::Null),
            ("", Value::Null),
        ];
        for (prefix, expected) in cases {
            assert_eq!(find_id(prefix.as_bytes()), expected, "{prefix}");
        }
    }

    #[test]
    fn malformed_messages_are_parse_errors_with_their_ids() {
        let mut invalid_utf8 =
            br#"{"jsonrpc":"2.0","id":2,"method":"ping","params":{"x":""#.to_vec();
        invalid_utf8.extend_from_slice(b"\xff\"}}");
        let cases: Vec<(Vec<u8>, Value, &str)> = vec![
            (
                br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\ud800"}}"#.to_vec(),
                json!(1),
                "hex escape",
            ),
            (invalid_utf8, json!(2), "unicode"),
            (
                nested(MAX_DEPTH).into_bytes(),
                json!(5),
                "128 or more levels",
            ),
            (b"this is not json".to_vec(), Value::Null, "expected"),
            (
                br#"{"jsonrpc":"2.0","id":77,"method":"tools/li"#.to_vec(),
                json!(77),
                "EOF",
            ),
            (br#"{"id":3} trailing"#.to_vec(), json!(3), "trailing"),
        ];
        for (message, id, detail) in cases {
            let text = String::from_utf8_lossy(&message).into_owned();
            let rejection = check_syntax(&message, "line").unwrap_err();
            assert_eq!(rejection.code, PARSE_ERROR, "{text}");
            assert_eq!(rejection.id, id, "{text}");
            assert!(rejection.message.contains(detail), "{text}: {rejection:?}");
        }
        for fine in [
            nested(MAX_DEPTH - 1),
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\ud83d\ude00 é"}}"#.into(),
            r#"{"hello":"world"}"#.into(),
            r#"[1,2.5,-3,true,null,{"a":{}}]"#.into(),
        ] {
            assert!(check_syntax(fine.as_bytes(), "line").is_ok(), "{fine}");
        }
    }

    /// The check must agree with rmcp: a message passes exactly when rmcp's own parse fails, if
    /// at all, with a data error (which rmcp answers) rather than a syntax error (which it drops).
    #[test]
    fn the_check_agrees_with_rmcps_parse() {
        use rmcp::model::ClientJsonRpcMessage;
        use serde_json::error::Category;
        let mut invalid_utf8 =
            br#"{"jsonrpc":"2.0","id":2,"method":"ping","params":{"x":""#.to_vec();
        invalid_utf8.extend_from_slice(b"\xff\"}}");
        let messages: Vec<Vec<u8>> = vec![
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\ud800"}}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\udc00"}}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"\ud800":1}}"#.to_vec(),
            invalid_utf8,
            nested(MAX_DEPTH).into_bytes(),
            nested(MAX_DEPTH - 1).into_bytes(),
            nested(MAX_DEPTH + 40).into_bytes(),
            br#"{"jsonrpc":"2.0","id":1e400,"method":"ping"}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":1e400}}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\ud83d\ude00"}}"#.to_vec(),
            br#"{"hello":"world"}"#.to_vec(),
            br#"[{"jsonrpc":"2.0","id":78,"method":"ping"}]"#.to_vec(),
        ];
        for message in messages {
            let text = String::from_utf8_lossy(&message).into_owned();
            let rmcp_drops = serde_json::from_slice::<ClientJsonRpcMessage>(&message)
                .is_err_and(|e| matches!(e.classify(), Category::Syntax | Category::Eof));
            assert_eq!(
                check_syntax(&message, "line").is_err(),
                rmcp_drops,
                "{text}"
            );
        }
    }
}
