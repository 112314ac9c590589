//! Fuzz targets: every surface a stranger can reach, each a function of arbitrary bytes that must
//! neither panic nor hang, and that asserts what a right answer looks like.
//!
//! - What a client sends: a stdio line ([`json_rpc_line`]), a whole stdio session
//!   ([`stdio_session`]), an HTTP request with its headers and body ([`http_request`]), a tool's
//!   arguments against its schema ([`tool_arguments`]), search text ([`empresa_search`]), an Odoo
//!   domain ([`odoo_domain`]), a JSON Schema for a structured answer ([`json_schema_guide`]).
//! - What a backend sends back: Odoo's XML-RPC and JSON-2 answers ([`odoo_answer`]), Stripe's
//!   objects and errors ([`stripe_answer`]), Twilio's ([`twilio_answer`]), an OpenAI-compatible
//!   event stream ([`openai_stream`]).
//! - What a user's files hold: the documents mcp-rag ingests ([`rag_file`]).
//!
//! [`TARGETS`] names them all. `tests/replay.rs` runs every file of `corpus/<target>/` and
//! `regressions/<target>/` through its target on every `cargo test`; `just fuzz` runs them under
//! libFuzzer (`libfuzzer/`), which grows the corpus.

// A fuzz target reports a wrong answer by panicking; that is its whole job.
#![allow(clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use rmcp::model::JsonObject;
use serde_json::Value;

/// A fuzz target: a function of arbitrary bytes.
pub type Target = fn(&[u8]);

/// Every target, by the name its corpus folder and libFuzzer binary have.
pub const TARGETS: &[(&str, Target)] = &[
    ("json_rpc_line", json_rpc_line),
    ("stdio_session", stdio_session),
    ("http_request", http_request),
    ("tool_arguments", tool_arguments),
    ("empresa_search", empresa_search),
    ("odoo_domain", odoo_domain),
    ("odoo_answer", odoo_answer),
    ("stripe_answer", stripe_answer),
    ("twilio_answer", twilio_answer),
    ("openai_stream", openai_stream),
    ("json_schema_guide", json_schema_guide),
    ("rag_file", rag_file),
];

/// One stdio line (or HTTP body) through the syntax check that precedes rmcp.
pub fn json_rpc_line(data: &[u8]) {
    mcp_common::fuzz::json_rpc_line(data);
}

/// mcp-empresa over its sample data in a temporary directory, shared by the targets of one
/// process, with a second connection to the same database for the store-level targets.
struct Empresa {
    _dir: tempfile::TempDir,
    server: mcp_empresa::Empresa,
    store: mcp_empresa::store::Store,
}

fn empresa() -> &'static Empresa {
    static EMPRESA: OnceLock<Empresa> = OnceLock::new();
    EMPRESA.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("empresa.db");
        let open = || mcp_empresa::store::Store::open(&path).expect("the sample database");
        let server = mcp_empresa::Empresa::new(open());
        let store = open();
        Empresa {
            _dir: dir,
            server,
            store,
        }
    })
}

/// A whole stdio session with mcp-empresa (a server with reads and confirmed writes): the bytes
/// are what the client writes, then its input closes.
pub fn stdio_session(data: &[u8]) {
    mcp_common::fuzz::stdio_session(empresa().server.clone(), data);
}

/// One HTTP request to mcp-empresa's HTTP face, written as text (see
/// [`mcp_common::fuzz::http_exchange`]).
pub fn http_request(data: &[u8]) {
    let _ = mcp_common::fuzz::http_exchange(empresa().server.clone(), data);
}

/// Every input schema of every server's tools (the snapshots the protocol tests keep), each with
/// an independent JSON Schema validator.
fn tool_schemas() -> &'static [(JsonObject, jsonschema::Validator)] {
    static SCHEMAS: OnceLock<Vec<(JsonObject, jsonschema::Validator)>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let snapshots = [
            include_str!("../../snapshots/empresa.tools.json"),
            include_str!("../../snapshots/odoo.tools.json"),
            include_str!("../../snapshots/rag.tools.json"),
            include_str!("../../snapshots/openai.tools.json"),
            include_str!("../../snapshots/stripe.tools.json"),
            include_str!("../../snapshots/twilio.tools.json"),
        ];
        let mut schemas = Vec::new();
        for snapshot in snapshots {
            let tools: Vec<Value> = serde_json::from_str(snapshot).expect("a tools snapshot");
            for tool in tools {
                let Value::Object(schema) = tool["inputSchema"].clone() else {
                    continue;
                };
                let validator = jsonschema::validator_for(&Value::Object(schema.clone()))
                    .expect("a tool schema jsonschema compiles");
                schemas.push((schema, validator));
            }
        }
        schemas
    })
}

