//! The pure parts of Qdrant's semantics: payload paths, filter conditions, similarity scores, the IDF modifier and
//! reciprocal rank fusion. Nothing here knows about gRPC transport or locking.

use std::collections::{HashMap, HashSet};

use qdrant_client::qdrant::condition::ConditionOneOf;
use qdrant_client::qdrant::r#match::MatchValue;
use qdrant_client::qdrant::value::Kind;
use qdrant_client::qdrant::{Condition, FieldCondition, Filter, Range, Value};
use tonic::Status;

use crate::point::PointKey;

/// Qdrant's default `k` for reciprocal rank fusion (`DEFAULT_RRF_K` in Qdrant's `reciprocal_rank_fusion.rs`).
pub const DEFAULT_RRF_K: u32 = 2;

/// The values found at a payload `path` such as `metadata.lang` or `tags[].name`.
///
/// Arrays are looked into where the path says `[]`, and a final array counts as its elements, because Qdrant
/// matches a condition on an array when any element matches.
pub fn values_at<'a>(payload: &'a HashMap<String, Value>, path: &str) -> Vec<&'a Value> {
    let mut segments = path.split('.');
    let Some(first) = segments.next() else {
        return Vec::new();
    };
    let (first_name, first_flatten) = split_flatten(first);
    let mut current: Vec<&Value> = payload.get(first_name).into_iter().collect();
    if first_flatten {
        current = flatten(current);
    }
    for segment in segments {
        let (name, flatten_here) = split_flatten(segment);
        let mut next = Vec::new();
        for value in current {
            if let Some(Kind::StructValue(object)) = &value.kind
                && let Some(field) = object.fields.get(name)
            {
                next.push(field);
            }
        }
        current = if flatten_here { flatten(next) } else { next };
    }
    flatten(current)
}

fn split_flatten(segment: &str) -> (&str, bool) {
    match segment.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (segment, false),
    }
}

fn flatten(values: Vec<&Value>) -> Vec<&Value> {
    let mut out = Vec::with_capacity(values.len());
    for value in values {
        match &value.kind {
            Some(Kind::ListValue(list)) => out.extend(list.values.iter()),
            _ => out.push(value),
        }
    }
    out
}

/// What a point offers to a filter: its id and payload.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// The point's id.
    pub key: PointKey,
    /// Its payload.
    pub payload: &'a HashMap<String, Value>,
}

/// Refuses the conditions this stand-in does not evaluate, with `Unimplemented`, before any point is looked at.
pub fn check_filter(filter: &Filter) -> Result<(), Status> {
    let min_should = filter.min_should.iter().flat_map(|m| m.conditions.iter());
    for condition in filter
        .must
        .iter()
        .chain(&filter.should)
        .chain(&filter.must_not)
        .chain(min_should)
    {
        check_condition(condition)?;
    }
    Ok(())
}

fn check_condition(condition: &Condition) -> Result<(), Status> {
    match &condition.condition_one_of {
        Some(ConditionOneOf::Field(field)) => check_field(field),
        Some(ConditionOneOf::Filter(nested)) => check_filter(nested),
        Some(ConditionOneOf::IsEmpty(_) | ConditionOneOf::IsNull(_) | ConditionOneOf::HasId(_)) => {
            Ok(())
        }
        Some(other) => Err(Status::unimplemented(format!(
            "qdrant-standin does not evaluate this filter condition: {other:?}"
        ))),
        None => Err(Status::invalid_argument(
            "Wrong input: a filter condition has no content",
        )),
    }
}

fn check_field(field: &FieldCondition) -> Result<(), Status> {
    if field.key.is_empty() {
        return Err(Status::invalid_argument(
            "Wrong input: a field condition needs a key",
        ));
    }
    if field.geo_bounding_box.is_some()
        || field.geo_radius.is_some()
        || field.geo_polygon.is_some()
        || field.values_count.is_some()
        || field.datetime_range.is_some()
    {
        return Err(Status::unimplemented(format!(
            "qdrant-standin does not evaluate geo, values_count or datetime conditions (key `{}`)",
            field.key
        )));
    }
    if let Some(matcher) = &field.r#match {
        match &matcher.match_value {
            Some(
                MatchValue::Keyword(_)
                | MatchValue::Integer(_)
                | MatchValue::Boolean(_)
                | MatchValue::Keywords(_)
                | MatchValue::Integers(_),
            ) => {}
            Some(other) => {
                return Err(Status::unimplemented(format!(
                    "qdrant-standin does not evaluate this match on `{}`: {other:?}",
                    field.key
                )));
            }
            None => {
                return Err(Status::invalid_argument(format!(
                    "Wrong input: the match on `{}` is empty",
                    field.key
                )));
            }
        }
    }
    let has_test = field.r#match.is_some()
        || field.range.is_some()
        || field.is_empty.is_some()
        || field.is_null.is_some();
    if !has_test {
        return Err(Status::invalid_argument(format!(
            "Wrong input: the condition on `{}` has nothing to test",
            field.key
        )));
    }
    Ok(())
}

