//! Field validation shared by the single-record API and the importer.

use std::collections::HashSet;

use super::error::StoreError;
use super::matching::normalize_name;
use super::types::{NewCompany, NewDocument};

/// Longest company name accepted.
pub(crate) const MAX_NAME_CHARS: usize = 200;
/// Longest value of short text fields (legal id, industry, city, country, phone).
const MAX_SHORT_TEXT_CHARS: usize = 200;
/// Longest website or email accepted.
const MAX_ADDRESS_CHARS: usize = 500;
/// Longest company description accepted.
const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Longest document title accepted.
const MAX_TITLE_CHARS: usize = 500;
/// Longest document body accepted; the whole import is capped at 10 MiB anyway.
const MAX_BODY_CHARS: usize = 1_000_000;
/// Most tags a document may carry.
const MAX_TAGS: usize = 50;
/// Longest tag accepted.
const MAX_TAG_CHARS: usize = 100;

/// A rejected field, with the raw value so the importer can quote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub field: &'static str,
    pub expected: String,
    pub got: Option<String>,
}

impl FieldError {
    pub(crate) fn new(
        field: &'static str,
        expected: impl Into<String>,
        got: Option<&str>,
    ) -> FieldError {
        FieldError {
            field,
            expected: expected.into(),
            got: got.map(str::to_owned),
        }
    }

    /// The error as the single-record API reports it.
    pub(crate) fn into_store_error(self) -> StoreError {
        StoreError::InvalidInput {
            field: self.field.to_owned(),
            expected: self.expected,
        }
    }

    /// The error as an import problem message, quoting what was found.
    pub(crate) fn import_message(&self) -> String {
        match self.got.as_deref().map(str::trim) {
            Some("") => format!("missing value: expected {}", self.expected),
            Some(got) => format!("expected {}, got {:?}", self.expected, shorten(got)),
            None => format!("expected {}", self.expected),
        }
    }
}

/// Keeps quoted values in messages readable when someone pastes a whole paragraph in a cell.
fn shorten(text: &str) -> String {
    const SHOWN_CHARS: usize = 60;
    if text.chars().count() <= SHOWN_CHARS {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(SHOWN_CHARS).collect();
        short.push('…');
        short
    }
}

/// A company whose fields passed validation, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompanyRecord {
    pub name: String,
    pub name_norm: String,
    pub legal_id: Option<String>,
    pub employees: Option<i64>,
    pub industry: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub website: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
}

/// A document whose fields passed validation; the company is resolved separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DocumentFields {
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub date: Option<String>,
}

/// Whether `text` holds a control character (NUL, escape, bell, …) other than tab and line
/// breaks. Such characters are invisible, end C strings early and can rewrite a terminal, so a
/// value holding one would read differently in every place it is shown. Tab and line breaks stay
/// allowed everywhere: they are whitespace, and a quoted CSV cell may span lines.
fn has_control(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// The error for a value holding a control character.
fn control_error(field: &'static str, raw: Option<&str>) -> FieldError {
    FieldError::new(
        field,
        "text without control characters such as NUL or escape (tab and line breaks are fine)",
        raw,
    )
}

/// Checks a company name and returns it trimmed, with its normalized key.
pub(crate) fn company_name(raw: &str) -> Result<(String, String), FieldError> {
    let name = raw.trim();
    // Checked after trimming: a line break around the name (a pasted cell) is only whitespace.
    if has_control(name) {
        return Err(control_error("name", Some(raw)));
    }
    let name_norm = normalize_name(name);
    if name_norm.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new(
            "name",
            format!(
                "a non-empty company name of at most {MAX_NAME_CHARS} characters, with at least one letter or digit"
            ),
            Some(raw),
        ));
    }
    Ok((name.to_owned(), name_norm))
}

/// Trims optional text; blank means absent.
fn optional_text(
    field: &'static str,
    raw: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>, FieldError> {
    let Some(text) = raw.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    if has_control(text) {
        return Err(control_error(field, raw));
    }
    if text.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            format!("text of at most {max_chars} characters"),
            raw,
        ));
    }
    Ok(Some(text.to_owned()))
}

fn employees(value: Option<i64>) -> Result<Option<i64>, FieldError> {
    match value {
        Some(count) if count < 0 => Err(FieldError::new(
            "employees",
            "a non-negative integer",
            Some(&count.to_string()),
        )),
        other => Ok(other),
    }
}

