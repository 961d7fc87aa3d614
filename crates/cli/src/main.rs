//! `openclaw`: the gateway daemon and its operator command-line tool.

mod client;
mod commands;
mod opts;
mod posture;
mod target;
mod tls;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use commands::service::{self, Action as Service};
use opts::ClientOpts;

/// OpenClaw gateway: run it, and talk to a running one.
#[derive(Parser)]
#[command(name = "openclaw", version, about, propagate_version = true)]
struct Cli {
    /// Use the named profile (state in ~/.openclaw-<name>); also OPENCLAW_PROFILE.
    #[arg(long, global = true, value_name = "NAME")]
    profile: Option<String>,
    /// Use the dev profile (~/.openclaw-dev, port 19001, no gateway.mode needed).
    #[arg(long, global = true)]
    dev: bool,
    /// Gateway URL for any client command (http(s):// or ws(s)://; same as its --url).
    #[arg(
        id = "url",
        long = "api-url",
        global = true,
        value_name = "URL",
        value_parser = opts::parse_gateway_url
    )]
    api_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (default) or manage and query it.
    Gateway(GatewayCmd),
    /// Ask the running gateway for its health snapshot; exits non-zero if unreachable.
    Health(ClientOpts),
    /// Show the running gateway's status.
    Status(ClientOpts),
    /// Show or follow the gateway log.
    Logs(LogsArgs),
    /// Read, edit, validate, import/export and reload the config file (openclaw.json).
    Config(ConfigCmd),
    /// List where the config's secrets come from, or make the gateway resolve them again.
    Secrets(SecretsCmd),
    /// Show messaging channel status; enable or disable a channel.
    Channels(commands::channels::ChannelsCmd),
    /// Send a message through a channel of the running gateway.
    Message(commands::message::MessageCmd),
    /// Check config, permissions, gateway, auth, service, logs, providers and channels; --fix repairs.
    Doctor(DoctorArgs),
    /// Security tools: `security audit` lists exposure, auth and permission problems.
    Security(SecurityCmd),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion(CompletionArgs),
    /// Call any gateway RPC method and print its result as JSON (same as `gateway call`).
    Call(CallArgs),
    /// Start the installed gateway service (same as `gateway start`).
    Start(commands::service::ServiceArgs),
    /// Stop the gateway: its service, or the foreground process (same as `gateway stop`).
    Stop(commands::service::ServiceArgs),
    /// Restart the gateway: its service, or in-process (same as `gateway restart`).
    Restart(commands::service::ServiceArgs),
    /// Check the configuration: `configure --validate` is `config validate`.
    Configure(ConfigureArgs),
    /// The running gateway's caches: `cache clear` empties them and says what was cleared.
    Cache(CacheCmd),
    /// Non-interactive first run: write a config with gateway.mode=local and a generated token.
    Setup(commands::setup::SetupArgs),
    /// Run one agent turn through the gateway (--message), or list agents and show one's status.
    Agent(commands::agent::AgentCmd),
    /// List the configured agents.
    Agents(commands::agent::AgentsCmd),
    /// List the model providers, or test each with a real one-token request.
    Providers(commands::providers::ProvidersCmd),
    /// Exec approvals waiting in the running gateway: `pending` lists them, `resolve` answers one.
    Approvals(commands::tools::ApprovalsCmd),
    /// `sandbox explain`: the effective sandbox mode, backend and tool policy of a session, and why.
    Sandbox(commands::tools::SandboxCmd),
    /// Print the Control UI's URL (token in the fragment) and open it in a browser.
    Dashboard(commands::dashboard::DashboardArgs),
    /// Session transcripts offline: `export` to JSONL, `import` from it (moves them between store backends).
    Sessions(commands::sessions::SessionsCmd),
}

#[derive(Args)]
struct CacheCmd {
    #[command(subcommand)]
    sub: CacheSub,
}