/// A tool's arguments checked as every `tools/call` is: the first byte picks one of the servers'
/// tool schemas, the rest is the arguments. Every problem names where and what was expected, and
/// arguments the check passes must satisfy the schema by an independent validator (a tool must
/// never receive arguments its schema forbids).
pub fn tool_arguments(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let schemas = tool_schemas();
    let (schema, validator) = &schemas[usize::from(pick) % schemas.len()];
    let Ok(Value::Object(arguments)) = serde_json::from_slice::<Value>(rest) else {
        return;
    };
    let problems = mcp_common::schema::validate_arguments(schema, &arguments);
    for problem in &problems {
        assert!(
            !problem.message.trim().is_empty(),
            "a problem at {:?} without a message",
            problem.path
        );
    }
    if problems.is_empty() {
        let arguments = Value::Object(arguments);
        if let Some(error) = validator.iter_errors(&arguments).next() {
            panic!("passed arguments the schema forbids ({error}): {arguments}");
        }
    }
}

/// Free text as `buscar_documentos` and `consultar_empresa` take it: never an SQL or FTS5 error.
pub fn empresa_search(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let store = &empresa().store;
    if let Err(error) = store.search_documents(&text, 10) {
        assert!(
            text.trim().is_empty(),
            "search for {text:?} failed: {error}"
        );
    }
    if let Err(error) = store.find_company(&text) {
        let message = error.to_string();
        assert!(
            message.contains("nombre"),
            "lookup of {text:?} failed without naming the argument: {message}"
        );
    }
}

/// An Odoo search domain and sort order from a caller: either refused with a reason, or
/// normalised into a domain that is itself accepted unchanged.
pub fn odoo_domain(data: &[u8]) {
    let sensitive = |field: &str| field == "password" || field.starts_with("password.");
    if let Ok(domain) = serde_json::from_slice::<Value>(data) {
        match mcp_odoo::domain::validate(&domain, &sensitive) {
            Ok(normalised) => {
                let again = mcp_odoo::domain::validate(&normalised, &sensitive);
                assert_eq!(
                    again.as_ref().ok(),
                    Some(&normalised),
                    "normalising {domain} is not stable: {again:?}"
                );
            }
            Err(error) => assert!(!error.0.trim().is_empty(), "a refusal without a reason"),
        }
    }
    let text = String::from_utf8_lossy(data);
    let _ = mcp_odoo::domain::validate_order(&text, &sensitive);
    let literal = mcp_odoo::domain::like_literal(&text);
    let mut escaped = false;
    for character in literal.chars() {
        assert!(
            escaped || (character != '%' && character != '_'),
            "an unescaped wildcard in {literal:?}"
        );
        escaped = !escaped && character == '\\';
    }
}

/// What an Odoo server answers: the first byte picks XML-RPC or a JSON-2 error with a status.
pub fn odoo_answer(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    if pick % 2 == 0 {
        let _ = mcp_odoo::fuzz::xmlrpc_answer(body);
    } else {
        let status = 400 + u16::from(pick % 104);
        let _ = mcp_odoo::fuzz::json2_error(status, body);
    }
}

/// What Stripe answers: the first byte picks the object the body is read as (with the typed
/// reader the tools use), then it is shaped as a tool result, and read as an error body.
pub fn stripe_answer(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    if let Ok(text) = std::str::from_utf8(body) {
        use stripe_shared as shared;
        let _ = match pick % 6 {
            0 => miniserde::json::from_str::<shared::Customer>(text).is_ok(),
            1 => miniserde::json::from_str::<shared::PaymentIntent>(text).is_ok(),
            2 => miniserde::json::from_str::<shared::Refund>(text).is_ok(),
            3 => miniserde::json::from_str::<shared::Invoice>(text).is_ok(),
            4 => miniserde::json::from_str::<shared::Subscription>(text).is_ok(),
            _ => miniserde::json::from_str::<shared::Charge>(text).is_ok(),
        };
    }
    if let Ok(object) = serde_json::from_slice::<Value>(body) {
        for detail in [
            mcp_stripe::shape::Detail::Summary,
            mcp_stripe::shape::Detail::All,
        ] {
            let _ = mcp_stripe::shape::shape(&object, detail);
        }
        let headline = mcp_stripe::shape::headline(&object);
        assert!(
            !headline.contains('\n'),
            "a headline over lines: {headline:?}"
        );
    }
    let error = mcp_stripe::client::ApiError::parse(402, body, None);
    assert_eq!(error.status, 402);
}

/// What Twilio answers: a message, call or phone number shaped as a tool result, its headline,
/// its dates, and the same bytes read as an error body.
pub fn twilio_answer(data: &[u8]) {
    if let Ok(object) = serde_json::from_slice::<Value>(data) {
        for kind in [
            mcp_twilio::shape::Kind::Message,
            mcp_twilio::shape::Kind::Call,
            mcp_twilio::shape::Kind::PhoneNumber,
        ] {
            let _ = mcp_twilio::shape::trim(&object, kind);
        }
        let _ = mcp_twilio::shape::message_headline(&object);
        let _ = mcp_twilio::shape::call_headline(&object);
    }
    let text = String::from_utf8_lossy(data);
    if let Some(iso) = mcp_twilio::shape::iso_of_rfc2822(&text) {
        assert!(iso.is_ascii(), "a date that is not ISO 8601: {iso:?}");
    }
    let error = mcp_twilio::client::ApiError::parse(400, data);
    assert_eq!(error.status, 400);
}

