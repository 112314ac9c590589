//! Writes a server binary's symbol order (`link/<binary>.order`, read by `link/build.rs` at link
//! time): the functions the binary runs for a workload, so that the linker can place them side by
//! side.
//!
//! `link-order --server target/dist/mcp-empresa --workload link/mcp-empresa.jsonl --out
//! link/mcp-empresa.order [--env KEY=VALUE]…` runs the server twice on the workload (JSON-RPC
//! lines on its standard input, then end of input) under `valgrind --tool=callgrind`: a first
//! start, which creates its data (empresa's database with the sample companies), and a later one
//! on that data. It lists every function of the binary that ran in either, by its mangled name,
//! sorted so that the file changes only when the set does. Both runs share a fresh data directory
//! (`XDG_DATA_HOME`), an audit log in it and `MCP_LOG_LEVEL=warn`, plus the `--env` pairs.
//!
//! `link-order --check --server BINARY --out FILE.order` says how many of the order's functions
//! the binary has (read with `nm`). Symbol names carry a hash of the crate's dependencies, so a
//! dependency update leaves an order partly stale: the build still links, the binary only keeps
//! fewer of its start-up functions together, and this count shows it.

// The summary on stdout is the product.
#![allow(clippy::print_stdout)]

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: link-order --server BINARY --workload FILE.jsonl --out FILE.order [--env KEY=VALUE]...\n       link-order --check --server BINARY --out FILE.order";

fn main() -> Result<()> {
    let mut server = None;
    let mut workload = None;
    let mut out = None;
    let mut env = Vec::new();
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
            "--env" => {
                let pair = value()?;
                let Some((key, value)) = pair.split_once('=') else {
                    bail!("--env expects KEY=VALUE, got {pair:?}");
                };
                env.push((key.to_owned(), value.to_owned()));
            }
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
    let dir = tempfile::tempdir()?;
    let mut env_of_run = vec![
        (
            "XDG_DATA_HOME".to_owned(),
            path_text(&dir.path().join("data")),
        ),
        (
            "MCP_AUDIT_LOG".to_owned(),
            path_text(&dir.path().join("audit.jsonl")),
        ),
        ("MCP_LOG_LEVEL".to_owned(), "warn".to_owned()),
    ];
    env_of_run.extend(env);

    let mut symbols = BTreeSet::new();
    for start in ["first", "later"] {
        let profile = dir.path().join(format!("callgrind.{start}.out"));
        let mut valgrind = Command::new("valgrind");
        valgrind
            .arg("--tool=callgrind")
            .arg("--demangle=no")
            .arg(format!("--callgrind-out-file={}", path_text(&profile)))
            .arg(&server);
        run(valgrind, &workload, &env_of_run).with_context(|| {
            format!("the {start} start under callgrind (is valgrind installed? Debian: apt install valgrind)")
        })?;
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

/// Runs `command` with the workload on standard input and its answers discarded; fails when it
/// does not exit cleanly.
fn run(mut command: Command, workload: &Path, env: &[(String, String)]) -> Result<()> {
    let input = File::open(workload).with_context(|| format!("opening {}", workload.display()))?;
    let output = command
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(input)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("starting it")?;
    if !output.status.success() {
        bail!(
            "it exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
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
    fn a_recursion_mark_is_dropped_but_a_quote_in_a_name_is_kept() {
        assert_eq!(without_recursion_mark("_ZN1f17hE'12"), "_ZN1f17hE");
        assert_eq!(without_recursion_mark("odd'name"), "odd'name");
    }
}