/// Whether `candidate` satisfies `filter`: every `must`, at least one `should` (when there are any), no
/// `must_not`, and at least `min_should.min_count` of the `min_should` conditions.
pub fn matches(filter: &Filter, candidate: Candidate<'_>) -> bool {
    if !filter.must.iter().all(|c| condition_holds(c, candidate)) {
        return false;
    }
    if !filter.should.is_empty() && !filter.should.iter().any(|c| condition_holds(c, candidate)) {
        return false;
    }
    if filter
        .must_not
        .iter()
        .any(|c| condition_holds(c, candidate))
    {
        return false;
    }
    if let Some(min_should) = &filter.min_should {
        let held = min_should
            .conditions
            .iter()
            .filter(|c| condition_holds(c, candidate))
            .count() as u64;
        if held < min_should.min_count {
            return false;
        }
    }
    true
}

/// Whether `candidate` satisfies every filter of `filters` (a query's own filter and those inherited from the
/// enclosing query).
pub fn matches_all(filters: &[&Filter], candidate: Candidate<'_>) -> bool {
    filters.iter().all(|filter| matches(filter, candidate))
}

fn condition_holds(condition: &Condition, candidate: Candidate<'_>) -> bool {
    match &condition.condition_one_of {
        Some(ConditionOneOf::Field(field)) => field_holds(field, candidate.payload),
        Some(ConditionOneOf::Filter(nested)) => matches(nested, candidate),
        Some(ConditionOneOf::IsEmpty(is_empty)) => is_empty_at(candidate.payload, &is_empty.key),
        Some(ConditionOneOf::IsNull(is_null)) => is_null_at(candidate.payload, &is_null.key),
        Some(ConditionOneOf::HasId(has_id)) => has_id
            .has_id
            .iter()
            .filter_map(|id| PointKey::from_point_id(id).ok())
            .any(|key| key == candidate.key),
        // `check_filter` refused everything else before evaluation started.
        _ => false,
    }
}

fn field_holds(field: &FieldCondition, payload: &HashMap<String, Value>) -> bool {
    if let Some(expected) = field.is_empty
        && is_empty_at(payload, &field.key) != expected
    {
        return false;
    }
    if let Some(expected) = field.is_null
        && is_null_at(payload, &field.key) != expected
    {
        return false;
    }
    let values = values_at(payload, &field.key);
    if let Some(matcher) = &field.r#match {
        let Some(match_value) = &matcher.match_value else {
            return false;
        };
        if !values.iter().any(|value| value_matches(match_value, value)) {
            return false;
        }
    }
    if let Some(range) = &field.range
        && !values.iter().any(|value| in_range(range, value))
    {
        return false;
    }
    true
}

/// Qdrant's `is_empty`: the field is missing, null, or an empty array.
fn is_empty_at(payload: &HashMap<String, Value>, key: &str) -> bool {
    values_at(payload, key)
        .iter()
        .all(|value| matches!(value.kind, Some(Kind::NullValue(_)) | None))
}

/// Qdrant's `is_null`: the field is present and null (a missing field is not null).
fn is_null_at(payload: &HashMap<String, Value>, key: &str) -> bool {
    let values = values_at(payload, key);
    !values.is_empty()
        && values
            .iter()
            .all(|value| matches!(value.kind, Some(Kind::NullValue(_))))
}

