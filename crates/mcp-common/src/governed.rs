//! The layer every server runs behind: a [`ServerHandler`] wrapper that applies the operator's
//! policy, validates arguments, asks for consent, contains panics and runaway calls, scrubs
//! secrets, and writes an audit record and metrics for every tool call.
//!
//! A server crate implements its tools with rmcp's macros as usual; `Governed` wraps it, the way
//! an axum layer wraps a handler, so no tool repeats any of this.

#![allow(deprecated)] // subscribe/unsubscribe and logging are deprecated for 2026-07-28 but still served to older clients.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use rmcp::model::*;
use rmcp::service::{NotificationContext, RequestContext, ServiceError, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::Value;

use crate::audit::{AuditLog, AuditRecord, audited_arguments, now_rfc3339};
use crate::backend::with_deadline;
use crate::consent::{ConsentRequests, Decision, Remember};
use crate::gate::{ToolKind, ToolPolicy};
use crate::grants::{Grants, LOCAL_CALLER, NewGrant};
use crate::health::Probe;
use crate::identity::Caller;
use crate::metrics::Metrics;
use crate::preview::Previews;
use crate::schema::{ArgumentSchema, validate_arguments};
use crate::secret::{REDACTED, Secret, redact_arguments, scrub, scrub_json};
use crate::team::{CredentialField, SET_MY_CREDENTIALS, Team};

/// The argument added to write and destructive tools for clients without elicitation.
pub const CONFIRM_ARGUMENT: &str = "confirm";

/// What a server crate provides to the runtime besides its rmcp handler.
pub trait Domain: ServerHandler + Clone {
    /// Every tool the handler serves, usually `Self::tool_router().list_all()`.
    fn tools(&self) -> Vec<Tool>;

    /// Readiness probes of the backends this server depends on.
    fn probes(&self) -> Vec<Probe> {
        Vec::new()
    }

    /// Argument names to redact in audit records beyond the ones that look like credentials.
    fn sensitive_arguments(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// The time limit for one call of `tool` when it legitimately needs another than
    /// `MCP_TOOL_TIMEOUT_SECS` (e.g. an ingestion that reports progress while it reads a folder);
    /// `None`, the default, keeps the operator's setting. The limit is also the deadline the
    /// tool's backend calls and their retries share.
    fn tool_timeout(&self, tool: &str) -> Option<Duration> {
        let _ = tool;
        None
    }

    /// What each write or destructive call would change, phrased for the person asked to approve
    /// it (e.g. "res.partner 7: email a@x.com -> b@x.com"), declared per tool with the tool's own
    /// argument struct (see [`Previews`]). Shown in the consent request and in the refusal when
    /// consent is missing. Every write and destructive tool must have one: the server does not
    /// start otherwise. Called once, at start-up.
    fn previews(&self) -> Previews<Self> {
        Previews::new()
    }

    /// Why this server withholds `tool` beyond the operator's policy, e.g. every write while
    /// the payment key is a live one the operator has not allowed to write. A withheld tool is
    /// left out of `tools/list`, and a call of it is refused with this reason before anything
    /// else (no consent is asked for a call that cannot run). Read once per tool at start-up
    /// for the list, and at each call.
    fn withheld(&self, tool: &str, kind: ToolKind) -> Option<String> {
        let _ = (tool, kind);
        None
    }

    /// Called once an HTTP session has ended, closed by its client or expired after
    /// `MCP_SESSION_IDLE_SECS`, with its id as [`crate::Caller::session`] gives it. A domain that
    /// keeps anything per session (a token budget) forgets it here, or it would keep it for
    /// every session the process ever served. Never called over stdio or stateless HTTP, which
    /// have no sessions; may be called more than once for one session.
    fn session_ended(&self, session: &str) {
        let _ = session;
    }
}

/// Settings of the governing layer.
#[derive(Debug, Clone)]
pub(crate) struct GovernConfig {
    /// The server's short name, e.g. "empresa", used in audit records and metrics, and as
    /// `mcp-<server>` in `serverInfo`.
    pub server: String,
    /// The server's version, for `serverInfo`.
    pub version: String,
    /// One line on what the server does, for `serverInfo.description`.
    pub about: String,
    /// The operator's tool policy.
    pub policy: ToolPolicy,
    /// How long to wait for a consent answer.
    pub consent_timeout: Duration,
    /// Upper bound on one tool call (unless the domain declares its own for a tool, see
    /// [`Domain::tool_timeout`]); also the deadline its backend calls and their retries share.
    pub tool_timeout: Duration,
    /// Standing consents.
    pub grants: Arc<Grants>,
    /// Team mode's database, credentials and policy; `None` in single-user mode.
    pub team: Option<Arc<Team>>,
    /// The credentials callers may bring ([`crate::ServerIdentity::credentials`]); used only in
    /// team mode.
    pub credential_fields: &'static [CredentialField],
    /// Whether `confirm: "always"` records a standing grant (`MCP_CONFIRM_ALWAYS`).
    pub confirm_always: bool,
    /// Calls run at once and per caller.
    pub limits: crate::limits::LimitSettings,
}

struct GovernedTool {
    tool: Tool,
    kind: ToolKind,
}

/// State shared by every session of one server process.
pub(crate) struct Runtime {
    config: GovernConfig,
    tools: HashMap<String, GovernedTool>,
    /// Each tool's input schema, prepared once for checking arguments.
    schemas: HashMap<String, ArgumentSchema>,
    /// What `tools/list` answers; fixed at start-up, as the policy is.
    offered: Vec<Tool>,
    sensitive: Vec<&'static str>,
    audit: AuditLog,
    metrics: Arc<Metrics>,
    /// Consent questions sent to 2026-07-28 clients as input-required results, awaiting the
    /// retried call that carries the answer.
    asked: ConsentRequests,
    /// Calls running and each caller's allowance.
    limits: crate::limits::CallLimits,
    /// The credentials callers may bring (team mode only; empty otherwise).
    credential_fields: Vec<CredentialField>,
    /// What `initialize` answers, composed on first use: stateless HTTP asks for it on every
    /// request, and it cannot change while the server runs.
    info: std::sync::OnceLock<ServerConfig>,
    /// Tool calls started whose audit record is not written yet.
    in_flight: InFlight,
}

/// Counts the tool calls running, so that a server ending (end of stdio input, a signal) can let
/// them finish and write their audit records before the runtime drops them.
#[derive(Debug, Default)]
struct InFlight {
    running: std::sync::atomic::AtomicUsize,
    settled: tokio::sync::Notify,
}

impl InFlight {
    fn enter(&self) {
        self.running
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn leave(&self) {
        if self
            .running
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            == 1
        {
            self.settled.notify_waiters();
        }
    }

    /// Waits until no call is running or `limit` has passed; returns how many still run.
    async fn settle(&self, limit: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            // Registered before the count is read, so a call ending in between still wakes us.
            settled.as_mut().enable();
            let running = self.running.load(std::sync::atomic::Ordering::SeqCst);
            if running == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, settled).await.is_err() {
                return self.running.load(std::sync::atomic::Ordering::SeqCst);
            }
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("server", &self.config.server)
            .finish()
    }
}

/// A domain handler wrapped in the runtime's policy.
#[derive(Clone)]
pub(crate) struct Governed<S> {
    inner: S,
    previews: Arc<Previews<S>>,
    runtime: Arc<Runtime>,
}

impl<S> std::fmt::Debug for Governed<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Governed")
            .field("runtime", &self.runtime)
            .finish()
    }
}

