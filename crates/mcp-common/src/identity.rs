//! Who is calling: the transport, the authenticated principal (HTTP bearer token holder or OAuth
//! subject) and its scopes, the remote address and the client software, for tools and for the
//! audit record.

use std::collections::BTreeSet;

use rmcp::RoleServer;
use rmcp::service::RequestContext;
use serde::Serialize;

/// The principal an HTTP request authenticated as, put into the request extensions by the auth
/// layer: a static token's holder name (`MCP_AUTH_TOKENS`), or `oauth:<sub>` for an OAuth access
/// token (static names may not start with `oauth:`, so the two never collide).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(pub String);

/// The scopes an OAuth access token granted, put into the request extensions next to its
/// [`Principal`]. Absent for static token holders, whom scopes do not limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(pub BTreeSet<String>);

impl Scopes {
    /// Whether `scope` was granted.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    /// The scopes of the HTTP request behind `context`; `None` over stdio and for callers not
    /// authenticated by OAuth.
    pub fn of(context: &RequestContext<RoleServer>) -> Option<Scopes> {
        context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Scopes>())
            .cloned()
    }
}

/// The TCP peer of an HTTP request, put into the request extensions by the HTTP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub std::net::SocketAddr);

/// The caller of a tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    /// `stdio` or `http`.
    pub transport: &'static str,
    /// The token holder's name over HTTP with authentication; `None` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The remote socket address over HTTP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// The client's self-declared name and version, from `initialize` or the request's `_meta`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The HTTP session id, in stateful mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

impl Caller {
    /// A caller over stdio.
    pub fn stdio(client: Option<String>) -> Caller {
        Caller {
            transport: "stdio",
            principal: None,
            remote: None,
            client,
            session: None,
        }
    }

    /// The caller of the request behind `context`.
    pub fn of(context: &RequestContext<RoleServer>) -> Caller {
        let client = context
            .client_info()
            .map(|info| format!("{} {}", info.name, info.version));
        match context.extensions.get::<http::request::Parts>() {
            None => Caller::stdio(client),
            Some(parts) => Caller {
                transport: "http",
                principal: parts.extensions.get::<Principal>().map(|p| p.0.clone()),
                remote: parts
                    .extensions
                    .get::<RemoteAddr>()
                    .map(|a| a.0.to_string()),
                client,
                session: parts
                    .headers
                    .get("mcp-session-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            },
        }
    }
}
