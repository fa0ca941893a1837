//! A Postfix configuration directory as Postfix reads it: `main.cf` as a
//! dictionary (last assignment wins), `master.cf` services with their `-o`
//! overrides, and the three name spaces values are expanded in.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mailconf_parsers::Span;
use mailconf_parsers::postfix::main_cf::{Assignment, MainCf, parse_main_cf};
use mailconf_parsers::postfix::master_cf::{
    MasterEntry, Override, ServiceType, daemon_overrides, parse_master_cf,
};

use super::defaults::{self, Computed};
use super::expand::{ExpandError, ExpandErrorKind, Origin, Owner, Raw, Scope};
use crate::diag::{Diagnostic, Diagnostics};
use crate::host::Host;
use crate::source::{FileId, Root, SourceMap, read_text};

/// One master.cf entry, with the `-o` settings its daemon really applies.
#[derive(Clone, Debug)]
pub struct Service {
    pub entry: MasterEntry,
    pub overrides: Vec<Override>,
    /// The daemon would refuse to start (a malformed `-o`).
    pub broken: bool,
}

impl Service {
    pub fn name(&self) -> &str {
        &self.entry.service().text
    }

    pub fn kind(&self) -> ServiceType {
        self.entry.kind
    }

    pub fn command(&self) -> &str {
        &self.entry.command().text
    }
}

pub struct PostfixConf {
    /// The configuration directory on this machine.
    pub dir: PathBuf,
    /// `config_directory` as `postconf -c DIR` would show it; `None` for the
    /// server's default `/etc/postfix`.
    pub explicit_dir: Option<String>,
    pub main_file: FileId,
    pub main: MainCf,
    /// Name → index of the assignment that wins (read-only names removed).
    index: HashMap<String, usize>,
    pub master_file: Option<FileId>,
    pub services: Vec<Service>,
    /// Parameters created by master.cf service names, with their defaults.
    pub service_params: HashMap<String, &'static str>,
    pub host: Host,
}

impl PostfixConf {
    /// Reads `main.cf` and `master.cf` from the server's `/etc/postfix` (or
    /// `postfix_dir`, a path on this machine). `None` when main.cf cannot be
    /// read; syntax errors are reported in `diags` as errors.
    pub fn load(
        root: &Root,
        postfix_dir: Option<&Path>,
        host: Host,
        sources: &mut SourceMap,
        diags: &mut Diagnostics,
    ) -> Option<PostfixConf> {
        let (dir, explicit_dir) = match postfix_dir {
            Some(d) => (d.to_path_buf(), Some(d.to_string_lossy().into_owned())),
            None => match root.resolve("/etc/postfix") {
                Ok(d) => (d, None),
                Err(e) => {
                    diags.push(Diagnostic::error(
                        "postfix_unreadable",
                        format!(
                            "cannot find the Postfix configuration under {}: {e}",
                            root.dir().display()
                        ),
                    ));
                    return None;
                }
            },
        };
        let main_path = dir.join("main.cf");
        let (text, lossy) = match read_text(&main_path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(
                    Diagnostic::error(
                        "postfix_unreadable",
                        format!("cannot read {}: {e}", main_path.display()),
                    )
                    .help("point mailconf at the server's files with --root DIR (a copy of the server's /) or --postfix-dir DIR"),
                );
                return None;
            }
        };
        let main_file = sources.add(main_path.clone(), text);
        if lossy {
            diags.push(not_utf8(&main_path));
        }
        let (main, syntax) = parse_main_cf(&sources.get(main_file).text);
        diags.extend_syntax(main_file, syntax);

        let mut index = HashMap::with_capacity(main.assignments.len());
        for (i, a) in main.assignments.iter().enumerate() {
            if defaults::READ_ONLY.contains(&a.name.as_str()) {
                diags.push(
                    Diagnostic::warning(
                        "read_only_parameter",
                        format!("`{}` is read-only: Postfix ignores this assignment", a.name),
                    )
                    .at(main_file, a.name_span, ""),
                );
                continue;
            }
            index.insert(a.name.clone(), i);
        }

