//! `mailconf validate` (rule M10): checks a `config-v1.1.xml` against what
//! real clients enforce (autoconfig-format.md §1, §2.3, §2.4, §6.5). Works
//! on any file, including ones mailconf did not write; each finding names
//! the element's position.

use mailconf_parsers::Severity;

use super::dom::{Element, parse};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub id: &'static str,
    /// Byte offset in the file.
    pub offset: usize,
    pub message: String,
}

struct Checker {
    out: Vec<Finding>,
}

impl Checker {
    fn err(&mut self, id: &'static str, at: usize, msg: impl Into<String>) {
        self.out.push(Finding {
            severity: Severity::Error,
            id,
            offset: at,
            message: msg.into(),
        });
    }
    fn warn(&mut self, id: &'static str, at: usize, msg: impl Into<String>) {
        self.out.push(Finding {
            severity: Severity::Warning,
            id,
            offset: at,
            message: msg.into(),
        });
    }
}

const VALUE_ELEMENTS: &[&str] = &[
    "domain",
    "displayName",
    "displayShortName",
    "hostname",
    "port",
    "socketType",
    "authentication",
    "username",
];

const AUTH_VALUES: &[&str] = &[
    "password-cleartext",
    "password-encrypted",
    "OAuth2",
    "GSSAPI",
    "NTLM",
    "TLS-client-cert",
    "client-IP-address",
    "none",
    "smtp-after-pop",
    "plain",
    "secure",
];

const PLACEHOLDERS: &[&str] = &["EMAILADDRESS", "EMAILLOCALPART", "EMAILDOMAIN", "REALNAME"];

/// LDH host name, at least one dot, ASCII, no trailing dot needed.
fn is_ascii_hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// Checks a document's text.
pub fn validate(text: &str) -> Vec<Finding> {
    let mut c = Checker { out: Vec::new() };
    if text.starts_with('\u{feff}') {
        c.err("xml_bom", 0, "the file starts with a byte order mark (BOM): Thunderbird's ISPDB and the draft forbid it");
    }
    let body = text.trim_start_matches('\u{feff}');
    let shift = text.len() - body.len();
    let root = match parse(body) {
        Ok(r) => r,
        Err(e) => {
            c.err(
                "xml_not_well_formed",
                e.offset + shift,
                format!("not well-formed XML: {}", e.message),
            );
            return c.out;
        }
    };
    check_document(&mut c, &root, shift);
    c.out.sort_by_key(|f| f.offset);
    c.out
}

fn check_namespaces(c: &mut Checker, root: &Element, shift: usize) {
    // A work list, not recursion: the tree may be arbitrarily deep.
    let mut todo = vec![root];
    while let Some(e) = todo.pop() {
        check_namespace(c, e, shift);
        todo.extend(e.children.iter().rev());
    }
}

fn check_namespace(c: &mut Checker, e: &Element, shift: usize) {
    if e.name.contains(':')
        || e.attrs
            .iter()
            .any(|(n, _)| n == "xmlns" || n.starts_with("xmlns:"))
    {
        c.err(
            "xml_namespace",
            e.offset + shift,
            format!(
                "<{}> uses an XML namespace: clients look elements up by plain name",
                e.name
            ),
        );
    }
}