/// A tool declared without a complete read-only/write/destructive annotation, or otherwise
/// breaking the schema rules, stops start-up with this error.
#[derive(Debug, thiserror::Error)]
#[error("the server's tools break the rules clients rely on:\n  {}", problems.join("\n  "))]
pub struct ToolRulesError {
    /// Every problem found.
    pub problems: Vec<String>,
}

impl<S: Domain> Governed<S> {
    /// Tells the domain that an HTTP session has ended (see [`Domain::session_ended`]).
    pub(crate) fn session_ended(&self, session: &str) {
        self.inner.session_ended(session);
    }

    /// Wraps `inner`; fails when a tool breaks the schema or annotation rules.
    pub fn new(
        inner: S,
        config: GovernConfig,
        audit: AuditLog,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ToolRulesError> {
        let mut problems = Vec::new();
        let mut tools = HashMap::new();
        for mut tool in inner.tools() {
            problems.extend(crate::schema::tool_problems(&tool));
            make_portable_tool(&mut tool);
            if let Some(kind) = ToolKind::of(&tool) {
                tools.insert(tool.name.to_string(), GovernedTool { tool, kind });
            }
        }
        let previews = inner.previews();
        problems.extend(preview_problems(&tools, &previews));
        let credential_fields = if config.team.is_some() {
            config.credential_fields.to_vec()
        } else {
            Vec::new()
        };
        if !credential_fields.is_empty() {
            let tool = set_my_credentials_tool(&config.server, &credential_fields);
            if tools.contains_key(SET_MY_CREDENTIALS) {
                problems.push(format!(
                    "`{SET_MY_CREDENTIALS}` is the runtime's tool in team mode; the server must not declare one"
                ));
            }
            tools.insert(
                SET_MY_CREDENTIALS.to_owned(),
                GovernedTool {
                    tool,
                    kind: ToolKind::Write,
                },
            );
        }
        if !problems.is_empty() {
            return Err(ToolRulesError { problems });
        }
        let mut sensitive = inner.sensitive_arguments();
        sensitive.extend(credential_fields.iter().map(|f| f.name));
        let offered = offered_tools(&tools, &config, |name, kind| {
            inner.withheld(name, kind).is_none()
        });
        let schemas = tools
            .iter()
            .map(|(name, entry)| (name.clone(), ArgumentSchema::new(&entry.tool.input_schema)))
            .collect();
        Ok(Governed {
            inner,
            previews: Arc::new(previews),
            runtime: Arc::new(Runtime {
                limits: crate::limits::CallLimits::new(config.limits),
                config,
                tools,
                schemas,
                offered,
                sensitive,
                audit,
                metrics,
                asked: ConsentRequests::default(),
                credential_fields,
                info: std::sync::OnceLock::new(),
                in_flight: InFlight::default(),
            }),
        })
    }

    /// Lets the tool calls still running finish, for at most `limit`, so that each writes its
    /// audit record (and a write under way completes) before the server exits; returns how many
    /// were still running at the limit, whose records say `interrupted` when they are dropped.
    pub(crate) async fn settle(&self, limit: Duration) -> usize {
        self.runtime.in_flight.settle(limit).await
    }

    /// The tools offered under the current policy, with the consent argument added where needed.
    pub fn offered_tools(&self) -> &[Tool] {
        &self.runtime.offered
    }

    /// Every tool with its kind and whether it is offered, for team mode's `mcp_tools`.
    pub(crate) fn registry(&self) -> Vec<(Tool, ToolKind, bool)> {
        let mut tools: Vec<(Tool, ToolKind, bool)> = self
            .runtime
            .tools
            .values()
            .map(|entry| {
                let offered = self
                    .runtime
                    .offered
                    .iter()
                    .any(|t| t.name == entry.tool.name);
                (entry.tool.clone(), entry.kind, offered)
            })
            .collect();
        tools.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        tools
    }
}

/// Every tool that changes the world outside the server needs a preview, and every preview a tool.
fn preview_problems<S>(
    tools: &HashMap<String, GovernedTool>,
    previews: &Previews<S>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut names: Vec<&String> = tools.keys().collect();
    names.sort();
    for name in names {
        let kind = tools[name].kind;
        if matches!(kind, ToolKind::Write | ToolKind::Destructive) && !previews.covers(name) {
            problems.push(format!(
                "`{name}` is a {} tool but declares no consent preview (Domain::previews): the person asked to approve it would not see what it changes",
                kind.label()
            ));
        }
    }
    for name in previews.tools() {
        if !tools.contains_key(name) {
            problems.push(format!(
                "a consent preview is declared for `{name}`, which is not a tool of this server"
            ));
        }
    }
    for name in previews.duplicates() {
        problems.push(format!("the consent preview of `{name}` is declared twice"));
    }
    problems
}

fn offered_tools(
    tools: &HashMap<String, GovernedTool>,
    config: &GovernConfig,
    domain_allows: impl Fn(&str, ToolKind) -> bool,
) -> Vec<Tool> {
    let policy = &config.policy;
    let mut offered: Vec<Tool> = tools
        .values()
        .filter(|entry| policy.withheld(&entry.tool.name, entry.kind).is_none())
        .filter(|entry| domain_allows(&entry.tool.name, entry.kind))
        .map(|entry| {
            if policy.needs_consent(&entry.tool.name, entry.kind) {
                with_confirm_argument(&entry.tool, config.confirm_always)
            } else {
                entry.tool.clone()
            }
        })
        .collect();
    offered.sort_by(|a, b| a.name.cmp(&b.name));
    offered
}

/// Rewrites a tool's schemas into the form every client accepts (see `schema::make_portable`).
/// A schema already in that form stays shared with the domain's router rather than copied.
fn make_portable_tool(tool: &mut Tool) {
    if !crate::schema::is_portable_object(&tool.input_schema, true) {
        let mut input = Value::Object((*tool.input_schema).clone());
        crate::schema::make_portable(&mut input);
        if let Value::Object(input) = input {
            tool.input_schema = Arc::new(input);
        }
    }
    if let Some(output) = &tool.output_schema
        && !crate::schema::is_portable_object(output, true)
    {
        let mut output = Value::Object((**output).clone());
        crate::schema::make_portable(&mut output);
        if let Value::Object(output) = output {
            tool.output_schema = Some(Arc::new(output));
        }
    }
}

fn with_confirm_argument(tool: &Tool, confirm_always: bool) -> Tool {
    let mut tool = tool.clone();
    let mut schema = (*tool.input_schema).clone();
    let properties = schema
        .entry("properties")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Value::Object(properties) = properties {
        let argument = if confirm_always {
            serde_json::json!({
                "anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["always"]}],
                "description": "Set to true only after the user has explicitly approved this change, or to \"always\" once the user has said this tool may always run for them without asking. Without it (or the user's approval through the client) the call changes nothing and explains what it needs."
            })
        } else {
            serde_json::json!({
                "type": "boolean",
                "description": "Set to true only after the user has explicitly approved this change. Without it (or the user's approval through the client) the call changes nothing and explains what it needs."
            })
        };
        properties.insert(CONFIRM_ARGUMENT.into(), argument);
    }
    tool.input_schema = Arc::new(schema);
    tool
}

/// How a call ended, for the audit record and metrics.
struct Verdict {
    response: Result<CallToolResponse, McpError>,
    outcome: &'static str,
    consent: Option<String>,
}

impl Verdict {
    fn tool_error(outcome: &'static str, message: String) -> Verdict {
        Verdict {
            response: Ok(CallToolResult::error(vec![ContentBlock::text(
                scrub(&message).into_owned(),
            )])
            .into()),
            outcome,
            consent: None,
        }
    }
}

impl<S: Domain> Governed<S> {
    async fn govern(
        &self,
        mut request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
        caller: &Caller,
    ) -> Verdict {
        let name = request.name.to_string();
        let runtime = &self.runtime;
        let Some(entry) = runtime.tools.get(&name) else {
            return Verdict {
                response: Err(McpError::invalid_params(
                    format!(
                        "unknown tool `{name}`; call tools/list to see the tools of this server"
                    ),
                    None,
                )),
                outcome: "protocol_error",
                consent: None,
            };
        };
        if let Some(reason) = runtime
            .config
            .policy
            .withheld(&name, entry.kind)
            .or_else(|| self.inner.withheld(&name, entry.kind))
        {
            return Verdict::tool_error("refused", reason);
        }
        if let Some(team) = &runtime.config.team {
            team.seen(&principal_of(&context));
        }
        // Held until the call has finished.
        let _running = match runtime.limits.admit(caller) {
            Ok(permit) => permit,
            Err(refusal) => return Verdict::tool_error(refusal.outcome(), refusal.message()),
        };
        let mut arguments = request.arguments.take().unwrap_or_default();
        let confirm = if entry.kind == ToolKind::ReadOnly {
            Confirm::Absent
        } else {
            match arguments.remove(CONFIRM_ARGUMENT) {
                None | Some(Value::Null) | Some(Value::Bool(false)) => Confirm::Absent,
                Some(Value::Bool(true)) => Confirm::Once,
                Some(Value::String(s)) if s == "always" && runtime.config.confirm_always => {
                    Confirm::Always
                }
                Some(other) => {
                    let expected = if runtime.config.confirm_always {
                        "true, false or \"always\""
                    } else {
                        "true or false"
                    };
                    return Verdict::tool_error(
                        "tool_error",
                        format!(
                            "invalid arguments for `{name}`: `confirm`: expected {expected}, got {other}"
                        ),
                    );
                }
            }
        };
        // Checked in place against the schema prepared at start-up: neither is copied.
        let wrapped = Value::Object(std::mem::take(&mut arguments));
        let problems = match runtime.schemas.get(&name) {
            Some(schema) => schema.validate(&wrapped),
            None => match &wrapped {
                Value::Object(map) => validate_arguments(&entry.tool.input_schema, map),
                _ => Vec::new(),
            },
        };
        if let Value::Object(map) = wrapped {
            arguments = map;
        }
        if !problems.is_empty() {
            let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Verdict::tool_error(
                "tool_error",
                format!("invalid arguments for `{name}`: {}", listed.join("; ")),
            );
        }
        // The caller's own credentials (team mode) serve the consent preview and the call.
        let credentials = if name == SET_MY_CREDENTIALS {
            None
        } else {
            match self.caller_credentials(&context).await {
                Ok(credentials) => credentials,
                Err(verdict) => return verdict,
            }
        };
        let consent = if runtime.config.policy.needs_consent(&name, entry.kind) {
            let asked = Asked {
                name: &name,
                kind: entry.kind,
                arguments: &arguments,
                confirm,
                request: &request,
            };
            let consented = crate::team::credentials::with_credentials(
                credentials.clone(),
                self.obtain_consent(asked, &context),
            );
            match consented.await {
                Ok(Consented::Given(how)) => Some(how),
                Ok(Consented::AskClient(question)) => {
                    return Verdict {
                        response: Ok(question.into()),
                        outcome: "input_required",
                        consent: None,
                    };
                }
                Err(refusal) => return Verdict::tool_error("refused", refusal),
            }
        } else if entry.kind == ToolKind::ReadOnly {
            None
        } else {
            Some("not_required".to_owned())
        };
        if name == SET_MY_CREDENTIALS {
            return Verdict {
                consent,
                ..self.set_my_credentials(&arguments, &context).await
            };
        }
        request.arguments = Some(arguments);

        let declared = self.inner.tool_timeout(&name);
        let limit = declared.unwrap_or(runtime.config.tool_timeout);
        let deadline = backend_deadline(limit);
        let call = AssertUnwindSafe(crate::team::credentials::with_credentials(
            credentials,
            // Boxed so that the wrappers around it move a pointer, not the tool's future.
            with_deadline(deadline, Box::pin(self.inner.call_tool(request, context))),
        ))
        .catch_unwind();
        let verdict = match tokio::time::timeout(limit, call).await {
            Err(_) => {
                let effect = if entry.kind == ToolKind::ReadOnly {
                    String::new()
                } else {
                    "; the change may or may not have been applied, so check before calling it again".into()
                };
                let setting = if declared.is_some() {
                    "this tool's own limit"
                } else {
                    "MCP_TOOL_TIMEOUT_SECS"
                };
                Verdict::tool_error(
                    "timeout",
                    format!(
                        "`{name}` did not finish within {} s ({setting}){effect}",
                        limit.as_secs_f64()
                    ),
                )
            }
            Ok(Err(panic)) => {
                let detail = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown cause".into());
                tracing::error!(tool = %name, panic = %scrub(&detail), "tool panicked");
                Verdict::tool_error(
                    "panic",
                    format!(
                        "internal error in `{name}`: {detail}; the call did not complete (this is a bug in the server)"
                    ),
                )
            }
            Ok(Ok(Ok(response))) => {
                let outcome = match &response {
                    CallToolResponse::Complete(result) if result.is_error == Some(true) => {
                        "tool_error"
                    }
                    _ => "ok",
                };
                Verdict {
                    response: Ok(scrub_response(response)),
                    outcome,
                    consent: None,
                }
            }
            Ok(Ok(Err(error))) => Verdict {
                response: Err(error),
                outcome: "protocol_error",
                consent: None,
            },
        };
        Verdict { consent, ..verdict }
    }

