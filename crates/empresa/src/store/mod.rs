//! The storage layer: a company directory and document store on embedded SQLite, with FTS5
//! full-text search over documents.
//!
//! The API is synchronous. [`Store`] is `Send + Sync`; async callers share it in an `Arc` and
//! call its writes from `spawn_blocking` (reads and the open at start-up run in place).

mod error;
mod fts;
mod import;
mod matching;
mod records;
mod schema;
mod seed;
mod types;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::types::Value;
use rusqlite::{Connection, TransactionBehavior, params, params_from_iter};

pub use error::{ImportProblem, StoreError};
pub use types::{
    Company, CompanyFilter, CompanyLookup, CompanyPatch, CompanySuggestion, DEFAULT_PAGE_LIMIT,
    DeletedCompany, Document, DocumentHit, DocumentSummary, ImportFormat, ImportKind,
    ImportRequest, ImportSummary, MAX_PAGE_LIMIT, MAX_SEARCH_LIMIT, MatchKind, NewCompany,
    NewDocument, OnConflict, OpenOptions, Page, PageRequest, StoreStats,
};

use error::DbContext;
use matching::{NameCandidate, normalize_name};
use records::{
    COMPANY_COLUMNS, DOCUMENT_FROM, SUMMARY_COLUMNS, company_from_row, load_company, load_document,
    summary_from_row, tags_at,
};

/// Snippet markers unlikely to occur in text, so a match can be told from `**` in the document.
const MATCH_START: &str = "\u{2}";
/// Closes a match opened by [`MATCH_START`].
const MATCH_END: &str = "\u{3}";
/// About how many tokens a search snippet shows.
const SNIPPET_TOKENS: i64 = 16;
/// bm25 column weights for title, body and tags: a word in the title says more than one in the body.
const RANK_EXPRESSION: &str = "bm25(documents_fts, 10.0, 1.0, 4.0)";

