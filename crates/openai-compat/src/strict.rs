//! Conversion of a tool's input schema to OpenAI strict function-calling form: every object
//! closed (`additionalProperties: false`) and every property required, optional ones made
//! nullable instead. Bridges that expose MCP tools to OpenAI models do this; a schema that cannot
//! be converted without losing a field is unusable there.

use serde_json::{Map, Value, json};

/// The strict form of `schema`, or the reasons it cannot be converted without losing fields.
pub fn to_strict(schema: &Value) -> Result<Value, Vec<String>> {
    let mut problems = Vec::new();
    let converted = convert(schema, "", &mut problems, 0);
    if problems.is_empty() {
        Ok(converted)
    } else {
        Err(problems)
    }
}

fn convert(schema: &Value, path: &str, problems: &mut Vec<String>, depth: usize) -> Value {
    if depth > 32 {
        problems.push(format!("{path}: nested too deeply"));
        return schema.clone();
    }
    let Value::Object(rules) = schema else {
        if schema == &Value::Bool(true) {
            problems.push(format!(
                "{}: accepts anything, which strict mode cannot express",
                shown(path)
            ));
        }
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in rules {
        let converted = match key.as_str() {
            "properties" => {
                let Value::Object(properties) = value else {
                    continue;
                };
                Value::Object(
                    properties
                        .iter()
                        .map(|(name, inner)| {
                            (
                                name.clone(),
                                convert(inner, &join(path, name), problems, depth + 1),
                            )
                        })
                        .collect(),
                )
            }
            "items" => convert(value, &format!("{path}[]"), problems, depth + 1),
            "anyOf" | "oneOf" | "allOf" => {
                let Value::Array(options) = value else {
                    continue;
                };
                if key == "allOf" && options.len() > 1 {
                    problems.push(format!(
                        "{}: allOf is not supported in strict mode",
                        shown(path)
                    ));
                }
                Value::Array(
                    options
                        .iter()
                        .map(|o| convert(o, path, problems, depth + 1))
                        .collect(),
                )
            }
            "$defs" | "definitions" => {
                let Value::Object(defs) = value else { continue };
                Value::Object(
                    defs.iter()
                        .map(|(name, inner)| {
                            (
                                name.clone(),
                                convert(inner, &format!("$defs.{name}"), problems, depth + 1),
                            )
                        })
                        .collect(),
                )
            }
            "patternProperties" => {
                problems.push(format!(
                    "{}: patternProperties cannot be closed",
                    shown(path)
                ));
                value.clone()
            }
            _ => value.clone(),
        };
        // Strict mode has no oneOf; anyOf says the same for disjoint options.
        let key = if key == "oneOf" {
            "anyOf".to_owned()
        } else {
            key.clone()
        };
        out.insert(key, converted);
    }
    let is_object = match rules.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(types)) => types.iter().any(|t| t == "object"),
        None => rules.contains_key("properties"),
        _ => false,
    };
    if is_object {
        match rules.get("additionalProperties") {
            None | Some(Value::Bool(false)) => {}
            Some(_) if !rules.contains_key("properties") => problems.push(format!(
                "{}: a free-form map (additionalProperties) loses its keys when closed",
                shown(path)
            )),
            Some(_) => problems.push(format!(
                "{}: extra properties besides the declared ones would be lost",
                shown(path)
            )),
        }
        out.insert("additionalProperties".into(), Value::Bool(false));
        let required: Vec<String> = rules
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(Value::Object(properties)) = out.get_mut("properties") {
            let names: Vec<String> = properties.keys().cloned().collect();
            for name in &names {
                if !required.contains(name)
                    && let Some(property) = properties.get_mut(name)
                {
                    *property = nullable(property.take());
                }
            }
            out.insert("required".into(), json!(names));
        }
    }
    Value::Object(out)
}

