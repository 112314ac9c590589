//! Turning a [`Filter`] into a `SELECT` of the chunk keys it admits, with every value bound as
//! a parameter.
//!
//! Metadata conditions read `metadata_values` (see the schema's migration 3): each chunk's
//! top-level scalar metadata values, and the scalar elements of its arrays, indexed by
//! collection, key, kind and value, so a condition is an index range rather than a parse of
//! every chunk's JSON. `source` conditions read the chunks' own index on source.

use std::collections::HashSet;

use rusqlite::types::Value as SqlValue;
use rustc_hash::FxBuildHasher;
use serde_json::Value;

use crate::model::{Condition, Filter};
use crate::store::StoreError;

/// The keys of the chunks a filter admits, as the derived indexes take them: probed at every
/// node or posting a search visits, so hashed with FxHash (a multiply per key) rather than
/// SipHash, which no caller-chosen key can exploit here (they are SQLite's own rowids).
pub(super) type Admitted = HashSet<i64, FxBuildHasher>;

/// The chunks a filter admits, as SQL.
#[derive(Debug, Default)]
pub(super) struct SqlFilter {
    /// Empty without a filter, else a `SELECT` of the admitted chunks' keys (`chunks.pk`), some
    /// perhaps more than once, usable as `… IN (pks)` or on its own.
    pub pks: String,
    /// One value per `?` in `pks`, in order.
    pub params: Vec<SqlValue>,
}

impl SqlFilter {
    /// Whether there is no filter (every chunk is admitted).
    pub(super) fn is_empty(&self) -> bool {
        self.pks.is_empty()
    }

    /// ` AND {column} IN (…)`, or nothing without a filter.
    pub(super) fn restricting(&self, column: &str) -> String {
        if self.is_empty() {
            String::new()
        } else {
            format!(" AND {column} IN ({})", self.pks)
        }
    }
}

/// The keys of the chunks that pass `condition`, in whatever collection the caller wants (a set
/// to admit during a graph search, a list to delete); a key may come more than once (a chunk
/// whose array holds two matching elements). Nothing without a filter.
pub(super) fn matching_pks<C: FromIterator<i64>>(
    connection: &rusqlite::Connection,
    condition: &SqlFilter,
) -> rusqlite::Result<C> {
    if condition.is_empty() {
        return Ok(std::iter::empty().collect());
    }
    let mut statement = connection.prepare_cached(&condition.pks)?;
    statement
        .query_map(rusqlite::params_from_iter(&condition.params), |row| {
            row.get(0)
        })?
        .collect()
}

/// Builds the SQL for `filter` over collection `collection_id`, or says which condition is
/// unusable.
///
/// A metadata key's value matches when it is the value itself (a scalar) or an element of it (an
/// array), so `any_of` and ranges match an array that contains a matching element (as Qdrant
/// does); a nested object matches nothing. Strings, numbers and booleans never equal each other:
/// `"1"`, `1` and `true` are three different values.
pub(super) fn to_sql(filter: Option<&Filter>, collection_id: i64) -> Result<SqlFilter, StoreError> {
    let Some(filter) = filter else {
        return Ok(SqlFilter::default());
    };
    let mut sets = Vec::new();
    for condition in &filter.must {
        condition_sets(condition, collection_id, &mut sets)?;
    }
    // The first set drives the query and the others are looked up: a source (the chunks' own
    // index, usually one document) first, as the likeliest to be small.
    sets.sort_by_key(|set| !set.by_source);
    let mut out = SqlFilter::default();
    for (index, set) in sets.into_iter().enumerate() {
        if index == 0 {
            out.pks = format!("SELECT pk FROM ({})", set.sql);
        } else {
            out.pks.push_str(&format!(
                " {} pk IN ({})",
                if index == 1 { "WHERE" } else { "AND" },
                set.sql
            ));
        }
        out.params.extend(set.params);
    }
    Ok(out)
}

/// One condition's chunks: a `SELECT pk …` and its parameters.
struct PkSet {
    /// The statement.
    sql: String,
    /// Its parameters, in order.
    params: Vec<SqlValue>,
    /// Whether it reads the chunks' source index rather than metadata.
    by_source: bool,
}

