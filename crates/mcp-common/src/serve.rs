//! The entry point every server's `main` calls: command line, `.env` and environment, logging,
//! the governed handler, and the chosen transport until stdin closes or a signal arrives.

use std::fmt::Display;
use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command};
use tokio_util::sync::CancellationToken;

use crate::audit::AuditLog;
use crate::config::{CommonConfig, ConfigError, Env, MIN_EXPOSED_TOKEN_CHARS, is_loopback};
use crate::gate::ToolPolicy;
use crate::governed::{Domain, GovernConfig, Governed};
use crate::grants::{GrantStore, Grants, NewGrant};
use crate::health::Readiness;
use crate::http::{HttpSettings, default_allowed_hosts};
use crate::metrics::Metrics;
use crate::oauth::OAuthConfig;
use crate::team::consents::DbGrants;
use crate::team::{Team, TeamConfig};

/// What a server says about itself on the command line and in MCP `serverInfo`.
#[derive(Debug, Clone, Copy)]
pub struct ServerIdentity {
    /// Short name, e.g. "empresa"; the binary is `mcp-<name>`.
    pub name: &'static str,
    /// Version, usually `env!("CARGO_PKG_VERSION")`.
    pub version: &'static str,
    /// One line on what the server does.
    pub about: &'static str,
    /// The server's own environment variables, one per line, shown by `--help`.
    pub env_help: &'static str,
    /// The backend credentials a caller may bring in team mode (e.g. an OpenAI `api_key`):
    /// each caller's calls then go out with its own, set with `set_my_credentials` or
    /// `mcp-<server> credentials set`. Empty for servers whose backend is their own.
    pub credentials: &'static [crate::team::CredentialField],
}

/// How clients reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Newline-delimited JSON-RPC on stdin/stdout; the host launches the server.
    Stdio,
    /// Streamable HTTP at `/mcp`.
    Http,
}

/// Everything decided before the domain is built.
#[derive(Debug, Clone)]
pub(crate) struct Startup {
    /// The transport.
    pub transport: TransportKind,
    /// The listen address for HTTP (a host name given is resolved).
    pub listen: SocketAddr,
    /// The host name the listen address was given as, when it was a name rather than an IP
    /// address (lowercase).
    pub listen_host: Option<String>,
    /// Stateless HTTP.
    pub stateless: bool,
    /// Shared settings.
    pub common: CommonConfig,
    /// The OAuth resource server settings (`MCP_OAUTH_*`), when an issuer is set.
    pub oauth: Option<OAuthConfig>,
}

const COMMON_ENV_HELP: &str = "\
Shared settings (environment or .env; MCP_ENV_FILE names another file):
  MCP_TRANSPORT             stdio or http (same as --transport)
  MCP_LISTEN                HTTP listen address as host:port, e.g. localhost:8080 (same as --listen;
                            default 127.0.0.1:8080)
  MCP_HTTP_STATELESS        true to serve HTTP without sessions (same as --stateless)
  MCP_AUTH_TOKEN            bearer token required over HTTP (mandatory off loopback, and there at
                            least 16 characters, as are MCP_AUTH_TOKENS tokens)
  MCP_AUTH_TOKENS           more tokens as name:token,name:token (names go to the audit log)
  MCP_ALLOWED_HOSTS         Host header values accepted over HTTP (default: loopback names)
  MCP_ALLOWED_ORIGINS       Origin values accepted over HTTP (default: origins on allowed hosts)
  MCP_MAX_REQUEST_BYTES     largest HTTP body or stdio line (default 4194304)
  MCP_SESSION_IDLE_SECS     idle HTTP sessions are closed after this (default 1800)
  TOKIO_WORKER_THREADS      threads serving HTTP, each with the connections handed to it (default:
                            one per core)
  MCP_READ_ONLY             true to withhold every tool that changes data
  MCP_TOOLS_ALLOW           only offer tools matching these globs (comma-separated)
  MCP_TOOLS_DENY            withhold tools matching these globs
  MCP_CONFIRM               which tools ask for the user's consent: external (default: destructive
                            tools and writes beyond the server's own additive store), destructive,
                            all, or none (trusted automation)
  MCP_CONFIRM_TOOLS         tools that always ask, whatever their kind (globs)
  MCP_NO_CONFIRM_TOOLS      tools that never ask (globs)
  MCP_REQUIRE_CONFIRMATION  false is the same as MCP_CONFIRM=none
  MCP_CONFIRM_ALWAYS        true to let `confirm: \"always\"` record a standing grant
  MCP_GRANTS_FILE           standing grants (default: grants.json in the server's data directory;
                            see `grants --help`)
  MCP_CONSENT_TIMEOUT_SECS  how long to wait for the user's approval (default 120)
  MCP_TOOL_TIMEOUT_SECS     deadline of one tool call, backend retries included (default 50)
  MCP_MAX_CONCURRENT_CALLS  tool calls run at once; more are refused at once, not queued (default 256)
  MCP_RATE_LIMIT_PER_MINUTE tool calls one caller (token holder, else address, else the stdio client)
                            may start per minute (default: no limit)
  MCP_AUDIT_LOG             stderr (default), off, or a file path for JSON-lines audit records
  MCP_LOG_FORMAT            human (default) or json
  MCP_LOG_LEVEL             log filter such as info or debug (RUST_LOG also works)
  MCP_READY_CACHE_SECS      how long /readyz reuses a passing probe (default 300); with tokens set,
                            /readyz shows probe details only to a caller sending a valid one

