//! The one value type every layer shares: what XML-RPC carries, what JSON-2 carries, and what records hold.
//!
//! Odoo is Python, so results are Python values: dicts keep insertion order, `False` stands for "no value", and error
//! messages quote values with `repr()`.
//! This type keeps dict order (so a `read` answers `id` first, as Odoo does) and can render itself the way Python's
//! `repr()` and `json.dumps()` would, so wire bodies and error texts match the real server.

use std::fmt::Write as _;

/// A Python-like value as it travels over XML-RPC or JSON-2.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None` (XML-RPC `<nil/>`, JSON `null`).
    Nil,
    /// `True` / `False`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// An XML-RPC `dateTime.iso8601`, held in Odoo's server format `YYYY-MM-DD HH:MM:SS`.
    DateTime(String),
    /// An XML-RPC `base64` value, decoded.
    Binary(Vec<u8>),
    /// A list (Python list or tuple).
    List(Vec<Value>),
    /// A dict with its keys in insertion order.
    Dict(Vec<(String, Value)>),
}

impl Value {
    /// Builds a string value.
    pub fn str(text: impl Into<String>) -> Value {
        Value::Str(text.into())
    }

    /// Builds a dict from `(key, value)` pairs, keeping their order.
    pub fn dict<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Dict(
            pairs
                .into_iter()
                .map(|(key, value)| (key.into(), value))
                .collect(),
        )
    }

    /// Python truthiness: `None`, `False`, `0`, `0.0`, `""`, `[]` and `{}` are false.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(flag) => *flag,
            Value::Int(number) => *number != 0,
            Value::Float(number) => *number != 0.0,
            Value::Str(text) | Value::DateTime(text) => !text.is_empty(),
            Value::Binary(bytes) => !bytes.is_empty(),
            Value::List(items) => !items.is_empty(),
            Value::Dict(pairs) => !pairs.is_empty(),
        }
    }

    /// The text of a string (or XML-RPC date-time) value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(text) | Value::DateTime(text) => Some(text),
            _ => None,
        }
    }

    /// The integer of an int value; Python booleans are ints too, as in `int(True) == 1`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(number) => Some(*number),
            Value::Bool(flag) => Some(i64::from(*flag)),
            _ => None,
        }
    }

    /// The number of an int or float value, as a float.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(number) => Some(*number as f64),
            Value::Float(number) => Some(*number),
            _ => None,
        }
    }

    /// The items of a list value.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// The value under `key` in a dict value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(pairs) => pairs
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value),
            _ => None,
        }
    }

    /// Whether the value is `None` or `False`: the two ways Odoo spells "no value given".
    pub fn is_none_or_false(&self) -> bool {
        matches!(self, Value::Nil | Value::Bool(false))
    }

    /// Converts a parsed JSON document; object keys come in serde_json's order, which is fine for input.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(flag) => Value::Bool(*flag),
            serde_json::Value::Number(number) => match number.as_i64() {
                Some(integer) => Value::Int(integer),
                None => Value::Float(number.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(text) => Value::Str(text.clone()),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Dict(
                map.iter()
                    .map(|(key, value)| (key.clone(), Value::from_json(value)))
                    .collect(),
            ),
        }
    }

    /// Python's `repr()` of the value, as Odoo puts it into error messages.
    pub fn py_repr(&self) -> String {
        let mut out = String::new();
        write_repr(self, &mut out);
        out
    }

    /// Python's `json.dumps(value, ensure_ascii=False)`, which is how Odoo writes JSON-2 bodies.
    pub fn to_python_json(&self) -> String {
        let mut out = String::new();
        write_json(self, &mut out);
        out
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Str(text.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Str(text)
    }
}

impl From<i64> for Value {
    fn from(number: i64) -> Value {
        Value::Int(number)
    }
}

impl From<bool> for Value {
    fn from(flag: bool) -> Value {
        Value::Bool(flag)
    }
}

impl From<f64> for Value {
    fn from(number: f64) -> Value {
        Value::Float(number)
    }
}

/// Python's `repr()` of a float: the shortest round-trip digits, `1234.0` for integral values, and an exponent
/// outside `1e-4 <= |x| < 1e16`.
pub fn py_float_repr(number: f64) -> String {
    if number.is_nan() {
        return "nan".to_string();
    }
    if number.is_infinite() {
        return if number > 0.0 {
            "inf".to_string()
        } else {
            "-inf".to_string()
        };
    }
    if number == 0.0 {
        return if number.is_sign_negative() {
            "-0.0".to_string()
        } else {
            "0.0".to_string()
        };
    }
    let magnitude = number.abs();
    if (1e-4..1e16).contains(&magnitude) {
        let text = format!("{number}");
        if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        }
    } else {
        // Rust writes `1e20` and `1.5e-7`; Python writes `1e+20` and `1.5e-07`.
        let text = format!("{number:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((text.as_str(), "0"));
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(rest) => ('-', rest),
            None => ('+', exponent),
        };
        format!("{mantissa}e{sign}{digits:0>2}")
    }
}

