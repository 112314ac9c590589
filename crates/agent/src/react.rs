//! The JSON ReAct protocol of the Python prototype, for models without a tool role: the model
//! answers with one JSON object, either `{"herramienta_llamada": "<tool>", "parametros": {…}}` to
//! call a tool or `{"respuesta": "<answer>"}` to answer; tool results come back as user messages.
//!
//! Small models wrap the object in prose or code fences, or write it badly: the first balanced
//! object in the text is read, and a message that still does not parse gets one repair request
//! naming what was wrong.

use serde_json::{Map, Value};

use crate::translate::TranslatedTool;

/// The key of a tool call.
pub const CALL_KEY: &str = "herramienta_llamada";
/// The key of a tool call's arguments.
pub const ARGUMENTS_KEY: &str = "parametros";
/// The key of an answer.
pub const ANSWER_KEY: &str = "respuesta";

/// What one model message said.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Call a tool.
    Call {
        /// The tool name as written.
        tool: String,
        /// Its arguments.
        arguments: Map<String, Value>,
    },
    /// The answer for the user.
    Answer(String),
}

/// The system prompt: the protocol in a few lines and one line per tool with its arguments.
pub fn system_prompt(tools: &[TranslatedTool]) -> String {
    let mut prompt = format!(
        "You answer the user's question, using tools when they help. Reply with exactly one JSON object and nothing else:\n\
         {{\"{CALL_KEY}\": \"<tool name>\", \"{ARGUMENTS_KEY}\": {{<arguments>}}}} to call a tool, or\n\
         {{\"{ANSWER_KEY}\": \"<your answer>\"}} to answer the user.\n\
         After a tool call you receive its result; answer only from results and the conversation.\n\nTools:\n"
    );
    for tool in tools {
        prompt.push_str(&format!(
            "- {}: {} Arguments: {}\n",
            tool.name,
            tool.description.trim(),
            signature(&tool.original_schema)
        ));
    }
    prompt
}

/// A compact argument list: `{"nombre": string (required): Name of the company}`.
fn signature(schema: &Value) -> String {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return "none".to_owned();
    };
    if properties.is_empty() {
        return "none".to_owned();
    }
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let parts: Vec<String> = properties
        .iter()
        .map(|(name, property)| {
            let kind = type_of(property);
            let needed = if required.contains(&name.as_str()) {
                " (required)"
            } else {
                ""
            };
            let description = property
                .get("description")
                .and_then(Value::as_str)
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            format!("\"{name}\": {kind}{needed}{description}")
        })
        .collect();
    format!("{{{}}}", parts.join("; "))
}

fn type_of(property: &Value) -> String {
    if let Some(values) = property.get("enum").and_then(Value::as_array) {
        let shown: Vec<String> = values.iter().map(Value::to_string).collect();
        return format!("one of {}", shown.join(", "));
    }
    match property.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .filter(|k| *k != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => property
            .get("anyOf")
            .and_then(Value::as_array)
            .map(|options| {
                options
                    .iter()
                    .map(type_of)
                    .filter(|k| k != "null" && !k.is_empty())
                    .collect::<Vec<_>>()
                    .join(" or ")
            })
            .unwrap_or_else(|| "any".to_owned()),
    }
}

/// Reads a model message; the error says what is wrong, for the repair request.
pub fn parse(text: &str) -> Result<Reply, String> {
    let Some(object_text) = first_object(text) else {
        return Err("it contains no JSON object".to_owned());
    };
    let value: Value = serde_json::from_str(object_text)
        .map_err(|error| format!("the JSON object is not valid: {error}"))?;
    let Value::Object(mut object) = value else {
        return Err("it is not a JSON object".to_owned());
    };
    if let Some(answer) = object.remove(ANSWER_KEY) {
        return match answer {
            Value::String(text) => Ok(Reply::Answer(text)),
            Value::Null => Err(format!("`{ANSWER_KEY}` is null")),
            other => Ok(Reply::Answer(other.to_string())),
        };
    }
    match object.remove(CALL_KEY) {
        Some(Value::String(tool)) if !tool.trim().is_empty() => {
            let arguments = match object.remove(ARGUMENTS_KEY) {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(arguments)) => arguments,
                Some(Value::String(text)) => match serde_json::from_str(&text) {
                    // Some models put the arguments object in a string.
                    Ok(Value::Object(arguments)) => arguments,
                    _ => return Err(format!("`{ARGUMENTS_KEY}` must be a JSON object")),
                },
                Some(_) => return Err(format!("`{ARGUMENTS_KEY}` must be a JSON object")),
            };
            Ok(Reply::Call {
                tool: tool.trim().to_owned(),
                arguments,
            })
        }
        Some(_) => Err(format!("`{CALL_KEY}` must be the name of a tool")),
        None => Err(format!("it has neither `{CALL_KEY}` nor `{ANSWER_KEY}`")),
    }
}

