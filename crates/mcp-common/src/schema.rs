//! Schema rules: the tool shapes every client accepts, and validation of call arguments against a
//! tool's input schema so that bad input gets an error naming the field and what it expects.
//!
//! The validator covers the JSON Schema subset that `schemars` generates for tool arguments
//! (types, nullability through `anyOf`/type arrays, `$ref` into `$defs`, enums, numeric formats and
//! bounds, string and array lengths, required and unknown properties).

use rmcp::model::{JsonObject, Tool};
use serde_json::Value;

use crate::gate::ToolKind;

/// Longest tool name clients accept.
pub const MAX_TOOL_NAME_LEN: usize = 64;

/// Whether `name` is a tool name every client accepts: 1–64 characters from `[a-zA-Z0-9_-]`.
pub fn is_valid_tool_name(name: &str) -> bool {
    (1..=MAX_TOOL_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `key` is a property key every client accepts: 1–64 characters from `[a-zA-Z0-9_.-]`.
pub fn is_valid_property_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Every way `tool` breaks the rules of this project; empty when it is fine.
pub fn tool_problems(tool: &Tool) -> Vec<String> {
    let name = &tool.name;
    let mut problems = Vec::new();
    if !is_valid_tool_name(name) {
        problems.push(format!(
            "tool name `{name}` must be 1 to {MAX_TOOL_NAME_LEN} characters of letters, digits, `_` or `-`"
        ));
    }
    if tool
        .description
        .as_deref()
        .is_none_or(|d| d.trim().is_empty())
    {
        problems.push(format!("tool `{name}` has no description"));
    }
    if tool.input_schema.get("type").and_then(Value::as_str) != Some("object") {
        problems.push(format!(
            "tool `{name}`: the input schema must have type object"
        ));
    }
    let mut bad_keys = Vec::new();
    collect_bad_keys_in(&tool.input_schema, &mut bad_keys);
    match &tool.output_schema {
        None => problems.push(format!(
            "tool `{name}` has no output schema: return Json<T>"
        )),
        Some(schema) => {
            if schema.get("type").and_then(Value::as_str) != Some("object") {
                problems.push(format!(
                    "tool `{name}`: the output schema must have type object"
                ));
            }
            collect_bad_keys_in(schema, &mut bad_keys);
        }
    }
    for key in bad_keys {
        problems.push(format!(
            "tool `{name}`: property key `{key}` must be 1 to 64 characters of letters, digits, `_`, `.` or `-`"
        ));
    }
    if ToolKind::of(tool).is_none() {
        problems.push(format!(
            "tool `{name}` must declare annotations: read_only_hint, and destructive_hint when it is not read-only"
        ));
    }
    problems
}

fn collect_bad_keys(schema: &Value, bad: &mut Vec<String>) {
    if let Value::Object(map) = schema {
        collect_bad_keys_in(map, bad);
    }
}

/// [`collect_bad_keys`] of an object schema, read in place (a tool's schemas are not copied).
fn collect_bad_keys_in(map: &serde_json::Map<String, Value>, bad: &mut Vec<String>) {
    if let Some(Value::Object(properties)) = map.get("properties") {
        for (key, inner) in properties {
            if !is_valid_property_key(key) {
                bad.push(key.clone());
            }
            collect_bad_keys(inner, bad);
        }
    }
    for keyword in ["items", "additionalProperties"] {
        if let Some(inner) = map.get(keyword) {
            collect_bad_keys(inner, bad);
        }
    }
    for keyword in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(options)) = map.get(keyword) {
            options
                .iter()
                .for_each(|inner| collect_bad_keys(inner, bad));
        }
    }
    for keyword in ["$defs", "definitions"] {
        if let Some(Value::Object(defs)) = map.get(keyword) {
            defs.values().for_each(|inner| collect_bad_keys(inner, bad));
        }
    }
}

/// Keywords that describe the property as a whole and stay outside the `anyOf` when a
/// multi-type schema is split.
const ANNOTATION_KEYWORDS: [&str; 6] = [
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "$comment",
];

/// Rewrites `"type": [T, "null"]` (how schemars writes `Option<T>`) as
/// `"anyOf": [{"type": T, ...}, {"type": "null"}]`, everywhere in `schema`. Both are valid JSON
/// Schema, but clients that map tool schemas onto a single-`type` dialect (Gemini's function
/// declarations, OpenAPI 3.0) reject or mangle type arrays.
///
/// It also spells out a schema that accepts any value (what schemars writes for a
/// `serde_json::Value` field: `true`, or an object with only a description) as an explicit
/// `anyOf` of the JSON types, so that clients see a declared type rather than nothing.
pub fn make_portable(schema: &mut Value) {
    make_portable_at(schema, true);
}

/// Whether [`make_portable`] would leave `schema` as it is. Read-only, so a start-up copies and
/// rewrites only the schemas that need it (most tools' have no `Option` or free-form field).
pub fn is_portable(schema: &Value) -> bool {
    is_portable_at(schema, true)
}

