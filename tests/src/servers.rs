//! The list of servers under test: `servers.json` at the workspace root, the same file Claude
//! Desktop and Cursor load.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// One server entry of `servers.json`.
#[derive(Debug, Clone)]
pub struct ServerEntry {
    /// The key, e.g. "empresa".
    pub name: String,
    /// The command, e.g. "mcp-empresa".
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its environment placeholders.
    pub env: Vec<(String, String)>,
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Reads and checks `servers.json`: an `mcpServers` map whose entries have only `command`,
/// `args` and `env`, as Claude Desktop and Cursor expect.
pub fn load_servers() -> Result<Vec<ServerEntry>> {
    let path = workspace_root().join("servers.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let root: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let Some(servers) = root.get("mcpServers").and_then(Value::as_object) else {
        bail!("servers.json has no mcpServers object");
    };
    let mut entries = Vec::new();
    for (name, entry) in servers {
        let Some(fields) = entry.as_object() else {
            bail!("servers.json: {name} is not an object")
        };
        for key in fields.keys() {
            if !["command", "args", "env"].contains(&key.as_str()) {
                bail!(
                    "servers.json: {name} has key {key:?}; hosts expect only command, args and env"
                );
            }
        }
        let command = fields
            .get("command")
            .and_then(Value::as_str)
            .with_context(|| format!("servers.json: {name} has no command"))?;
        let args = fields
            .get("args")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let env = fields
            .get("env")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        entries.push(ServerEntry {
            name: name.clone(),
            command: command.to_owned(),
            args,
            env,
        });
    }
    if entries.is_empty() {
        bail!("servers.json lists no servers, so there is nothing to check");
    }
    Ok(entries)
}

/// A server's smoke call: a read-only tool, real arguments, and a piece of text the answer must
/// contain. From `tests/smoke.json`; `None` when the server has no entry there.
pub fn smoke_call(server: &str) -> Result<Option<(String, Value, Option<String>)>> {
    let path = workspace_root().join("tests/smoke.json");
    let smoke: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)
        .with_context(|| format!("{} is not JSON", path.display()))?;
    let Some(entry) = smoke.get(server) else {
        return Ok(None);
    };
    let tool = entry["tool"]
        .as_str()
        .with_context(|| format!("smoke.json: {server} has no tool"))?;
    Ok(Some((
        tool.to_owned(),
        entry["arguments"].clone(),
        entry["expect"].as_str().map(str::to_owned),
    )))
}

/// The environment a server runs with in tests, and the stand-in backend it talks to, if any.
/// Dereferences to the variables.
pub struct TestEnvironment {
    /// The variables: servers.json's `env`, the stand-in's settings, `HOME` and `XDG_DATA_HOME`
    /// inside the test directory, and the audit log at `<dir>/audit.jsonl`.
    pub vars: Vec<(String, String)>,
    /// The stand-in process; it is stopped when the environment is dropped.
    pub standin: Option<Standin>,
}

impl std::ops::Deref for TestEnvironment {
    type Target = Vec<(String, String)>;
    fn deref(&self) -> &Self::Target {
        &self.vars
    }
}

impl std::ops::DerefMut for TestEnvironment {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.vars
    }
}

/// A running test stand-in of a real backend (see `tests/standins.json`).
pub struct Standin {
    child: std::process::Child,
    /// Its base URL, `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment for running `server` in tests, with data under `dir`. When
/// `tests/standins.json` names a stand-in for the server, it is started first and `{url}` in the
/// entry's `env` becomes its address, so servers with a backend are tested against a faithful
/// local copy of it and never against the network; `{workspace}` becomes the workspace root (for
/// test assets such as a model directory). An entry without `command` only adds settings.
pub fn test_environment(server: &ServerEntry, dir: &Path) -> TestEnvironment {
    let root = dir.to_string_lossy().into_owned();
    let mut vars = server.env.clone();
    let mut standin = None;
    if let Some(spec) = standin_spec(&server.name) {
        let mut url = String::new();
        if let Some(command) = &spec.command {
            let args: Vec<&str> = spec.args.iter().map(String::as_str).collect();
            match crate::start_listening(&crate::binary_path(command), &args, &[]) {
                Ok((child, addr, _)) => {
                    url = format!("http://{addr}");
                    standin = Some(Standin {
                        child,
                        url: url.clone(),
                    });
                }
                Err(error) => panic!(
                    "{}: could not start its stand-in {command}: {error:#}",
                    server.name
                ),
            }
        }
        let workspace = workspace_root().to_string_lossy().into_owned();
        for (key, value) in &spec.env {
            vars.retain(|(k, _)| k != key);
            vars.push((
                key.clone(),
                value
                    .replace("{url}", &url)
                    .replace("{workspace}", &workspace),
            ));
        }
    }
    vars.push(("HOME".into(), root.clone()));
    vars.push(("XDG_DATA_HOME".into(), root.clone()));
    vars.push(("MCP_AUDIT_LOG".into(), format!("{root}/audit.jsonl")));
    TestEnvironment { vars, standin }
}

struct StandinSpec {
    /// The stand-in binary; `None` when the server only needs test settings (e.g. a model path).
    command: Option<String>,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

/// The stand-in `tests/standins.json` declares for `server`, if any.
fn standin_spec(server: &str) -> Option<StandinSpec> {
    let text = std::fs::read_to_string(workspace_root().join("tests/standins.json")).ok()?;
    let all: Value = serde_json::from_str(&text).ok()?;
    let entry = all.get(server)?;
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(StandinSpec {
        command: entry
            .get("command")
            .and_then(Value::as_str)
            .map(str::to_owned),
        args: strings(&entry["args"]),
        env: entry["env"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// The arguments the Python clients in `tests/interop/` take to start `server` over stdio the way
/// a host does: `--env=KEY=VALUE` for every variable of `env` and for PATH (hosts pass theirs on,
/// and not every SDK adds it to what it is given), then `--`, the server's binary and its
/// servers.json arguments.
pub fn stdio_client_args(server: &ServerEntry, env: &[(String, String)]) -> Vec<String> {
    let mut args: Vec<String> = env.iter().map(|(k, v)| format!("--env={k}={v}")).collect();
    args.push(format!(
        "--env=PATH={}",
        std::env::var("PATH").unwrap_or_default()
    ));
    args.push("--".into());
    args.push(
        crate::binary_path(&server.command)
            .to_string_lossy()
            .into_owned(),
    );
    args.extend(server.args.iter().cloned());
    args
}

/// Borrowed pairs of an owned environment, as the harness takes them.
pub fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}
