//! Answers about a Dovecot tree: effective values (configured, else the
//! built-in default), the listeners the master process really opens, and
//! the checks doveconf makes on the values mailconf relies on.

use super::defaults;
use super::tree::{DovecotConf, Loc, Node, Setting, Version, is_list_kind, split_list};
use crate::diag::{Diagnostic, Diagnostics};

/// A value and where it was set (`None`: the built-in default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    pub text: String,
    pub loc: Option<Loc>,
}

/// One inet listener of a login service, as the master process sees it
/// (settings outside any filter: the master reads no filter).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    pub service: String,
    pub protocol: String,
    pub name: String,
    pub port: u16,
    /// `ssl = yes` on the listener: TLS from the first byte.
    pub ssl: bool,
    pub haproxy: bool,
    /// Bind addresses (`*` and `::` mean all).
    pub addresses: Vec<String>,
    /// Where the port (or, failing that, the listener) was configured.
    pub loc: Option<Loc>,
    /// The `inet_listener NAME {` line, when the tree declares it.
    pub header: Option<Loc>,
    /// Where `haproxy` was set.
    pub haproxy_loc: Option<Loc>,
    /// Why the master does not open it, if it does not.
    pub disabled: Option<Disabled>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disabled {
    /// Its protocol is not in `protocols`.
    ProtocolOff(String),
    /// `port = 0`.
    PortZero,
    /// An `ssl = yes` listener while the global `ssl` is `no`.
    SslOff,
}

const PROTOCOLS_23: &[&str] = &["imap", "pop3", "lmtp", "submission", "sieve", "none"];

