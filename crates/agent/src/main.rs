//! `mcp-agent`: ask a model a question with every server's tools (`ask`), or list the tools as
//! the model sees them (`tools`). See `mcp-agent --help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Arg, ArgAction, ArgMatches, Command};
use mcp_agent::audit::Audit;
use mcp_agent::chat::{Model, ModelClient};
use mcp_agent::config::ModelChoice;
use mcp_agent::local::LocalClient;
use mcp_agent::{Agent, AgentConfig, Consent, Finish, Manager, Mode, servers};
use mcp_common::Env;
use mcp_common::audit::AuditLog;
use mcp_common::http::HttpSettings;

fn command() -> Command {
    let servers = Arg::new("servers")
        .long("servers")
        .value_name("PATH")
        .default_value("servers.json")
        .help("the servers.json to start servers from (the file hosts load)");
    let only = Arg::new("only")
        .long("only")
        .value_name("NAMES")
        .help("start only these servers (comma-separated names from servers.json)");
    Command::new("mcp-agent")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Every MCP server's tools for any OpenAI-compatible model")
        .after_help(mcp_agent::config::ENV_HELP)
        .subcommand_required(true)
        .arg(servers.global(true))
        .arg(only.global(true))
        .subcommand(
            Command::new("ask")
                .about("Answer one question, using the servers' tools; prints the answer")
                .arg(Arg::new("question").required(true).help("the question"))
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(ArgAction::SetTrue)
                        .help("print the whole outcome (answer, tool calls, transcript) as JSON"),
                )
                .arg(
                    Arg::new("yes")
                        .long("yes")
                        .action(ArgAction::SetTrue)
                        .help("approve every tool that changes data without asking"),
                ),
        )
        .subcommand(
            Command::new("chat")
                .about("A conversation on the terminal: one question per line, answers streamed as they are written, /exit to leave")
                .arg(
                    Arg::new("yes")
                        .long("yes")
                        .action(ArgAction::SetTrue)
                        .help("approve every tool that changes data without asking"),
                ),
        )
        .subcommand(
            Command::new("serve")
                .about("The gateway for a web front end: POST /chat and GET /health over HTTP, behind MCP_AUTH_TOKEN(S) and the MCP_ALLOWED_HOSTS/ORIGINS checks")
                .arg(
                    Arg::new("listen")
                        .long("listen")
                        .value_name("ADDR")
                        .default_value("127.0.0.1:8090")
                        .help("where to listen, as IP:PORT; beyond loopback a token of at least 16 characters is required"),
                ),
        )
        .subcommand(
            Command::new("tools")
                .about(
                    "List the tools as the model sees them, and which schemas could not be strict",
                )
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(ArgAction::SetTrue)
                        .help("print the OpenAI tool definitions as JSON"),
                ),
        )
}

