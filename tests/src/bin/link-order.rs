//! Writes a server binary's symbol order (`link/<binary>.order`, read by `link/build.rs` at link
//! time): the functions the binary runs for a workload, so that the linker can place them side by
//! side.
//!
//! `link-order --server target/dist/mcp-empresa --workload link/mcp-empresa.jsonl --out
//! link/mcp-empresa.order` runs the server twice on the workload (JSON-RPC lines on its standard
//! input, then end of input) under `valgrind --tool=callgrind`: a first start, which creates its
//! data (empresa's database with the sample companies), and a later one on that data. It lists
//! every function of the binary that ran in either, by its mangled name, sorted so that the file
//! changes only when the set does. The server runs as the tests run it (`test_environment`):
//! servers.json's settings for the entry whose command is the binary's name, its stand-in backend
//! from `tests/standins.json` started first (from this program's own target directory) and the
//! settings pointing at it, a fresh data directory, the audit log written to a file there, and
//! `MCP_LOG_LEVEL=warn`, with nothing else of the caller's environment but `PATH`.
//!
//! `link-order --check --server BINARY --out FILE.order` says how many of the order's functions
//! the binary has (read with `nm`). Symbol names carry a hash of the crate's dependencies, so a
//! dependency update leaves an order partly stale: the build still links, the binary only keeps
//! fewer of its start-up functions together, and this count shows it.

// The summary on stdout is the product.
#![allow(clippy::print_stdout)]

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use mcp_conformance::servers::{load_servers, test_environment};

const USAGE: &str = "usage: link-order --server BINARY --workload FILE.jsonl --out FILE.order\n       link-order --check --server BINARY --out FILE.order";

fn main() -> Result<()> {
    let mut server = None;
    let mut workload = None;
    let mut out = None;
    let mut check = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{flag} needs a value; {USAGE}"))
        };
        match flag.as_str() {
            "--server" => server = Some(PathBuf::from(value()?)),
            "--workload" => workload = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--check" => check = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown option {other}; {USAGE}"),
        }
    }
    if check {
        let (Some(server), Some(out)) = (server, out) else {
            bail!("{USAGE}");
        };
        return check_order(&server, &out);
    }
    let (Some(server), Some(workload), Some(out)) = (server, workload, out) else {
        bail!("{USAGE}");
    };
    let server = server
        .canonicalize()
        .with_context(|| format!("the server binary {}", server.display()))?;
    let binary_name = server
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let entry = load_servers()?
        .into_iter()
        .find(|entry| entry.command == binary_name)
        .with_context(|| format!("servers.json has no server whose command is {binary_name}"))?;
    let dir = tempfile::tempdir()?;
    // The stand-in, if any, runs until `environment` is dropped at the end.
    let mut environment = test_environment(&entry, dir.path());
    environment.push(("MCP_LOG_LEVEL".to_owned(), "warn".to_owned()));
    let env_of_run = environment.vars.clone();

    let mut symbols = BTreeSet::new();
    for start in ["first", "later"] {
        let profile = dir.path().join(format!("callgrind.{start}.out"));
        let mut valgrind = Command::new("valgrind");
        valgrind
            .arg("--tool=callgrind")
            .arg("--demangle=no")
            .arg(format!("--callgrind-out-file={}", path_text(&profile)))
            .arg(&server);
        let answers = run(valgrind, &workload, &env_of_run).with_context(|| {
            format!("the {start} start under callgrind (is valgrind installed? Debian: apt install valgrind)")
        })?;
        let (asked, answered, errors) = tally(&std::fs::read_to_string(&workload)?, &answers);
        println!(
            "{start} start: {answered} of {asked} requests answered, {errors} of them with an error"
        );
        if answered < asked {
            bail!(
                "the server ended before answering every request of {}",
                workload.display()
            );
        }
        let text = std::fs::read_to_string(&profile)
            .with_context(|| format!("reading {}", profile.display()))?;
        symbols.extend(functions_run(&text, &server));
    }
    if symbols.is_empty() {
        bail!(
            "callgrind recorded no function of {}: is it the binary that ran?",
            server.display()
        );
    }
    let mut order = String::new();
    for symbol in &symbols {
        order.push_str(symbol);
        order.push('\n');
    }
    std::fs::write(&out, order).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{}: {} functions of {} ran for {}",
        out.display(),
        symbols.len(),
        server.display(),
        workload.display()
    );
    Ok(())
}

