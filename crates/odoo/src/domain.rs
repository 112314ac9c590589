//! Validation of Odoo search domains and sort orders before they are sent, so that a malformed
//! filter gets an error naming the offending term instead of a Python traceback from Odoo.
//!
//! A domain is a JSON array in prefix (Polish) notation: each item is an operator `&`, `|` (two
//! operands) or `!` (one), or a condition `[field, operator, value]`; consecutive expressions at
//! the top level are joined by an implicit `&`, as Odoo does.

use serde_json::Value;

/// The condition operators accepted, as Odoo spells them.
pub const OPERATORS: [&str; 19] = [
    "=",
    "!=",
    "ilike",
    "like",
    "=ilike",
    "=like",
    "not ilike",
    "not like",
    "in",
    "not in",
    "<",
    "<=",
    ">",
    ">=",
    "child_of",
    "parent_of",
    "=?",
    "any",
    "not any",
];

/// `text` escaped for the value of an `ilike`/`like` condition so that it matches literally.
///
/// Odoo wraps the value in `%...%` and hands it to PostgreSQL `LIKE`/`ILIKE`, whose escape
/// character is the backslash: unescaped, a name of `%` or `_` would match every record.
pub fn like_literal(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Most conditions and operators a domain may hold, nested ones included.
pub const MAX_TERMS: usize = 200;

/// How deeply `any` / `not any` sub-domains may nest.
pub const MAX_DEPTH: usize = 4;

/// A domain that cannot be sent, with the reason phrased for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid domain: {0}")]
pub struct DomainError(pub String);

/// Checks `domain` and returns it normalised (operators in lower case). `sensitive` says which
/// field paths may not be filtered on.
pub fn validate(domain: &Value, sensitive: &dyn Fn(&str) -> bool) -> Result<Value, DomainError> {
    let mut budget = MAX_TERMS;
    validate_nested(domain, sensitive, 0, &mut budget).map_err(DomainError)
}

fn validate_nested(
    domain: &Value,
    sensitive: &dyn Fn(&str) -> bool,
    depth: usize,
    budget: &mut usize,
) -> Result<Value, String> {
    let Value::Array(terms) = domain else {
        return Err(format!(
            "a domain must be a JSON array such as [[\"name\", \"ilike\", \"acme\"]], got {}",
            compact(domain)
        ));
    };
    if terms.len() > *budget {
        return Err(format!(
            "a domain may hold at most {MAX_TERMS} conditions and operators"
        ));
    }
    *budget -= terms.len();
    let mut parser = Parser {
        terms,
        position: 0,
        sensitive,
        depth,
        budget,
        normalized: Vec::with_capacity(terms.len()),
    };
    while parser.position < terms.len() {
        parser.expression()?;
    }
    Ok(Value::Array(parser.normalized))
}

struct Parser<'a> {
    terms: &'a [Value],
    position: usize,
    sensitive: &'a dyn Fn(&str) -> bool,
    depth: usize,
    budget: &'a mut usize,
    normalized: Vec<Value>,
}