fn email(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(text) = optional_text("email", raw, MAX_ADDRESS_CHARS)? else {
        return Ok(None);
    };
    let well_formed = match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !text.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if !well_formed {
        return Err(FieldError::new(
            "email",
            "an email address such as contacto@empresa.example, with '@' and no spaces",
            raw,
        ));
    }
    Ok(Some(text))
}

fn website(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(text) = optional_text("website", raw, MAX_ADDRESS_CHARS)? else {
        return Ok(None);
    };
    let lowercase = text.to_ascii_lowercase();
    let rest = lowercase
        .strip_prefix("https://")
        .or_else(|| lowercase.strip_prefix("http://"));
    let well_formed =
        rest.is_some_and(|rest| !rest.is_empty()) && !text.chars().any(char::is_whitespace);
    if !well_formed {
        return Err(FieldError::new(
            "website",
            "a URL starting with http:// or https://",
            raw,
        ));
    }
    Ok(Some(text))
}

/// Validates every field of a new company and returns the record or every problem found, in
/// the order the fields are declared.
pub(crate) fn company(new: &NewCompany) -> Result<CompanyRecord, Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = company_name(&new.name).map_err(|error| errors.push(error));
    let legal_id = optional_text("legal_id", new.legal_id.as_deref(), MAX_SHORT_TEXT_CHARS)
        .map_err(|error| errors.push(error));
    let employees = employees(new.employees).map_err(|error| errors.push(error));
    let industry = optional_text("industry", new.industry.as_deref(), MAX_SHORT_TEXT_CHARS)
        .map_err(|error| errors.push(error));
    let city = optional_text("city", new.city.as_deref(), MAX_SHORT_TEXT_CHARS)
        .map_err(|error| errors.push(error));
    let country = optional_text("country", new.country.as_deref(), MAX_SHORT_TEXT_CHARS)
        .map_err(|error| errors.push(error));
    let website = website(new.website.as_deref()).map_err(|error| errors.push(error));
    let email = email(new.email.as_deref()).map_err(|error| errors.push(error));
    let phone = optional_text("phone", new.phone.as_deref(), MAX_SHORT_TEXT_CHARS)
        .map_err(|error| errors.push(error));
    let description = optional_text(
        "description",
        new.description.as_deref(),
        MAX_DESCRIPTION_CHARS,
    )
    .map_err(|error| errors.push(error));
    match (
        name,
        legal_id,
        employees,
        industry,
        city,
        country,
        website,
        email,
        phone,
        description,
    ) {
        (
            Ok((name, name_norm)),
            Ok(legal_id),
            Ok(employees),
            Ok(industry),
            Ok(city),
            Ok(country),
            Ok(website),
            Ok(email),
            Ok(phone),
            Ok(description),
        ) => Ok(CompanyRecord {
            name,
            name_norm,
            legal_id,
            employees,
            industry,
            city,
            country,
            website,
            email,
            phone,
            description,
        }),
        _ => Err(errors),
    }
}

/// Checks a `YYYY-MM-DD` date, including that the day exists in that month.
pub(crate) fn date(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(text) = raw.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    if is_calendar_date(text) {
        Ok(Some(text.to_owned()))
    } else {
        Err(FieldError::new(
            "date",
            "a calendar date in the form YYYY-MM-DD",
            raw,
        ))
    }
}

fn is_calendar_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(index, byte)| index == 4 || index == 7 || byte.is_ascii_digit());
    if !shape_ok {
        return false;
    }
    let number = |range: std::ops::Range<usize>| text.get(range).and_then(|part| part.parse().ok());
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1 && (1..=days_in_month).contains(&day)
}

/// Trims tags, drops blank and repeated ones (ignoring case), and enforces the limits.
pub(crate) fn tags<'a>(raw: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, FieldError> {
    let mut kept = Vec::new();
    let mut seen = HashSet::new();
    for tag in raw {
        let tag = tag.trim();
        if tag.is_empty() {
            continue;
        }
        if has_control(tag) {
            return Err(control_error("tags", Some(tag)));
        }
        if tag.chars().count() > MAX_TAG_CHARS {
            return Err(FieldError::new(
                "tags",
                format!("tags of at most {MAX_TAG_CHARS} characters each"),
                Some(tag),
            ));
        }
        if seen.insert(tag.to_lowercase()) {
            kept.push(tag.to_owned());
        }
    }
    if kept.len() > MAX_TAGS {
        return Err(FieldError::new(
            "tags",
            format!("at most {MAX_TAGS} tags"),
            None,
        ));
    }
    Ok(kept)
}