/// [`make_portable_at`]'s walk, asking at each step whether it would change something.
fn is_portable_at(schema: &Value, is_root: bool) -> bool {
    if !is_root && schema == &Value::Bool(true) {
        return false;
    }
    match schema {
        Value::Object(map) => is_portable_object(map, is_root),
        _ => true,
    }
}

/// [`is_portable`] for a schema object, as tools hold theirs; `is_root` for a whole schema.
pub(crate) fn is_portable_object(map: &serde_json::Map<String, Value>, is_root: bool) -> bool {
    let children_portable = map
        .iter()
        .all(|(keyword, value)| match (keyword.as_str(), value) {
            (
                "properties" | "$defs" | "definitions" | "patternProperties",
                Value::Object(children),
            ) => children.values().all(|child| is_portable_at(child, false)),
            ("anyOf" | "oneOf" | "allOf" | "prefixItems", Value::Array(children)) => {
                children.iter().all(|child| is_portable_at(child, false))
            }
            ("items" | "not", child) => is_portable_at(child, false),
            ("additionalProperties", child) if child.is_object() => is_portable_at(child, false),
            _ => true,
        });
    if !children_portable || (!is_root && accepts_anything(map)) {
        return false;
    }
    // A type array is rewritten unless an `anyOf` or `oneOf` is already there.
    !matches!(map.get("type"), Some(Value::Array(_)))
        || map.contains_key("anyOf")
        || map.contains_key("oneOf")
}

fn make_portable_at(schema: &mut Value, is_root: bool) {
    if !is_root && schema == &Value::Bool(true) {
        *schema = Value::Object(serde_json::Map::new());
    }
    let Value::Object(map) = schema else { return };
    // One pass over the keywords present rather than a lookup of each keyword that may be: a
    // start rewrites every tool's schemas, and those lookups were a fifth of that work.
    for (keyword, value) in map.iter_mut() {
        match (keyword.as_str(), value) {
            (
                "properties" | "$defs" | "definitions" | "patternProperties",
                Value::Object(children),
            ) => {
                children
                    .values_mut()
                    .for_each(|child| make_portable_at(child, false));
            }
            ("anyOf" | "oneOf" | "allOf" | "prefixItems", Value::Array(children)) => {
                children
                    .iter_mut()
                    .for_each(|child| make_portable_at(child, false));
            }
            ("items" | "not", child) => make_portable_at(child, false),
            ("additionalProperties", child) if child.is_object() => {
                make_portable_at(child, false);
            }
            _ => {}
        }
    }
    // A schema that accepts anything has only annotations, none of the keywords rewritten above,
    // so rewriting the children first changes nothing for it.
    if !is_root && accepts_anything(map) {
        map.insert(
            "anyOf".into(),
            serde_json::json!([
                {"type": "object", "additionalProperties": true},
                {"type": "array"},
                {"type": "string"},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "null"}
            ]),
        );
        return;
    }
    let Some(Value::Array(types)) = map.get("type") else {
        return;
    };
    let types: Vec<String> = types
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    if map.contains_key("anyOf") || map.contains_key("oneOf") {
        return;
    }
    if types.len() == 1 {
        map.insert("type".into(), Value::String(types[0].clone()));
        return;
    }
    let mut outer = serde_json::Map::new();
    for keyword in ANNOTATION_KEYWORDS {
        if let Some(value) = map.remove(keyword) {
            outer.insert(keyword.into(), value);
        }
    }
    map.remove("type");
    // Keywords such as format, minimum or items belong to the non-null branches: each gets a
    // copy, and the last one (the only one, for an `Option`) the keywords themselves.
    let mut keywords = Some(std::mem::take(map));
    let mut copies = types.iter().filter(|name| *name != "null").count();
    let branches: Vec<Value> = types
        .into_iter()
        .map(|name| {
            if name == "null" {
                return serde_json::json!({"type": "null"});
            }
            copies -= 1;
            let mut branch = if copies == 0 {
                keywords.take().unwrap_or_default()
            } else {
                keywords.clone().unwrap_or_default()
            };
            branch.insert("type".into(), Value::String(name));
            Value::Object(branch)
        })
        .collect();
    outer.insert("anyOf".into(), Value::Array(branches));
    *map = outer;
}

/// Whether a schema object carries no keyword that constrains values (only annotations such as
/// a description).
fn accepts_anything(map: &serde_json::Map<String, Value>) -> bool {
    map.keys()
        .all(|key| ANNOTATION_KEYWORDS.contains(&key.as_str()))
}

/// One problem with a call's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgumentProblem {
    /// Where, e.g. `nombre`, `filter.min_employees`, `tags[2]`.
    pub path: String,
    /// What is wrong, e.g. "expected a string, got 42".
    pub message: String,
}

impl std::fmt::Display for ArgumentProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.path, self.message)
    }
}