        let master_path = dir.join("master.cf");
        let mut master_file = None;
        let mut services = Vec::new();
        match read_text(&master_path) {
            Ok((text, lossy)) => {
                let id = sources.add(master_path.clone(), text);
                if lossy {
                    diags.push(not_utf8(&master_path));
                }
                master_file = Some(id);
                let (master, syntax) = parse_master_cf(&sources.get(id).text);
                diags.extend_syntax(id, syntax);
                for entry in master.entries {
                    let (overrides, problems) = daemon_overrides(&entry);
                    let broken = !problems.is_empty();
                    for p in problems {
                        // The daemon refuses to start; that is a fact about
                        // the service, not a reason to stop reading.
                        let mut d = Diagnostic::from_syntax(id, p);
                        d.severity = mailconf_parsers::Severity::Warning;
                        diags.push(d.note_text(format!(
                            "the `{}` service would not start, so mailconf ignores it",
                            entry.service().text
                        )));
                    }
                    services.push(Service {
                        entry,
                        overrides,
                        broken,
                    });
                }
            }
            Err(e) => diags.push(Diagnostic::warning(
                "postfix_unreadable",
                format!(
                    "cannot read {}: {e}; assuming no master.cf services",
                    master_path.display()
                ),
            )),
        }

        let mut service_params = HashMap::new();
        for s in &services {
            for (name, def) in defaults::service_params(s.name(), s.command()) {
                if !defaults::is_builtin(&name) {
                    service_params.insert(name, def);
                }
            }
        }

        Some(PostfixConf {
            dir,
            explicit_dir,
            main_file,
            main,
            index,
            master_file,
            services,
            service_params,
            host,
        })
    }

    /// The main.cf assignment that decides `name`, if any.
    pub fn setting(&self, name: &str) -> Option<&Assignment> {
        self.index.get(name).map(|&i| &self.main.assignments[i])
    }

    /// Winning main.cf assignments in file order.
    pub fn settings(&self) -> impl Iterator<Item = &Assignment> {
        let mut idx: Vec<usize> = self.index.values().copied().collect();
        idx.sort_unstable();
        idx.into_iter().map(|i| &self.main.assignments[i])
    }

    pub fn main_scope(&self) -> MainScope<'_> {
        MainScope { conf: self }
    }

    pub fn defaults_scope(&self) -> DefaultsScope<'_> {
        DefaultsScope { conf: self }
    }

    /// The name space of master.cf service `service`, with the `-o`
    /// settings its daemon applies.
    pub fn service_scope(&self, service: usize) -> ServiceScope<'_> {
        ServiceScope {
            conf: self,
            service,
            overrides: self.services[service]
                .overrides
                .iter()
                .map(|o| (o.name.as_str(), o.value.as_str()))
                .collect(),
        }
    }

    /// The same with another reading of the `-o` settings (postconf's).
    pub fn service_scope_with<'a>(
        &'a self,
        service: usize,
        overrides: &'a [(String, String)],
    ) -> ServiceScope<'a> {
        ServiceScope {
            conf: self,
            service,
            overrides: overrides
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect(),
        }
    }

    fn default_raw(&self, name: &str) -> Option<Raw<'_>> {
        if let Some(c) = defaults::computed(name) {
            return Some(Raw {
                text: Cow::Borrowed(""),
                origin: Origin::Computed(c),
            });
        }
        defaults::builtin(name)
            .or_else(|| self.service_params.get(name).copied())
            .map(|d| Raw {
                text: Cow::Borrowed(d),
                origin: Origin::Default,
            })
    }

    fn main_raw(&self, name: &str) -> Option<Raw<'_>> {
        // `postconf -c DIR` behaves as if main.cf said so.
        if name == "config_directory"
            && let Some(d) = &self.explicit_dir
        {
            return Some(Raw {
                text: Cow::Borrowed(d.as_str()),
                origin: Origin::Default,
            });
        }
        self.index.get(name).map(|&i| Raw {
            text: Cow::Borrowed(self.main.assignments[i].value.as_str()),
            origin: Origin::Main(i),
        })
    }

    /// The file and span of the text an expansion problem was found in.
    pub fn locate(&self, owner: &Owner, inner: Option<Span>) -> Option<(FileId, Span)> {
        match owner.origin {
            Origin::Main(i) => {
                let a = &self.main.assignments[i];
                Some((
                    self.main_file,
                    inner.map_or(a.value_span, |s| a.value_file_span(s)),
                ))
            }
            Origin::Override { service, index } => Some((
                self.master_file?,
                self.services[service]
                    .overrides
                    .get(index)
                    .map_or(self.services[service].entry.span, |o| o.span),
            )),
            Origin::Default | Origin::Computed(_) => None,
        }
    }

    /// `compatibility_level = a` whose value `level` is not a level.
    pub fn bad_compatibility_level(&self, a: &Assignment, level: &str) -> Diagnostic {
        Diagnostic::error(
            "bad_compatibility_level",
            format!("compatibility_level `{level}` is not a level (a number like 2 or 3.6)"),
        )
        .at(self.main_file, a.value_span, "")
    }

    /// A diagnostic for an expansion error.
    pub fn expand_diag(&self, e: &ExpandError, id: &'static str) -> Diagnostic {
        // The built-in defaults compare levels with `compatibility_level`:
        // when it is the bad level, point at it, not at the default.
        if let ExpandErrorKind::BadLevel(level) = &e.kind
            && let Some(a) = self.setting("compatibility_level")
            && a.value == *level
        {
            return self.bad_compatibility_level(a, level);
        }
        let mut d = Diagnostic::error(id, e.message());
        match self.locate(&e.owner, e.span()) {
            Some((f, s)) => d = d.at(f, s, ""),
            None => {
                d = d.note_text(format!(
                    "found while expanding the built-in default of `{}`",
                    e.owner.name
                ))
            }
        }
        d
    }

    /// Where `name` is set for service `service`: its `-o`, else main.cf.
    pub fn decided_at(&self, service: Option<usize>, name: &str) -> Option<(FileId, Span)> {
        if let Some(s) = service
            && let Some(o) = self.services[s]
                .overrides
                .iter()
                .rev()
                .find(|o| o.name == name)
        {
            return Some((self.master_file?, o.span));
        }
        self.setting(name).map(|a| (self.main_file, a.span))
    }
}

