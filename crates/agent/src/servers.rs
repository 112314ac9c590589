//! `servers.json`, the file hosts (Claude Desktop, Cursor) load: an `mcpServers` map whose
//! entries start a stdio server (`command`, `args`, `env`) or name a streamable HTTP one (`url`,
//! and `bearer_token_env`, the variable holding its bearer token). The agent reads the same file.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// One server entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// The entry's key, e.g. `empresa`; it prefixes the server's tool names.
    pub name: String,
    /// The program to start (looked up on `PATH` unless it is a path); empty for HTTP servers.
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables set for it on top of the agent's own environment.
    pub env: BTreeMap<String, String>,
    /// The MCP endpoint of a server reached over streamable HTTP instead of started.
    pub url: Option<String>,
    /// The environment variable holding the HTTP server's bearer token (read at each start, so
    /// the token is never written in servers.json).
    pub bearer_token_env: Option<String>,
}

/// A `servers.json` that cannot be used, naming the entry and field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServersError {
    /// The file could not be read.
    #[error("cannot read {path}: {cause}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        cause: String,
    },
    /// The file is not what hosts expect.
    #[error("{path}: {problem}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, naming the entry and field.
        problem: String,
    },
}

/// Reads `path`.
pub fn load(path: &Path) -> Result<Vec<ServerSpec>, ServersError> {
    let text = std::fs::read_to_string(path).map_err(|error| ServersError::Unreadable {
        path: path.display().to_string(),
        cause: error.to_string(),
    })?;
    parse(&text).map_err(|problem| ServersError::Invalid {
        path: path.display().to_string(),
        problem,
    })
}

/// Parses the text of a `servers.json`, entries in the file's key order (sorted).
pub fn parse(text: &str) -> Result<Vec<ServerSpec>, String> {
    let root: Value =
        serde_json::from_str(text).map_err(|error| format!("not valid JSON: {error}"))?;
    let Some(servers) = root.get("mcpServers").and_then(Value::as_object) else {
        return Err("expected an object with an `mcpServers` object of server entries".into());
    };
    let mut specs = Vec::with_capacity(servers.len());
    for (name, entry) in servers {
        let Some(fields) = entry.as_object() else {
            return Err(format!("mcpServers.{name}: expected an object"));
        };
        if let Some(url) = fields.get("url") {
            let Some(url) = url
                .as_str()
                .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            else {
                return Err(format!(
                    "mcpServers.{name}.url: expected the server's MCP endpoint as an http:// or https:// URL, found {url}"
                ));
            };
            if fields.contains_key("command") {
                return Err(format!(
                    "mcpServers.{name}: give either `command` (a stdio server) or `url` (an HTTP server), not both"
                ));
            }
            let bearer_token_env = match fields.get("bearer_token_env") {
                None | Some(Value::Null) => None,
                Some(Value::String(variable)) if !variable.is_empty() => Some(variable.clone()),
                Some(other) => {
                    return Err(format!(
                        "mcpServers.{name}.bearer_token_env: expected the name of the environment variable holding the token, found {other}"
                    ));
                }
            };
            specs.push(ServerSpec {
                name: name.clone(),
                command: String::new(),
                args: Vec::new(),
                env: BTreeMap::new(),
                url: Some(url.to_owned()),
                bearer_token_env,
            });
            continue;
        }
        let command = match fields.get("command") {
            Some(Value::String(command)) if !command.trim().is_empty() => command.clone(),
            Some(other) if !other.is_string() => {
                return Err(format!(
                    "mcpServers.{name}.command: expected a string, found {other}"
                ));
            }
            _ => {
                return Err(format!(
                    "mcpServers.{name}.command: expected the program to start, such as \"mcp-{name}\""
                ));
            }
        };
        let args = match fields.get("args") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    item.as_str().map(str::to_owned).ok_or_else(|| {
                        format!("mcpServers.{name}.args[{index}]: expected a string, found {item}")
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(format!(
                    "mcpServers.{name}.args: expected an array of strings, found {other}"
                ));
            }
        };
        let env = match fields.get("env") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(variables)) => variables
                .iter()
                .map(|(key, value)| match value {
                    Value::String(text) => Ok((key.clone(), text.clone())),
                    other => Err(format!(
                        "mcpServers.{name}.env.{key}: expected a string, found {other}"
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(format!(
                    "mcpServers.{name}.env: expected an object of strings, found {other}"
                ));
            }
        };
        specs.push(ServerSpec {
            name: name.clone(),
            command,
            args,
            env,
            url: None,
            bearer_token_env: None,
        });
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_read_and_bad_fields_named() {
        let specs = parse(
            r#"{"mcpServers": {"empresa": {"command": "mcp-empresa", "args": ["--x"], "env": {"A": "1"}}, "b": {"command": "b"}}}"#,
        )
        .unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[1].name, "empresa");
        assert_eq!(specs[1].args, vec!["--x"]);
        assert_eq!(specs[1].env["A"], "1");
        let http = parse(r#"{"mcpServers": {"h": {"url": "http://127.0.0.1:8080/mcp", "bearer_token_env": "H_TOKEN"}}}"#).unwrap();
        assert_eq!(http[0].url.as_deref(), Some("http://127.0.0.1:8080/mcp"));
        assert_eq!(http[0].bearer_token_env.as_deref(), Some("H_TOKEN"));
        let cases = [
            ("[]", "mcpServers"),
            (r#"{"mcpServers": {"a": {}}}"#, "mcpServers.a.command"),
            (
                r#"{"mcpServers": {"a": {"command": "x", "args": [1]}}}"#,
                "mcpServers.a.args[0]: expected a string",
            ),
            (
                r#"{"mcpServers": {"a": {"command": "x", "env": {"K": 1}}}}"#,
                "mcpServers.a.env.K",
            ),
            (
                r#"{"mcpServers": {"a": {"url": "ftp://x"}}}"#,
                "mcpServers.a.url: expected the server's MCP endpoint",
            ),
            (
                r#"{"mcpServers": {"a": {"url": "http://x", "command": "y"}}}"#,
                "not both",
            ),
            (
                r#"{"mcpServers": {"a": {"url": "http://x", "bearer_token_env": 3}}}"#,
                "mcpServers.a.bearer_token_env",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
