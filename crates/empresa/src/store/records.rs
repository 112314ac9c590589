//! Row-level SQL shared by the API, the seeder and the importer. Functions here take any
//! connection or transaction and return raw rusqlite errors; callers add the context.

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::matching::normalize_name;
use super::types::{Company, Document, DocumentSummary};
use super::validate::{CompanyRecord, DocumentFields};

/// The current time as RFC 3339 UTC text, computed by SQLite so every row of a statement agrees.
const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";

/// Columns read by [`company_from_row`], in order.
pub(crate) const COMPANY_COLUMNS: &str = "id, name, legal_id, employees, industry, city, country, website, email, phone, description, created_at, updated_at";

pub(crate) fn company_from_row(row: &Row<'_>) -> rusqlite::Result<Company> {
    Ok(Company {
        id: row.get(0)?,
        name: row.get(1)?,
        legal_id: row.get(2)?,
        employees: row.get(3)?,
        industry: row.get(4)?,
        city: row.get(5)?,
        country: row.get(6)?,
        website: row.get(7)?,
        email: row.get(8)?,
        phone: row.get(9)?,
        description: row.get(10)?,
        created_at: row.get(11)?,
        updated_at: row.get(12)?,
    })
}

pub(crate) fn load_company(connection: &Connection, id: i64) -> rusqlite::Result<Option<Company>> {
    // Cached: parsing the statement again on every call showed in the profile of a lookup.
    connection
        .prepare_cached(&format!(
            "SELECT {COMPANY_COLUMNS} FROM companies WHERE id = ?1"
        ))?
        .query_row([id], company_from_row)
        .optional()
}

/// The company whose folded name equals `name_norm`, if any.
pub(crate) fn company_by_norm(
    connection: &Connection,
    name_norm: &str,
) -> rusqlite::Result<Option<Company>> {
    connection
        .prepare_cached(&format!(
            "SELECT {COMPANY_COLUMNS} FROM companies WHERE name_norm = ?1"
        ))?
        .query_row([name_norm], company_from_row)
        .optional()
}

/// Folds an optional attribute for the case- and accent-insensitive filter columns.
fn norm_of(value: Option<&String>) -> Option<String> {
    value.map(|text| normalize_name(text))
}

pub(crate) fn insert_company(
    connection: &Connection,
    record: &CompanyRecord,
) -> rusqlite::Result<i64> {
    connection.execute(
        &format!(
            "INSERT INTO companies (name, name_norm, legal_id, employees, industry, industry_norm, city, city_norm,
                                    country, country_norm, website, email, phone, description, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, {NOW}, {NOW})"
        ),
        params![
            record.name,
            record.name_norm,
            record.legal_id,
            record.employees,
            record.industry,
            norm_of(record.industry.as_ref()),
            record.city,
            norm_of(record.city.as_ref()),
            record.country,
            norm_of(record.country.as_ref()),
            record.website,
            record.email,
            record.phone,
            record.description,
        ],
    )?;
    Ok(connection.last_insert_rowid())
}

pub(crate) fn update_company(
    connection: &Connection,
    id: i64,
    record: &CompanyRecord,
) -> rusqlite::Result<()> {
    connection.execute(
        &format!(
            "UPDATE companies SET name = ?2, name_norm = ?3, legal_id = ?4, employees = ?5, industry = ?6,
                    industry_norm = ?7, city = ?8, city_norm = ?9, country = ?10, country_norm = ?11,
                    website = ?12, email = ?13, phone = ?14, description = ?15, updated_at = {NOW}
             WHERE id = ?1"
        ),
        params![
            id,
            record.name,
            record.name_norm,
            record.legal_id,
            record.employees,
            record.industry,
            norm_of(record.industry.as_ref()),
            record.city,
            norm_of(record.city.as_ref()),
            record.country,
            norm_of(record.country.as_ref()),
            record.website,
            record.email,
            record.phone,
            record.description,
        ],
    )?;
    Ok(())
}

/// The stored form of a company, for comparing against a changed one.
pub(crate) fn record_of(company: &Company) -> CompanyRecord {
    CompanyRecord {
        name: company.name.clone(),
        name_norm: normalize_name(&company.name),
        legal_id: company.legal_id.clone(),
        employees: company.employees,
        industry: company.industry.clone(),
        city: company.city.clone(),
        country: company.country.clone(),
        website: company.website.clone(),
        email: company.email.clone(),
        phone: company.phone.clone(),
        description: company.description.clone(),
    }
}