/// The request sent after a message that did not parse.
pub fn repair_request(problem: &str) -> String {
    format!(
        "Your last message could not be read: {problem}. Reply again with only one JSON object, either {{\"{CALL_KEY}\": \"<tool name>\", \"{ARGUMENTS_KEY}\": {{...}}}} or {{\"{ANSWER_KEY}\": \"...\"}}, and nothing else."
    )
}

/// The first balanced `{…}` in `text`, strings and escapes respected; an unclosed object is
/// returned to its end, so the parse error says what is missing.
fn first_object(text: &str) -> Option<&str> {
    let start = text.find('{')?;
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, c) in text[start..].char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[start..start + offset + 1]);
                }
            }
            _ => {}
        }
    }
    Some(&text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replies_are_read_from_prose_and_fences() {
        let cases = [
            (
                r#"{"herramienta_llamada": "empresa__consultar_empresa", "parametros": {"nombre": "Empresa X"}}"#,
                Reply::Call {
                    tool: "empresa__consultar_empresa".into(),
                    arguments: json!({"nombre": "Empresa X"}).as_object().unwrap().clone(),
                },
            ),
            (
                "Claro:\n```json\n{\"respuesta\": \"Tiene 100 empleados {según}\"}\n```",
                Reply::Answer("Tiene 100 empleados {según}".into()),
            ),
            (
                r#"{"herramienta_llamada": "t", "parametros": "{\"a\": 1}"}"#,
                Reply::Call {
                    tool: "t".into(),
                    arguments: json!({"a": 1}).as_object().unwrap().clone(),
                },
            ),
            (
                r#"{"herramienta_llamada": "t"}"#,
                Reply::Call {
                    tool: "t".into(),
                    arguments: Map::new(),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn malformed_replies_say_what_is_wrong() {
        let cases = [
            ("I think the answer is 100", "no JSON object"),
            (
                r#"{"herramienta_llamada": "t", "parametros": {"nombre": "X"}"#,
                "not valid",
            ),
            (r#"{"respuesta": null}"#, "is null"),
            (r#"{"tool": "t"}"#, "neither"),
            (r#"{"herramienta_llamada": 3}"#, "must be the name"),
            (
                r#"{"herramienta_llamada": "t", "parametros": [1]}"#,
                "must be a JSON object",
            ),
        ];
        for (text, expected) in cases {
            let problem = parse(text).unwrap_err();
            assert!(problem.contains(expected), "{text}: {problem}");
            assert!(repair_request(&problem).contains(&problem));
        }
    }

    #[test]
    fn the_prompt_lists_tools_with_their_arguments() {
        let tools = crate::translate::translate_all(&[(
            "empresa".to_owned(),
            vec![
                json!({"name": "consultar_empresa", "description": "Look up a company.", "inputSchema": {"type": "object", "properties": {"nombre": {"type": "string", "description": "Name"}, "limit": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}, "required": ["nombre"]}}),
            ],
        )]);
        let prompt = system_prompt(&tools);
        assert!(prompt.contains("- empresa__consultar_empresa: Look up a company. Arguments: {\"limit\": integer; \"nombre\": string (required): Name}"), "{prompt}");
        assert!(prompt.contains(CALL_KEY) && prompt.contains(ANSWER_KEY));
    }
}