/// Checks `arguments` against a tool's input schema. Properties the schema does not declare are
/// reported at the top level (a misspelt optional argument would otherwise be silently ignored).
/// A server checking many calls against the same schema should build an [`ArgumentSchema`] once.
pub fn validate_arguments(schema: &JsonObject, arguments: &JsonObject) -> Vec<ArgumentProblem> {
    ArgumentSchema::new(schema).validate(&Value::Object(arguments.clone()))
}

/// A tool's input schema prepared once for checking every call's arguments: the schema as a
/// JSON value (the root `$ref`s resolve against) and its declared top-level properties, so a
/// call copies neither the schema nor the arguments.
#[derive(Debug, Clone)]
pub struct ArgumentSchema {
    root: Value,
    /// The declared top-level properties, as the unknown-argument message lists them; `None`
    /// when the schema declares no `properties` object (then any argument is let through).
    known: Option<String>,
}

impl ArgumentSchema {
    /// Prepares `schema` for [`ArgumentSchema::validate`].
    pub fn new(schema: &JsonObject) -> ArgumentSchema {
        let known = match schema.get("properties") {
            Some(Value::Object(properties)) if properties.is_empty() => {
                Some("this tool takes no arguments".to_owned())
            }
            Some(Value::Object(properties)) => {
                let known: Vec<String> = properties.keys().map(|k| format!("`{k}`")).collect();
                Some(format!("expected one of {}", known.join(", ")))
            }
            _ => None,
        };
        ArgumentSchema {
            root: Value::Object(schema.clone()),
            known,
        }
    }

    /// Checks `arguments` (the call's arguments object) as [`validate_arguments`] does.
    pub fn validate(&self, arguments: &Value) -> Vec<ArgumentProblem> {
        let mut problems = Vec::new();
        check(
            arguments,
            &self.root,
            &self.root,
            "",
            &mut problems,
            0,
            false,
        );
        if let (Some(expected), Some(Value::Object(properties)), Value::Object(arguments)) =
            (&self.known, self.root.get("properties"), arguments)
        {
            for key in arguments.keys() {
                if !properties.contains_key(key) {
                    problems.push(ArgumentProblem {
                        path: key.clone(),
                        message: format!("unknown argument; {expected}"),
                    });
                }
            }
        }
        problems
    }
}

const MAX_DEPTH: usize = 64;

fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    let mut current = schema;
    for _ in 0..8 {
        let Some(reference) = current.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(pointer) = reference.strip_prefix('#') else {
            break;
        };
        match root.pointer(pointer) {
            Some(target) => current = target,
            None => break,
        }
    }
    current
}