    /// Consent for one call, in this order: a standing grant that covers it; the user's answer
    /// through the client (an elicitation request on legacy sessions, an input-required result
    /// on 2026-07-28); the `confirm` argument when the client cannot ask.
    async fn obtain_consent(
        &self,
        asked: Asked<'_>,
        context: &RequestContext<RoleServer>,
    ) -> Result<Consented, String> {
        let Asked {
            name,
            kind,
            arguments,
            confirm,
            request,
        } = asked;
        let runtime = &self.runtime;
        let caller = Caller::of(context)
            .principal
            .unwrap_or_else(|| LOCAL_CALLER.to_owned());
        let client = context.client_info().map(|info| info.name);
        if let Some(grant) = runtime
            .config
            .grants
            .find(name, &caller, client.as_deref(), arguments)
            .await
        {
            return Ok(Consented::Given(format!("grant:{}", grant.id)));
        }
        let fingerprint = ConsentRequests::fingerprint(name, &caller, arguments);
        let can_elicit = context
            .client_capabilities()
            .and_then(|c| c.elicitation)
            .is_some_and(|e| e.form.is_some() || e.url.is_none());
        let modern = context
            .protocol_version()
            .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str());
        // A retried 2026-07-28 call carries the answer to the question asked before.
        if modern
            && ConsentRequests::is_answer(
                request.request_state.as_deref(),
                request.input_responses.as_ref(),
            )
        {
            let decision = runtime.asked.answer(
                request.request_state.as_deref(),
                request.input_responses.as_ref(),
                &fingerprint,
            );
            return self.decided(name, decision, &caller, client).await;
        }
        let preview = self.preview(name, arguments).await;
        if can_elicit {
            let shown = redact_arguments(&Value::Object(arguments.clone()), &runtime.sensitive);
            let effect = preview
                .as_deref()
                .map(|p| format!("\n\nWhat it would change:\n{p}"))
                .unwrap_or_default();
            let message = format!(
                "{} wants to run the {} tool `{name}` with {}.{effect}\n\nAllow it?",
                runtime.config.server,
                kind.label(),
                shown
            );
            let timeout = runtime.config.consent_timeout;
            if modern {
                return Ok(Consented::AskClient(runtime.asked.ask(
                    message,
                    fingerprint,
                    timeout,
                )));
            }
            match context
                .peer
                .create_elicitation_with_timeout(
                    crate::consent::elicitation(message),
                    Some(timeout),
                )
                .await
            {
                Ok(answer) => {
                    let decision = crate::consent::judge(&answer);
                    return self.decided(name, decision, &caller, client).await;
                }
                Err(ServiceError::Timeout { .. }) => {
                    return Err(format!(
                        "no answer to the request to approve `{name}` within {} s, so nothing was changed",
                        timeout.as_secs()
                    ));
                }
                Err(error) => {
                    // The client could not be asked after all: fall back to the explicit argument.
                    tracing::debug!(%error, "elicitation unavailable; falling back to the confirm argument");
                }
            }
        }
        match confirm {
            Confirm::Once => Ok(Consented::Given("argument".to_owned())),
            Confirm::Always => {
                let grant = runtime
                    .config
                    .grants
                    .add(NewGrant {
                        tool: name.to_owned(),
                        caller: Some(caller),
                        client,
                        source: "confirm".into(),
                        ..NewGrant::default()
                    })
                    .await;
                record_grant(grant);
                Ok(Consented::Given("argument".to_owned()))
            }
            Confirm::Absent => {
                let effect = preview
                    .map(|p| format!("\n\nWhat it would change:\n{p}"))
                    .unwrap_or_default();
                Err(format!(
                    "`{name}` is a {} tool, so it needs the user's consent: describe the change to the user and, once they agree, call it again with `confirm: true`. Nothing was changed. (An operator can change which tools ask with MCP_CONFIRM, MCP_CONFIRM_TOOLS and MCP_NO_CONFIRM_TOOLS, or grant this one standing consent with `mcp-{} grants add {name}`.){effect}",
                    kind.label(),
                    runtime.config.server
                ))
            }
        }
    }