/// A stored value against a match: types must agree (a keyword never matches a number), as in Qdrant.
fn value_matches(match_value: &MatchValue, value: &Value) -> bool {
    match (match_value, &value.kind) {
        (MatchValue::Keyword(expected), Some(Kind::StringValue(found))) => expected == found,
        (MatchValue::Integer(expected), Some(Kind::IntegerValue(found))) => expected == found,
        (MatchValue::Boolean(expected), Some(Kind::BoolValue(found))) => expected == found,
        (MatchValue::Keywords(any), Some(Kind::StringValue(found))) => {
            any.strings.iter().any(|expected| expected == found)
        }
        (MatchValue::Integers(any), Some(Kind::IntegerValue(found))) => {
            any.integers.contains(found)
        }
        _ => false,
    }
}

/// A numeric value (integer or float) within the range's bounds; other types never are.
fn in_range(range: &Range, value: &Value) -> bool {
    let number = match value.kind {
        Some(Kind::IntegerValue(integer)) => integer as f64,
        Some(Kind::DoubleValue(double)) => double,
        _ => return false,
    };
    range.lt.is_none_or(|bound| number < bound)
        && range.gt.is_none_or(|bound| number > bound)
        && range.gte.is_none_or(|bound| number >= bound)
        && range.lte.is_none_or(|bound| number <= bound)
}

/// Scales `vector` to unit length, as Qdrant does to vectors of a cosine space on upload and at query time, so
/// that cosine similarity is a dot product. The zero vector stays zero.
pub fn normalized(vector: &[f32]) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        vector.to_vec()
    } else {
        vector.iter().map(|x| x / norm).collect()
    }
}

/// The dot product of two dense vectors of equal length.
pub fn dot(left: &[f32], right: &[f32]) -> f32 {
    left.iter().zip(right).map(|(a, b)| a * b).sum()
}

/// A sparse vector: indices (distinct) and their values.
#[derive(Debug, Clone, PartialEq)]
pub struct Sparse {
    /// Dimension ids.
    pub indices: Vec<u32>,
    /// One value per index.
    pub values: Vec<f32>,
}

impl Sparse {
    /// Checks lengths and duplicate indices the way Qdrant does.
    pub fn new(indices: Vec<u32>, values: Vec<f32>) -> Result<Sparse, Status> {
        if indices.len() != values.len() {
            return Err(Status::invalid_argument(format!(
                "Wrong input: Sparse vector indices and values must have the same length, got {} indices and {} values",
                indices.len(),
                values.len()
            )));
        }
        let mut seen = HashSet::with_capacity(indices.len());
        if let Some(duplicate) = indices.iter().find(|index| !seen.insert(**index)) {
            return Err(Status::invalid_argument(format!(
                "Wrong input: Sparse vector indices must be unique, {duplicate} is repeated"
            )));
        }
        Ok(Sparse { indices, values })
    }

    /// The value at `index`, or 0.
    pub fn get(&self, index: u32) -> f32 {
        self.indices
            .iter()
            .position(|i| *i == index)
            .and_then(|position| self.values.get(position).copied())
            .unwrap_or(0.0)
    }
}

/// Qdrant's IDF modifier: `ln((N - n + 0.5) / (n + 0.5) + 1)`, with `N` the number of documents in the collection
/// and `n` the number of documents with a non-zero value at the index (Qdrant's indexing documentation).
pub fn idf(total_documents: usize, documents_with_term: usize) -> f32 {
    let n_total = total_documents as f64;
    let n_term = documents_with_term as f64;
    ((n_total - n_term + 0.5) / (n_term + 0.5) + 1.0).ln() as f32
}

/// The sparse similarity of a query and a document: the dot product over shared indices, each query value first
/// multiplied by `weights[index]` when the IDF modifier is on. `None` when they share no non-zero index, because
/// Qdrant's inverted index never returns such a point.
pub fn sparse_score(
    query: &Sparse,
    document: &Sparse,
    weights: Option<&HashMap<u32, f32>>,
) -> Option<f32> {
    let mut score = 0.0;
    let mut overlap = false;
    for (index, query_value) in query.indices.iter().zip(&query.values) {
        let document_value = document.get(*index);
        if document_value == 0.0 || *query_value == 0.0 {
            continue;
        }
        overlap = true;
        let weight = weights
            .and_then(|weights| weights.get(index).copied())
            .unwrap_or(1.0);
        score += query_value * weight * document_value;
    }
    overlap.then_some(score)
}

