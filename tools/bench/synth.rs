//! Synthetic but realistic mail server trees for the benchmarks (issue 8).
//!
//! Shared by `tools/bench/gen-tree.rs` (writes a tree to disk for the
//! whole-process runs of `tools/bench/run.sh`) and the criterion benches
//! (`benches/*.rs`, which include this file with `#[path]`). Everything here
//! is a pure function of its arguments: the same N always gives the same
//! bytes, on every machine (no clock, no randomness, no environment).
//!
//! The tree is a Debian 12 Postfix + Dovecot 2.3 hosting server, modelled
//! on `fixtures/deployments/debian-submission` (whose Dovecot files are
//! reused verbatim) and `hash-multidomain`:
//!
//! * `etc/postfix/vmailbox_domains`: exactly N hosted domains, the source of
//!   the `hash:` table named by `virtual_mailbox_domains`, with comments,
//!   mixed case (about 1 %), IDN U-labels (about 0.5 %) and subdomains
//!   (about 2 %). Every one of them is valid and hosted, so a run writes
//!   exactly 2N files.
//! * `etc/postfix/virtual_alias_domains`: N/50 alias-only domains (distinct
//!   from the hosted ones), the source of `virtual_alias_domains`.
//! * `etc/postfix/sni_maps`: `tls_server_sni_maps` source, one entry for
//!   about 3 % of the hosted domains, a fifth of them `.parent` keys.
//! * `etc/dovecot/`: the full conf.d tree of debian-submission, with virtual
//!   users in a passwd-file keyed by address (`etc/dovecot/users`, at most
//!   1,000 users) instead of PAM, plus the conf.d files a Debian install
//!   also has (15-lda, 20-pop3, 90-plugin, 90-quota, auth-*.conf.ext).

#![allow(dead_code)]

use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// First halves of generated domain names.
const WORDS_A: [&str; 64] = [
    "blue", "red", "green", "north", "south", "east", "west", "sun", "moon", "star", "river",
    "lake", "stone", "iron", "silver", "gold", "oak", "pine", "maple", "cedar", "swift", "bright",
    "clear", "quiet", "happy", "urban", "alpine", "coastal", "prime", "smart", "rapid", "solid",
    "open", "true", "fair", "noble", "royal", "metro", "nova", "terra", "aqua", "pixel", "cloud",
    "data", "cyber", "eco", "bio", "agri", "medi", "tech", "web", "net", "info", "media", "studio",
    "atelier", "garten", "haus", "berg", "wald", "bucher", "muller", "kuche", "schon",
];

/// Second halves.
const WORDS_B: [&str; 64] = [
    "castle",
    "bridge",
    "harbor",
    "valley",
    "field",
    "garden",
    "market",
    "works",
    "labs",
    "systems",
    "solutions",
    "consulting",
    "design",
    "media",
    "press",
    "books",
    "foods",
    "wines",
    "coffee",
    "bakery",
    "dental",
    "clinic",
    "law",
    "finance",
    "travel",
    "tours",
    "sports",
    "fitness",
    "yoga",
    "music",
    "films",
    "photo",
    "art",
    "crafts",
    "print",
    "shop",
    "store",
    "trade",
    "logistics",
    "motors",
    "energy",
    "solar",
    "water",
    "homes",
    "realty",
    "builders",
    "academy",
    "school",
    "club",
    "verein",
    "gmbh",
    "partners",
    "group",
    "house",
    "studio",
    "team",
    "net",
    "hub",
    "point",
    "zone",
    "online",
    "digital",
    "service",
    "care",
];

/// Top-level parts (a European hosting provider). All distinct: a repeated
/// one (there were two `com` and three `de`) made names repeat beyond
/// about 300,000 domains (at 1,000,000, 174,000 were duplicates).
const TLDS: [&str; 16] = [
    "com", "be", "net", "org", "de", "it", "es", "fr", "nl", "eu", "ch", "at", "co.uk", "com.br",
    "io", "info",
];