OAuth 2.1 resource server (bearer tokens from an authorization server, beside static tokens):
  MCP_OAUTH_ISSUER          the authorization server's issuer URL (turns OAuth on)
  MCP_OAUTH_RESOURCE        this server's resource URI, the audience tokens must name
                            (default on loopback: http://<listen address>/mcp)
  MCP_OAUTH_JWKS_URL        the issuer's key set (default: from its metadata)
  MCP_OAUTH_JWKS_MIN_REFETCH_SECS  least time between key-set fetches for unknown keys (default 30)
  MCP_OAUTH_INTROSPECTION_URL, MCP_OAUTH_CLIENT_ID, MCP_OAUTH_CLIENT_SECRET
                            check every token by RFC 7662 introspection instead
  MCP_OAUTH_SCOPE_READ, MCP_OAUTH_SCOPE_WRITE, MCP_OAUTH_SCOPE_DESTRUCTIVE
                            the scope each tool kind needs (default mcp:read, mcp:write,
                            mcp:destructive)

Team mode (several users; see `credentials --help`):
  MCP_DATABASE_URL          postgres://user:password@host:port/db: consents, callers' own
                            credentials and the audit trail in PostgreSQL
  MCP_CREDENTIALS_KEY       32 random bytes in base64 sealing callers' credentials
                            (`credentials new-key` makes one)
  MCP_CREDENTIALS_OLD_KEYS  earlier keys still accepted until `credentials rotate`
  MCP_SHARED_CREDENTIALS    true to let callers without their own use the server's credentials
  MCP_DATABASE_POOL         connections per process (default 8)
  MCP_AUDIT_SPOOL_MAX       audit records kept on disk while the database is down (default 100000)";

fn command(identity: &ServerIdentity) -> Command {
    let binary = format!("mcp-{}", identity.name);
    Command::new(binary.clone())
        .bin_name(binary)
        .version(identity.version)
        .about(identity.about)
        .arg(
            Arg::new("transport")
                .long("transport")
                .value_name("stdio|http")
                .value_parser(["stdio", "http"])
                .help("How clients connect: stdio (launched by the host) or http (streamable HTTP at /mcp) [default: stdio]"),
        )
        .arg(
            Arg::new("listen")
                .long("listen")
                .value_name("ADDR")
                .value_parser(parse_listen)
                .help("Address to listen on with --transport http, as host:port; a host name such as localhost is resolved [default: 127.0.0.1:8080]"),
        )
        .arg(
            Arg::new("stateless")
                .long("stateless")
                .action(ArgAction::SetTrue)
                .help("Serve HTTP without sessions, for several replicas behind a load balancer"),
        )
        .after_help(format!("{}\n\n{COMMON_ENV_HELP}", identity.env_help.trim_end()))
        .subcommand(grants_command())
        .subcommand(crate::team::cli::command())
}

/// A listen address as given on the command line or in `MCP_LISTEN`, resolved.
#[derive(Debug, Clone)]
struct ListenAddr {
    addr: SocketAddr,
    /// The host name, when one was given instead of an IP address.
    host: Option<String>,
}

/// What `--listen` and `MCP_LISTEN` expect.
const LISTEN_EXPECTED: &str = "host:port, such as 127.0.0.1:8080, [::1]:8080 or localhost:8080";

/// Parses `host:port` for `--listen`, resolving a host name to the address to bind.
fn parse_listen(value: &str) -> Result<ListenAddr, String> {
    resolve_listen(value).map_err(|reason| format!("{reason}; expected {LISTEN_EXPECTED}"))
}

/// [`parse_listen`], failing with the reason alone.
fn resolve_listen(value: &str) -> Result<ListenAddr, String> {
    let value = value.trim();
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(ListenAddr { addr, host: None });
    }
    let Some((host, port)) = value
        .rsplit_once(':')
        .filter(|(host, _)| !host.is_empty() && !host.contains(':'))
    else {
        return Err("a host and a port are needed".into());
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("the port must be a number from 0 to 65535 (found {port:?})"))?;
    let host = host.to_ascii_lowercase();
    // localhost is loopback by definition (RFC 6761): no resolver gets a say, so it can never
    // turn into an exposed address, and IPv4 matches the default listen address.
    if host == "localhost" || host.ends_with(".localhost") {
        return Ok(ListenAddr {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            host: Some(host),
        });
    }
    let resolved = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|error| format!("could not resolve the host name {host:?}: {error}"))?
        .next()
        .ok_or_else(|| format!("the host name {host:?} resolves to no address"))?;
    Ok(ListenAddr {
        addr: resolved,
        host: Some(host),
    })
}