/// Finds a company id by name, ignoring case, accents and punctuation (folded names are unique,
/// so this also covers the exact name).
pub(crate) fn company_id_by_name(
    connection: &Connection,
    name: &str,
) -> rusqlite::Result<Option<i64>> {
    connection
        .query_row(
            "SELECT id FROM companies WHERE name_norm = ?1",
            [normalize_name(name)],
            |row| row.get(0),
        )
        .optional()
}

pub(crate) fn company_exists(connection: &Connection, id: i64) -> rusqlite::Result<bool> {
    connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM companies WHERE id = ?1)",
        [id],
        |row| row.get(0),
    )
}

/// Columns read by [`document_from_row`], in order; `d` is documents and `c` its company.
pub(crate) const DOCUMENT_COLUMNS: &str =
    "d.id, d.title, d.body, d.company_id, c.name, d.tags, d.date, d.created_at, d.updated_at";
/// Columns read by [`summary_from_row`], in order.
pub(crate) const SUMMARY_COLUMNS: &str = "d.id, d.title, d.company_id, c.name, d.tags, d.date";
/// The join both column lists expect.
pub(crate) const DOCUMENT_FROM: &str = "documents d LEFT JOIN companies c ON c.id = d.company_id";

/// Reads the JSON tag list stored in column `index`.
pub(crate) fn tags_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Vec<String>> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text)
        .map_err(|err| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(err)))
}

pub(crate) fn document_from_row(row: &Row<'_>) -> rusqlite::Result<Document> {
    Ok(Document {
        id: row.get(0)?,
        title: row.get(1)?,
        body: row.get(2)?,
        company_id: row.get(3)?,
        company_name: row.get(4)?,
        tags: tags_at(row, 5)?,
        date: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
    })
}

pub(crate) fn summary_from_row(row: &Row<'_>) -> rusqlite::Result<DocumentSummary> {
    Ok(DocumentSummary {
        id: row.get(0)?,
        title: row.get(1)?,
        company_id: row.get(2)?,
        company_name: row.get(3)?,
        tags: tags_at(row, 4)?,
        date: row.get(5)?,
    })
}

pub(crate) fn load_document(
    connection: &Connection,
    id: i64,
) -> rusqlite::Result<Option<Document>> {
    connection
        .query_row(
            &format!("SELECT {DOCUMENT_COLUMNS} FROM {DOCUMENT_FROM} WHERE d.id = ?1"),
            [id],
            document_from_row,
        )
        .optional()
}

fn tags_json(tags: &[String]) -> rusqlite::Result<String> {
    serde_json::to_string(tags)
        .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))
}

pub(crate) fn insert_document(
    connection: &Connection,
    fields: &DocumentFields,
    company_id: Option<i64>,
) -> rusqlite::Result<i64> {
    connection.execute(
        &format!(
            "INSERT INTO documents (title, body, company_id, tags, date, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, {NOW}, {NOW})"
        ),
        params![
            fields.title,
            fields.body,
            company_id,
            tags_json(&fields.tags)?,
            fields.date
        ],
    )?;
    Ok(connection.last_insert_rowid())
}

/// The id of a document with exactly these fields, if one exists: adding the same document
/// twice (an agent retrying a call) keeps one copy.
pub(crate) fn find_same_document(
    connection: &Connection,
    fields: &DocumentFields,
    company_id: Option<i64>,
) -> rusqlite::Result<Option<i64>> {
    use rusqlite::OptionalExtension;
    connection
        .query_row(
            "SELECT id FROM documents
             WHERE title = ?1 AND body = ?2 AND company_id IS ?3 AND tags = ?4 AND date IS ?5
             ORDER BY id LIMIT 1",
            params![
                fields.title,
                fields.body,
                company_id,
                tags_json(&fields.tags)?,
                fields.date
            ],
            |row| row.get(0),
        )
        .optional()
}

/// Replaces the body, and the tags and date when given, of an existing document.
pub(crate) fn update_document_content(
    connection: &Connection,
    id: i64,
    fields: &DocumentFields,
) -> rusqlite::Result<()> {
    let tags = if fields.tags.is_empty() {
        None
    } else {
        Some(tags_json(&fields.tags)?)
    };
    connection.execute(
        &format!(
            "UPDATE documents SET body = ?2, tags = coalesce(?3, tags), date = coalesce(?4, date), updated_at = {NOW}
             WHERE id = ?1"
        ),
        params![id, fields.body, tags, fields.date],
    )?;
    Ok(())
}
