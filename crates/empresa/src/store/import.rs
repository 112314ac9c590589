//! Bulk import of companies and documents from CSV or JSON: every row is checked before anything
//! is written, and all rows are written in one transaction.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, Transaction, TransactionBehavior};
use serde_json::Value as JsonValue;

use super::error::{DbContext, ImportProblem, StoreError};
use super::matching::normalize_name;
use super::records;
use super::types::{
    ImportFormat, ImportKind, ImportRequest, ImportSummary, NewCompany, OnConflict,
};
use super::validate::{self, CompanyRecord, DocumentFields, FieldError};

/// Largest import accepted, in bytes of text.
pub(crate) const MAX_IMPORT_BYTES: usize = 10 * 1024 * 1024;
/// Problems listed in a rejection; past this, one last entry says how many more there were.
pub(crate) const MAX_PROBLEMS: usize = 1000;

const COMPANY_FIELDS: &[&str] = &[
    "name",
    "legal_id",
    "employees",
    "industry",
    "city",
    "country",
    "website",
    "email",
    "phone",
    "description",
];
const COMPANY_REQUIRED: &[&str] = &["name"];
const DOCUMENT_FIELDS: &[&str] = &["title", "body", "company", "tags", "date"];
const DOCUMENT_REQUIRED: &[&str] = &["title", "body"];

/// A cell or JSON value before validation.
#[derive(Debug, Clone)]
enum RawValue {
    Text(String),
    List(Vec<String>),
    /// A JSON value of a type no field accepts, described for the error message.
    Unsupported(&'static str),
}

/// One record of the input, with its known fields only (unknown ones are reported while parsing).
#[derive(Debug)]
struct RawRow {
    line: u64,
    location: String,
    values: HashMap<&'static str, RawValue>,
}

/// Collects problems with their place in the input.
#[derive(Debug, Default)]
struct Problems {
    list: Vec<ImportProblem>,
}

impl Problems {
    fn add(&mut self, line: u64, location: &str, field: Option<&str>, message: impl Into<String>) {
        self.list.push(ImportProblem {
            line,
            location: location.to_owned(),
            field: field.map(str::to_owned),
            message: message.into(),
        });
    }

    fn add_for_row(&mut self, row: &RawRow, field: Option<&str>, message: impl Into<String>) {
        self.add(row.line, &row.location, field, message);
    }