/// The Host values accepted when `MCP_ALLOWED_HOSTS` is not set: loopback names and the listen
/// address, plus the host name the operator listened on when it is not a loopback one.
fn default_hosts(listen: &SocketAddr, host: Option<&str>) -> Vec<String> {
    let mut hosts = default_allowed_hosts(listen);
    if let Some(host) = host
        && !is_loopback(listen)
        && !hosts.iter().any(|known| known == host)
    {
        hosts.push(host.to_owned());
    }
    hosts
}

fn grants_command() -> Command {
    Command::new("grants")
        .about("List, add and revoke standing consents (grants) for this server's tools")
        .subcommand_required(true)
        .subcommand(Command::new("list").about("List the grants in force"))
        .subcommand(
            Command::new("add")
                .about("Grant standing consent for a tool, so calls it covers no longer ask")
                .arg(Arg::new("tool").required(true).help("Tool name or glob, e.g. send_sms"))
                .arg(Arg::new("caller").long("caller").value_name("NAME").help(
                    "Only for this caller: an HTTP token holder's name (MCP_AUTH_TOKENS), or `local` for stdio and loopback without tokens [default: any]",
                ))
                .arg(Arg::new("client").long("client").value_name("NAME").help(
                    "Only for this client software (its clientInfo name, e.g. claude-ai) [default: any]",
                ))
                .arg(
                    Arg::new("arg")
                        .long("arg")
                        .value_name("NAME=GLOB")
                        .action(ArgAction::Append)
                        .help("Only when argument NAME matches GLOB, e.g. --arg to=+34600*; repeatable"),
                )
                .arg(Arg::new("for").long("for").value_name("DURATION").help(
                    "How long it lasts, e.g. 30m, 8h, 7days [default: until revoked]",
                )),
        )
        .subcommand(
            Command::new("revoke")
                .about("Revoke grants by id")
                .arg(Arg::new("id").num_args(0..).help("Grant ids, as `grants list` shows them"))
                .arg(
                    Arg::new("all")
                        .long("all")
                        .action(ArgAction::SetTrue)
                        .help("Revoke every grant"),
                ),
        )
}

/// The grants of `server`: `MCP_GRANTS_FILE`, else `grants.json` in its data directory, else
/// (no HOME at all) memory only.
fn grant_store(server: &str, env: &Env, common: &CommonConfig) -> GrantStore {
    match common.grants_file.clone().or_else(|| {
        env.data_dir()
            .map(|dir| dir.join(format!("mcp-{server}")).join("grants.json"))
    }) {
        Some(path) => GrantStore::at(path),
        None => GrantStore::in_memory(),
    }
}

/// Runs `grants list|add|revoke`; returns the exit code.
async fn run_grants(binary: &str, store: &Grants, matches: &ArgMatches) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let where_ = match store.location().as_str() {
        "memory" => "memory (no HOME, XDG_DATA_HOME or MCP_GRANTS_FILE)".to_owned(),
        other => other.to_owned(),
    };
    let result: Result<(), String> = match matches.subcommand() {
        Some(("list", _)) => store.list().await.map(|grants| {
            if grants.is_empty() {
                let _ = writeln!(out, "no grants in {where_}");
            }
            for grant in grants {
                let arguments: Vec<String> = grant
                    .arguments
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let _ = writeln!(
                    out,
                    "{}  tool={}  caller={}  client={}{}  expires={}  source={}  created={}",
                    grant.id,
                    grant.tool,
                    grant.caller.as_deref().unwrap_or("any"),
                    grant.client.as_deref().unwrap_or("any"),
                    if arguments.is_empty() {
                        String::new()
                    } else {
                        format!("  arguments={}", arguments.join(","))
                    },
                    grant.expires.as_deref().unwrap_or("never"),
                    grant.source,
                    grant.created,
                );
            }
        }),
        Some(("add", add)) => match new_grant(add) {
            Err(error) => Err(error),
            Ok(new) => store.add(new).await.map(|grant| {
                let _ = writeln!(
                    out,
                    "added {} for `{}` (expires {}) in {where_}",
                    grant.id,
                    grant.tool,
                    grant.expires.as_deref().unwrap_or("never")
                );
            }),
        },
        Some(("revoke", revoke)) => {
            let ids: Vec<String> = revoke
                .get_many::<String>("id")
                .map(|ids| ids.cloned().collect())
                .unwrap_or_default();
            let all = revoke.get_flag("all");
            if ids.is_empty() && !all {
                Err("name the grants to revoke (see `grants list`), or pass --all".into())
            } else {
                store.revoke(&ids, all).await.and_then(|removed| {
                    let missing: Vec<&String> = ids
                        .iter()
                        .filter(|id| !removed.iter().any(|g| &&g.id == id))
                        .collect();
                    for grant in &removed {
                        let _ = writeln!(out, "revoked {} (`{}`)", grant.id, grant.tool);
                    }
                    if missing.is_empty() {
                        Ok(())
                    } else {
                        Err(format!("no grant with id {missing:?} in {where_}"))
                    }
                })
            }
        }
        _ => Err("expected one of: list, add, revoke".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{binary} grants: {error}");
            ExitCode::from(1)
        }
    }
}

