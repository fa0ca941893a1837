//! The command line (clap). The same definition feeds `--help`, the man
//! page and the shell completions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Writes Mozilla autoconfig files (config-v1.1.xml) for every mail domain
/// a Postfix + Dovecot server hosts, from the server's own configuration.
#[derive(Debug, Parser)]
#[command(
    name = "mailconf",
    version,
    about,
    long_about = "mailconf reads a mail server's Postfix (main.cf, master.cf, lookup tables) and \
Dovecot (dovecot.conf and its includes) configuration, works out what a mail client really gets \
(host names, ports, implicit TLS or STARTTLS, authentication, login name, hosted domains) and writes \
one Mozilla autoconfig file per hosted domain, for Thunderbird, K-9/Thunderbird for Android, \
Evolution, KMail, Delta Chat, FairEmail and others.\n\n\
Exit status: 0 success (warnings allowed); 1 `check` found files that would change, or `validate` \
found errors; 2 bad input, usage error, or nothing could be written.",
    after_help = "Start with: mailconf inspect --root /   (what mailconf understood)\n\
            then:       mailconf generate --out /var/www/autoconfig"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write config-v1.1.xml for every hosted domain into OUT.
    Generate(GenerateArgs),
    /// Like generate, but write nothing; exit 1 when a file under OUT would change.
    Check(GenerateArgs),
    /// Show the derived model (domains, servers, provenance) and all diagnostics.
    Inspect(InspectArgs),
    /// Check config-v1.1.xml files against what real mail clients accept.
    Validate(ValidateArgs),
    /// Print the Postfix configuration as mailconf understood it, in postconf's format.
    #[command(disable_help_flag = true)]
    Postconf(PostconfArgs),
    /// Print the Dovecot configuration as mailconf understood it, in doveconf's terms.
    #[command(disable_help_flag = true)]
    Doveconf(DoveconfArgs),
    /// Print the DNS records to publish for every hosted domain (autoconfig CNAME, RFC 6186 SRV).
    Dns(DnsArgs),
    /// Print a web server configuration that serves OUT for autoconfig.DOMAIN and DOMAIN/.well-known.
    Webserver(WebserverArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff): mailconf(1), or mailconf-COMMAND(1).
    #[command(hide = true)]
    Man(ManArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// The command whose page to print (mailconf-COMMAND(1)).
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
    /// List the commands that have a page, one per line.
    #[arg(long, conflicts_with = "command")]
    pub list: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ZoneFormat {
    /// Zone-file lines (BIND syntax), absolute names.
    Zone,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct DnsArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Host that serves the autoconfig files (target of autoconfig.DOMAIN)
    /// [default: the SMTP host name].
    #[arg(long, value_name = "NAME")]
    pub web_host: Option<String>,
    /// Time to live of the records, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub ttl: u32,
    #[arg(long, value_enum, default_value_t = ZoneFormat::Zone)]
    pub format: ZoneFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WebServer {
    Nginx,
    Apache,
    Caddy,
}

#[derive(Debug, Clone, Args)]
pub struct WebserverArgs {
    /// Which web server.
    #[arg(value_enum)]
    pub server: WebServer,
    #[command(flatten)]
    pub model: ModelArgs,
    /// The directory `mailconf generate --out` writes to.
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// TLS certificate (chain) for the autoconfig names (nginx, apache)
    /// [default: /etc/letsencrypt/live/autoconfig.FIRST-DOMAIN/fullchain.pem].
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// Its private key [default: privkey.pem beside the certificate].
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Print only the names the certificate must cover, one per line.
    #[arg(long)]
    pub names: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

/// Where the server's configuration is.
#[derive(Debug, Clone, Args)]
pub struct Inputs {
    /// Where the server's file system starts: every absolute path in the
    /// configuration is read under DIR (a copy of another server's / works).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Postfix configuration directory [default: ROOT/etc/postfix].
    #[arg(long, value_name = "DIR")]
    pub postfix_dir: Option<PathBuf>,
    /// Dovecot main configuration file [default: ROOT/etc/dovecot/dovecot.conf].
    #[arg(long, value_name = "FILE")]
    pub dovecot_conf: Option<PathBuf>,
    /// mailconf's own settings [default: ROOT/etc/mailconf/mailconf.toml, if present].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UsernameForm {
    /// The whole address (%EMAILADDRESS%).
    Address,
    /// The part before @ (%EMAILLOCALPART%).
    Localpart,
}

/// Choices that change what is derived (shared by generate, check and inspect).
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// Add a hosted domain (repeatable); useful when domains live in SQL or LDAP.
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub domains: Vec<String>,
    /// Leave a domain out (repeatable).
    #[arg(long = "exclude-domain", value_name = "DOMAIN")]
    pub exclude_domains: Vec<String>,
    /// Server host name for every domain and protocol (must match the certificates).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Login name form, instead of what the Dovecot passdb implies.
    #[arg(long, value_name = "FORM")]
    pub username: Option<UsernameForm>,
    /// Port that clients reach a service on, when NAT or a proxy publishes
    /// another port (repeatable; SERVICE is imap, imaps, pop3, pop3s,
    /// submission or submissions).
    #[arg(long = "public-port", value_name = "SERVICE=PORT")]
    pub public_ports: Vec<String>,
    /// List every usable endpoint per protocol, preferred first (most
    /// clients use only the first).
    #[arg(long)]
    pub alternatives: bool,
    /// Write files for domains that lack an incoming or an outgoing server.
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Do not connect to the SQL and LDAP servers that hold domain tables
    /// (for example when reading a copy of another server's /etc).
    #[arg(long)]
    pub no_query_databases: bool,
    /// Seconds to wait for a database server to connect or to answer a
    /// query [default: 10].
    #[arg(long, value_name = "SECONDS")]
    pub database_timeout: Option<u64>,
}

#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output directory (the web server's document root for autoconfig).
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// Show what would change, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print a unified diff of each changed file.
    #[arg(long)]
    pub diff: bool,
    /// Remove files of domains no longer hosted (only files mailconf wrote;
    /// nothing is removed while a domain table cannot be read or a hosted
    /// domain got no file).
    #[arg(long)]
    pub prune: bool,
    /// Also report unchanged files, and print notes.
    #[arg(long, short)]
    pub verbose: bool,
    /// Exit with status 2 when there is any warning (an expired or
    /// mismatching certificate, a service left out, ...), e.g. for monitoring.
    #[arg(long)]
    pub strict: bool,
    /// Output format of the summary and diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// Files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, Clone, Args)]
pub struct PostconfArgs {
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Postfix configuration directory (like postconf -c) [default: ROOT/etc/postfix].
    #[arg(long, value_name = "DIR")]
    pub postfix_dir: Option<PathBuf>,
    /// Only parameters set in main.cf.
    #[arg(short = 'n')]
    pub n: bool,
    /// Expand $name references.
    #[arg(short = 'x')]
    pub x: bool,
    /// Values only, without "name = ".
    #[arg(short = 'h')]
    pub h: bool,
    /// Built-in defaults.
    #[arg(short = 'd')]
    pub d: bool,
    /// master.cf services.
    #[arg(short = 'M')]
    pub master: bool,
    /// master.cf -o parameters.
    #[arg(short = 'P')]
    pub params: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Parameter names (or service[/type[/parameter]] with -M and -P).
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct DoveconfArgs {
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Dovecot main configuration file (like doveconf -c) [default: ROOT/etc/dovecot/dovecot.conf].
    #[arg(long, value_name = "FILE")]
    pub dovecot_conf: Option<PathBuf>,
    /// Settings that differ from the defaults (the default when no NAME is
    /// given). Namespaces, mailboxes, dicts and plugin sections are shown as
    /// written: mailconf does not know their defaults.
    #[arg(short = 'n')]
    pub n: bool,
    /// Values only.
    #[arg(short = 'h')]
    pub h: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Setting names or paths such as service/imap-login/inet_listener/imaps/port.
    pub names: Vec<String>,
}