impl DovecotConf {
    pub fn defaults(&self) -> &'static Node {
        defaults::tree(&self.version)
    }

    /// A top-level setting: configured outside any filter, else default.
    pub fn global(&self, key: &str) -> Value {
        match self.tree.get(key) {
            Some(s) => Value {
                text: s.value.clone(),
                loc: s.loc,
            },
            None => Value {
                text: self.defaults().value(key).unwrap_or_default().to_string(),
                loc: None,
            },
        }
    }

    /// A setting as a process of `protocol` sees it: inside
    /// `protocol NAME { }` when set there, else the global value.
    pub fn for_protocol(&self, protocol: &str, key: &str) -> Value {
        for f in self.tree.children_of("protocol") {
            let name = f.name.as_deref().unwrap_or("");
            let hit = match name.strip_prefix('!') {
                Some(neg) => neg != protocol,
                None => name == protocol,
            };
            if hit && let Some(s) = f.get(key) {
                return Value {
                    text: s.value.clone(),
                    loc: s.loc,
                };
            }
        }
        self.global(key)
    }

    /// The enabled protocols.
    pub fn protocols(&self) -> (Vec<String>, Option<Loc>) {
        let v = self.global("protocols");
        let mut list: Vec<String> = if self.version.is_2_4() {
            split_list(&v.text)
        } else {
            v.text
                .split(' ')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        };
        if !self.version.is_2_4() && list == ["none"] {
            list.clear();
        }
        (list, v.loc)
    }

    /// `doveconf -h PATH`: walks `service/imap-login/inet_listener/imaps/port`
    /// through the tree and the defaults. Unknown names give `None`.
    pub fn path_value(&self, path: &str) -> Option<String> {
        let v = self.raw_path_value(path)?;
        // doveconf shows booleans in their canonical spelling.
        let key = path.rsplit('/').next().unwrap_or(path);
        let top_default = self.defaults().value(key);
        if (is_bool_setting(key, top_default)
            || (path.contains("inet_listener/") && matches!(key, "ssl" | "haproxy" | "reuse_port")))
            && is_bool_text(&v)
        {
            return Some(if is_yes(&v) { "yes" } else { "no" }.to_string());
        }
        if let Some(d) = top_default
            && let Some(c) = super::units::canonical(&v, d)
        {
            return Some(c);
        }
        Some(v)
    }

    fn raw_path_value(&self, path: &str) -> Option<String> {
        // In doveconf paths `\_` stands for a space (`namespace/my\_inbox`).
        let parts: Vec<String> = path.split('/').map(|p| p.replace("\\_", " ")).collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let (key, sections) = parts.split_last()?;
        let mut node = Some(&self.tree);
        let mut def = Some(self.defaults());
        let mut last_kind = "";
        let mut i = 0;
        while i < sections.len() {
            let kind = sections[i];
            let name = if is_list_kind(kind) && i + 1 < sections.len() {
                i += 1;
                Some(sections[i])
            } else {
                None
            };
            node = node.and_then(|n| pick_child(n, kind, name));
            def = def.and_then(|n| pick_child(n, kind, name));
            last_kind = kind;
            i += 1;
        }
        let v24 = self.version.is_2_4();
        let key: String = match node {
            Some(n) if v24 => super::tree::normalize_24_key(&n.kind, n.name.as_deref(), key),
            _ => key.to_string(),
        };
        if let Some(s) = node.and_then(|n| n.get(&key)) {
            return Some(s.value.clone());
        }
        if let Some(v) = def.and_then(|d| d.value(&key)) {
            return Some(v.to_string());
        }
        if let Some(n) = node {
            // 2.3 names unnamed list elements by position; `name` is the
            // name written after the section type.
            if !v24 && key == "name" && matches!(n.kind.as_str(), "passdb" | "userdb") {
                return Some(n.name.clone().unwrap_or_default());
            }
            // 2.4: the driver defaults to the section name; a listener's
            // `listen` is the global one unless set.
            if v24 && key == "driver" && matches!(n.kind.as_str(), "passdb" | "userdb") {
                return n.name.clone();
            }
            if v24 && key == "listen" && n.kind == "inet_listener" {
                return Some(self.global("listen").text);
            }
        }
        if node.is_some() || sections.is_empty() {
            return defaults::new_element_default(last_kind, &key).map(str::to_string);
        }
        None
    }

    /// Every inet listener of every service whose protocol is enabled.
    pub fn listeners(&self) -> Vec<Listener> {
        let (protocols, _) = self.protocols();
        let ssl_global = self.global("ssl").text;
        let listen = self.global("listen").text;
        let mut names: Vec<String> = Vec::new();
        for s in self
            .defaults()
            .children_of("service")
            .chain(self.tree.children_of("service"))
        {
            if let Some(n) = &s.name
                && !names.contains(n)
            {
                names.push(n.clone());
            }
        }
        let mut out = Vec::new();
        for svc in names {
            let conf = self.tree.child("service", Some(&svc));
            let def = self.defaults().child("service", Some(&svc));
            let protocol = conf
                .and_then(|c| c.value("protocol"))
                .or_else(|| def.and_then(|d| d.value("protocol")))
                .unwrap_or("")
                .to_string();
            let mut lnames: Vec<String> = Vec::new();
            for l in def
                .into_iter()
                .flat_map(|d| d.children_of("inet_listener"))
                .chain(
                    conf.into_iter()
                        .flat_map(|c| c.children_of("inet_listener")),
                )
            {
                if let Some(n) = &l.name
                    && !lnames.contains(n)
                {
                    lnames.push(n.clone());
                }
            }
            for lname in lnames {
                let lc = conf.and_then(|c| c.child("inet_listener", Some(&lname)));
                let ld = def.and_then(|d| d.child("inet_listener", Some(&lname)));
                let get = |k: &str| -> (String, Option<Loc>) {
                    match lc.and_then(|l| l.get(k)) {
                        Some(s) => (s.value.clone(), s.loc),
                        None => (
                            ld.and_then(|l| l.value(k))
                                .or_else(|| defaults::new_element_default("inet_listener", k))
                                .unwrap_or("")
                                .to_string(),
                            None,
                        ),
                    }
                };
                let (port_text, port_loc) = get("port");
                let ssl = is_yes(&get("ssl").0);
                let (haproxy_text, haproxy_loc) = get("haproxy");
                let haproxy = is_yes(&haproxy_text);
                let addr_key = if self.version.is_2_4() {
                    "listen"
                } else {
                    "address"
                };
                let own = get(addr_key).0;
                let addresses = split_addresses(if own.is_empty() { &listen } else { &own });
                let port = port_text.parse::<u16>().unwrap_or(0);
                let disabled = if !protocol.is_empty() && !protocols.contains(&protocol) {
                    Some(Disabled::ProtocolOff(protocol.clone()))
                } else if port == 0 {
                    Some(Disabled::PortZero)
                } else if ssl && ssl_global == "no" {
                    Some(Disabled::SslOff)
                } else {
                    None
                };
                out.push(Listener {
                    service: svc.clone(),
                    protocol: protocol.clone(),
                    name: lname.clone(),
                    port,
                    ssl,
                    haproxy,
                    addresses,
                    loc: port_loc.or(lc.and_then(|l| l.loc)),
                    header: lc.and_then(|l| l.loc),
                    haproxy_loc,
                    disabled,
                });
            }
        }
        out
    }

    /// The checks doveconf makes that decide whether Dovecot starts at all,
    /// for the settings mailconf relies on: known names, booleans, `ssl`,
    /// protocol names, and 2.3/2.4 names used in the other series.
    pub fn check(&self, diags: &mut Diagnostics) {
        let v24 = self.version.is_2_4();
        check_node(&self.tree, &self.version, &[], diags);
        let (protocols, ploc) = self.protocols();
        for p in &protocols {
            let known = if v24 {
                matches!(
                    p.as_str(),
                    "imap" | "pop3" | "lmtp" | "submission" | "sieve"
                )
            } else {
                PROTOCOLS_23.contains(&p.as_str())
            };
            if !known {
                let mut d = Diagnostic::error(
                    "unknown_protocol",
                    format!("protocols: unknown protocol `{p}`"),
                );
                if p.contains(',') && !v24 {
                    d = d.help("Dovecot 2.3 separates protocols with spaces only");
                }
                if let Some(l) = ploc {
                    d = d.at(l.file, l.value, "");
                }
                diags.push(d);
            }
        }
        if v24
            && self.global("ssl").text == "required"
            && is_yes(&self.global("auth_allow_cleartext").text)
        {
            let mut d = Diagnostic::error(
                "cleartext_with_ssl_required",
                "auth_allow_cleartext = yes has no effect with ssl = required; Dovecot 2.4 refuses this combination",
            );
            if let Some(l) = self.global("auth_allow_cleartext").loc {
                d = d.at(l.file, l.span, "");
            }
            diags.push(d);
        }
        if v24 && self.tree.get("dovecot_storage_version").is_none() {
            diags.push(Diagnostic::error(
                "storage_version_missing",
                "Dovecot 2.4 requires `dovecot_storage_version` to be set",
            ));
        }
    }
}

