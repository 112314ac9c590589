//! Stripe's search query language, the subset its docs describe: clauses `field:'value'` (exact, case-insensitive),
//! `field~'sub'` (substring, at least 3 characters), `metadata['key']:'value'`, `field>N` / `<` / `>=` / `<=` on
//! numeric fields, `field:null`, `-clause` to negate, joined all by `AND` (or a space) or all by `OR` (keywords in
//! any case; mixing them is refused, as Stripe does), at most 10 clauses. Unquoted numbers also match text fields
//! (`payment_method_details.card.last4:4242`, as in Stripe's examples).

use serde_json::Value;

use crate::error::ApiError;

/// How a field is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text (exact or substring).
    Text,
    /// A number (`amount`, `created`, …), also with range operators.
    Number,
    /// `metadata['key']`.
    Metadata,
}

/// One searchable field: its query name, kind, and where it lives in the object (dotted path).
pub type Field = (&'static str, Kind, &'static str);

/// The search fields Stripe documents per resource.
pub fn fields(resource: &str) -> &'static [Field] {
    use Kind::*;
    match resource {
        "customers" => &[
            ("created", Number, "created"),
            ("email", Text, "email"),
            ("metadata", Metadata, "metadata"),
            ("name", Text, "name"),
            ("phone", Text, "phone"),
        ],
        "payment_intents" => &[
            ("amount", Number, "amount"),
            ("created", Number, "created"),
            ("currency", Text, "currency"),
            ("customer", Text, "customer"),
            ("metadata", Metadata, "metadata"),
            ("status", Text, "status"),
        ],
        "charges" => &[
            ("amount", Number, "amount"),
            (
                "billing_details.address.postal_code",
                Text,
                "billing_details.address.postal_code",
            ),
            ("created", Number, "created"),
            ("currency", Text, "currency"),
            ("customer", Text, "customer"),
            ("disputed", Text, "disputed"),
            ("metadata", Metadata, "metadata"),
            ("payment_intent", Text, "payment_intent"),
            (
                "payment_method_details.card.last4",
                Text,
                "payment_method_details.card.last4",
            ),
            ("refunded", Text, "refunded"),
            ("status", Text, "status"),
        ],
        "invoices" => &[
            ("created", Number, "created"),
            ("currency", Text, "currency"),
            ("customer", Text, "customer"),
            ("metadata", Metadata, "metadata"),
            ("number", Text, "number"),
            ("receipt_number", Text, "receipt_number"),
            ("status", Text, "status"),
            (
                "subscription",
                Text,
                "parent.subscription_details.subscription",
            ),
            ("total", Number, "total"),
        ],
        "subscriptions" => &[
            ("created", Number, "created"),
            ("metadata", Metadata, "metadata"),
            ("status", Text, "status"),
        ],
        "products" => &[
            ("active", Text, "active"),
            ("created", Number, "created"),
            ("description", Text, "description"),
            ("metadata", Metadata, "metadata"),
            ("name", Text, "name"),
            ("shippable", Text, "shippable"),
            ("url", Text, "url"),
        ],
        "prices" => &[
            ("active", Text, "active"),
            ("created", Number, "created"),
            ("currency", Text, "currency"),
            ("lookup_key", Text, "lookup_key"),
            ("metadata", Metadata, "metadata"),
            ("product", Text, "product"),
            ("type", Text, "type"),
        ],
        _ => &[],
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Exact,
    Substring,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Text(String),
    /// An unquoted number, with its text (`last4:4242` compares the text against a string field).
    Number(f64, String),
    /// `field:null`.
    Null,
}

#[derive(Debug, Clone)]
struct Clause {
    negated: bool,
    field: Field,
    metadata_key: Option<String>,
    op: Op,
    value: Literal,
}

