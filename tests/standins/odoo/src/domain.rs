//! Odoo domains: parsing the prefix-notation list into a tree, exactly as Odoo 19's `Domain()` constructor does
//! (`odoo/orm/domains.py`), with its error messages.
//!
//! Items are read right to left onto a stack: a 3-item list is a condition, `'&'` and `'|'` pop two domains, `'!'`
//! pops one, and whatever is left is AND-ed (the implicit `&`).
//! A stack underflow is `ValueError: Domain() malformed domain [...]`, an unknown item
//! `ValueError: Domain() invalid item in domain: ...`, an unknown operator
//! `ValueError: Invalid operator in condition (...)`.
//! Field names are checked later, against a model, when the domain is evaluated.

use crate::error::OdooError;
use crate::value::{Value, py_tuple_repr};

/// Operators Odoo 19 accepts in a condition (`CONDITION_OPERATORS`, plus the two it rewrites: `<>` and `=?`).
pub const OPERATORS: &[&str] = &[
    "=",
    "!=",
    "<>",
    "<",
    ">",
    "<=",
    ">=",
    "=?",
    "in",
    "not in",
    "like",
    "not like",
    "ilike",
    "not ilike",
    "=like",
    "=ilike",
    "any",
    "not any",
];

/// A parsed domain.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// The constant TRUE (`[]`, `(1, '=', 1)`) or FALSE (`(0, '=', 1)`).
    Bool(bool),
    /// All children must match.
    And(Vec<Domain>),
    /// One child must match.
    Or(Vec<Domain>),
    /// The child must not match.
    Not(Box<Domain>),
    /// `(field_path, operator, value)`.
    Cond(Condition),
}

/// A condition `(field_path, operator, value)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// A field name, or a dotted path through relational fields (`partner_id.name`).
    pub path: String,
    /// The operator, lower-cased.
    pub operator: String,
    /// The compared value.
    pub value: Value,
}

impl Condition {
    /// `('path', 'op', value)` as Python prints the tuple.
    pub fn repr(&self) -> String {
        py_tuple_repr(&[
            Value::str(self.path.clone()),
            Value::str(self.operator.clone()),
            self.value.clone(),
        ])
    }

    /// Odoo's `DomainCondition._raise`: `<message> in condition ('path', 'op', value)`.
    pub fn error(&self, message: &str) -> OdooError {
        OdooError::value_error(format!("{message} in condition {}", self.repr()))
    }
}

/// Operators whose negation is a plain operator swap (Odoo's `_INVERSE_OPERATOR`).
fn inverse_operator(operator: &str) -> Option<&'static str> {
    Some(match operator {
        "not any" => "any",
        "not in" => "in",
        "not like" => "like",
        "not ilike" => "ilike",
        "!=" | "<>" => "=",
        "any" => "not any",
        "in" => "not in",
        "like" => "not like",
        "ilike" => "not ilike",
        "=" => "!=",
        _ => return None,
    })
}

impl Domain {
    /// Parses a domain value as `Domain(value)` does.
    pub fn parse(value: &Value) -> Result<Domain, OdooError> {
        let items = match value {
            Value::Bool(true) => return Ok(Domain::Bool(true)),
            Value::Bool(false) => return Ok(Domain::Bool(false)),
            Value::List(items) if items.is_empty() => return Ok(Domain::Bool(true)),
            Value::List(items) => items,
            other => {
                return Err(OdooError::type_error(format!(
                    "Domain() invalid argument type for domain: {}",
                    other.py_repr()
                )));
            }
        };
        let malformed =
            || OdooError::value_error(format!("Domain() malformed domain {}", value.py_repr()));
        let mut stack: Vec<Domain> = Vec::new();
        for item in items.iter().rev() {
            match item {
                Value::List(parts) if parts.len() == 3 => stack.push(Domain::leaf(parts)?),
                Value::Str(operator) if operator == "&" => {
                    let left = stack.pop().ok_or_else(malformed)?;
                    let right = stack.pop().ok_or_else(malformed)?;
                    stack.push(Domain::and(vec![left, right]));
                }
                Value::Str(operator) if operator == "|" => {
                    let left = stack.pop().ok_or_else(malformed)?;
                    let right = stack.pop().ok_or_else(malformed)?;
                    stack.push(Domain::or(vec![left, right]));
                }
                Value::Str(operator) if operator == "!" => {
                    let child = stack.pop().ok_or_else(malformed)?;
                    stack.push(child.negate());
                }
                other => {
                    return Err(OdooError::value_error(format!(
                        "Domain() invalid item in domain: {}",
                        other.py_repr()
                    )));
                }
            }
        }
        if stack.len() == 1 {
            return Ok(stack.remove(0));
        }
        stack.reverse();
        Ok(Domain::and(stack))
    }

