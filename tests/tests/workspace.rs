//! Tidy checks: servers.json, the workspace's server crates, their binaries and the README's
//! configuration table cannot drift apart.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers fail loudly.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mcp_conformance::servers::{load_servers, pairs, workspace_root};
use mcp_conformance::{StdioServer, binary_path};
use serde_json::json;
use tempfile::TempDir;

/// The key path of the marker a server crate declares in its Cargo.toml:
/// `[package.metadata.mcp] server = true`. Crates under crates/ without it (mcp-common, a client,
/// shared libraries) are not servers and need no servers.json entry.
const SERVER_MARKER: [&str; 4] = ["package", "metadata", "mcp", "server"];

/// Whether `manifest` (a Cargo.toml) declares the server marker; an error when it gives the marker
/// a value other than `true` or `false`, so a typo cannot silently unlist a server.
///
/// No TOML parser is in the dependency graph, so this is a small parser for the subset a marker
/// can be written in: `[package.metadata.mcp]` with `server = ...`, dotted keys
/// (`mcp.server = ...` under `[package.metadata]`), inline tables (`mcp = { server = ... }`), with
/// comments, quoted keys, and multi-line strings and arrays skipped so that text inside them is
/// never taken for a table or a key.
fn declares_server(manifest: &str) -> Result<bool, String> {
    let mut table: Vec<String> = Vec::new();
    let mut found = None;
    let mut lines = manifest.lines();
    while let Some(line) = lines.next() {
        let line = strip_comment(line);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            // `[a.b]` or `[[a.b]]`: keys that follow belong to that table.
            let header = header.trim_start_matches('[');
            let header = header.trim_end().trim_end_matches(']');
            table = key_path(header);
            continue;
        }
        let Some((key, value)) = split_key_value(line) else {
            return Err(format!("cannot read line {line:?}"));
        };
        let mut value = value.trim().to_owned();
        // A value may go on over the next lines: a multi-line string or an open array or table.
        while continues(&value) {
            let Some(next) = lines.next() else {
                return Err(format!("unterminated value of {key:?}"));
            };
            value.push('\n');
            value.push_str(next);
        }
        let mut path = table.clone();
        path.extend(key_path(key));
        if let Some(marker) = lookup(&path, &value, &SERVER_MARKER)? {
            found = Some(marker);
        }
    }
    Ok(found.unwrap_or(false))
}

/// `line` without a trailing `# comment` (a `#` inside a quoted string is kept).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some('"'), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => return &line[..i],
            _ => {}
        }
        escaped = false;
    }
    line
}

/// Splits `key = value` at the first `=` outside quotes.
fn split_key_value(line: &str) -> Option<(&str, &str)> {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '=') => return Some((&line[..i], &line[i + 1..])),
            _ => {}
        }
    }
    None
}

/// The parts of a dotted key or table header, unquoted: `package . "metadata".mcp` gives
/// `["package", "metadata", "mcp"]`.
fn key_path(key: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut quote = None;
    for c in key.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => part.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, '.') => parts.push(std::mem::take(&mut part)),
            (None, c) if !c.is_whitespace() => part.push(c),
            _ => {}
        }
    }
    parts.push(part);
    parts
}

/// Whether `value` is not finished on its line: an open multi-line string, or more `[`/`{` than
/// `]`/`}` outside strings.
fn continues(value: &str) -> bool {
    for delimiter in ["\"\"\"", "'''"] {
        if let Some(rest) = value.strip_prefix(delimiter) {
            return !rest.contains(delimiter);
        }
    }
    let mut depth = 0i32;
    let mut quote = None;
    let mut escaped = false;
    for line in value.lines() {
        for c in strip_comment(line).chars() {
            match (quote, c) {
                (Some('"'), '\\') if !escaped => {
                    escaped = true;
                    continue;
                }
                (Some(q), c) if c == q && !escaped => quote = None,
                (None, '"' | '\'') => quote = Some(c),
                (None, '[' | '{') => depth += 1,
                (None, ']' | '}') => depth -= 1,
                _ => {}
            }
            escaped = false;
        }
    }
    depth > 0
}

