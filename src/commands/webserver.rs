//! `mailconf webserver nginx|apache|caddy`: a configuration that serves
//! the generated files where clients look for them
//! (autoconfig-format.md §4.4): `https://autoconfig.D/mail/config-v1.1.xml`
//! and `https://D/.well-known/autoconfig/mail/config-v1.1.xml`, with
//! `Content-Type: application/xml` and a real 404 for anything else.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::load::load;
use super::{EXIT_ERROR, EXIT_OK, print_diagnostics};
use crate::cli::{WebServer, WebserverArgs};

/// The names a TLS certificate must cover: autoconfig.D, and D for the
/// .well-known path.
pub fn cert_names(domains: &[String]) -> Vec<String> {
    let mut v: Vec<String> = domains.iter().map(|d| format!("autoconfig.{d}")).collect();
    v.extend(domains.iter().cloned());
    v
}

fn nginx(domains: &[String], out: &Path, cert: &Path, key: &Path) -> String {
    let mut s = String::new();
    let out = out.display();
    let _ = writeln!(
        s,
        "# Serves the files of `mailconf generate --out {out}` (made by mailconf)."
    );
    let _ = writeln!(
        s,
        "# The certificate must cover: {}",
        cert_names(domains).join(" ")
    );
    let _ = writeln!(
        s,
        "# Include it in the http {{ }} context (e.g. /etc/nginx/conf.d/)."
    );
    let _ = writeln!(s, "map $host $mailconf_domain {{");
    let _ = writeln!(s, "    default \"\";");
    for d in domains {
        let _ = writeln!(s, "    autoconfig.{d} {d};");
    }
    let _ = writeln!(s, "}}");
    let _ = writeln!(s);
    let _ = writeln!(s, "server {{");
    let _ = writeln!(s, "    listen 443 ssl;");
    let _ = writeln!(s, "    listen [::]:443 ssl;");
    let _ = writeln!(
        s,
        "    server_name {};",
        domains
            .iter()
            .map(|d| format!("autoconfig.{d}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = writeln!(s, "    ssl_certificate {};", cert.display());
    let _ = writeln!(s, "    ssl_certificate_key {};", key.display());
    let _ = writeln!(s, "    # autoconfig.DOMAIN -> {out}/DOMAIN");
    let _ = writeln!(s, "    root {out}/$mailconf_domain;");
    let _ = writeln!(s, "    location = /mail/config-v1.1.xml {{");
    let _ = writeln!(s, "        types {{ }}");
    let _ = writeln!(s, "        default_type application/xml;");
    let _ = writeln!(s, "        try_files $uri =404;");
    let _ = writeln!(s, "    }}");
    let _ = writeln!(s, "    location / {{");
    let _ = writeln!(s, "        return 404;");
    let _ = writeln!(s, "    }}");
    let _ = writeln!(s, "}}");
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "# For https://DOMAIN/.well-known/autoconfig/mail/config-v1.1.xml, add this"
    );
    let _ = writeln!(
        s,
        "# location to the server block of each domain ({}):",
        domains.join(", ")
    );
    let _ = writeln!(s, "#");
    let _ = writeln!(
        s,
        "#    location = /.well-known/autoconfig/mail/config-v1.1.xml {{"
    );
    let _ = writeln!(s, "#        root {out}/$host;");
    let _ = writeln!(s, "#        types {{ }}");
    let _ = writeln!(s, "#        default_type application/xml;");
    let _ = writeln!(s, "#        try_files $uri =404;");
    let _ = writeln!(s, "#    }}");
    s
}

fn apache(domains: &[String], out: &Path, cert: &Path, key: &Path) -> String {
    let mut s = String::new();
    let out = out.display();
    let _ = writeln!(
        s,
        "# Serves the files of `mailconf generate --out {out}` (made by mailconf)."
    );
    let _ = writeln!(s, "# Needs mod_ssl and mod_alias.");
    let _ = writeln!(
        s,
        "# The certificate must cover: {}",
        cert_names(domains).join(" ")
    );
    // One grant for the whole tree: the autoconfig.D hosts and the Alias
    // lines of the domains' own hosts (below) both read from it, and
    // Debian's `<Directory /> Require all denied` refuses everything else.
    let _ = writeln!(s, "<Directory \"{out}\">");
    let _ = writeln!(s, "    Require all granted");
    let _ = writeln!(s, "    Options None");
    let _ = writeln!(s, "    AllowOverride None");
    let _ = writeln!(s, "    <Files \"config-v1.1.xml\">");
    let _ = writeln!(s, "        ForceType application/xml");
    let _ = writeln!(s, "    </Files>");
    let _ = writeln!(s, "</Directory>");
    for d in domains {
        let _ = writeln!(s, "<VirtualHost *:443>");
        let _ = writeln!(s, "    ServerName autoconfig.{d}");
        let _ = writeln!(s, "    DocumentRoot \"{out}/{d}\"");
        let _ = writeln!(s, "    SSLEngine on");
        let _ = writeln!(s, "    SSLCertificateFile \"{}\"", cert.display());
        let _ = writeln!(s, "    SSLCertificateKeyFile \"{}\"", key.display());
        let _ = writeln!(
            s,
            "    RedirectMatch 404 \"^/(?!mail/config-v1\\.1\\.xml$)\""
        );
        let _ = writeln!(s, "</VirtualHost>");
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "# For https://DOMAIN/.well-known/autoconfig/mail/config-v1.1.xml, add to the"
    );
    let _ = writeln!(s, "# virtual host of each domain:");
    for d in domains {
        let _ = writeln!(
            s,
            "#   {d}: Alias /.well-known/autoconfig/mail/config-v1.1.xml \"{out}/{d}/.well-known/autoconfig/mail/config-v1.1.xml\""
        );
    }
    s
}

fn caddy(domains: &[String], out: &Path) -> String {
    let mut s = String::new();
    let out = out.display();
    let _ = writeln!(
        s,
        "# Serves the files of `mailconf generate --out {out}` (made by mailconf)."
    );
    let _ = writeln!(s, "# Caddy obtains the certificates itself.");
    for d in domains {
        let _ = writeln!(s, "autoconfig.{d} {{");
        let _ = writeln!(s, "\troot * {out}/{d}");
        let _ = writeln!(s, "\t@config path /mail/config-v1.1.xml");
        let _ = writeln!(s, "\thandle @config {{");
        let _ = writeln!(s, "\t\theader Content-Type application/xml");
        let _ = writeln!(s, "\t\tfile_server");
        let _ = writeln!(s, "\t}}");
        let _ = writeln!(s, "\thandle {{");
        let _ = writeln!(s, "\t\trespond 404");
        let _ = writeln!(s, "\t}}");
        let _ = writeln!(s, "}}");
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "# For https://DOMAIN/.well-known/autoconfig/mail/config-v1.1.xml, add to each"
    );
    let _ = writeln!(s, "# domain's site block:");
    let _ = writeln!(
        s,
        "#   handle /.well-known/autoconfig/mail/config-v1.1.xml {{"
    );
    let _ = writeln!(s, "#       root * {out}/{{host}}");
    let _ = writeln!(s, "#       header Content-Type application/xml");
    let _ = writeln!(s, "#       file_server");
    let _ = writeln!(s, "#   }}");
    s
}

pub fn run(args: &WebserverArgs) -> i32 {
    let mut loaded = match load(&args.model) {
        Ok(l) => l,
        Err((sources, diags)) => {
            print_diagnostics(&diags, &sources, false);
            return EXIT_ERROR;
        }
    };
    let model = loaded.model();
    print_diagnostics(&loaded.diags, &loaded.sources, false);
    let domains: Vec<String> = model.domains.iter().map(|d| d.name.clone()).collect();
    if domains.is_empty() {
        return EXIT_ERROR;
    }
    if args.names {
        let mut names = cert_names(&domains).join("\n");
        names.push('\n');
        super::emit(&names);
        return EXIT_OK;
    }
    let out = std::path::absolute(&args.out).unwrap_or_else(|_| args.out.clone());
    let cert = args.tls_cert.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "/etc/letsencrypt/live/autoconfig.{}/fullchain.pem",
            domains[0]
        ))
    });
    let key = args
        .tls_key
        .clone()
        .unwrap_or_else(|| cert.with_file_name("privkey.pem"));
    let text = match args.server {
        WebServer::Nginx => nginx(&domains, &out, &cert, &key),
        WebServer::Apache => apache(&domains, &out, &cert, &key),
        WebServer::Caddy => caddy(&domains, &out),
    };
    super::emit(&text);
    EXIT_OK
}