    /// `Domain(*item)` for a 3-item list: a condition, or one of the constant leaves.
    fn leaf(parts: &[Value]) -> Result<Domain, OdooError> {
        let (field, operator, value) = (&parts[0], &parts[1], &parts[2]);
        let Value::Str(path) = field else {
            let one = Value::Int(1);
            let zero = Value::Int(0);
            let equals = Value::str("=");
            if *field == one && *operator == equals && *value == one {
                return Ok(Domain::Bool(true));
            }
            if *field == zero && *operator == equals && *value == one {
                return Ok(Domain::Bool(false));
            }
            return Err(OdooError::type_error(format!(
                "Domain() invalid arguments: {}",
                py_tuple_repr(parts)
            )));
        };
        // Odoo lower-cases the operator (with a deprecation warning) before checking it.
        let operator = match operator {
            Value::Str(text) => Value::Str(text.to_lowercase()),
            other => other.clone(),
        };
        let repr = py_tuple_repr(&[field.clone(), operator.clone(), value.clone()]);
        if path.is_empty() {
            return Err(OdooError::type_error(format!(
                "Empty field name in condition {repr}"
            )));
        }
        match operator {
            Value::Str(operator) if OPERATORS.contains(&operator.as_str()) => {
                Ok(Domain::Cond(Condition {
                    path: path.clone(),
                    operator,
                    // `checked()` turns None into False.
                    value: if *value == Value::Nil {
                        Value::Bool(false)
                    } else {
                        value.clone()
                    },
                }))
            }
            _ => Err(OdooError::value_error(format!(
                "Invalid operator in condition {repr}"
            ))),
        }
    }

    /// AND of domains, flattened and simplified as `Domain.AND` does.
    pub fn and(children: Vec<Domain>) -> Domain {
        let mut flat = Vec::new();
        for child in children {
            match child {
                Domain::Bool(true) => {}
                Domain::Bool(false) => return Domain::Bool(false),
                Domain::And(grandchildren) => flat.extend(grandchildren),
                other => flat.push(other),
            }
        }
        match flat.len() {
            0 => Domain::Bool(true),
            1 => flat.remove(0),
            _ => Domain::And(flat),
        }
    }

    /// OR of domains, flattened and simplified as `Domain.OR` does.
    pub fn or(children: Vec<Domain>) -> Domain {
        let mut flat = Vec::new();
        for child in children {
            match child {
                Domain::Bool(false) => {}
                Domain::Bool(true) => return Domain::Bool(true),
                Domain::Or(grandchildren) => flat.extend(grandchildren),
                other => flat.push(other),
            }
        }
        match flat.len() {
            0 => Domain::Bool(false),
            1 => flat.remove(0),
            _ => Domain::Or(flat),
        }
    }

    /// `~domain`: a simple condition swaps its operator, as Odoo does; anything else is wrapped in NOT.
    pub fn negate(self) -> Domain {
        match self {
            Domain::Bool(flag) => Domain::Bool(!flag),
            Domain::Not(child) => *child,
            Domain::Cond(condition) if !condition.path.contains('.') => {
                match inverse_operator(&condition.operator) {
                    Some(inverse) => Domain::Cond(Condition {
                        operator: inverse.to_string(),
                        ..condition
                    }),
                    None => Domain::Not(Box::new(Domain::Cond(condition))),
                }
            }
            other => Domain::Not(Box::new(other)),
        }
    }

    /// Every condition outside `any` sub-domains (Odoo's `iter_conditions`).
    pub fn conditions(&self) -> Vec<&Condition> {
        match self {
            Domain::Bool(_) => Vec::new(),
            Domain::And(children) | Domain::Or(children) => {
                children.iter().flat_map(Domain::conditions).collect()
            }
            Domain::Not(child) => child.conditions(),
            Domain::Cond(condition) => vec![condition],
        }
    }

    /// The domain in Odoo's list form, as `list(Domain)` gives it (n-ary operators repeat their prefix).
    pub fn to_value(&self) -> Value {
        let mut items = Vec::new();
        self.push_items(&mut items);
        Value::List(items)
    }