fn new_grant(matches: &ArgMatches) -> Result<NewGrant, String> {
    let mut arguments = std::collections::BTreeMap::new();
    for pair in matches.get_many::<String>("arg").into_iter().flatten() {
        let (name, glob) = pair
            .split_once('=')
            .filter(|(n, _)| !n.is_empty())
            .ok_or_else(|| format!("--arg must be NAME=GLOB, e.g. to=+34600* (found {pair:?})"))?;
        arguments.insert(name.to_owned(), glob.to_owned());
    }
    let lasts = match matches.get_one::<String>("for") {
        None => None,
        Some(text) => {
            let lasts = humantime::parse_duration(text).map_err(|error| {
                format!(
                    "--for must be a duration such as 30m, 8h or 7days ({error}; found {text:?})"
                )
            })?;
            if lasts > crate::grants::LONGEST_GRANT {
                return Err(format!(
                    "--for must be at most 100 years; leave it out for a grant that does not expire (found {text:?})"
                ));
            }
            Some(lasts)
        }
    };
    Ok(NewGrant {
        tool: matches
            .get_one::<String>("tool")
            .cloned()
            .unwrap_or_default(),
        caller: matches.get_one::<String>("caller").cloned(),
        client: matches.get_one::<String>("client").cloned(),
        arguments,
        lasts,
        source: "operator".into(),
    })
}

impl Startup {
    /// Combines command-line flags (which win) with the environment.
    pub fn resolve(matches: &ArgMatches, env: &Env) -> Result<Startup, ConfigError> {
        let transport = match matches
            .get_one::<String>("transport")
            .map(String::as_str)
            .or(env.get("MCP_TRANSPORT"))
        {
            None | Some("stdio") => TransportKind::Stdio,
            Some("http") => TransportKind::Http,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: "MCP_TRANSPORT".into(),
                    expected: "stdio or http".into(),
                    found: Some(other.into()),
                });
            }
        };
        let listen = match matches.get_one::<ListenAddr>("listen") {
            Some(listen) => listen.clone(),
            None => match env.get("MCP_LISTEN") {
                Some(raw) => resolve_listen(raw).map_err(|reason| ConfigError::Invalid {
                    variable: "MCP_LISTEN".into(),
                    expected: format!("{LISTEN_EXPECTED} ({reason})"),
                    found: Some(raw.into()),
                })?,
                None => ListenAddr {
                    addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
                    host: None,
                },
            },
        };
        let stateless =
            matches.get_flag("stateless") || env.flag("MCP_HTTP_STATELESS")?.unwrap_or(false);
        let mut common = CommonConfig::from_env(env)?;
        if common.allowed_hosts.is_empty() {
            common.allowed_hosts = default_hosts(&listen.addr, listen.host.as_deref());
        }
        Ok(Startup {
            transport,
            listen: listen.addr,
            listen_host: listen.host,
            stateless,
            common,
            oauth: OAuthConfig::from_env(env)?,
        })
    }

    /// Refuses settings that would expose the server: listening beyond loopback without a token
    /// or an OAuth issuer, with a token short enough to guess, or with OAuth but no resource URI
    /// (the audience tokens must name). Also refuses a token holder named `oauth:…`, which could
    /// pass for an OAuth subject in the audit log, grants and rate limits.
    pub fn check_exposure(&self) -> Result<(), String> {
        if self.transport != TransportKind::Http {
            return Ok(());
        }
        if let Some(holder) = self
            .common
            .tokens
            .iter()
            .find(|holder| holder.name.starts_with("oauth:"))
        {
            return Err(format!(
                "the token holder name {:?} in {} starts with oauth:, which is kept for OAuth subjects; rename it",
                holder.name, holder.variable
            ));
        }
        if is_loopback(&self.listen) {
            return Ok(());
        }
        let listen = match &self.listen_host {
            Some(host) => format!("{host}:{} ({})", self.listen.port(), self.listen),
            None => self.listen.to_string(),
        };
        if let Some(oauth) = &self.oauth
            && oauth.resource.is_none()
        {
            return Err(format!(
                "refusing to listen on {listen} with OAuth but no MCP_OAUTH_RESOURCE: set it to this server's URL as clients reach it, such as https://mcp.example.com/mcp (the audience its tokens must name)"
            ));
        }
        if self.common.tokens.is_empty() && self.oauth.is_none() {
            return Err(format!(
                "refusing to listen on {listen} without authentication: set MCP_AUTH_TOKEN (or MCP_AUTH_TOKENS) so that clients must send a bearer token, or MCP_OAUTH_ISSUER to accept an authorization server's access tokens, or listen on 127.0.0.1"
            ));
        }
        for holder in &self.common.tokens {
            let length = holder.token.expose().chars().count();
            if length < MIN_EXPOSED_TOKEN_CHARS {
                let which = if holder.variable == "MCP_AUTH_TOKEN" {
                    "MCP_AUTH_TOKEN".to_owned()
                } else {
                    format!("the token of {:?} in {}", holder.name, holder.variable)
                };
                return Err(format!(
                    "refusing to listen on {listen} with a short token: {which} is {length} character{} long, and tokens must be at least {MIN_EXPOSED_TOKEN_CHARS} characters when listening beyond loopback (generate one with `openssl rand -hex 24`), or listen on 127.0.0.1",
                    if length == 1 { "" } else { "s" }
                ));
            }
        }
        Ok(())
    }
}