/// Validates the own fields of a document (not its company) and returns every problem found.
pub(crate) fn document_fields(
    title: &str,
    body: &str,
    raw_tags: &[String],
    raw_date: Option<&str>,
) -> Result<DocumentFields, Vec<FieldError>> {
    let mut errors = Vec::new();
    let title_trimmed = title.trim();
    if has_control(title_trimmed) {
        errors.push(control_error("title", Some(title)));
    } else if title_trimmed.is_empty() || title_trimmed.chars().count() > MAX_TITLE_CHARS {
        errors.push(FieldError::new(
            "title",
            format!("a non-empty title of at most {MAX_TITLE_CHARS} characters"),
            Some(title),
        ));
    }
    let body_trimmed = body.trim();
    if has_control(body_trimmed) {
        // A whole body is too long to quote; the field and the rule are enough to find it.
        errors.push(control_error("body", None));
    } else if body_trimmed.is_empty() || body_trimmed.chars().count() > MAX_BODY_CHARS {
        errors.push(FieldError::new(
            "body",
            format!("a non-empty text of at most {MAX_BODY_CHARS} characters"),
            // A whole body is too long to quote; say only whether it was empty.
            Some(if body_trimmed.is_empty() {
                ""
            } else {
                "(text too long)"
            }),
        ));
    }
    let tags = tags(raw_tags.iter().map(String::as_str)).map_err(|error| errors.push(error));
    let date = date(raw_date).map_err(|error| errors.push(error));
    match (tags, date) {
        (Ok(tags), Ok(date)) if errors.is_empty() => Ok(DocumentFields {
            title: title_trimmed.to_owned(),
            body: body_trimmed.to_owned(),
            tags,
            date,
        }),
        _ => Err(errors),
    }
}

/// Validates a [`NewDocument`]'s own fields for the single-record API.
pub(crate) fn new_document(new: &NewDocument) -> Result<DocumentFields, StoreError> {
    document_fields(&new.title, &new.body, &new.tags, new.date.as_deref()).map_err(first_error)
}