/// A parsed query, ready to match objects.
#[derive(Debug, Clone)]
pub struct Query {
    clauses: Vec<Clause>,
    any: bool,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::invalid(message, Some("query"))
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.at = self.text.len() - trimmed.len();
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn word(&mut self) -> &'a str {
        let rest = self.rest();
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        self.at += end;
        &rest[..end]
    }

    fn quoted(&mut self) -> Result<String, ApiError> {
        let rest = self.rest();
        let Some(quote) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            return Err(bad(format!(
                "Invalid query: expected a quoted value at `{rest}`"
            )));
        };
        let mut out = String::new();
        let mut escaped = false;
        for (offset, c) in rest[1..].char_indices() {
            if escaped {
                out.push(c);
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == quote {
                self.at += 1 + offset + c.len_utf8();
                return Ok(out);
            } else {
                out.push(c);
            }
        }
        Err(bad("Invalid query: unterminated quoted value"))
    }
}

impl Query {
    /// Parses `query` for `resource` (e.g. `customers`), failing as Stripe does with param `query`.
    pub fn parse(resource: &str, query: &str) -> Result<Query, ApiError> {
        let known = fields(resource);
        let mut cursor = Cursor { text: query, at: 0 };
        let mut clauses = Vec::new();
        let mut joiner: Option<bool> = None;
        cursor.skip_space();
        if cursor.rest().is_empty() {
            return Err(bad("Invalid query: the query must not be empty"));
        }
        loop {
            cursor.skip_space();
            let negated = cursor.eat("-");
            let name = cursor.word();
            if name.is_empty() {
                return Err(bad(format!(
                    "Invalid query: expected a field name at `{}`",
                    cursor.rest()
                )));
            }
            let Some(field) = known.iter().find(|field| field.0 == name).copied() else {
                return Err(bad(format!(
                    "Field `{name}` is an unsupported search field for resource `{resource}`. See http://stripe.com/docs/search#query-fields-for-{} for a list of supported fields.",
                    resource.replace('_', "-")
                )));
            };
            let metadata_key = if field.1 == Kind::Metadata {
                if !cursor.eat("[") {
                    return Err(bad(
                        "Invalid query: metadata must be followed by a key, as in metadata['key']",
                    ));
                }
                let key = cursor.quoted()?;
                if !cursor.eat("]") {
                    return Err(bad("Invalid query: expected `]` after the metadata key"));
                }
                Some(key)
            } else {
                None
            };
            let op = if cursor.eat(":") {
                Op::Exact
            } else if cursor.eat("~") {
                Op::Substring
            } else if cursor.eat(">=") {
                Op::GreaterOrEqual
            } else if cursor.eat("<=") {
                Op::LessOrEqual
            } else if cursor.eat(">") {
                Op::Greater
            } else if cursor.eat("<") {
                Op::Less
            } else {
                return Err(bad(format!(
                    "Invalid query: expected an operator (:, ~, >, <, >=, <=) after `{name}`"
                )));
            };
            let value = if cursor.rest().starts_with(['\'', '"']) {
                Literal::Text(cursor.quoted()?)
            } else {
                let word = cursor.word();
                match word.parse::<f64>() {
                    Ok(number) => Literal::Number(number, word.to_string()),
                    Err(_) if word == "null" && op == Op::Exact => Literal::Null,
                    Err(_) => {
                        return Err(bad(format!(
                            "Invalid query: `{word}` must be a quoted string or a number"
                        )));
                    }
                }
            };
            let ranged = matches!(
                op,
                Op::Greater | Op::GreaterOrEqual | Op::Less | Op::LessOrEqual
            );
            if ranged && (field.1 != Kind::Number || !matches!(value, Literal::Number(..))) {
                return Err(bad(format!(
                    "Invalid query: range operators only apply to numeric fields and numbers, not `{name}`"
                )));
            }
            if op == Op::Substring {
                match &value {
                    Literal::Text(text) if field.1 != Kind::Number && text.chars().count() >= 3 => {
                    }
                    _ => {
                        return Err(bad(format!(
                            "Invalid query: substring matches (~) need a text field and at least 3 characters, at `{name}`"
                        )));
                    }
                }
            }
            clauses.push(Clause {
                negated,
                field,
                metadata_key,
                op,
                value,
            });
            if clauses.len() > 10 {
                return Err(bad("Invalid query: a query can have at most 10 clauses"));
            }
            cursor.skip_space();
            if cursor.rest().is_empty() {
                break;
            }
            // Clauses separated only by a space are joined with AND, as in Stripe; the keywords are case-insensitive.
            let before_word = cursor.at;
            let word = cursor.word();
            let or = if word.eq_ignore_ascii_case("and") {
                false
            } else if word.eq_ignore_ascii_case("or") {
                true
            } else {
                cursor.at = before_word;
                false
            };
            if joiner.is_some_and(|previous| previous != or) {
                return Err(bad(
                    "Invalid query: combining AND and OR in the same query is not supported; use one of them",
                ));
            }
            joiner = Some(or);
            cursor.skip_space();
            if cursor.rest().is_empty() {
                return Err(bad("Invalid query: the query ends after AND/OR"));
            }
        }
        Ok(Query {
            clauses,
            any: joiner.unwrap_or(false),
        })
    }