/// Why a server's domain could not be built (a setting it cannot use, a database it cannot
/// open): printed once on stderr by [`run`], which then exits with status 2. Any error with a
/// good message converts with `?`; settings errors keep the variable they name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError(String);

impl StartError {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> StartError {
        StartError(message.into())
    }

    /// What went wrong, as printed.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

impl From<ConfigError> for StartError {
    fn from(error: ConfigError) -> StartError {
        StartError(error.to_string())
    }
}

impl From<String> for StartError {
    fn from(message: String) -> StartError {
        StartError(message)
    }
}

impl From<&str> for StartError {
    fn from(message: &str) -> StartError {
        StartError(message.to_owned())
    }
}

/// Runs a server: parses the command line, reads configuration, builds the domain handler with
/// `build`, and serves it. Returns the process exit code (2 for configuration errors).
pub fn run<S, B, Fut>(identity: ServerIdentity, build: B) -> ExitCode
where
    S: Domain,
    B: FnOnce(Env) -> Fut,
    Fut: Future<Output = Result<S, StartError>>,
{
    let binary = format!("mcp-{}", identity.name);
    let matches = command(&identity).get_matches();
    let startup =
        Env::load().and_then(|env| Startup::resolve(&matches, &env).map(|startup| (env, startup)));
    let (env, startup) = match startup {
        Ok(pair) => pair,
        Err(error) => return fail(&binary, &error, 2),
    };
    let team = match TeamConfig::from_env(&env)
        .and_then(|team| Ok((team, crate::team::Keyring::from_env(&env)?.map(Arc::new))))
    {
        Ok(team) => team,
        Err(error) => return fail(&binary, &error, 2),
    };
    match matches.subcommand() {
        Some(("grants", grants)) => {
            return match &team {
                (Some(config), keyring) => crate::team::cli::blocking(&binary, async {
                    let team = Team::open(config, keyring.clone(), identity.name).await?;
                    let store = Grants::Team(DbGrants::new(team.db.clone(), identity.name));
                    Ok(run_grants(&binary, &store, grants).await)
                }),
                (None, _) => {
                    let store =
                        Grants::Local(Arc::new(grant_store(identity.name, &env, &startup.common)));
                    crate::team::cli::blocking(&binary, async {
                        Ok::<_, crate::team::DbError>(run_grants(&binary, &store, grants).await)
                    })
                }
            };
        }
        Some(("credentials", credentials)) => {
            return crate::team::cli::run(&binary, identity, &team.0, team.1.clone(), credentials);
        }
        _ => {}
    }
    crate::telemetry::init(startup.common.log_format, &startup.common.log_filter);
    JSON_LOGS.store(
        startup.common.log_format == crate::config::LogFormat::Json,
        Ordering::Relaxed,
    );
    if let Err(error) = startup.check_exposure() {
        return fail(&binary, &error, 2);
    }
    // One client over stdio sends one line at a time: a single-threaded runtime serves it with
    // no wake-ups across threads (blocking work still goes to the blocking pool). HTTP serves
    // many clients at once on every core, each core's thread with a single-threaded runtime of
    // its own (`connections`), this one the first.
    let mut builder = match startup.transport {
        TransportKind::Stdio => {
            let mut builder = tokio::runtime::Builder::new_current_thread();
            builder.on_thread_park(crate::stdio::stay_awake);
            builder
        }
        TransportKind::Http => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            return fail(
                &binary,
                &format!("could not start the async runtime: {error}"),
                1,
            );
        }
    };
    let code = runtime.block_on(serve(identity, env, startup, team, build));
    // A blocking read of stdin may still be pending; do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(200));
    code
}