    fn add_field_error(&mut self, row: &RawRow, error: &FieldError) {
        self.add_for_row(row, Some(error.field), error.import_message());
    }

    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The rejection error, in input order and capped at [`MAX_PROBLEMS`].
    fn into_error(self) -> StoreError {
        let mut problems = self.list;
        problems.sort_by_key(|problem| problem.line);
        if problems.len() > MAX_PROBLEMS {
            let more = problems.len() - MAX_PROBLEMS;
            problems.truncate(MAX_PROBLEMS);
            problems.push(ImportProblem {
                line: 0,
                location: "the whole input".to_owned(),
                field: None,
                message: format!("{more} more problems were found and are not listed"),
            });
        }
        StoreError::ImportRejected { problems }
    }
}

pub(crate) fn run(
    connection: &mut Connection,
    request: &ImportRequest,
) -> Result<ImportSummary, StoreError> {
    if request.data.len() > MAX_IMPORT_BYTES {
        return Err(StoreError::invalid(
            "data",
            "at most 10 MiB of CSV or JSON text; split the import into smaller batches",
        ));
    }
    let (fields, required) = match request.kind {
        ImportKind::Companies => (COMPANY_FIELDS, COMPANY_REQUIRED),
        ImportKind::Documents => (DOCUMENT_FIELDS, DOCUMENT_REQUIRED),
    };
    let mut problems = Problems::default();
    let rows = match request.format {
        ImportFormat::Csv => parse_csv(&request.data, fields, required, &mut problems),
        ImportFormat::Json => parse_json(&request.data, fields, &mut problems),
    };

    let failed = "could not import the data";
    // Checking and writing share one write transaction, so conflicts found are still true when writing.
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .context(failed)?;
    let summary = match request.kind {
        ImportKind::Companies => {
            let plan = plan_companies(&transaction, &rows, request.on_conflict, &mut problems)?;
            if !problems.is_empty() {
                return Err(problems.into_error());
            }
            write_companies(&transaction, &plan).context(failed)?
        }
        ImportKind::Documents => {
            let plan = plan_documents(&transaction, &rows, request.on_conflict, &mut problems)?;
            if !problems.is_empty() {
                return Err(problems.into_error());
            }
            write_documents(&transaction, &plan).context(failed)?
        }
    };
    transaction.commit().context(failed)?;
    Ok(summary)
}

fn expected_fields(fields: &[&str]) -> String {
    fields.join(", ")
}

/// Maps a user-written column or key to the canonical field name, if it is one.
fn known_field(fields: &[&'static str], raw: &str) -> Option<&'static str> {
    let wanted = raw.trim().to_lowercase();
    fields.iter().copied().find(|field| *field == wanted)
}

fn parse_csv(
    data: &str,
    fields: &[&'static str],
    required: &[&str],
    problems: &mut Problems,
) -> Vec<RawRow> {
    let data = data.strip_prefix('\u{feff}').unwrap_or(data);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(data.as_bytes());
    let header = match reader.headers() {
        Ok(header) => header.clone(),
        Err(err) => {
            let line = err.position().map_or(1, csv::Position::line);
            problems.add(
                line,
                &format!("line {line}"),
                None,
                format!("could not read the CSV header: {err}"),
            );
            return Vec::new();
        }
    };
    if header.iter().all(|column| column.trim().is_empty()) {
        problems.add(
            1,
            "line 1",
            None,
            format!(
                "the CSV has no header row; expected a first line naming the columns, such as {}",
                expected_fields(fields)
            ),
        );
        return Vec::new();
    }

    // Each position maps to its field, or None for columns already reported as unusable.
    let mut columns: Vec<Option<&'static str>> = Vec::with_capacity(header.len());
    let mut seen = HashSet::new();
    for (index, raw) in header.iter().enumerate() {
        let column = match known_field(fields, raw) {
            Some(field) if seen.insert(field) => Some(field),
            Some(field) => {
                problems.add(
                    1,
                    "line 1",
                    Some(field),
                    "the column appears more than once",
                );
                None
            }
            None if raw.trim().is_empty() => {
                problems.add(
                    1,
                    "line 1",
                    None,
                    format!("column {} has no name", index + 1),
                );
                None
            }
            None => {
                problems.add(
                    1,
                    "line 1",
                    Some(raw.trim()),
                    format!(
                        "unknown column; expected some of: {}",
                        expected_fields(fields)
                    ),
                );
                None
            }
        };
        columns.push(column);
    }
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|field| !seen.contains(field))
        .collect();
    if !missing.is_empty() {
        for field in missing {
            problems.add(1, "line 1", Some(field), "the required column is missing");
        }
        // Without a required column every row would repeat the same complaint.
        return Vec::new();
    }

    let mut rows = Vec::new();
    for result in reader.records() {
        match result {
            Ok(record) => {
                let line = record.position().map_or(0, csv::Position::line);
                let location = format!("line {line}");
                if record.iter().all(|cell| cell.trim().is_empty()) {
                    continue;
                }
                if record.len() != columns.len() {
                    problems.add(
                        line,
                        &location,
                        None,
                        format!(
                            "expected {} fields as in the header, found {}",
                            columns.len(),
                            record.len()
                        ),
                    );
                    continue;
                }
                let values = columns
                    .iter()
                    .zip(record.iter())
                    .filter_map(|(column, cell)| {
                        column.map(|field| (field, RawValue::Text(cell.to_owned())))
                    })
                    .collect();
                rows.push(RawRow {
                    line,
                    location,
                    values,
                });
            }
            Err(err) => {
                let Some(line) = err.position().map(csv::Position::line) else {
                    problems.add(
                        0,
                        "the whole input",
                        None,
                        format!("could not read the CSV: {err}"),
                    );
                    break;
                };
                problems.add(
                    line,
                    &format!("line {line}"),
                    None,
                    format!("could not read the CSV: {err}"),
                );
            }
        }
    }
    rows
}

fn parse_json(data: &str, fields: &[&'static str], problems: &mut Problems) -> Vec<RawRow> {
    let parsed: JsonValue = match serde_json::from_str(data) {
        Ok(parsed) => parsed,
        Err(err) => {
            let line = err.line() as u64;
            let position = format!(" at line {} column {}", err.line(), err.column());
            // The location already says where; keep only serde's description of what.
            let full = err.to_string();
            let what = full.strip_suffix(&position).unwrap_or(&full);
            problems.add(
                line,
                &format!("line {line}, column {}", err.column()),
                None,
                format!("the JSON could not be parsed: {what}"),
            );
            return Vec::new();
        }
    };
    let JsonValue::Array(items) = parsed else {
        problems.add(
            0,
            "the whole input",
            None,
            format!(
                "expected a JSON array of objects, got {}",
                json_kind(&parsed)
            ),
        );
        return Vec::new();
    };

    let mut rows = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let number = index as u64 + 1;
        let location = format!("item {number}");
        let JsonValue::Object(object) = item else {
            problems.add(
                number,
                &location,
                None,
                format!(
                    "expected an object with the fields {}, got {}",
                    expected_fields(fields),
                    json_kind(&item)
                ),
            );
            continue;
        };
        let mut values = HashMap::new();
        for (key, value) in object {
            let Some(field) = known_field(fields, &key) else {
                problems.add(
                    number,
                    &location,
                    Some(&key),
                    format!(
                        "unknown field; expected some of: {}",
                        expected_fields(fields)
                    ),
                );
                continue;
            };
            if values.contains_key(field) {
                problems.add(
                    number,
                    &location,
                    Some(field),
                    "the field appears more than once",
                );
                continue;
            }
            if let Some(raw) = raw_from_json(value) {
                values.insert(field, raw);
            }
        }
        rows.push(RawRow {
            line: number,
            location,
            values,
        });
    }
    rows
}

fn json_kind(value: &JsonValue) -> &'static str {
    match value {
        JsonValue::Null => "null",
        JsonValue::Bool(_) => "a boolean",
        JsonValue::Number(_) => "a number",
        JsonValue::String(_) => "a string",
        JsonValue::Array(_) => "a list",
        JsonValue::Object(_) => "an object",
    }
}

/// Null means absent; numbers become text so "employees": 12 and "employees": "12" agree.
fn raw_from_json(value: JsonValue) -> Option<RawValue> {
    match value {
        JsonValue::Null => None,
        JsonValue::String(text) => Some(RawValue::Text(text)),
        JsonValue::Number(number) => Some(RawValue::Text(number.to_string())),
        JsonValue::Array(items) => {
            let texts: Option<Vec<String>> = items
                .into_iter()
                .map(|item| match item {
                    JsonValue::String(text) => Some(text),
                    _ => None,
                })
                .collect();
            Some(texts.map_or(
                RawValue::Unsupported("a list with items that are not text"),
                RawValue::List,
            ))
        }
        other => Some(RawValue::Unsupported(json_kind(&other))),
    }
}

impl RawRow {
    /// The text of a field; a value of the wrong type is reported and treated as absent.
    fn text(
        &self,
        field: &'static str,
        problems: &mut Problems,
        reported: &mut HashSet<&'static str>,
    ) -> Option<String> {
        match self.values.get(field) {
            None => None,
            Some(RawValue::Text(text)) => Some(text.clone()),
            Some(RawValue::List(_)) => {
                problems.add_for_row(self, Some(field), "expected text, got a list");
                reported.insert(field);
                None
            }
            Some(RawValue::Unsupported(kind)) => {
                problems.add_for_row(self, Some(field), format!("expected text, got {kind}"));
                reported.insert(field);
                None
            }
        }
    }
}

/// What the import will do with one company row.
enum CompanyAction {
    Insert(CompanyRecord),
    Update(i64, CompanyRecord),
    Skip,
}

/// Validates one company row, reporting every bad field.
fn company_row(row: &RawRow, problems: &mut Problems) -> Option<CompanyRecord> {
    let mut reported = HashSet::new();
    let mut text = |field| row.text(field, problems, &mut reported);
    let name = text("name");
    let legal_id = text("legal_id");
    let employees_text = text("employees");
    let industry = text("industry");
    let city = text("city");
    let country = text("country");
    let website = text("website");
    let email = text("email");
    let phone = text("phone");
    let description = text("description");

    let employees = match employees_text.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(count) => Some(count),
            Err(_) => {
                let error = FieldError::new("employees", "a non-negative integer", Some(raw));
                problems.add_field_error(row, &error);
                reported.insert("employees");
                None
            }
        },
    };
    let new = NewCompany {
        name: name.unwrap_or_default(),
        legal_id,
        employees,
        industry,
        city,
        country,
        website,
        email,
        phone,
        description,
    };
    match validate::company(&new) {
        Ok(record) if reported.is_empty() => Some(record),
        Ok(_) => None,
        Err(errors) => {
            for error in errors
                .iter()
                .filter(|error| !reported.contains(error.field))
            {
                problems.add_field_error(row, error);
            }
            None
        }
    }
}

