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
    print_node(&conf.tree, Some(conf.defaults()), 0, &mut out);
    out
}

fn print_node(n: &Node, def: Option<&Node>, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    let mut keys: Vec<&str> = Vec::new();
    for s in &n.settings {
        if !keys.contains(&s.key.as_str()) {
            keys.push(&s.key);
        }
    }
    keys.sort_unstable();
    for k in keys {
        let v = n.value(k).unwrap_or_default();
        let d = def
            .and_then(|d| d.value(k))
            .or_else(|| defaults::new_element_default(&n.kind, k));
        if d == Some(v) {
            continue;
        }
        let shown = quote(&mask_value(k, v));
        if shown.is_empty() {
            out.push_str(&format!("{indent}{k} =\n"));
        } else {
            out.push_str(&format!("{indent}{k} = {shown}\n"));
        }
    }
    for c in &n.children {
        let header = match &c.name {
            Some(name) if name.contains(' ') => format!("{} \"{}\"", c.kind, name),
            Some(name) => format!("{} {}", c.kind, name),
            None => c.kind.clone(),
        };
        out.push_str(&format!("{indent}{header} {{\n"));
        let cd = def.and_then(|d| d.child(&c.kind, c.name.as_deref()));
        print_node(c, cd, depth + 1, out);
        out.push_str(&format!("{indent}}}\n"));
    }
}