async fn serve<S, B, Fut>(
    identity: ServerIdentity,
    env: Env,
    startup: Startup,
    (team_config, keyring): (Option<TeamConfig>, Option<Arc<crate::team::Keyring>>),
    build: B,
) -> ExitCode
where
    S: Domain,
    B: FnOnce(Env) -> Fut,
    Fut: Future<Output = Result<S, StartError>>,
{
    let binary = format!("mcp-{}", identity.name);
    // Team mode: the database is opened (and migrated) before anything else, so a server that
    // cannot reach it says so at once instead of serving without consents and credentials.
    let team = match &team_config {
        None => None,
        Some(config) => match Team::open(config, keyring, identity.name).await {
            Ok(team) => {
                if !identity.credentials.is_empty() && team.credentials.key_id().is_none() {
                    tracing::warn!(
                        "team mode without MCP_CREDENTIALS_KEY: callers cannot keep credentials of their own (set_my_credentials and `credentials set` will fail)"
                    );
                }
                Some(Arc::new(team))
            }
            Err(error) => return fail(&binary, &format!("team mode: {error}"), 1),
        },
    };
    let grants = match &team {
        Some(team) => Grants::Team(DbGrants::new(team.db.clone(), identity.name)),
        None => Grants::Local(Arc::new(grant_store(identity.name, &env, &startup.common))),
    };
    let data_dir = env.data_dir();
    let domain = match build(env).await {
        Ok(domain) => domain,
        Err(error) => return fail(&binary, &error, 2),
    };
    let common = &startup.common;
    let audit = match AuditLog::open(&common.audit) {
        Ok(audit) => audit,
        Err(error) => {
            return fail(
                &binary,
                &format!(
                    "could not open the audit log {:?} (MCP_AUDIT_LOG): {error}",
                    common.audit
                ),
                2,
            );
        }
    };
    // Team mode: the audit trail also goes to the database, through a spool in the data
    // directory while it is unreachable.
    let audit = match &team {
        None => audit,
        Some(team) => {
            let spool = data_dir
                .clone()
                .map(|dir| dir.join(format!("mcp-{}", identity.name)))
                .unwrap_or_else(std::env::temp_dir)
                .join(format!("mcp-{}-audit-spool.jsonl", identity.name));
            let max = team_config.as_ref().map_or(100_000, |c| c.audit_spool_max);
            match audit.with_database(team.db.clone(), spool.clone(), max) {
                Ok(audit) => audit,
                Err(error) => {
                    return fail(
                        &binary,
                        &format!(
                            "team mode: could not open the audit spool {}: {error}",
                            spool.display()
                        ),
                        2,
                    );
                }
            }
        }
    };
    let audit_database = audit.database();
    let metrics = Arc::new(Metrics::new(identity.name));
    metrics.watch_audit(&audit);
    let mut probes = domain.probes();
    probes.extend(crate::team::audit::probe(&audit));
    let readiness = Arc::new(Readiness::new(probes, common.ready_cache));
    let config = GovernConfig {
        server: identity.name.to_owned(),
        version: identity.version.to_owned(),
        about: identity.about.to_owned(),
        policy: ToolPolicy {
            read_only: common.read_only,
            allow: common.tools_allow.clone(),
            deny: common.tools_deny.clone(),
            confirm: common.confirm,
            confirm_tools: common.confirm_tools.clone(),
            no_confirm_tools: common.no_confirm_tools.clone(),
        },
        consent_timeout: common.consent_timeout,
        tool_timeout: common.tool_timeout,
        grants: Arc::new(grants),
        team: team.clone(),
        credential_fields: identity.credentials,
        confirm_always: common.confirm_always,
        limits: common.limits,
    };
    let governed = match Governed::new(domain, config, audit, metrics.clone()) {
        Ok(governed) => governed,
        Err(error) => return fail(&binary, &error, 1),
    };
    if let Some(team) = &team
        && let Err(error) = team
            .register(identity.version, identity.about, &governed.registry())
            .await
    {
        return fail(&binary, &format!("team mode: {error}"), 1);
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let settling = governed.clone();
    let served = match startup.transport {
        TransportKind::Stdio => {
            tracing::info!(
                server = identity.name,
                version = identity.version,
                "serving on stdio"
            );
            crate::stdio::serve_stdio(governed, common.max_request_bytes, shutdown).await
        }
        TransportKind::Http => {
            if !is_loopback(&startup.listen) && env_lists_default(&startup) {
                tracing::warn!(
                    "MCP_ALLOWED_HOSTS is not set: only loopback names are accepted in the Host header; set it to the names clients use"
                );
            }
            let settings = HttpSettings {
                listen: startup.listen,
                stateless: startup.stateless,
                tokens: common.tokens.clone(),
                allowed_hosts: common.allowed_hosts.clone(),
                allowed_origins: common.allowed_origins.clone(),
                max_body_bytes: common.max_request_bytes,
                session_idle: common.session_idle,
            };
            crate::http::serve(
                governed,
                settings,
                startup.oauth.clone(),
                readiness,
                metrics,
                shutdown,
                binary.clone(),
            )
            .await
        }
    };
    // The transport has ended (end of input, a signal) and rmcp has stopped waiting for the
    // answers still owed: calls still running finish, and write their audit records, for at most
    // the tool timeout before the runtime drops them (their records then say `interrupted`).
    let still_running = settling.settle(common.tool_timeout).await;
    if still_running > 0 {
        tracing::warn!(
            still_running,
            "tool calls still running at exit; their audit records say `interrupted`"
        );
    }
    if let Some(audit) = audit_database {
        // What is still queued reaches the database, or the spool for the next start.
        audit.close(Duration::from_secs(5)).await;
    }
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&binary, &error, 1),
    }
}

