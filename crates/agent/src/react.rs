//! The JSON ReAct protocol of the Python prototype, for models without a tool role: the model
//! answers with one JSON object, either `{"herramienta_llamada": "<tool>", "parametros": {…}}` to
//! call a tool or `{"respuesta": "<answer>"}` to answer; tool results come back as user messages.
//!
//! Small models wrap the object in prose or code fences, or write it badly: the first balanced
//! object in the text is read, and a message that still does not parse gets one repair request
//! naming what was wrong.

use local_model::{JsonGuide, Limits};
use serde_json::{Map, Value, json};

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

/// How much of each tool the system prompt shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The whole description and every argument with its description.
    Full,
    /// The description's first sentence and the arguments' names and types: for a small local
    /// model, whose context (4,096 tokens) the full list of three servers' tools overflows, and
    /// which reads a short list better.
    Brief,
}

/// The system prompt: the protocol in a few lines and one line per tool with its arguments.
pub fn system_prompt(tools: &[TranslatedTool], detail: Detail) -> String {
    let mut prompt = format!(
        "You answer the user's question, using tools when they help. Reply with exactly one JSON object and nothing else:\n\
         {{\"{CALL_KEY}\": \"<tool name>\", \"{ARGUMENTS_KEY}\": {{<arguments>}}}} to call a tool, or\n\
         {{\"{ANSWER_KEY}\": \"<your answer>\"}} to answer the user.\n\
         After a tool call you receive its result; answer only from results and the conversation.\n\nTools:\n"
    );
    for tool in tools {
        let line = match detail {
            Detail::Full => format!(
                "- {}: {} Arguments: {}\n",
                tool.name,
                tool.description.trim(),
                signature(&tool.original_schema, true)
            ),
            Detail::Brief => format!(
                "- {}: {} Arguments: {}\n",
                tool.name,
                first_sentence(&tool.description, 120),
                signature(&tool.original_schema, false)
            ),
        };
        prompt.push_str(&line);
    }
    prompt
}

/// The first sentence of `text`, at most `limit` characters (cut at a word).
fn first_sentence(text: &str, limit: usize) -> String {
    let text = text.trim();
    let sentence = text
        .find(". ")
        .map_or(text, |end| &text[..=end])
        .trim_end_matches('.');
    if sentence.chars().count() <= limit {
        return format!("{sentence}.");
    }
    let cut: String = sentence.chars().take(limit).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut}…")
}