#[tokio::main]
async fn main() -> ExitCode {
    let matches = command().get_matches();
    match run(matches).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("mcp-agent: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(matches: ArgMatches) -> anyhow::Result<ExitCode> {
    let env = Env::load()?;
    mcp_common::telemetry::init(
        mcp_common::config::LogFormat::Human,
        env.get("RUST_LOG").unwrap_or("warn"),
    );
    let path = matches
        .get_one::<String>("servers")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("servers.json"));
    let mut specs = servers::load(&path)?;
    if let Some(only) = matches.get_one::<String>("only") {
        let wanted: Vec<&str> = only.split(',').map(str::trim).collect();
        for name in &wanted {
            if !specs.iter().any(|s| s.name == *name) {
                anyhow::bail!(
                    "--only: there is no server named `{name}` in {}",
                    path.display()
                );
            }
        }
        specs.retain(|s| wanted.contains(&s.name.as_str()));
    }
    let manager_config = mcp_agent::config::manager_config(&env)?;
    match matches.subcommand() {
        Some(("ask", ask)) => {
            let consent = if ask.get_flag("yes") {
                Consent::approve_all()
            } else {
                Consent::terminal()
            };
            let (agent, manager) = build_agent(&env, specs, manager_config, consent).await?;
            let question = ask
                .get_one::<String>("question")
                .cloned()
                .unwrap_or_default();
            let outcome = agent.ask(&question).await;
            manager.shutdown().await;
            let outcome = outcome?;
            if ask.get_flag("json") {
                print_line(&serde_json::to_string_pretty(&outcome)?);
            } else {
                print_line(&outcome.answer);
            }
            Ok(if outcome.finish == Finish::Answered {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Some(("chat", chat)) => {
            let consent = if chat.get_flag("yes") {
                Consent::approve_all()
            } else {
                Consent::terminal()
            };
            let (agent, manager) = build_agent(&env, specs, manager_config, consent).await?;
            let (_, unavailable) = agent.tools().await;
            for reason in &unavailable {
                eprintln!("mcp-agent: {reason}");
            }
            let mut earlier = Vec::new();
            while let Some(line) = read_line("> ").await {
                let question = line.trim();
                if question.is_empty() {
                    continue;
                }
                if question == "/exit" || question == "/quit" {
                    break;
                }
                let streamed = std::sync::atomic::AtomicBool::new(false);
                let on_text = |text: &str| {
                    streamed.store(true, std::sync::atomic::Ordering::Relaxed);
                    print_piece(text);
                };
                let answered = agent.ask_streaming(&earlier, question, &on_text).await;
                let streamed = streamed.load(std::sync::atomic::Ordering::Relaxed);
                if streamed {
                    print_line("");
                }
                match answered {
                    Ok(outcome) => {
                        // The JSON protocol's answers, and a loop stopped early, were not streamed.
                        if !streamed || outcome.finish != Finish::Answered {
                            print_line(&outcome.answer);
                        }
                        if outcome.finish == Finish::Answered {
                            earlier.extend(outcome.exchange(question));
                        }
                    }
                    Err(error) => eprintln!("mcp-agent: {error}"),
                }
            }
            manager.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        Some(("serve", serve)) => {
            let listen_text = serve
                .get_one::<String>("listen")
                .cloned()
                .unwrap_or_default();
            let listen: SocketAddr = listen_text.parse().map_err(|_| {
                anyhow::anyhow!("--listen: expected an IP:PORT address such as 127.0.0.1:8090, found {listen_text:?}")
            })?;
            let common = mcp_common::config::CommonConfig::from_env(&env)?;
            if !mcp_common::config::is_loopback(&listen) {
                if common.tokens.is_empty() {
                    anyhow::bail!(
                        "refusing to listen on {listen} without authentication: set MCP_AUTH_TOKEN (or MCP_AUTH_TOKENS) so that clients must send a bearer token, or listen on 127.0.0.1"
                    );
                }
                if let Some(short) = common
                    .tokens
                    .iter()
                    .find(|t| t.token.expose().chars().count() < 16)
                {
                    anyhow::bail!(
                        "refusing to listen on {listen}: the token of {:?} in {} is shorter than 16 characters",
                        short.name,
                        short.variable
                    );
                }
            }
            let settings = HttpSettings {
                listen,
                stateless: true,
                tokens: common.tokens.clone(),
                allowed_hosts: if common.allowed_hosts.is_empty() {
                    mcp_common::http::default_allowed_hosts(&listen)
                } else {
                    common.allowed_hosts.clone()
                },
                allowed_origins: common.allowed_origins.clone(),
                max_body_bytes: common.max_request_bytes,
                session_idle: common.session_idle,
            };
            // Nobody is at a terminal: consent questions become pending approvals in the answer.
            let (agent, manager) =
                build_agent(&env, specs, manager_config, mcp_agent::gateway::consent()).await?;
            let app = mcp_agent::gateway::app(Arc::new(agent), manager.clone(), &settings);
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("could not listen on {listen}"))?;
            eprintln!(
                "mcp-agent: listening on http://{} (POST /chat, GET /health)",
                listener.local_addr()?
            );
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("serving HTTP")?;
            manager.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        Some(("tools", tools)) => {
            let manager = Manager::start(specs, manager_config, Consent::decline_all()).await;
            let (lists, failures) = manager.all_tools().await;
            manager.shutdown().await;
            let translated = mcp_agent::translate::translate_all(&lists);
            if tools.get_flag("json") {
                let definitions: Vec<serde_json::Value> =
                    translated.iter().map(|t| t.to_openai()).collect();
                print_line(&serde_json::to_string_pretty(&definitions)?);
            } else {
                for tool in &translated {
                    let mut line = format!(
                        "{:<64} {}{}",
                        tool.name,
                        if tool.strict { "strict" } else { "non-strict" },
                        if tool.needs_consent {
                            ", asks first"
                        } else {
                            ""
                        }
                    );
                    if !tool.strict {
                        line.push_str(&format!(" ({})", tool.not_strict_because.join("; ")));
                    }
                    print_line(&line);
                }
            }
            for failure in &failures {
                eprintln!("mcp-agent: {failure}");
            }
            Ok(if failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        _ => anyhow::bail!("a subcommand is required; see mcp-agent --help"),
    }
}

/// The agent and its manager, from the `AGENT_*` settings.
async fn build_agent(
    env: &Env,
    specs: Vec<servers::ServerSpec>,
    manager_config: mcp_agent::ManagerConfig,
    consent: Consent,
) -> anyhow::Result<(Agent, Arc<Manager>)> {
    let settings = mcp_agent::config::loop_settings(env)?;
    let model: Model = match mcp_agent::config::model_choice(env)? {
        ModelChoice::Endpoint(config) => ModelClient::new(config)?.into(),
        ModelChoice::Local(path) => {
            if settings.mode == Mode::Native {
                anyhow::bail!(
                    "AGENT_MODE=native needs an endpoint with function tools (AGENT_BASE_URL); the local model {} answers in the JSON protocol: use AGENT_MODE=react or auto",
                    path.display()
                );
            }
            tracing::info!(model = %path.display(), "no AGENT_BASE_URL: the local model, in this process");
            tokio::task::spawn_blocking(move || LocalClient::load(&path))
                .await
                .context("loading the local model")??
                .into()
        }
    };
    let audit_destination = mcp_agent::config::audit_destination(env);
    let audit = Audit::new(AuditLog::open(&audit_destination).with_context(|| {
        format!("opening the audit log AGENT_AUDIT_LOG ({audit_destination:?})")
    })?);
    let manager = Arc::new(Manager::start(specs, manager_config, consent.clone()).await);
    let agent = Agent::new(
        manager.clone(),
        model,
        AgentConfig {
            mode: settings.mode,
            max_steps: settings.max_steps,
            system_prompt: settings.system_prompt,
            retrieval: settings.retrieval,
        },
        consent,
        audit,
    );
    Ok((agent, manager))
}

/// One line from stdin after `prompt` on stderr; `None` at the end of input. Read on a blocking
/// thread with std's stdin, the same the terminal consent question reads, so neither steals the
/// other's input.
async fn read_line(prompt: &'static str) -> Option<String> {
    tokio::task::spawn_blocking(move || {
        use std::io::{BufRead, Write};
        let mut stderr = std::io::stderr();
        let _ = write!(stderr, "{prompt}");
        let _ = stderr.flush();
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line),
        }
    })
    .await
    .ok()
    .flatten()
}

/// SIGINT or SIGTERM, so the servers are stopped and the audit flushed either way.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

/// Writes a piece of streamed text and shows it at once.
#[allow(
    clippy::print_stdout,
    reason = "stdout is the CLI's output; nothing else writes there"
)]
fn print_piece(text: &str) {
    use std::io::Write;
    print!("{text}");
    let _ = std::io::stdout().flush();
}

/// Writes one line of the command's output.
#[allow(
    clippy::print_stdout,
    reason = "stdout is the CLI's output; nothing else writes there"
)]
fn print_line(text: &str) {
    println!("{text}");
}