    /// Turns the user's answer into consent, recording a standing grant when they asked for one.
    async fn decided(
        &self,
        name: &str,
        decision: Decision,
        caller: &str,
        client: Option<String>,
    ) -> Result<Consented, String> {
        match decision {
            Decision::Refused(reason) => Err(reason.replace("{tool}", name)),
            Decision::Approved(Remember::Once) => Ok(Consented::Given("elicitation".to_owned())),
            Decision::Approved(Remember::For(lasts)) => {
                let grant = self
                    .runtime
                    .config
                    .grants
                    .add(NewGrant {
                        tool: name.to_owned(),
                        caller: Some(caller.to_owned()),
                        client,
                        lasts,
                        source: "elicitation".into(),
                        ..NewGrant::default()
                    })
                    .await;
                record_grant(grant);
                Ok(Consented::Given("elicitation".to_owned()))
            }
        }
    }

    /// The domain's preview of a write, bounded in time so a slow backend cannot hold up the
    /// consent request.
    async fn preview(&self, name: &str, arguments: &JsonObject) -> Option<String> {
        if name == SET_MY_CREDENTIALS {
            return Some(credentials_preview(&self.runtime.config.server, arguments));
        }
        let preview = self.previews.preview(self.inner.clone(), name, arguments)?;
        let preview = with_deadline(backend_deadline(PREVIEW_TIMEOUT), preview);
        match tokio::time::timeout(PREVIEW_TIMEOUT, AssertUnwindSafe(preview).catch_unwind()).await
        {
            Ok(Ok(preview)) => preview.map(|p| scrub(&p).into_owned()),
            Ok(Err(_)) => {
                tracing::error!(tool = name, "the consent preview panicked");
                None
            }
            Err(_) => {
                tracing::warn!(
                    tool = name,
                    "the consent preview took longer than 10 s; asking without it"
                );
                None
            }
        }
    }
}

