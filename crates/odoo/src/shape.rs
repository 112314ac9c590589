//! Output shaping: Odoo's raw values turned into what a model reads well, and the choice of
//! fields when a call names none.
//!
//! many2one `[id, "Name"]` pairs become `{id, name}` (or null), x2many id lists become
//! `{ids, count}` (capped), datetimes become ISO 8601 in UTC (`YYYY-MM-DDTHH:MM:SSZ`, as Odoo stores
//! them), `false` for an empty non-boolean field becomes null, binary content is replaced by a
//! size marker, and sensitive fields never appear.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// Most fields picked when a call names none.
pub const DEFAULT_FIELD_COUNT: usize = 20;

/// Most ids listed for a one2many or many2many field.
pub const X2MANY_CAP: usize = 20;

/// Field types picked by default: short, scalar values.
const SIMPLE_TYPES: [&str; 9] = [
    "char",
    "selection",
    "integer",
    "float",
    "monetary",
    "boolean",
    "date",
    "datetime",
    "many2one",
];

/// Fields worth showing first when present, in this order.
const PREFERRED_FIELDS: [&str; 26] = [
    "email",
    "email_from",
    "phone",
    "mobile",
    "ref",
    "partner_id",
    "partner_name",
    "contact_name",
    "is_company",
    "parent_id",
    "user_id",
    "stage_id",
    "state",
    "type",
    "expected_revenue",
    "probability",
    "amount_total",
    "currency_id",
    "date",
    "date_deadline",
    "city",
    "country_id",
    "company_id",
    "model",
    "active",
    "create_date",
];

/// Prefixes of bookkeeping fields (chatter, activities, ratings) left out of default selections.
const TECHNICAL_PREFIXES: [&str; 8] = [
    "message_",
    "activity_",
    "website_message",
    "my_activity",
    "has_message",
    "rating_",
    "__",
    "access_",
];

/// One field of a model, from `fields_get`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldInfo {
    /// Technical name.
    pub name: String,
    /// Odoo type: char, many2one, datetime, binary, …
    pub kind: String,
    /// Label shown in Odoo.
    pub label: String,
    /// Whether a value is required.
    pub required: bool,
    /// Whether the field is read-only.
    pub readonly: bool,
    /// The related model of a relational field.
    pub relation: Option<String>,
    /// The allowed `(value, label)` pairs of a selection field.
    pub selection: Vec<(Value, String)>,
    /// Whether the field is stored (searchable, sortable).
    pub stored: bool,
}

impl FieldInfo {
    /// Whether values are file contents.
    pub fn is_binary(&self) -> bool {
        matches!(self.kind.as_str(), "binary" | "image")
    }
}

/// The fields of a model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelFields {
    /// The model.
    pub model: String,
    /// Its fields by name.
    pub fields: BTreeMap<String, FieldInfo>,
}