fn pick_child<'a>(n: &'a Node, kind: &str, name: Option<&str>) -> Option<&'a Node> {
    // `passdb/0/driver`: unnamed list elements by position.
    if let Some(nm) = name
        && let Ok(idx) = nm.parse::<usize>()
        && matches!(kind, "passdb" | "userdb")
    {
        return n.children.iter().filter(|c| c.kind == kind).nth(idx);
    }
    n.child(kind, name)
}

/// Settings whose default is yes or no but which take more values.
const YES_NO_ENUMS: &[&str] = &[
    "ssl",
    "doveadm_ssl",
    "imapc_ssl",
    "submission_relay_ssl",
    "submission_ssl",
];

/// Is this a boolean setting (its default is yes or no)?
pub fn is_bool_setting(key: &str, default: Option<&str>) -> bool {
    !YES_NO_ENUMS.contains(&key) && matches!(default, Some("yes" | "no"))
}

/// Dovecot booleans: yes, y, 1 (any case) are true.
pub fn is_yes(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "yes" | "y" | "1")
}

fn is_bool_text(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "yes" | "y" | "1" | "no")
}

/// `listen`/`address`: items separated by commas and spaces.
pub fn split_addresses(v: &str) -> Vec<String> {
    split_list(v)
}

/// Names that belong to the other series, with the name to use instead.
fn other_series(key: &str, v24: bool) -> Option<&'static str> {
    if v24 {
        Some(match key {
            "ssl_cert" => "ssl_server_cert_file",
            "ssl_key" => "ssl_server_key_file",
            "ssl_ca" => "ssl_server_ca_file",
            "ssl_dh" => "ssl_server_dh_file",
            "disable_plaintext_auth" => "auth_allow_cleartext (with the opposite meaning)",
            "auth_default_realm" => "auth_default_domain",
            "mail_location" => "mail_driver, mail_path, mail_home",
            _ => return None,
        })
    } else {
        Some(match key {
            "dovecot_config_version" => {
                "nothing: it starts a Dovecot 2.4 file and must be its first setting"
            }
            "dovecot_storage_version" => "nothing (a Dovecot 2.4 setting)",
            "ssl_server_cert_file" => "ssl_cert = </path",
            "ssl_server_key_file" => "ssl_key = </path",
            "auth_allow_cleartext" => "disable_plaintext_auth (with the opposite meaning)",
            "auth_default_domain" => "auth_default_realm",
            _ => return None,
        })
    }
}