/// The marker's value if `path = value` sets `target`, directly or through inline tables:
/// `Some(true)`, `Some(false)`, `None` when it does not set it, an error for another value.
fn lookup(path: &[String], value: &str, target: &[&str]) -> Result<Option<bool>, String> {
    let shared = path.len().min(target.len());
    if path[..shared] != target[..shared] {
        return Ok(None);
    }
    let value = value.trim();
    if path.len() == target.len() {
        return match value {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            other => Err(format!(
                "{} = {other}: the server marker must be true or false",
                target.join(".")
            )),
        };
    }
    if path.len() > target.len() {
        return Ok(None);
    }
    // `path` is a table above the marker: only an inline table can set it.
    let Some(inner) = value.strip_prefix('{').and_then(|v| v.strip_suffix('}')) else {
        return Ok(None);
    };
    let mut found = None;
    for entry in split_top_level(inner) {
        if entry.trim().is_empty() {
            continue;
        }
        let Some((key, inner_value)) = split_key_value(entry) else {
            return Err(format!("cannot read inline table entry {entry:?}"));
        };
        let mut inner_path = path.to_vec();
        inner_path.extend(key_path(key));
        if let Some(marker) = lookup(&inner_path, inner_value, target)? {
            found = Some(marker);
        }
    }
    Ok(found)
}

/// Splits an inline table's body at the commas not inside strings, arrays or nested tables.
fn split_top_level(body: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote = None;
    let mut start = 0;
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts
}

/// The directories under `crates` whose Cargo.toml declares the server marker.
fn server_crates(crates: &Path) -> BTreeSet<String> {
    let mut servers = BTreeSet::new();
    for entry in std::fs::read_dir(crates).unwrap() {
        let entry = entry.unwrap();
        let manifest = entry.path().join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest).unwrap();
        let is_server = declares_server(&text)
            .unwrap_or_else(|error| panic!("{}: {error}", manifest.display()));
        if is_server {
            servers.insert(entry.file_name().to_string_lossy().into_owned());
        }
    }
    servers
}

#[test]
fn every_server_crate_is_listed_in_servers_json_and_vice_versa() {
    let listed: BTreeSet<String> = load_servers()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    let crates = server_crates(&workspace_root().join("crates"));
    assert_eq!(
        listed, crates,
        "servers.json entries must match the crates under crates/ whose Cargo.toml declares \
         [package.metadata.mcp] server = true"
    );
    for server in load_servers().unwrap() {
        assert_eq!(
            server.command,
            format!("mcp-{}", server.name),
            "servers.json: {} must run mcp-{}",
            server.name,
            server.name
        );
    }
}

/// Every variable a binary documents in `--help` appears in the README, and so does every
/// variable servers.json sets.
#[test]
fn readme_documents_every_configuration_variable() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    for server in load_servers().unwrap() {
        let help = Command::new(binary_path(&server.command))
            .arg("--help")
            .output()
            .unwrap();
        assert!(help.status.success(), "{} --help failed", server.command);
        let text = String::from_utf8_lossy(&help.stdout);
        let mut variables: BTreeSet<String> = text
            .split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .filter(|word| {
                word.len() > 4
                    && word.contains('_')
                    && word.starts_with(|c: char| c.is_ascii_uppercase())
            })
            .map(str::to_owned)
            .collect();
        variables.extend(server.env.iter().map(|(k, _)| k.clone()));
        assert!(
            variables.len() > 10,
            "{}: too few variables found in --help:\n{text}",
            server.command
        );
        let missing: Vec<_> = variables
            .iter()
            .filter(|v| !readme.contains(&format!("`{v}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "README.md does not document {missing:?} (from {} --help or servers.json)",
            server.command
        );
    }
}

#[test]
fn version_flag_prints_the_binary_name() {
    for server in load_servers().unwrap() {
        let output = Command::new(binary_path(&server.command))
            .arg("--version")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && text.starts_with(&server.command),
            "{} --version printed {text:?}",
            server.command
        );
    }
}

/// The harness finds the address a process prints, as it does for stand-ins of real backends.
#[test]
fn the_harness_starts_listening_processes_and_reads_their_address() {
    let (mut child, addr, _) = mcp_conformance::start_listening(
        &binary_path("mcp-fixture"),
        &["--transport", "http"],
        &[],
    )
    .unwrap();
    let health = reqwest::blocking::get(format!("http://{addr}/healthz")).unwrap();
    assert_eq!(health.status().as_u16(), 200, "{addr}");
    let _ = child.kill();
    let _ = child.wait();
}

