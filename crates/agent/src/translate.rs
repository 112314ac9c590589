//! MCP tools as OpenAI function tools and tool results as tool messages.
//!
//! Names are `<server>__<tool>`, limited to OpenAI's 64 characters of `[A-Za-z0-9_-]`: a name that
//! is too long, has other characters or collides is shortened to a prefix plus `_` and eight hex
//! digits of the SHA-256 of `server/tool`, so it is the same on every run and for every user.
//! Input schemas go out in strict form when [`openai_compat::strict`] converts them without
//! losing a property, and as they are (non-strict) otherwise, with the reasons kept.
//! The `confirm` argument the servers add to tools that need consent is never shown to the
//! model: only the user approves, and the agent sets it after they do.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// OpenAI's limit on a function name.
pub const MAX_NAME_CHARS: usize = 64;

/// The argument mcp-common's servers add to tools that need the user's consent.
pub const CONFIRM_ARGUMENT: &str = "confirm";

/// Separates the server from the tool in a translated name.
const SEPARATOR: &str = "__";

/// Where a translated tool's text is cut, so one huge result cannot fill the model's context.
pub const MAX_RESULT_CHARS: usize = 20_000;

/// One MCP tool as offered to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct TranslatedTool {
    /// The function name the model sees.
    pub name: String,
    /// The server that has the tool.
    pub server: String,
    /// The tool's own name on that server.
    pub tool: String,
    /// The description (the title when there is none).
    pub description: String,
    /// The parameters schema sent to the model (strict form when `strict`).
    pub parameters: Value,
    /// The tool's input schema as the server declared it, `confirm` left out.
    pub original_schema: Value,
    /// Whether `parameters` is in strict form.
    pub strict: bool,
    /// Why the schema could not be strict (empty when it is).
    pub not_strict_because: Vec<String>,
    /// Whether the server asks for the user's consent (it declares the `confirm` argument).
    pub needs_consent: bool,
    /// Whether the tool declares itself read-only, so it is safe to send again.
    pub read_only: bool,
}

impl TranslatedTool {
    /// The entry of the `tools` array of a chat completion request.
    pub fn to_openai(&self) -> Value {
        let mut function = json!({
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        });
        if self.strict {
            function["strict"] = Value::Bool(true);
        }
        json!({"type": "function", "function": function})
    }
}

