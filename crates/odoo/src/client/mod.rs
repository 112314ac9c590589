//! The Odoo client: one [`OdooClient`] per configured instance, speaking XML-RPC
//! (`/xmlrpc/2/common`, `/xmlrpc/2/object`) or JSON-2 (`/json/2/<model>/<method>`), every request
//! going through mcp-common's [`Backend`] (timeout, retries of reads, breaker).
//!
//! It knows nothing of MCP: calls go in as [`Call`]s and come back as JSON values or
//! [`OdooError`]s. The protocol is chosen once per instance (see [`ProtocolChoice`]), the XML-RPC
//! uid is cached and re-established once when Odoo refuses it, and parallel calls share one pooled
//! HTTP client.

mod error;
mod json2;
mod xmlrpc;
mod xmlrpc_answer;

use std::future::Future;
use std::sync::Mutex;

use mcp_common::api::Explanation;
use mcp_common::{ApiClient, Backend, BackendConfig, Failure, FailureKind, Repeat, Secret};
use serde_json::{Map, Value};

pub use error::{Fault, FaultKind, OdooError, is_model_name, meaningful_line};

/// Which protocol an instance is configured to use (`ODOO_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolChoice {
    /// JSON-2 when an API key is set and the server is Odoo 19 or newer, else XML-RPC.
    Auto,
    /// XML-RPC, with the password (or the API key as password).
    XmlRpc,
    /// JSON-2 with the API key.
    Json2,
}

/// The protocol in use for an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `/xmlrpc/2` (deprecated in Odoo 19, to be removed in Odoo 22).
    XmlRpc,
    /// `/json/2` (Odoo 19 and newer).
    Json2,
}

impl Protocol {
    /// `xmlrpc` or `json2`.
    pub fn label(self) -> &'static str {
        match self {
            Protocol::XmlRpc => "xmlrpc",
            Protocol::Json2 => "json2",
        }
    }
}

/// How to reach one Odoo instance.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The instance's name (`default` for the one from `ODOO_URL`).
    pub name: String,
    /// Base URL without a trailing slash, e.g. `https://mycompany.odoo.com`.
    pub url: String,
    /// The database.
    pub db: String,
    /// The login (XML-RPC needs it).
    pub user: Option<String>,
    /// The user's password.
    pub password: Option<Secret>,
    /// An API key of the user.
    pub api_key: Option<Secret>,
    /// The protocol to use.
    pub protocol: ProtocolChoice,
    /// What to check when the server cannot be reached, e.g. "is ODOO_URL right?".
    pub url_hint: String,
    /// What to check when the login is refused.
    pub credentials_hint: String,
    /// What to check when the API key is refused.
    pub api_key_hint: String,
}

/// One call of a model method, expressed so that both protocols can send it.
#[derive(Debug, Clone)]
pub struct Call {
    /// The model, e.g. `res.partner`.
    pub model: String,
    /// The method, e.g. `search_read`.
    pub method: String,
    /// Records the method runs on (`None` for `@api.model` methods).
    pub ids: Option<Vec<i64>>,
    /// Named parameters that XML-RPC passes by position, in the method's order (JSON-2 names them).
    pub positional: Vec<(String, Value)>,
    /// Extra positional arguments with no name, which only XML-RPC can send.
    pub extra_args: Vec<Value>,
    /// Keyword arguments.
    pub keywords: Map<String, Value>,
    /// Odoo context values (`lang`, `active_test`, `bin_size`, …).
    pub context: Map<String, Value>,
    /// Whether the call may be sent again after a failure that may have reached Odoo.
    pub repeat: Repeat,
}

impl Call {
    /// A call that only reads, safe to repeat.
    pub fn read(model: &str, method: &str) -> Call {
        Call::new(model, method, Repeat::Safe)
    }

    /// A call that changes data, never re-sent once it may have reached Odoo.
    pub fn write(model: &str, method: &str) -> Call {
        Call::new(model, method, Repeat::Unsafe)
    }

    fn new(model: &str, method: &str, repeat: Repeat) -> Call {
        Call {
            model: model.to_owned(),
            method: method.to_owned(),
            ids: None,
            positional: Vec::new(),
            extra_args: Vec::new(),
            keywords: Map::new(),
            context: Map::new(),
            repeat,
        }
    }