/// Reciprocal rank fusion as Qdrant computes it: each list adds `1 / ((position + 1) / weight + k - 1)` to a point,
/// `position` being 0-based (so `1 / (k + position)` with the default weight 1), and only the order of each list
/// matters. The result is sorted by fused score, ties by point id.
pub fn rrf(
    lists: &[Vec<(PointKey, f32)>],
    k: u32,
    weights: Option<&[f32]>,
) -> Result<Vec<(PointKey, f32)>, Status> {
    if let Some(weights) = weights
        && weights.len() != lists.len()
    {
        return Err(Status::invalid_argument(format!(
            "Wrong input: Number of weights in RRF should match number of pre-fetches: got {}, expected {}",
            weights.len(),
            lists.len()
        )));
    }
    if k == 0 {
        return Err(Status::invalid_argument(
            "Wrong input: RRF k must be at least 1",
        ));
    }
    let mut fused: HashMap<PointKey, f32> = HashMap::new();
    for (list_index, list) in lists.iter().enumerate() {
        let weight = weights
            .and_then(|weights| weights.get(list_index).copied())
            .unwrap_or(1.0);
        for (position, (key, _score)) in list.iter().enumerate() {
            let contribution = if weight <= 0.0 {
                0.0
            } else {
                1.0 / ((position as f32 + 1.0) / weight + k as f32 - 1.0)
            };
            *fused.entry(*key).or_insert(0.0) += contribution;
        }
    }
    let mut out: Vec<(PointKey, f32)> = fused.into_iter().collect();
    sort_by_score(&mut out, true);
    Ok(out)
}

/// Sorts scored points, best first (`descending`: higher is better), ties by point id so that results are stable.
pub fn sort_by_score(points: &mut [(PointKey, f32)], descending: bool) {
    points.sort_by(|(left_key, left), (right_key, right)| {
        let by_score = if descending {
            right.total_cmp(left)
        } else {
            left.total_cmp(right)
        };
        by_score.then(left_key.cmp(right_key))
    });
}

#[cfg(test)]
mod tests {
    use qdrant_client::qdrant::{
        HasIdCondition, IsEmptyCondition, IsNullCondition, Match, MinShould, PointId,
        RepeatedIntegers, RepeatedStrings,
    };

    use super::*;

    fn payload() -> HashMap<String, Value> {
        let json = serde_json::json!({
            "source": "a.md",
            "empty": [],
            "nothing": null,
            "metadata": {"lang": "en", "year": 2024, "score": 0.5, "draft": false, "tags": ["x", "y"]},
            "reviews": [{"stars": 4}, {"stars": 2}],
        });
        match Value::from(json).kind {
            Some(Kind::StructValue(object)) => object.fields,
            _ => HashMap::new(),
        }
    }

    fn field(key: &str) -> FieldCondition {
        FieldCondition {
            key: key.to_string(),
            ..Default::default()
        }
    }