/// A compact argument list: `{"nombre": string (required): Name of the company}`, without the
/// descriptions when `described` is false.
fn signature(schema: &Value, described: bool) -> String {
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
                .filter(|_| described)
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

/// The protocol as a constraint for a local model: one object that is either an answer or a call
/// of one of `tools` by its exact name with arguments of that tool's shape (a tool whose schema
/// the guide cannot follow takes any object, which the server then checks).
///
/// Without `may_answer`, the reply must be a call (a small model's first step on a question its
/// tools match: left free, such a model answers from its own knowledge, which is worth little).
pub fn guide(tools: &[TranslatedTool], may_answer: bool) -> JsonGuide {
    // Short strings and shallow values: a tool call's arguments are names and ids, and a small
    // model left a long string rambles.
    let limits = Limits {
        max_string_chars: 100,
        max_items: 5,
        max_depth: 5,
        max_properties: 6,
        ..Limits::default()
    };
    let mut branches = Vec::new();
    if may_answer {
        // First: branches beyond the guide's limit are dropped from the end.
        branches.push(json!({
            "type": "object",
            "properties": {ANSWER_KEY: {"type": "string"}},
            "required": [ANSWER_KEY],
            "additionalProperties": false
        }));
    }
    // Each tool's definitions move to the root, renamed apart, since `$ref`s resolve there.
    let mut definitions = Map::new();
    for (index, tool) in tools.iter().enumerate() {
        let call = |arguments: &Value| {
            json!({
                "type": "object",
                "properties": {CALL_KEY: {"const": tool.name}, ARGUMENTS_KEY: arguments},
                "required": [CALL_KEY, ARGUMENTS_KEY],
                "additionalProperties": false
            })
        };
        let mut own = Map::new();
        let schema = hoisted(&tool.original_schema, &format!("t{index}_"), &mut own);
        let rooted = |schema: Value| {
            let mut schema = schema;
            schema["$defs"] = Value::Object(own.clone());
            schema
        };
        let exact = call(&schema);
        let branch = if JsonGuide::from_schema(&rooted(exact.clone()), limits).is_ok() {
            exact
        } else {
            call(&loosened(&schema, &own, limits))
        };
        branches.push(branch);
        definitions.extend(own);
    }
    JsonGuide::from_schema(&json!({"anyOf": branches, "$defs": definitions}), limits)
        .unwrap_or_else(|_| JsonGuide::any_object(limits))
}

/// `schema` with its `$defs` and `definitions` taken out into `definitions` under names
/// prefixed with `prefix`, and its local `$ref`s pointing at them there.
fn hoisted(schema: &Value, prefix: &str, definitions: &mut Map<String, Value>) -> Value {
    fn rewrite(value: &Value, prefix: &str) -> Value {
        match value {
            Value::Object(object) => Value::Object(
                object
                    .iter()
                    .filter(|(key, _)| !matches!(key.as_str(), "$defs" | "definitions"))
                    .map(|(key, value)| {
                        let value = match (key.as_str(), value) {
                            ("$ref", Value::String(target)) => {
                                let name = target
                                    .strip_prefix("#/$defs/")
                                    .or_else(|| target.strip_prefix("#/definitions/"));
                                match name {
                                    Some(name) => json!(format!("#/$defs/{prefix}{name}")),
                                    None => value.clone(),
                                }
                            }
                            _ => rewrite(value, prefix),
                        };
                        (key.clone(), value)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| rewrite(v, prefix)).collect()),
            other => other.clone(),
        }
    }
    for key in ["$defs", "definitions"] {
        if let Some(Value::Object(found)) = schema.get(key) {
            for (name, definition) in found {
                definitions.insert(format!("{prefix}{name}"), rewrite(definition, prefix));
            }
        }
    }
    rewrite(schema, prefix)
}

/// A tool's schema the guide cannot follow as a whole, made one it can: the same argument names
/// and required ones, each argument kept as declared when the guide can follow it alone and any
/// value otherwise (the server checks it anyway). `definitions` are the ones its `$ref`s name.
fn loosened(schema: &Value, definitions: &Map<String, Value>, limits: Limits) -> Value {
    let properties: Map<String, Value> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .map(|(name, property)| {
                    let alone = json!({
                        "type": "object",
                        "properties": {name.as_str(): property},
                        "additionalProperties": false,
                        "$defs": definitions,
                    });
                    let kept = if JsonGuide::from_schema(&alone, limits).is_ok() {
                        property.clone()
                    } else {
                        json!({})
                    };
                    (name.clone(), kept)
                })
                .collect()
        })
        .unwrap_or_default();
    let required = schema.get("required").cloned().unwrap_or(json!([]));
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// The tools whose names, descriptions and argument names share the most words with
/// `question`, best first, at most `limit`; none when nothing matches. For a small local model,
/// which picks far better among a few tools than among every server's (and whose context the
/// whole list may not fit): words match on their first five letters, so "documents" finds
/// `buscar_documentos` and "companies" finds `list_companies`, and a word of the tool's own name
/// counts three times one of its description.
pub fn shortlist<'a>(
    tools: &'a [TranslatedTool],
    question: &str,
    limit: usize,
) -> Vec<&'a TranslatedTool> {
    let asked = stems(question);
    let mut scored: Vec<(usize, usize, &TranslatedTool)> = tools
        .iter()
        .enumerate()
        .filter_map(|(index, tool)| {
            let name = stems(&tool.tool);
            let mut described = stems(&tool.description);
            if let Some(properties) = tool
                .original_schema
                .get("properties")
                .and_then(Value::as_object)
            {
                for argument in properties.keys() {
                    described.extend(stems(argument));
                }
            }
            let score: usize = asked
                .iter()
                .map(|word| {
                    if name.contains(word) {
                        3
                    } else if described.contains(word) {
                        1
                    } else {
                        0
                    }
                })
                .sum();
            // A tool that asks for consent ranks below a reading one that matches as well: it is
            // named when the question says to create or delete.
            let score = (score * 2).saturating_sub(usize::from(tool.needs_consent));
            (score > 1).then_some((score, index, tool))
        })
        .collect();
    // Best first; among equals, the servers' own order.
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored
        .into_iter()
        .take(limit)
        .map(|(_, _, tool)| tool)
        .collect()
}

