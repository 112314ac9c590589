//! XML-RPC encoding and decoding, byte for byte as Odoo's server writes it.
//!
//! Odoo answers through `xmlrpc.client.Marshaller(allow_none=False).dumps(...)` wrapped in
//! `<?xml version="1.0"?>\n<methodResponse>\n...\n</methodResponse>\n` (`odoo/addons/rpc/controllers/xmlrpc.py`):
//! strings are always `<string>`, dates and binaries travel as strings, and each closing `</value>` ends a line.
//! Requests are read like `xmlrpc.client.loads`: a `<value>` without a type is a string, `i4`/`i8`/`int`,
//! `boolean`, `double`, `string`, `array/data`, `struct/member`, `nil`, `dateTime.iso8601` and `base64` are
//! understood, and a namespace prefix such as `ex:nil` is ignored.

use std::fmt::Write as _;

use base64::Engine as _;
use quick_xml::events::Event;

use crate::error::{Fault, OdooError};
use crate::value::{Value, py_float_repr};

/// A decoded `<methodCall>`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCall {
    /// `<methodName>`.
    pub method: String,
    /// The `<param>` values in order.
    pub params: Vec<Value>,
}

/// Why an XML-RPC document could not be read, phrased as the Python exception `xmlrpc.client.loads` raises.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum XmlRpcError {
    /// The bytes are not well-formed XML (`xml.parsers.expat.ExpatError`).
    #[error("xml.parsers.expat.ExpatError: {0}")]
    Malformed(String),
    /// Well-formed XML that is not an XML-RPC document (`xmlrpc.client.ResponseError`).
    #[error("xmlrpc.client.ResponseError: {0}")]
    NotXmlRpc(String),
    /// A typed value that does not parse, e.g. `<int>x</int>` (`ValueError` / `TypeError`).
    #[error("{0}")]
    BadValue(String),
}

impl XmlRpcError {
    /// The Python exception Odoo's XML-RPC controller would catch, for the fault it answers.
    pub fn to_odoo_error(&self) -> OdooError {
        match self {
            XmlRpcError::Malformed(message) => OdooError::Python {
                module: "xml.parsers.expat",
                name: "ExpatError",
                message: message.clone(),
            },
            XmlRpcError::NotXmlRpc(message) => OdooError::Python {
                module: "xmlrpc.client",
                name: "ResponseError",
                message: message.clone(),
            },
            XmlRpcError::BadValue(message) => match message.split_once(": ") {
                Some(("TypeError", rest)) => OdooError::type_error(rest),
                Some((_, rest)) => OdooError::value_error(rest),
                None => OdooError::value_error(message.clone()),
            },
        }
    }
}

/// Reads a `<methodCall>` request body.
pub fn parse_method_call(body: &[u8]) -> Result<MethodCall, XmlRpcError> {
    let root = parse_document(body)?;
    if root.name != "methodCall" {
        return Err(XmlRpcError::NotXmlRpc("ResponseError()".to_string()));
    }
    let method = root
        .child("methodName")
        .map(Element::text)
        .ok_or_else(|| XmlRpcError::NotXmlRpc("ResponseError()".to_string()))?;
    // Python's unmarshaller refuses a call without <params> (its `_type` stays None).
    let params = root
        .child("params")
        .ok_or_else(|| XmlRpcError::NotXmlRpc("ResponseError()".to_string()))?;
    Ok(MethodCall {
        method,
        params: read_params(params)?,
    })
}