#[derive(Subcommand)]
enum CacheSub {
    /// Clear idempotency keys and finished-run results; prints what was cleared.
    Clear(ClientOpts),
}

/// Flags of `openclaw configure`.
#[derive(Args)]
struct ConfigureArgs {
    /// Check the config file as the gateway would load it (same as `config validate`).
    #[arg(long)]
    validate: bool,
    #[command(flatten)]
    client: ClientOpts,
}

impl ConfigureArgs {
    fn run(&self, global: &commands::Global) -> anyhow::Result<ExitCode> {
        if !self.validate {
            anyhow::bail!(
                "`openclaw configure` without a flag is the original's interactive wizard, which this gateway does not have. \
                 Use `openclaw configure --validate` (= `openclaw config validate`) to check the config, \
                 `openclaw setup` to write a first-run config, or `openclaw config set PATH VALUE` to change a key"
            );
        }
        commands::config::validate(global, &self.client)
    }
}

impl Command {
    /// Whether the command connects to a gateway (takes `--url`), so that the global
    /// `--api-url` means something for it; the rest refuse it rather than ignore it.
    fn talks_to_a_gateway(&self) -> bool {
        match self {
            Command::Gateway(g) => matches!(
                g.sub,
                Some(GatewaySub::Status(_) | GatewaySub::Call(_) | GatewaySub::Reload(_))
            ),
            // Read the local config, or call providers directly.
            Command::Agents(_) | Command::Providers(_) => false,
            // Work on the session store offline.
            Command::Sessions(_) => false,
            Command::Completion(_)
            | Command::Setup(_)
            | Command::Start(_)
            | Command::Stop(_)
            | Command::Restart(_) => false,
            _ => true,
        }
    }
}

/// Flags of `openclaw doctor`.
#[derive(Args)]
struct DoctorArgs {
    #[command(flatten)]
    options: commands::doctor::Options,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Args)]
struct SecurityCmd {
    #[command(subcommand)]
    sub: SecuritySub,
}

#[derive(Subcommand)]
enum SecuritySub {
    /// Audit the config and state for security problems; exits 1 if any critical finding remains.
    Audit(AuditArgs),
}

/// Flags of `openclaw security audit`.
#[derive(Args)]
struct AuditArgs {
    #[command(flatten)]
    options: commands::audit::Options,
    #[command(flatten)]
    client: ClientOpts,
}

