//! Stripe's form encoding: `a=1&metadata[k]=v&items[0][price]=p&expand[]=x` (brackets often percent-encoded, as
//! serde_qs writes them) into nested JSON values, and typed reads of the parameters with Stripe's error messages.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        index += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits `items[0][price]` into `["items", "0", "price"]`; `expand[]` gives `["expand", ""]`.
fn key_path(key: &str) -> Result<Vec<String>, String> {
    let Some(open) = key.find('[') else {
        return Ok(vec![key.to_string()]);
    };
    let mut path = vec![key[..open].to_string()];
    let mut rest = &key[open..];
    while !rest.is_empty() {
        let Some(inner) = rest.strip_prefix('[') else {
            return Err(key.to_string());
        };
        let Some(close) = inner.find(']') else {
            return Err(key.to_string());
        };
        path.push(inner[..close].to_string());
        rest = &inner[close + 1..];
    }
    if path[0].is_empty() {
        return Err(key.to_string());
    }
    Ok(path)
}

fn insert(target: &mut Map<String, Value>, path: &[String], value: String) -> Result<(), ()> {
    let (first, rest) = path.split_first().ok_or(())?;
    // `[]` appends: the next free index among the keys so far.
    let key = if first.is_empty() {
        target.len().to_string()
    } else {
        first.clone()
    };
    if rest.is_empty() {
        target.insert(key, Value::String(value));
        return Ok(());
    }
    let slot = target
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()));
    match slot {
        Value::Object(map) => insert(map, rest, value),
        // `a=1&a[b]=2`: Stripe refuses mixing a scalar and a hash for one key.
        _ => Err(()),
    }
}

/// Turns objects whose keys are all indices into arrays, except metadata (its keys are the user's).
fn arrays(value: Value, under_metadata: bool) -> Value {
    match value {
        Value::Object(map) => {
            let all_indices = !under_metadata
                && !map.is_empty()
                && map.keys().all(|key| key.parse::<usize>().is_ok());
            if all_indices {
                let mut items: Vec<(usize, Value)> = map
                    .into_iter()
                    .map(|(key, value)| (key.parse().unwrap_or(0), arrays(value, false)))
                    .collect();
                items.sort_by_key(|(index, _)| *index);
                Value::Array(items.into_iter().map(|(_, value)| value).collect())
            } else {
                Value::Object(
                    map.into_iter()
                        .map(|(key, value)| {
                            let metadata = key == "metadata";
                            (key, arrays(value, metadata))
                        })
                        .collect(),
                )
            }
        }
        other => other,
    }
}

/// Parses a query string or form body into a JSON object of strings, objects and arrays.
pub fn parse(text: &str) -> Result<Map<String, Value>, ApiError> {
    let mut root = Map::new();
    for pair in text.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key);
        let value = decode(value);
        let path = key_path(&key).map_err(|key| {
            ApiError::invalid(format!("Invalid parameter name: {key}"), Some(&key))
        })?;
        insert(&mut root, &path, value).map_err(|()| {
            ApiError::invalid(
                format!("Invalid hash given for parameter {}", path[0]),
                Some(&path[0]),
            )
        })?;
    }
    match arrays(Value::Object(root), false) {
        Value::Object(map) => Ok(map),
        _ => Ok(Map::new()),
    }
}

/// The parameters of one request, with typed reads that fail as Stripe does.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Map<String, Value>);

impl Params {
    /// Refuses parameters the endpoint does not know, as Stripe does ("Received unknown parameter").
    pub fn allow(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.0.keys().find(|key| !known.contains(&key.as_str())) {
            Some(key) => Err(ApiError::invalid(
                format!("Received unknown parameter: {key}"),
                Some(key),
            )),
            None => Ok(()),
        }
    }