/// Reads a `<methodResponse>`: the single returned value, or the fault.
pub fn parse_method_response(body: &[u8]) -> Result<Result<Value, Fault>, XmlRpcError> {
    let root = parse_document(body)?;
    if root.name != "methodResponse" {
        return Err(XmlRpcError::NotXmlRpc("ResponseError()".to_string()));
    }
    if let Some(fault) = root.child("fault") {
        let value = fault
            .child("value")
            .ok_or_else(|| XmlRpcError::NotXmlRpc("ResponseError()".to_string()))
            .and_then(read_value)?;
        let code = value.get("faultCode").and_then(Value::as_int);
        let string = value.get("faultString").and_then(Value::as_str);
        return match (code, string) {
            (Some(code), Some(string)) => Ok(Err(Fault {
                code,
                string: string.to_string(),
            })),
            _ => Err(XmlRpcError::NotXmlRpc("ResponseError()".to_string())),
        };
    }
    let params = root
        .child("params")
        .ok_or_else(|| XmlRpcError::NotXmlRpc("ResponseError()".to_string()))?;
    let mut values = read_params(params)?;
    if values.len() != 1 {
        return Err(XmlRpcError::NotXmlRpc("ResponseError()".to_string()));
    }
    Ok(Ok(values.remove(0)))
}

/// Writes a successful answer exactly as Odoo's `dumps((result,))` does.
pub fn encode_response(value: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodResponse>\n<params>\n<param>\n");
    encode_value(value, &mut out);
    out.push_str("</param>\n</params>\n\n</methodResponse>\n");
    out
}

/// Writes a fault exactly as Odoo's `dumps(Fault(code, string))` does.
pub fn encode_fault(fault: &Fault) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodResponse>\n<fault>\n");
    let value = Value::dict([
        ("faultCode", Value::Int(fault.code)),
        ("faultString", Value::str(fault.string.clone())),
    ]);
    encode_value(&value, &mut out);
    out.push_str("</fault>\n\n</methodResponse>\n");
    out
}

/// Writes a request as Python's `xmlrpc.client.dumps(params, method)` does (what a Python client sends).
pub fn encode_method_call(method: &str, params: &[Value]) -> String {
    let mut out = String::from("<?xml version='1.0'?>\n<methodCall>\n<methodName>");
    out.push_str(&escape(method));
    out.push_str("</methodName>\n<params>\n");
    for param in params {
        out.push_str("<param>\n");
        encode_value(param, &mut out);
        out.push_str("</param>\n");
    }
    out.push_str("</params>\n</methodCall>\n");
    out
}

/// Appends one `<value>` as Python's `Marshaller` writes it.
pub fn encode_value(value: &Value, out: &mut String) {
    match value {
        // Odoo marshals with allow_none=False, so it never sends <nil/>; clients with allow_none=True do.
        Value::Nil => out.push_str("<value><nil/></value>"),
        Value::Bool(flag) => {
            let _ = writeln!(
                out,
                "<value><boolean>{}</boolean></value>",
                if *flag { 1 } else { 0 }
            );
        }
        Value::Int(number) => {
            let _ = writeln!(out, "<value><int>{number}</int></value>");
        }
        Value::Float(number) => {
            let _ = writeln!(
                out,
                "<value><double>{}</double></value>",
                py_float_repr(*number)
            );
        }
        Value::Str(text) => {
            let _ = writeln!(
                out,
                "<value><string>{}</string></value>",
                escape(&strip_control(text))
            );
        }
        Value::DateTime(text) => {
            let compact: String = text
                .chars()
                .filter(|character| *character != '-')
                .collect::<String>()
                .replacen(' ', "T", 1);
            let _ = writeln!(
                out,
                "<value><dateTime.iso8601>{compact}</dateTime.iso8601></value>"
            );
        }
        Value::Binary(bytes) => {
            // base64.encodebytes: lines of 76 characters, each ending with a newline.
            out.push_str("<value><base64>\n");
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            for chunk in encoded.as_bytes().chunks(76) {
                out.push_str(&String::from_utf8_lossy(chunk));
                out.push('\n');
            }
            out.push_str("</base64></value>\n");
        }
        Value::List(items) => {
            out.push_str("<value><array><data>\n");
            for item in items {
                encode_value(item, out);
            }
            out.push_str("</data></array></value>\n");
        }
        Value::Dict(pairs) => {
            out.push_str("<value><struct>\n");
            for (key, item) in pairs {
                let _ = writeln!(out, "<member>\n<name>{}</name>", escape(key));
                encode_value(item, out);
                out.push_str("</member>\n");
            }
            out.push_str("</struct></value>\n");
        }
    }
}

