//! Argument schemas several tools share: field values, domains and method arguments, written by
//! hand where schemars alone would describe them less portably.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde_json::{Value, json};

/// Which configured Odoo instance a call goes to; every tool takes it, flattened into its
/// arguments.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct InstanceArg {
    /// Which configured Odoo instance to use (default: the configured default)
    #[serde(default)]
    instance: Option<String>,
}

impl InstanceArg {
    /// The instance named, if any (`None` means the default one).
    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }
}

/// One field and the value to give it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct FieldValueArg {
    /// Technical field name, e.g. "email" (describe_model lists them)
    pub field: String,
    /// The value: text, a number, true/false, null to clear it; a record id for a many2one field; a list of ids for a many2many field (or Odoo commands such as [[6, 0, [1, 2]]]); dates as "YYYY-MM-DD", datetimes as "YYYY-MM-DDTHH:MM:SSZ" (UTC)
    #[schemars(schema_with = "field_value_ref")]
    pub value: Value,
}

/// One named argument of a method.
// Not `Serialize`: schemars would then add `"default": null` to `call_method`'s `kwargs`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct NamedValueArg {
    /// The parameter's name
    pub name: String,
    /// Its value
    #[schemars(schema_with = "field_value_ref")]
    pub value: Value,
}

/// A JSON value without objects: what Odoo field values, domain terms and method arguments are
/// made of. Recursive through `$defs`, so that it converts to OpenAI strict mode.
pub(super) fn field_value_ref(generator: &mut SchemaGenerator) -> Schema {
    generator
        .definitions_mut()
        .entry("FieldValue")
        .or_insert(json!({
            "description": "A value: text, number, true/false, null, or a list of values",
            "anyOf": [
                {"type": "string"},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "array", "items": {"$ref": "#/$defs/FieldValue"}},
                {"type": "null"}
            ]
        }));
    json_schema!({"$ref": "#/$defs/FieldValue"})
}

/// An optional domain: a list whose items are operators or `[field, operator, value]` lists.
pub(super) fn domain_schema(generator: &mut SchemaGenerator) -> Schema {
    let value = field_value_ref(generator);
    json_schema!({
        "anyOf": [
            {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"type": "string"},
                        {"type": "array", "items": value}
                    ]
                }
            },
            {"type": "null"}
        ]
    })
}

/// Optional positional method arguments.
pub(super) fn args_schema(generator: &mut SchemaGenerator) -> Schema {
    let value = field_value_ref(generator);
    json_schema!({
        "anyOf": [
            {"type": "array", "items": value},
            {"type": "null"}
        ]
    })
}

/// `{field, value}` pairs as ops takes them.
pub(super) fn pairs(values: &[FieldValueArg]) -> Vec<(String, Value)> {
    values
        .iter()
        .map(|v| (v.field.clone(), v.value.clone()))
        .collect()
}