impl ModelFields {
    /// Reads a `fields_get` answer (`{name: {type, string, required, …}}`).
    pub fn from_fields_get(model: &str, answer: &Value) -> ModelFields {
        let mut fields = BTreeMap::new();
        if let Value::Object(map) = answer {
            for (name, info) in map {
                let text = |key: &str| info.get(key).and_then(Value::as_str).map(str::to_owned);
                let flag = |key: &str| info.get(key).and_then(Value::as_bool).unwrap_or(false);
                let selection = info
                    .get("selection")
                    .and_then(Value::as_array)
                    .map(|pairs| {
                        pairs
                            .iter()
                            .filter_map(|pair| {
                                let pair = pair.as_array()?;
                                let label = pair.get(1)?.as_str().unwrap_or_default().to_owned();
                                Some((pair.first()?.clone(), label))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                fields.insert(
                    name.clone(),
                    FieldInfo {
                        name: name.clone(),
                        kind: text("type").unwrap_or_else(|| "unknown".into()),
                        label: text("string").unwrap_or_else(|| name.clone()),
                        required: flag("required"),
                        readonly: flag("readonly"),
                        relation: text("relation").filter(|r| !r.is_empty()),
                        selection,
                        // Older servers may not report `store`; assume stored then.
                        stored: info.get("store").and_then(Value::as_bool).unwrap_or(true),
                    },
                );
            }
        }
        ModelFields {
            model: model.to_owned(),
            fields,
        }
    }

    /// A field by name.
    pub fn get(&self, name: &str) -> Option<&FieldInfo> {
        self.fields.get(name)
    }
}

/// Which fields to ask Odoo for, and what was left out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldSelection {
    /// The fields to fetch.
    pub fetch: Vec<String>,
    /// Requested fields withheld because they are sensitive.
    pub withheld: Vec<String>,
    /// Requested fields the model does not have.
    pub unknown: Vec<String>,
    /// Whether the selection is the default one (no fields were requested).
    pub defaulted: bool,
    /// How many readable fields the model has in all.
    pub available: usize,
}

/// The fields to fetch: the requested ones minus sensitive and unknown ones, or a small default
/// set (id, name, required fields, then other short stored fields; never binary or sensitive).
pub fn select_fields(
    requested: Option<&[String]>,
    model: &ModelFields,
    sensitive: &dyn Fn(&str) -> bool,
) -> FieldSelection {
    let readable = |info: &&FieldInfo| !sensitive(&info.name);
    let available = model.fields.values().filter(readable).count();
    if let Some(requested) = requested.filter(|r| !r.is_empty()) {
        let mut selection = FieldSelection {
            available,
            ..FieldSelection::default()
        };
        for name in requested {
            let name = name.trim();
            if selection.fetch.iter().any(|f| f == name) {
                continue;
            }
            if sensitive(name) {
                selection.withheld.push(name.to_owned());
            } else if name == "id" || model.get(name).is_some() {
                selection.fetch.push(name.to_owned());
            } else {
                selection.unknown.push(name.to_owned());
            }
        }
        return selection;
    }
    let eligible = |info: &FieldInfo| {
        !sensitive(&info.name)
            && !info.is_binary()
            && info.stored
            && SIMPLE_TYPES.contains(&info.kind.as_str())
            && !TECHNICAL_PREFIXES.iter().any(|p| info.name.starts_with(p))
            // Bookkeeping (who and when) and kanban colours say little about a record.
            && !matches!(
                info.name.as_str(),
                "create_uid" | "write_uid" | "write_date" | "color" | "sequence"
            )
    };
    let mut fetch: Vec<String> = vec!["id".into()];
    let add = |name: &str, fetch: &mut Vec<String>| {
        if fetch.len() < DEFAULT_FIELD_COUNT && !fetch.iter().any(|f| f == name) {
            fetch.push(name.to_owned());
        }
    };
    for name in ["display_name", "name"] {
        if model.get(name).is_some_and(|info| !sensitive(&info.name)) {
            add(name, &mut fetch);
        }
    }
    for info in model.fields.values().filter(|i| i.required && eligible(i)) {
        add(&info.name, &mut fetch);
    }
    for name in PREFERRED_FIELDS {
        if model.get(name).is_some_and(eligible) {
            add(name, &mut fetch);
        }
    }
    for info in model.fields.values().filter(|i| eligible(i)) {
        add(&info.name, &mut fetch);
    }
    FieldSelection {
        fetch,
        withheld: Vec::new(),
        unknown: Vec::new(),
        defaulted: true,
        available,
    }
}

/// A record as Odoo returned it, shaped for reading; sensitive fields are dropped.
pub fn shape_record(
    record: &Map<String, Value>,
    model: &ModelFields,
    sensitive: &dyn Fn(&str) -> bool,
) -> Map<String, Value> {
    record
        .iter()
        .filter(|(name, _)| !sensitive(name))
        .map(|(name, value)| {
            let shaped = match model.get(name) {
                Some(info) => shape_value(value, info),
                None => value.clone(),
            };
            (name.clone(), shaped)
        })
        .collect()
}

/// One value shaped according to its field's type.
pub fn shape_value(value: &Value, info: &FieldInfo) -> Value {
    match info.kind.as_str() {
        "boolean" => value.clone(),
        "many2one" => many2one(value),
        "one2many" | "many2many" => match value {
            Value::Array(ids) => json!({
                "ids": ids.iter().take(X2MANY_CAP).cloned().collect::<Vec<_>>(),
                "count": ids.len(),
            }),
            Value::Bool(false) | Value::Null => json!({"ids": [], "count": 0}),
            other => other.clone(),
        },
        "binary" | "image" => binary_marker(value),
        "datetime" => match value {
            Value::String(text) => Value::String(iso_datetime(text)),
            Value::Bool(false) => Value::Null,
            other => other.clone(),
        },
        _ => match value {
            Value::Bool(false) => Value::Null,
            other => other.clone(),
        },
    }
}

/// `[7, "Acme"]` → `{id: 7, name: "Acme"}`; `false` → null.
pub fn many2one(value: &Value) -> Value {
    match value {
        Value::Array(pair) if !pair.is_empty() => json!({
            "id": pair[0],
            "name": pair.get(1).cloned().unwrap_or(Value::Null),
        }),
        Value::Number(id) => json!({"id": id, "name": null}),
        Value::Object(_) => value.clone(),
        _ => Value::Null,
    }
}

/// The marker that replaces file contents: `{binary: true, size: "…"}`, or null when empty.
pub fn binary_marker(value: &Value) -> Value {
    match value {
        Value::Bool(false) | Value::Null => Value::Null,
        Value::Object(map) if map.contains_key("binary") => value.clone(),
        Value::String(text) => {
            // With `bin_size` in the context Odoo sends a human size such as "12.5 Kb"; otherwise
            // the content in base64, whose decoded size is computed here.
            let size = if looks_like_human_size(text) {
                text.clone()
            } else {
                let padding = text.bytes().rev().take_while(|b| *b == b'=').count();
                let bytes = (text.trim().len() / 4 * 3).saturating_sub(padding);
                format!("{bytes} bytes")
            };
            json!({"binary": true, "size": size})
        }
        _ => json!({"binary": true, "size": "unknown"}),
    }
}

fn looks_like_human_size(text: &str) -> bool {
    let mut parts = text.split_whitespace();
    let (Some(number), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    number.parse::<f64>().is_ok()
        && matches!(
            unit.to_ascii_lowercase().as_str(),
            "bytes" | "kb" | "mb" | "gb" | "tb"
        )
}

/// Odoo's `YYYY-MM-DD HH:MM:SS` (UTC) as ISO 8601 `YYYY-MM-DDTHH:MM:SSZ`; other text unchanged.
pub fn iso_datetime(text: &str) -> String {
    let bytes = text.as_bytes();
    let odoo_shape = bytes.len() >= 19
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && (bytes[10] == b' ' || bytes[10] == b'T')
        && bytes[13] == b':'
        && bytes[16] == b':';
    if !odoo_shape {
        return text.to_owned();
    }
    let mut iso = text.replacen(' ', "T", 1);
    let has_zone = iso.ends_with('Z') || iso[19..].contains('+') || iso[19..].contains('-');
    if !has_zone {
        iso.push('Z');
    }
    iso
}

/// An ISO 8601 datetime (`2024-05-01T10:00:00Z`, or without the zone) in Odoo's `YYYY-MM-DD
/// HH:MM:SS`; `None` when the text is not one, or has a zone other than UTC.
pub fn odoo_datetime(text: &str) -> Option<String> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', ' '])?;
    if !is_iso_date(date) {
        return None;
    }
    let time = time
        .strip_suffix('Z')
        .or_else(|| time.strip_suffix("+00:00"))
        .unwrap_or(time);
    let time = match time.len() {
        5 => format!("{time}:00"),
        8 => time.to_owned(),
        _ => return None,
    };
    let valid = time
        .split(':')
        .all(|part| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()));
    valid.then(|| format!("{date} {time}"))
}

/// Whether `text` is a real calendar date `YYYY-MM-DD`.
pub fn is_iso_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return false;
    };
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return false;
    }
    let (Ok(year), Ok(month), Ok(day)) = (
        year.parse::<u32>(),
        month.parse::<u32>(),
        day.parse::<u32>(),
    ) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// A value given by a caller, made ready for Odoo: ISO datetimes become Odoo's format.
