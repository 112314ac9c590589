//! The MCP face of the store: tools, resources and a prompt. Each tool validates nothing the
//! runtime already checked, calls the store on a blocking thread, and shapes the output.

use std::sync::Arc;

use mcp_common::error::resource_not_found;
use mcp_common::{Domain, Json, Previews, Probe, ToolError};
use rmcp::handler::server::router::prompt::PromptRouter;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler, prompt, prompt_handler, prompt_router, tool,
    tool_handler, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{
    Company, CompanyFilter, CompanyLookup, CompanyPatch, DeletedCompany, Document, DocumentHit,
    DocumentSummary, ImportFormat, ImportRequest, ImportSummary, NewCompany, NewDocument, Page,
    PageRequest, Store, StoreError,
};

/// The empresa MCP server.
#[derive(Clone)]
pub struct Empresa {
    store: Arc<Store>,
    tools: Arc<ToolRouter<Empresa>>,
    prompts: Arc<PromptRouter<Empresa>>,
}

impl std::fmt::Debug for Empresa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Empresa")
    }
}

/// Arguments of `consultar_empresa`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ConsultarEmpresaArgs {
    /// Name of the company to look up; case, accents and small typos are forgiven
    pub nombre: String,
}

/// Arguments of `buscar_documentos`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct BuscarDocumentosArgs {
    /// Words to search for in document titles, bodies and tags
    pub nombre_documento: String,
    /// Most hits to return, 1 to 50 (default 10)
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Ranked documents matching a search.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DocumentSearch {
    /// The search as given
    pub query: String,
    /// Matching documents, best first
    pub hits: Vec<DocumentHit>,
}

/// Arguments of `list_companies`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListCompaniesArgs {
    /// Conditions the companies must meet
    #[serde(flatten)]
    pub filter: CompanyFilter,
    /// Which page to return
    #[serde(flatten)]
    pub page: PageRequest,
}

/// An id argument.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct IdArgs {
    /// The record's id
    pub id: i64,
}

/// Arguments of `update_company`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateCompanyArgs {
    /// Id of the company to change
    pub id: i64,
    /// The fields to change; fields not given stay as they are
    #[serde(flatten)]
    pub changes: CompanyPatch,
}

/// A company with its most recent documents.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CompanyProfile {
    /// The company
    pub company: Company,
    /// Its most recent documents (at most 20)
    pub documents: Vec<DocumentSummary>,
}

/// Arguments of the `brief_company` prompt.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct BriefArgs {
    /// Name of the company to brief on
    pub nombre: String,
}

impl From<StoreError> for ToolError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::InvalidInput { field, expected } => ToolError::invalid(field, expected),
            StoreError::NotFound { what, id } => {
                let hint = match what {
                    "document" => "call buscar_documentos to find document ids",
                    _ => "call consultar_empresa or list_companies to find company ids",
                };
                ToolError::not_found(format!("{what} {id}"), hint)
            }
            StoreError::Conflict { message } => ToolError::Conflict(message),
            rejected @ StoreError::ImportRejected { .. } => {
                ToolError::Other(format!("nothing was imported: {rejected}"))
            }
            other => ToolError::Other(format!("the company database failed: {other}")),
        }
    }
}

impl Empresa {
    /// A server over `store`.
    pub fn new(store: Store) -> Self {
        Empresa {
            store: Arc::new(store),
            tools: Arc::new(Self::tool_router()),
            prompts: Arc::new(Self::prompt_router()),
        }
    }

    /// Runs a read of the store in place, on the calling thread. Reads are indexed lookups and
    /// bounded pages, tens of microseconds (a typo-tolerant lookup that scans the names stays
    /// under a millisecond for thousands of companies), which is less than the two thread
    /// wake-ups a hop to the blocking pool and back costs: profiled, that hop was most of a
    /// lookup's time over stdio and HTTP. Writes wait for the disk, and imports can be long, so
    /// they go to the pool ([`Empresa::with_store`]).
    fn read_store<T>(
        &self,
        operation: impl FnOnce(&Store) -> Result<T, StoreError>,
    ) -> Result<T, ToolError> {
        operation(&self.store).map_err(ToolError::from)
    }

