//! `POST /v1/moderations`: OpenAI's result shape, flagged deterministically by word lists per category.

use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::models::{self, Kind};

/// The categories of omni-moderation, each with the words that flag it here.
const CATEGORIES: &[(&str, &[&str])] = &[
    ("harassment", &["idiot", "stupid"]),
    ("harassment/threatening", &["threaten"]),
    ("hate", &["hate"]),
    ("hate/threatening", &[]),
    ("illicit", &["steal", "counterfeit"]),
    ("illicit/violent", &["bomb"]),
    ("self-harm", &["self-harm"]),
    ("self-harm/intent", &[]),
    ("self-harm/instructions", &[]),
    ("sexual", &[]),
    ("sexual/minors", &[]),
    ("violence", &["kill", "attack", "bomb"]),
    ("violence/graphic", &["gore"]),
];

/// The answer to a valid request.
pub fn create(body: &Value) -> Result<Value, ApiError> {
    let model_id = body["model"].as_str().unwrap_or("omni-moderation-latest");
    match models::find(model_id) {
        Some(model) if model.kind == Kind::Moderation => {}
        Some(_) => {
            return Err(ApiError::invalid(
                format!("The model `{model_id}` is not a moderation model."),
                Some("model"),
                None,
            ));
        }
        None => return Err(ApiError::model_not_found(model_id)),
    }
    let inputs: Vec<String> = match &body["input"] {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .or_else(|| item["text"].as_str().map(str::to_owned))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                ApiError::invalid_type("input", "a string or an array of strings", &body["input"])
            })?,
        Value::Null => return Err(ApiError::missing("input")),
        other => {
            return Err(ApiError::invalid_type(
                "input",
                "a string or an array of strings",
                other,
            ));
        }
    };
    let results: Vec<Value> = inputs.iter().map(|text| moderate(text)).collect();
    Ok(json!({"id": "modr-standin", "model": "omni-moderation-2024-09-26", "results": results}))
}

fn moderate(text: &str) -> Value {
    let words: Vec<String> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .map(str::to_lowercase)
        .collect();
    let mut categories = Map::new();
    let mut scores = Map::new();
    let mut applied = Map::new();
    let mut flagged = false;
    for (category, triggers) in CATEGORIES {
        let hit = triggers.iter().any(|t| words.iter().any(|w| w == t));
        flagged |= hit;
        categories.insert((*category).into(), json!(hit));
        scores.insert((*category).into(), json!(if hit { 0.91 } else { 0.0001 }));
        applied.insert((*category).into(), json!(["text"]));
    }
    json!({"flagged": flagged, "categories": categories, "category_scores": scores, "category_applied_input_types": applied})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_flagged_by_category() {
        let answer =
            create(&json!({"input": ["I will kill the process", "Lovely weather"]})).unwrap();
        assert_eq!(answer["results"][0]["flagged"], true);
        assert_eq!(answer["results"][0]["categories"]["violence"], true);
        assert_eq!(answer["results"][1]["flagged"], false);
        assert!(create(&json!({"input": "x", "model": "gpt-4o-mini"})).is_err());
    }
}