    /// Whether `object` satisfies the query.
    pub fn matches(&self, object: &Value) -> bool {
        let mut results = self.clauses.iter().map(|clause| clause.matches(object));
        if self.any {
            results.any(|ok| ok)
        } else {
            results.all(|ok| ok)
        }
    }
}

fn lookup<'a>(object: &'a Value, path: &str) -> &'a Value {
    let mut current = object;
    for part in path.split('.') {
        current = current.get(part).unwrap_or(&Value::Null);
    }
    current
}

impl Clause {
    fn matches(&self, object: &Value) -> bool {
        let mut target = lookup(object, self.field.2);
        if let Some(key) = &self.metadata_key {
            target = target.get(key).unwrap_or(&Value::Null);
        }
        // Expanded references compare by id.
        if let Some(id) = target.get("id") {
            target = id;
        }
        let found = match (&self.value, target) {
            (Literal::Null, value) => value.is_null(),
            (_, Value::Null) => false,
            (Literal::Number(_, text), Value::String(actual)) => {
                self.op == Op::Exact && actual.eq_ignore_ascii_case(text)
            }
            (Literal::Number(wanted, _), value) => match value.as_f64() {
                Some(actual) => match self.op {
                    Op::Exact => actual == *wanted,
                    Op::Greater => actual > *wanted,
                    Op::GreaterOrEqual => actual >= *wanted,
                    Op::Less => actual < *wanted,
                    Op::LessOrEqual => actual <= *wanted,
                    Op::Substring => false,
                },
                None => false,
            },
            (Literal::Text(wanted), value) => {
                let actual = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                let actual = actual.to_lowercase();
                let wanted = wanted.to_lowercase();
                match self.op {
                    Op::Exact => actual == wanted,
                    Op::Substring => actual.contains(&wanted),
                    _ => false,
                }
            }
        };
        found != self.negated
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn customer() -> Value {
        json!({"email": "Ann@Example.com", "name": "Ann Lee", "created": 100, "metadata": {"tier": "gold"}})
    }

    #[test]
    fn clauses_match_exact_substring_metadata_and_ranges() {
        let check = |query: &str| {
            Query::parse("customers", query)
                .unwrap()
                .matches(&customer())
        };
        assert!(check("email:'ann@example.com'"));
        assert!(check("name~'lee'"));
        assert!(check("metadata['tier']:'gold'"));
        assert!(check("created>99 AND created<=100"));
        assert!(!check("-email:'ann@example.com'"));
        assert!(check("email:'x@y.z' OR name:\"Ann Lee\""));
        assert!(
            check("email:'ann@example.com' name~'ann'"),
            "a space joins with AND"
        );
        assert!(
            check("email:'x@y.z' or name:'ann lee'"),
            "keywords are case-insensitive"
        );
        assert!(check("phone:null AND -email:null"));
        assert!(check("metadata[\"tier\"]:\"gold\""));
        assert!(!check("email:'x@y.z' AND name:'Ann Lee'"));
    }

    #[test]
    fn bad_queries_name_the_query_param() {
        for query in [
            "",
            "unknown:'x'",
            "email:'a' AND name:'b' OR phone:'c'",
            "email>3",
            "name~'ab'",
            "email:unquoted",
            "email:'open",
            "email:'a' AND",
            "email:'a' AND OR name:'b'",
            "metadata:'x'",
        ] {
            let error = Query::parse("customers", query).unwrap_err();
            assert_eq!(error.param.as_deref(), Some("query"), "{query}");
        }
    }
}