/// The single-record API reports one problem at a time: the first one.
pub(crate) fn first_error(errors: Vec<FieldError>) -> StoreError {
    errors.into_iter().next().map_or_else(
        || StoreError::invalid("input", "valid values"),
        FieldError::into_store_error,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_must_exist_in_the_calendar() {
        let cases = [
            ("2024-02-29", true),
            ("2023-02-29", false),
            ("2000-02-29", true),
            ("1900-02-29", false),
            ("2024-04-31", false),
            ("2024-12-31", true),
            ("2024-13-01", false),
            ("2024-00-10", false),
            ("2024-1-01", false),
            ("24-01-01", false),
            ("2024/01/01", false),
            ("0000-01-01", false),
            ("2024-01-01T00:00", false),
            ("２０２４-01-01", false),
        ];
        for (input, valid) in cases {
            assert_eq!(is_calendar_date(input), valid, "input {input:?}");
        }
    }

    #[test]
    fn company_validation_names_each_bad_field() {
        let valid = NewCompany {
            name: "Empresa Nueva".into(),
            ..NewCompany::default()
        };
        // (change, expected failing fields)
        let cases: Vec<(NewCompany, Vec<&str>)> = vec![
            (valid.clone(), vec![]),
            (
                NewCompany {
                    name: "   ".into(),
                    ..valid.clone()
                },
                vec!["name"],
            ),
            (
                NewCompany {
                    name: "x".repeat(201),
                    ..valid.clone()
                },
                vec!["name"],
            ),
            (
                NewCompany {
                    employees: Some(-1),
                    ..valid.clone()
                },
                vec!["employees"],
            ),
            (
                NewCompany {
                    email: Some("sin-arroba.example".into()),
                    ..valid.clone()
                },
                vec!["email"],
            ),
            (
                NewCompany {
                    email: Some("con espacio@x.example".into()),
                    ..valid.clone()
                },
                vec!["email"],
            ),
            (
                NewCompany {
                    website: Some("www.x.example".into()),
                    ..valid.clone()
                },
                vec!["website"],
            ),
            (
                NewCompany {
                    website: Some("HTTPS://x.example".into()),
                    email: Some(" ".into()),
                    ..valid.clone()
                },
                vec![],
            ),
            (
                NewCompany {
                    name: String::new(),
                    employees: Some(-5),
                    website: Some("ftp://x".into()),
                    ..valid.clone()
                },
                vec!["name", "employees", "website"],
            ),
        ];
        for (input, expected) in cases {
            let fields: Vec<&str> = match company(&input) {
                Ok(_) => vec![],
                Err(errors) => errors.iter().map(|error| error.field).collect(),
            };
            assert_eq!(fields, expected, "input {input:?}");
        }
    }

    /// NUL and other control characters are refused, naming the field; tabs and line breaks are
    /// kept.
    #[test]
    fn control_characters_are_refused_naming_the_field() {
        let valid = NewCompany {
            name: "Empresa Nueva".into(),
            ..NewCompany::default()
        };
        let companies: Vec<(NewCompany, Vec<&str>)> = vec![
            (
                NewCompany {
                    name: "Empresa\0Nueva".into(),
                    ..valid.clone()
                },
                vec!["name"],
            ),
            (
                NewCompany {
                    name: "Empresa\u{1b}[2J".into(),
                    ..valid.clone()
                },
                vec!["name"],
            ),
            (
                NewCompany {
                    name: "Empresa\u{7f}Nueva".into(),
                    ..valid.clone()
                },
                vec!["name"],
            ),
            (
                // A quoted CSV cell may span lines: still whitespace, still accepted.
                NewCompany {
                    name: "Empresa\nNueva".into(),
                    ..valid.clone()
                },
                vec![],
            ),
            (
                NewCompany {
                    city: Some("Madrid\0".into()),
                    ..valid.clone()
                },
                vec!["city"],
            ),
            (
                NewCompany {
                    description: Some("Línea uno\n\tLínea dos\r\n".into()),
                    ..valid.clone()
                },
                vec![],
            ),
            (
                NewCompany {
                    description: Some("Texto\u{7}".into()),
                    ..valid.clone()
                },
                vec!["description"],
            ),
        ];
        for (input, expected) in companies {
            let fields: Vec<&str> = match company(&input) {
                Ok(_) => vec![],
                Err(errors) => errors.iter().map(|error| error.field).collect(),
            };
            assert_eq!(fields, expected, "input {input:?}");
        }
        let error = company_name("Empresa\0Nueva")
            .unwrap_err()
            .into_store_error();
        assert!(
            error.to_string().contains("name") && error.to_string().contains("NUL"),
            "{error}"
        );

        let documents: [(&str, &str, &[&str], Vec<&str>); 6] = [
            ("Contrato", "Cláusula 1.\n\tCláusula 2.\r\n", &[], vec![]),
            ("Contrato\0", "Texto", &[], vec!["title"]),
            ("Contrato\u{9b}marco", "Texto", &[], vec!["title"]),
            ("Contrato", "Texto\0oculto", &[], vec!["body"]),
            ("Contrato", "Texto\u{1b}[31m", &[], vec!["body"]),
            ("Contrato", "Texto", &["legal\0"], vec!["tags"]),
        ];
        for (title, body, raw_tags, expected) in documents {
            let raw_tags: Vec<String> = raw_tags.iter().map(|t| (*t).to_owned()).collect();
            let fields: Vec<&str> = match document_fields(title, body, &raw_tags, None) {
                Ok(_) => vec![],
                Err(errors) => errors.iter().map(|error| error.field).collect(),
            };
            assert_eq!(fields, expected, "title {title:?}, body {body:?}");
        }
    }

    #[test]
    fn tags_are_trimmed_and_deduplicated() {
        let tags = tags([" contrato ", "", "Contrato", "software"]).unwrap();
        assert_eq!(tags, vec!["contrato", "software"]);
        let too_many: Vec<String> = (0..51).map(|n| format!("t{n}")).collect();
        assert!(super::tags(too_many.iter().map(String::as_str)).is_err());
    }

    #[test]
    fn import_messages_quote_the_value() {
        let error = FieldError::new("employees", "a non-negative integer", Some("abc"));
        assert_eq!(
            error.import_message(),
            "expected a non-negative integer, got \"abc\""
        );
        let missing = FieldError::new("name", "a name", Some(" "));
        assert_eq!(missing.import_message(), "missing value: expected a name");
    }
}
