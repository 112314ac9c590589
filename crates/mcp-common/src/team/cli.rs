//! `mcp-<server> credentials …`: the operator's commands for callers' credentials in team mode.
//! Values are read from standard input, one line per field, and never printed.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Arg, ArgMatches, Command};

use super::{Keyring, Team, TeamConfig};
use crate::secret::Secret;
use crate::serve::ServerIdentity;

/// The `credentials` subcommand.
pub fn command() -> Command {
    Command::new("credentials")
        .about("Set, list, delete and re-seal callers' own backend credentials (team mode, MCP_DATABASE_URL)")
        .subcommand_required(true)
        .subcommand(
            Command::new("set")
                .about("Set a caller's credentials for this server; values are read from standard input, one line per field, in the order named")
                .arg(Arg::new("principal").required(true).help(
                    "The caller: a token holder's name (MCP_AUTH_TOKENS), oauth:<subject>, or `local`",
                ))
                .arg(Arg::new("field").num_args(0..).help(
                    "The fields to set [default: every field this server takes]",
                )),
        )
        .subcommand(
            Command::new("list")
                .about("List who has credentials for this server (never the values)")
                .arg(Arg::new("principal").help("Only this caller")),
        )
        .subcommand(
            Command::new("delete")
                .about("Delete a caller's credentials for this server")
                .arg(Arg::new("principal").required(true).help("The caller"))
                .arg(Arg::new("field").num_args(0..).help("Only these fields [default: all]")),
        )
        .subcommand(Command::new("rotate").about(
            "Re-seal every stored value with MCP_CREDENTIALS_KEY; run after moving the old key to MCP_CREDENTIALS_OLD_KEYS",
        ))
        .subcommand(Command::new("new-key").about(
            "Print a new random key for MCP_CREDENTIALS_KEY",
        ))
}

/// Runs `work` on a small runtime of its own and turns its error into exit code 1.
pub fn blocking<F>(binary: &str, work: F) -> ExitCode
where
    F: Future<Output = Result<ExitCode, super::DbError>>,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{binary}: could not start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(work) {
        Ok(code) => code,
        Err(error) => {
            eprintln!(
                "{binary}: team mode: {}",
                crate::secret::scrub(&error.to_string())
            );
            ExitCode::from(1)
        }
    }
}

/// Runs `credentials …`.
pub fn run(
    binary: &str,
    identity: ServerIdentity,
    config: &Option<TeamConfig>,
    keyring: Option<Arc<Keyring>>,
    matches: &ArgMatches,
) -> ExitCode {
    if let Some(("new-key", _)) = matches.subcommand() {
        return match super::keyring::generate_key() {
            Ok(key) => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{key}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{binary} credentials: {error}");
                ExitCode::from(1)
            }
        };
    }
    let Some(config) = config else {
        eprintln!(
            "{binary} credentials: callers' own credentials exist only in team mode: set MCP_DATABASE_URL (and MCP_CREDENTIALS_KEY)"
        );
        return ExitCode::from(2);
    };
    if identity.credentials.is_empty() {
        eprintln!(
            "{binary} credentials: {binary} takes no credentials of its callers (its backend is its own)"
        );
        return ExitCode::from(2);
    }
    blocking(binary, async {
        let team = Team::open(config, keyring, identity.name).await?;
        let result = match matches.subcommand() {
            Some(("set", set)) => set_from_stdin(&team, identity, set).await,
            Some(("list", list)) => list_fields(&team, list).await,
            Some(("delete", delete)) => {
                let principal = argument(delete, "principal");
                let fields = arguments(delete, "field");
                team.credentials
                    .delete(&principal, identity.name, &fields)
                    .await
                    .map_err(|e| e.to_string())
                    .map(|n| {
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(
                            out,
                            "deleted {n} field(s) of {principal} for {}",
                            identity.name
                        );
                    })
            }
            Some(("rotate", _)) => team
                .credentials
                .rotate()
                .await
                .map_err(|e| e.to_string())
                .map(|n| {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "re-sealed {n} value(s) with the current key");
                }),
            _ => Err("expected one of: set, list, delete, rotate, new-key".into()),
        };
        Ok(match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("{binary} credentials: {}", crate::secret::scrub(&error));
                ExitCode::from(1)
            }
        })
    })
}

fn argument(matches: &ArgMatches, name: &str) -> String {
    matches.get_one::<String>(name).cloned().unwrap_or_default()
}

fn arguments(matches: &ArgMatches, name: &str) -> Vec<String> {
    matches
        .get_many::<String>(name)
        .map(|values| values.cloned().collect())
        .unwrap_or_default()
}

async fn set_from_stdin(
    team: &Team,
    identity: ServerIdentity,
    matches: &ArgMatches,
) -> Result<(), String> {
    let principal = argument(matches, "principal");
    let mut fields = arguments(matches, "field");
    let known: Vec<&str> = identity.credentials.iter().map(|f| f.name).collect();
    if fields.is_empty() {
        fields = known.iter().map(|f| (*f).to_owned()).collect();
    }
    if let Some(unknown) = fields.iter().find(|f| !known.contains(&f.as_str())) {
        return Err(format!(
            "mcp-{} takes no credential `{unknown}`; it takes {}",
            identity.name,
            known.join(", ")
        ));
    }
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut lines = stdin.lock().lines();
    let mut values = BTreeMap::new();
    for field in &fields {
        let line = if interactive {
            // At a terminal the value is typed with echo off, so it never shows on screen.
            rpassword::prompt_password(format!("{field} for {principal}: "))
                .map_err(|e| format!("could not read the terminal: {e}"))?
        } else {
            lines
                .next()
                .transpose()
                .map_err(|e| format!("could not read standard input: {e}"))?
                .ok_or_else(|| format!("standard input ended before the value of `{field}`"))?
        };
        let value = line.trim();
        if value.is_empty() {
            return Err(format!("the value of `{field}` is empty"));
        }
        values.insert(field.clone(), Secret::new(value));
    }
    team.credentials
        .set(&principal, identity.name, &values)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "set {} for {principal} on {} (sealed with key {})",
        fields.join(", "),
        identity.name,
        team.credentials.key_id().unwrap_or("?")
    );
    Ok(())
}

async fn list_fields(team: &Team, matches: &ArgMatches) -> Result<(), String> {
    let only = matches.get_one::<String>("principal");
    let fields = team
        .credentials
        .list(Some(&team.server))
        .await
        .map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let mut shown = 0;
    for field in fields
        .iter()
        .filter(|f| only.is_none_or(|p| *p == f.principal))
    {
        shown += 1;
        let _ = writeln!(
            out,
            "{}  {}  {}  key={}  updated={}",
            field.principal,
            field.server,
            field.field,
            field.key_id,
            humantime::format_rfc3339_seconds(field.updated)
        );
    }
    if shown == 0 {
        let _ = writeln!(out, "no credentials stored for {}", team.server);
    }
    Ok(())
}