fn not_utf8(path: &Path) -> Diagnostic {
    Diagnostic::warning(
        "not_utf8",
        format!(
            "{} is not valid UTF-8; bytes that are not were replaced before reading",
            path.display()
        ),
    )
}

/// main.cf, then built-in defaults: what `postconf -x` and the daemons
/// without `-o` overrides see.
pub struct MainScope<'a> {
    conf: &'a PostfixConf,
}

impl Scope for MainScope<'_> {
    fn raw(&self, name: &str) -> Option<Raw<'_>> {
        self.conf
            .main_raw(name)
            .or_else(|| self.conf.default_raw(name))
    }
    fn host_name(&self) -> &str {
        &self.conf.host.name
    }
    fn has_explicit(&self, name: &str) -> bool {
        self.conf.index.contains_key(name)
    }
}

/// Built-in defaults only (`postconf -d -x`).
pub struct DefaultsScope<'a> {
    conf: &'a PostfixConf,
}

impl Scope for DefaultsScope<'_> {
    fn raw(&self, name: &str) -> Option<Raw<'_>> {
        self.conf.default_raw(name)
    }
    fn host_name(&self) -> &str {
        &self.conf.host.name
    }
    fn has_explicit(&self, _: &str) -> bool {
        false
    }
}

/// One master.cf service: its `-o` overrides, then main.cf, then
/// defaults. An override is seen by every parameter that refers to it;
/// `$service_name` is the service's own name.
pub struct ServiceScope<'a> {
    conf: &'a PostfixConf,
    service: usize,
    overrides: Vec<(&'a str, &'a str)>,
}

impl Scope for ServiceScope<'_> {
    fn raw(&self, name: &str) -> Option<Raw<'_>> {
        if let Some((index, (_, v))) = self
            .overrides
            .iter()
            .enumerate()
            .rev()
            .find(|(_, (n, _))| *n == name)
        {
            return Some(Raw {
                text: Cow::Borrowed(v),
                origin: Origin::Override {
                    service: self.service,
                    index,
                },
            });
        }
        if name == "service_name" {
            return Some(Raw {
                text: Cow::Borrowed(self.conf.services[self.service].name()),
                origin: Origin::Default,
            });
        }
        self.conf
            .main_raw(name)
            .or_else(|| self.conf.default_raw(name))
    }
    fn host_name(&self) -> &str {
        &self.conf.host.name
    }
    fn has_explicit(&self, name: &str) -> bool {
        self.conf.index.contains_key(name) || self.overrides.iter().any(|(n, _)| *n == name)
    }
}

/// Computed defaults depend on the host; exposed for `postconf -d`.
pub fn is_computed(name: &str) -> Option<Computed> {
    defaults::computed(name)
}
