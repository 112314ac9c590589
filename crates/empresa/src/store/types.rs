//! The records and requests of the store. They double as MCP tool input and output, so every
//! field's doc comment becomes the description an AI model reads in the JSON schema.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The page size used when a caller does not choose one.
pub const DEFAULT_PAGE_LIMIT: u32 = 20;
/// The largest page of companies or documents a caller can ask for.
pub const MAX_PAGE_LIMIT: u32 = 100;
/// The largest number of hits one document search returns.
pub const MAX_SEARCH_LIMIT: u32 = 50;

/// How the store is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    /// Whether a newly created database receives the sample companies and documents.
    pub seed_samples: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { seed_samples: true }
    }
}

/// Record counts, as reported by the readiness probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StoreStats {
    /// Number of companies in the directory
    pub companies: u64,
    /// Number of documents in the store
    pub documents: u64,
    /// Schema version of the database file
    pub schema_version: i64,
}

/// A company of the directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Company {
    /// Unique id of the company
    pub id: i64,
    /// Company name, unique regardless of case, accents and punctuation
    pub name: String,
    /// Tax identification number (CIF, NIF, RUC, RFC, CUIT...), if known
    pub legal_id: Option<String>,
    /// Number of employees, if known
    pub employees: Option<i64>,
    /// Industry or sector, such as "Tecnología" or "Logística"
    pub industry: Option<String>,
    /// City of the head office
    pub city: Option<String>,
    /// Country of the head office
    pub country: Option<String>,
    /// Web site URL
    pub website: Option<String>,
    /// Contact email address
    pub email: Option<String>,
    /// Contact phone number
    pub phone: Option<String>,
    /// Free-text description of the company
    pub description: Option<String>,
    /// When the record was created (RFC 3339, UTC)
    pub created_at: String,
    /// When the record was last changed (RFC 3339, UTC)
    pub updated_at: String,
}

/// A company to add to the directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NewCompany {
    /// Company name (required, at most 200 characters); must differ from every existing name even ignoring case, accents and punctuation
    pub name: String,
    /// Tax identification number (CIF, NIF, RUC, RFC, CUIT...)
    #[serde(default)]
    pub legal_id: Option<String>,
    /// Number of employees, a non-negative integer
    #[serde(default)]
    pub employees: Option<i64>,
    /// Industry or sector, such as "Tecnología"
    #[serde(default)]
    pub industry: Option<String>,
    /// City of the head office
    #[serde(default)]
    pub city: Option<String>,
    /// Country of the head office
    #[serde(default)]
    pub country: Option<String>,
    /// Web site URL starting with http:// or https://
    #[serde(default)]
    pub website: Option<String>,
    /// Contact email address, such as contacto@empresa.example
    #[serde(default)]
    pub email: Option<String>,
    /// Contact phone number
    #[serde(default)]
    pub phone: Option<String>,
    /// Free-text description of the company
    #[serde(default)]
    pub description: Option<String>,
}

/// Changes to a company: only the fields given are changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CompanyPatch {
    /// New company name; must not clash with another company's name
    #[serde(default)]
    pub name: Option<String>,
    /// New tax identification number; an empty string clears it
    #[serde(default)]
    pub legal_id: Option<String>,
    /// New number of employees, a non-negative integer
    #[serde(default)]
    pub employees: Option<i64>,
    /// New industry; an empty string clears it
    #[serde(default)]
    pub industry: Option<String>,
    /// New city; an empty string clears it
    #[serde(default)]
    pub city: Option<String>,
    /// New country; an empty string clears it
    #[serde(default)]
    pub country: Option<String>,
    /// New web site URL starting with http:// or https://; an empty string clears it
    #[serde(default)]
    pub website: Option<String>,
    /// New contact email address; an empty string clears it
    #[serde(default)]
    pub email: Option<String>,
    /// New contact phone number; an empty string clears it
    #[serde(default)]
    pub phone: Option<String>,
    /// New description; an empty string clears it
    #[serde(default)]
    pub description: Option<String>,
}

/// A company and the documents that were deleted with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeletedCompany {
    /// The company as it was before deletion
    pub company: Company,
    /// How many documents of the company were deleted with it
    pub deleted_documents: u64,
}

/// Which kind of name comparison found the company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The name is exactly the stored name
    Exact,
    /// The name equals the stored name ignoring case, accents, punctuation and spaces
    Normalized,
    /// The name is a close spelling of exactly one stored name; confirm with the user if it matters
    Fuzzy,
    /// No company matches; see the suggestions
    None,
}

/// A company whose name resembles the one searched for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CompanySuggestion {
    /// Id of the suggested company
    pub id: i64,
    /// Name of the suggested company
    pub name: String,
    /// Similarity between 0 and 1, higher is closer
    pub score: f64,
}

/// The result of looking a company up by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CompanyLookup {
    /// How the company was found: exact, normalized, fuzzy or none
    pub match_kind: MatchKind,
    /// The company found, absent when match_kind is none
    pub company: Option<Company>,
    /// Other companies with similar names, best first (at most 5); retry with one of these names when nothing matched
    pub suggestions: Vec<CompanySuggestion>,
}