    /// Whether the parameter was sent at all.
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The raw value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// A string parameter; an empty string (Stripe's "unset") reads as `None`.
    pub fn str(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(ApiError::invalid(
                format!("Invalid string: {name} must be a string, not a hash or array"),
                Some(name),
            )),
        }
    }

    /// A required string parameter.
    pub fn required_str(&self, name: &str) -> Result<String, ApiError> {
        self.str(name)?.ok_or_else(|| ApiError::missing(name))
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.str(name)? {
            None => Ok(None),
            Some(text) => text
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::invalid(format!("Invalid integer: {text}"), Some(name))),
        }
    }

    /// A non-negative integer parameter.
    pub fn non_negative(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.int(name)? {
            Some(value) if value < 0 => Err(ApiError::invalid(
                format!("Invalid {name}: must be greater than or equal to 0"),
                Some(name),
            )),
            other => Ok(other),
        }
    }

    /// A decimal parameter (e.g. `percent_off`).
    pub fn float(&self, name: &str) -> Result<Option<f64>, ApiError> {
        match self.str(name)? {
            None => Ok(None),
            Some(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|value| value.is_finite())
                .map(Some)
                .ok_or_else(|| ApiError::invalid(format!("Invalid decimal: {text}"), Some(name))),
        }
    }

    /// A boolean parameter (`true` or `false`).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.str(name)?.as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid(
                format!("Invalid boolean: {other}"),
                Some(name),
            )),
        }
    }

    /// A string parameter that must be one of `allowed`.
    pub fn one_of(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        match self.str(name)? {
            Some(value) if !allowed.contains(&value.as_str()) => Err(ApiError::invalid(
                format!("Invalid {name}: must be one of {}", allowed.join(", ")),
                Some(name),
            )),
            other => Ok(other),
        }
    }

    /// A hash parameter (`name[key]=…`) as parameters of its own; `name=` (unset) reads as empty.
    pub fn hash(&self, name: &str) -> Result<Option<Params>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Params(map.clone()))),
            Some(Value::String(text)) if text.is_empty() => Ok(Some(Params::default())),
            Some(_) => Err(ApiError::invalid(
                format!("Invalid hash: {name} must be a hash"),
                Some(name),
            )),
        }
    }

    /// An array parameter (`name[0][…]=…`) as a list of values.
    pub fn list(&self, name: &str) -> Result<Vec<Value>, ApiError> {
        match self.0.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items.clone()),
            Some(Value::String(text)) if text.is_empty() => Ok(Vec::new()),
            Some(_) => Err(ApiError::invalid(
                format!("Invalid array: {name} must be an array"),
                Some(name),
            )),
        }
    }

    /// The `expand[]` paths.
    pub fn expand(&self) -> Vec<String> {
        match self.0.get("expand") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect(),
            Some(Value::String(one)) if !one.is_empty() => vec![one.clone()],
            _ => Vec::new(),
        }
    }
}

/// Applies `metadata[key]=value` updates as Stripe does: an empty value deletes the key, `metadata=` clears all.
pub fn merge_metadata(current: &mut Map<String, Value>, update: &Value) -> Result<(), ApiError> {
    match update {
        Value::String(text) if text.is_empty() => {
            current.clear();
            Ok(())
        }
        Value::Object(map) => {
            for (key, value) in map {
                let Some(text) = value.as_str() else {
                    return Err(ApiError::invalid(
                        format!("Invalid metadata[{key}]: must be a string"),
                        Some(&format!("metadata[{key}]")),
                    ));
                };
                if key.chars().count() > 40 {
                    return Err(ApiError::invalid(
                        format!(
                            "Invalid metadata: keys can be at most 40 characters; `{key}` is too long"
                        ),
                        Some("metadata"),
                    ));
                }
                if text.chars().count() > 500 {
                    return Err(ApiError::invalid(
                        format!("Invalid metadata[{key}]: values can be at most 500 characters"),
                        Some(&format!("metadata[{key}]")),
                    ));
                }
                if text.is_empty() {
                    current.remove(key);
                } else {
                    current.insert(key.clone(), Value::String(text.to_string()));
                }
            }
            if current.len() > 50 {
                return Err(ApiError::invalid(
                    "Invalid metadata: metadata can have a maximum of 50 keys",
                    Some("metadata"),
                ));
            }
            Ok(())
        }
        _ => Err(ApiError::invalid(
            "Invalid hash: metadata must be a hash",
            Some("metadata"),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn brackets_plain_and_percent_encoded_nest() {
        let parsed = parse(
            "email=a%40b.c&name=Ann+Lee&metadata%5Border%5D=42&items%5B0%5D%5Bprice%5D=price_1&items[0][quantity]=2&items[1][price]=p2&expand[]=x&expand[]=y",
        )
        .unwrap();
        assert_eq!(
            Value::Object(parsed),
            json!({
                "email": "a@b.c",
                "name": "Ann Lee",
                "metadata": {"order": "42"},
                "items": [{"price": "price_1", "quantity": "2"}, {"price": "p2"}],
                "expand": ["x", "y"],
            })
        );
    }

    #[test]
    fn metadata_keys_that_look_like_indices_stay_a_hash() {
        let parsed = parse("metadata[0]=a&metadata[1]=b").unwrap();
        assert_eq!(
            Value::Object(parsed),
            json!({"metadata": {"0": "a", "1": "b"}})
        );
    }

    #[test]
    fn broken_keys_and_mixed_shapes_are_refused() {
        assert!(parse("items[0=1").is_err());
        assert!(parse("[x]=1").is_err());
        assert!(parse("a=1&a[b]=2").is_err());
    }

    #[test]
    fn typed_reads() {
        let params = Params(parse("amount=12&bad=x&flag=true&empty=").unwrap());
        assert_eq!(params.int("amount").unwrap(), Some(12));
        assert!(params.int("bad").is_err());
        assert_eq!(params.bool("flag").unwrap(), Some(true));
        assert_eq!(params.str("empty").unwrap(), None);
        assert!(params.required_str("missing").is_err());
        assert!(params.allow(&["amount", "bad", "flag"]).is_err());
    }

    #[test]
    fn metadata_merge_deletes_empty_values() {
        let mut current = Map::new();
        merge_metadata(&mut current, &json!({"a": "1", "b": "2"})).unwrap();
        merge_metadata(&mut current, &json!({"a": ""})).unwrap();
        assert_eq!(Value::Object(current.clone()), json!({"b": "2"}));
        merge_metadata(&mut current, &json!("")).unwrap();
        assert!(current.is_empty());
    }
}
