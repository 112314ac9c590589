//! Turning a [`model::Filter`](crate::model::Filter) into a Qdrant filter, with the same rules as the SQLite
//! store: a condition needs `any_of` or a range; strings, numbers and booleans never equal each other; `source`
//! takes strings only; an array matches when any element does (Qdrant's own rule).

use qdrant_client::qdrant::condition::ConditionOneOf;
use qdrant_client::qdrant::r#match::MatchValue;
use qdrant_client::qdrant::{
    Condition, FieldCondition, FieldType, Filter, IsEmptyCondition, Match, Range, RepeatedStrings,
};
use serde_json::Value;

use crate::model;
use crate::store::StoreError;

/// The payload field of the chunk's source.
pub(crate) const SOURCE_FIELD: &str = "source";
/// The payload field of the chunk's position in its source.
pub(crate) const INDEX_FIELD: &str = "position.index";
/// The payload object holding the caller's metadata.
const METADATA_FIELD: &str = "metadata";

/// A Qdrant filter, and the payload indexes that make it fast (field and type).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Translated {
    /// The filter to send.
    pub filter: Filter,
    /// Fields it tests, with the index type that suits the test.
    pub indexes: Vec<(String, FieldType)>,
}

/// Translates `filter`, or says which condition is unusable.
pub(crate) fn translate(filter: &model::Filter) -> Result<Translated, StoreError> {
    let mut out = Translated {
        filter: Filter::default(),
        indexes: Vec::new(),
    };
    for condition in &filter.must {
        condition_into(condition, &mut out)?;
    }
    Ok(out)
}

fn condition_into(condition: &model::Condition, out: &mut Translated) -> Result<(), StoreError> {
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
    if key == SOURCE_FIELD {
        return source_condition(condition, has_range, out);
    }
    if key.is_empty() {
        return Err(StoreError::Invalid(
            "a filter condition has an empty key; use a metadata key or `source`".to_owned(),
        ));
    }
    // Qdrant reads `.` as nesting and `[` `]` as array access in a payload path, and has no escape for them.
    if key.contains(['.', '[', ']', '"']) {
        return Err(invalid(
            key,
            "cannot be filtered on in Qdrant: metadata keys used in filters may not contain `.`, `[`, `]` or `\"`",
        ));
    }
    let path = format!("{METADATA_FIELD}.{key}");
    if !condition.any_of.is_empty() {
        let mut keywords = Vec::new();
        let mut numbers = Vec::new();
        let mut booleans = Vec::new();
        for value in &condition.any_of {
            match value {
                Value::String(text) => keywords.push(text.clone()),
                Value::Number(number) => match number.as_f64() {
                    Some(number) if number.is_finite() => numbers.push(number),
                    _ => return Err(invalid(key, "has an any_of number that is not finite")),
                },
                Value::Bool(boolean) => booleans.push(*boolean),
                Value::Null | Value::Array(_) | Value::Object(_) => {
                    return Err(invalid(
                        key,
                        "has an any_of value that is not a string, number or boolean",
                    ));
                }
            }
        }
        let mut alternatives = Vec::new();
        if !keywords.is_empty() {
            alternatives.push(field(&path, keywords_match(keywords)));
            out.indexes.push((path.clone(), FieldType::Keyword));
        }
        // Numbers are compared as numbers, so 2018 also equals a stored 2018.0 (as in SQLite): an equality
        // range rather than an integer match, which would miss floats.
        for number in &numbers {
            alternatives.push(range_field(&path, Some(*number), Some(*number)));
        }
        if !numbers.is_empty() {
            out.indexes.push((path.clone(), FieldType::Float));
        }
        for boolean in &booleans {
            alternatives.push(field(
                &path,
                Match {
                    match_value: Some(MatchValue::Boolean(*boolean)),
                },
            ));
        }
        if !booleans.is_empty() {
            out.indexes.push((path.clone(), FieldType::Bool));
        }
        out.filter.must.push(any_of(alternatives));
    }
    if has_range {
        out.filter
            .must
            .push(range_field(&path, condition.gte, condition.lte));
        if !out
            .indexes
            .iter()
            .any(|(field, kind)| *field == path && *kind == FieldType::Float)
        {
            out.indexes.push((path, FieldType::Float));
        }
    }
    Ok(())
}

/// A condition on the chunk's `source` rather than on metadata.
fn source_condition(
    condition: &model::Condition,
    has_range: bool,
    out: &mut Translated,
) -> Result<(), StoreError> {
    if has_range {
        return Err(invalid(
            SOURCE_FIELD,
            "cannot take gte/lte: a source is text; use any_of with the exact sources",
        ));
    }
    let mut sources = Vec::with_capacity(condition.any_of.len());
    for value in &condition.any_of {
        match value {
            Value::String(source) => sources.push(source.clone()),
            _ => return Err(invalid(SOURCE_FIELD, "takes only strings in any_of")),
        }
    }
    out.filter
        .must
        .push(field(SOURCE_FIELD, keywords_match(sources)));
    Ok(())
}

/// `source` equal to `source`.
pub(crate) fn source_is(source: &str) -> Condition {
    field(SOURCE_FIELD, keywords_match(vec![source.to_owned()]))
}

/// The chunk has a source (the field is neither missing nor null).
pub(crate) fn has_source() -> Filter {
    Filter {
        must_not: vec![Condition {
            condition_one_of: Some(ConditionOneOf::IsEmpty(IsEmptyCondition {
                key: SOURCE_FIELD.to_owned(),
            })),
        }],
        ..Filter::default()
    }
}

