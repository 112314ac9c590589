//! Turning a [`Filter`] into an SQL condition on the `chunks` table, with every value bound as a
//! parameter.

use rusqlite::types::Value as SqlValue;
use serde_json::Value;

use crate::model::{Condition, Filter};
use crate::store::StoreError;

/// A condition to append to a `WHERE` clause, and the values of its `?` placeholders in order.
#[derive(Debug, Default)]
pub(super) struct SqlFilter {
    /// Empty, or ` AND (...)` over the `chunks` table aliased as `c`.
    pub sql: String,
    /// One value per `?` in `sql`, in order.
    pub params: Vec<SqlValue>,
}

/// The keys of a collection's chunks that pass `condition`, in whatever collection the caller
/// wants (a set to admit during a graph search, a list to delete).
pub(super) fn matching_pks<C: FromIterator<i64>>(
    connection: &rusqlite::Connection,
    collection_id: i64,
    condition: &SqlFilter,
) -> rusqlite::Result<C> {
    let mut values = vec![SqlValue::Integer(collection_id)];
    values.extend(condition.params.iter().cloned());
    let mut statement = connection.prepare_cached(&format!(
        "SELECT c.pk FROM chunks AS c WHERE c.collection_id = ?{}",
        condition.sql
    ))?;
    statement
        .query_map(rusqlite::params_from_iter(values), |row| row.get(0))?
        .collect()
}

/// Builds the SQL for `filter`, or says which condition is unusable.
///
/// A metadata key is read with `json_each(c.metadata, '$."key"')`, which yields the value itself
/// when it is a scalar and each element when it is an array, so `any_of` and ranges match an
/// array that contains a matching element (as Qdrant does). Strings, numbers and booleans never
/// equal each other: `"1"`, `1` and `true` are three different values.
pub(super) fn to_sql(filter: Option<&Filter>) -> Result<SqlFilter, StoreError> {
    let mut out = SqlFilter::default();
    let Some(filter) = filter else {
        return Ok(out);
    };
    for condition in &filter.must {
        condition_sql(condition, &mut out)?;
    }
    Ok(out)
}

/// Appends one condition.
fn condition_sql(condition: &Condition, out: &mut SqlFilter) -> Result<(), StoreError> {
    let key = condition.key.as_str();
    let has_range = condition.gte.is_some() || condition.lte.is_some();
    if condition.any_of.is_empty() && !has_range {
        return Err(invalid(
            key,
            "has no test: give any_of (values to equal) or gte/lte (a number range)",
        ));
    }
    for bound in [condition.gte, condition.lte].into_iter().flatten() {
        if !bound.is_finite() {
            return Err(invalid(
                key,
                "has a range bound that is not a finite number",
            ));
        }
    }
    if key == "source" {
        return source_condition(condition, has_range, out);
    }
    if key.is_empty() {
        return Err(StoreError::Invalid(
            "a filter condition has an empty key; use a metadata key or `source`".to_owned(),
        ));
    }
    // SQLite's JSON path syntax has no escape for a double quote inside a quoted key.
    if key.contains('"') {
        return Err(invalid(
            key,
            "cannot be filtered on: metadata keys used in filters may not contain `\"`",
        ));
    }
    let path = SqlValue::Text(format!("$.\"{key}\""));

    if !condition.any_of.is_empty() {
        let mut texts = Vec::new();
        let mut numbers = Vec::new();
        let mut booleans = Vec::new();
        for value in &condition.any_of {
            match value {
                Value::String(text) => texts.push(SqlValue::Text(text.clone())),
                Value::Number(number) => numbers.push(number_value(number)),
                Value::Bool(true) => booleans.push("'true'"),
                Value::Bool(false) => booleans.push("'false'"),
                Value::Null | Value::Array(_) | Value::Object(_) => {
                    return Err(invalid(
                        key,
                        "has an any_of value that is not a string, number or boolean",
                    ));
                }
            }
        }
        let mut alternatives = Vec::new();
        out.params.push(path.clone());
        if !texts.is_empty() {
            alternatives.push(format!(
                "(m.type = 'text' AND m.value IN ({}))",
                marks(texts.len())
            ));
            out.params.extend(texts);
        }
        if !numbers.is_empty() {
            alternatives.push(format!(
                "(m.type IN ('integer', 'real') AND m.value IN ({}))",
                marks(numbers.len())
            ));
            out.params.extend(numbers);
        }
        if !booleans.is_empty() {
            alternatives.push(format!("m.type IN ({})", booleans.join(", ")));
        }
        out.sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM json_each(c.metadata, ?) AS m WHERE {})",
            alternatives.join(" OR ")
        ));
    }
    if has_range {
        let mut tests = vec!["m.type IN ('integer', 'real')".to_owned()];
        out.params.push(path);
        if let Some(gte) = condition.gte {
            tests.push("m.value >= ?".to_owned());
            out.params.push(SqlValue::Real(gte));
        }
        if let Some(lte) = condition.lte {
            tests.push("m.value <= ?".to_owned());
            out.params.push(SqlValue::Real(lte));
        }
        out.sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM json_each(c.metadata, ?) AS m WHERE {})",
            tests.join(" AND ")
        ));
    }
    Ok(())
}

