//! Structured outputs: a deterministic JSON value valid for a response format's schema (what a model constrained
//! by it would produce), and OpenAI's strict-mode checks of the schema itself.

use serde_json::{Map, Value, json};

/// A value valid for `schema` (the subset of JSON Schema structured outputs accept: objects, arrays, strings with
/// enum/const/format/length, numbers and integers with bounds, booleans, null, `anyOf`, `$ref` into `$defs` or
/// `definitions`). `seed` (e.g. the prompt) fills free strings so different prompts give different answers.
pub fn generate(schema: &Value, seed: &str) -> Value {
    Generator { root: schema, seed }.value(schema, "value", 0)
}

struct Generator<'a> {
    root: &'a Value,
    seed: &'a str,
}

impl Generator<'_> {
    fn value(&self, schema: &Value, name: &str, depth: usize) -> Value {
        if depth > 16 {
            return Value::Null;
        }
        let Some(rules) = schema.as_object() else {
            return Value::Null;
        };
        if let Some(reference) = rules.get("$ref").and_then(Value::as_str) {
            return match resolve(self.root, reference) {
                Some(target) => self.value(target, name, depth + 1),
                None => Value::Null,
            };
        }
        if let Some(constant) = rules.get("const") {
            return constant.clone();
        }
        if let Some(first) = rules
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            return first.clone();
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(branches) = rules.get(keyword).and_then(Value::as_array) {
                // A model prefers a real value to null.
                let branch = branches
                    .iter()
                    .find(|b| b.get("type").and_then(Value::as_str) != Some("null"))
                    .or_else(|| branches.first());
                return branch.map_or(Value::Null, |b| self.value(b, name, depth + 1));
            }
        }
        if let Some(all) = rules.get("allOf").and_then(Value::as_array)
            && let Some(first) = all.first()
        {
            return self.value(first, name, depth + 1);
        }
        let kind = match rules.get("type") {
            Some(Value::String(kind)) => kind.as_str(),
            Some(Value::Array(kinds)) => kinds
                .iter()
                .filter_map(Value::as_str)
                .find(|k| *k != "null")
                .unwrap_or("null"),
            _ if rules.contains_key("properties") => "object",
            _ if rules.contains_key("items") => "array",
            _ => "string",
        };
        match kind {
            "object" => {
                let mut object = Map::new();
                if let Some(properties) = rules.get("properties").and_then(Value::as_object) {
                    let required: Vec<&str> = rules
                        .get("required")
                        .and_then(Value::as_array)
                        .map(|r| r.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    for (key, property) in properties {
                        // Optional properties are filled too when few, as models tend to.
                        if required.contains(&key.as_str()) || required.is_empty() {
                            object.insert(key.clone(), self.value(property, key, depth + 1));
                        }
                    }
                }
                Value::Object(object)
            }
            "array" => {
                let count = rules
                    .get("minItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    .max(1);
                let count = match rules.get("maxItems").and_then(Value::as_u64) {
                    Some(max) => count.min(max),
                    None => count,
                };
                let items = rules.get("items").cloned().unwrap_or(json!({}));
                Value::Array(
                    (0..count)
                        .map(|_| self.value(&items, name, depth + 1))
                        .collect(),
                )
            }
            "integer" => Value::from(self.integer(rules)),
            "number" => {
                let minimum = rules.get("minimum").and_then(Value::as_f64);
                let maximum = rules.get("maximum").and_then(Value::as_f64);
                let value = match (minimum, maximum) {
                    (Some(low), Some(high)) => (low + high) / 2.0,
                    (Some(low), None) => low + 1.5,
                    (None, Some(high)) => high - 1.5,
                    (None, None) => 1.5,
                };
                json!(value)
            }
            "boolean" => Value::Bool(true),
            "null" => Value::Null,
            _ => Value::String(self.string(rules, name)),
        }
    }

    fn integer(&self, rules: &Map<String, Value>) -> i64 {
        let minimum = rules.get("minimum").and_then(Value::as_i64);
        let maximum = rules.get("maximum").and_then(Value::as_i64);
        match (minimum, maximum) {
            (Some(low), Some(high)) => low + (high - low) / 2,
            (Some(low), None) => low + 1,
            (None, Some(high)) => high.min(42),
            (None, None) => 42,
        }
    }

    fn string(&self, rules: &Map<String, Value>, name: &str) -> String {
        let text = match rules.get("format").and_then(Value::as_str) {
            Some("date-time") => "2026-01-15T09:30:00Z".to_owned(),
            Some("date") => "2026-01-15".to_owned(),
            Some("time") => "09:30:00".to_owned(),
            Some("email") => format!("{}@example.com", slug(name)),
            Some("uri") => format!("https://example.com/{}", slug(name)),
            Some("uuid") => "123e4567-e89b-12d3-a456-426614174000".to_owned(),
            Some("ipv4") => "192.0.2.1".to_owned(),
            _ => {
                let topic: Vec<&str> = self.seed.split_whitespace().take(6).collect();
                if topic.is_empty() {
                    format!("{name} value")
                } else {
                    format!("{name} for {}", topic.join(" "))
                }
            }
        };
        let min = rules.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
        let max = rules
            .get("maxLength")
            .and_then(Value::as_u64)
            .map(|m| m as usize);
        let mut text: String = match max {
            Some(max) => text.chars().take(max).collect(),
            None => text,
        };
        while text.chars().count() < min {
            text.push('x');
        }
        text
    }
}