    fn push_items(&self, items: &mut Vec<Value>) {
        match self {
            Domain::Bool(flag) => {
                items.push(Value::List(vec![
                    Value::Int(i64::from(*flag)),
                    Value::str("="),
                    Value::Int(1),
                ]));
            }
            Domain::And(children) | Domain::Or(children) => {
                let operator = if matches!(self, Domain::And(_)) {
                    "&"
                } else {
                    "|"
                };
                for _ in 1..children.len() {
                    items.push(Value::str(operator));
                }
                for child in children {
                    child.push_items(items);
                }
            }
            Domain::Not(child) => {
                items.push(Value::str("!"));
                child.push_items(items);
            }
            Domain::Cond(condition) => items.push(Value::List(vec![
                Value::str(condition.path.clone()),
                Value::str(condition.operator.clone()),
                condition.value.clone(),
            ])),
        }
    }
}

/// SQL `LIKE` matching: `%` is any run of characters, `_` one character, `\` escapes the next one.
pub fn like_match(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let fold = |input: &str| {
        if case_insensitive {
            input.to_lowercase()
        } else {
            input.to_string()
        }
    };
    let pattern: Vec<char> = fold(pattern).chars().collect();
    let text: Vec<char> = fold(text).chars().collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Token {
        Literal(char),
        AnyOne,
        AnyRun,
    }
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < pattern.len() {
        match pattern[index] {
            '\\' if index + 1 < pattern.len() => {
                tokens.push(Token::Literal(pattern[index + 1]));
                index += 1;
            }
            '%' => tokens.push(Token::AnyRun),
            '_' => tokens.push(Token::AnyOne),
            literal => tokens.push(Token::Literal(literal)),
        }
        index += 1;
    }
    // Classic wildcard matching with backtracking on the last `%`.
    let (mut token_index, mut text_index) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while text_index < text.len() {
        match tokens.get(token_index) {
            Some(Token::AnyRun) => {
                backtrack = Some((token_index, text_index));
                token_index += 1;
            }
            Some(Token::AnyOne) => {
                token_index += 1;
                text_index += 1;
            }
            Some(Token::Literal(literal)) if *literal == text[text_index] => {
                token_index += 1;
                text_index += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    token_index = star + 1;
                    text_index = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    tokens[token_index..]
        .iter()
        .all(|token| *token == Token::AnyRun)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(path: &str, operator: &str, value: Value) -> Domain {
        Domain::Cond(Condition {
            path: path.into(),
            operator: operator.into(),
            value,
        })
    }

    fn list(items: Vec<Value>) -> Value {
        Value::List(items)
    }

    fn leaf(path: &str, operator: &str, value: Value) -> Value {
        list(vec![Value::str(path), Value::str(operator), value])
    }

    #[test]
    fn parses_prefix_notation() {
        let a = leaf("a", "=", Value::Int(1));
        let b = leaf("b", "=", Value::Int(2));
        let c = leaf("c", "=", Value::Int(3));
        let (da, db, dc) = (
            cond("a", "=", Value::Int(1)),
            cond("b", "=", Value::Int(2)),
            cond("c", "=", Value::Int(3)),
        );
        let cases = vec![
            (list(vec![]), Domain::Bool(true)),
            (Value::Bool(false), Domain::Bool(false)),
            (list(vec![a.clone()]), da.clone()),
            (
                list(vec![a.clone(), b.clone()]),
                Domain::And(vec![da.clone(), db.clone()]),
            ),
            (
                list(vec![Value::str("|"), a.clone(), b.clone()]),
                Domain::Or(vec![da.clone(), db.clone()]),
            ),
            (
                list(vec![Value::str("|"), a.clone(), b.clone(), c.clone()]),
                Domain::And(vec![Domain::Or(vec![da.clone(), db.clone()]), dc.clone()]),
            ),
            (
                list(vec![
                    Value::str("&"),
                    Value::str("|"),
                    a.clone(),
                    b.clone(),
                    c.clone(),
                ]),
                Domain::And(vec![Domain::Or(vec![da.clone(), db.clone()]), dc.clone()]),
            ),
            (
                list(vec![Value::str("!"), a.clone()]),
                cond("a", "!=", Value::Int(1)),
            ),
            (
                list(vec![Value::str("!"), leaf("a", "<", Value::Int(1))]),
                Domain::Not(Box::new(cond("a", "<", Value::Int(1)))),
            ),
            (
                list(vec![leaf("a", "ILIKE", Value::str("x"))]),
                cond("a", "ilike", Value::str("x")),
            ),
            (
                list(vec![
                    list(vec![Value::Int(1), Value::str("="), Value::Int(1)]),
                    a.clone(),
                ]),
                da.clone(),
            ),
            (
                list(vec![
                    list(vec![Value::Int(0), Value::str("="), Value::Int(1)]),
                    a.clone(),
                ]),
                Domain::Bool(false),
            ),
            (
                list(vec![leaf("a", "=", Value::Nil)]),
                cond("a", "=", Value::Bool(false)),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(Domain::parse(&input), Ok(expected), "{}", input.py_repr());
        }
    }

    #[test]
    fn malformed_domains_raise_odoos_errors() {
        let a = leaf("a", "=", Value::Int(1));
        let cases = vec![
            (
                list(vec![Value::str("&"), a.clone()]),
                OdooError::value_error("Domain() malformed domain ['&', ['a', '=', 1]]"),
            ),
            (
                list(vec![Value::str("!")]),
                OdooError::value_error("Domain() malformed domain ['!']"),
            ),
            (
                list(vec![Value::str("x"), a.clone()]),
                OdooError::value_error("Domain() invalid item in domain: 'x'"),
            ),
            (
                list(vec![list(vec![Value::str("a"), Value::str("=")])]),
                OdooError::value_error("Domain() invalid item in domain: ['a', '=']"),
            ),
            (
                list(vec![leaf("name", "contains", Value::str("x"))]),
                OdooError::value_error("Invalid operator in condition ('name', 'contains', 'x')"),
            ),
            (
                list(vec![leaf("", "=", Value::Int(1))]),
                OdooError::type_error("Empty field name in condition ('', '=', 1)"),
            ),
            (
                list(vec![list(vec![
                    Value::Int(2),
                    Value::str("="),
                    Value::Int(1),
                ])]),
                OdooError::type_error("Domain() invalid arguments: (2, '=', 1)"),
            ),
            (
                Value::str("name = x"),
                OdooError::type_error("Domain() invalid argument type for domain: 'name = x'"),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(Domain::parse(&input), Err(expected), "{}", input.py_repr());
        }
    }

    #[test]
    fn list_form_matches_odoo() {
        let domain = Domain::and(vec![
            cond("stage_id", "=", Value::Int(1)),
            Domain::Or(vec![
                cond("a", "=", Value::Int(1)),
                cond("b", "=", Value::Int(2)),
            ]),
            cond("c", "ilike", Value::str("x")),
        ]);
        assert_eq!(
            domain.to_value().py_repr(),
            "['&', '&', ['stage_id', '=', 1], '|', ['a', '=', 1], ['b', '=', 2], ['c', 'ilike', 'x']]"
        );
    }

    #[test]
    fn like_patterns() {
        let cases = [
            ("%acme%", "ACME Corporation", true, true),
            ("%acme%", "ACME Corporation", false, false),
            ("%ACME%", "ACME Corporation", false, true),
            ("acme", "acme test", true, false),
            ("acme%", "acme test", true, true),
            ("%ibérica%", "Acme Ibérica S.L.", true, true),
            ("a_me%", "acme", true, true),
            ("100\\%", "100%", false, true),
            ("100\\%", "1000", false, false),
            ("%", "", false, true),
            ("%a%b%", "xaxxbx", false, true),
            ("%a%b", "xaxxbx", false, false),
        ];
        for (pattern, text, insensitive, expected) in cases {
            assert_eq!(
                like_match(pattern, text, insensitive),
                expected,
                "{pattern} / {text}"
            );
        }
    }

    /// Odoo sends `ilike 'x'` as PostgreSQL `ILIKE '%x%'` without escaping `x`, and PostgreSQL's
    /// default escape character is the backslash: what the server escapes must match literally.
    #[test]
    fn ilike_values_are_wrapped_unescaped_with_backslash_escapes() {
        let ilike = |value: &str, text: &str| like_match(&format!("%{value}%"), text, true);
        let cases = [
            // Bare wildcards match everything, as in Odoo.
            ("%", "ACME Corporation", true),
            ("_", "ACME Corporation", true),
            ("_", "", false),
            // Escaped, they match only themselves.
            ("\\%", "ACME Corporation", false),
            ("\\%", "100% Natural", true),
            ("\\_", "ACME Corporation", false),
            ("\\_", "Under_Score SL", true),
            ("under\\_score", "UNDER_SCORE SL", true),
            ("under\\_score", "Under-Score Ltd", false),
            ("under_score", "Under-Score Ltd", true),
            // A doubled backslash is one literal backslash.
            ("\\\\", "C:\\odoo", true),
            ("\\\\", "C:/odoo", false),
            // A trailing backslash escapes Odoo's closing `%`.
            ("100\\", "a 100% b", false),
            ("100\\", "a 100%", true),
        ];
        for (value, text, expected) in cases {
            assert_eq!(ilike(value, text), expected, "ilike {value:?} on {text:?}");
        }
    }
}