    /// Runs the method on these records.
    pub fn on(mut self, ids: Vec<i64>) -> Call {
        self.ids = Some(ids);
        self
    }

    /// Adds a parameter XML-RPC passes by position (after the ids), JSON-2 by name.
    pub fn arg(mut self, name: &str, value: impl Into<Value>) -> Call {
        self.positional.push((name.to_owned(), value.into()));
        self
    }

    /// Adds a keyword argument.
    pub fn kwarg(mut self, name: &str, value: impl Into<Value>) -> Call {
        self.keywords.insert(name.to_owned(), value.into());
        self
    }

    /// Adds a context value.
    pub fn context(mut self, name: &str, value: impl Into<Value>) -> Call {
        self.context.insert(name.to_owned(), value.into());
        self
    }

    /// "search_read on res.partner", for messages.
    pub fn operation(&self) -> String {
        format!("{} on {}", self.method, self.model)
    }

    /// The record ids, or none.
    fn id_list(&self) -> &[i64] {
        self.ids.as_deref().unwrap_or_default()
    }
}

/// The server's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVersion {
    /// As Odoo reports it, e.g. "19.0" or "saas~18.4".
    pub version: String,
    /// The major version, e.g. 19.
    pub major: u32,
}

/// What the readiness probe found.
#[derive(Debug, Clone)]
pub struct LoginReport {
    /// The server version.
    pub version: ServerVersion,
    /// The protocol in use.
    pub protocol: Protocol,
    /// The user id, when known.
    pub uid: Option<i64>,
}

/// An Odoo instance and everything needed to call it.
pub struct OdooClient {
    connection: Connection,
    /// The pooled HTTP client, the backend policy and the instance's base URL.
    api: ApiClient,
    protocol: tokio::sync::OnceCell<Protocol>,
    session: tokio::sync::Mutex<Session>,
}

impl std::fmt::Debug for OdooClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OdooClient")
            .field("instance", &self.connection.name)
            .field("url", &self.connection.url)
            .field("db", &self.connection.db)
            .finish()
    }
}

/// The XML-RPC login state. `generation` changes on every new login, so that concurrent calls
/// refused with the same stale uid log in again only once.
#[derive(Debug, Default)]
struct Session {
    uid: Option<i64>,
    generation: u64,
}

/// What to say when Odoo, or a proxy in front of it, refuses a request as too large (HTTP 413).
const TOO_LARGE_HINT: &str = "the request was too large for Odoo (or a proxy in front of it): use a shorter domain, fewer ids, fields or values, or split the work into several calls";

/// The hint for an HTTP 413, whichever protocol was refused.
fn too_large_hint(code: u16) -> Option<String> {
    (code == 413).then(|| TOO_LARGE_HINT.to_owned())
}

/// Decodes an XML-RPC answer of `model.method` as the client does: the value, or the sentence
/// saying why not (Odoo's fault, or why it is not XML-RPC). For `crate::fuzz` and the benchmark's
/// direct client, which must read answers as mcp-odoo does.
pub fn decode_xmlrpc_answer(body: Vec<u8>, model: &str, method: &str) -> Result<Value, String> {
    xmlrpc::decode_answer(body, model, method)
}

/// Reads a JSON-2 error body of `model.method` as the client does (for `crate::fuzz`).
pub(crate) fn json2_refusal(code: u16, body: &[u8], model: &str, method: &str) -> Option<String> {
    json2::refusal_in(code, body, model, method)
}

/// How one attempt failed, before classification.
#[derive(Debug)]
enum AttemptError {
    /// The attempt failed as mcp-common classifies it (the exchange, the status, or an answer
    /// that could not be decoded).
    Failed(Failure),
    /// Odoo refused the call.
    Fault(Fault),
}

impl AttemptError {
    fn classify(&self) -> Failure {
        match self {
            AttemptError::Failed(failure) => failure.clone(),
            AttemptError::Fault(fault) if fault.kind == FaultKind::Transient => {
                Failure::new(FailureKind::Unavailable, fault.message.clone())
            }
            AttemptError::Fault(fault) => Failure::new(FailureKind::Rejected, fault.to_string()),
        }
    }
}