fn check_document(c: &mut Checker, root: &Element, shift: usize) {
    let at = |e: &Element| e.offset + shift;
    check_namespaces(c, root, shift);
    if root.name != "clientConfig" {
        c.err(
            "wrong_root",
            at(root),
            format!("the root element is <{}>, not <clientConfig>", root.name),
        );
        return;
    }
    match root.attr("version") {
        Some("1.1") => {}
        Some(v) => c.warn(
            "version",
            at(root),
            format!("version=\"{v}\": write 1.1 (clients ignore it, some validators insist)"),
        ),
        None => c.warn(
            "version",
            at(root),
            "no version attribute: write version=\"1.1\"",
        ),
    }
    let providers: Vec<&Element> = root.children_named("emailProvider").collect();
    if providers.len() != 1 {
        c.err(
            "email_provider_count",
            at(root),
            format!("there must be exactly one <emailProvider>, found {} (clients disagree on which one they read)", providers.len()),
        );
    }
    let Some(p) = providers.first() else { return };
    match p.attr("id") {
        Some(id) if is_ascii_hostname(id) && !id.contains('%') => {}
        Some(id) => c.err(
            "provider_id",
            at(p),
            format!("emailProvider id=\"{id}\" is not a literal ASCII host name: Thunderbird for Android rejects the file"),
        ),
        None => c.err("provider_id", at(p), "<emailProvider> has no id: Thunderbird rejects the file"),
    }
    let domains: Vec<&Element> = p.children_named("domain").collect();
    if !domains
        .iter()
        .any(|d| is_ascii_hostname(d.text.trim()) && d.attrs.is_empty())
    {
        c.err(
            "no_domain",
            at(p),
            "no valid <domain> (a literal ASCII domain name) in <emailProvider>",
        );
    }
    if let Some(d) = p.children_named("displayName").next()
        && d.text.chars().count() > 30
    {
        c.warn(
            "display_name_long",
            at(d),
            "displayName is longer than 30 characters (the draft says at most 60, better 30)",
        );
    }
    if let Some(d) = p.children_named("displayShortName").next()
        && d.text.chars().count() > 12
    {
        c.warn(
            "display_short_name_long",
            at(d),
            "displayShortName is longer than 12 characters",
        );
    }
    check_values(c, p, shift);
    let incoming: Vec<&Element> = p.children_named("incomingServer").collect();
    let outgoing: Vec<&Element> = p.children_named("outgoingServer").collect();
    let mut valid_in = 0;
    let mut valid_out = 0;
    let mut count = std::collections::BTreeMap::new();
    for s in incoming.iter().chain(outgoing.iter()) {
        let kind = s.attr("type").unwrap_or("");
        *count.entry((s.name.clone(), kind.to_string())).or_insert(0) += 1;
        let known = match (s.name.as_str(), kind) {
            ("incomingServer", "imap" | "pop3") | ("outgoingServer", "smtp") => true,
            ("incomingServer", _) | ("outgoingServer", _) => false,
            _ => false,
        };
        if !known {
            c.warn(
                "server_type",
                at(s),
                format!("<{} type=\"{kind}\">: a type most clients skip", s.name),
            );
            continue;
        }
        if check_server(c, s, shift) {
            if s.name == "incomingServer" {
                valid_in += 1;
            } else {
                valid_out += 1;
            }
        }
        if kind == "pop3" && !incoming.iter().any(|i| i.attr("type") == Some("imap")) {
            c.warn(
                "pop3_only",
                at(s),
                "only POP3 is offered: Thunderbird for Android and several other clients need IMAP",
            );
        }
    }
    for ((name, kind), n) in count {
        if n > 1 {
            c.warn(
                "several_entries",
                at(p),
                format!("{n} <{name} type=\"{kind}\"> entries: clients disagree on which one they use (Evolution and FairEmail take the last)"),
            );
        }
    }
    if valid_in == 0 {
        c.err(
            "no_incoming_server",
            at(p),
            "no valid incoming server: Thunderbird rejects the file",
        );
    }
    if valid_out == 0 {
        c.err(
            "no_outgoing_server",
            at(p),
            "no valid SMTP server: Thunderbird and Thunderbird for Android reject the file",
        );
    }
}

/// Rules for every value element: no attributes, no empty text, no
/// surrounding whitespace, no comments inside, known placeholders only.
fn check_values(c: &mut Checker, root: &Element, shift: usize) {
    // A work list, not recursion: the tree may be arbitrarily deep (the
    // findings are sorted by offset afterwards).
    let mut todo = vec![root];
    while let Some(e) = todo.pop() {
        for ch in &e.children {
            check_value(c, ch, shift);
            todo.push(ch);
        }
    }
}