/// An OpenAI-compatible endpoint's streamed chat completion, cut into reads where the first byte
/// says: decoded into events and assembled into one answer, or refused with a reason.
pub fn openai_stream(data: &[u8]) {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let step = usize::from(cut).max(1);
    let mut decoder = openai_compat::sse::Decoder::new();
    let mut assembler = openai_compat::stream::Assembler::new();
    let mut events = Vec::new();
    for piece in body.chunks(step) {
        events.extend(decoder.feed(piece));
    }
    events.extend(decoder.finish());
    for event in events {
        if let Err(error) = assembler.add(&event) {
            assert!(
                !error.to_string().trim().is_empty(),
                "a stream error without a reason"
            );
            return;
        }
    }
    let _ = assembler.finish();
    let _ = openai_compat::wire::error_sentence(body, 300);
}

/// A JSON Schema a caller gives for a structured answer, then a document: the schema is made
/// strict for OpenAI's endpoints and compiled into the local model's decoding guide; whatever the
/// guide lets the model write to the end must satisfy the schema. The input is the schema, a
/// zero byte, and the document.
pub fn json_schema_guide(data: &[u8]) {
    let (schema_bytes, document) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(schema) = serde_json::from_slice::<Value>(schema_bytes) else {
        return;
    };
    if let Ok(strict) = openai_compat::strict::to_strict(&schema) {
        let _ = openai_compat::strict::property_paths(&strict);
    }
    let Ok(guide) = local_model::guide::JsonGuide::from_schema(&schema, Default::default()) else {
        return;
    };
    let mut state = guide.start();
    if state.advance(document).is_err() || !state.can_finish() {
        return;
    }
    // The guide writes compact JSON that parses; a complete document must fit the schema.
    let value: Value = serde_json::from_slice(document).unwrap_or_else(|error| {
        panic!(
            "the guide finished a document that is not JSON ({error}): {}",
            String::from_utf8_lossy(document)
        )
    });
    if let Ok(validator) = jsonschema::validator_for(&schema)
        && let Some(error) = validator.iter_errors(&value).next()
    {
        panic!("the guide finished a document its schema forbids ({error}): {value}");
    }
}

/// A file mcp-rag ingests: the first byte picks the format (text, Markdown, HTML, PDF, DOCX),
/// the rest is the file. It is read or refused with a reason, and cut into chunks no longer
/// than configured.
pub fn rag_file(data: &[u8]) {
    use mcp_rag::ingest::chunk::{ChunkConfig, chunk};
    use mcp_rag::ingest::read::{FileKind, read_bytes};
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let kinds = [
        FileKind::Text,
        FileKind::Markdown,
        FileKind::Html,
        FileKind::Pdf,
        FileKind::Docx,
    ];
    let kind = kinds[usize::from(pick) % kinds.len()];
    match read_bytes("fuzzed", kind, bytes) {
        Ok(document) => {
            let config = ChunkConfig {
                max_chars: 200,
                overlap_chars: 40,
            };
            for draft in chunk(&document, &config) {
                let chars = draft.text.chars().count();
                assert!(
                    chars <= config.max_chars,
                    "a chunk of {chars} characters, over the {} configured",
                    config.max_chars
                );
            }
        }
        Err(error) => assert!(
            error.to_string().contains("fuzzed"),
            "a refusal that does not name the file: {error}"
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    // The session targets are only worth fuzzing if inputs like their seeds reach the tools:
    // these show that a well-formed session gets the prototype's answer over both transports,
    // and that the guard still stands in front.

    const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"fuzz","version":"0"}}}"#;
    const CALL: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"consultar_empresa","arguments":{"nombre":"Empresa X"}}}"#;

    #[test]
    fn a_stdio_session_reaches_the_tools() {
        let session = format!(
            "{INITIALIZE}\n{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}}\n{CALL}\n"
        );
        let output = mcp_common::fuzz::stdio_session(empresa().server.clone(), session.as_bytes());
        let text = String::from_utf8(output).unwrap();
        assert!(text.contains("employees"), "no tool answer in {text}");
    }

    #[test]
    fn an_http_request_reaches_the_tools() {
        let request = format!(
            "POST /mcp stateless\r\nhost: 127.0.0.1:8000\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\nmcp-protocol-version: 2025-11-25\r\n\r\n{CALL}"
        );
        let (status, body) =
            mcp_common::fuzz::http_exchange(empresa().server.clone(), request.as_bytes()).unwrap();
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("employees"), "no tool answer in {body}");
    }

    #[test]
    fn a_request_for_another_host_is_refused_before_the_tools() {
        let request = format!(
            "POST /mcp stateless\r\nhost: evil.example\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\n\r\n{CALL}"
        );
        let (status, _) =
            mcp_common::fuzz::http_exchange(empresa().server.clone(), request.as_bytes()).unwrap();
        assert_eq!(status, 403);
    }
}