/// Translates every server's tools (`(server, tools/list entries as JSON)`), deterministically:
/// the same input gives the same names in any order.
pub fn translate_all(servers: &[(String, Vec<Value>)]) -> Vec<TranslatedTool> {
    let mut pending: Vec<(String, &Value)> = Vec::new();
    for (server, tools) in servers {
        for tool in tools {
            pending.push((server.clone(), tool));
        }
    }
    let tool_name = |tool: &Value| tool["name"].as_str().unwrap_or_default().to_owned();
    pending.sort_by_key(|(server, tool)| (server.clone(), tool_name(tool)));
    // Names that need no shortening are taken first, so a hashed name never takes the plain
    // name of another tool.
    let mut taken = BTreeSet::new();
    let mut plain = BTreeMap::new();
    for (index, (server, tool)) in pending.iter().enumerate() {
        let name = format!("{server}{SEPARATOR}{}", tool_name(tool));
        if is_valid_name(&name) && taken.insert(name.clone()) {
            plain.insert(index, name);
        }
    }
    let mut translated = Vec::with_capacity(pending.len());
    for (index, (server, tool)) in pending.iter().enumerate() {
        let name = match plain.get(&index) {
            Some(name) => name.clone(),
            None => shortened_name(server, &tool_name(tool), &mut taken),
        };
        translated.push(translate_tool(name, server, tool));
    }
    translated
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `<server>__<tool>` with disallowed characters replaced, cut to leave room for `_` and a hash
/// of `server/tool`; the hash grows in the (unlikely) event that it collides.
fn shortened_name(server: &str, tool: &str, taken: &mut BTreeSet<String>) -> String {
    let sanitized: String = format!("{server}{SEPARATOR}{tool}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let digest = Sha256::digest(format!("{server}/{tool}").as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    for hash_chars in [8, 16, 32, 64] {
        let hash = &hex[..hash_chars];
        let keep = MAX_NAME_CHARS - 1 - hash_chars;
        let prefix: String = sanitized.chars().take(keep).collect();
        let name = format!("{prefix}_{hash}");
        if taken.insert(name.clone()) {
            return name;
        }
    }
    // 64 hex digits of SHA-256 colliding would mean identical `server/tool`, which a server's
    // tool list cannot contain twice; keep the name unique anyway.
    let mut counter = 2usize;
    loop {
        let suffix = format!("_{counter}");
        let prefix: String = hex.chars().take(MAX_NAME_CHARS - suffix.len()).collect();
        let name = format!("{prefix}{suffix}");
        if taken.insert(name.clone()) {
            return name;
        }
        counter += 1;
    }
}

fn translate_tool(name: String, server: &str, tool: &Value) -> TranslatedTool {
    let tool_name = tool["name"].as_str().unwrap_or_default().to_owned();
    let description = tool["description"]
        .as_str()
        .or_else(|| tool["title"].as_str())
        .or_else(|| tool["annotations"]["title"].as_str())
        .unwrap_or_default()
        .to_owned();
    let mut schema = match tool.get("inputSchema") {
        Some(Value::Object(schema)) => schema.clone(),
        _ => Map::new(),
    };
    // `$schema` names the dialect; OpenAI's strict mode refuses keywords it does not know.
    schema.remove("$schema");
    let needs_consent = remove_confirm(&mut schema);
    if !schema.contains_key("type") {
        schema.insert("type".into(), json!("object"));
    }
    let original = Value::Object(schema);
    let (parameters, strict, not_strict_because) = match openai_compat::strict::to_strict(&original)
    {
        Ok(converted) => {
            let before = openai_compat::strict::property_paths(&original);
            let after = openai_compat::strict::property_paths(&converted);
            if before == after {
                (converted, true, Vec::new())
            } else {
                let lost: Vec<String> = before.difference_from(&after);
                (
                    original.clone(),
                    false,
                    vec![format!("the strict form would lose {}", lost.join(", "))],
                )
            }
        }
        Err(problems) => (original.clone(), false, problems),
    };
    TranslatedTool {
        name,
        server: server.to_owned(),
        tool: tool_name,
        description,
        parameters,
        original_schema: original,
        strict,
        not_strict_because,
        needs_consent,
        read_only: tool["annotations"]["readOnlyHint"] == Value::Bool(true),
    }
}

/// Removes the `confirm` property (and its `required` entry); true when there was one.
fn remove_confirm(schema: &mut Map<String, Value>) -> bool {
    let removed = schema
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .and_then(|properties| properties.remove(CONFIRM_ARGUMENT))
        .is_some();
    if let Some(Value::Array(required)) = schema.get_mut("required") {
        required.retain(|name| name != CONFIRM_ARGUMENT);
    }
    removed
}

trait Difference {
    fn difference_from(&self, other: &Self) -> Vec<String>;
}

impl Difference for Vec<String> {
    fn difference_from(&self, other: &Self) -> Vec<String> {
        self.iter()
            .filter(|path| !other.contains(path))
            .cloned()
            .collect()
    }
}

/// The arguments the model sent, made fit for the server: strict mode makes optional
/// properties required-but-nullable, so a `null` for a property the server's schema neither
/// requires nor accepts as null is left out (the server then applies its default), in nested
/// objects too; `confirm` is removed, since only the user's approval may set it.
pub fn arguments_for_server(
    original_schema: &Value,
    arguments: Map<String, Value>,
) -> Map<String, Value> {
    let mut arguments = without_strict_nulls(original_schema, arguments);
    arguments.remove(CONFIRM_ARGUMENT);
    arguments
}

fn without_strict_nulls(schema: &Value, arguments: Map<String, Value>) -> Map<String, Value> {
    let properties = schema.get("properties").and_then(Value::as_object);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    arguments
        .into_iter()
        .filter_map(|(key, value)| {
            let property = properties.and_then(|p| p.get(&key));
            match value {
                Value::Null
                    if !required.contains(&key.as_str()) && !property.is_some_and(accepts_null) =>
                {
                    None
                }
                Value::Object(inner) => {
                    let inner = match property {
                        Some(property) => without_strict_nulls(property, inner),
                        None => inner,
                    };
                    Some((key, Value::Object(inner)))
                }
                other => Some((key, other)),
            }
        })
        .collect()
}

fn accepts_null(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
        _ => ["anyOf", "oneOf"].iter().any(|keyword| {
            schema
                .get(*keyword)
                .and_then(Value::as_array)
                .is_some_and(|options| options.iter().any(accepts_null))
        }),
    }
}