impl<S: Domain> Governed<S> {
    /// The credentials the call runs with: in team mode, for a server whose callers bring their
    /// own, the caller's set; `None` to use the server's configured credentials (single-user
    /// mode, or team mode with `MCP_SHARED_CREDENTIALS`). A caller with none of its own is
    /// refused when sharing is off.
    async fn caller_credentials(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Result<Option<Arc<crate::team::CredentialSet>>, Verdict> {
        let runtime = &self.runtime;
        let Some(team) = runtime.config.team.as_ref() else {
            return Ok(None);
        };
        if runtime.credential_fields.is_empty() {
            return Ok(None);
        }
        let principal = principal_of(context);
        match team.credentials.get(&principal, &team.server).await {
            Ok(Some(set)) => Ok(Some(set)),
            Ok(None) if team.shared_credentials => Ok(None),
            Ok(None) => Err(Verdict::tool_error(
                "refused",
                format!(
                    "you ({principal}) have no credentials of your own for {server}, and this deployment does not lend its own (MCP_SHARED_CREDENTIALS is off): set yours with the `{SET_MY_CREDENTIALS}` tool, or ask the operator to run `mcp-{server} credentials set {principal}`",
                    server = team.server
                ),
            )),
            Err(error) => Err(Verdict::tool_error(
                "tool_error",
                format!(
                    "could not read your credentials for {}: {error}",
                    team.server
                ),
            )),
        }
    }

    /// The runtime's `set_my_credentials` tool: seals and stores the caller's own credentials
    /// for this server; answers with the fields set, never their values.
    async fn set_my_credentials(
        &self,
        arguments: &JsonObject,
        context: &RequestContext<RoleServer>,
    ) -> Verdict {
        let runtime = &self.runtime;
        let Some(team) = runtime.config.team.as_ref() else {
            return Verdict::tool_error("refused", "team mode is off".into());
        };
        let principal = principal_of(context);
        let mut values = std::collections::BTreeMap::new();
        for field in &runtime.credential_fields {
            match arguments.get(field.name) {
                None | Some(Value::Null) => {}
                Some(Value::String(text)) if !text.trim().is_empty() => {
                    values.insert(field.name.to_owned(), Secret::new(text.trim()));
                }
                Some(_) => {
                    return Verdict::tool_error(
                        "tool_error",
                        format!(
                            "invalid arguments for `{SET_MY_CREDENTIALS}`: `{}`: expected a non-empty string",
                            field.name
                        ),
                    );
                }
            }
        }
        if values.is_empty() {
            let names: Vec<&str> = runtime.credential_fields.iter().map(|f| f.name).collect();
            return Verdict::tool_error(
                "tool_error",
                format!(
                    "invalid arguments for `{SET_MY_CREDENTIALS}`: give at least one of {}",
                    names.join(", ")
                ),
            );
        }
        let existing = match team.credentials.get(&principal, &team.server).await {
            Ok(existing) => existing,
            Err(error) => {
                return Verdict::tool_error(
                    "tool_error",
                    format!(
                        "could not read your credentials for {}: {error}",
                        team.server
                    ),
                );
            }
        };
        let missing: Vec<&str> = runtime
            .credential_fields
            .iter()
            .filter(|f| f.required)
            .filter(|f| {
                !values.contains_key(f.name)
                    && existing
                        .as_ref()
                        .is_none_or(|set| set.get(f.name).is_none())
            })
            .map(|f| f.name)
            .collect();
        if !missing.is_empty() {
            return Verdict::tool_error(
                "tool_error",
                format!(
                    "invalid arguments for `{SET_MY_CREDENTIALS}`: {} also needed, since you have none stored yet",
                    missing.join(", ")
                ),
            );
        }
        if let Err(error) = team
            .credentials
            .set(&principal, &team.server, &values)
            .await
        {
            return Verdict::tool_error(
                "tool_error",
                format!(
                    "could not store your credentials for {}: {error}",
                    team.server
                ),
            );
        }
        let fields: Vec<&String> = values.keys().collect();
        let answer = serde_json::json!({
            "principal": principal,
            "server": team.server,
            "fields_set": fields,
        });
        Verdict {
            response: Ok(CallToolResult::structured(answer).into()),
            outcome: "ok",
            consent: None,
        }
    }
}

/// The caller's principal name, as grants and team mode key it.
fn principal_of(context: &RequestContext<RoleServer>) -> String {
    Caller::of(context)
        .principal
        .unwrap_or_else(|| LOCAL_CALLER.to_owned())
}

/// The `set_my_credentials` tool of a server whose callers bring `fields`.
fn set_my_credentials_tool(server: &str, fields: &[CredentialField]) -> Tool {
    let mut properties = serde_json::Map::new();
    for field in fields {
        properties.insert(
            field.name.to_owned(),
            serde_json::json!({"type": "string", "minLength": 1, "description": field.description}),
        );
    }
    let schema = serde_json::json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    });
    let output = serde_json::json!({
        "type": "object",
        "properties": {
            "principal": {"type": "string", "description": "Whose credentials were stored"},
            "server": {"type": "string", "description": "The server they are for"},
            "fields_set": {"type": "array", "items": {"type": "string"}, "description": "The fields stored (never their values)"},
        },
        "required": ["principal", "server", "fields_set"],
    });
    let as_object = |value: Value| match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(JsonObject::new()),
    };
    let mut tool = Tool::new(
        SET_MY_CREDENTIALS,
        format!(
            "Stores your own credentials for {server}, sealed at rest; your later calls to this server use them instead of the deployment's. The values are never shown again, in answers or logs. Give only the fields you want to change."
        ),
        as_object(schema),
    );
    tool.output_schema = Some(as_object(output));
    tool.annotations = Some(
        ToolAnnotations::new()
            .read_only(false)
            .destructive(false)
            .idempotent(true)
            .open_world(true),
    );
    tool
}