pub fn to_odoo_value(value: &Value, info: Option<&FieldInfo>) -> Value {
    match (value, info.map(|i| i.kind.as_str())) {
        (Value::String(text), Some("datetime")) => {
            odoo_datetime(text).map_or_else(|| value.clone(), Value::String)
        }
        (Value::Null, _) => Value::Bool(false),
        _ => value.clone(),
    }
}

/// Removes sensitive keys from any JSON an arbitrary method returned, at any depth.
pub fn scrub_sensitive(value: &mut Value, sensitive: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut removed = Vec::new();
    fn walk(value: &mut Value, sensitive: &dyn Fn(&str) -> bool, removed: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                let keys: Vec<String> = map.keys().filter(|k| sensitive(k)).cloned().collect();
                for key in keys {
                    map.remove(&key);
                    if !removed.contains(&key) {
                        removed.push(key);
                    }
                }
                map.values_mut().for_each(|v| walk(v, sensitive, removed));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, sensitive, removed)),
            _ => {}
        }
    }
    walk(value, sensitive, &mut removed);
    removed
}

/// Text without HTML tags and with the common entities decoded, whitespace collapsed; for chatter
/// bodies quoted in prompts.
pub fn plain_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let decoded = text
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner_fields() -> ModelFields {
        ModelFields::from_fields_get(
            "res.partner",
            &json!({
                "id": {"type": "integer", "string": "ID", "store": true, "readonly": true},
                "name": {"type": "char", "string": "Name", "required": false, "store": true},
                "display_name": {"type": "char", "string": "Display Name", "store": false},
                "email": {"type": "char", "string": "Email", "store": true},
                "is_company": {"type": "boolean", "string": "Is a Company", "store": true},
                "country_id": {"type": "many2one", "string": "Country", "relation": "res.country", "store": true},
                "parent_id": {"type": "many2one", "string": "Related Company", "relation": "res.partner", "store": true},
                "child_ids": {"type": "one2many", "string": "Contacts", "relation": "res.partner", "store": true},
                "category_id": {"type": "many2many", "string": "Tags", "relation": "res.partner.category", "store": true},
                "image_1920": {"type": "binary", "string": "Image", "store": true},
                "write_date": {"type": "datetime", "string": "Last Updated on", "store": true},
                "date": {"type": "date", "string": "Date", "store": true},
                "type": {"type": "selection", "string": "Type", "store": true, "required": true, "selection": [["contact", "Contact"], ["invoice", "Invoice Address"]]},
                "comment": {"type": "html", "string": "Notes", "store": true},
                "message_ids": {"type": "one2many", "string": "Messages", "relation": "mail.message", "store": true},
                "signup_token": {"type": "char", "string": "Signup Token", "store": true},
                "credit": {"type": "monetary", "string": "Credit", "store": false},
            }),
        )
    }

    fn sensitive(name: &str) -> bool {
        name.contains("token") || name.contains("password")
    }

    #[test]
    fn fields_get_answers_are_read() {
        let fields = partner_fields();
        let kind = &fields.get("type").unwrap();
        assert!(kind.required);
        assert_eq!(
            kind.selection[1],
            (json!("invoice"), "Invoice Address".to_owned())
        );
        assert_eq!(
            fields.get("country_id").unwrap().relation.as_deref(),
            Some("res.country")
        );
        assert!(!fields.get("credit").unwrap().stored);
        assert!(fields.get("image_1920").unwrap().is_binary());
    }

    #[test]
    fn default_fields_are_short_useful_and_safe() {
        let selection = select_fields(None, &partner_fields(), &sensitive);
        assert!(selection.defaulted);
        assert_eq!(
            selection.fetch,
            [
                "id",
                "display_name",
                "name",
                "type",
                "email",
                "is_company",
                "parent_id",
                "date",
                "country_id"
            ]
        );
        for never in [
            "image_1920",
            "signup_token",
            "message_ids",
            "comment",
            "credit",
        ] {
            assert!(!selection.fetch.contains(&never.to_owned()), "{never}");
        }
        assert_eq!(selection.available, 16);
    }

    #[test]
    fn requested_fields_are_split_into_fetch_withheld_and_unknown() {
        let requested: Vec<String> = ["name", "signup_token", "nope", "name", "image_1920", "id"]
            .map(String::from)
            .to_vec();
        let selection = select_fields(Some(&requested), &partner_fields(), &sensitive);
        assert_eq!(selection.fetch, ["name", "image_1920", "id"]);
        assert_eq!(selection.withheld, ["signup_token"]);
        assert_eq!(selection.unknown, ["nope"]);
        assert!(!selection.defaulted);
    }

    #[test]
    fn records_are_shaped_by_field_type() {
        let raw = json!({
            "id": 7,
            "name": "Acme",
            "email": false,
            "is_company": false,
            "country_id": [68, "Spain"],
            "parent_id": false,
            "child_ids": (1..=25).collect::<Vec<i64>>(),
            "category_id": [],
            "image_1920": "iVBORw0KGgo=",
            "write_date": "2024-05-01 10:20:30",
            "date": "2024-05-01",
            "signup_token": "abc",
            "__extra": false,
        });
        let Value::Object(raw) = raw else {
            unreachable!()
        };
        let shaped = Value::Object(shape_record(&raw, &partner_fields(), &sensitive));
        assert_eq!(shaped["email"], Value::Null);
        assert_eq!(shaped["is_company"], json!(false));
        assert_eq!(shaped["country_id"], json!({"id": 68, "name": "Spain"}));
        assert_eq!(shaped["parent_id"], Value::Null);
        assert_eq!(shaped["child_ids"]["count"], 25);
        assert_eq!(
            shaped["child_ids"]["ids"].as_array().unwrap().len(),
            X2MANY_CAP
        );
        assert_eq!(shaped["category_id"], json!({"ids": [], "count": 0}));
        assert_eq!(
            shaped["image_1920"],
            json!({"binary": true, "size": "8 bytes"})
        );
        assert_eq!(shaped["write_date"], "2024-05-01T10:20:30Z");
        assert_eq!(shaped["date"], "2024-05-01");
        assert!(shaped.get("signup_token").is_none());
        assert_eq!(
            shaped["__extra"],
            json!(false),
            "unknown fields pass as they are"
        );
    }

    #[test]
    fn values_convert_both_ways() {
        // (Odoo text, ISO text)
        for (odoo, iso) in [
            ("2024-05-01 10:20:30", "2024-05-01T10:20:30Z"),
            ("2024-05-01T10:20:30Z", "2024-05-01T10:20:30Z"),
            ("not a date", "not a date"),
        ] {
            assert_eq!(iso_datetime(odoo), iso);
        }
        // (ISO input, Odoo text)
        for (iso, odoo) in [
            ("2024-05-01T10:20:30Z", Some("2024-05-01 10:20:30")),
            ("2024-05-01 10:20", Some("2024-05-01 10:20:00")),
            ("2024-05-01T10:20:30+00:00", Some("2024-05-01 10:20:30")),
            ("2024-05-01T10:20:30+02:00", None),
            ("2024-02-30T10:00:00Z", None),
            ("yesterday", None),
        ] {
            assert_eq!(odoo_datetime(iso).as_deref(), odoo, "{iso}");
        }
        for (date, valid) in [
            ("2024-02-29", true),
            ("2023-02-29", false),
            ("2024-13-01", false),
            ("2024-1-01", false),
            ("24-01-01", false),
        ] {
            assert_eq!(is_iso_date(date), valid, "{date}");
        }
        for (raw, size) in [
            (json!("12.5 Kb"), json!({"binary": true, "size": "12.5 Kb"})),
            (json!("QUJD"), json!({"binary": true, "size": "3 bytes"})),
            (json!(false), Value::Null),
        ] {
            assert_eq!(binary_marker(&raw), size, "{raw}");
        }
    }

    #[test]
    fn sensitive_keys_are_scrubbed_at_any_depth_and_html_flattened() {
        let mut value = json!([{"name": "x", "password": "p", "nested": {"api_token": 1}}]);
        let removed = scrub_sensitive(&mut value, &sensitive);
        assert_eq!(value, json!([{"name": "x", "nested": {}}]));
        assert_eq!(removed, ["password", "api_token"]);
        assert_eq!(
            plain_text("<p>Called &amp; agreed<br/>on   price</p>"),
            "Called & agreed on price"
        );
    }
}