/// A `tools/call` result (as JSON) as the text of a tool message: structured content when the
/// tool gave it, the text blocks otherwise, images, audio and resources described rather than
/// pasted, errors marked, and the whole cut at [`MAX_RESULT_CHARS`].
pub fn result_text(result: &Value) -> String {
    let is_error = result["isError"] == Value::Bool(true);
    let body = match result.get("structuredContent") {
        Some(structured) if !structured.is_null() && !is_error => structured.to_string(),
        _ => {
            let blocks: Vec<String> = result["content"]
                .as_array()
                .map(|blocks| blocks.iter().map(describe_block).collect())
                .unwrap_or_default();
            if blocks.is_empty() {
                "(no content)".to_owned()
            } else {
                blocks.join("\n")
            }
        }
    };
    let body = cut(&body, MAX_RESULT_CHARS);
    if is_error {
        format!("Error from the tool: {body}")
    } else {
        body
    }
}

fn describe_block(block: &Value) -> String {
    let size = |data: &Value| data.as_str().map_or(0, |d| d.len() * 3 / 4);
    match block["type"].as_str() {
        Some("text") => block["text"].as_str().unwrap_or_default().to_owned(),
        Some("image") => format!(
            "[image: {}, about {} bytes, not shown to the model]",
            block["mimeType"].as_str().unwrap_or("unknown type"),
            size(&block["data"])
        ),
        Some("audio") => format!(
            "[audio: {}, about {} bytes, not played to the model]",
            block["mimeType"].as_str().unwrap_or("unknown type"),
            size(&block["data"])
        ),
        Some("resource") => {
            let resource = &block["resource"];
            let uri = resource["uri"].as_str().unwrap_or("(no uri)");
            match resource["text"].as_str() {
                Some(text) => format!("[resource {uri}]\n{text}"),
                None => format!(
                    "[binary resource {uri}: {}, about {} bytes, not shown]",
                    resource["mimeType"].as_str().unwrap_or("unknown type"),
                    size(&resource["blob"])
                ),
            }
        }
        Some("resource_link") => format!(
            "[resource link {} ({}){}]",
            block["uri"].as_str().unwrap_or("(no uri)"),
            block["name"].as_str().unwrap_or("unnamed"),
            block["description"]
                .as_str()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ),
        other => format!("[content of type {} not shown]", other.unwrap_or("unknown")),
    }
}