/// Prints how many of the functions `order` lists are symbols of `server`.
fn check_order(server: &Path, order: &Path) -> Result<()> {
    let listed =
        std::fs::read_to_string(order).with_context(|| format!("reading {}", order.display()))?;
    let output = Command::new("nm")
        .arg("--defined-only")
        .arg(server)
        .output()
        .context("running nm (binutils)")?;
    if !output.status.success() {
        bail!(
            "nm {}: {}",
            server.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let defined: BTreeSet<&str> = std::str::from_utf8(&output.stdout)
        .context("nm's output")?
        .lines()
        .filter_map(|line| line.rsplit(' ').next())
        .collect();
    let listed: Vec<&str> = listed.lines().filter(|line| !line.is_empty()).collect();
    let found = listed
        .iter()
        .filter(|symbol| defined.contains(*symbol))
        .count();
    println!(
        "link order: {found} of the {} functions in {} are in {}{}",
        listed.len(),
        order.display(),
        server.display(),
        if found * 10 < listed.len() * 9 {
            " (stale: `just link-order` writes it again)"
        } else {
            ""
        }
    );
    Ok(())
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Runs `command` and sends it the workload as a client would: one line at a time, each request
/// after the answer to the one before (notifications the server sends meanwhile are kept), then
/// end of input. Returns everything it wrote on standard output; fails when it does not exit
/// cleanly. Sent all at once, the calls would run side by side and, ten times slower under
/// callgrind, a slow one could still be running when rmcp stops waiting for in-flight calls after
/// end of input.
fn run(mut command: Command, workload: &Path, env: &[(String, String)]) -> Result<String> {
    let lines = std::fs::read_to_string(workload)
        .with_context(|| format!("reading {}", workload.display()))?;
    let mut child = command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting it")?;
    let (Some(mut input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
        bail!("its standard input and output were not piped");
    };
    // Standard error is read on a thread of its own, so a chatty server never blocks on it.
    let stderr = child.stderr.take();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut stderr) = stderr {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        }
        text
    });
    let mut output = std::io::BufReader::new(output);
    let mut answers = String::new();
    for line in lines.lines().filter(|line| !line.trim().is_empty()) {
        writeln!(input, "{line}").context("writing to the server")?;
        input.flush()?;
        let Some(id) = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|message| message.get("id").cloned())
        else {
            continue;
        };
        loop {
            let mut answer = String::new();
            if output.read_line(&mut answer)? == 0 {
                break; // It ended; the tally says what went unanswered.
            }
            answers.push_str(&answer);
            let message: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
            if message.get("method").is_none() && message.get("id") == Some(&id) {
                break;
            }
        }
    }
    drop(input);
    std::io::Read::read_to_string(&mut output, &mut answers)?;
    let status = child.wait()?;
    let errors = errors.join().unwrap_or_default();
    if !status.success() {
        bail!("it exited with {status}: {}", errors.trim());
    }
    Ok(answers)
}

/// How many requests (lines with an `id`) the workload holds, how many of them have an answer,
/// and how many answers are errors (JSON-RPC errors or tool results marked `isError`): a typo in a
/// workload would otherwise leave its calls out of the order unnoticed.
fn tally(workload: &str, answers: &str) -> (usize, usize, usize) {
    let ids = |text: &str| -> Vec<serde_json::Value> {
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            // A request the server makes of the client (it has a method) is not an answer.
            .filter(|message| message.get("method").is_none())
            .filter_map(|message| message.get("id").cloned())
            .collect()
    };
    let asked: Vec<serde_json::Value> = workload
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|message| message.get("id").cloned())
        .collect();
    let answered = ids(answers);
    let errors = answers
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message.get("error").is_some()
                || message["result"]["isError"] == serde_json::json!(true)
        })
        .count();
    let found = asked.iter().filter(|id| answered.contains(id)).count();
    (asked.len(), found, errors)
}