/// `schema` also accepting null, so an optional property can become required.
fn nullable(schema: Value) -> Value {
    if accepts_null(&schema) {
        return schema;
    }
    match schema {
        Value::Object(mut rules) => match rules.get("type").cloned() {
            Some(Value::String(t)) if !rules.contains_key("enum") => {
                rules.insert("type".into(), json!([t, "null"]));
                Value::Object(rules)
            }
            Some(Value::Array(mut types)) if !rules.contains_key("enum") => {
                types.push(json!("null"));
                rules.insert("type".into(), Value::Array(types));
                Value::Object(rules)
            }
            _ => json!({"anyOf": [Value::Object(rules), {"type": "null"}]}),
        },
        other => json!({"anyOf": [other, {"type": "null"}]}),
    }
}

fn accepts_null(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
        _ => ["anyOf", "oneOf"].iter().any(|k| {
            schema
                .get(*k)
                .and_then(Value::as_array)
                .is_some_and(|options| options.iter().any(accepts_null))
        }),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn shown(path: &str) -> String {
    if path.is_empty() {
        "the arguments object".to_owned()
    } else {
        format!("`{path}`")
    }
}

/// Every property path (`a`, `a.b`, `items[]`) declared in a schema, for checking that a
/// conversion lost nothing.
pub fn property_paths(schema: &Value) -> Vec<String> {
    fn walk(schema: &Value, path: &str, out: &mut Vec<String>, depth: usize) {
        if depth > 32 {
            return;
        }
        if let Some(Value::Object(properties)) = schema.get("properties") {
            for (name, inner) in properties {
                let here = join(path, name);
                out.push(here.clone());
                walk(inner, &here, out, depth + 1);
            }
        }
        if let Some(items) = schema.get("items") {
            walk(items, &format!("{path}[]"), out, depth + 1);
        }
        for keyword in ["anyOf", "oneOf", "allOf"] {
            if let Some(Value::Array(options)) = schema.get(keyword) {
                options.iter().for_each(|o| walk(o, path, out, depth + 1));
            }
        }
    }
    let mut out = Vec::new();
    walk(schema, "", &mut out, 0);
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_properties_become_required_and_nullable() {
        let schema = json!({
            "type": "object",
            "properties": {"nombre": {"type": "string"}, "limit": {"type": "integer"}, "mode": {"type": "string", "enum": ["a", "b"]}, "tags": {"type": "array", "items": {"type": "string"}}},
            "required": ["nombre"]
        });
        let strict = to_strict(&schema).unwrap();
        assert_eq!(strict["additionalProperties"], false);
        assert_eq!(
            strict["required"],
            json!(["limit", "mode", "nombre", "tags"])
        );
        assert_eq!(strict["properties"]["nombre"]["type"], "string");
        assert_eq!(
            strict["properties"]["limit"]["type"],
            json!(["integer", "null"])
        );
        assert_eq!(strict["properties"]["mode"]["anyOf"][1]["type"], "null");
        assert_eq!(property_paths(&strict), property_paths(&schema));
    }

    #[test]
    fn maps_and_pattern_properties_cannot_be_converted() {
        let cases = [
            (
                json!({"type": "object", "properties": {"meta": {"type": "object", "additionalProperties": {"type": "string"}}}}),
                "`meta`: a free-form map",
            ),
            (
                json!({"type": "object", "patternProperties": {"^x": {}}}),
                "patternProperties",
            ),
            (
                json!({"type": "object", "properties": {"any": true}}),
                "`any`: accepts anything",
            ),
        ];
        for (schema, expected) in cases {
            let problems = to_strict(&schema).unwrap_err().join("; ");
            assert!(problems.contains(expected), "{schema}: {problems}");
        }
    }

    #[test]
    fn refs_and_one_of_are_kept_as_any_of() {
        let schema = json!({
            "type": "object",
            "properties": {"filter": {"oneOf": [{"$ref": "#/$defs/F"}, {"type": "null"}]}},
            "$defs": {"F": {"type": "object", "properties": {"min": {"type": "integer"}}}}
        });
        let strict = to_strict(&schema).unwrap();
        assert!(strict["properties"]["filter"]["anyOf"].is_array());
        assert_eq!(strict["$defs"]["F"]["required"], json!(["min"]));
        assert_eq!(strict["$defs"]["F"]["additionalProperties"], false);
    }
}