/// `text` cut to `max` characters, with a note saying how much was left out.
pub fn cut(text: &str, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}… [cut: {} more characters]", total - max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, schema: Value) -> Value {
        json!({"name": name, "description": format!("does {name}"), "inputSchema": schema})
    }

    #[test]
    fn names_are_prefixed_short_unique_and_stable() {
        let long = "a".repeat(70);
        let servers = vec![
            (
                "empresa".to_owned(),
                vec![tool("consultar_empresa", json!({"type": "object"}))],
            ),
            (
                "x".to_owned(),
                vec![
                    tool(&long, json!({"type": "object"})),
                    tool(&format!("{long}b"), json!({"type": "object"})),
                    tool("has.dot", json!({"type": "object"})),
                    tool("has_dot", json!({"type": "object"})),
                ],
            ),
        ];
        let first = translate_all(&servers);
        let names: Vec<&str> = first.iter().map(|t| t.name.as_str()).collect();
        assert!(names.contains(&"empresa__consultar_empresa"), "{names:?}");
        assert!(names.contains(&"x__has_dot"), "{names:?}");
        let unique: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for name in &names {
            assert!(is_valid_name(name), "{name}");
        }
        // The dotted name is shortened with a hash rather than taking `x__has_dot`.
        let dotted = first.iter().find(|t| t.tool == "has.dot").unwrap();
        assert!(dotted.name.starts_with("x__has_dot_"), "{}", dotted.name);
        let mut reversed = servers.clone();
        reversed.reverse();
        let again = translate_all(&reversed);
        let again_names: BTreeSet<&str> = again.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(again_names, unique);
    }

    #[test]
    fn confirm_is_hidden_and_marks_consent() {
        let servers = vec![(
            "empresa".to_owned(),
            vec![tool(
                "delete_company",
                json!({"type": "object", "properties": {"id": {"type": "integer"}, "confirm": {"type": "boolean"}}, "required": ["id"]}),
            )],
        )];
        let translated = translate_all(&servers).remove(0);
        assert!(translated.needs_consent);
        assert!(translated.strict);
        assert_eq!(translated.parameters["required"], json!(["id"]));
        assert!(translated.parameters["properties"].get("confirm").is_none());
        assert_eq!(translated.to_openai()["function"]["strict"], true);
    }

    #[test]
    fn a_schema_that_strict_mode_would_damage_is_sent_as_is() {
        let schema = json!({"type": "object", "properties": {"fields": {"type": "object", "additionalProperties": {"type": "string"}}}});
        let translated =
            translate_all(&[("s".to_owned(), vec![tool("t", schema.clone())])]).remove(0);
        assert!(!translated.strict);
        assert_eq!(translated.parameters, schema);
        assert!(
            translated.not_strict_because[0].contains("fields"),
            "{:?}",
            translated.not_strict_because
        );
        assert!(translated.to_openai()["function"].get("strict").is_none());
    }

    #[test]
    fn strict_nulls_for_optional_arguments_are_left_out() {
        let schema = json!({"type": "object", "properties": {
            "nombre": {"type": "string"},
            "limit": {"type": "integer"},
            "city": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "filter": {"type": "object", "properties": {"min": {"type": "integer"}}}
        }, "required": ["nombre"]});
        let arguments = json!({"nombre": "X", "limit": null, "city": null, "filter": {"min": null}, "confirm": true});
        let fitted = arguments_for_server(&schema, arguments.as_object().unwrap().clone());
        assert_eq!(
            Value::Object(fitted),
            json!({"nombre": "X", "city": null, "filter": {}})
        );
    }

    #[test]
    fn results_prefer_structured_content_and_describe_media() {
        let cases = [
            (
                json!({"content": [{"type": "text", "text": "{\"a\":1}"}], "structuredContent": {"a": 1}}),
                "{\"a\":1}",
            ),
            (
                json!({"content": [{"type": "text", "text": "no such company"}], "isError": true}),
                "Error from the tool: no such company",
            ),
            (
                json!({"content": [{"type": "image", "data": "AAAA", "mimeType": "image/png"}]}),
                "[image: image/png, about 3 bytes, not shown to the model]",
            ),
            (
                json!({"content": [{"type": "resource", "resource": {"uri": "empresa://x", "text": "hola"}}]}),
                "[resource empresa://x]\nhola",
            ),
            (
                json!({"content": [{"type": "resource_link", "uri": "file:///a", "name": "a"}]}),
                "[resource link file:///a (a)]",
            ),
            (json!({"content": []}), "(no content)"),
        ];
        for (result, expected) in cases {
            assert_eq!(result_text(&result), expected, "{result}");
        }
        assert!(cut(&"x".repeat(30), 10).ends_with("[cut: 20 more characters]"));
    }
}