/// Conditions a listed company must meet; absent or blank conditions are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CompanyFilter {
    /// Part of the company name, ignoring case and accents
    #[serde(default)]
    pub name_contains: Option<String>,
    /// Industry, ignoring case and accents
    #[serde(default)]
    pub industry: Option<String>,
    /// City, ignoring case and accents
    #[serde(default)]
    pub city: Option<String>,
    /// Country, ignoring case and accents
    #[serde(default)]
    pub country: Option<String>,
    /// Smallest number of employees
    #[serde(default)]
    pub min_employees: Option<i64>,
    /// Largest number of employees
    #[serde(default)]
    pub max_employees: Option<i64>,
}

fn default_page_limit() -> u32 {
    DEFAULT_PAGE_LIMIT
}

/// Which slice of a list to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PageRequest {
    /// How many items to skip; use next_offset of the previous page
    #[serde(default)]
    pub offset: u32,
    /// How many items to return, 1 to 100
    #[serde(default = "default_page_limit")]
    pub limit: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            offset: 0,
            limit: DEFAULT_PAGE_LIMIT,
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Page<T> {
    /// The items of this page
    pub items: Vec<T>,
    /// How many items the whole list has
    pub total: u64,
    /// How many items were skipped before this page
    pub offset: u32,
    /// The page size actually used
    pub limit: u32,
    /// The offset of the next page, absent on the last page
    pub next_offset: Option<u32>,
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Document {
    /// Unique id of the document
    pub id: i64,
    /// Title of the document
    pub title: String,
    /// Full text of the document
    pub body: String,
    /// Id of the company the document belongs to, if any
    pub company_id: Option<i64>,
    /// Name of the company the document belongs to, if any
    pub company_name: Option<String>,
    /// Tags such as "contrato" or "factura"
    pub tags: Vec<String>,
    /// Date of the document itself (YYYY-MM-DD), if known
    pub date: Option<String>,
    /// When the record was created (RFC 3339, UTC)
    pub created_at: String,
    /// When the record was last changed (RFC 3339, UTC)
    pub updated_at: String,
}

/// A document without its text, for listings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DocumentSummary {
    /// Unique id of the document
    pub id: i64,
    /// Title of the document
    pub title: String,
    /// Id of the company the document belongs to, if any
    pub company_id: Option<i64>,
    /// Name of the company the document belongs to, if any
    pub company_name: Option<String>,
    /// Tags of the document
    pub tags: Vec<String>,
    /// Date of the document itself (YYYY-MM-DD), if known
    pub date: Option<String>,
}

/// A document found by a full-text search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DocumentHit {
    /// Unique id of the document; fetch the full text with it
    pub id: i64,
    /// Title of the document
    pub title: String,
    /// Id of the company the document belongs to, if any
    pub company_id: Option<i64>,
    /// Name of the company the document belongs to, if any
    pub company_name: Option<String>,
    /// Tags of the document
    pub tags: Vec<String>,
    /// Date of the document itself (YYYY-MM-DD), if known
    pub date: Option<String>,
    /// Relevance, higher is better; only comparable within one search
    pub score: f64,
    /// Excerpt around the matching words, which are marked with ** on both sides
    pub snippet: String,
}

/// A document to add to the store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NewDocument {
    /// Title of the document (required)
    pub title: String,
    /// Full text of the document (required)
    pub body: String,
    /// Id of the company the document belongs to
    #[serde(default)]
    pub company_id: Option<i64>,
    /// Name of the company the document belongs to, used when company_id is not given; must match an existing name (case and accents are ignored)
    #[serde(default)]
    pub company_name: Option<String>,
    /// Tags such as "contrato" or "factura"
    #[serde(default)]
    pub tags: Vec<String>,
    /// Date of the document itself, as YYYY-MM-DD
    #[serde(default)]
    pub date: Option<String>,
}

/// The text format of imported data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportFormat {
    /// Comma-separated values with a header row naming the fields
    Csv,
    /// A JSON array of objects whose keys are the field names
    Json,
}

/// What the imported rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// Companies, with fields name, legal_id, employees, industry, city, country, website, email, phone, description
    Companies,
    /// Documents, with fields title, body, company (a company name), tags (separated by ';' in CSV, or a JSON array), date (YYYY-MM-DD)
    Documents,
}

/// What to do with a row that matches an existing record (a company with the same name, or a document with the same title and company).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnConflict {
    /// Reject the whole import and report the row
    #[default]
    Error,
    /// Leave the existing record alone and skip the row
    Skip,
    /// Overwrite the existing record with the row's non-empty fields
    Update,
}

/// A batch of companies or documents to import in one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImportRequest {
    /// Format of data: csv or json
    pub format: ImportFormat,
    /// What the rows are: companies or documents
    pub kind: ImportKind,
    /// The CSV text (header row first) or the JSON array, at most 10 MiB
    pub data: String,
    /// What to do with rows matching existing records: error (default), skip or update
    #[serde(default)]
    pub on_conflict: OnConflict,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImportSummary {
    /// Rows added as new records
    pub inserted: u64,
    /// Rows that updated an existing record
    pub updated: u64,
    /// Rows left out because the record already existed
    pub skipped: u64,
}