/// A condition on the chunk's `source` column rather than on metadata.
fn source_condition(
    condition: &Condition,
    has_range: bool,
    out: &mut SqlFilter,
) -> Result<(), StoreError> {
    if has_range {
        return Err(invalid(
            "source",
            "cannot take gte/lte: a source is text; use any_of with the exact sources",
        ));
    }
    let mut sources = Vec::new();
    for value in &condition.any_of {
        match value {
            Value::String(source) => sources.push(SqlValue::Text(source.clone())),
            _ => return Err(invalid("source", "takes only strings in any_of")),
        }
    }
    out.sql
        .push_str(&format!(" AND c.source IN ({})", marks(sources.len())));
    out.params.extend(sources);
    Ok(())
}

/// A JSON number as SQLite compares it: integers stay exact, others become reals.
fn number_value(number: &serde_json::Number) -> SqlValue {
    match number.as_i64() {
        Some(integer) => SqlValue::Integer(integer),
        None => SqlValue::Real(number.as_f64().unwrap_or(f64::NAN)),
    }
}

/// `?, ?, …` with `count` placeholders.
fn marks(count: usize) -> String {
    vec!["?"; count].join(", ")
}

/// The error for an unusable condition on `key`.
fn invalid(key: &str, problem: &str) -> StoreError {
    StoreError::Invalid(format!("the filter condition on `{key}` {problem}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn condition(key: &str, any_of: Vec<Value>, gte: Option<f64>, lte: Option<f64>) -> Filter {
        Filter {
            must: vec![Condition {
                key: key.to_owned(),
                any_of,
                gte,
                lte,
            }],
        }
    }

    #[test]
    fn unusable_conditions_are_invalid() {
        let cases = [
            condition("lang", vec![], None, None),
            condition("", vec![json!("x")], None, None),
            condition("a\"b", vec![json!("x")], None, None),
            condition("lang", vec![json!(null)], None, None),
            condition("lang", vec![json!(["en"])], None, None),
            condition("year", vec![], Some(f64::NAN), None),
            condition("source", vec![], Some(1.0), None),
            condition("source", vec![json!(3)], None, None),
        ];
        for filter in cases {
            assert!(
                matches!(to_sql(Some(&filter)), Err(StoreError::Invalid(_))),
                "{filter:?}"
            );
        }
    }

    #[test]
    fn values_are_parameters() {
        let filter = condition(
            "lang",
            vec![json!("en'); DROP TABLE chunks; --")],
            None,
            None,
        );
        let sql = to_sql(Some(&filter)).unwrap_or_default();
        assert!(!sql.sql.contains("DROP"), "{}", sql.sql);
        assert_eq!(sql.params.len(), 2);
    }

    #[test]
    fn no_filter_is_no_condition() {
        let sql = to_sql(None).unwrap_or_default();
        assert!(sql.sql.is_empty() && sql.params.is_empty());
    }
}