impl Parser<'_> {
    /// Consumes one complete expression: an operator with its operands, or a condition.
    fn expression(&mut self) -> Result<(), String> {
        let index = self.position;
        let term = &self.terms[index];
        self.position += 1;
        let number = index + 1;
        match term {
            Value::String(operator) => {
                let arity = match operator.as_str() {
                    "&" | "|" => 2,
                    "!" => 1,
                    _ => {
                        return Err(format!(
                            "term {number} `{}` is neither a condition [field, operator, value] nor one of the operators \"&\", \"|\", \"!\"",
                            compact(term)
                        ));
                    }
                };
                self.normalized.push(term.clone());
                for found in 0..arity {
                    if self.position >= self.terms.len() {
                        let noun = if arity == 1 {
                            "condition"
                        } else {
                            "conditions"
                        };
                        return Err(format!(
                            "term {number} `{}` needs {arity} {noun} after it, but the domain ends after {found} (operators come first: [\"|\", A, B])",
                            compact(term)
                        ));
                    }
                    self.expression()?;
                }
                Ok(())
            }
            Value::Array(items) => {
                let condition = self.condition(number, term, items)?;
                self.normalized.push(condition);
                Ok(())
            }
            _ => Err(format!(
                "term {number} `{}` must be a condition [field, operator, value] or one of the operators \"&\", \"|\", \"!\"",
                compact(term)
            )),
        }
    }

    fn condition(&mut self, number: usize, term: &Value, items: &[Value]) -> Result<Value, String> {
        let shown = compact(term);
        let [field, operator, value] = items else {
            return Err(format!(
                "term {number} `{shown}` must have 3 items [field, operator, value], not {}",
                items.len()
            ));
        };
        let Some(field) = field.as_str().filter(|f| is_field_path(f)) else {
            return Err(format!(
                "term {number} `{shown}` must start with a field name such as \"name\" or \"partner_id.name\""
            ));
        };
        if (self.sensitive)(field) {
            return Err(format!(
                "term {number} `{shown}` filters on '{field}', a sensitive field this server never reads"
            ));
        }
        let Some(operator) = operator
            .as_str()
            .map(|op| op.trim().to_ascii_lowercase())
            .filter(|op| OPERATORS.contains(&op.as_str()))
        else {
            let named = operator
                .as_str()
                .map(|op| format!("'{op}'"))
                .unwrap_or_else(|| compact(operator));
            return Err(format!(
                "term {number} `{shown}` has unknown operator {named}; use one of {}",
                OPERATORS.join(", ")
            ));
        };
        let value = self.value(number, &shown, &operator, value)?;
        Ok(Value::Array(vec![
            Value::String(field.to_owned()),
            Value::String(operator),
            value,
        ]))
    }

    fn value(
        &mut self,
        number: usize,
        shown: &str,
        operator: &str,
        value: &Value,
    ) -> Result<Value, String> {
        let scalar = |v: &Value| !matches!(v, Value::Array(_) | Value::Object(_));
        let problem = match operator {
            "any" | "not any" => {
                if self.depth + 1 > MAX_DEPTH {
                    return Err(format!(
                        "term {number} `{shown}` nests sub-domains more than {MAX_DEPTH} deep"
                    ));
                }
                if !value.is_array() {
                    Some("a sub-domain (a list of conditions)".to_owned())
                } else {
                    return validate_nested(value, self.sensitive, self.depth + 1, self.budget)
                        .map_err(|inner| {
                            format!("in the sub-domain of term {number} `{shown}`: {inner}")
                        });
                }
            }
            "in" | "not in" => match value {
                Value::Array(items) if items.iter().all(scalar) => None,
                _ => Some("a list of values such as [1, 2] or [\"a\", \"b\"]".to_owned()),
            },
            "child_of" | "parent_of" => match value {
                Value::Number(_) | Value::String(_) => None,
                Value::Array(items) if items.iter().all(|i| i.is_number() || i.is_string()) => None,
                _ => Some("a record id, a name, or a list of ids".to_owned()),
            },
            "like" | "ilike" | "not like" | "not ilike" | "=like" | "=ilike" => match value {
                Value::String(_) | Value::Number(_) => None,
                _ => Some("a text pattern".to_owned()),
            },
            "<" | "<=" | ">" | ">=" => match value {
                Value::String(_) | Value::Number(_) => None,
                _ => Some("a number, date or text to compare with".to_owned()),
            },
            // "=", "!=", "=?": any single value, false/null for "not set".
            _ => (!scalar(value)).then(|| "a single value (use 'in' for a list)".to_owned()),
        };
        match problem {
            Some(expected) => Err(format!(
                "term {number} `{shown}`: operator '{operator}' needs {expected}, got {}",
                compact(value)
            )),
            None => Ok(value.clone()),
        }
    }
}

/// A field name or dotted path: `name`, `partner_id.country_id.code`.
fn is_field_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 256
        && path.split('.').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// Checks a sort order such as `"expected_revenue desc, name"`; returns it trimmed.