/// Subdomain prefixes for the ~2 % of hosted names that are subdomains.
const SUBS: [&str; 4] = ["lists", "mail", "shop", "news"];

/// `2^20` distinct base names (64 * 64 * 16 * 16 numeric variants).
const SPACE: u64 = 1 << 20;

/// The `i`-th base domain name: a bijection of `0..2^20` onto names, so
/// names never repeat; beyond `2^20` a round number is added to the first
/// label. Neighbouring indexes give unrelated names (as in a real table,
/// which is sorted by customer, not by name).
fn base_name(i: u64) -> (String, &'static str) {
    let round = i / SPACE;
    // Multiplication by an odd constant is a permutation of 0..2^20.
    let x = (i % SPACE).wrapping_mul(0x9E37_79B1) % SPACE;
    let a = WORDS_A[(x & 63) as usize];
    let b = WORDS_B[((x >> 6) & 63) as usize];
    let tld = TLDS[((x >> 12) & 15) as usize];
    let variant = (x >> 16) & 15;
    let mut label = format!("{a}{b}");
    if variant > 0 {
        let _ = write!(label, "{variant}");
    }
    if round > 0 {
        let _ = write!(label, "-{round}");
    }
    (label, tld)
}

/// The `i`-th hosted domain as written in the table source (may be mixed
/// case or a U-label), for `i` in `0..n`. Unique after lower-casing and
/// IDNA mapping.
pub fn hosted_domain(i: u64) -> String {
    let (label, tld) = base_name(i);
    let h = i.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
    match h % 200 {
        // ~2 %: a subdomain of a customer domain (a separate mail domain).
        0..=3 => format!("{}.{label}.{tld}", SUBS[(h / 200 % 4) as usize]),
        // ~1 %: written with capitals, as some panels do.
        4 | 5 => {
            let mut s = format!("{label}.{tld}");
            s[..1].make_ascii_uppercase();
            s.replace(".de", ".DE").replace(".com", ".COM")
        }
        // ~0.5 %: an internationalised name written as a U-label.
        6 if label.contains('u') => format!("{}.{tld}", label.replacen('u', "ü", 1)),
        6 if label.contains('o') => format!("{}.{tld}", label.replacen('o', "ö", 1)),
        _ => format!("{label}.{tld}"),
    }
}

/// The `j`-th alias-only domain (never equal to a hosted one: the names
/// carry a `-alias` label).
pub fn alias_domain(j: u64) -> String {
    let (label, tld) = base_name(j);
    format!("{label}-alias.{tld}")
}

/// Number of alias-only domains for `n` hosted ones.
pub fn alias_count(n: u64) -> u64 {
    n / 50
}

/// `virtual_mailbox_domains` source: `n` domains, `OK` values, a header and
/// a comment before every block of 250 customers.
pub fn vmailbox_domains(n: u64) -> String {
    let mut s = String::with_capacity(n as usize * 24 + 256);
    s.push_str(
        "# Mailbox domains hosted on mx.hosting.example.\n\
         # Maintained by the control panel; after editing: postmap /etc/postfix/vmailbox_domains\n\
         \n",
    );
    for i in 0..n {
        if i % 250 == 0 && i > 0 {
            let _ = writeln!(s, "\n# customers {}-{}", i, i + 249);
        }
        let d = hosted_domain(i);
        // Align the value like hand-edited files do, some with tabs.
        if i % 7 == 0 {
            let _ = writeln!(s, "{d}\tOK");
        } else {
            let pad = 32usize.saturating_sub(d.chars().count()).max(1);
            let _ = writeln!(s, "{d}{:pad$}OK", "");
        }
    }
    s
}

/// `virtual_alias_domains` source.
pub fn virtual_alias_domains(n: u64) -> String {
    let mut s = String::from("# Alias-only domains: every address forwards elsewhere.\n");
    for j in 0..alias_count(n) {
        let _ = writeln!(s, "{}    OK", alias_domain(j));
    }
    s
}

