//! Structured output: the caller's JSON Schema checked before it is sent, the decision whether to
//! ask the endpoint for strict mode, and the answer validated against the schema, so a caller
//! never gets "JSON" that does not match what it asked for.

use serde_json::Value;

/// How many violations an error lists.
const SHOWN_VIOLATIONS: usize = 5;

/// A compiled schema.
pub struct Schema {
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Schema")
    }
}

impl Schema {
    /// Compiles `schema`; the error says what is wrong with it.
    pub fn compile(schema: &Value) -> Result<Schema, String> {
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(
                "a schema whose root is {\"type\": \"object\"}, as structured outputs require"
                    .into(),
            );
        }
        let validator =
            jsonschema::validator_for(schema).map_err(|e| format!("a valid JSON Schema ({e})"))?;
        Ok(Schema { validator })
    }

    /// Checks `value`; the error lists the first violations with where they are.
    pub fn check(&self, value: &Value) -> Result<(), String> {
        let violations: Vec<String> = self
            .validator
            .iter_errors(value)
            .map(|e| {
                let at = e.instance_path().to_string();
                let at = if at.is_empty() { "/".to_owned() } else { at };
                format!("at {at}: {e}")
            })
            .collect();
        if violations.is_empty() {
            return Ok(());
        }
        let more = violations.len().saturating_sub(SHOWN_VIOLATIONS);
        let mut text = violations
            .into_iter()
            .take(SHOWN_VIOLATIONS)
            .collect::<Vec<_>>()
            .join("; ");
        if more > 0 {
            text.push_str(&format!("; and {more} more"));
        }
        Err(text)
    }
}

/// Whether to send `schema` with `strict: true`: only when it already is in OpenAI's strict form
/// (every object closed, every property required), since a strict endpoint refuses any other
/// schema and rewriting it (optional fields made nullable) would change what the caller asked
/// for. Otherwise it goes without strict mode, with a note: the answer is validated here anyway.
pub fn strict_mode(schema: &Value) -> (bool, Option<String>) {
    match openai_compat::strict::to_strict(schema) {
        Ok(strict) if normalized(&strict) == normalized(schema) => (true, None),
        Ok(_) => (
            false,
            Some("the schema was sent without strict mode because it is not in OpenAI's strict form (every object with additionalProperties false and every property required); the answer was validated against it here".into()),
        ),
        Err(problems) => (
            false,
            Some(format!(
                "the schema was sent without strict mode because strict mode cannot express it ({}); the answer was validated against it here",
                problems.join("; ")
            )),
        ),
    }
}

/// `schema` with every `required` list sorted, so that schemas differing only in the order of
/// their required properties compare equal.
fn normalized(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let value = match (key.as_str(), value) {
                        ("required", Value::Array(names)) => {
                            let mut names = names.clone();
                            names.sort_by_key(|name| name.to_string());
                            Value::Array(names)
                        }
                        _ => normalized(value),
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_checked_with_where_they_go_wrong() {
        let schema = Schema::compile(&json!({
            "type": "object",
            "properties": {"n": {"type": "integer", "minimum": 1}, "tags": {"type": "array", "items": {"type": "string"}}},
            "required": ["n"]
        }))
        .unwrap();
        assert!(schema.check(&json!({"n": 2, "tags": ["a"]})).is_ok());
        let error = schema.check(&json!({"n": 0, "tags": [3]})).unwrap_err();
        assert!(
            error.contains("at /n:") && error.contains("at /tags/0:"),
            "{error}"
        );
        let error = schema.check(&json!({})).unwrap_err();
        assert!(error.starts_with("at /:"), "{error}");
        assert!(Schema::compile(&json!({"type": "array"})).is_err());
        assert!(
            Schema::compile(&json!({"type": "object", "properties": {"n": {"type": "nonsense"}}}))
                .is_err()
        );
    }

    #[test]
    fn strict_mode_only_for_schemas_already_in_strict_form() {
        let strict = json!({"type": "object", "properties": {"n": {"type": "integer"}, "a": {"type": "string"}}, "required": ["n", "a"], "additionalProperties": false});
        assert_eq!(strict_mode(&strict), (true, None));
        let loose = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
        let (mode, note) = strict_mode(&loose);
        assert!(!mode && note.unwrap().contains("without strict mode"));
    }
}