/// The existing company with the row's values laid over it; the stored name is kept.
fn merge_company(existing: &CompanyRecord, row: CompanyRecord) -> CompanyRecord {
    CompanyRecord {
        name: existing.name.clone(),
        name_norm: existing.name_norm.clone(),
        legal_id: row.legal_id.or_else(|| existing.legal_id.clone()),
        employees: row.employees.or(existing.employees),
        industry: row.industry.or_else(|| existing.industry.clone()),
        city: row.city.or_else(|| existing.city.clone()),
        country: row.country.or_else(|| existing.country.clone()),
        website: row.website.or_else(|| existing.website.clone()),
        email: row.email.or_else(|| existing.email.clone()),
        phone: row.phone.or_else(|| existing.phone.clone()),
        description: row.description.or_else(|| existing.description.clone()),
    }
}

fn plan_companies(
    transaction: &Transaction<'_>,
    rows: &[RawRow],
    on_conflict: OnConflict,
    problems: &mut Problems,
) -> Result<Vec<CompanyAction>, StoreError> {
    let mut plan = Vec::with_capacity(rows.len());
    let mut first_seen: HashMap<String, String> = HashMap::new();
    for row in rows {
        let Some(record) = company_row(row, problems) else {
            continue;
        };
        if let Some(earlier) = first_seen.get(&record.name_norm) {
            problems.add_for_row(
                row,
                Some("name"),
                format!(
                    "the company {:?} already appears in this import at {earlier}; names must differ even ignoring case, accents and punctuation",
                    record.name
                ),
            );
            continue;
        }
        first_seen.insert(record.name_norm.clone(), row.location.clone());
        let existing = records::company_by_norm(transaction, &record.name_norm)
            .context("could not check the imported company names")?;
        let action = match (existing, on_conflict) {
            (None, _) => CompanyAction::Insert(record),
            (Some(existing), OnConflict::Error) => {
                problems.add_for_row(
                    row,
                    Some("name"),
                    format!(
                        "a company named {:?} already exists (id {}); set on_conflict to skip or update to import the file anyway",
                        existing.name, existing.id
                    ),
                );
                continue;
            }
            (Some(_), OnConflict::Skip) => CompanyAction::Skip,
            (Some(existing), OnConflict::Update) => CompanyAction::Update(
                existing.id,
                merge_company(&records::record_of(&existing), record),
            ),
        };
        plan.push(action);
    }
    Ok(plan)
}