fn check_value(c: &mut Checker, ch: &Element, shift: usize) {
    let at = ch.offset + shift;
    if ch.name == "password" {
        c.err("password_element", at, "<password> must never be published");
    }
    if VALUE_ELEMENTS.contains(&ch.name.as_str()) {
        let draft_hint = ch.name == "authentication" && ch.attrs.iter().all(|(n, _)| n == "system");
        if !ch.attrs.is_empty() && !draft_hint {
            c.err(
                "attribute_on_value",
                at,
                format!(
                    "<{}> has an attribute: Thunderbird then cannot read the value",
                    ch.name
                ),
            );
        }
        if ch.text.is_empty() && ch.children.is_empty() {
            c.err(
                "empty_element",
                at,
                format!(
                    "<{}> is empty: Thunderbird reads an empty element as the text \"true\"",
                    ch.name
                ),
            );
        } else if ch.text.trim() != ch.text {
            c.err(
                "whitespace_in_value",
                at,
                format!(
                    "<{}> has spaces or line breaks around its value: clients compare it exactly",
                    ch.name
                ),
            );
        }
        if !ch.children.is_empty() || ch.odd_content {
            c.err("markup_in_value", at, format!("<{}> holds elements, comments or CDATA: Thunderbird for Android rejects the file", ch.name));
        }
        check_placeholders(c, ch, at);
    }
    if ch.name == "useGlobalPreferredServer" && ch.text.trim().eq_ignore_ascii_case("true") {
        c.warn(
            "use_global_preferred_server",
            at,
            "useGlobalPreferredServer is true: Thunderbird then ignores this SMTP server",
        );
    }
}

fn check_placeholders(c: &mut Checker, e: &Element, at: usize) {
    let t = &e.text;
    let mut rest = t.as_str();
    while let Some(i) = rest.find('%') {
        let after = &rest[i + 1..];
        match after.find('%') {
            Some(j) => {
                let name = &after[..j];
                if !PLACEHOLDERS.contains(&name) {
                    c.err(
                        "unknown_placeholder",
                        at,
                        format!("unknown placeholder %{name}% in <{}>", e.name),
                    );
                } else if e.name != "username" && e.name != "displayName" {
                    c.warn(
                        "placeholder_outside_username",
                        at,
                        format!(
                            "placeholder %{name}% in <{}>: write literal names there",
                            e.name
                        ),
                    );
                } else if name == "EMAILDOMAIN" {
                    c.warn("placeholder_emaildomain", at, "%EMAILDOMAIN% is expanded to nothing by Evolution and kept literally by FairEmail");
                }
                rest = &after[j + 1..];
            }
            None => {
                c.err(
                    "unterminated_placeholder",
                    at,
                    format!("`%` without a closing `%` in <{}>", e.name),
                );
                break;
            }
        }
    }
}