/// Words that say nothing about which tool is meant.
const STOP_WORDS: &[&str] = &[
    "about", "and", "are", "can", "does", "for", "from", "give", "has", "have", "how", "many",
    "me", "please", "show", "tell", "that", "the", "there", "this", "what", "which", "with", "you",
    "con", "del", "las", "los", "por", "para", "que", "una", "uno", "tiene", "cuantos", "cual",
    "sobre", "dime", "one", "its", "all", "any", "not", "but", "when", "then",
];

/// The distinct words of `text` longer than two letters, lower-cased, accents removed, cut to
/// their first five letters, stop words left out.
fn stems(text: &str) -> std::collections::BTreeSet<String> {
    let folded: String = text
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' | 'Á' => 'a',
            'é' | 'è' | 'ë' | 'ê' | 'É' => 'e',
            'í' | 'ì' | 'ï' | 'î' | 'Í' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' | 'Ó' => 'o',
            'ú' | 'ù' | 'ü' | 'û' | 'Ú' => 'u',
            'ñ' | 'Ñ' => 'n',
            other => other.to_ascii_lowercase(),
        })
        .collect();
    folded
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| word.len() > 2 && !STOP_WORDS.contains(word))
        .map(|word| word.chars().take(5).collect())
        .collect()
}

/// A tool result as `path: value` lines when it is JSON (`company.employees: 100`), nulls and
/// empty values left out, at most 60 lines; other text as it is.
pub fn as_lines(result: &str) -> String {
    fn walk(path: &str, value: &Value, lines: &mut Vec<String>) {
        match value {
            Value::Object(object) => {
                for (key, value) in object {
                    let path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(&path, value, lines);
                }
            }
            Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
                if !items.is_empty() {
                    let shown: Vec<String> = items.iter().map(scalar).collect();
                    lines.push(format!("{path}: {}", shown.join(", ")));
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(&format!("{path}[{index}]"), item, lines);
                }
            }
            Value::Null => {}
            Value::String(text) if text.is_empty() => {}
            other => lines.push(format!("{path}: {}", scalar(other))),
        }
    }
    fn scalar(value: &Value) -> String {
        match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }
    let Ok(value) = serde_json::from_str::<Value>(result) else {
        return result.to_owned();
    };
    let mut lines = Vec::new();
    walk("", &value, &mut lines);
    if lines.is_empty() {
        return result.to_owned();
    }
    lines.truncate(60);
    lines.join("\n")
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
        let prompt = system_prompt(&tools, Detail::Full);
        assert!(prompt.contains("- empresa__consultar_empresa: Look up a company. Arguments: {\"limit\": integer; \"nombre\": string (required): Name}"), "{prompt}");
        assert!(prompt.contains(CALL_KEY) && prompt.contains(ANSWER_KEY));
        let brief = system_prompt(&tools, Detail::Brief);
        assert!(brief.contains("- empresa__consultar_empresa: Look up a company. Arguments: {\"limit\": integer; \"nombre\": string (required)}"), "{brief}");
        assert_eq!(
            first_sentence("Finds a company. Then more.", 100),
            "Finds a company."
        );
        assert_eq!(first_sentence("one two three four", 9), "one two…");
    }

    #[test]
    fn the_guide_admits_answers_and_calls_of_real_tools_only() {
        let tools = crate::translate::translate_all(&[(
            "empresa".to_owned(),
            vec![
                json!({"name": "consultar_empresa", "description": "Look up a company.", "inputSchema": {"type": "object", "properties": {"nombre": {"type": "string"}}, "required": ["nombre"]}}),
                // A schema the guide cannot follow (tuple items) still gets a branch, loosened.
                json!({"name": "odd", "description": "Odd.", "inputSchema": {"type": "object", "properties": {"pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}}}}),
            ],
        )]);
        let guide = guide(&tools, true);
        let accepts = |text: &str| {
            let mut state = guide.start();
            state.advance(text.as_bytes()).is_ok() && state.can_finish()
        };
        assert!(accepts(r#"{"respuesta":"100"}"#));
        assert!(accepts(
            r#"{"herramienta_llamada":"empresa__consultar_empresa","parametros":{"nombre":"Empresa X"}}"#
        ));
        // The argument the guide cannot follow takes any value; unknown arguments none.
        assert!(accepts(
            r#"{"herramienta_llamada":"empresa__odd","parametros":{"pair":["x",1]}}"#
        ));
        assert!(!accepts(
            r#"{"herramienta_llamada":"empresa__odd","parametros":{"anything":1}}"#
        ));
        assert!(!accepts(
            r#"{"herramienta_llamada":"empresa__invented","parametros":{}}"#
        ));
        assert!(!accepts(
            r#"{"herramienta_llamada":"empresa__consultar_empresa","parametros":{}}"#
        ));
        assert!(!accepts(
            r#"{"herramienta_llamada":"empresa__consultar_empresa","parametros":{"nombre":3}}"#
        ));
        let must_call = super::guide(&tools[..1], false);
        let mut state = must_call.start();
        assert!(
            state.advance(br#"{"respuesta":"#).is_err(),
            "only a call is allowed"
        );
    }

    #[test]
    fn json_results_read_as_lines() {
        let result = r#"{"company":{"name":"Empresa X","employees":100,"website":null,"tags":["a","b"]},"suggestions":[]}"#;
        assert_eq!(
            as_lines(result),
            "company.employees: 100\ncompany.name: Empresa X\ncompany.tags: a, b"
        );
        assert_eq!(as_lines("not json"), "not json");
    }

    #[test]
    fn tools_with_definitions_of_the_same_name_keep_their_own() {
        let with_definition = |name: &str, kind: &str| json!({"name": name, "description": "D.", "inputSchema": {"type": "object", "properties": {"filter": {"$ref": "#/$defs/Filter"}}, "required": ["filter"], "$defs": {"Filter": {"type": kind}}}});
        let tools = crate::translate::translate_all(&[(
            "s".to_owned(),
            vec![
                with_definition("a", "string"),
                with_definition("b", "integer"),
            ],
        )]);
        let guide = guide(&tools, false);
        let accepts = |text: &str| {
            let mut state = guide.start();
            state.advance(text.as_bytes()).is_ok() && state.can_finish()
        };
        assert!(accepts(
            r#"{"herramienta_llamada":"s__a","parametros":{"filter":"x"}}"#
        ));
        assert!(accepts(
            r#"{"herramienta_llamada":"s__b","parametros":{"filter":7}}"#
        ));
        assert!(!accepts(
            r#"{"herramienta_llamada":"s__a","parametros":{"filter":7}}"#
        ));
        assert!(!accepts(
            r#"{"herramienta_llamada":"s__b","parametros":{"filter":"x"}}"#
        ));
    }

    #[test]
    fn the_shortlist_finds_the_tools_a_question_is_about() {
        let tool = |name: &str, description: &str, argument: &str| json!({"name": name, "description": description, "inputSchema": {"type": "object", "properties": {argument: {"type": "string"}}}});
        let tools = crate::translate::translate_all(&[(
            "empresa".to_owned(),
            vec![
                tool("consultar_empresa", "Look up a company by name.", "nombre"),
                tool(
                    "buscar_documentos",
                    "Full-text search over document titles.",
                    "nombre_documento",
                ),
                tool(
                    "list_companies",
                    "List companies, filtered by city.",
                    "city",
                ),
            ],
        )]);
        let names = |question: &str| -> Vec<String> {
            shortlist(&tools, question, 2)
                .iter()
                .map(|t| t.tool.clone())
                .collect()
        };
        assert_eq!(
            names("¿Cuántos empleados tiene Empresa X?"),
            ["consultar_empresa"]
        );
        assert_eq!(
            names("Find documents named contrato"),
            ["buscar_documentos"]
        );
        assert_eq!(names("List the companies in Madrid")[0], "list_companies");
        assert!(names("hello there").is_empty());
    }
}