/// `position.index` within `start..=end`.
pub(crate) fn index_between(start: u32, end: u32) -> Condition {
    range_field(INDEX_FIELD, Some(f64::from(start)), Some(f64::from(end)))
}

/// One condition if there is one alternative, else a nested filter of which at least one must hold.
fn any_of(mut alternatives: Vec<Condition>) -> Condition {
    if alternatives.len() == 1
        && let Some(only) = alternatives.pop()
    {
        return only;
    }
    Condition {
        condition_one_of: Some(ConditionOneOf::Filter(Filter {
            should: alternatives,
            ..Filter::default()
        })),
    }
}

fn keywords_match(values: Vec<String>) -> Match {
    let match_value = match <[String; 1]>::try_from(values) {
        Ok([only]) => MatchValue::Keyword(only),
        Err(values) => MatchValue::Keywords(RepeatedStrings { strings: values }),
    };
    Match {
        match_value: Some(match_value),
    }
}

fn field(key: &str, matcher: Match) -> Condition {
    Condition {
        condition_one_of: Some(ConditionOneOf::Field(FieldCondition {
            key: key.to_owned(),
            r#match: Some(matcher),
            ..FieldCondition::default()
        })),
    }
}

fn range_field(key: &str, gte: Option<f64>, lte: Option<f64>) -> Condition {
    Condition {
        condition_one_of: Some(ConditionOneOf::Field(FieldCondition {
            key: key.to_owned(),
            range: Some(Range {
                gte,
                lte,
                ..Range::default()
            }),
            ..FieldCondition::default()
        })),
    }
}

/// The error for an unusable condition on `key`.
fn invalid(key: &str, problem: &str) -> StoreError {
    StoreError::Invalid(format!("the filter condition on `{key}` {problem}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn one(key: &str, any_of: Vec<Value>, gte: Option<f64>, lte: Option<f64>) -> model::Filter {
        model::Filter {
            must: vec![model::Condition {
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
            one("lang", vec![], None, None),
            one("", vec![json!("x")], None, None),
            one("a.b", vec![json!("x")], None, None),
            one("a[0]", vec![json!("x")], None, None),
            one("lang", vec![json!(null)], None, None),
            one("lang", vec![json!(["en"])], None, None),
            one("lang", vec![json!({"a": 1})], None, None),
            one("year", vec![], Some(f64::NAN), None),
            one("year", vec![], None, Some(f64::INFINITY)),
            one("source", vec![], Some(1.0), None),
            one("source", vec![json!(3)], None, None),
        ];
        for filter in cases {
            assert!(
                matches!(translate(&filter), Err(StoreError::Invalid(_))),
                "{filter:?}"
            );
        }
    }

    #[test]
    fn strings_become_keyword_matches_on_metadata() {
        let translated = translate(&one("lang", vec![json!("en")], None, None)).unwrap();
        assert_eq!(
            translated.filter.must,
            [field("metadata.lang", keywords_match(vec!["en".into()]))]
        );
        assert_eq!(
            translated.indexes,
            [("metadata.lang".to_owned(), FieldType::Keyword)]
        );
        let many = translate(&one("lang", vec![json!("en"), json!("de")], None, None)).unwrap();
        let Some(ConditionOneOf::Field(condition)) = &many.filter.must[0].condition_one_of else {
            panic!("{many:?}");
        };
        assert_eq!(
            condition.r#match,
            Some(Match {
                match_value: Some(MatchValue::Keywords(RepeatedStrings {
                    strings: vec!["en".into(), "de".into()]
                }))
            })
        );
    }

    #[test]
    fn numbers_are_equality_ranges_and_mixed_types_any_of_them() {
        let numbers =
            translate(&one("year", vec![json!(2018), json!(2020.5)], None, None)).unwrap();
        let Some(ConditionOneOf::Filter(nested)) = &numbers.filter.must[0].condition_one_of else {
            panic!("{numbers:?}");
        };
        assert_eq!(
            nested.should,
            [
                range_field("metadata.year", Some(2018.0), Some(2018.0)),
                range_field("metadata.year", Some(2020.5), Some(2020.5))
            ]
        );
        let mixed = translate(&one(
            "v",
            vec![json!("x"), json!(1), json!(true)],
            None,
            None,
        ))
        .unwrap();
        let Some(ConditionOneOf::Filter(nested)) = &mixed.filter.must[0].condition_one_of else {
            panic!("{mixed:?}");
        };
        assert_eq!(nested.should.len(), 3);
        assert_eq!(mixed.indexes.len(), 3);
    }

    #[test]
    fn ranges_sources_and_several_conditions_all_must_hold() {
        let mut filter = one("year", vec![], Some(2019.0), Some(2021.0));
        filter
            .must
            .extend(one("source", vec![json!("a.md"), json!("b.md")], None, None).must);
        let translated = translate(&filter).unwrap();
        assert_eq!(translated.filter.must.len(), 2);
        assert_eq!(
            translated.filter.must[0],
            range_field("metadata.year", Some(2019.0), Some(2021.0))
        );
        assert_eq!(
            translated.filter.must[1],
            field("source", keywords_match(vec!["a.md".into(), "b.md".into()]))
        );
        // `source` is indexed when the collection is created; only metadata keys are asked for.
        assert_eq!(
            translated.indexes,
            [("metadata.year".to_owned(), FieldType::Float)]
        );
    }
}