/// Flags of `openclaw completion`.
#[derive(Args)]
struct CompletionArgs {
    /// The shell to generate the script for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct GatewayCmd {
    #[command(subcommand)]
    sub: Option<GatewaySub>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum GatewaySub {
    /// Run the gateway in the foreground until SIGTERM/SIGINT.
    Run(RunArgs),
    /// Show config path, bind/port, runtime state and a connectivity probe.
    Status(GatewayStatusArgs),
    /// Call any gateway RPC method and print its result as JSON.
    Call(CallArgs),
    /// Install the gateway as a service (systemd unit or LaunchAgent), enable and start it.
    Install(commands::service::InstallArgs),
    /// Stop, disable and remove the gateway service.
    Uninstall(commands::service::ServiceArgs),
    /// Start the installed gateway service.
    Start(commands::service::ServiceArgs),
    /// Stop the gateway service.
    Stop(commands::service::ServiceArgs),
    /// Restart the installed gateway service.
    Restart(commands::service::ServiceArgs),
    /// Make the running gateway re-read its config file now (same as `config reload`).
    Reload(ClientOpts),
}

/// Flags of `openclaw gateway [run]`.
#[derive(Args, Clone, Default)]
pub struct RunArgs {
    /// Port to listen on (default: gateway.port, else 18789; 19001 with --dev).
    #[arg(long)]
    pub port: Option<u16>,
    /// Bind mode: loopback (default), lan, custom (gateway.customBindHost), auto.
    #[arg(long, value_enum)]
    pub bind: Option<BindArg>,
    /// Shared token clients must present (overrides gateway.auth.token).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Shared password clients must present (overrides gateway.auth.password).
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Stop whatever process listens on the port first.
    #[arg(long)]
    pub force: bool,
    /// Mirror debug logs to stderr.
    #[arg(long)]
    pub verbose: bool,
    /// Start even if gateway.mode is not set to local.
    #[arg(long)]
    pub allow_unconfigured: bool,
}

/// `--bind` values.
#[derive(Clone, Copy, ValueEnum)]
pub enum BindArg {
    /// 127.0.0.1 and ::1 only.
    Loopback,
    /// All interfaces (requires auth).
    Lan,
    /// gateway.customBindHost.
    Custom,
    /// Loopback unless running in a container.
    Auto,
}

#[derive(Args)]
struct GatewayStatusArgs {
    #[command(flatten)]
    client: ClientOpts,
    /// Skip the connectivity probe.
    #[arg(long, conflicts_with = "require_rpc")]
    no_probe: bool,
    /// Exit non-zero unless an authenticated RPC to the gateway succeeds.
    #[arg(long)]
    require_rpc: bool,
    /// Also fetch the gateway's status over RPC.
    #[arg(long)]
    deep: bool,
}

impl GatewayStatusArgs {
    fn mode(&self) -> commands::gateway_status::Mode {
        commands::gateway_status::Mode {
            probe: !self.no_probe,
            require_rpc: self.require_rpc,
            deep: self.deep,
        }
    }
}

#[derive(Args)]
struct CallArgs {
    /// Method name, e.g. health or config.get.
    method: String,
    /// Parameters as a JSON object.
    #[arg(long, value_name = "JSON")]
    params: Option<String>,
    /// Wait for the final response of two-stage methods (e.g. agent).
    #[arg(long)]
    expect_final: bool,
    /// Call the local gateway on this loopback port (instead of the configured one).
    #[arg(long, conflicts_with = "url")]
    port: Option<u16>,
    #[command(flatten)]
    client: ClientOpts,
}

impl CallArgs {
    fn run(&self, global: &commands::Global) -> anyhow::Result<ExitCode> {
        block_on(commands::call::run(
            global,
            &self.client,
            commands::call::Request {
                method: &self.method,
                params: self.params.as_deref(),
                expect_final: self.expect_final,
                port: self.port,
            },
        ))
    }
}

#[derive(Args)]
struct LogsArgs {
    /// How many recent lines to show (also --tail N, --last N).
    #[arg(long, visible_aliases = ["tail", "last"], default_value_t = 200, value_name = "N")]
    limit: usize,
    /// Keep printing new lines as they are written.
    #[arg(long, short = 'f')]
    follow: bool,
    /// Poll interval for --follow, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    interval: u64,
    /// Only entries at this level or more severe (fatal, error, warn, info, debug, trace).
    #[arg(long, value_name = "LEVEL", value_parser = commands::logs::parse_level)]
    level: Option<openclaw_logs::Level>,
    /// Only entries newer than this: 30s, 10m, 2h, 1d, or a time such as "2026-12-01 10:00"
    /// (local) or 2026-12-01T10:00:00Z.
    #[arg(long, value_name = "WHEN", value_parser = commands::logs::parse_since)]
    since: Option<commands::logs::Since>,
    /// Only entries whose message or fields match TEXT (case-insensitive regex, else
    /// substring); a level word such as `error` also matches entries at that level.
    #[arg(long, value_name = "TEXT", value_parser = commands::logs::parse_filter)]
    filter: Option<commands::logs::TextFilter>,
    /// Output format: text (default) or json (same as --json).
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"])]
    format: Option<String>,
    /// Write the lines to FILE (created owner-only) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    #[command(flatten)]
    client: ClientOpts,
}

impl LogsArgs {
    fn mode(&self) -> commands::logs::Mode {
        commands::logs::Mode {
            limit: self.limit,
            follow: self.follow,
            interval_ms: self.interval,
            level: self.level,
            since: self.since,
            filter: self.filter.clone(),
            json: self.client.json || self.format.as_deref() == Some("json"),
            output: self.output.clone(),
        }
    }
}

#[derive(Args)]
struct ConfigCmd {
    #[command(subcommand)]
    sub: ConfigSub,
}

#[derive(Subcommand)]
enum ConfigSub {
    /// Print the value at a path (strings plain, anything else as JSON); secrets redacted.
    Get(ConfigGetArgs),
    /// Print the whole config file as JSON; secrets redacted, ${VAR} references kept.
    #[command(visible_alias = "show")]
    List(ConfigShowArgs),
    /// Set the value at a path, through the running gateway or directly in the file.
    Set(ConfigSetArgs),
    /// Remove the value at a path, through the running gateway or directly in the file.
    Unset(ConfigPathArgs),
    /// Check the config file as the gateway would load it; exits 1 if it is invalid.
    Validate(ClientOpts),
    /// Replace the whole config with a file, after validating it.
    Import(ConfigImportArgs),
    /// Print the whole config file as JSON for saving elsewhere; secrets redacted.
    Export(ConfigShowArgs),
    /// Make the running gateway re-read its config file now.
    Reload(ClientOpts),
}

#[derive(Args)]
struct ConfigGetArgs {
    /// Dotted path, e.g. gateway.port or agents.list[0].id.
    path: String,
    /// Print secret values instead of a redaction marker.
    #[arg(long)]
    show_secrets: bool,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Args)]
