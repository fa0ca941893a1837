//! The login name a user types (rule M6), from Dovecot's
//! `auth_username_format` and the first passdb that logs users in.

use super::{Fact, Source, UsernameForm};
use crate::diag::{Diagnostic, Diagnostics};
use crate::dovecot::DovecotConf;
use crate::dovecot::tree::Node;
use crate::source::{Root, SourceMap, read_text};

/// Does this `auth_username_format` (or `username_format=`) keep only the
/// local part? (`%n`, `%Ln`, 2.4 `%{user | username}`)
fn strips_domain(f: &str) -> bool {
    let compact: String = f.chars().filter(|c| !c.is_whitespace()).collect();
    compact.contains("%n")
        || compact.contains("%Ln")
        || compact.contains("%Un")
        || compact.contains("%{username}")
        || compact.contains("%{user|username")
}

/// Is the format the login name itself (possibly case-folded)?
fn is_identity(f: &str) -> bool {
    let compact: String = f.chars().filter(|c| !c.is_whitespace()).collect();
    matches!(
        compact.as_str(),
        "" | "%u" | "%Lu" | "%Uu" | "%{user}" | "%{user|lower}" | "%{user|upper}" | "%{L:user}"
    )
}

pub fn dovecot_form(
    d: &DovecotConf,
    root: &Root,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Fact<UsernameForm> {
    // Client logins come through imap/pop3/submission: a format inside
    // `protocol lmtp { }` (Debian 13 ships one) does not apply.
    let fmt = d.for_protocol("imap", "auth_username_format");
    let fmt_source = super::auth::loc_source(fmt.loc, "Dovecot's default auth_username_format");
    if strips_domain(&fmt.text) {
        return Fact::new(UsernameForm::LocalPart, fmt_source);
    }
    if !is_identity(&fmt.text) {
        let mut dg = Diagnostic::warning(
            "username_not_expressible",
            format!(
                "auth_username_format = {} rewrites the login name in a way autoconfig cannot express; mailconf writes %EMAILADDRESS%",
                fmt.text
            ),
        )
        .help("if users log in differently, set `username = \"localpart\"` in mailconf.toml or pass --username");
        if let Some(l) = fmt.loc {
            dg = dg.at(l.file, l.span, "");
        }
        diags.push(dg);
        return Fact::new(UsernameForm::Address, fmt_source);
    }
    let Some(pdb) = d
        .tree
        .children_of("passdb")
        .find(|p| !is_yes(p.value("master")) && !is_yes(p.value("deny")))
    else {
        return Fact::new(
            UsernameForm::Address,
            Source::Default(
                "no passdb found: mailconf assumes users log in with their address".into(),
            ),
        );
    };
    let driver = pdb
        .value("driver")
        .map(str::to_string)
        .or_else(|| {
            if d.version.is_2_4() {
                pdb.name.clone()
            } else {
                None
            }
        })
        .unwrap_or_default();
    let source = pdb.loc.map_or(Source::Default("passdb".into()), |l| {
        Source::at(l.file, l.span)
    });
    let form = match driver.as_str() {
        "pam" | "shadow" | "passwd" | "bsdauth" => UsernameForm::LocalPart,
        "passwd-file" => passwd_file_form(d, pdb, root, sources),
        _ => UsernameForm::Address,
    };
    Fact::new(form, source)
}

fn is_yes(v: Option<&str>) -> bool {
    v.is_some_and(crate::dovecot::settings::is_yes)
}

/// passwd-file: keyed by address (keys contain `@`, or one file per
/// domain) or by bare names.
fn passwd_file_form(
    d: &DovecotConf,
    pdb: &Node,
    root: &Root,
    sources: &mut SourceMap,
) -> UsernameForm {
    let (path, options) = if d.version.is_2_4() {
        (
            pdb.value("passwd_file_path")
                .or_else(|| d.tree.value("passwd_file_path"))
                .unwrap_or("")
                .to_string(),
            String::new(),
        )
    } else {
        let args = pdb.value("args").unwrap_or("");
        // `key=value` options come first; the first other word starts the path.
        let words: Vec<&str> = args.split_whitespace().collect();
        let n_opts = words
            .iter()
            .take_while(|w| w.contains('=') && !w.starts_with('/'))
            .count();
        let opts = words[..n_opts].join(" ");
        let path = words[n_opts..].join(" ");
        (path, opts)
    };
    if strips_domain(&options) {
        return UsernameForm::LocalPart;
    }
    let compact: String = path.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.contains("%d") || compact.contains("%{domain}") || compact.contains("%{user|domain}")
    {
        return UsernameForm::Address;
    }
    let Ok(real) = root.resolve(&path) else {
        return UsernameForm::Address;
    };
    let Ok((text, _)) = read_text(&real) else {
        return UsernameForm::Address;
    };
    let keyed_by_address = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .any(|l| l.split(':').next().is_some_and(|k| k.contains('@')));
    let any = text
        .lines()
        .any(|l| !l.trim_start().starts_with('#') && l.contains(':'));
    sources.add(real, text.clone());
    if keyed_by_address || !any {
        UsernameForm::Address
    } else {
        UsernameForm::LocalPart
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(
            strips_domain("%n")
                && strips_domain("%Ln")
                && strips_domain("%{user | username}")
                && strips_domain("%{user|username|lower}")
        );
        assert!(!strips_domain("%Lu") && !strips_domain("%{user | lower}"));
        assert!(is_identity("%Lu") && is_identity("%{user | lower}") && is_identity("%u"));
        assert!(!is_identity("%n.%d"));
    }
}