/// XML-RPC's escaping: `&`, `<` and `>` only, like `xmlrpc.client.escape`.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Odoo's marshaller drops control characters XML 1.0 forbids (all below 32 except tab, newline and return).
fn strip_control(text: &str) -> String {
    text.chars()
        .filter(|character| (*character as u32) >= 32 || matches!(character, '\t' | '\n' | '\r'))
        .collect()
}

#[derive(Debug)]
struct Element {
    name: String,
    children: Vec<Node>,
}

#[derive(Debug)]
enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }

    fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|element| element.name == name)
    }

    fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|node| match node {
                Node::Text(text) => Some(text.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }
}

fn read_params(params: &Element) -> Result<Vec<Value>, XmlRpcError> {
    let mut values = Vec::new();
    for param in params.elements() {
        if param.name != "param" {
            return Err(unknown_tag(&param.name));
        }
        let value = param
            .child("value")
            .ok_or_else(|| XmlRpcError::NotXmlRpc("ResponseError()".to_string()))?;
        values.push(read_value(value)?);
    }
    Ok(values)
}

fn unknown_tag(name: &str) -> XmlRpcError {
    XmlRpcError::NotXmlRpc(format!(
        "ResponseError(\"unknown tag {}\")",
        crate::value::py_str_repr(name)
    ))
}

fn read_value(element: &Element) -> Result<Value, XmlRpcError> {
    if element.name != "value" {
        return Err(unknown_tag(&element.name));
    }
    let mut typed = element.elements();
    let Some(inner) = typed.next() else {
        // A <value> without a type element is a string.
        return Ok(Value::Str(element.text()));
    };
    if let Some(extra) = typed.next() {
        return Err(unknown_tag(&extra.name));
    }
    let text = inner.text();
    match inner.name.as_str() {
        "string" => Ok(Value::Str(text)),
        "int" | "i1" | "i2" | "i4" | "i8" | "biginteger" => text
            .trim()
            .trim_start_matches('+')
            .parse::<i64>()
            .map(Value::Int)
            .map_err(|_| {
                bad_value(format!(
                    "ValueError: invalid literal for int() with base 10: {}",
                    crate::value::py_str_repr(&text)
                ))
            }),
        "boolean" => match text.as_str() {
            "0" => Ok(Value::Bool(false)),
            "1" => Ok(Value::Bool(true)),
            _ => Err(bad_value("TypeError: bad boolean value".to_string())),
        },
        "double" | "float" | "bigdecimal" => parse_python_float(text.trim())
            .map(Value::Float)
            .ok_or_else(|| {
                bad_value(format!(
                    "ValueError: could not convert string to float: {}",
                    crate::value::py_str_repr(&text)
                ))
            }),
        "nil" => Ok(Value::Nil),
        "dateTime.iso8601" => parse_datetime(text.trim())
            .map(Value::DateTime)
            .ok_or_else(|| {
                bad_value(format!(
                    "ValueError: time data {} does not match format '%Y%m%dT%H:%M:%S'",
                    crate::value::py_str_repr(&text)
                ))
            }),
        "base64" => {
            let compact: String = text
                .chars()
                .filter(|character| !character.is_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map(Value::Binary)
                .map_err(|_| bad_value("ValueError: Incorrect padding".to_string()))
        }
        "array" => {
            let data = inner
                .child("data")
                .ok_or_else(|| XmlRpcError::NotXmlRpc("ResponseError()".to_string()))?;
            data.elements()
                .map(read_value)
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List)
        }
        "struct" => {
            let mut pairs: Vec<(String, Value)> = Vec::new();
            for member in inner.elements() {
                if member.name != "member" {
                    return Err(unknown_tag(&member.name));
                }
                let name = member.child("name").map(Element::text);
                let value = member.child("value").map(read_value).transpose()?;
                let (Some(name), Some(value)) = (name, value) else {
                    return Err(XmlRpcError::NotXmlRpc("ResponseError()".to_string()));
                };
                // Like a Python dict, a repeated key keeps its first position and its last value.
                match pairs.iter_mut().find(|(key, _)| *key == name) {
                    Some(slot) => slot.1 = value,
                    None => pairs.push((name, value)),
                }
            }
            Ok(Value::Dict(pairs))
        }
        other => Err(unknown_tag(other)),
    }
}