/// What `set_my_credentials` would change, without the values.
fn credentials_preview(server: &str, arguments: &JsonObject) -> String {
    let fields: Vec<String> = arguments
        .iter()
        .filter(|(_, v)| v.is_string())
        .map(|(name, value)| {
            let length = value.as_str().map_or(0, |v| v.trim().chars().count());
            format!("{name}: set ({length} characters)")
        })
        .collect();
    format!(
        "your own credentials for {server}, replacing any stored: {}",
        fields.join(", ")
    )
}

/// Upper bound on a consent preview.
const PREVIEW_TIMEOUT: Duration = Duration::from_secs(10);

/// The deadline backend calls get within a limit starting now: a little before the limit itself,
/// so that the backend's own error (naming the service and the attempts made) reaches the tool,
/// and through it the caller, before the hard stop replaces it with a bare timeout.
fn backend_deadline(limit: Duration) -> tokio::time::Instant {
    let margin = (limit / 20).min(Duration::from_secs(1));
    tokio::time::Instant::now() + limit.saturating_sub(margin)
}

/// Logs the standing grant the user's answer created; this call is approved either way.
fn record_grant(grant: Result<crate::grants::Grant, String>) {
    match grant {
        Ok(grant) => tracing::info!(
            grant = %grant.id,
            tool = %grant.tool,
            expires = grant.expires.as_deref().unwrap_or("never"),
            "standing grant recorded"
        ),
        Err(error) => {
            tracing::warn!(%error, "could not record the standing grant; this call alone is approved")
        }
    }
}

/// What the `confirm` argument said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Confirm {
    Absent,
    Once,
    Always,
}

/// One call that needs consent.
struct Asked<'a> {
    name: &'a str,
    kind: ToolKind,
    arguments: &'a JsonObject,
    confirm: Confirm,
    request: &'a CallToolRequestParams,
}

/// How consent stands after asking.
enum Consented {
    /// Given; how, for the audit record (`elicitation`, `argument`, `grant:<id>`).
    Given(String),
    /// The client must ask the user and call again (2026-07-28).
    AskClient(InputRequiredResult),
}

fn scrub_response(response: CallToolResponse) -> CallToolResponse {
    if !crate::secret::any_registered() {
        return response;
    }
    let CallToolResponse::Complete(result) = response else {
        return response;
    };
    let Ok(mut value) = serde_json::to_value(&result) else {
        return result.into();
    };
    scrub_json(&mut value);
    serde_json::from_value::<CallToolResult>(value)
        .unwrap_or(result)
        .into()
}

