//! Built-in defaults of Dovecot 2.3 (the whole `doveconf -a` of the Debian
//! 12 build) and 2.4 (the settings mailconf reads), as default trees read
//! by mailconf's own parser.

use std::sync::OnceLock;

use mailconf_parsers::dovecot::{Dialect, Item, parse_conf};

use super::tree::{Node, Setting, Version};

fn build(text: &str) -> Node {
    let (items, _) = parse_conf(text, Dialect::default());
    let mut root = Node::default();
    let mut path: Vec<usize> = Vec::new();
    fn at<'a>(root: &'a mut Node, path: &[usize]) -> &'a mut Node {
        let mut n = root;
        for &i in path {
            n = &mut n.children[i];
        }
        n
    }
    for item in items {
        match item {
            Item::Assign { key, value, .. } => at(&mut root, &path).settings.push(Setting {
                key,
                value: value.text().into_owned(),
                file_ref: None,
                loc: None,
            }),
            Item::Open { kind, name, .. } => {
                let n = at(&mut root, &path);
                n.children.push(Node::new(&kind, name.as_deref()));
                path.push(n.children.len() - 1);
            }
            Item::Close { .. } => {
                path.pop();
            }
            Item::Include { .. } => {}
        }
    }
    root
}

/// The default tree of a version.
pub fn tree(version: &Version) -> &'static Node {
    static V23: OnceLock<Node> = OnceLock::new();
    static V24: OnceLock<Node> = OnceLock::new();
    if version.is_2_4() {
        V24.get_or_init(|| build(include_str!("defaults-2.4.conf")))
    } else {
        V23.get_or_init(|| build(include_str!("defaults-2.3.conf")))
    }
}

/// Defaults of a listener, service or other list element that Dovecot does
/// not declare itself: a new `inet_listener` is disabled until it gets a
/// port (dovecot-grammar.md §4.3).
pub fn new_element_default(kind: &str, key: &str) -> Option<&'static str> {
    match (kind, key) {
        ("inet_listener", "port") => Some("0"),
        ("inet_listener", "ssl" | "haproxy" | "reuse_port") => Some("no"),
        ("inet_listener", "address" | "listen") => Some(""),
        ("service", "protocol") => Some(""),
        ("passdb" | "userdb", "result_success") => Some("return-ok"),
        ("passdb" | "userdb", "result_failure" | "result_internalfail") => Some("continue"),
        ("passdb" | "userdb", "skip") => Some("never"),
        ("passdb", "deny" | "pass" | "master") => Some("no"),
        (
            "passdb" | "userdb",
            "args" | "default_fields" | "override_fields" | "name" | "mechanisms"
            | "username_filter",
        ) => Some(""),
        ("passdb" | "userdb", "auth_verbose") => Some("default"),
        _ => None,
    }
}

/// The default of `key` inside sections of the given kinds (outermost
/// first); connection filters do not change defaults.
pub fn default_value(version: &Version, kinds: &[&str], key: &str) -> Option<String> {
    let kinds: Vec<&str> = kinds
        .iter()
        .copied()
        .filter(|k| !matches!(*k, "protocol" | "local" | "remote" | "local_name"))
        .collect();
    match kinds.last() {
        None => tree(version).value(key).map(str::to_string),
        Some(k) => new_element_default(k, key).map(str::to_string),
    }
}

/// Does Dovecot 2.3 know this top-level setting name (with every Debian
/// package installed)?
pub fn known_23(key: &str) -> bool {
    tree(&Version::V2_3).get(key).is_some()
}

/// Keys Dovecot 2.3 knows inside `service` or `inet_listener` sections.
pub fn known_23_in(kind: &str, key: &str) -> bool {
    let t = tree(&Version::V2_3);
    match kind {
        "service" => t.children_of("service").any(|s| s.get(key).is_some()),
        "inet_listener" => t
            .children_of("service")
            .flat_map(|s| s.children_of("inet_listener"))
            .any(|l| l.get(key).is_some()),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_23() {
        let t = tree(&Version::V2_3);
        assert_eq!(t.value("listen"), Some("*, ::"));
        assert_eq!(t.value("protocols"), Some(""));
        assert_eq!(t.value("auth_username_format"), Some("%Lu"));
        let imaps = t
            .child("service", Some("imap-login"))
            .and_then(|s| s.child("inet_listener", Some("imaps")))
            .unwrap();
        assert_eq!(imaps.value("port"), Some("993"));
        assert_eq!(imaps.value("ssl"), Some("yes"));
        let sub = t.child("service", Some("submission-login")).unwrap();
        assert!(sub.child("inet_listener", Some("submissions")).is_none());
        assert!(known_23("lmtp_save_to_detail_mailbox"));
        assert!(!known_23("Ssl"));
    }

    #[test]
    fn defaults_24() {
        let t = tree(&Version::V2_4("2.4.1".into()));
        let subs = t
            .child("service", Some("submission-login"))
            .and_then(|s| s.child("inet_listener", Some("submissions")))
            .unwrap();
        assert_eq!(subs.value("port"), Some("465"));
        assert_eq!(t.value("auth_username_format"), Some("%{user | lower}"));
    }
}
