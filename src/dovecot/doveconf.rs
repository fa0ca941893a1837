//! `mailconf doveconf`: the configuration as mailconf understood it, in
//! doveconf's terms. `-h NAME` prints a value (NAME may be a path such as
//! `service/imap-login/inet_listener/imaps/port`); `-n` prints the settings
//! that differ from the built-in defaults, in doveconf's block layout
//! (settings first, then sections; doveconf interleaves them
//! alphabetically). Secrets are hidden the way doveconf hides them without
//! `-P`, and mailconf has no `-P`.

use super::defaults;
use super::tree::{DovecotConf, Node};

/// The lines `doveconf -h NAME...` (or `doveconf NAME...`) would print.
pub fn show_values(conf: &DovecotConf, names: &[String], hide_names: bool) -> String {
    let mut out = String::new();
    for n in names {
        let key = n.rsplit('/').next().unwrap_or(n);
        let v = mask_value(key, &conf.path_value(n).unwrap_or_default());
        if hide_names {
            out.push_str(&v);
        } else {
            out.push_str(&format!("{n} = {v}"));
        }
        out.push('\n');
    }
    out
}

const HIDDEN: &str = "# hidden, use -P to show it";

/// What mailconf shows of a value (rule M11.3: never a secret). Passwords
/// and inline private keys are hidden the way doveconf hides them without
/// `-P`; a `<path` is only a file name and is shown. doveconf's `-h`
/// shows secrets; mailconf's does not.
pub fn mask_value(key: &str, v: &str) -> String {
    let whole = key.ends_with("_password")
        || key.ends_with("_nonce")
        || key == "password"
        || ((key.ends_with("_key") || key.starts_with("ssl_dh")) && !v.starts_with('<'));
    if whole && !v.is_empty() {
        return HIDDEN.to_string();
    }
    mask_words(v)
}

/// Hides `key=`, `secret=` and `pass...=` words inside values, as doveconf
/// does (`args = uid=vmail password=x`).
pub fn mask_words(v: &str) -> String {
    if !v.contains('=') {
        return v.to_string();
    }
    v.split(' ')
        .map(|w| match w.split_once('=') {
            Some((k, _))
                if k.starts_with("key") || k.starts_with("secret") || k.starts_with("pass") =>
            {
                format!("{k}=#hidden_use-P_to_show#")
            }
            _ => w.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// doveconf quotes a value that contains `#` or starts or ends with a blank.
fn quote(v: &str) -> String {
    if (v.contains('#') && v != HIDDEN && !v.contains("#hidden_use-P_to_show#"))
        || v.starts_with([' ', '\t'])
        || v.ends_with([' ', '\t'])
    {
        let mut q = String::from("\"");
        for c in v.chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    } else {
        v.to_string()
    }
}

/// `doveconf -n`.
pub fn show_changed(conf: &DovecotConf) -> String {
    let mut out = String::new();
    print_node(
        &conf.tree,
        Some(conf.defaults()),
        0,
        conf.version.is_2_4(),
        &mut out,
    );
    out
}

/// The default of `key` in any element of this kind that Dovecot declares.
fn any_default(kind: &str, key: &str) -> Option<&'static str> {
    let t = defaults::tree(&super::tree::Version::V2_3);
    match kind {
        "service" => t.children_of("service").find_map(|s| s.value(key)),
        "inet_listener" => t
            .children_of("service")
            .flat_map(|s| s.children_of("inet_listener"))
            .find_map(|l| l.value(key)),
        _ => None,
    }
}

/// doveconf -n hides these whole values (paths included).
fn hidden_in_listing(key: &str) -> bool {
    key.ends_with("_password")
        || key.ends_with("_key")
        || key.ends_with("_nonce")
        || key.starts_with("ssl_dh")
}

fn print_node(n: &Node, def: Option<&Node>, depth: usize, v24: bool, out: &mut String) {
    let indent = "  ".repeat(depth);
    let list_element = super::tree::is_list_kind(&n.kind);
    let mut keys: Vec<&str> = Vec::new();
    for s in &n.settings {
        if !keys.contains(&s.key.as_str()) {
            keys.push(&s.key);
        }
    }
    // 2.3 prints named passdb/userdb sections as `passdb {` + `name = X`.
    let named_db = !v24 && matches!(n.kind.as_str(), "passdb" | "userdb") && n.name.is_some();
    if named_db {
        keys.push("name");
    }
    keys.sort_unstable();
    for k in keys {
        let v = if named_db && k == "name" {
            n.name.as_deref().unwrap_or_default()
        } else {
            n.value(k).unwrap_or_default()
        };
        // What Dovecot's own element holds tells the type of the value.
        let typed = def
            .and_then(|d| d.value(k))
            .or_else(|| defaults::new_element_default(&n.kind, k))
            .or_else(|| any_default(&n.kind, k));
        // Services and listeners show every setting that was written, even
        // one equal to Dovecot's own element (`port = 993`); other sections
        // show what differs from the default.
        let d = if list_element && !matches!(n.kind.as_str(), "passdb" | "userdb") {
            None
        } else if list_element {
            defaults::new_element_default(&n.kind, k)
        } else {
            typed
        };
        // doveconf shows booleans, times and sizes in one spelling.
        let canonical = typed
            .and_then(|t| super::units::canonical(v, t))
            .or_else(|| {
                (super::settings::is_bool_setting(k, typed)
                    && matches!(v.to_ascii_lowercase().as_str(), "yes" | "y" | "1" | "no"))
                .then(|| {
                    if super::settings::is_yes(v) {
                        "yes".to_string()
                    } else {
                        "no".to_string()
                    }
                })
            });
        let v = canonical.as_deref().unwrap_or(v);
        if d == Some(v) {
            continue;
        }
        let shown = if hidden_in_listing(k) && !v.is_empty() {
            HIDDEN.to_string()
        } else {
            quote(&mask_value(k, v))
        };
        if shown.is_empty() {
            out.push_str(&format!("{indent}{k} =\n"));
        } else {
            out.push_str(&format!("{indent}{k} = {shown}\n"));
        }
    }
    for c in &n.children {
        let cd = def.and_then(|d| d.child(&c.kind, c.name.as_deref()));
        let mut inner = String::new();
        print_node(c, cd, depth + 1, v24, &mut inner);
        // doveconf leaves out sections with nothing changed, except list
        // elements it must name (passdb, userdb).
        if inner.is_empty() && !matches!(c.kind.as_str(), "passdb" | "userdb") {
            continue;
        }
        let filter = matches!(
            c.kind.as_str(),
            "protocol" | "local" | "remote" | "local_name"
        );
        let header = match &c.name {
            Some(_) if !v24 && matches!(c.kind.as_str(), "passdb" | "userdb") => c.kind.clone(),
            Some(name) if name.contains(' ') && !filter => format!("{} \"{}\"", c.kind, name),
            Some(name) => format!("{} {}", c.kind, name),
            None => c.kind.clone(),
        };
        out.push_str(&format!("{indent}{header} {{\n"));
        out.push_str(&inner);
        out.push_str(&format!("{indent}}}\n"));
    }
}