fn env_lists_default(startup: &Startup) -> bool {
    startup.common.allowed_hosts == default_hosts(&startup.listen, startup.listen_host.as_deref())
}

/// Whether logs are JSON lines, once logging is installed; [`fail`] then writes JSON too.
static JSON_LOGS: AtomicBool = AtomicBool::new(false);

fn fail(binary: &str, error: &dyn Display, code: u8) -> ExitCode {
    let message = crate::secret::scrub(&error.to_string()).into_owned();
    // Exactly one line, whatever the log filter says (a fatal error must always show): a JSON
    // record shaped like the JSON logs when they are on, so stderr stays JSON, else plain text.
    if JSON_LOGS.load(Ordering::Relaxed) {
        let record = serde_json::json!({
            "timestamp": crate::audit::now_rfc3339(),
            "level": "ERROR",
            "message": "cannot continue",
            "error": message,
        });
        eprintln!("{record}");
    } else {
        eprintln!("{binary}: {message}");
    }
    ExitCode::from(code)
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutdown signal received");
    shutdown.cancel();
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDENTITY: ServerIdentity = ServerIdentity {
        name: "test",
        version: "0",
        about: "",
        env_help: "",
        credentials: &[],
    };

    fn resolve(args: &[&str], env: &[(&str, &str)]) -> Result<Startup, ConfigError> {
        let matches = command(&IDENTITY)
            .try_get_matches_from(std::iter::once("mcp-test").chain(args.iter().copied()))
            .unwrap();
        Startup::resolve(&matches, &Env::from_pairs(env.iter().copied()))
    }

    /// Found next to the fuzz target `stripe_answer`'s finding (humantime cannot write a date
    /// after 9999): `grants add --for 20000years` panicked writing the grant's expiry.
    #[test]
    fn a_grant_for_longer_than_a_century_is_refused_and_never_panics() {
        let matches = grants_command()
            .try_get_matches_from(["grants", "add", "send_*", "--for", "20000years"])
            .unwrap();
        let Some(("add", add)) = matches.subcommand() else {
            panic!("no add subcommand");
        };
        let error = new_grant(add).unwrap_err();
        assert!(error.contains("at most 100 years"), "{error}");

        let store = crate::grants::GrantStore::in_memory();
        let grant = store
            .add(NewGrant {
                tool: "send_*".into(),
                caller: None,
                client: None,
                arguments: Default::default(),
                lasts: Some(Duration::from_secs(u64::MAX / 4)),
                source: "test".into(),
            })
            .unwrap();
        let expires = grant.expires.unwrap();
        assert!(expires.starts_with("21"), "{expires}");
    }

    #[test]
    fn flags_override_environment_and_defaults_are_loopback() {
        let startup = resolve(&[], &[]).unwrap();
        assert_eq!(startup.transport, TransportKind::Stdio);
        assert_eq!(startup.listen.to_string(), "127.0.0.1:8080");
        let startup = resolve(
            &["--transport", "http", "--listen", "127.0.0.1:9000"],
            &[("MCP_TRANSPORT", "stdio"), ("MCP_LISTEN", "0.0.0.0:1")],
        )
        .unwrap();
        assert_eq!(
            (startup.transport, startup.listen.port()),
            (TransportKind::Http, 9000)
        );
        let error = resolve(&[], &[("MCP_TRANSPORT", "carrier-pigeon")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "invalid configuration: MCP_TRANSPORT must be stdio or http (found \"carrier-pigeon\")"
        );
    }

    #[test]
    fn exposure_without_a_token_is_refused() {
        let open = resolve(&["--transport", "http", "--listen", "0.0.0.0:8080"], &[]).unwrap();
        let refusal = open.check_exposure().unwrap_err();
        assert!(
            refusal.contains("refusing to listen on 0.0.0.0:8080 without authentication"),
            "{refusal}"
        );
        let with_token = resolve(
            &["--transport", "http", "--listen", "0.0.0.0:8080"],
            &[("MCP_AUTH_TOKEN", "a-token-of-16-ch")],
        )
        .unwrap();
        assert!(with_token.check_exposure().is_ok());
        let loopback = resolve(&["--transport", "http"], &[]).unwrap();
        assert!(loopback.check_exposure().is_ok());
    }

    #[test]
    fn short_tokens_are_refused_beyond_loopback_only() {
        let exposed = ["--transport", "http", "--listen", "0.0.0.0:8080"];
        let cases: [(&[(&str, &str)], &str); 3] = [
            (
                &[("MCP_AUTH_TOKEN", "x")],
                "MCP_AUTH_TOKEN is 1 character long, and tokens must be at least 16 characters",
            ),
            (
                &[
                    ("MCP_AUTH_TOKEN", "a-token-of-16-ch"),
                    ("MCP_AUTH_TOKENS", "alice:a-token-of-16-ch,bob:tok-b"),
                ],
                "the token of \"bob\" in MCP_AUTH_TOKENS is 5 characters long",
            ),
            (
                // Characters, not bytes: 15 two-byte letters are still too short.
                &[("MCP_AUTH_TOKEN", "ñññññññññññññññ")],
                "MCP_AUTH_TOKEN is 15 characters long",
            ),
        ];
        for (env, expected) in cases {
            let refusal = resolve(&exposed, env)
                .unwrap()
                .check_exposure()
                .unwrap_err();
            assert!(refusal.contains(expected), "{env:?}: {refusal}");
            assert!(refusal.contains("0.0.0.0:8080"), "{refusal}");
            assert!(!refusal.contains("tok-b"), "the token leaked: {refusal}");
            // Loopback needs no token at all, so a short one is the operator's business.
            let local = resolve(&["--transport", "http"], env).unwrap();
            assert!(local.check_exposure().is_ok(), "{env:?}");
        }
    }

    #[test]
    fn host_names_are_resolved_and_localhost_is_loopback() {
        for startup in [
            resolve(&["--transport", "http", "--listen", "localhost:9000"], &[]).unwrap(),
            resolve(
                &["--transport", "http"],
                &[("MCP_LISTEN", "LocalHost:9000")],
            )
            .unwrap(),
        ] {
            assert_eq!(startup.listen.to_string(), "127.0.0.1:9000");
            assert_eq!(startup.listen_host.as_deref(), Some("localhost"));
            assert!(is_loopback(&startup.listen));
            assert!(startup.check_exposure().is_ok(), "localhost needs no token");
            assert_eq!(
                startup.common.allowed_hosts,
                default_allowed_hosts(&startup.listen)
            );
            assert!(env_lists_default(&startup));
        }
        let literal = resolve(&[], &[("MCP_LISTEN", "[::1]:9001")]).unwrap();
        assert_eq!(
            (literal.listen.to_string(), literal.listen_host),
            ("[::1]:9001".to_owned(), None)
        );
        let error = resolve(&[], &[("MCP_LISTEN", "localhost")])
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("invalid configuration: MCP_LISTEN must be host:port")
                && error.ends_with("(found \"localhost\")"),
            "{error}"
        );
        let error = resolve(&[], &[("MCP_LISTEN", "localhost:http")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("the port must be a number"), "{error}");
        let flag = command(&IDENTITY)
            .try_get_matches_from(["mcp-test", "--listen", "no-such-host.invalid:80"])
            .unwrap_err()
            .to_string();
        assert!(flag.contains("could not resolve the host name"), "{flag}");
    }

    #[test]
    fn a_named_host_beyond_loopback_is_an_allowed_host_by_default() {
        let hosts = default_hosts(&"10.1.2.3:8080".parse().unwrap(), Some("mcp.internal"));
        assert_eq!(
            hosts,
            ["localhost", "127.0.0.1", "::1", "10.1.2.3", "mcp.internal"]
        );
        let local = default_hosts(&"127.0.0.1:8080".parse().unwrap(), Some("localhost"));
        assert_eq!(
            local,
            default_allowed_hosts(&"127.0.0.1:8080".parse().unwrap())
        );
    }

    #[test]
    fn an_oauth_issuer_is_authentication_enough_and_oauth_names_are_kept() {
        let exposed = ["--transport", "http", "--listen", "0.0.0.0:8080"];
        let issuer = ("MCP_OAUTH_ISSUER", "https://auth.example.com");
        let resource = ("MCP_OAUTH_RESOURCE", "https://mcp.example.com/mcp");
        assert!(
            resolve(&exposed, &[issuer, resource])
                .unwrap()
                .check_exposure()
                .is_ok()
        );
        let refusal = resolve(&exposed, &[issuer])
            .unwrap()
            .check_exposure()
            .unwrap_err();
        assert!(refusal.contains("MCP_OAUTH_RESOURCE"), "{refusal}");
        // On loopback the resource is derived from the bound address.
        let local = resolve(&["--transport", "http"], &[issuer]).unwrap();
        assert!(local.check_exposure().is_ok());
        // Holder names end at the first colon, so none can look like `oauth:<sub>`; the check
        // holds should that parsing ever change.
        let mut named = resolve(
            &["--transport", "http"],
            &[("MCP_AUTH_TOKENS", "oauth:alice:a-token-of-16-ch")],
        )
        .unwrap();
        assert_eq!(named.common.tokens[0].name, "oauth");
        assert!(named.check_exposure().is_ok());
        named.common.tokens[0].name = "oauth:alice".into();
        let refusal = named.check_exposure().unwrap_err();
        assert!(
            refusal.contains("\"oauth:alice\" in MCP_AUTH_TOKENS") && !refusal.contains("a-token"),
            "{refusal}"
        );
        let error = resolve(&[], &[("MCP_OAUTH_ISSUER", "ftp://x")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("MCP_OAUTH_ISSUER must be"), "{error}");
    }
}