/// The start of a successful result's first text, scrubbed, for the audit record.
fn summary_of(response: &Result<CallToolResponse, McpError>) -> Option<String> {
    let Ok(CallToolResponse::Complete(result)) = response else {
        return None;
    };
    if result.is_error == Some(true) {
        return None;
    }
    let text = result
        .content
        .iter()
        .find_map(|block| block.as_text().map(|t| t.text.as_str()))?;
    // Scrubbed before it is cut, so that no cut leaves part of a secret unrecognised.
    let scrubbed = scrub(text);
    let end = scrubbed
        .char_indices()
        .nth(crate::audit::RESULT_SUMMARY_CHARS)
        .map_or(scrubbed.len(), |(end, _)| end);
    Some(scrubbed[..end].to_owned())
}

fn first_text(response: &Result<CallToolResponse, McpError>) -> Option<String> {
    match response {
        Err(error) => Some(error.message.to_string()),
        Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => result
            .content
            .iter()
            .find_map(|block| block.as_text().map(|t| t.text.clone())),
        Ok(_) => None,
    }
}

macro_rules! delegate {
    ($($method:ident($param:ty) -> $out:ty;)*) => {$(
        async fn $method(&self, request: $param, context: RequestContext<RoleServer>) -> Result<$out, McpError> {
            // Boxed, like `call_tool`'s body: rmcp spawns one future per request sized for its
            // largest handler, and moves it several times on the way.
            Box::pin(self.inner.$method(request, context)).await
        }
    )*};
}

macro_rules! delegate_notification {
    ($($method:ident($($param:ty)?);)*) => {$(
        async fn $method(&self, $(notification: $param,)? context: NotificationContext<RoleServer>) {
            self.inner.$method($(delegate_notification!(@arg notification $param),)? context).await
        }
    )*};
    (@arg $name:ident $param:ty) => { $name };
}

impl<S: Domain> Governed<S> {
    /// One governed call with its metrics, log line and audit record; see `call_tool`.
    async fn audited_call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let caller = Caller::of(&context);
        let request_id = match &context.id {
            NumberOrString::Number(n) => n.to_string(),
            NumberOrString::String(s) => s.to_string(),
        };
        let arguments = request
            .arguments
            .clone()
            .map(Value::Object)
            .unwrap_or(Value::Null);
        let mut record = CallRecord::start(
            &self.runtime,
            request.name.to_string(),
            arguments,
            caller,
            request_id,
        );
        let (verdict, notes) =
            crate::audit::collecting_notes(Box::pin(self.govern(request, context, &record.caller)))
                .await;
        let mut notes = Value::Object(notes);
        scrub_json(&mut notes);
        let notes = match notes {
            Value::Object(notes) => notes,
            _ => serde_json::Map::new(),
        };
        let error = first_text(&verdict.response);
        let result_summary = summary_of(&verdict.response);
        record.finish(
            verdict.outcome,
            error,
            verdict.consent,
            notes,
            result_summary,
        );
        verdict.response
    }
}

/// A tool call's audit record from its start: written by [`CallRecord::finish`] with the call's
/// outcome, or, when the call's future is dropped first (the server ended while it ran and the
/// runtime dropped it), on drop with the outcome `interrupted`, so that no call that may have
/// changed something goes unrecorded.
struct CallRecord<'r> {
    runtime: &'r Runtime,
    started: Instant,
    tool: String,
    arguments: Value,
    caller: Caller,
    request_id: String,
    finished: bool,
}

impl<'r> CallRecord<'r> {
    fn start(
        runtime: &'r Runtime,
        tool: String,
        arguments: Value,
        caller: Caller,
        request_id: String,
    ) -> CallRecord<'r> {
        runtime.in_flight.enter();
        CallRecord {
            runtime,
            started: Instant::now(),
            tool,
            arguments,
            caller,
            request_id,
            finished: false,
        }
    }

    /// Writes the record (once: a finished record is not written again on drop).
    fn finish(
        &mut self,
        outcome: &'static str,
        error: Option<String>,
        consent: Option<String>,
        notes: serde_json::Map<String, Value>,
        result_summary: Option<String>,
    ) {
        self.finished = true;
        let elapsed = self.started.elapsed();
        let mut audited = redact_arguments(&self.arguments, &self.runtime.sensitive);
        if let Value::Object(map) = &mut audited
            && map.get(CONFIRM_ARGUMENT).is_some_and(|v| !v.is_boolean())
        {
            map.insert(CONFIRM_ARGUMENT.into(), Value::String(REDACTED.into()));
        }
        let tool = std::mem::take(&mut self.tool);
        self.runtime.metrics.observe(&tool, outcome, elapsed);
        tracing::info!(
            tool = %tool,
            outcome,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            transport = self.caller.transport,
            "tool call"
        );
        self.runtime.audit.record(&AuditRecord {
            time: now_rfc3339(),
            server: self.runtime.config.server.clone(),
            tool,
            arguments: audited_arguments(audited),
            duration_ms: (elapsed.as_secs_f64() * 1e6).round() / 1e3,
            outcome,
            error: error.map(|e| scrub(&e).into_owned()),
            consent,
            caller: self.caller.clone(),
            request_id: std::mem::take(&mut self.request_id),
            notes,
            result_summary,
        });
    }
}

impl Drop for CallRecord<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.finish(
                "interrupted",
                Some("the server stopped while the call was running; whether it changed anything is unknown".to_owned()),
                None,
                serde_json::Map::new(),
                None,
            );
        }
        self.runtime.in_flight.leave();
    }
}