fn bad_value(message: String) -> XmlRpcError {
    XmlRpcError::BadValue(message)
}

fn parse_python_float(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" => Some(f64::NAN),
        _ => text.parse::<f64>().ok(),
    }
}

/// `20261121T10:00:00` (what Python sends) or `2026-11-21T10:00:00` → `2026-11-21 10:00:00`.
fn parse_datetime(text: &str) -> Option<String> {
    let (date, time) = text.split_once('T')?;
    let digits: String = date.chars().filter(|character| *character != '-').collect();
    let time_parts: Vec<&str> = time.split(':').collect();
    let valid_date =
        digits.len() == 8 && digits.chars().all(|character| character.is_ascii_digit());
    let valid_time = time_parts.len() == 3
        && time_parts.iter().all(|part| {
            part.len() == 2 && part.chars().all(|character| character.is_ascii_digit())
        });
    if !valid_date || !valid_time {
        return None;
    }
    Some(format!(
        "{}-{}-{} {}",
        &digits[0..4],
        &digits[4..6],
        &digits[6..8],
        time
    ))
}

/// Builds a small element tree; well-formedness errors become `ExpatError`s.
fn parse_document(body: &[u8]) -> Result<Element, XmlRpcError> {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut buffer = Vec::new();
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event_into(&mut buffer).map_err(|error| {
            XmlRpcError::Malformed(format!(
                "{error}: {}",
                line_column(body, reader.error_position())
            ))
        })?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(junk_after_root(body, position));
                }
                stack.push(Element {
                    name: local_name(start.name().as_ref()),
                    children: Vec::new(),
                });
            }
            Event::Empty(start) => {
                let element = Element {
                    name: local_name(start.name().as_ref()),
                    children: Vec::new(),
                };
                attach(&mut stack, &mut root, element, body, position)?;
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(|| junk_after_root(body, position))?;
                attach(&mut stack, &mut root, element, body, position)?;
            }
            Event::Text(text) => {
                let content = text
                    .xml10_content()
                    .map_err(|error| XmlRpcError::Malformed(error.to_string()))?;
                push_text(&mut stack, &content, body, position)?;
            }
            Event::CData(data) => {
                let content = data
                    .xml10_content()
                    .map_err(|error| XmlRpcError::Malformed(error.to_string()))?;
                push_text(&mut stack, &content, body, position)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = if reference.is_char_ref() {
                    reference
                        .resolve_char_ref()
                        .ok()
                        .flatten()
                        .map(String::from)
                } else {
                    let name = reference
                        .decode()
                        .map_err(|error| XmlRpcError::Malformed(error.to_string()))?;
                    quick_xml::escape::resolve_predefined_entity(&name).map(str::to_string)
                };
                let text = resolved.ok_or_else(|| {
                    XmlRpcError::Malformed(format!(
                        "undefined entity: {}",
                        line_column(body, position)
                    ))
                })?;
                push_text(&mut stack, &text, body, position)?;
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
        buffer.clear();
    }
    if !stack.is_empty() || root.is_none() {
        return Err(XmlRpcError::Malformed(format!(
            "no element found: {}",
            line_column(body, body.len() as u64)
        )));
    }
    root.ok_or_else(|| XmlRpcError::Malformed("no element found: line 1, column 0".to_string()))
}

fn attach(
    stack: &mut [Element],
    root: &mut Option<Element>,
    element: Element,
    body: &[u8],
    position: u64,
) -> Result<(), XmlRpcError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(element)),
        None if root.is_none() => *root = Some(element),
        None => return Err(junk_after_root(body, position)),
    }
    Ok(())
}

