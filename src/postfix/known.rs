//! Which main.cf names Postfix knows (`postconf_user.c`).
//!
//! A name is known when it is a built-in parameter, a per-service
//! parameter created by a master.cf service (`dovecot_time_limit`), or a
//! user-defined name that has a `name = value` line and is mentioned as
//! `$name` in some value (main.cf, master.cf `-o`, or a built-in default
//! left in force), or listed in `smtpd_restriction_classes`. Other names
//! are unused: Postfix ignores them and `postconf -n` leaves them out,
//! which usually means a typo.

use std::collections::HashSet;

use mailconf_parsers::postfix::master_cf::{postconf_args, split_nameval};

use super::conf::PostfixConf;
use super::defaults;
use super::expand::{Expander, mentions};
use crate::diag::{Diagnostic, Diagnostics};

pub struct Known {
    /// Valid user-defined names (in main.cf).
    pub user: HashSet<String>,
}

impl Known {
    pub fn is_known(&self, conf: &PostfixConf, name: &str) -> bool {
        defaults::is_builtin(name)
            || conf.service_params.contains_key(name)
            || self.user.contains(name)
    }
}

/// The `-o name=value` settings of each service as postconf reads them.
pub fn postconf_overrides(conf: &PostfixConf) -> Vec<Vec<(String, String)>> {
    conf.services
        .iter()
        .map(|s| {
            let (argv, _) = postconf_args(&s.entry);
            let mut out: Vec<(String, String)> = Vec::new();
            let mut i = 0;
            while i < argv.len() {
                let a = &argv[i];
                if !a.starts_with('-') || a == "--" {
                    break;
                }
                if a == "-o"
                    && let Some(v) = argv.get(i + 1)
                {
                    if let Some((n, v)) = split_nameval(v) {
                        out.retain(|(k, _)| k != n);
                        out.push((n.to_string(), v.to_string()));
                    }
                    i += 1;
                }
                i += 1;
            }
            out
        })
        .collect()
}

pub fn known_names(conf: &PostfixConf, diags: &mut Diagnostics) -> Known {
    let mut user = HashSet::new();
    let overrides = postconf_overrides(conf);
    let in_main = |n: &str| conf.setting(n).is_some();
    let flag = |name: &str, user: &mut HashSet<String>| {
        if in_main(name) {
            user.insert(name.to_string());
        }
    };
    // master.cf -o values.
    for o in &overrides {
        for (name, value) in o {
            if defaults::is_raw(name) {
                continue;
            }
            let (names, _) = mentions(value);
            for n in names {
                if !o.iter().any(|(k, _)| k == n) {
                    flag(n, &mut user);
                }
            }
        }
    }
    // Built-in defaults left in force (this keeps legacy names such as
    // virtual_maps alive through `virtual_alias_maps = $virtual_maps`).
    let mut names: Vec<&str> = defaults_in_force(conf);
    names.sort_unstable();
    for name in names {
        if let Some(d) = defaults::builtin(name).or_else(|| conf.service_params.get(name).copied())
        {
            for n in mentions(d).0 {
                flag(n, &mut user);
            }
        }
    }
    // smtpd_restriction_classes, evaluated.
    let scope = conf.main_scope();
    if conf.setting("smtpd_restriction_classes").is_some()
        && let Ok(Some(classes)) = Expander::new(&scope).value("smtpd_restriction_classes")
    {
        for c in classes
            .split([',', ' ', '\t', '\r', '\n'])
            .filter(|c| !c.is_empty())
        {
            flag(c, &mut user);
        }
    }
    // main.cf values.
    for a in conf.settings() {
        if defaults::is_raw(&a.name) {
            continue;
        }
        let (names, errors) = mentions(&a.value);
        for n in names {
            flag(n, &mut user);
        }
        // A syntax error here is fatal only if the value is evaluated;
        // postconf's scan warns about every one.
        for e in errors {
            diags.push(Diagnostic::warning("expansion_syntax", e.message()).at(
                conf.main_file,
                a.value_file_span(e.span),
                "",
            ));
        }
    }
    let known = Known { user };
    for a in conf.settings() {
        if !known.is_known(conf, &a.name) {
            diags.push(
                Diagnostic::warning(
                    "unused_parameter",
                    format!("`{}` is not a Postfix parameter and nothing refers to it as `${}`; Postfix ignores it", a.name, a.name),
                )
                .at(conf.main_file, a.name_span, "unknown name")
                .help("check the spelling against `man 5 postconf`"),
            );
        }
    }
    known
}

fn defaults_in_force(conf: &PostfixConf) -> Vec<&'_ str> {
    let mut out: Vec<&str> = conf
        .service_params
        .keys()
        .map(String::as_str)
        .filter(|n| conf.setting(n).is_none())
        .collect();
    for n in defaults::builtin_names() {
        if conf.setting(n).is_none() && !defaults::is_raw(n) {
            out.push(n);
        }
    }
    out
}