struct ConfigShowArgs {
    /// Print secret values instead of a redaction marker.
    #[arg(long)]
    show_secrets: bool,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Args)]
struct ConfigSetArgs {
    /// Dotted path, e.g. gateway.port or agents.list[0].id.
    path: String,
    /// The value: JSON5 if it parses as JSON5 (8080, true, [1,2], {a:1}, "quoted"), else the text as a string.
    #[arg(allow_hyphen_values = true)]
    value: String,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Args)]
struct ConfigPathArgs {
    /// Dotted path, e.g. gateway.auth.password.
    path: String,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Args)]
struct ConfigImportArgs {
    /// The config file to import (JSON5); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    input: std::path::PathBuf,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Args)]
struct SecretsCmd {
    #[command(subcommand)]
    sub: SecretsSub,
}

#[derive(Subcommand)]
enum SecretsSub {
    /// One line per secret field: path, kind (inline/env/file/exec), id, set or missing; never values.
    List(ClientOpts),
    /// Make the running gateway resolve its secrets again (env, files, commands).
    Reload(ClientOpts),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runs_gateway = matches!(
        &cli.command,
        Command::Gateway(g) if matches!(g.sub, None | Some(GatewaySub::Run(_)))
    );
    // Provider probes talk TLS to arbitrary servers; one that closes mid-handshake makes
    // the next socket write raise SIGPIPE, which must fail that probe, not kill the run.
    let probes_providers = match &cli.command {
        Command::Providers(_) => true,
        Command::Doctor(d) => d.options.provider.is_some(),
        _ => false,
    };
    if !runs_gateway && !probes_providers {
        // A client command piped into `head` should end quietly when the pipe closes, as
        // other Unix tools do, instead of panicking on the failed write. The gateway keeps
        // Rust's default (ignore) so a closed stdout can never kill the daemon.
        // No safe wrapper sets a signal disposition (rustix leaves it to runtimes).
        // SAFETY: called before any thread is started, so no other thread can be
        // relying on the old disposition.
        #[allow(unsafe_code)]
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    if let Some(url) = &cli.api_url
        && !cli.command.talks_to_a_gateway()
    {
        eprintln!(
            "Error: --api-url {url} names a gateway to talk to, and this command does not talk to one; use it with client commands such as `openclaw --api-url URL health`"
        );
        return ExitCode::from(2);
    }
    let global = commands::Global {
        profile: cli.profile,
        dev: cli.dev,
    };
    let result = match cli.command {
        Command::Gateway(g) => match g.sub {
            None => commands::run::run(&global, g.run),
            Some(GatewaySub::Run(args)) => commands::run::run(&global, args),
            Some(GatewaySub::Status(a)) => {
                block_on(commands::gateway_status::run(&global, &a.client, a.mode()))
            }
            Some(GatewaySub::Call(a)) => a.run(&global),
            Some(GatewaySub::Install(a)) => service::install(&global, &a),
            Some(GatewaySub::Uninstall(a)) => service::control(&global, Service::Uninstall, &a),
            Some(GatewaySub::Start(a)) => service::control(&global, Service::Start, &a),
            Some(GatewaySub::Stop(a)) => service::control(&global, Service::Stop, &a),
            Some(GatewaySub::Restart(a)) => service::control(&global, Service::Restart, &a),
            Some(GatewaySub::Reload(o)) => block_on(commands::config::reload(&global, &o)),
        },
        Command::Health(o) => block_on(commands::health::run(&global, &o)),
        Command::Status(o) => block_on(commands::status::run(&global, &o)),
        Command::Logs(a) => block_on(commands::logs::run(&global, &a.client, a.mode())),
        Command::Config(c) => match c.sub {
            ConfigSub::Get(a) => commands::config::get(&global, &a.client, &a.path, a.show_secrets),
            ConfigSub::List(a) | ConfigSub::Export(a) => {
                commands::config::list(&global, a.show_secrets)
            }
            ConfigSub::Set(a) => {
                block_on(commands::config::set(&global, &a.client, &a.path, &a.value))
            }
            ConfigSub::Unset(a) => block_on(commands::config::unset(&global, &a.client, &a.path)),
            ConfigSub::Validate(o) => commands::config::validate(&global, &o),
            ConfigSub::Import(a) => {
                block_on(commands::config::import(&global, &a.client, &a.input))
            }
            ConfigSub::Reload(o) => block_on(commands::config::reload(&global, &o)),
        },
        Command::Secrets(c) => match c.sub {
            SecretsSub::List(o) => commands::secrets::list(&global, &o),
            SecretsSub::Reload(o) => block_on(commands::secrets::reload(&global, &o)),
        },
        Command::Doctor(a) => block_on(commands::doctor::run(&global, &a.client, a.options)),
        Command::Security(c) => match c.sub {
            SecuritySub::Audit(a) => block_on(commands::audit::run(&global, &a.client, a.options)),
        },
        Command::Completion(a) => commands::completion::run(a.shell),
        Command::Call(a) => a.run(&global),
        Command::Start(a) => service::control(&global, Service::Start, &a),
        Command::Stop(a) => service::control(&global, Service::Stop, &a),
        Command::Restart(a) => service::control(&global, Service::Restart, &a),
        Command::Configure(a) => a.run(&global),
        Command::Setup(a) => commands::setup::run(&global, &a),
        Command::Cache(c) => match c.sub {
            CacheSub::Clear(o) => block_on(commands::cache::clear(&global, &o)),
        },
        Command::Channels(c) => block_on(commands::channels::run(&global, c)),
        Command::Message(c) => block_on(commands::message::run(&global, c)),
        Command::Agent(c) => block_on(commands::agent::run(&global, c)),
        Command::Agents(c) => commands::agent::run_agents(&global, c),
        Command::Providers(c) => block_on(commands::providers::run(&global, c)),
        Command::Approvals(c) => block_on(commands::tools::approvals(&global, c)),
        Command::Sandbox(c) => commands::tools::sandbox_cmd(&global, c),
        Command::Dashboard(a) => block_on(commands::dashboard::run(&global, &a)),
        Command::Sessions(c) => block_on(commands::sessions::run(&global, c)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn block_on(
    fut: impl std::future::Future<Output = anyhow::Result<ExitCode>>,
) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(fut)
}