/// `tls_server_sni_maps` source (`postmap -F`): about 3 % of the hosted
/// domains bring their own certificate; a fifth of those use a `.parent`
/// key that covers every subdomain.
pub fn sni_maps(n: u64) -> String {
    let mut s = String::from(
        "# SNI name (or .parent)   key file, then certificate chain. Built with \"postmap -F\".\n",
    );
    for i in (0..n).filter(|i| i % 33 == 5) {
        let d = hosted_domain(i).to_lowercase();
        if d.is_ascii() {
            let key = if i % 5 == 0 {
                format!(".{d}")
            } else {
                format!("mail.{d}")
            };
            let _ = writeln!(
                s,
                "{key:<40} /etc/ssl/private/{d}.key /etc/ssl/mail/{d}.pem"
            );
        }
    }
    s
}

/// `virtual_mailbox_maps` source: the postmaster of the first 100 domains
/// (the rest live in the panel's database; mailconf does not read this map
/// here because virtual_mailbox_domains is set).
pub fn vmailbox(n: u64) -> String {
    let mut s = String::from("# address                      maildir\n");
    for i in 0..n.min(100) {
        let d = hosted_domain(i).to_lowercase();
        let _ = writeln!(s, "postmaster@{d}    {d}/postmaster/");
    }
    s
}

/// `/etc/dovecot/users`: passwd-file keyed by address, at most 1,000 users.
pub fn dovecot_users(n: u64) -> String {
    let mut s = String::new();
    for i in 0..n.min(1000) {
        let d = hosted_domain(i).to_lowercase();
        let _ = writeln!(
            s,
            "info@{d}:{{CRYPT}}$2y$05$fakefakefakefakefakefuFAKEHASHnotRealAtAll0123456789ab:5000:5000::/var/vmail/{d}/info::"
        );
    }
    s
}

pub const POSTFIX_MAIN_CF: &str = "\
# See /usr/share/postfix/main.cf.dist for a commented, more complete version
# mx.hosting.example -- shared hosting, generated by tools/bench/gen-tree.

smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
biff = no

# appending .domain is the MUA's job.
append_dot_mydomain = no

readme_directory = no

# See http://www.postfix.org/COMPATIBILITY_README.html -- default to 3.6 on
# fresh installs.
compatibility_level = 3.6

# TLS parameters: the provider's own certificate ...
smtpd_tls_cert_file = /etc/ssl/certs/ssl-cert-snakeoil.pem
smtpd_tls_key_file = /etc/ssl/private/ssl-cert-snakeoil.key
smtpd_tls_security_level = may
# ... and per-customer certificates chosen by SNI.
tls_server_sni_maps = hash:/etc/postfix/sni_maps

smtp_tls_CApath = /etc/ssl/certs
smtp_tls_security_level = may
smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache

# SMTP AUTH through Dovecot; enabled per service in master.cf.
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth

smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
smtpd_recipient_restrictions =
    permit_mynetworks,
    permit_sasl_authenticated,
    reject_unauth_destination,
    reject_unknown_recipient_domain
myhostname = mx.hosting.example
mydomain = hosting.example
alias_maps = hash:/etc/aliases
alias_database = hash:/etc/aliases
myorigin = /etc/mailname
mydestination = $myhostname, localhost.$mydomain, localhost
relayhost =
mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128
mailbox_size_limit = 0
recipient_delimiter = +
inet_interfaces = all
inet_protocols = all

# Hosted mailbox domains (the panel writes the table), delivered by Dovecot.
virtual_mailbox_domains = hash:/etc/postfix/vmailbox_domains
virtual_mailbox_maps = hash:/etc/postfix/vmailbox
virtual_transport = lmtp:unix:private/dovecot-lmtp

# Alias-only domains.
virtual_alias_domains = hash:/etc/postfix/virtual_alias_domains
";

pub const POSTFIX_MASTER_CF: &str =
    include_str!("../../fixtures/deployments/debian-submission/case.in/etc/postfix/master.cf");