impl OdooClient {
    /// A client for `connection`, over the shared HTTP client. Nothing is sent until the first call.
    pub fn new(connection: Connection, http: reqwest::Client, policy: BackendConfig) -> OdooClient {
        let backend = Backend::new(
            "Odoo",
            connection.url.clone(),
            connection.url_hint.clone(),
            policy,
        );
        // XML-RPC's error statuses carry no body worth quoting (JSON-2 reads Odoo's error bodies
        // call by call, see `json2::exchange`); only a refusal for size has a more useful hint
        // than the generic one.
        let api = ApiClient::new(http, backend, connection.url.clone()).explaining(|code, _| {
            Explanation {
                message: None,
                hint: too_large_hint(code),
            }
        });
        OdooClient {
            connection,
            api,
            protocol: tokio::sync::OnceCell::new(),
            session: tokio::sync::Mutex::new(Session::default()),
        }
    }

    /// A client of the same instance logging in as another user (a team-mode caller's own
    /// login, with its password or an API key in its place), with a circuit breaker of its own.
    pub fn for_login(&self, login: &str, password: Secret) -> OdooClient {
        let connection = Connection {
            user: Some(login.to_owned()),
            password: Some(password),
            api_key: None,
            credentials_hint: "check the login and password you set with set_my_credentials".into(),
            ..self.connection.clone()
        };
        OdooClient::new(
            connection,
            self.api.http().clone(),
            self.api.backend().config().clone(),
        )
    }

    /// The instance's settings.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The protocol in use, deciding it on first use.
    pub async fn protocol(&self) -> Result<Protocol, OdooError> {
        self.protocol_for("version").await
    }

    /// The protocol, deciding it for `operation` (named in errors) on first use.
    async fn protocol_for(&self, operation: &str) -> Result<Protocol, OdooError> {
        self.protocol
            .get_or_try_init(|| self.choose_protocol(operation))
            .await
            .copied()
    }

    async fn choose_protocol(&self, operation: &str) -> Result<Protocol, OdooError> {
        let connection = &self.connection;
        let protocol = match connection.protocol {
            ProtocolChoice::XmlRpc => Protocol::XmlRpc,
            ProtocolChoice::Json2 => Protocol::Json2,
            ProtocolChoice::Auto if connection.api_key.is_none() => Protocol::XmlRpc,
            ProtocolChoice::Auto => {
                let version = self.version_for(operation).await?;
                let answered = if version.major >= 19 {
                    // The version says JSON-2 exists; a cheap authenticated call says it is reachable
                    // (a proxy may forward only /xmlrpc) and that the key works.
                    match json2::whoami(self).await {
                        Ok(_) => true,
                        Err(error) if json2_missing(&error) => false,
                        Err(error) => return Err(error),
                    }
                } else {
                    false
                };
                if answered {
                    Protocol::Json2
                } else if connection.user.is_some() {
                    Protocol::XmlRpc
                } else {
                    return Err(OdooError::Unsupported(format!(
                        "Odoo {} at {} does not answer JSON-2 (Odoo 19 and newer have it), and XML-RPC needs a login: set the user to use the API key over XML-RPC",
                        version.version, connection.url
                    )));
                }
            }
        };
        tracing::info!(
            instance = %connection.name,
            protocol = protocol.label(),
            "Odoo protocol chosen"
        );
        Ok(protocol)
    }

    /// The server version: `GET /web/version` (Odoo 19 and newer), else XML-RPC `common.version`.
    pub async fn version(&self) -> Result<ServerVersion, OdooError> {
        self.version_for("version").await
    }

    async fn version_for(&self, operation: &str) -> Result<ServerVersion, OdooError> {
        match json2::web_version(self, operation).await? {
            Some(version) => Ok(version),
            None => xmlrpc::version(self, operation).await,
        }
    }