/// One server entry; true when it is complete and valid.
fn check_server(c: &mut Checker, s: &Element, shift: usize) -> bool {
    let at = s.offset + shift;
    let mut ok = true;
    let order = [
        "hostname",
        "port",
        "socketType",
        "authentication",
        "username",
    ];
    for req in order {
        if s.children_named(req).next().is_none() {
            c.err(
                "server_incomplete",
                at,
                format!(
                    "<{}> has no <{req}>: Thunderbird for Android rejects the file",
                    s.name
                ),
            );
            ok = false;
        }
    }
    if let Some(h) = s.children_named("hostname").next() {
        let v = h.text.trim();
        if !v.is_ascii() {
            c.err(
                "hostname_not_ascii",
                h.offset + shift,
                format!("hostname `{v}` is not ASCII: write the A-label (punycode) form"),
            );
            ok = false;
        } else if !is_ascii_hostname(v)
            && v.parse::<std::net::IpAddr>().is_err()
            && !v.contains('%')
        {
            c.err(
                "bad_hostname",
                h.offset + shift,
                format!("`{v}` is not a host name"),
            );
            ok = false;
        }
    }
    if let Some(p) = s.children_named("port").next() {
        match p.text.trim().parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => {}
            _ => {
                c.err(
                    "bad_port",
                    p.offset + shift,
                    format!("port `{}` is not a number from 1 to 65535", p.text),
                );
                ok = false;
            }
        }
    }
    for st in s.children_named("socketType") {
        match st.text.as_str() {
            "SSL" | "STARTTLS" => {}
            "plain" => {
                c.err("plain_socket", st.offset + shift, "socketType plain: Thunderbird for Android rejects the whole file, and passwords would cross the network in clear");
                ok = false;
            }
            v => {
                c.err("bad_socket_type", st.offset + shift, format!("socketType `{v}` is not SSL or STARTTLS (case matters): Thunderbird for Android rejects the whole file"));
                ok = false;
            }
        }
    }
    let auths: Vec<&Element> = s.children_named("authentication").collect();
    let mut usable = false;
    for a in &auths {
        let v = a.text.as_str();
        if !AUTH_VALUES.contains(&v) {
            if a.attr("system").is_none() {
                c.err(
                    "bad_authentication",
                    a.offset + shift,
                    format!("authentication `{v}` is not a value clients know"),
                );
            }
            continue;
        }
        match v {
            "password-cleartext" => usable = true,
            "password-encrypted" => {
                usable = true;
                c.warn("password_encrypted", a.offset + shift, "password-encrypted means CRAM-MD5 to every client; it works only if both IMAP/POP3 and SMTP offer CRAM-MD5");
            }
            "OAuth2" | "GSSAPI" | "NTLM" => {
                usable = true;
                c.warn("special_authentication", a.offset + shift, format!("{v} works only in special set-ups (clients need provider data, Kerberos or NTLM)"));
            }
            "plain" | "secure" => {
                usable = true;
                c.warn(
                    "legacy_authentication",
                    a.offset + shift,
                    format!("`{v}` is a deprecated spelling that Thunderbird for Android ignores"),
                );
            }
            _ => {}
        }
    }
    if !auths.is_empty() && !usable {
        c.err(
            "no_usable_authentication",
            at,
            "none of the authentication values is one a client can log in with a password",
        );
        ok = false;
    }
    // FairEmail derives TLS from the port unless socketType comes after it.
    let positions: Vec<usize> = order
        .iter()
        .filter_map(|n| s.children.iter().position(|ch| ch.name == *n))
        .collect();
    if positions.windows(2).any(|w| w[0] > w[1]) {
        c.warn("element_order", at, "write hostname, port, socketType, authentication, username in this order (FairEmail reads the port before socketType)");
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.org">
    <domain>example.org</domain>
    <incomingServer type="imap">
      <hostname>mail.example.org</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>mail.example.org</hostname>
      <port>465</port>
      <socketType>SSL</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"#;

    fn ids(text: &str) -> Vec<&'static str> {
        validate(text)
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.id)
            .collect()
    }

    #[test]
    fn good_file_passes() {
        assert!(validate(GOOD).is_empty(), "{:?}", validate(GOOD));
    }

    #[test]
    fn client_breaking_defects_are_errors() {
        let cases = [
            (
                GOOD.replacen(
                    "<socketType>SSL</socketType>",
                    "<socketType>plain</socketType>",
                    1,
                ),
                "plain_socket",
            ),
            (
                GOOD.replace("id=\"example.org\"", "id=\"%EMAILDOMAIN%\""),
                "provider_id",
            ),
            (
                GOOD.replacen("<username>%EMAILADDRESS%</username>", "", 1),
                "server_incomplete",
            ),
            (
                GOOD.replacen(
                    "<username>%EMAILADDRESS%</username>",
                    "<username></username>",
                    1,
                ),
                "empty_element",
            ),
            (format!("\u{feff}{GOOD}"), "xml_bom"),
            (
                GOOD.replacen(
                    "<socketType>SSL</socketType>",
                    "<socketType>TLS</socketType>",
                    1,
                ),
                "bad_socket_type",
            ),
            (GOOD.replace("outgoingServer", "x"), "no_outgoing_server"),
            (
                GOOD.replacen("<port>993</port>", "<port>70000</port>", 1),
                "bad_port",
            ),
            (
                GOOD.replacen("%EMAILADDRESS%", "%EMAILADRESS%", 1),
                "unknown_placeholder",
            ),
            (
                GOOD.replacen(
                    "<hostname>mail.example.org</hostname>",
                    "<hostname> mail.example.org</hostname>",
                    1,
                ),
                "whitespace_in_value",
            ),
            (
                GOOD.replacen("<hostname>", "<hostname a=\"b\">", 1),
                "attribute_on_value",
            ),
            (GOOD.replace("</clientConfig>", ""), "xml_not_well_formed"),
            (
                GOOD.replacen("password-cleartext", "password", 1),
                "bad_authentication",
            ),
            (
                GOOD.replace("<domain>example.org</domain>", ""),
                "no_domain",
            ),
            (
                GOOD.replacen(
                    "<clientConfig version=\"1.1\">",
                    "<clientConfig version=\"1.1\" xmlns=\"urn:x\">",
                    1,
                ),
                "xml_namespace",
            ),
        ];
        for (text, id) in cases {
            let got = ids(&text);
            assert!(got.contains(&id), "expected {id}, got {got:?}");
        }
    }
}