fn check_node(n: &Node, version: &Version, kinds: &[&str], diags: &mut Diagnostics) {
    let v24 = version.is_2_4();
    let section = kinds
        .iter()
        .rev()
        .find(|k| !matches!(**k, "protocol" | "local" | "remote" | "local_name"))
        .copied();
    for s in &n.settings {
        let Some(loc) = s.loc else { continue };
        if let Some(instead) = other_series(&s.key, v24) {
            let (this, other) = if v24 { ("2.4", "2.3") } else { ("2.3", "2.4") };
            diags.push(
                Diagnostic::error(
                    "mixed_dovecot_versions",
                    format!("`{}` is a Dovecot {other} setting, but this tree is written for Dovecot {this}", s.key),
                )
                .at(loc.file, loc.key, "")
                .help(format!("Dovecot {this} uses {instead}")),
            );
            continue;
        }
        if v24 {
            continue;
        }
        let known = match section {
            None => defaults::known_23(&s.key) || s.key.starts_with('@'),
            Some(k) => defaults::known_23_in(k, &s.key),
        };
        if !known {
            diags.push(
                Diagnostic::error(
                    "unknown_setting",
                    format!("unknown setting `{}`: Dovecot refuses to start", s.key),
                )
                .at(loc.file, loc.key, "")
                .help("setting names are case-sensitive; check `man doveconf` / doc.dovecot.org"),
            );
            continue;
        }
        check_value(s, section, version, diags);
    }
    for c in &n.children {
        let mut k: Vec<&str> = kinds.to_vec();
        k.push(&c.kind);
        check_node(c, version, &k, diags);
    }
}

fn check_value(s: &Setting, section: Option<&str>, version: &Version, diags: &mut Diagnostics) {
    let Some(loc) = s.loc else { return };
    let def = match section {
        None => defaults::tree(version).value(&s.key).map(str::to_string),
        Some(k) => defaults::new_element_default(k, &s.key).map(str::to_string),
    };
    let bool_typed = is_bool_setting(&s.key, def.as_deref());
    if bool_typed && !s.value.contains('$') && !is_bool_text(&s.value) {
        diags.push(
            Diagnostic::error(
                "invalid_boolean",
                format!("`{}` must be yes or no, not `{}`", s.key, s.value),
            )
            .at(loc.file, loc.value, ""),
        );
    }
    if s.key == "ssl" && !matches!(s.value.as_str(), "yes" | "no" | "required") {
        diags.push(
            Diagnostic::error(
                "invalid_value",
                format!(
                    "`ssl` must be yes, no or required (lower case), not `{}`",
                    s.value
                ),
            )
            .at(loc.file, loc.value, ""),
        );
    }
}