/// The Dovecot files: (path under the root, content).
pub fn dovecot_files() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "etc/dovecot/dovecot.conf",
            include_str!(
                "../../fixtures/deployments/debian-submission/case.in/etc/dovecot/dovecot.conf"
            ),
        ),
        ("etc/dovecot/conf.d/10-auth.conf", DOVECOT_10_AUTH),
        (
            "etc/dovecot/conf.d/10-logging.conf",
            include_str!(
                "../../fixtures/deployments/debian-submission/case.in/etc/dovecot/conf.d/10-logging.conf"
            ),
        ),
        ("etc/dovecot/conf.d/10-mail.conf", DOVECOT_10_MAIL),
        (
            "etc/dovecot/conf.d/10-master.conf",
            include_str!(
                "../../fixtures/deployments/debian-submission/case.in/etc/dovecot/conf.d/10-master.conf"
            ),
        ),
        (
            "etc/dovecot/conf.d/10-ssl.conf",
            include_str!(
                "../../fixtures/deployments/debian-submission/case.in/etc/dovecot/conf.d/10-ssl.conf"
            ),
        ),
        ("etc/dovecot/conf.d/15-lda.conf", DOVECOT_15_LDA),
        (
            "etc/dovecot/conf.d/15-mailboxes.conf",
            include_str!(
                "../../fixtures/deployments/debian-submission/case.in/etc/dovecot/conf.d/15-mailboxes.conf"
            ),
        ),
        (
            "etc/dovecot/conf.d/20-imap.conf",
            include_str!(
                "../../fixtures/deployments/debian-submission/case.in/etc/dovecot/conf.d/20-imap.conf"
            ),
        ),
        (
            "etc/dovecot/conf.d/20-lmtp.conf",
            include_str!(
                "../../fixtures/deployments/debian-submission/case.in/etc/dovecot/conf.d/20-lmtp.conf"
            ),
        ),
        ("etc/dovecot/conf.d/20-pop3.conf", DOVECOT_20_POP3),
        ("etc/dovecot/conf.d/90-plugin.conf", DOVECOT_90_PLUGIN),
        ("etc/dovecot/conf.d/90-quota.conf", DOVECOT_90_QUOTA),
        (
            "etc/dovecot/conf.d/auth-system.conf.ext",
            include_str!(
                "../../fixtures/deployments/debian-submission/case.in/etc/dovecot/conf.d/auth-system.conf.ext"
            ),
        ),
        (
            "etc/dovecot/conf.d/auth-passwdfile.conf.ext",
            DOVECOT_AUTH_PASSWDFILE,
        ),
        ("etc/dovecot/conf.d/auth-sql.conf.ext", DOVECOT_AUTH_SQL),
        (
            "etc/dovecot/conf.d/auth-static.conf.ext",
            DOVECOT_AUTH_STATIC,
        ),
        (
            "usr/share/dovecot/protocols.d/imapd.protocol",
            "protocols = $protocols imap\n",
        ),
        (
            "usr/share/dovecot/protocols.d/lmtpd.protocol",
            "protocols = $protocols lmtp\n",
        ),
        (
            "usr/share/dovecot/protocols.d/pop3d.protocol",
            "protocols = $protocols pop3\n",
        ),
    ]
}

const DOVECOT_10_AUTH: &str = "\
##
## Authentication processes
##

# Refuse the LOGIN command and other plaintext authentication unless the
# connection uses SSL/TLS (or comes from a trusted network).
#disable_plaintext_auth = yes

# Cache for passdb/userdb lookups; 0 disables it.
auth_cache_size = 10M
#auth_cache_ttl = 1 hour

# Format applied to the user name before the passdb/userdb lookup.
# %Lu lower-cases the whole name (\"user@domain\").
auth_username_format = %Lu

# Space separated list of authentication mechanisms. Besides \"plain\" there
# are login, cram-md5, digest-md5, scram-sha-1, scram-sha-256, gssapi, ntlm ...
auth_mechanisms = plain login

##
## Password and user databases
##

#!include auth-deny.conf.ext
#!include auth-master.conf.ext