/// The company and document database. One SQLite connection, used by one caller at a time.
#[derive(Debug)]
pub struct Store {
    connection: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`: creates the parent directory,
    /// upgrades the schema, and seeds the sample data into a newly created database.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_options(path, &OpenOptions::default())
    }

    /// Like [`Store::open`], with control over seeding the sample data.
    pub fn open_with_options(path: &Path, options: &OpenOptions) -> Result<Store, StoreError> {
        let shown = path.display();
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|err| {
                StoreError::Database(format!(
                    "could not create the directory {} for the company database: {err}",
                    parent.display()
                ))
            })?;
        }
        let mut connection = Connection::open(path)
            .with_context(|| format!("could not open the company database at {shown}"))?;
        schema::configure(&connection, path)?;
        schema::migrate(&mut connection, path)?;
        seed::seed_new_database(&mut connection, options.seed_samples, path)?;
        Ok(Store {
            connection: Mutex::new(connection),
        })
    }

    /// A panic while the lock was held cannot leave a transaction open (rusqlite rolls back on
    /// drop), so a poisoned lock still guards a usable connection.
    fn connection(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        schema::user_version(&self.connection()).context("could not read the schema version")
    }

    /// Counts companies and documents; a cheap query that proves the database answers.
    pub fn ping(&self) -> Result<StoreStats, StoreError> {
        let connection = self.connection();
        let (companies, documents) = connection
            .query_row(
                "SELECT (SELECT count(*) FROM companies), (SELECT count(*) FROM documents)",
                [],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
            )
            .context("could not count companies and documents")?;
        let schema_version =
            schema::user_version(&connection).context("could not read the schema version")?;
        Ok(StoreStats {
            companies: count_to_u64(companies),
            documents: count_to_u64(documents),
            schema_version,
        })
    }

    /// Looks a company up by name: exactly, then ignoring case/accents/punctuation/spaces, then
    /// by close spelling. When nothing matches, suggests up to five similar names.
    pub fn find_company(&self, name: &str) -> Result<CompanyLookup, StoreError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::invalid("nombre", "a non-empty company name"));
        }
        if name.chars().count() > validate::MAX_NAME_CHARS {
            // No stored name is longer, and fuzzy scoring of huge input would only burn time.
            return Err(StoreError::invalid(
                "nombre",
                format!(
                    "a company name of at most {} characters",
                    validate::MAX_NAME_CHARS
                ),
            ));
        }
        let connection = self.connection();
        let name_norm = normalize_name(name);
        if !name_norm.is_empty() {
            // Folded names are unique, so an exact match is also the only folded match.
            let same_folded = records::company_by_norm(&connection, &name_norm)
                .context("could not look the company up")?;
            if let Some(company) = same_folded {
                let match_kind = if company.name == name {
                    MatchKind::Exact
                } else {
                    MatchKind::Normalized
                };
                return Ok(found(match_kind, company, Vec::new()));
            }
        }

        let candidates = all_name_candidates(&connection)?;
        let outcome = matching::fuzzy_match(name, &candidates);
        let suggestions = outcome
            .suggestions
            .into_iter()
            .map(|(id, name, score)| CompanySuggestion { id, name, score })
            .collect();
        let matched = match outcome.matched_id {
            Some(id) => load_company(&connection, id).context("could not look the company up")?,
            None => None,
        };
        Ok(match matched {
            Some(company) => found(MatchKind::Fuzzy, company, suggestions),
            None => CompanyLookup {
                match_kind: MatchKind::None,
                company: None,
                suggestions,
            },
        })
    }

    /// Full-text search over document titles, bodies and tags, best first. Documents containing
    /// every word come before documents containing only some. `limit` is clamped to 1..=50.
    pub fn search_documents(
        &self,
        query: &str,
        limit: u32,
    ) -> Result<Vec<DocumentHit>, StoreError> {
        if query.trim().is_empty() {
            return Err(StoreError::invalid(
                "nombre_documento",
                "a non-empty search text",
            ));
        }
        let limit = limit.clamp(1, MAX_SEARCH_LIMIT);
        let terms = fts::query_terms(query);
        if terms.is_empty() {
            // Only punctuation or operators: nothing can match, and that is not the caller's fault.
            return Ok(Vec::new());
        }
        let connection = self.connection();
        let mut hits = run_search(&connection, &fts::all_terms_query(&terms), limit)?;
        if terms.len() > 1 && hits.len() < limit as usize {
            let seen: HashSet<i64> = hits.iter().map(|hit| hit.id).collect();
            let partial = run_search(&connection, &fts::any_term_query(&terms), limit)?;
            hits.extend(partial.into_iter().filter(|hit| !seen.contains(&hit.id)));
            hits.truncate(limit as usize);
        }
        Ok(hits)
    }

    /// Lists companies matching `filter`, ordered by name then id, one page at a time.
    pub fn list_companies(
        &self,
        filter: &CompanyFilter,
        page: PageRequest,
    ) -> Result<Page<Company>, StoreError> {
        let limit = page.limit.clamp(1, MAX_PAGE_LIMIT);
        let mut conditions: Vec<&str> = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        if let Some(needle) = folded_filter(filter.name_contains.as_deref()) {
            // Folded names hold only letters and digits, so LIKE wildcards cannot appear in the needle.
            conditions.push("name_norm LIKE ?");
            values.push(Value::Text(format!("%{needle}%")));
        }
        for (column, wanted) in [
            ("industry_norm = ?", &filter.industry),
            ("city_norm = ?", &filter.city),
            ("country_norm = ?", &filter.country),
        ] {
            if let Some(folded) = folded_filter(wanted.as_deref()) {
                conditions.push(column);
                values.push(Value::Text(folded));
            }
        }
        if let Some(minimum) = filter.min_employees {
            conditions.push("employees >= ?");
            values.push(Value::Integer(minimum));
        }
        if let Some(maximum) = filter.max_employees {
            conditions.push("employees <= ?");
            values.push(Value::Integer(maximum));
        }
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };

        let mut connection = self.connection();
        // One read transaction, so the total and the page describe the same moment.
        let transaction = connection
            .transaction()
            .context("could not list companies")?;
        let total: i64 = transaction
            .query_row(
                &format!("SELECT count(*) FROM companies {where_clause}"),
                params_from_iter(values.iter()),
                |row| row.get(0),
            )
            .context("could not count companies")?;
        values.push(Value::Integer(i64::from(limit)));
        values.push(Value::Integer(i64::from(page.offset)));
        let items = collect_rows(
            &transaction,
            &format!(
                "SELECT {COMPANY_COLUMNS} FROM companies {where_clause}
                 ORDER BY name_norm, id LIMIT ? OFFSET ?"
            ),
            params_from_iter(values.iter()),
            company_from_row,
        )
        .context("could not list companies")?;
        drop(transaction);
        Ok(make_page(items, count_to_u64(total), page.offset, limit))
    }

    /// The company with this id, if it exists.
    pub fn get_company(&self, id: i64) -> Result<Option<Company>, StoreError> {
        load_company(&self.connection(), id).with_context(|| format!("could not read company {id}"))
    }

    /// The document with this id, with its full text, if it exists.
    pub fn get_document(&self, id: i64) -> Result<Option<Document>, StoreError> {
        load_document(&self.connection(), id)
            .with_context(|| format!("could not read document {id}"))
    }

    /// The documents of a company, newest first (undated last). `limit` is clamped to 1..=100.
    pub fn documents_of_company(
        &self,
        company_id: i64,
        limit: u32,
    ) -> Result<Vec<DocumentSummary>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_LIMIT);
        let connection = self.connection();
        let failed = || format!("could not list the documents of company {company_id}");
        if !records::company_exists(&connection, company_id).with_context(failed)? {
            return Err(StoreError::NotFound {
                what: "company",
                id: company_id,
            });
        }
        collect_rows(
            &connection,
            &format!(
                "SELECT {SUMMARY_COLUMNS} FROM {DOCUMENT_FROM} WHERE d.company_id = ?1
                 ORDER BY d.date IS NULL, d.date DESC, d.id DESC LIMIT ?2"
            ),
            params![company_id, i64::from(limit)],
            summary_from_row,
        )
        .with_context(failed)
    }

    /// How many documents belong to a company (0 when there is no such company): what deleting
    /// it would take with it.
    pub fn document_count(&self, company_id: i64) -> Result<u64, StoreError> {
        let count: i64 = self
            .connection()
            .query_row(
                "SELECT count(*) FROM documents WHERE company_id = ?1",
                [company_id],
                |row| row.get(0),
            )
            .with_context(|| format!("could not count the documents of company {company_id}"))?;
        Ok(count_to_u64(count))
    }

    /// All documents without their text, by id, one page at a time.
    pub fn list_document_summaries(
        &self,
        page: PageRequest,
    ) -> Result<Page<DocumentSummary>, StoreError> {
        let limit = page.limit.clamp(1, MAX_PAGE_LIMIT);
        let mut connection = self.connection();
        let transaction = connection
            .transaction()
            .context("could not list documents")?;
        let total: i64 = transaction
            .query_row("SELECT count(*) FROM documents", [], |row| row.get(0))
            .context("could not count documents")?;
        let items = collect_rows(
            &transaction,
            &format!(
                "SELECT {SUMMARY_COLUMNS} FROM {DOCUMENT_FROM} ORDER BY d.id LIMIT ?1 OFFSET ?2"
            ),
            params![i64::from(limit), i64::from(page.offset)],
            summary_from_row,
        )
        .context("could not list documents")?;
        drop(transaction);
        Ok(make_page(items, count_to_u64(total), page.offset, limit))
    }

    /// Adds a company after validating every field; the name must be new even ignoring case,
    /// accents and punctuation.
    pub fn create_company(&self, new: &NewCompany) -> Result<Company, StoreError> {
        let record = validate::company(new).map_err(validate::first_error)?;
        let mut connection = self.connection();
        let failed = || format!("could not create the company {:?}", record.name);
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .with_context(failed)?;
        ensure_name_free(&transaction, &record.name_norm, None)?;
        let id = records::insert_company(&transaction, &record).with_context(failed)?;
        let company = load_company(&transaction, id).with_context(failed)?;
        transaction.commit().with_context(failed)?;
        company.ok_or(StoreError::NotFound {
            what: "company",
            id,
        })
    }

    /// Changes the given fields of a company; an empty string clears an optional text field.
    pub fn update_company(&self, id: i64, patch: &CompanyPatch) -> Result<Company, StoreError> {
        let mut connection = self.connection();
        let failed = || format!("could not update company {id}");
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .with_context(failed)?;
        let existing =
            load_company(&transaction, id)
                .with_context(failed)?
                .ok_or(StoreError::NotFound {
                    what: "company",
                    id,
                })?;
        let record =
            validate::company(&apply_patch(&existing, patch)).map_err(validate::first_error)?;
        if record == records::record_of(&existing) {
            // Nothing changes, so updated_at keeps telling when something last did.
            return Ok(existing);
        }
        ensure_name_free(&transaction, &record.name_norm, Some(id))?;
        records::update_company(&transaction, id, &record).with_context(failed)?;
        let company = load_company(&transaction, id).with_context(failed)?;
        transaction.commit().with_context(failed)?;
        company.ok_or(StoreError::NotFound {
            what: "company",
            id,
        })
    }

    /// Deletes a company and, through the foreign key cascade, all of its documents.
    pub fn delete_company(&self, id: i64) -> Result<DeletedCompany, StoreError> {
        let mut connection = self.connection();
        let failed = || format!("could not delete company {id}");
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .with_context(failed)?;
        let company =
            load_company(&transaction, id)
                .with_context(failed)?
                .ok_or(StoreError::NotFound {
                    what: "company",
                    id,
                })?;
        let deleted_documents: i64 = transaction
            .query_row(
                "SELECT count(*) FROM documents WHERE company_id = ?1",
                [id],
                |row| row.get(0),
            )
            .with_context(failed)?;
        transaction
            .execute("DELETE FROM companies WHERE id = ?1", [id])
            .with_context(failed)?;
        transaction.commit().with_context(failed)?;
        Ok(DeletedCompany {
            company,
            deleted_documents: count_to_u64(deleted_documents),
        })
    }

    /// Adds a document, linked to the company given by id or, failing that, by name.
    pub fn add_document(&self, new: &NewDocument) -> Result<Document, StoreError> {
        let fields = validate::new_document(new)?;
        let mut connection = self.connection();
        let failed = || format!("could not add the document {:?}", fields.title);
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .with_context(failed)?;
        let company_id = resolve_document_company(&transaction, new)?;
        let existing =
            records::find_same_document(&transaction, &fields, company_id).with_context(failed)?;
        let id = match existing {
            Some(id) => id,
            None => {
                records::insert_document(&transaction, &fields, company_id).with_context(failed)?
            }
        };
        let document = load_document(&transaction, id).with_context(failed)?;
        transaction.commit().with_context(failed)?;
        document.ok_or(StoreError::NotFound {
            what: "document",
            id,
        })
    }

    /// Imports companies or documents from CSV or JSON. Every row is checked first; if any has a
    /// problem nothing is written and all problems are reported, otherwise all rows are written
    /// in one transaction.
    pub fn import(&self, request: &ImportRequest) -> Result<ImportSummary, StoreError> {
        import::run(&mut self.connection(), request)
    }
}

fn found(
    match_kind: MatchKind,
    company: Company,
    suggestions: Vec<CompanySuggestion>,
) -> CompanyLookup {
    CompanyLookup {
        match_kind,
        company: Some(company),
        suggestions,
    }
}

fn all_name_candidates(connection: &Connection) -> Result<Vec<NameCandidate>, StoreError> {
    collect_rows(
        connection,
        "SELECT id, name, name_norm FROM companies",
        [],
        |row| {
            Ok(NameCandidate {
                id: row.get(0)?,
                name: row.get(1)?,
                name_norm: row.get(2)?,
            })
        },
    )
    .context("could not read the company names")
}

/// Runs one FTS5 query and maps the rows to hits, best first.
fn run_search(
    connection: &Connection,
    match_expression: &str,
    limit: u32,
) -> Result<Vec<DocumentHit>, StoreError> {
    let sql = format!(
        "SELECT d.id, d.title, d.company_id, c.name, d.tags, d.date, {RANK_EXPRESSION},
                snippet(documents_fts, 1, '{MATCH_START}', '{MATCH_END}', '…', {SNIPPET_TOKENS}),
                snippet(documents_fts, 0, '{MATCH_START}', '{MATCH_END}', '…', {SNIPPET_TOKENS})
         FROM documents_fts
         JOIN documents d ON d.id = documents_fts.rowid
         LEFT JOIN companies c ON c.id = d.company_id
         WHERE documents_fts MATCH ?1
         ORDER BY {RANK_EXPRESSION}, d.id
         LIMIT ?2"
    );
    collect_rows(
        connection,
        &sql,
        params![match_expression, i64::from(limit)],
        |row| {
            let rank: f64 = row.get(6)?;
            let body_snippet: String = row.get(7)?;
            let title_snippet: String = row.get(8)?;
            Ok(DocumentHit {
                id: row.get(0)?,
                title: row.get(1)?,
                company_id: row.get(2)?,
                company_name: row.get(3)?,
                tags: tags_at(row, 4)?,
                date: row.get(5)?,
                // bm25 is lower-is-better; callers expect higher-is-better.
                score: -rank,
                snippet: choose_snippet(body_snippet, title_snippet),
            })
        },
    )
    .context("could not search documents")
}

/// Prefers the body excerpt, falls back to the title when only the title (or only the tags)
/// matched, and turns the private markers into `**`.
fn choose_snippet(body: String, title: String) -> String {
    let chosen = if body.contains(MATCH_START) || !title.contains(MATCH_START) {
        body
    } else {
        title
    };
    chosen.replace(MATCH_START, "**").replace(MATCH_END, "**")
}

fn collect_rows<T, P, F>(
    connection: &Connection,
    sql: &str,
    params: P,
    map: F,
) -> rusqlite::Result<Vec<T>>
where
    P: rusqlite::Params,
    F: FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
{
    let mut statement = connection.prepare_cached(sql)?;
    let rows = statement.query_map(params, map)?;
    rows.collect()
}

/// A blank filter means "no filter": models often send empty strings for unused parameters.
fn folded_filter(raw: Option<&str>) -> Option<String> {
    raw.map(normalize_name).filter(|folded| !folded.is_empty())
}

fn make_page<T>(items: Vec<T>, total: u64, offset: u32, limit: u32) -> Page<T> {
    let reached = u64::from(offset) + items.len() as u64;
    let next_offset = if !items.is_empty() && reached < total {
        u32::try_from(reached).ok()
    } else {
        None
    };
    Page {
        items,
        total,
        offset,
        limit,
        next_offset,
    }
}

/// `count(*)` is never negative; the conversion only guards the type.
fn count_to_u64(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
}

/// Fails with a conflict naming the company that already has this folded name.
fn ensure_name_free(
    connection: &Connection,
    name_norm: &str,
    except_id: Option<i64>,
) -> Result<(), StoreError> {
    let existing = records::company_by_norm(connection, name_norm)
        .context("could not check whether the company name is taken")?;
    match existing {
        Some(other) if Some(other.id) != except_id => Err(StoreError::Conflict {
            message: format!(
                "a company named {:?} already exists (id {}); company names must differ even ignoring case, accents and punctuation",
                other.name, other.id
            ),
        }),
        _ => Ok(()),
    }
}

/// The company as it would be after the patch, for validation as a whole.
fn apply_patch(existing: &Company, patch: &CompanyPatch) -> NewCompany {
    let pick = |change: &Option<String>, current: &Option<String>| {
        change.clone().or_else(|| current.clone())
    };
    NewCompany {
        name: patch.name.clone().unwrap_or_else(|| existing.name.clone()),
        legal_id: pick(&patch.legal_id, &existing.legal_id),
        employees: patch.employees.or(existing.employees),
        industry: pick(&patch.industry, &existing.industry),
        city: pick(&patch.city, &existing.city),
        country: pick(&patch.country, &existing.country),
        website: pick(&patch.website, &existing.website),
        email: pick(&patch.email, &existing.email),
        phone: pick(&patch.phone, &existing.phone),
        description: pick(&patch.description, &existing.description),
    }
}

/// The company a new document belongs to: by id if given, else by exact or folded name.
fn resolve_document_company(
    connection: &Connection,
    new: &NewDocument,
) -> Result<Option<i64>, StoreError> {
    let by_name = match new.company_name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => {
            let id = records::company_id_by_name(connection, name)
                .context("could not look the company up")?;
            match id {
                Some(id) => Some(id),
                None => {
                    return Err(StoreError::invalid(
                        "company_name",
                        format!(
                            "the name of an existing company (none is called {name:?}; look it up with the company search first)"
                        ),
                    ));
                }
            }
        }
        _ => None,
    };
    match (new.company_id, by_name) {
        (Some(id), by_name) => {
            if !records::company_exists(connection, id).context("could not look the company up")? {
                return Err(StoreError::NotFound {
                    what: "company",
                    id,
                });
            }
            if by_name.is_some_and(|named| named != id) {
                return Err(StoreError::invalid(
                    "company_name",
                    format!("the name of company {id}, or no name when company_id is given"),
                ));
            }
            Ok(Some(id))
        }
        (None, by_name) => Ok(by_name),
    }
}