    fn with_match(key: &str, value: MatchValue) -> Condition {
        Condition {
            condition_one_of: Some(ConditionOneOf::Field(FieldCondition {
                r#match: Some(Match {
                    match_value: Some(value),
                }),
                ..field(key)
            })),
        }
    }

    fn with_range(key: &str, range: Range) -> Condition {
        Condition {
            condition_one_of: Some(ConditionOneOf::Field(FieldCondition {
                range: Some(range),
                ..field(key)
            })),
        }
    }

    fn must(conditions: Vec<Condition>) -> Filter {
        Filter {
            must: conditions,
            ..Default::default()
        }
    }

    fn holds(filter: &Filter) -> bool {
        let payload = payload();
        check_filter(filter).unwrap();
        matches(
            filter,
            Candidate {
                key: PointKey::Num(7),
                payload: &payload,
            },
        )
    }

    #[test]
    fn paths_reach_nested_fields_and_array_elements() {
        let payload = payload();
        assert_eq!(values_at(&payload, "metadata.lang").len(), 1);
        assert_eq!(values_at(&payload, "metadata.tags").len(), 2);
        assert_eq!(values_at(&payload, "reviews[].stars").len(), 2);
        assert!(values_at(&payload, "metadata.missing").is_empty());
        assert!(values_at(&payload, "source.deeper").is_empty());
    }

    #[test]
    fn keyword_integer_and_boolean_matches_need_the_same_type() {
        assert!(holds(&must(vec![with_match(
            "source",
            MatchValue::Keyword("a.md".into())
        )])));
        assert!(!holds(&must(vec![with_match(
            "source",
            MatchValue::Keyword("b.md".into())
        )])));
        assert!(holds(&must(vec![with_match(
            "metadata.year",
            MatchValue::Integer(2024)
        )])));
        // A keyword never matches a number, even one that reads the same.
        assert!(!holds(&must(vec![with_match(
            "metadata.year",
            MatchValue::Keyword("2024".into())
        )])));
        assert!(holds(&must(vec![with_match(
            "metadata.draft",
            MatchValue::Boolean(false)
        )])));
        // An array matches when any element does.
        assert!(holds(&must(vec![with_match(
            "metadata.tags",
            MatchValue::Keyword("y".into())
        )])));
    }

    #[test]
    fn match_any_accepts_any_listed_value() {
        let any = |values: &[&str]| {
            MatchValue::Keywords(RepeatedStrings {
                strings: values.iter().map(|s| s.to_string()).collect(),
            })
        };
        assert!(holds(&must(vec![with_match(
            "metadata.lang",
            any(&["fr", "en"])
        )])));
        assert!(!holds(&must(vec![with_match(
            "metadata.lang",
            any(&["fr", "de"])
        )])));
        let ints = MatchValue::Integers(RepeatedIntegers {
            integers: vec![2023, 2024],
        });
        assert!(holds(&must(vec![with_match("metadata.year", ints)])));
    }

    #[test]
    fn ranges_compare_integers_and_floats_and_skip_other_types() {
        let range = |gte: Option<f64>, lte: Option<f64>| Range {
            gte,
            lte,
            ..Default::default()
        };
        assert!(holds(&must(vec![with_range(
            "metadata.year",
            range(Some(2024.0), Some(2024.0))
        )])));
        assert!(!holds(&must(vec![with_range(
            "metadata.year",
            range(Some(2025.0), None)
        )])));
        assert!(holds(&must(vec![with_range(
            "metadata.score",
            range(None, Some(0.5))
        )])));
        assert!(!holds(&must(vec![with_range(
            "metadata.score",
            Range {
                lt: Some(0.5),
                ..Default::default()
            }
        )])));
        assert!(!holds(&must(vec![with_range(
            "source",
            range(Some(0.0), None)
        )])));
        assert!(holds(&must(vec![with_range(
            "reviews[].stars",
            range(Some(4.0), None)
        )])));
    }

    #[test]
    fn must_should_must_not_and_min_should_combine() {
        let en = with_match("metadata.lang", MatchValue::Keyword("en".into()));
        let fr = with_match("metadata.lang", MatchValue::Keyword("fr".into()));
        let should = |conditions: Vec<Condition>| Filter {
            should: conditions,
            ..Default::default()
        };
        assert!(holds(&should(vec![fr.clone(), en.clone()])));
        assert!(!holds(&should(vec![fr.clone()])));
        let not = |conditions: Vec<Condition>| Filter {
            must_not: conditions,
            ..Default::default()
        };
        assert!(holds(&not(vec![fr.clone()])));
        assert!(!holds(&not(vec![en.clone()])));
        let at_least = |count: u64| Filter {
            min_should: Some(MinShould {
                conditions: vec![en.clone(), fr.clone()],
                min_count: count,
            }),
            ..Default::default()
        };
        assert!(holds(&at_least(1)));
        assert!(!holds(&at_least(2)));
        let nested = Condition {
            condition_one_of: Some(ConditionOneOf::Filter(should(vec![fr, en]))),
        };
        assert!(holds(&must(vec![nested])));
    }

    #[test]
    fn is_empty_is_null_and_has_id() {
        let condition = |one_of| Condition {
            condition_one_of: Some(one_of),
        };
        let is_empty = |key: &str| {
            condition(ConditionOneOf::IsEmpty(IsEmptyCondition {
                key: key.to_string(),
            }))
        };
        assert!(holds(&must(vec![is_empty("empty")])));
        assert!(holds(&must(vec![is_empty("missing")])));
        assert!(holds(&must(vec![is_empty("nothing")])));
        assert!(!holds(&must(vec![is_empty("source")])));
        let is_null = |key: &str| {
            condition(ConditionOneOf::IsNull(IsNullCondition {
                key: key.to_string(),
            }))
        };
        assert!(holds(&must(vec![is_null("nothing")])));
        assert!(!holds(&must(vec![is_null("missing")])));
        let has_id = |ids: Vec<u64>| {
            condition(ConditionOneOf::HasId(HasIdCondition {
                has_id: ids.into_iter().map(PointId::from).collect(),
            }))
        };
        assert!(holds(&must(vec![has_id(vec![1, 7])])));
        assert!(!holds(&must(vec![has_id(vec![1])])));
    }

    #[test]
    fn unsupported_conditions_are_refused_up_front() {
        let text = must(vec![with_match("source", MatchValue::Text("a".into()))]);
        assert_eq!(
            check_filter(&text).unwrap_err().code(),
            tonic::Code::Unimplemented
        );
        let empty = must(vec![Condition {
            condition_one_of: Some(ConditionOneOf::Field(field("source"))),
        }]);
        assert_eq!(
            check_filter(&empty).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
    }

    #[test]
    fn idf_follows_qdrants_formula() {
        // ln((N - n + 0.5) / (n + 0.5) + 1) with N = 10, n = 2: ln(8.5 / 2.5 + 1) = ln(4.4).
        assert!((idf(10, 2) - 4.4f32.ln()).abs() < 1e-6);
        // A term in every document still weighs a little (the `+ 1` keeps the log positive).
        assert!(idf(3, 3) > 0.0);
        // Rarer terms weigh more.
        assert!(idf(100, 1) > idf(100, 50));
    }

    #[test]
    fn sparse_scores_are_idf_weighted_dot_products_over_shared_indices() {
        let query = Sparse::new(vec![1, 2], vec![1.0, 1.0]).unwrap();
        let document = Sparse::new(vec![2, 3], vec![0.5, 9.0]).unwrap();
        assert_eq!(sparse_score(&query, &document, None), Some(0.5));
        let weights = HashMap::from([(2, 3.0)]);
        assert_eq!(sparse_score(&query, &document, Some(&weights)), Some(1.5));
        let unrelated = Sparse::new(vec![4], vec![1.0]).unwrap();
        assert_eq!(sparse_score(&query, &unrelated, None), None);
        assert!(Sparse::new(vec![1, 1], vec![1.0, 1.0]).is_err());
        assert!(Sparse::new(vec![1], vec![]).is_err());
    }

    #[test]
    fn rrf_adds_reciprocal_positions_with_k() {
        let a = PointKey::Num(1);
        let b = PointKey::Num(2);
        let c = PointKey::Num(3);
        let lexical = vec![(a, 9.0), (b, 5.0)];
        let dense = vec![(b, 0.9), (c, 0.8)];
        let fused = rrf(&[lexical.clone(), dense.clone()], DEFAULT_RRF_K, None).unwrap();
        // b: 1/(2+1) + 1/(2+0); a: 1/2; c: 1/3.
        assert_eq!(fused[0].0, b);
        assert!((fused[0].1 - (1.0 / 3.0 + 0.5)).abs() < 1e-6);
        assert_eq!(fused[1], (a, 0.5));
        assert!((fused[2].1 - 1.0 / 3.0).abs() < 1e-6);
        // With k = 61, the first place is worth 1/61: the paper's 1/(60 + rank).
        let paper = rrf(std::slice::from_ref(&lexical), 61, None).unwrap();
        assert!((paper[0].1 - 1.0 / 61.0).abs() < 1e-7);
        // Weights must match the number of lists; weight 2 halves the position.
        assert!(rrf(&[lexical.clone(), dense.clone()], 2, Some(&[1.0])).is_err());
        let weighted = rrf(&[lexical], 2, Some(&[2.0])).unwrap();
        assert!((weighted[1].1 - 1.0 / 2.0).abs() < 1e-6);
    }

    #[test]
    fn cosine_uses_normalized_vectors() {
        let left = normalized(&[3.0, 4.0]);
        assert!((left[0] - 0.6).abs() < 1e-6);
        assert!((dot(&left, &normalized(&[6.0, 8.0])) - 1.0).abs() < 1e-6);
        assert_eq!(normalized(&[0.0, 0.0]), vec![0.0, 0.0]);
    }
}