pub fn validate_order(order: &str, sensitive: &dyn Fn(&str) -> bool) -> Result<String, String> {
    let order = order.trim();
    if order.is_empty() {
        return Ok(String::new());
    }
    for part in order.split(',') {
        let words: Vec<String> = part
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect();
        let field = words.first().map(String::as_str).unwrap_or_default();
        let rest: Vec<&str> = words.iter().skip(1).map(String::as_str).collect();
        let direction_ok = matches!(
            rest.as_slice(),
            [] | ["asc"]
                | ["desc"]
                | ["nulls", "first" | "last"]
                | ["asc" | "desc", "nulls", "first" | "last"]
        );
        if !is_field_path(field) || !direction_ok {
            return Err(format!(
                "invalid order `{}`: use comma-separated fields, each optionally followed by asc or desc, e.g. \"expected_revenue desc, name\"",
                part.trim()
            ));
        }
        if sensitive(field) {
            return Err(format!(
                "invalid order: '{field}' is a sensitive field this server never reads"
            ));
        }
    }
    Ok(order.to_owned())
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 120 {
        let cut: String = text.chars().take(117).collect();
        format!("{cut}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sensitive(field: &str) -> bool {
        field.split('.').any(|part| part.contains("password"))
    }

    #[test]
    fn like_literal_escapes_wildcards_and_backslash() {
        let cases = [
            ("acme", "acme"),
            ("%", "\\%"),
            ("_", "\\_"),
            ("50% off_now", "50\\% off\\_now"),
            ("a\\b", "a\\\\b"),
            ("Ibérica", "Ibérica"),
            ("", ""),
        ];
        for (text, expected) in cases {
            assert_eq!(like_literal(text), expected, "{text}");
        }
    }

    #[test]
    fn valid_domains_pass_and_are_normalised() {
        // (domain, normalised form)
        let cases = [
            (json!([]), json!([])),
            (
                json!([["name", "ilike", "acme"]]),
                json!([["name", "ilike", "acme"]]),
            ),
            (
                json!([["name", "ILIKE", "acme"], ["is_company", "=", true]]),
                json!([["name", "ilike", "acme"], ["is_company", "=", true]]),
            ),
            (
                json!([
                    "|",
                    ["email", "=ilike", "%@acme.com"],
                    "!",
                    ["phone", "=", false]
                ]),
                json!([
                    "|",
                    ["email", "=ilike", "%@acme.com"],
                    "!",
                    ["phone", "=", false]
                ]),
            ),
            (
                json!(["&", "|", ["a", "=", 1], ["b", "=", 2], ["c", "in", [1, 2]]]),
                json!(["&", "|", ["a", "=", 1], ["b", "=", 2], ["c", "in", [1, 2]]]),
            ),
            (
                json!([["partner_id.country_id.code", "=", "ES"]]),
                json!([["partner_id.country_id.code", "=", "ES"]]),
            ),
            (
                json!([["order_line", "any", [["product_id.name", "ilike", "chair"]]]]),
                json!([["order_line", "any", [["product_id.name", "ilike", "chair"]]]]),
            ),
            (
                json!([["parent_id", "child_of", 7], ["date", ">=", "2024-01-01"]]),
                json!([["parent_id", "child_of", 7], ["date", ">=", "2024-01-01"]]),
            ),
            (
                json!([["user_id", "=?", null], ["tag_ids", "not in", []]]),
                json!([["user_id", "=?", null], ["tag_ids", "not in", []]]),
            ),
        ];
        for (domain, normalised) in cases {
            assert_eq!(
                validate(&domain, &sensitive).as_ref(),
                Ok(&normalised),
                "{domain}"
            );
        }
    }

    #[test]
    fn invalid_domains_name_the_offending_term() {
        // (domain, the exact message, or a part of it)
        let cases = [
            (
                json!([["name", "ilike", "a"], ["name", "contains", "x"]]),
                "invalid domain: term 2 `[\"name\",\"contains\",\"x\"]` has unknown operator 'contains'; use one of =, !=, ilike, like, =ilike, =like, not ilike, not like, in, not in, <, <=, >, >=, child_of, parent_of, =?, any, not any",
            ),
            (
                json!("name = acme"),
                "invalid domain: a domain must be a JSON array",
            ),
            (
                json!({"name": "acme"}),
                "invalid domain: a domain must be a JSON array",
            ),
            (
                json!(["|", ["a", "=", 1]]),
                "invalid domain: term 1 `\"|\"` needs 2 conditions after it, but the domain ends after 1",
            ),
            (
                json!(["!"]),
                "term 1 `\"!\"` needs 1 condition after it, but the domain ends after 0",
            ),
            (
                json!([["a", "=", 1], "&"]),
                "term 2 `\"&\"` needs 2 conditions after it, but the domain ends after 0",
            ),
            (
                json!(["AND", ["a", "=", 1]]),
                "term 1 `\"AND\"` is neither a condition [field, operator, value] nor one of the operators",
            ),
            (
                json!([["name", "acme"]]),
                "term 1 `[\"name\",\"acme\"]` must have 3 items [field, operator, value], not 2",
            ),
            (
                json!([["name", "=", "a", "b"]]),
                "must have 3 items [field, operator, value], not 4",
            ),
            (
                json!([[3, "=", 1]]),
                "term 1 `[3,\"=\",1]` must start with a field name",
            ),
            (json!([["na me", "=", 1]]), "must start with a field name"),
            (json!([42]), "term 1 `42` must be a condition"),
            (
                json!([["id", "in", 5]]),
                "term 1 `[\"id\",\"in\",5]`: operator 'in' needs a list of values",
            ),
            (
                json!([["name", "=", {"x": 1}]]),
                "operator '=' needs a single value",
            ),
            (
                json!([["name", "ilike", ["a"]]]),
                "operator 'ilike' needs a text pattern",
            ),
            (
                json!([["order_line", "any", "chair"]]),
                "operator 'any' needs a sub-domain",
            ),
            (
                json!([["order_line", "any", [["x", "has", 1]]]]),
                "in the sub-domain of term 1 `[\"order_line\",\"any\",[[\"x\",\"has\",1]]]`: term 1 `[\"x\",\"has\",1]` has unknown operator 'has'",
            ),
            (
                json!([["user_id.password", "=", "x"]]),
                "filters on 'user_id.password', a sensitive field this server never reads",
            ),
            (json!([["name", 5, "x"]]), "has unknown operator 5"),
        ];
        for (domain, expected) in cases {
            let error = validate(&domain, &sensitive).unwrap_err().to_string();
            assert!(
                error.contains(expected),
                "{domain}:\n  got      {error}\n  expected {expected}"
            );
        }
    }

    #[test]
    fn oversized_and_deep_domains_are_refused() {
        let many: Vec<Value> = (0..=MAX_TERMS).map(|i| json!(["id", "=", i])).collect();
        let error = validate(&Value::Array(many), &sensitive).unwrap_err();
        assert!(error.0.contains("at most 200"), "{error}");
        let mut deep = json!([["name", "=", "x"]]);
        for _ in 0..=MAX_DEPTH {
            deep = json!([["child_ids", "any", deep]]);
        }
        let error = validate(&deep, &sensitive).unwrap_err();
        assert!(error.0.contains("more than 4 deep"), "{error}");
    }

    #[test]
    fn orders_are_checked() {
        // (order, accepted)
        let cases = [
            ("name", true),
            ("expected_revenue desc, name", true),
            ("date_deadline ASC NULLS LAST", true),
            ("", true),
            ("name; drop table", false),
            ("name sideways", false),
            ("(select 1)", false),
            ("password", false),
        ];
        for (order, accepted) in cases {
            assert_eq!(
                validate_order(order, &sensitive).is_ok(),
                accepted,
                "{order}"
            );
        }
    }
}