/// The marker is read the ways TOML allows writing it, and a crate without it (a client such as
/// mcp-agent, a shared library) is a non-server rather than a drift between servers.json and
/// crates/.
#[test]
fn the_server_marker_is_read_from_cargo_toml_and_its_absence_means_not_a_server() {
    let package = "[package]\nname = \"mcp-x\"\nversion = \"0.1.0\"\n";
    let servers = [
        "[package.metadata.mcp]\nserver = true\n",
        "[package.metadata.mcp] # the marker\nserver=true # yes\n",
        "[ package . metadata . \"mcp\" ]\n\"server\" = true\n",
        "[package.metadata]\nmcp.server = true\n",
        "[package.metadata]\nmcp = { server = true, notes = \"a, b\" }\n",
        "[package.metadata.docs]\nall = true\n[package.metadata.mcp]\nserver = true\n[dependencies]\nserde = \"1\"\n",
    ];
    for tail in servers {
        let manifest = format!("{package}{tail}");
        assert_eq!(declares_server(&manifest), Ok(true), "{manifest}");
    }
    let non_servers = [
        // mcp-common today, and any library or client crate.
        "[dependencies]\nserde = \"1\"\n",
        "[package.metadata.mcp]\nserver = false\n",
        "# [package.metadata.mcp]\n# server = true\n",
        "[package.metadata.other]\nserver = true\n",
        "[workspace.metadata.mcp]\nserver = true\n",
        "[package.metadata.mcp]\n[dependencies]\nserver = true\n",
        "[package.metadata]\nnotes = \"\"\"\n[package.metadata.mcp]\nserver = true\n\"\"\"\n",
        "[package.metadata]\nlist = [\n  \"[package.metadata.mcp]\",\n  \"server = true\",\n]\n",
    ];
    for tail in non_servers {
        let manifest = format!("{package}{tail}");
        assert_eq!(declares_server(&manifest), Ok(false), "{manifest}");
    }
    let typo = format!("{package}[package.metadata.mcp]\nserver = \"yes\"\n");
    let error = declares_server(&typo).unwrap_err();
    assert!(error.contains("must be true or false"), "{error}");

    // A crates/ with a server and a client next to it: only the server must be in servers.json.
    let crates = TempDir::new().unwrap();
    for (name, tail) in [
        ("empresa", "[package.metadata.mcp]\nserver = true\n"),
        (
            "mcp-agent",
            "[dependencies]\nmcp-common = { path = \"../mcp-common\" }\n",
        ),
    ] {
        std::fs::create_dir(crates.path().join(name)).unwrap();
        std::fs::write(
            crates.path().join(name).join("Cargo.toml"),
            format!("{package}{tail}"),
        )
        .unwrap();
    }
    std::fs::write(crates.path().join("README.md"), "not a crate").unwrap();
    assert_eq!(
        server_crates(crates.path()),
        BTreeSet::from(["empresa".to_owned()])
    );
}

/// servers.json is what users paste into Claude Desktop or Cursor before filling in their own
/// values, so as shipped, placeholders included, every server must start, answer initialize and
/// tools/list, and keep running; a server that needs a real backend or folder to start would
/// greet a new user with a crash. HOME and XDG_DATA_HOME point into a temporary directory so no
/// real data directory is touched, and RAG_MODEL_DOWNLOAD=false keeps mcp-rag from fetching its
/// model from the network (the other servers ignore it).
#[test]
fn servers_json_as_shipped_starts_every_server() {
    let mut failures = Vec::new();
    for server in load_servers().unwrap() {
        let dir = TempDir::new().unwrap();
        let home = dir.path().to_string_lossy().into_owned();
        let mut env = server.env.clone();
        env.push(("HOME".into(), home.clone()));
        env.push(("XDG_DATA_HOME".into(), home));
        env.push(("RAG_MODEL_DOWNLOAD".into(), "false".into()));
        let args: Vec<&str> = server.args.iter().map(String::as_str).collect();
        let mut mcp = StdioServer::spawn(&binary_path(&server.command), &args, &pairs(&env))
            .unwrap_or_else(|error| panic!("{}: {error:#}", server.name));
        let answered = mcp.initialize().and_then(|_| {
            let answer = mcp.request("tools/list", json!({}))?;
            let count = answer["result"]["tools"].as_array().map_or(0, Vec::len);
            anyhow::ensure!(count > 0, "tools/list answered without tools: {answer}");
            Ok(count)
        });
        // Still running a moment after answering, so it did not answer and then die.
        let exited = mcp.wait_exit(Duration::from_millis(500));
        match (answered, exited) {
            (Ok(_), None) => {}
            (_, Some(status)) => failures.push(format!(
                "{} exited ({status}) when started with servers.json's env as shipped; stderr:\n{}",
                server.name,
                mcp.stderr()
            )),
            (Err(error), None) => failures.push(format!(
                "{} did not answer initialize and tools/list with servers.json's env as shipped: \
                 {error:#}",
                server.name
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