/// Adds the sets of chunks one condition admits (one for `any_of`, one for a range; a chunk must
/// be in each).
fn condition_sets(
    condition: &Condition,
    collection_id: i64,
    sets: &mut Vec<PkSet>,
) -> Result<(), StoreError> {
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
        sets.push(source_set(condition, has_range, collection_id)?);
        return Ok(());
    }
    if key.is_empty() {
        return Err(StoreError::Invalid(
            "a filter condition has an empty key; use a metadata key or `source`".to_owned(),
        ));
    }
    // The rows of one kind of value under this key.
    let select = |kind: &str| {
        format!(
            "SELECT pk FROM metadata_values WHERE collection_id = ? AND key = ? AND kind = '{kind}'"
        )
    };
    let prefix = || {
        vec![
            SqlValue::Integer(collection_id),
            SqlValue::Text(key.to_owned()),
        ]
    };

    if !condition.any_of.is_empty() {
        let mut by_kind: [(&str, Vec<SqlValue>); 3] = [
            (TEXT, Vec::new()),
            (NUMBER, Vec::new()),
            (BOOLEAN, Vec::new()),
        ];
        for value in &condition.any_of {
            let (index, value) = match value {
                Value::String(text) => (0, SqlValue::Text(text.clone())),
                Value::Number(number) => (1, number_value(number)),
                Value::Bool(flag) => (2, SqlValue::Integer(i64::from(*flag))),
                Value::Null | Value::Array(_) | Value::Object(_) => {
                    return Err(invalid(
                        key,
                        "has an any_of value that is not a string, number or boolean",
                    ));
                }
            };
            by_kind[index].1.push(value);
        }
        let mut alternatives = Vec::new();
        let mut params = Vec::new();
        for (kind, values) in by_kind {
            if values.is_empty() {
                continue;
            }
            alternatives.push(format!(
                "{} AND value IN ({})",
                select(kind),
                marks(values.len())
            ));
            params.extend(prefix());
            params.extend(values);
        }
        sets.push(PkSet {
            sql: alternatives.join(" UNION ALL "),
            params,
            by_source: false,
        });
    }
    if has_range {
        let mut sql = select(NUMBER);
        let mut params = prefix();
        if let Some(gte) = condition.gte {
            sql.push_str(" AND value >= ?");
            params.push(SqlValue::Real(gte));
        }
        if let Some(lte) = condition.lte {
            sql.push_str(" AND value <= ?");
            params.push(SqlValue::Real(lte));
        }
        sets.push(PkSet {
            sql,
            params,
            by_source: false,
        });
    }
    Ok(())
}

/// `metadata_values.kind` of a string.
const TEXT: &str = "text";
/// `metadata_values.kind` of a number, integer or not.
const NUMBER: &str = "number";
/// `metadata_values.kind` of `true` (value 1) and `false` (value 0).
const BOOLEAN: &str = "boolean";

/// A condition on the chunk's `source` column rather than on metadata.
fn source_set(
    condition: &Condition,
    has_range: bool,
    collection_id: i64,
) -> Result<PkSet, StoreError> {
    if has_range {
        return Err(invalid(
            "source",
            "cannot take gte/lte: a source is text; use any_of with the exact sources",
        ));
    }
    let mut params = vec![SqlValue::Integer(collection_id)];
    for value in &condition.any_of {
        match value {
            Value::String(source) => params.push(SqlValue::Text(source.clone())),
            _ => return Err(invalid("source", "takes only strings in any_of")),
        }
    }
    Ok(PkSet {
        sql: format!(
            "SELECT pk FROM chunks WHERE collection_id = ? AND source IN ({})",
            marks(params.len() - 1)
        ),
        params,
        by_source: true,
    })
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
            condition("lang", vec![json!(null)], None, None),
            condition("lang", vec![json!(["en"])], None, None),
            condition("year", vec![], Some(f64::NAN), None),
            condition("source", vec![], Some(1.0), None),
            condition("source", vec![json!(3)], None, None),
        ];
        for filter in cases {
            assert!(
                matches!(to_sql(Some(&filter), 1), Err(StoreError::Invalid(_))),
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
        let sql = to_sql(Some(&filter), 1).unwrap_or_default();
        assert!(!sql.pks.contains("DROP"), "{}", sql.pks);
        // The collection, the key and the value.
        assert_eq!(sql.params.len(), 3);
    }

    #[test]
    fn no_filter_is_no_condition() {
        let sql = to_sql(None, 1).unwrap_or_default();
        assert!(sql.is_empty() && sql.params.is_empty());
    }
}