/// Python's `repr()` of a string: single quotes unless the text has a single quote and no double quote.
pub fn py_str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            _ if character == quote => {
                out.push('\\');
                out.push(character);
            }
            _ if (character as u32) < 0x20 || character as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", character as u32);
            }
            _ => out.push(character),
        }
    }
    out.push(quote);
    out
}

fn write_repr(value: &Value, out: &mut String) {
    match value {
        Value::Nil => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(number) => {
            let _ = write!(out, "{number}");
        }
        Value::Float(number) => out.push_str(&py_float_repr(*number)),
        Value::Str(text) => out.push_str(&py_str_repr(text)),
        Value::DateTime(text) => {
            // Python's `datetime.datetime(2026, 1, 2, 3, 4, 5)` would be exact; the server format is clearer here.
            out.push_str(&py_str_repr(text));
        }
        Value::Binary(bytes) => {
            out.push('b');
            out.push_str(&py_str_repr(&String::from_utf8_lossy(bytes)));
        }
        Value::List(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_repr(item, out);
            }
            out.push(']');
        }
        Value::Dict(pairs) => {
            out.push('{');
            for (index, (key, item)) in pairs.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                out.push_str(&py_str_repr(key));
                out.push_str(": ");
                write_repr(item, out);
            }
            out.push('}');
        }
    }
}

/// Python's `repr()` of a tuple of values, e.g. `('name', '=', 'x')` in domain error messages.
pub fn py_tuple_repr(items: &[Value]) -> String {
    let inner: Vec<String> = items.iter().map(Value::py_repr).collect();
    if inner.len() == 1 {
        format!("({},)", inner[0])
    } else {
        format!("({})", inner.join(", "))
    }
}

fn write_json(value: &Value, out: &mut String) {
    match value {
        Value::Nil => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(number) => {
            let _ = write!(out, "{number}");
        }
        Value::Float(number) => {
            if number.is_nan() {
                out.push_str("NaN");
            } else if number.is_infinite() {
                out.push_str(if *number > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                });
            } else {
                out.push_str(&py_float_repr(*number));
            }
        }
        Value::Str(text) | Value::DateTime(text) => write_json_string(text, out),
        Value::Binary(bytes) => {
            use base64::Engine as _;
            write_json_string(
                &base64::engine::general_purpose::STANDARD.encode(bytes),
                out,
            );
        }
        Value::List(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    // Python's default separators are ", " and ": ".
                    out.push_str(", ");
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Dict(pairs) => {
            out.push('{');
            for (index, (key, item)) in pairs.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_json_string(key, out);
                out.push_str(": ");
                write_json(item, out);
            }
            out.push('}');
        }
    }
}

fn write_json_string(text: &str, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            _ if (character as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", character as u32);
            }
            _ => out.push(character),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        let cases = [
            (1234.0, "1234.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (123456789.125, "123456789.125"),
        ];
        for (number, expected) in cases {
            assert_eq!(py_float_repr(number), expected, "{number}");
        }
    }

    #[test]
    fn repr_matches_python() {
        let cases = [
            (Value::str("acme"), "'acme'"),
            (Value::str("it's"), "\"it's\""),
            (Value::str("both ' and \""), "'both \\' and \"'"),
            (Value::str("a\nb"), "'a\\nb'"),
            (Value::Nil, "None"),
            (Value::Bool(false), "False"),
            (
                Value::List(vec![Value::Int(1), Value::str("x")]),
                "[1, 'x']",
            ),
            (Value::dict([("a", Value::Int(1))]), "{'a': 1}"),
        ];
        for (value, expected) in cases {
            assert_eq!(value.py_repr(), expected);
        }
        assert_eq!(
            py_tuple_repr(&[Value::str("x"), Value::str("="), Value::Int(1)]),
            "('x', '=', 1)"
        );
    }

    #[test]
    fn json_uses_python_separators_and_keeps_order() {
        let value = Value::dict([
            ("id", Value::Int(6)),
            ("name", Value::str("Acme Ibérica \"S.L.\"")),
            (
                "stage_id",
                Value::List(vec![Value::Int(1), Value::str("New")]),
            ),
            ("expected_revenue", Value::Float(1234.0)),
            ("email", Value::Bool(false)),
        ]);
        assert_eq!(
            value.to_python_json(),
            r#"{"id": 6, "name": "Acme Ibérica \"S.L.\"", "stage_id": [1, "New"], "expected_revenue": 1234.0, "email": false}"#
        );
    }

    #[test]
    fn truthiness_follows_python() {
        assert!(!Value::Int(0).is_truthy());
        assert!(!Value::str("").is_truthy());
        assert!(!Value::List(vec![]).is_truthy());
        assert!(Value::str("0").is_truthy());
        assert!(Value::Float(0.5).is_truthy());
    }
}