fn write_companies(
    connection: &Connection,
    plan: &[CompanyAction],
) -> rusqlite::Result<ImportSummary> {
    let mut summary = ImportSummary {
        inserted: 0,
        updated: 0,
        skipped: 0,
    };
    for action in plan {
        match action {
            CompanyAction::Insert(record) => {
                records::insert_company(connection, record)?;
                summary.inserted += 1;
            }
            CompanyAction::Update(id, record) => {
                records::update_company(connection, *id, record)?;
                summary.updated += 1;
            }
            CompanyAction::Skip => summary.skipped += 1,
        }
    }
    Ok(summary)
}

/// What the import will do with one document row.
enum DocumentAction {
    Insert(DocumentFields, Option<i64>),
    Update(i64, DocumentFields),
    Skip,
}

/// Validates one document row and resolves its company, reporting every bad field.
fn document_row(
    transaction: &Transaction<'_>,
    row: &RawRow,
    problems: &mut Problems,
) -> Result<Option<(DocumentFields, Option<i64>)>, StoreError> {
    let mut reported = HashSet::new();
    let title = row.text("title", problems, &mut reported);
    let body = row.text("body", problems, &mut reported);
    let date = row.text("date", problems, &mut reported);
    let company = row.text("company", problems, &mut reported);
    let tags: Vec<String> = match row.values.get("tags") {
        None => Vec::new(),
        Some(RawValue::Text(text)) => text.split(';').map(str::to_owned).collect(),
        Some(RawValue::List(items)) => items.clone(),
        Some(RawValue::Unsupported(kind)) => {
            problems.add_for_row(
                row,
                Some("tags"),
                format!(
                    "expected a list of texts or a text with tags separated by ';', got {kind}"
                ),
            );
            reported.insert("tags");
            Vec::new()
        }
    };

    let company_id = match company.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => {
            let id = records::company_id_by_name(transaction, name)
                .context("could not look up the companies of the imported documents")?;
            if id.is_none() {
                let error =
                    FieldError::new("company", "the name of an existing company", Some(name));
                problems.add_field_error(row, &error);
                reported.insert("company");
            }
            id
        }
    };
    let checked = validate::document_fields(
        title.as_deref().unwrap_or_default(),
        body.as_deref().unwrap_or_default(),
        &tags,
        date.as_deref(),
    );
    Ok(match checked {
        Ok(fields) if reported.is_empty() => Some((fields, company_id)),
        Ok(_) => None,
        Err(errors) => {
            for error in errors
                .iter()
                .filter(|error| !reported.contains(error.field))
            {
                problems.add_field_error(row, error);
            }
            None
        }
    })
}