    /// Runs one model method and returns Odoo's answer as JSON.
    pub async fn execute(&self, call: &Call) -> Result<Value, OdooError> {
        check_names(call)?;
        let operation = call.operation();
        match self.protocol_for(&operation).await? {
            Protocol::Json2 => json2::execute(self, call).await,
            Protocol::XmlRpc => {
                let (uid, generation) = self.uid(&operation).await?;
                match xmlrpc::execute_kw(self, uid, call).await {
                    Err(OdooError::Fault(fault)) if fault.kind == FaultKind::AccessDenied => {
                        // The password changed or the uid went stale: Odoo refused the request
                        // without running it, so logging in again and re-sending is safe even
                        // for a write.
                        tracing::info!(instance = %self.connection.name, "Odoo refused the session; logging in again");
                        let uid = self.login_again(Some(generation), &operation).await?;
                        match xmlrpc::execute_kw(self, uid, call).await {
                            Err(OdooError::Fault(fault))
                                if fault.kind == FaultKind::AccessDenied =>
                            {
                                self.forget_uid().await;
                                Err(self.login_rejected())
                            }
                            other => other,
                        }
                    }
                    other => other,
                }
            }
        }
    }

    /// Checks the connection for readiness: the version, then a login (XML-RPC `authenticate`,
    /// or an authenticated JSON-2 call).
    pub async fn check_login(&self) -> Result<LoginReport, OdooError> {
        let version = self.version().await?;
        let protocol = self.protocol().await?;
        let uid = match protocol {
            Protocol::XmlRpc => {
                let uid = self.login_again(None, "login").await?;
                Some(uid)
            }
            Protocol::Json2 => json2::whoami(self).await?,
        };
        Ok(LoginReport {
            version,
            protocol,
            uid,
        })
    }

    /// The cached uid (logging in when there is none) and the session generation.
    async fn uid(&self, operation: &str) -> Result<(i64, u64), OdooError> {
        let mut session = self.session.lock().await;
        if let Some(uid) = session.uid {
            return Ok((uid, session.generation));
        }
        // Holding the lock while logging in makes concurrent first calls share one login.
        let uid = xmlrpc::authenticate(self, operation).await?;
        session.uid = Some(uid);
        session.generation += 1;
        Ok((uid, session.generation))
    }

    /// Logs in again, unless another call already did since the session generation `seen`
    /// (`None` always logs in).
    async fn login_again(&self, seen: Option<u64>, operation: &str) -> Result<i64, OdooError> {
        let mut session = self.session.lock().await;
        if let (Some(seen), Some(uid)) = (seen, session.uid)
            && session.generation != seen
        {
            return Ok(uid);
        }
        session.uid = None;
        let uid = xmlrpc::authenticate(self, operation).await?;
        session.uid = Some(uid);
        session.generation += 1;
        Ok(uid)
    }

    async fn forget_uid(&self) {
        self.session.lock().await.uid = None;
    }

    /// The error for refused credentials.
    fn login_rejected(&self) -> OdooError {
        let connection = &self.connection;
        OdooError::LoginRejected {
            what: format!(
                "login for user '{}'",
                connection.user.as_deref().unwrap_or_default()
            ),
            db: connection.db.clone(),
            hint: connection.credentials_hint.clone(),
        }
    }

    /// Sends one request under the backend policy. Odoo's refusals come back as
    /// [`OdooError::Fault`], everything else as mcp-common's [`BackendError`](mcp_common::BackendError).
    async fn send<T, F, Fut>(
        &self,
        operation: &str,
        repeat: Repeat,
        mut attempt: F,
    ) -> Result<T, OdooError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AttemptError>>,
    {
        // The backend keeps only a classified failure; the fault itself is kept here so the
        // caller gets Odoo's refusal with its kind (to log in again, or to phrase it).
        let refusal: Mutex<Option<Fault>> = Mutex::new(None);
        let result = self
            .api
            .backend()
            .call(operation, repeat, AttemptError::classify, || {
                let pending = attempt();
                let refusal = &refusal;
                async move {
                    let outcome = pending.await;
                    if let Err(AttemptError::Fault(fault)) = &outcome
                        && let Ok(mut slot) = refusal.lock()
                    {
                        *slot = Some(fault.clone());
                    }
                    outcome
                }
            })
            .await;
        match result {
            Ok(value) => Ok(value),
            Err(error) => {
                let rejected = error
                    .failure
                    .as_ref()
                    .is_some_and(|f| f.kind == FailureKind::Rejected);
                let fault = refusal.lock().ok().and_then(|mut slot| slot.take());
                match fault {
                    Some(fault) if rejected => Err(OdooError::Fault(fault)),
                    _ => Err(OdooError::Backend(error)),
                }
            }
        }
    }
}