fn push_text(
    stack: &mut [Element],
    text: &str,
    body: &[u8],
    position: u64,
) -> Result<(), XmlRpcError> {
    match stack.last_mut() {
        Some(parent) => {
            if let Some(Node::Text(previous)) = parent.children.last_mut() {
                previous.push_str(text);
            } else {
                parent.children.push(Node::Text(text.to_string()));
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlRpcError::Malformed(format!(
            "syntax error: {}",
            line_column(body, position)
        ))),
    }
}

fn junk_after_root(body: &[u8], position: u64) -> XmlRpcError {
    XmlRpcError::Malformed(format!(
        "junk after document element: {}",
        line_column(body, position)
    ))
}

fn local_name(raw: &[u8]) -> String {
    let name = String::from_utf8_lossy(raw);
    match name.rsplit_once(':') {
        Some((_, local)) => local.to_string(),
        None => name.into_owned(),
    }
}

/// Expat reports 1-based lines and 0-based columns.
fn line_column(body: &[u8], position: u64) -> String {
    let end = usize::try_from(position)
        .unwrap_or(usize::MAX)
        .min(body.len());
    let before = &body[..end];
    let line = before.iter().filter(|byte| **byte == b'\n').count() + 1;
    let column = before
        .iter()
        .rev()
        .take_while(|byte| **byte != b'\n')
        .count();
    format!("line {line}, column {column}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_type() -> Value {
        Value::List(vec![
            Value::Int(42),
            Value::Int(-7),
            Value::Bool(true),
            Value::Bool(false),
            Value::Float(1234.0),
            Value::Float(0.25),
            Value::str("Acme Ibérica S.L. <&> \"quoted\""),
            Value::str(""),
            Value::Nil,
            Value::DateTime("2026-11-21 10:30:00".to_string()),
            Value::Binary(b"\x00\x01binary\xff".to_vec()),
            Value::List(vec![]),
            Value::dict([
                ("name", Value::str("x")),
                ("nested", Value::List(vec![Value::Int(1)])),
            ]),
            Value::Dict(vec![]),
        ])
    }

    #[test]
    fn every_value_type_round_trips_through_a_call() {
        let params = vec![Value::str("test"), Value::Int(2), every_type()];
        let xml = encode_method_call("execute_kw", &params);
        let call = parse_method_call(xml.as_bytes()).expect("parse");
        assert_eq!(call.method, "execute_kw");
        assert_eq!(call.params, params);
    }

    #[test]
    fn every_value_type_round_trips_through_a_response() {
        let xml = encode_response(&every_type());
        assert_eq!(
            parse_method_response(xml.as_bytes()).expect("parse"),
            Ok(every_type())
        );
    }

    #[test]
    fn responses_are_written_like_odoo() {
        let value = Value::dict([
            ("id", Value::Int(6)),
            ("name", Value::str("A & B")),
            (
                "stage_id",
                Value::List(vec![Value::Int(1), Value::str("New")]),
            ),
            ("expected_revenue", Value::Float(1234.0)),
            ("active", Value::Bool(true)),
        ]);
        let expected = "<?xml version=\"1.0\"?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n\
<member>\n<name>id</name>\n<value><int>6</int></value>\n</member>\n\
<member>\n<name>name</name>\n<value><string>A &amp; B</string></value>\n</member>\n\
<member>\n<name>stage_id</name>\n<value><array><data>\n<value><int>1</int></value>\n<value><string>New</string></value>\n</data></array></value>\n</member>\n\
<member>\n<name>expected_revenue</name>\n<value><double>1234.0</double></value>\n</member>\n\
<member>\n<name>active</name>\n<value><boolean>1</boolean></value>\n</member>\n\
</struct></value>\n</param>\n</params>\n\n</methodResponse>\n";
        assert_eq!(encode_response(&value), expected);
    }

    #[test]
    fn faults_are_written_like_odoo() {
        let xml = encode_fault(&Fault {
            code: 3,
            string: "Access Denied".to_string(),
        });
        let expected = "<?xml version=\"1.0\"?>\n<methodResponse>\n<fault>\n<value><struct>\n\
<member>\n<name>faultCode</name>\n<value><int>3</int></value>\n</member>\n\
<member>\n<name>faultString</name>\n<value><string>Access Denied</string></value>\n</member>\n\
</struct></value>\n</fault>\n\n</methodResponse>\n";
        assert_eq!(xml, expected);
        assert_eq!(
            parse_method_response(xml.as_bytes()).expect("parse"),
            Err(Fault {
                code: 3,
                string: "Access Denied".to_string()
            })
        );
    }

    #[test]
    fn lenient_forms_python_accepts() {
        let cases: Vec<(&str, Value)> = vec![
            ("<value>untyped text</value>", Value::str("untyped text")),
            ("<value>  spaced  </value>", Value::str("  spaced  ")),
            ("<value><i4> 17 </i4></value>", Value::Int(17)),
            (
                "<value><i8>9000000000</i8></value>",
                Value::Int(9_000_000_000),
            ),
            ("<value><ex:nil/></value>", Value::Nil),
            (
                "<value><string>a &lt;b&gt; &amp; &#233;&#x41;</string></value>",
                Value::str("a <b> & éA"),
            ),
            (
                "<value><string><![CDATA[<raw>]]></string></value>",
                Value::str("<raw>"),
            ),
            (
                "<value><dateTime.iso8601>20261121T10:00:00</dateTime.iso8601></value>",
                Value::DateTime("2026-11-21 10:00:00".into()),
            ),
            (
                "<value><base64>aGVs\nbG8=</base64></value>",
                Value::Binary(b"hello".to_vec()),
            ),
            (
                "<value><double>-1.5e3</double></value>",
                Value::Float(-1500.0),
            ),
            ("<value></value>", Value::str("")),
        ];
        for (value_xml, expected) in cases {
            let xml = format!(
                "<?xml version=\"1.0\"?><methodCall><methodName>m</methodName><params><param>{value_xml}</param></params></methodCall>"
            );
            let call = parse_method_call(xml.as_bytes())
                .unwrap_or_else(|error| panic!("{value_xml}: {error}"));
            assert_eq!(call.params, vec![expected], "{value_xml}");
        }
    }

    #[test]
    fn malformed_input_is_an_error_never_a_panic() {
        let cases: Vec<(&[u8], &str)> = vec![
            (b"", "xml.parsers.expat.ExpatError: no element found"),
            (b"not xml at all", "xml.parsers.expat.ExpatError"),
            (b"<methodCall><methodName>x</methodName><params></methodCall>", "xml.parsers.expat.ExpatError"),
            (b"<methodCall><methodName>x</methodName><params></params></methodCall><extra/>", "junk after document element"),
            (b"<methodCall><methodName>x</methodName><params>", "no element found"),
            (b"<methodCall><methodName>x</methodName></methodCall>", "xmlrpc.client.ResponseError: ResponseError()"),
            (b"<other/>", "xmlrpc.client.ResponseError"),
            (b"<methodCall><methodName>x</methodName><params><param><value><int>abc</int></value></param></params></methodCall>", "invalid literal for int() with base 10: 'abc'"),
            (b"<methodCall><methodName>x</methodName><params><param><value><boolean>yes</boolean></value></param></params></methodCall>", "TypeError: bad boolean value"),
            (b"<methodCall><methodName>x</methodName><params><param><value><bogus>1</bogus></value></param></params></methodCall>", "unknown tag 'bogus'"),
            (b"<methodCall><methodName>x</methodName><params><param><value><string>&nope;</string></value></param></params></methodCall>", "ExpatError"),
            (b"\xff\xfe<bad", "ExpatError"),
        ];
        for (body, expected) in cases {
            let error = parse_method_call(body).expect_err("must fail");
            assert!(
                error.to_string().contains(expected),
                "{:?}: {error}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn parse_errors_map_to_python_exceptions() {
        let error = parse_method_call(b"<oops")
            .expect_err("fail")
            .to_odoo_error();
        assert_eq!(error.qualified_name(), "xml.parsers.expat.ExpatError");
        assert_eq!(error.to_fault().code, 1);
        let error = parse_method_call(
            b"<methodCall><methodName>x</methodName><params><param><value><boolean>2</boolean></value></param></params></methodCall>",
        )
        .expect_err("fail")
        .to_odoo_error();
        assert_eq!(error, OdooError::type_error("bad boolean value"));
    }
}
