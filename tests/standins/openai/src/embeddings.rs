//! `POST /v1/embeddings`: deterministic vectors from a hashed bag of words (each lowercased word adds ±1 at a
//! position chosen by its FNV-1a hash, then the vector is L2-normalised), so texts sharing words are close and the
//! same text always gives the same vector. `dimensions` shortens text-embedding-3 vectors as OpenAI allows.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::models::{self, Kind, count_tokens};

/// The answer to a valid request.
pub fn create(body: &Value) -> Result<Value, ApiError> {
    let Some(request) = body.as_object() else {
        return Err(ApiError::invalid_type("body", "an object", body));
    };
    let model_id = match request.get("model") {
        Some(Value::String(model)) => model.clone(),
        None | Some(Value::Null) => return Err(ApiError::missing("model")),
        Some(other) => return Err(ApiError::invalid_type("model", "a string", other)),
    };
    let model = models::find(&model_id).ok_or_else(|| ApiError::model_not_found(&model_id))?;
    let Kind::Embedding {
        dimensions: native,
        shortenable,
    } = model.kind
    else {
        return Err(ApiError::invalid(
            format!("The model `{model_id}` does not support embeddings."),
            Some("model"),
            None,
        ));
    };
    let inputs = inputs_of(request.get("input"))?;
    let dimensions = match request.get("dimensions") {
        None | Some(Value::Null) => native,
        Some(_) if !shortenable => {
            return Err(ApiError::invalid(
                "This model does not support specifying dimensions.",
                Some("dimensions"),
                None,
            ));
        }
        Some(value) => match value.as_u64() {
            Some(d) if (1..=native as u64).contains(&d) => d as usize,
            _ => {
                return Err(ApiError::invalid(
                    format!(
                        "Invalid 'dimensions': expected a value from 1 to {native}, but got {value} instead."
                    ),
                    Some("dimensions"),
                    Some("invalid_value"),
                ));
            }
        },
    };
    let base64 = match request.get("encoding_format").and_then(Value::as_str) {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                format!("Invalid value: '{other}'. Supported values are: 'float' and 'base64'."),
                Some("encoding_format"),
                Some("invalid_value"),
            ));
        }
    };
    let mut tokens = 0;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            tokens += count_tokens(text).max(1);
            let vector = embed(text, dimensions);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    Ok(json!({
        "object": "list",
        "data": data,
        "model": model.id,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
}

fn inputs_of(input: Option<&Value>) -> Result<Vec<String>, ApiError> {
    let invalid = || {
        ApiError::invalid(
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            None,
            None,
        )
    };
    let texts = match input {
        None | Some(Value::Null) => return Err(ApiError::missing("input")),
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= 2048 => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Some(text.clone()),
                // Token arrays: embedded by their ids as words.
                Value::Array(ids) if ids.iter().all(Value::is_u64) => Some(
                    ids.iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                _ => None,
            })
            .collect::<Option<Vec<String>>>()
            .ok_or_else(invalid)?,
        Some(_) => return Err(invalid()),
    };
    if texts.iter().any(String::is_empty) {
        return Err(invalid());
    }
    Ok(texts)
}

/// The vector of `text` with `dimensions` components, L2-normalised (all zero for a text without words).
pub fn embed(text: &str, dimensions: usize) -> Vec<f32> {
    let mut vector = vec![0f32; dimensions];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let hash = fnv1a(word.to_lowercase().as_bytes());
        let position = (hash % dimensions as u64) as usize;
        let sign = if (hash >> 63) == 0 { 1.0 } else { -1.0 };
        if let Some(slot) = vector.get_mut(position) {
            *slot += sign;
        }
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn shared_words_bring_vectors_together_and_dimensions_are_honoured() {
        let cat = embed("The cat sat on the mat", 256);
        let kitten = embed("A cat on a mat", 256);
        let finance = embed("Quarterly revenue grew", 256);
        assert!(cosine(&cat, &kitten) > cosine(&cat, &finance));
        assert!((cosine(&cat, &cat) - 1.0).abs() < 1e-5);
        assert_eq!(embed("x", 8).len(), 8);
        assert_eq!(embed("The cat", 64), embed("the CAT", 64));
    }

    #[test]
    fn requests_are_checked_like_openai_does() {
        let answer = create(
            &json!({"model": "text-embedding-3-small", "input": ["a b", "c"], "dimensions": 32}),
        )
        .unwrap();
        assert_eq!(answer["data"][1]["embedding"].as_array().unwrap().len(), 32);
        assert_eq!(answer["usage"]["prompt_tokens"], 3);
        let error =
            create(&json!({"model": "text-embedding-ada-002", "input": "a", "dimensions": 32}))
                .unwrap_err();
        assert_eq!(
            error.message,
            "This model does not support specifying dimensions."
        );
        assert!(create(&json!({"model": "text-embedding-3-small", "input": ""})).is_err());
        assert!(create(&json!({"model": "gpt-4o-mini", "input": "a"})).is_err());
        let encoded = create(&json!({"model": "text-embedding-3-small", "input": "a", "dimensions": 4, "encoding_format": "base64"})).unwrap();
        assert!(encoded["data"][0]["embedding"].is_string());
    }
}