fn slug(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if slug.is_empty() {
        "value".into()
    } else {
        slug
    }
}

/// `#/$defs/Name` or `#/definitions/Name` inside `root`.
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    root.pointer(pointer)
}

/// OpenAI's checks of a `strict: true` schema: the root is an object, and every object is closed and requires
/// every property. The error is worded as OpenAI's, with the context path.
pub fn strict_problem(schema: &Value) -> Option<String> {
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Some("In context=(), schema must be a JSON Schema of 'type: \"object\"', got 'type: \"None\"'.".into());
    }
    check_strict(schema, &mut Vec::new(), 0)
}

fn check_strict(schema: &Value, context: &mut Vec<String>, depth: usize) -> Option<String> {
    if depth > 16 {
        return None;
    }
    let rules = schema.as_object()?;
    let shown = || {
        let parts: Vec<String> = context.iter().map(|p| format!("'{p}'")).collect();
        match parts.len() {
            0 => "()".to_owned(),
            1 => format!("({},)", parts.concat()),
            _ => format!("({})", parts.join(", ")),
        }
    };
    if let Some(properties) = rules.get("properties").and_then(Value::as_object) {
        if rules.get("additionalProperties") != Some(&Value::Bool(false)) {
            return Some(format!(
                "In context={}, 'additionalProperties' is required to be supplied and to be false.",
                shown()
            ));
        }
        let required: Vec<&str> = rules
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(missing) = properties
            .keys()
            .find(|key| !required.contains(&key.as_str()))
        {
            return Some(format!(
                "In context={}, 'required' is required to be supplied and to be an array including every key in properties. Missing '{missing}'.",
                shown()
            ));
        }
        for (key, property) in properties {
            context.push("properties".into());
            context.push(key.clone());
            let problem = check_strict(property, context, depth + 1);
            context.truncate(context.len() - 2);
            if problem.is_some() {
                return problem;
            }
        }
    }
    for keyword in ["items", "anyOf", "$defs", "definitions"] {
        let Some(nested) = rules.get(keyword) else {
            continue;
        };
        let children: Vec<(String, &Value)> = match nested {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            Value::Object(map) if keyword == "$defs" || keyword == "definitions" => {
                map.iter().map(|(k, v)| (k.clone(), v)).collect()
            }
            other => vec![(String::new(), other)],
        };
        for (label, child) in children {
            context.push(keyword.into());
            if !label.is_empty() {
                context.push(label.clone());
            }
            let problem = check_strict(child, context, depth + 1);
            context.truncate(context.len() - if label.is_empty() { 1 } else { 2 });
            if problem.is_some() {
                return problem;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_follow_the_schema() {
        let schema = json!({
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 3},
                "population": {"type": "integer", "minimum": 1000, "maximum": 3000},
                "tags": {"type": "array", "items": {"type": "string", "enum": ["coast", "capital"]}, "minItems": 2},
                "mayor": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/Person"}]},
                "founded": {"type": "string", "format": "date"}
            },
            "required": ["city", "population", "tags", "mayor", "founded"],
            "additionalProperties": false,
            "$defs": {"Person": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}, "required": ["email"], "additionalProperties": false}}
        });
        let value = generate(&schema, "Tell me about Lisbon");
        assert_eq!(value["population"], 2000);
        assert_eq!(value["tags"], json!(["coast", "coast"]));
        assert_eq!(value["mayor"]["email"], "email@example.com");
        assert_eq!(value["founded"], "2026-01-15");
        assert_eq!(value["city"], "city for Tell me about Lisbon");
    }

    #[test]
    fn strict_mode_wants_closed_objects_requiring_every_key() {
        let open =
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]});
        assert_eq!(
            strict_problem(&open).unwrap(),
            "In context=(), 'additionalProperties' is required to be supplied and to be false."
        );
        let nested = json!({"type": "object", "additionalProperties": false, "required": ["inner"], "properties": {
            "inner": {"type": "object", "additionalProperties": false, "properties": {"x": {"type": "string"}}}}});
        assert_eq!(
            strict_problem(&nested).unwrap(),
            "In context=('properties', 'inner'), 'required' is required to be supplied and to be an array including every key in properties. Missing 'x'."
        );
        let fine = json!({"type": "object", "additionalProperties": false, "required": ["x"], "properties": {"x": {"type": "string"}}});
        assert_eq!(strict_problem(&fine), None);
        assert!(strict_problem(&json!({"type": "array"})).is_some());
    }
}