#!include auth-system.conf.ext
#!include auth-sql.conf.ext
#!include auth-ldap.conf.ext
!include auth-passwdfile.conf.ext
#!include auth-checkpassword.conf.ext
#!include auth-static.conf.ext
";

const DOVECOT_10_MAIL: &str = "\
##
## Mailbox locations and namespaces
##

# Virtual users: one Maildir per address under /var/vmail/DOMAIN/USER.
mail_location = maildir:/var/vmail/%d/%n/Maildir

namespace inbox {
  inbox = yes
  #separator =
}

mail_uid = vmail
mail_gid = vmail
first_valid_uid = 5000
last_valid_uid = 5000

# Group needed to write to /var/mail.
mail_privileged_group = mail

#mail_plugins =
";

const DOVECOT_15_LDA: &str = "\
##
## LDA specific settings (also used by LMTP)
##

# Address to use when sending rejection mails.
#postmaster_address = postmaster@%d

# Hostname to use in various parts of sent mails.
#hostname =

# Should saving a mail to a nonexistent mailbox automatically create it?
lda_mailbox_autocreate = yes
lda_mailbox_autosubscribe = yes

protocol lda {
  # Space separated list of plugins to load.
  #mail_plugins = $mail_plugins
}
";

const DOVECOT_20_POP3: &str = "\
##
## POP3 specific settings (shipped by dovecot-pop3d)
##

# Don't try to set mails non-recent or seen with POP3 sessions.
#pop3_no_flag_updates = no

# Workarounds for various client bugs.
pop3_client_workarounds = outlook-no-nuls oe-ns-eoh

protocol pop3 {
  # Space separated list of plugins to load.
  #mail_plugins = $mail_plugins

  # Maximum number of POP3 connections allowed for a user from each IP address.
  #mail_max_userip_connections = 10
}
";

const DOVECOT_90_PLUGIN: &str = "\
##
## Plugin settings
##

# All wanted plugins must be listed in mail_plugins setting before any of the
# settings take effect.

plugin {
  #setting_name = value
}
";

const DOVECOT_90_QUOTA: &str = "\
##
## Quota configuration.
##

# Quota limits are set using \"quota_rule\" parameters.
plugin {
  #quota_rule = *:storage=1G
  #quota_rule2 = Trash:storage=+100M
}

# Quota warnings.
plugin {
  #quota_warning = storage=95%% quota-warning 95 %u
}

# Quota backends.
plugin {
  #quota = dirsize:User quota
  #quota = maildir:User quota
}
";

const DOVECOT_AUTH_PASSWDFILE: &str = "\
# Authentication for passwd-file users. Included from 10-auth.conf.
#
# passwd-like file with specified location.
# <doc/wiki/AuthDatabase.PasswdFile.txt>

passdb {
  driver = passwd-file
  args = scheme=CRYPT username_format=%u /etc/dovecot/users
}

userdb {
  driver = passwd-file
  args = username_format=%u /etc/dovecot/users

  # Default fields that can be overridden by passwd-file
  default_fields = uid=vmail gid=vmail home=/var/vmail/%d/%n

  # Override fields from passwd-file
  #override_fields = home=/home/virtual/%u
}
";

const DOVECOT_AUTH_SQL: &str = "\
# Authentication for SQL users. Included from 10-auth.conf.
#
# <doc/wiki/AuthDatabase.SQL.txt>

passdb {
  driver = sql

  # Path for SQL configuration file, see example-config/dovecot-sql.conf.ext
  args = /etc/dovecot/dovecot-sql.conf.ext
}

userdb {
  driver = sql
  args = /etc/dovecot/dovecot-sql.conf.ext
}
";

const DOVECOT_AUTH_STATIC: &str = "\
# Static passdb. Included from 10-auth.conf.

#passdb {
#  driver = static
#  args = password=test
#}

#userdb {
#  driver = static
#  args = uid=vmail gid=vmail home=/home/%u
#}
";