/// Checks `value` against `schema`, adding what is wrong to `problems`. `quiet` only counts
/// problems (each an empty entry, no message composed, no path built): `anyOf` options are tried
/// quietly first, since most of them fail on a valid value and composing those messages was most
/// of a call's validation.
fn check(
    value: &Value,
    schema: &Value,
    root: &Value,
    path: &str,
    problems: &mut Vec<ArgumentProblem>,
    depth: usize,
    quiet: bool,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let schema = resolve(schema, root);
    let Value::Object(rules) = schema else {
        if schema == &Value::Bool(false) {
            problems.push(problem(quiet, || (path.to_owned(), "not allowed".into())));
        }
        return;
    };
    macro_rules! report {
        ($($message:tt)*) => {
            problems.push(problem(quiet, || (path.to_owned(), format!($($message)*))))
        };
    }
    // A child's path, built only when messages are.
    let child = |key: &dyn std::fmt::Display| {
        if quiet {
            String::new()
        } else if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };

    for keyword in ["anyOf", "oneOf"] {
        let Some(Value::Array(options)) = rules.get(keyword) else {
            continue;
        };
        let problems_of = |option: &Value, quiet: bool| {
            let mut option_problems = Vec::new();
            check(
                value,
                option,
                root,
                path,
                &mut option_problems,
                depth + 1,
                quiet,
            );
            option_problems
        };
        if options
            .iter()
            .any(|option| problems_of(option, true).is_empty())
        {
            continue;
        }
        if quiet {
            report!("");
            return;
        }
        // Each option's problems, and whether it is of the value's JSON type.
        let failures: Vec<(bool, Vec<ArgumentProblem>)> = options
            .iter()
            .map(|option| {
                (
                    type_matches(value, resolve(option, root)),
                    problems_of(option, false),
                )
            })
            .collect();
        // A choice among fixed values (a Rust enum, maybe optional): name every value, not the
        // last option tried.
        if constants(schema, root, 0).is_some() {
            report!(
                "expected {}, got {}",
                describe(schema, root, 0),
                show(value)
            );
            return;
        }
        // The branch of the value's own JSON type has the telling problems (a nested field, a
        // bound); with several, the one that got furthest, i.e. with the fewest problems.
        let best = failures
            .into_iter()
            .filter(|(same_type, _)| *same_type)
            .map(|(_, problems)| problems)
            .min_by_key(Vec::len);
        match best {
            Some(option_problems) => problems.extend(option_problems),
            None => report!(
                "expected {}, got {}",
                describe(schema, root, 0),
                show(value)
            ),
        }
        return;
    }
    if let Some(Value::Array(all)) = rules.get("allOf") {
        for inner in all {
            check(value, inner, root, path, problems, depth + 1, quiet);
        }
    }
    if let Some(Value::Array(allowed)) = rules.get("enum") {
        if !allowed.contains(value) {
            let options: Vec<String> = allowed.iter().map(Value::to_string).collect();
            report!(
                "expected one of {}, got {}",
                options.join(", "),
                show(value)
            );
        }
        return;
    }
    if let Some(constant) = rules.get("const")
        && constant != value
    {
        report!("expected {constant}, got {}", show(value));
        return;
    }
    if rules.get("type").is_some() && !type_matches(value, schema) {
        report!(
            "expected {}, got {}",
            describe(schema, root, 0),
            show(value)
        );
        return;
    }
    match value {
        Value::Number(number) => {
            let Some(n) = number.as_f64() else { return };
            // Integer formats are checked exactly: i64::MAX has no exact f64, and a value just past
            // it must be named here rather than fail later in deserialisation without a field.
            let format_range: Option<(i128, i128)> =
                match rules.get("format").and_then(Value::as_str) {
                    Some("uint8") => Some((0, u8::MAX.into())),
                    Some("uint16") => Some((0, u16::MAX.into())),
                    Some("uint32") => Some((0, u32::MAX.into())),
                    Some("uint64" | "uint") => Some((0, u64::MAX.into())),
                    Some("int8") => Some((i8::MIN.into(), i8::MAX.into())),
                    Some("int16") => Some((i16::MIN.into(), i16::MAX.into())),
                    Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
                    Some("int64" | "int") => Some((i64::MIN.into(), i64::MAX.into())),
                    _ => None,
                };
            let exact = number
                .as_i64()
                .map(i128::from)
                .or_else(|| number.as_u64().map(i128::from));
            let minimum = rules.get("minimum").and_then(Value::as_f64);
            let maximum = rules.get("maximum").and_then(Value::as_f64);
            if let Some(min) = minimum
                && n < min
            {
                report!("expected a number ≥ {min}, got {number}");
            } else if let Some(max) = maximum
                && n > max
            {
                report!("expected a number ≤ {max}, got {number}");
            } else if let (Some(v), Some((low, _))) = (exact, format_range)
                && v < low
            {
                report!("expected a number ≥ {low}, got {number}");
            } else if let (Some(v), Some((_, high))) = (exact, format_range)
                && v > high
            {
                report!("expected a number ≤ {high}, got {number}");
            } else if let Some(min) = rules.get("exclusiveMinimum").and_then(Value::as_f64)
                && n <= min
            {
                report!("expected a number > {min}, got {number}");
            } else if let Some(max) = rules.get("exclusiveMaximum").and_then(Value::as_f64)
                && n >= max
            {
                report!("expected a number < {max}, got {number}");
            }
        }
        Value::String(text) => {
            let length = text.chars().count() as u64;
            if let Some(min) = rules.get("minLength").and_then(Value::as_u64)
                && length < min
            {
                report!("expected at least {min} characters, got {length}");
            }
            if let Some(max) = rules.get("maxLength").and_then(Value::as_u64)
                && length > max
            {
                report!("expected at most {max} characters, got {length}");
            }
        }
        Value::Array(items) => {
            if let Some(min) = rules.get("minItems").and_then(Value::as_u64)
                && (items.len() as u64) < min
            {
                report!("expected at least {min} items, got {}", items.len());
            }
            if let Some(max) = rules.get("maxItems").and_then(Value::as_u64)
                && (items.len() as u64) > max
            {
                report!("expected at most {max} items, got {}", items.len());
            }
            if let Some(item_schema) = rules.get("items") {
                for (idx, item) in items.iter().enumerate() {
                    let item_path = if quiet {
                        String::new()
                    } else {
                        format!("{path}[{idx}]")
                    };
                    check(
                        item,
                        item_schema,
                        root,
                        &item_path,
                        problems,
                        depth + 1,
                        quiet,
                    );
                }
            }
        }
        Value::Object(map) => {
            let properties = rules.get("properties").and_then(Value::as_object);
            if let Some(Value::Array(required)) = rules.get("required") {
                for key in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(key) {
                        let expected = || {
                            properties
                                .and_then(|p| p.get(key))
                                .map(|s| describe(s, root, 0))
                                .unwrap_or_else(|| "a value".into())
                        };
                        problems.push(problem(quiet, || {
                            (
                                child(&key),
                                format!("missing required argument (expected {})", expected()),
                            )
                        }));
                    }
                }
            }
            for (key, inner) in map {
                match properties.and_then(|p| p.get(key)) {
                    Some(property_schema) => check(
                        inner,
                        property_schema,
                        root,
                        &child(key),
                        problems,
                        depth + 1,
                        quiet,
                    ),
                    None => {
                        // Only nested objects are checked here; unknown top-level arguments are
                        // reported by `validate_arguments` with the list of known ones.
                        if !path.is_empty() {
                            match rules.get("additionalProperties") {
                                Some(Value::Bool(false)) => problems
                                    .push(problem(quiet, || (child(key), "unknown field".into()))),
                                Some(extra @ Value::Object(_)) => check(
                                    inner,
                                    extra,
                                    root,
                                    &child(key),
                                    problems,
                                    depth + 1,
                                    quiet,
                                ),
                                _ => {}
                            }
                        }
                    }
                }
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

/// A problem, or (`quiet`) an empty entry that only counts.
fn problem(quiet: bool, compose: impl FnOnce() -> (String, String)) -> ArgumentProblem {
    let (path, message) = if quiet {
        (String::new(), String::new())
    } else {
        compose()
    };
    ArgumentProblem { path, message }
}

fn type_matches(value: &Value, schema: &Value) -> bool {
    let matches_one = |name: &str| match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    match schema.get("type") {
        Some(Value::String(name)) => matches_one(name),
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).any(matches_one),
        // Without a type, anything of the right shape for the other keywords matches.
        _ => true,
    }
}

/// A short phrase for what `schema` accepts, e.g. "a string", "an integer ≥ 0 or null",
/// `one of "csv", "json"`.
pub fn describe(schema: &Value, root: &Value, depth: usize) -> String {
    let schema = resolve(schema, root);
    if let Some((values, nullable)) = constants(schema, root, 0) {
        let listed: Vec<String> = values.iter().map(Value::to_string).collect();
        let phrase = match listed.as_slice() {
            [one] => one.clone(),
            _ => format!("one of {}", listed.join(", ")),
        };
        return if nullable {
            format!("{phrase} or null")
        } else {
            phrase
        };
    }
    let mut phrases = Vec::new();
    collect_phrases(schema, root, depth, &mut phrases);
    alternatives(&phrases)
}

/// The phrases of a schema's alternatives, nested `anyOf`/`oneOf` flattened and duplicates
/// dropped, so that a union reads "a string, a number or null" rather than repeating itself.
fn collect_phrases(schema: &Value, root: &Value, depth: usize, phrases: &mut Vec<String>) {
    fn push_unique(phrases: &mut Vec<String>, phrase: String) {
        if !phrases.contains(&phrase) {
            phrases.push(phrase);
        }
    }
    if depth > 4 {
        push_unique(phrases, "a value".into());
        return;
    }
    let schema = resolve(schema, root);
    for keyword in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = schema.get(keyword) {
            for option in options {
                let option = resolve(option, root);
                if constants(option, root, 0).is_some() {
                    push_unique(phrases, describe(option, root, depth + 1));
                } else {
                    collect_phrases(option, root, depth + 1, phrases);
                }
            }
            return;
        }
    }
    let describe_type = |name: &str| -> String {
        match name {
            "null" => "null".into(),
            "boolean" => "true or false".into(),
            "string" => match schema.get("format").and_then(Value::as_str) {
                Some("date") => "a date (YYYY-MM-DD)".into(),
                Some("date-time") => "a date-time (RFC 3339)".into(),
                _ => "a string".into(),
            },
            "integer" => match schema.get("minimum").and_then(Value::as_f64) {
                Some(0.0) => "a non-negative integer".into(),
                Some(min) => format!("an integer ≥ {min}"),
                None => "an integer".into(),
            },
            "number" => "a number".into(),
            "array" => match schema.get("items") {
                Some(items) => {
                    // Only a simple item phrase helps; a union of item shapes is noise next to
                    // "an array", which is what a value of the wrong type needs to hear.
                    let item = describe(items, root, depth + 1);
                    match item.strip_prefix("a ").or_else(|| item.strip_prefix("an ")) {
                        Some(bare) if !bare.contains(' ') && bare != "value" => {
                            format!("an array of {}", plural(bare))
                        }
                        _ => "an array".into(),
                    }
                }
                None => "an array".into(),
            },
            "object" => "an object".into(),
            other => format!("a {other}"),
        }
    };
    match schema.get("type") {
        Some(Value::String(name)) => push_unique(phrases, describe_type(name)),
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .for_each(|name| push_unique(phrases, describe_type(name))),
        _ => push_unique(phrases, "a value".into()),
    }
}

/// "a", "a or b", "a, b or c".
fn alternatives(phrases: &[String]) -> String {
    match phrases {
        [] => "a value".into(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The values a schema allows when it is a choice among fixed values (`enum`, `const`, or an
/// `anyOf`/`oneOf` of those, as schemars writes Rust enums), and whether null is allowed too.
fn constants(schema: &Value, root: &Value, depth: usize) -> Option<(Vec<Value>, bool)> {
    if depth > 8 {
        return None;
    }
    let schema = resolve(schema, root);
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        let nullable = allowed.contains(&Value::Null);
        let values: Vec<Value> = allowed.iter().filter(|v| !v.is_null()).cloned().collect();
        return (!values.is_empty()).then_some((values, nullable));
    }
    if let Some(constant) = schema.get("const") {
        return Some((vec![constant.clone()], false));
    }
    let options = ["anyOf", "oneOf"]
        .iter()
        .find_map(|keyword| schema.get(*keyword).and_then(Value::as_array))?;
    let mut values = Vec::new();
    let mut nullable = false;
    for option in options {
        let option = resolve(option, root);
        if option.get("type").and_then(Value::as_str) == Some("null") {
            nullable = true;
            continue;
        }
        let (more, more_null) = constants(option, root, depth + 1)?;
        nullable |= more_null;
        for value in more {
            if !values.contains(&value) {
                values.push(value);
            }
        }
    }
    (!values.is_empty()).then_some((values, nullable))
}

fn plural(bare: &str) -> String {
    if bare.ends_with('s') {
        bare.to_owned()
    } else {
        format!("{bare}s")
    }
}

fn show(value: &Value) -> String {
    let kind = match value {
        Value::Null => return "null".into(),
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    let mut text = value.to_string();
    if text.chars().count() > 40 {
        text = text.chars().take(37).collect::<String>() + "...";
    }
    format!("{kind} ({text})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> JsonObject {
        let value = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "nombre": {"type": "string", "description": "Company name"},
                "limit": {"type": ["integer", "null"], "format": "uint32", "minimum": 0},
                "mode": {"type": "string", "enum": ["exact", "fuzzy"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "filter": {"anyOf": [{"$ref": "#/$defs/Filter"}, {"type": "null"}]}
            },
            "required": ["nombre"],
            "$defs": {"Filter": {"type": "object", "properties": {"min_employees": {"type": "integer", "format": "int64"}}, "additionalProperties": false}}
        });
        value.as_object().unwrap().clone()
    }

    #[test]
    fn argument_problems_name_the_field_and_expectation() {
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (json!({"nombre": "Acme"}), vec![]),
            (
                json!({"nombre": "Acme", "limit": null, "filter": null}),
                vec![],
            ),
            (
                json!({}),
                vec!["`nombre`: missing required argument (expected a string)"],
            ),
            (
                json!({"nombre": 42}),
                vec!["`nombre`: expected a string, got a number (42)"],
            ),
            (
                json!({"nombre": "a", "limit": -1}),
                vec!["`limit`: expected a number ≥ 0, got -1"],
            ),
            (
                json!({"nombre": "a", "limit": 5000000000u64}),
                vec!["`limit`: expected a number ≤ 4294967295, got 5000000000"],
            ),
            (
                json!({"nombre": "a", "limit": 2.5}),
                vec!["`limit`: expected a non-negative integer or null, got a number (2.5)"],
            ),
            (
                json!({"nombre": "a", "mode": "loose"}),
                vec!["`mode`: expected one of \"exact\", \"fuzzy\", got a string (\"loose\")"],
            ),
            (
                json!({"nombre": "a", "tags": ["x", 3]}),
                vec!["`tags[1]`: expected a string, got a number (3)"],
            ),
            (
                json!({"nombre": "a", "filter": {"min_employees": "many"}}),
                vec!["`filter.min_employees`: expected an integer, got a string (\"many\")"],
            ),
            (
                json!({"nombre": "a", "filter": {"max": 1}}),
                vec!["`filter.max`: unknown field"],
            ),
            (
                json!({"nombre": "a", "filter": 3}),
                vec!["`filter`: expected an object or null, got a number (3)"],
            ),
            (
                json!({"nombre": "a", "nmbre": "b"}),
                vec![
                    "`nmbre`: unknown argument; expected one of `filter`, `limit`, `mode`, `nombre`, `tags`",
                ],
            ),
        ];
        for (arguments, expected) in cases {
            let problems: Vec<String> =
                validate_arguments(&schema(), arguments.as_object().unwrap())
                    .iter()
                    .map(ToString::to_string)
                    .collect();
            assert_eq!(problems, expected, "for {arguments}");
        }
    }

    /// The input schemas the servers really publish (from `tools/list`, descriptions left out),
    /// with the inputs of a user report: every error names the field and everything it accepts.
    #[test]
    fn real_tool_schemas_give_one_readable_sentence_per_field() {
        let import_data = json!({"$defs": {"ImportFormat": {"oneOf": [{"const": "csv", "type": "string"}, {"const": "json", "type": "string"}]}, "ImportKind": {"oneOf": [{"const": "companies", "type": "string"}, {"const": "documents", "type": "string"}]}, "OnConflict": {"oneOf": [{"const": "error", "type": "string"}, {"const": "skip", "type": "string"}, {"const": "update", "type": "string"}]}}, "properties": {"confirm": {"type": "boolean"}, "data": {"type": "string"}, "format": {"$ref": "#/$defs/ImportFormat"}, "kind": {"$ref": "#/$defs/ImportKind"}, "on_conflict": {"$ref": "#/$defs/OnConflict", "default": "error"}}, "required": ["format", "kind", "data"], "type": "object"});
        let list_companies = json!({"properties": {"city": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null}, "country": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null}, "industry": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null}, "limit": {"default": 20, "format": "uint32", "minimum": 0, "type": "integer"}, "max_employees": {"anyOf": [{"format": "int64", "type": "integer"}, {"type": "null"}], "default": null}, "min_employees": {"anyOf": [{"format": "int64", "type": "integer"}, {"type": "null"}], "default": null}, "name_contains": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null}, "offset": {"default": 0, "format": "uint32", "minimum": 0, "type": "integer"}}, "type": "object"});
        let search_records = json!({"$defs": {"FieldValue": {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"items": {"$ref": "#/$defs/FieldValue"}, "type": "array"}, {"type": "null"}]}}, "properties": {"domain": {"anyOf": [{"items": {"anyOf": [{"type": "string"}, {"items": {"$ref": "#/$defs/FieldValue"}, "type": "array"}]}, "type": "array"}, {"type": "null"}], "default": null}, "fields": {"anyOf": [{"items": {"type": "string"}, "type": "array"}, {"type": "null"}], "default": null}, "instance": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null}, "limit": {"anyOf": [{"format": "uint32", "minimum": 1, "type": "integer"}, {"type": "null"}], "default": null}, "model": {"type": "string"}, "offset": {"anyOf": [{"format": "uint64", "minimum": 0, "type": "integer"}, {"type": "null"}], "default": null}, "order": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null}}, "required": ["model"], "type": "object"});
        let rag_search = json!({"$defs": {"ConditionArg": {"properties": {"any_of": {"default": [], "items": {"$ref": "#/$defs/MetaValue"}, "type": "array"}, "gte": {"anyOf": [{"format": "double", "type": "number"}, {"type": "null"}], "default": null}, "key": {"type": "string"}, "lte": {"anyOf": [{"format": "double", "type": "number"}, {"type": "null"}], "default": null}}, "required": ["key"], "type": "object"}, "MetaValue": {"anyOf": [{"type": "boolean"}, {"format": "double", "type": "number"}, {"type": "string"}]}, "SearchMode": {"oneOf": [{"const": "hybrid", "type": "string"}, {"const": "dense", "type": "string"}, {"const": "lexical", "type": "string"}]}}, "properties": {"collection": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null}, "filter": {"anyOf": [{"items": {"$ref": "#/$defs/ConditionArg"}, "type": "array"}, {"type": "null"}]}, "k": {"anyOf": [{"format": "uint32", "minimum": 0, "type": "integer"}, {"type": "null"}], "default": null}, "mode": {"anyOf": [{"$ref": "#/$defs/SearchMode"}, {"type": "null"}], "default": null}, "query": {"type": "string"}, "score_threshold": {"anyOf": [{"format": "double", "type": "number"}, {"type": "null"}], "default": null}}, "required": ["query"], "type": "object"});
        let cases: Vec<(&Value, Value, Vec<&str>)> = vec![
            (
                &import_data,
                json!({"format": "xml", "kind": "companies", "data": "x"}),
                vec!["`format`: expected one of \"csv\", \"json\", got a string (\"xml\")"],
            ),
            (
                &import_data,
                json!({"format": "csv", "data": "x", "on_conflict": "merge"}),
                vec![
                    "`kind`: missing required argument (expected one of \"companies\", \"documents\")",
                    "`on_conflict`: expected one of \"error\", \"skip\", \"update\", got a string (\"merge\")",
                ],
            ),
            (
                &import_data,
                json!({"format": "json", "kind": "documents", "data": "[]"}),
                vec![],
            ),
            (
                &rag_search,
                json!({"query": "x", "mode": "semantic"}),
                vec![
                    "`mode`: expected one of \"hybrid\", \"dense\", \"lexical\" or null, got a string (\"semantic\")",
                ],
            ),
            (&rag_search, json!({"query": "x", "mode": "dense"}), vec![]),
            (&rag_search, json!({"query": "x", "mode": null}), vec![]),
            (
                &rag_search,
                json!({"query": "x", "filter": [{"key": "lang", "any_of": [{"x": 1}]}]}),
                vec![
                    "`filter[0].any_of[0]`: expected true or false, a number or a string, got an object ({\"x\":1})",
                ],
            ),
            (
                &list_companies,
                json!({"min_employees": 1e19}),
                vec!["`min_employees`: expected an integer or null, got a number (1e+19)"],
            ),
            (
                &list_companies,
                json!({"min_employees": 10_000_000_000_000_000_000u64}),
                vec![
                    "`min_employees`: expected a number ≤ 9223372036854775807, got 10000000000000000000",
                ],
            ),
            (
                &list_companies,
                json!({"min_employees": 9_223_372_036_854_775_807i64}),
                vec![],
            ),
            (
                &search_records,
                json!({"model": "res.partner", "domain": "[('name', '=', 'x')]"}),
                vec![
                    "`domain`: expected an array or null, got a string (\"[('name', '=', 'x')]\")",
                ],
            ),
            (
                &search_records,
                json!({"model": "res.partner", "domain": [["name", "=", {"a": 1}]]}),
                vec![
                    "`domain[0][2]`: expected a string, a number, true or false, an array or null, got an object ({\"a\":1})",
                ],
            ),
            (
                &search_records,
                json!({"model": "res.partner", "fields": "name"}),
                vec!["`fields`: expected an array of strings or null, got a string (\"name\")"],
            ),
            (
                &search_records,
                json!({"model": "res.partner", "domain": [["name", "=", "x"]]}),
                vec![],
            ),
        ];
        for (schema, arguments, expected) in cases {
            let problems: Vec<String> =
                validate_arguments(schema.as_object().unwrap(), arguments.as_object().unwrap())
                    .iter()
                    .map(ToString::to_string)
                    .collect();
            assert_eq!(problems, expected, "for {arguments}");
        }
    }

    #[test]
    fn type_arrays_become_any_of_branches() {
        let cases = [
            (
                json!({"type": ["integer", "null"], "format": "uint32", "minimum": 0, "description": "Most hits"}),
                json!({"description": "Most hits", "anyOf": [{"type": "integer", "format": "uint32", "minimum": 0}, {"type": "null"}]}),
            ),
            (json!({"type": ["string"]}), json!({"type": "string"})),
            (
                json!({"type": ["string", "integer", "null"], "minimum": 1, "description": "Id"}),
                json!({"description": "Id", "anyOf": [{"type": "string", "minimum": 1}, {"type": "integer", "minimum": 1}, {"type": "null"}]}),
            ),
            (json!({"type": "string"}), json!({"type": "string"})),
            (
                json!({"type": "object", "properties": {"tags": {"type": ["array", "null"], "items": {"type": ["string", "null"]}}}}),
                json!({"type": "object", "properties": {"tags": {"anyOf": [{"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "null"}]}}, {"type": "null"}]}}}),
            ),
        ];
        for (mut schema, expected) in cases {
            let unchanged = schema == expected;
            assert_eq!(is_portable(&schema), unchanged, "{schema}");
            make_portable(&mut schema);
            assert_eq!(schema, expected);
            assert!(is_portable(&schema), "rewritten once is enough: {schema}");
        }
        // A property that accepts anything gets an explicit list of types; the root is left alone.
        let mut free = json!({"type": "object", "properties": {"result": {"description": "Any value"}, "raw": true}});
        assert!(!is_portable(&free));
        for only_one in [
            json!({"properties": {"result": {"description": "Any value"}}}),
            json!({"properties": {"raw": true}}),
            json!({"items": {"type": ["string", "null"]}}),
            json!({"$defs": {"Filter": {"type": ["object"]}}}),
            json!({"additionalProperties": {"title": "Any"}}),
        ] {
            assert!(!is_portable(&only_one), "{only_one}");
        }
        // The root may accept anything, and a type array beside an `anyOf` is left alone.
        for kept in [
            json!(true),
            json!({"description": "Anything"}),
            json!({"type": ["string", "null"], "anyOf": [{"minLength": 1}, {"type": "null"}]}),
            json!({"additionalProperties": true}),
        ] {
            assert!(is_portable(&kept), "{kept}");
            let mut rewritten = kept.clone();
            make_portable(&mut rewritten);
            assert_eq!(rewritten, kept);
        }
        make_portable(&mut free);
        assert!(is_portable(&free), "{free}");
        for key in ["result", "raw"] {
            let branches = free["properties"][key]["anyOf"].as_array().unwrap();
            assert_eq!(branches.len(), 6, "{free}");
        }
        assert_eq!(free["properties"]["result"]["description"], "Any value");
        // The validator reads the rewritten form the same way.
        let mut portable = Value::Object(schema());
        make_portable(&mut portable);
        let problems = validate_arguments(
            portable.as_object().unwrap(),
            json!({"nombre": "a", "limit": -1}).as_object().unwrap(),
        );
        assert_eq!(
            problems[0].to_string(),
            "`limit`: expected a number ≥ 0, got -1"
        );
    }

    #[test]
    fn tool_names_and_keys_follow_client_rules() {
        let names = [
            ("consultar_empresa", true),
            ("a-b_C9", true),
            ("", false),
            ("has space", false),
            ("dotted.name", false),
            (&*"x".repeat(65), false),
            (&*"x".repeat(64), true),
        ];
        for (name, ok) in names {
            assert_eq!(is_valid_tool_name(name), ok, "{name}");
        }
        let keys = [
            ("filter.min", true),
            ("a-b", true),
            ("ñ", false),
            ("", false),
            ("$ref", false),
        ];
        for (key, ok) in keys {
            assert_eq!(is_valid_property_key(key), ok, "{key}");
        }
    }

    #[test]
    fn tools_without_annotations_or_output_schema_are_reported() {
        let tool = Tool::new("bad name", "", schema());
        let problems = tool_problems(&tool).join("\n");
        for expected in [
            "tool name `bad name`",
            "has no description",
            "has no output schema",
            "must declare annotations",
        ] {
            assert!(
                problems.contains(expected),
                "missing {expected:?} in {problems}"
            );
        }
    }
}