/// Whether a JSON-2 probe failed because the server does not serve JSON-2 (no route, or a proxy
/// refusing it), rather than because of the key or the network.
fn json2_missing(error: &OdooError) -> bool {
    match error {
        OdooError::Fault(fault) => matches!(
            fault.kind,
            FaultKind::UnknownModel | FaultKind::UnknownMethod | FaultKind::Other
        ),
        OdooError::Backend(error) => error.failure.as_ref().is_some_and(|f| {
            f.kind == FailureKind::Rejected
                && (f.detail.starts_with("HTTP 404") || f.detail.starts_with("HTTP 405"))
        }),
        _ => false,
    }
}

/// Refuses model and method names that could escape the URL path or call private methods; Odoo
/// refuses them too, but JSON-2 puts them in the URL.
fn check_names(call: &Call) -> Result<(), OdooError> {
    if !is_model_name(&call.model) {
        return Err(OdooError::Unsupported(format!(
            "'{}' is not a model name (model names look like res.partner)",
            call.model
        )));
    }
    let method_ok = call
        .method
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && call.method.len() <= 128
        && call
            .method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !method_ok {
        return Err(OdooError::Unsupported(format!(
            "'{}' is not a public method name (letters, digits and `_`, not starting with `_`)",
            call.method
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_common::backend::{failure_of_http_error, failure_of_status};

    #[test]
    fn names_that_could_escape_the_url_are_refused() {
        for (model, method, ok) in [
            ("res.partner", "search_read", true),
            ("res.partner", "_read", false),
            ("res.partner", "search/../x", false),
            ("../web", "x", false),
            ("res.partner", "", false),
        ] {
            let call = Call::read(model, method);
            assert_eq!(check_names(&call).is_ok(), ok, "{model} {method}");
        }
    }

    #[tokio::test]
    async fn too_large_requests_blame_the_size_not_the_url() {
        // A proxy refusing the body for its size, over both protocols.
        let app = axum::Router::new().fallback(|| async {
            (
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "<html>413 Request Entity Too Large</html>",
            )
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        for protocol in [ProtocolChoice::Json2, ProtocolChoice::XmlRpc] {
            let connection = Connection {
                name: "default".into(),
                url: url.clone(),
                db: "test".into(),
                user: Some("admin".into()),
                password: Some(Secret::new("admin")),
                api_key: Some(Secret::new("key")),
                protocol,
                url_hint: "is ODOO_URL right?".into(),
                credentials_hint: "check ODOO_USER".into(),
                api_key_hint: "check ODOO_API_KEY".into(),
            };
            let client = OdooClient::new(
                connection,
                reqwest::Client::new(),
                BackendConfig::standard(),
            );
            let call = Call::read("res.partner", "search_read");
            let message = match protocol {
                ProtocolChoice::Json2 => json2::execute(&client, &call).await,
                _ => xmlrpc::execute_kw(&client, 2, &call).await,
            }
            .unwrap_err()
            .to_string();
            assert_eq!(
                message,
                format!(
                    "Odoo rejected search_read on res.partner: HTTP 413 Payload Too Large — {TOO_LARGE_HINT}"
                ),
                "{protocol:?}"
            );
            assert!(!message.contains("ODOO_URL"), "{message}");
        }
        let error = AttemptError::Failed(failure_of_status(413, "Payload Too Large", None));
        assert_eq!(error.classify().kind, FailureKind::Rejected);
    }

    #[tokio::test]
    async fn refused_connections_are_connect_failures() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/web/version"))
            .send()
            .await
            .unwrap_err();
        let failure = failure_of_http_error(&error);
        assert_eq!(failure.kind, FailureKind::Connect);
        assert_eq!(failure.detail, "connection refused");
    }
}