/// Every text file of the tree for `n` domains: (path under the root,
/// content).
pub fn tree_files(n: u64) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![
        ("etc/hostname".into(), "mx\n".into()),
        ("etc/mailname".into(), "mx.hosting.example\n".into()),
        (
            "etc/aliases".into(),
            "# See man 5 aliases for format\npostmaster:    root\nabuse:         root\n".into(),
        ),
        ("etc/postfix/main.cf".into(), POSTFIX_MAIN_CF.into()),
        ("etc/postfix/master.cf".into(), POSTFIX_MASTER_CF.into()),
        ("etc/postfix/vmailbox_domains".into(), vmailbox_domains(n)),
        (
            "etc/postfix/virtual_alias_domains".into(),
            virtual_alias_domains(n),
        ),
        ("etc/postfix/sni_maps".into(), sni_maps(n)),
        ("etc/postfix/vmailbox".into(), vmailbox(n)),
        ("etc/dovecot/users".into(), dovecot_users(n)),
    ];
    for (p, t) in dovecot_files() {
        out.push((p.to_string(), t.to_string()));
    }
    out
}

/// Writes the tree for `n` domains under `root` (which must not exist or be
/// empty). Also Debian's absolute certificate links under
/// `etc/dovecot/private/`, as in the deployment fixtures.
pub fn write_tree(root: &Path, n: u64) -> io::Result<()> {
    for (rel, text) in tree_files(n) {
        let p = root.join(&rel);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&p, text)?;
    }
    let private = root.join("etc/dovecot/private");
    std::fs::create_dir_all(&private)?;
    for (name, target) in [
        ("dovecot.pem", "/etc/ssl/certs/ssl-cert-snakeoil.pem"),
        ("dovecot.key", "/etc/ssl/private/ssl-cert-snakeoil.key"),
    ] {
        let link = private.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(target, &link)?;
    }
    Ok(())
}

/// A `main.cf` of about `lines` lines for the parser benchmark: blocks in
/// the style of main.cf.dist (half comments), single-line settings with
/// `$name` references, and multi-line (continued) restriction lists.
pub fn big_main_cf(lines: usize) -> String {
    let mut s = String::with_capacity(lines * 40);
    let mut count = 0usize;
    let mut block = 0usize;
    while count < lines {
        // `\x20` keeps the indentation of continued lines (a `\` at the
        // end of a Rust string line would eat it).
        let chunk = format!(
            "\n\
# SOFT BOUNCE (block {block})\n\
#\n\
# The soft_bounce parameter provides a limited safety net for\n\
# testing.  When soft_bounce is enabled, mail will remain queued that\n\
# would otherwise bounce.\n\
#\n\
#soft_bounce = no\n\
\n\
# LOCAL PATHNAME INFORMATION\n\
queue_directory = /var/spool/postfix\n\
command_directory = /usr/sbin\n\
daemon_directory = /usr/lib/postfix/sbin\n\
data_directory = /var/lib/postfix\n\
mail_owner = postfix\n\
myhostname = host.example.net\n\
mydomain = example.net\n\
myorigin = $mydomain\n\
mydestination = $myhostname, localhost.$mydomain, localhost, ${{mydomain}}\n\
smtpd_banner = $myhostname ESMTP $mail_name ($mail_version)\n\
smtpd_recipient_restrictions =\n\
\x20   permit_mynetworks,\n\
\x20   permit_sasl_authenticated,\n\
\x20   reject_unauth_destination,\n\
\x20   check_policy_service unix:private/policy,\n\
\x20   reject_rbl_client zen.spamhaus.org\n\
virtual_mailbox_domains = hash:/etc/postfix/vmailbox_domains, example.com,\n\
\texample.net example.org\n\
user_param_{block} = ${{myhostname?{{$mydomain}}:{{localhost}}}} ${{user_param_{prev}}}\n\
smtpd_tls_chain_files = /etc/ssl/private/mx.key, /etc/ssl/certs/mx.pem\n\
",
            prev = block.saturating_sub(1),
        );
        count += chunk.lines().count();
        s.push_str(&chunk);
        block += 1;
    }
    s
}