    /// Runs a store operation on a blocking thread: writes (a commit waits for the disk) and
    /// imports.
    async fn with_store<T, F>(&self, operation: F) -> Result<T, ToolError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || operation(&store)).await {
            Ok(result) => result.map_err(ToolError::from),
            // Re-raise a panic of the store so the runtime reports it as one.
            Err(join_error) if join_error.is_panic() => {
                std::panic::resume_unwind(join_error.into_panic())
            }
            Err(join_error) => Err(ToolError::Other(format!(
                "the database task was cancelled: {join_error}"
            ))),
        }
    }
}

#[tool_router]
impl Empresa {
    #[tool(
        description = "Look up a company by name: exact, then ignoring case and accents, then tolerating typos. Returns its details (employees, industry, city, contacts); when nothing matches, returns close suggestions instead.",
        annotations(
            title = "Look up a company",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn consultar_empresa(
        &self,
        Parameters(args): Parameters<ConsultarEmpresaArgs>,
    ) -> Result<Json<CompanyLookup>, ToolError> {
        self.read_store(move |store| store.find_company(&args.nombre))
            .map(Json)
    }

    #[tool(
        description = "Full-text search over document titles, bodies and tags (accent-insensitive), ranked best first, with a snippet around the matching words marked **like this**.",
        annotations(
            title = "Search documents",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn buscar_documentos(
        &self,
        Parameters(args): Parameters<BuscarDocumentosArgs>,
    ) -> Result<Json<DocumentSearch>, ToolError> {
        let query = args.nombre_documento.clone();
        let limit = args.limit.unwrap_or(10);
        let hits =
            self.read_store(move |store| store.search_documents(&args.nombre_documento, limit))?;
        Ok(Json(DocumentSearch { query, hits }))
    }

    #[tool(
        description = "List companies, filtered by name fragment, industry, city, country or employee range, sorted by name, one page at a time (use next_offset for the next page).",
        annotations(
            title = "List companies",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_companies(
        &self,
        Parameters(args): Parameters<ListCompaniesArgs>,
    ) -> Result<Json<Page<Company>>, ToolError> {
        self.read_store(move |store| store.list_companies(&args.filter, args.page))
            .map(Json)
    }

    #[tool(
        description = "Get one company by id, with its most recent documents.",
        annotations(
            title = "Get a company",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn get_company(
        &self,
        Parameters(args): Parameters<IdArgs>,
    ) -> Result<Json<CompanyProfile>, ToolError> {
        let id = args.id;
        self.read_store(move |store| {
            let company = store.get_company(id)?.ok_or(StoreError::NotFound {
                what: "company",
                id,
            })?;
            let documents = store.documents_of_company(id, 20)?;
            Ok(CompanyProfile { company, documents })
        })
        .map(Json)
    }

    #[tool(
        description = "Get one document by id, with its full text.",
        annotations(
            title = "Get a document",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn get_document(
        &self,
        Parameters(args): Parameters<IdArgs>,
    ) -> Result<Json<Document>, ToolError> {
        let id = args.id;
        self.read_store(move |store| {
            store.get_document(id)?.ok_or(StoreError::NotFound {
                what: "document",
                id,
            })
        })
        .map(Json)
    }

    #[tool(
        description = "Add a company to the directory. The name must be new (ignoring case and accents). Needs the user's consent.",
        annotations(
            title = "Create a company",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_company(
        &self,
        Parameters(new): Parameters<NewCompany>,
    ) -> Result<Json<Company>, ToolError> {
        self.with_store(move |store| store.create_company(&new))
            .await
            .map(Json)
    }

    #[tool(
        description = "Change some fields of a company; fields not given stay as they are, an empty string clears a text field. Needs the user's consent.",
        annotations(
            title = "Update a company",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn update_company(
        &self,
        Parameters(args): Parameters<UpdateCompanyArgs>,
    ) -> Result<Json<Company>, ToolError> {
        self.with_store(move |store| store.update_company(args.id, &args.changes))
            .await
            .map(Json)
    }

    #[tool(
        description = "Delete a company and all its documents. Cannot be undone. Needs the user's consent.",
        annotations(
            title = "Delete a company",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn delete_company(
        &self,
        Parameters(args): Parameters<IdArgs>,
    ) -> Result<Json<DeletedCompany>, ToolError> {
        self.with_store(move |store| store.delete_company(args.id))
            .await
            .map(Json)
    }

    #[tool(
        description = "Add a document (title, text, optional company by id or name, tags, date) to the store, where buscar_documentos will find it. Adding the very same document again returns the existing one instead of a copy.",
        annotations(
            title = "Add a document",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn add_document(
        &self,
        Parameters(new): Parameters<NewDocument>,
    ) -> Result<Json<Document>, ToolError> {
        self.with_store(move |store| store.add_document(&new))
            .await
            .map(Json)
    }

    #[tool(
        description = "Import companies or documents from CSV (header row first) or a JSON array, all in one transaction. If any row is bad, nothing is written and every bad row is reported with its line number. Needs the user's consent.",
        annotations(
            title = "Import data",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn import_data(
        &self,
        Parameters(request): Parameters<ImportRequest>,
    ) -> Result<Json<ImportSummary>, ToolError> {
        self.with_store(move |store| store.import(&request))
            .await
            .map(Json)
    }
}

#[prompt_router]
impl Empresa {
    /// Brief an agent on a company before it works with it: the company's facts and recent documents.
    #[prompt(name = "brief_company")]
    async fn brief_company(
        &self,
        Parameters(args): Parameters<BriefArgs>,
    ) -> Result<GetPromptResult, McpError> {
        let nombre = args.nombre.clone();
        let profile = self
            .read_store(move |store| {
                let lookup = store.find_company(&args.nombre)?;
                match lookup.company {
                    Some(company) => {
                        let documents = store.documents_of_company(company.id, 10)?;
                        Ok(Ok(CompanyProfile { company, documents }))
                    }
                    None => Ok(Err(lookup
                        .suggestions
                        .into_iter()
                        .map(|s| s.name)
                        .collect::<Vec<_>>())),
                }
            })
            .map_err(|e| McpError::internal_error(e.message(), None))?;
        let profile = profile.map_err(|suggestions| {
            let hint = if suggestions.is_empty() {
                String::new()
            } else {
                format!("; did you mean {}?", suggestions.join(", "))
            };
            McpError::invalid_params(format!("no company matches {nombre:?}{hint}"), None)
        })?;
        let facts = serde_json::to_string_pretty(&profile.company).unwrap_or_default();
        let documents = if profile.documents.is_empty() {
            "(none)".to_owned()
        } else {
            profile
                .documents
                .iter()
                .map(|d| {
                    format!(
                        "- #{} {} ({})",
                        d.id,
                        d.title,
                        d.date.as_deref().unwrap_or("undated")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let text = format!(
            "You are about to work with the company {name}. Here is what the company directory knows.\n\nFacts:\n{facts}\n\nRecent documents:\n{documents}\n\nSummarise who they are, what matters about them, and what to check before contacting them. Use get_document for a document's full text and buscar_documentos to search further.",
            name = profile.company.name
        );
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description(format!("Briefing on {}", profile.company.name)),
        )
    }
}

impl Empresa {
    /// What `delete_company` would remove, so the user approves a named company and its
    /// documents rather than a bare id.
    async fn preview_delete(self, args: IdArgs) -> Option<String> {
        let id = args.id;
        let found = self
            .read_store(move |store| match store.get_company(id)? {
                Some(company) => Ok(Some((company, store.document_count(id)?))),
                None => Ok(None),
            })
            .ok()?;
        Some(match found {
            Some((company, documents)) => delete_preview(&company, documents),
            None => format!("no company has id {id}, so nothing would be deleted"),
        })
    }

    /// Each field `update_company` would change, old value to new.
    async fn preview_update(self, args: UpdateCompanyArgs) -> Option<String> {
        let id = args.id;
        let company = self.read_store(move |store| store.get_company(id)).ok()?;
        Some(match company {
            Some(company) => update_preview(&company, &args.changes),
            None => format!("no company has id {id}, so nothing would be changed"),
        })
    }

    /// The company `create_company` would add, field by field.
    async fn preview_create(self, new: NewCompany) -> Option<String> {
        Some(create_preview(&new))
    }

    /// How much `import_data` would read and what it does with existing records.
    async fn preview_import(self, request: ImportRequest) -> Option<String> {
        Some(import_preview(&request))
    }
}

/// `add company "Empresa Y"` then one `field: value` line per field given.
fn create_preview(new: &NewCompany) -> String {
    let fields = serde_json::to_value(new).unwrap_or_default();
    let mut lines = vec![format!("add company \"{}\"", new.name)];
    for (field, value) in fields.as_object().into_iter().flatten() {
        if field == "name" || value.is_null() {
            continue;
        }
        lines.push(format!("  {field}: {}", shown(Some(value))));
    }
    lines.join("\n")
}

/// `import about 12 companies from CSV (1.2 KB); rows matching existing records: skip`.
fn import_preview(request: &ImportRequest) -> String {
    let name = |value: serde_json::Result<Value>| {
        value
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let kind = name(serde_json::to_value(request.kind));
    let format = name(serde_json::to_value(request.format));
    let conflict = name(serde_json::to_value(request.on_conflict));
    let rows = match request.format {
        ImportFormat::Csv => request
            .data
            .lines()
            .filter(|line| !line.trim().is_empty())
            .count()
            .saturating_sub(1),
        ImportFormat::Json => serde_json::from_str::<Vec<Value>>(&request.data)
            .map(|rows| rows.len())
            .unwrap_or(0),
    };
    format!(
        "import about {rows} {kind} from {} ({} bytes), in one transaction; rows matching existing records: {conflict}",
        format.to_uppercase(),
        request.data.len()
    )
}

/// `delete company 2 "Empresa Y" and its 3 documents`.
fn delete_preview(company: &Company, documents: u64) -> String {
    let what = format!("delete company {} \"{}\"", company.id, company.name);
    match documents {
        0 => format!("{what}; it has no documents"),
        1 => format!("{what} and its 1 document"),
        n => format!("{what} and its {n} documents"),
    }
}

/// `update company 2 "Empresa Y":` then one `field: old -> new` line per field given.
fn update_preview(company: &Company, patch: &CompanyPatch) -> String {
    // Both as JSON objects, so each field of the patch is compared with the same key of the company.
    let old = serde_json::to_value(company).unwrap_or_default();
    let new = serde_json::to_value(patch).unwrap_or_default();
    let mut lines = vec![format!(
        "update company {} \"{}\":",
        company.id, company.name
    )];
    for (field, value) in new.as_object().into_iter().flatten() {
        // An absent field of the patch stays as it is.
        if value.is_null() {
            continue;
        }
        lines.push(format!(
            "  {field}: {} -> {}",
            shown(old.get(field)),
            shown(Some(value))
        ));
    }
    if lines.len() == 1 {
        lines.push("  no field given, so nothing would change".to_owned());
    }
    lines.join("\n")
}

/// A field's value as the preview shows it: text quoted and shortened, unset or cleared as `(empty)`.
fn shown(value: Option<&Value>) -> String {
    const MAX: usize = 80;
    match value {
        None | Some(Value::Null) => "(empty)".to_owned(),
        Some(Value::String(text)) if text.is_empty() => "(empty)".to_owned(),
        Some(Value::String(text)) if text.chars().count() > MAX => {
            let cut: String = text.chars().take(MAX - 3).collect();
            format!("\"{cut}...\"")
        }
        Some(Value::String(text)) => format!("\"{text}\""),
        Some(other) => other.to_string(),
    }
}

const INSTRUCTIONS: &str = "Company directory and document store. Use consultar_empresa to look up a company by name (typos forgiven; suggestions when nothing matches), buscar_documentos for ranked full-text search over documents, list_companies to browse with filters. Resources empresa://companies/{id} and empresa://documents/{id} hold full records; the brief_company prompt prepares a briefing.";

const COMPANIES_URI: &str = "empresa://companies/";
const DOCUMENTS_URI: &str = "empresa://documents/";
const RESOURCE_PAGE: u32 = 100;

#[tool_handler(router = self.tools)]
#[prompt_handler(router = self.prompts)]
impl ServerHandler for Empresa {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .enable_completions()
                .build(),
        )
        .with_instructions(INSTRUCTIONS)
    }

    /// Completes the `nombre` argument of `brief_company` with company names containing the text
    /// typed so far, so hosts can offer them in their prompt pickers.
    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let is_brief_name = matches!(&request.r#ref, Reference::Prompt(prompt) if prompt.name == "brief_company")
            && request.argument.name == "nombre";
        if !is_brief_name {
            return Ok(CompleteResult::new(CompletionInfo::default()));
        }
        let typed = request.argument.value.trim().to_owned();
        let filter = CompanyFilter {
            name_contains: (!typed.is_empty()).then_some(typed),
            ..CompanyFilter::default()
        };
        let page = PageRequest {
            offset: 0,
            limit: 20,
        };
        let listed = self
            .read_store(move |store| store.list_companies(&filter, page))
            .map_err(|e| McpError::internal_error(e.message(), None))?;
        let names = listed.items.into_iter().map(|c| c.name).collect();
        let has_more = listed.total > u64::from(page.limit);
        let info =
            CompletionInfo::with_pagination(names, u32::try_from(listed.total).ok(), has_more)
                .map_err(|e| McpError::internal_error(e, None))?;
        Ok(CompleteResult::new(info))
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        // The cursor is "<kind>:<offset>": companies first, then documents.
        let cursor = request
            .and_then(|r| r.cursor)
            .unwrap_or_else(|| "companies:0".into());
        let (kind, offset) = cursor
            .split_once(':')
            .and_then(|(kind, offset)| Some((kind.to_owned(), offset.parse::<u32>().ok()?)))
            .ok_or_else(|| McpError::invalid_params(format!("invalid cursor {cursor:?}"), None))?;
        let page = PageRequest {
            offset,
            limit: RESOURCE_PAGE,
        };
        let (resources, next) = match kind.as_str() {
            "companies" => {
                let listed = self
                    .read_store(move |s| s.list_companies(&CompanyFilter::default(), page))
                    .map_err(|e| McpError::internal_error(e.message(), None))?;
                let resources = listed
                    .items
                    .iter()
                    .map(|c| {
                        Resource::new(format!("{COMPANIES_URI}{}", c.id), c.name.clone())
                            .with_mime_type("application/json")
                    })
                    .collect();
                let next = listed
                    .next_offset
                    .map(|o| format!("companies:{o}"))
                    .unwrap_or_else(|| "documents:0".into());
                (resources, Some(next))
            }
            "documents" => {
                let listed = self
                    .read_store(move |s| s.list_document_summaries(page))
                    .map_err(|e| McpError::internal_error(e.message(), None))?;
                let resources = listed
                    .items
                    .iter()
                    .map(|d| {
                        Resource::new(format!("{DOCUMENTS_URI}{}", d.id), d.title.clone())
                            .with_mime_type("text/markdown")
                    })
                    .collect();
                (
                    resources,
                    listed.next_offset.map(|o| format!("documents:{o}")),
                )
            }
            _ => {
                return Err(McpError::invalid_params(
                    format!("invalid cursor {cursor:?}"),
                    None,
                ));
            }
        };
        let mut result = ListResourcesResult::with_all_items(resources);
        result.next_cursor = next;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new(format!("{COMPANIES_URI}{{id}}"), "company")
                .with_mime_type("application/json"),
            ResourceTemplate::new(format!("{DOCUMENTS_URI}{{id}}"), "document")
                .with_mime_type("text/markdown"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let uri = request.uri.clone();
        let parse_id = |prefix: &str| {
            uri.strip_prefix(prefix)
                .and_then(|id| id.parse::<i64>().ok())
        };
        if let Some(id) = parse_id(COMPANIES_URI) {
            let profile = self
                .get_company(Parameters(IdArgs { id }))
                .await
                .map_err(|e| e.into_resource_error(&uri))?
                .0;
            let text = serde_json::to_string_pretty(&profile)
                .map_err(|e| McpError::internal_error(e.to_string(), None))?;
            return Ok(ReadResourceResult::new(vec![
                ResourceContents::text(text, &uri).with_mime_type("application/json"),
            ])
            .into());
        }
        if let Some(id) = parse_id(DOCUMENTS_URI) {
            let document = self
                .get_document(Parameters(IdArgs { id }))
                .await
                .map_err(|e| e.into_resource_error(&uri))?
                .0;
            let mut text = format!("# {}\n\n", document.title);
            if let Some(company) = &document.company_name {
                text.push_str(&format!("Company: {company}\n"));
            }
            if let Some(date) = &document.date {
                text.push_str(&format!("Date: {date}\n"));
            }
            if !document.tags.is_empty() {
                text.push_str(&format!("Tags: {}\n", document.tags.join(", ")));
            }
            text.push('\n');
            text.push_str(&document.body);
            return Ok(ReadResourceResult::new(vec![
                ResourceContents::text(text, &uri).with_mime_type("text/markdown"),
            ])
            .into());
        }
        Err(resource_not_found(
            &uri,
            format!(
                "unknown resource {uri}; use empresa://companies/{{id}} or empresa://documents/{{id}}"
            ),
        ))
    }
}

impl Domain for Empresa {
    fn tools(&self) -> Vec<Tool> {
        self.tools.list_all()
    }

    fn probes(&self) -> Vec<Probe> {
        let store = self.store.clone();
        vec![Probe::new("database", move || {
            let store = store.clone();
            async move {
                match tokio::task::spawn_blocking(move || store.ping()).await {
                    Ok(Ok(stats)) => Ok(format!(
                        "{} companies, {} documents (schema {})",
                        stats.companies, stats.documents, stats.schema_version
                    )),
                    Ok(Err(error)) => Err(error.to_string()),
                    Err(error) => Err(format!("the probe failed: {error}")),
                }
            }
        })]
    }

    fn previews(&self) -> Previews<Self> {
        Previews::new()
            .on("create_company", Self::preview_create)
            .on("update_company", Self::preview_update)
            .on("delete_company", Self::preview_delete)
            .on("import_data", Self::preview_import)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ImportKind, OnConflict};

    #[test]
    fn create_and_import_previews_say_what_would_be_written() {
        let new = NewCompany {
            name: "Empresa Y".into(),
            legal_id: None,
            employees: Some(12),
            industry: None,
            city: Some("Sevilla".into()),
            country: None,
            website: None,
            email: None,
            phone: None,
            description: None,
        };
        assert_eq!(
            create_preview(&new),
            "add company \"Empresa Y\"\n  city: \"Sevilla\"\n  employees: 12"
        );
        let csv = ImportRequest {
            format: ImportFormat::Csv,
            kind: ImportKind::Companies,
            data: "name,city\nA,Madrid\n\nB,Lima\n".into(),
            on_conflict: OnConflict::Skip,
        };
        assert_eq!(
            import_preview(&csv),
            "import about 2 companies from CSV (27 bytes), in one transaction; rows matching existing records: skip"
        );
        let json = ImportRequest {
            format: ImportFormat::Json,
            kind: ImportKind::Documents,
            data: r#"[{"title":"a"},{"title":"b"},{"title":"c"}]"#.into(),
            on_conflict: OnConflict::Error,
        };
        assert!(import_preview(&json).starts_with("import about 3 documents from JSON"));
    }
}