impl<S: Domain> Governed<S> {
    /// The domain's `initialize` answer with the runtime's identity, logging and consent note.
    fn composed_info(&self) -> ServerConfig {
        let mut info = self.inner.get_info();
        // The identity is written once, in the server's `main`; the domain's `get_info` says only
        // what it serves.
        let config = &self.runtime.config;
        info.server_info.name = format!("mcp-{}", config.server);
        info.server_info.version = config.version.clone();
        if !config.about.is_empty() {
            info.server_info.description = Some(config.about.clone());
        }
        // Clients may set a log level; accepting it keeps them from failing even though tools
        // report through results rather than log notifications.
        info.capabilities
            .logging
            .get_or_insert_with(Default::default);
        let policy = &self.runtime.config.policy;
        let gated = self.runtime.tools.values().any(|t| {
            policy.needs_consent(&t.tool.name, t.kind)
                && policy.withheld(&t.tool.name, t.kind).is_none()
        });
        if gated {
            let note = "Tools that change data ask the user for approval; when the client cannot ask, describe the change to the user and, once they agree, call the tool again with `confirm: true`.";
            info.instructions = Some(match info.instructions.take() {
                Some(text) => format!("{text}\n\n{note}"),
                None => note.to_owned(),
            });
        }
        info
    }
}

impl<S: Domain> ServerHandler for Governed<S> {
    fn get_info(&self) -> ServerConfig {
        self.runtime
            .info
            .get_or_init(|| self.composed_info())
            .clone()
    }

    fn supported_protocol_versions(&self) -> std::borrow::Cow<'static, [ProtocolVersion]> {
        self.inner.supported_protocol_versions()
    }

    async fn ping(&self, context: RequestContext<RoleServer>) -> Result<(), McpError> {
        self.inner.ping(context).await
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        match self.inner.set_level(request, context).await {
            Err(error) if error.code == ErrorCode::METHOD_NOT_FOUND => Ok(()),
            other => other,
        }
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(
            self.offered_tools().to_vec(),
        ))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.offered_tools()
            .iter()
            .find(|tool| tool.name == name)
            .cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        // The governed call (consent, team credentials, the domain's tool, timeouts) is a future
        // of many kilobytes. rmcp spawns one task per request whose future is as large as its
        // largest handler, moving it several times on the way; the profile of a stdio call showed
        // those copies (memcpy) as a third of the instructions of a call. Boxed here, what rmcp
        // moves is a pointer.
        Box::pin(self.audited_call(request, context)).await
    }

    delegate! {
        complete(CompleteRequestParams) -> CompleteResult;
        get_prompt(GetPromptRequestParams) -> GetPromptResponse;
        list_prompts(Option<PaginatedRequestParams>) -> ListPromptsResult;
        list_resources(Option<PaginatedRequestParams>) -> ListResourcesResult;
        list_resource_templates(Option<PaginatedRequestParams>) -> ListResourceTemplatesResult;
        read_resource(ReadResourceRequestParams) -> ReadResourceResponse;
        subscribe(SubscribeRequestParams) -> ();
        unsubscribe(UnsubscribeRequestParams) -> ();
        on_custom_request(CustomRequest) -> CustomResult;
        get_task(GetTaskParams) -> GetTaskResult;
        update_task(UpdateTaskParams) -> ();
        cancel_task(CancelTaskParams) -> ();
        list_skills(Option<PaginatedRequestParams>) -> ListSkillsResult;
        get_skill(GetSkillRequestParams) -> GetSkillResult;
        read_resource_directory(ReadResourceDirectoryRequestParams) -> ReadResourceDirectoryResult;
    }

    delegate_notification! {
        on_cancelled(CancelledNotificationParam);
        on_progress(ProgressNotificationParam);
        on_initialized();
        on_roots_list_changed();
        on_custom_notification(CustomNotification);
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.inner.accepted_subscription_filter(requested)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        self.inner.listen(context).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settling waits for the calls running to end, and stops waiting at its limit.
    #[tokio::test]
    async fn settling_waits_for_running_calls_up_to_its_limit() {
        let in_flight = Arc::new(InFlight::default());
        assert_eq!(in_flight.settle(Duration::from_millis(10)).await, 0);
        in_flight.enter();
        in_flight.enter();
        let ending = in_flight.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            ending.leave();
            tokio::time::sleep(Duration::from_millis(30)).await;
            ending.leave();
        });
        let started = Instant::now();
        assert_eq!(in_flight.settle(Duration::from_secs(5)).await, 0);
        assert!(started.elapsed() >= Duration::from_millis(60));
        in_flight.enter();
        assert_eq!(in_flight.settle(Duration::from_millis(50)).await, 1);
    }

    fn tool(name: &'static str, kind: ToolKind) -> (String, GovernedTool) {
        let tool = Tool::new(name, "a tool", Arc::new(JsonObject::new()));
        (name.to_owned(), GovernedTool { tool, kind })
    }

    #[test]
    fn writes_without_previews_and_previews_without_tools_are_problems() {
        let tools: HashMap<String, GovernedTool> = [
            tool("read", ToolKind::ReadOnly),
            tool("remember", ToolKind::LocalWrite),
            tool("send", ToolKind::Write),
            tool("refund", ToolKind::Destructive),
        ]
        .into_iter()
        .collect();
        let complete = Previews::<()>::new()
            .on("send", |(), _: JsonObject| async { None })
            .on("refund", |(), _: JsonObject| async { None });
        assert!(preview_problems(&tools, &complete).is_empty());

        let lacking = Previews::<()>::new()
            .on("send", |(), _: JsonObject| async { None })
            .on("sned", |(), _: JsonObject| async { None })
            .on("send", |(), _: JsonObject| async { None });
        let problems = preview_problems(&tools, &lacking);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0].contains("`refund` is a destructive tool but declares no consent preview")
        );
        assert!(problems[1].contains("`sned`, which is not a tool"));
        assert!(problems[2].contains("`send` is declared twice"));
    }
}