/// The symbols of the functions in `binary` that a callgrind profile (written with
/// `--demangle=no`) records, sorted and without duplicates.
///
/// Callgrind names each object (`ob=`) and function (`fn=`) in full the first time and by a
/// number in parentheses after that (`fn=(12)`); a `cfn=` or `cob=` line may be the first to name
/// one. A function called recursively appears again as `name'2`; addresses without a symbol
/// (`0x…`) and callgrind's own entries (`(below main)`) are not symbols the linker knows.
fn functions_run(profile: &str, binary: &Path) -> BTreeSet<String> {
    let binary = path_text(binary);
    let mut objects: HashMap<&str, &str> = HashMap::new();
    let mut functions: HashMap<&str, &str> = HashMap::new();
    let mut in_binary = false;
    let mut symbols = BTreeSet::new();
    for line in profile.lines() {
        let Some((key, rest)) = line.split_once('=') else {
            continue;
        };
        if !matches!(key, "ob" | "cob" | "fn" | "cfn") {
            continue;
        }
        // "(12) name" the first time, "(12)" after; older callgrinds write names without numbers.
        let (id, name) = match rest.strip_prefix('(').and_then(|r| r.split_once(')')) {
            Some((id, name)) => (Some(id), name.strip_prefix(' ')),
            None => (None, Some(rest)),
        };
        let names = if key.ends_with("ob") {
            &mut objects
        } else {
            &mut functions
        };
        let name = match (id, name) {
            (Some(id), Some(name)) => {
                names.insert(id, name);
                Some(name)
            }
            (Some(id), None) => names.get(id).copied(),
            (None, name) => name,
        };
        match key {
            "ob" => in_binary = name == Some(binary.as_str()),
            "fn" if in_binary => {
                if let Some(symbol) = name.map(without_recursion_mark).filter(|n| is_symbol(n)) {
                    symbols.insert(symbol.to_owned());
                }
            }
            _ => {}
        }
    }
    symbols
}

fn without_recursion_mark(name: &str) -> &str {
    match name.rsplit_once('\'') {
        Some((base, depth)) if depth.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => name,
    }
}

fn is_symbol(name: &str) -> bool {
    !name.is_empty() && !name.starts_with("0x") && !name.starts_with('(')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_binarys_functions_once_each_whatever_the_naming() {
        let profile = "\
version: 1
creator: callgrind-3.19.0
ob=(1) /usr/lib/x86_64-linux-gnu/libc.so.6
fn=(1) malloc
0 10
ob=(2) /srv/mcp-empresa
fn=(2) _ZN4main17h0123456789abcdefE
0 5
cob=(1)
cfn=(1)
calls=1 0
0 10
cfn=(3) _ZN5serde2de4read17hfedcba9876543210E
calls=1 0
0 3
fn=(3)
0 3
fn=(4) _ZN4walk17h1111111111111111E'2
0 1
fn=(5) 0x0000000000274be0
0 1
fn=(6) (below main)
0 1
ob=(1)
fn=(7) free
0 1
ob=(2)
fn=(2)
0 1
fn=(8) _ZN4walk17h1111111111111111E
0 1
";
        let symbols = functions_run(profile, Path::new("/srv/mcp-empresa"));
        assert_eq!(
            symbols.into_iter().collect::<Vec<_>>(),
            [
                "_ZN4main17h0123456789abcdefE",
                "_ZN4walk17h1111111111111111E",
                "_ZN5serde2de4read17hfedcba9876543210E",
            ]
        );
    }

    #[test]
    fn names_without_numbers_are_read_too() {
        let profile =
            "ob=/srv/mcp-odoo\nfn=_ZN1a17h0000000000000000E\nob=/lib/libc.so.6\nfn=malloc\n";
        let symbols = functions_run(profile, Path::new("/srv/mcp-odoo"));
        assert_eq!(
            symbols.into_iter().collect::<Vec<_>>(),
            ["_ZN1a17h0000000000000000E"]
        );
    }

    #[test]
    fn every_request_is_matched_with_its_answer() {
        let workload = r#"{"jsonrpc":"2.0","id":1,"method":"initialize"}
{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":2,"method":"tools/call"}
{"jsonrpc":"2.0","id":"three","method":"tools/call"}
"#;
        let answers = r#"{"jsonrpc":"2.0","id":1,"result":{}}
{"jsonrpc":"2.0","method":"notifications/progress","params":{}}
{"jsonrpc":"2.0","id":2,"result":{"content":[],"isError":true}}
"#;
        assert_eq!(tally(workload, answers), (3, 2, 1));
        let all = format!(
            "{answers}{}\n",
            r#"{"jsonrpc":"2.0","id":"three","error":{"code":-32602}}"#
        );
        assert_eq!(tally(workload, &all), (3, 3, 2));
    }

    #[test]
    fn a_recursion_mark_is_dropped_but_a_quote_in_a_name_is_kept() {
        assert_eq!(without_recursion_mark("_ZN1f17hE'12"), "_ZN1f17hE");
        assert_eq!(without_recursion_mark("odd'name"), "odd'name");
    }
}