/// Documents are the same when they have the same company and the same title, ignoring case,
/// accents and punctuation.
type DocumentKey = (Option<i64>, String);

fn existing_documents(
    transaction: &Transaction<'_>,
) -> rusqlite::Result<HashMap<DocumentKey, i64>> {
    let mut statement =
        transaction.prepare("SELECT id, title, company_id FROM documents ORDER BY id")?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, Option<i64>>(2)?,
        ))
    })?;
    let mut existing = HashMap::new();
    for row in rows {
        let (id, title, company_id) = row?;
        existing
            .entry((company_id, normalize_name(&title)))
            .or_insert(id);
    }
    Ok(existing)
}

fn plan_documents(
    transaction: &Transaction<'_>,
    rows: &[RawRow],
    on_conflict: OnConflict,
    problems: &mut Problems,
) -> Result<Vec<DocumentAction>, StoreError> {
    let existing =
        existing_documents(transaction).context("could not read the existing documents")?;
    let mut plan = Vec::with_capacity(rows.len());
    let mut first_seen: HashMap<DocumentKey, String> = HashMap::new();
    for row in rows {
        let Some((fields, company_id)) = document_row(transaction, row, problems)? else {
            continue;
        };
        let key = (company_id, normalize_name(&fields.title));
        if let Some(earlier) = first_seen.get(&key) {
            problems.add_for_row(
                row,
                Some("title"),
                format!(
                    "a document titled {:?} for the same company already appears in this import at {earlier}",
                    fields.title
                ),
            );
            continue;
        }
        first_seen.insert(key.clone(), row.location.clone());
        let action = match (existing.get(&key), on_conflict) {
            (None, _) => DocumentAction::Insert(fields, company_id),
            (Some(id), OnConflict::Error) => {
                problems.add_for_row(
                    row,
                    Some("title"),
                    format!(
                        "a document titled {:?} already exists for this company (id {id}); set on_conflict to skip or update to import the file anyway",
                        fields.title
                    ),
                );
                continue;
            }
            (Some(_), OnConflict::Skip) => DocumentAction::Skip,
            (Some(id), OnConflict::Update) => DocumentAction::Update(*id, fields),
        };
        plan.push(action);
    }
    Ok(plan)
}

fn write_documents(
    connection: &Connection,
    plan: &[DocumentAction],
) -> rusqlite::Result<ImportSummary> {
    let mut summary = ImportSummary {
        inserted: 0,
        updated: 0,
        skipped: 0,
    };
    for action in plan {
        match action {
            DocumentAction::Insert(fields, company_id) => {
                records::insert_document(connection, fields, *company_id)?;
                summary.inserted += 1;
            }
            DocumentAction::Update(id, fields) => {
                records::update_document_content(connection, *id, fields)?;
                summary.updated += 1;
            }
            DocumentAction::Skip => summary.skipped += 1,
        }
    }
    Ok(summary)
}
