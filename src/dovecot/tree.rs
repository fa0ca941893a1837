//! Building the configuration tree the way `doveconf` does: includes in
//! glob order with the section context carried across files, sections with
//! the same type and name merged, the last assignment winning, `$key`
//! self-references expanded on the spot, slash-path keys, and Dovecot 2.3's
//! rewriting of obsolete settings.

use std::path::{Path, PathBuf};

use mailconf_parsers::Span;
use mailconf_parsers::dovecot::{Dialect, Item, Value, parse_conf};

use super::defaults;
use super::glob;
use crate::diag::{Diagnostic, Diagnostics};
use crate::source::{FileId, Root, SourceMap, read_text};

/// Which grammar and defaults a tree is written for (rule M1.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Version {
    V2_3,
    /// With the value of `dovecot_config_version`.
    V2_4(String),
}

impl Version {
    pub fn is_2_4(&self) -> bool {
        matches!(self, Version::V2_4(_))
    }
}

/// Where something was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    pub file: FileId,
    /// The whole line.
    pub span: Span,
    pub key: Span,
    pub value: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    /// The value as doveconf shows it without `-x` (`<path` for file
    /// values), after self-references were expanded.
    pub value: String,
    /// `Some(path)` for `key = <path`.
    pub file_ref: Option<String>,
    /// `None` for built-in defaults and values mailconf derived itself.
    pub loc: Option<Loc>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// Section type (`service`, `inet_listener`, `protocol`, ...); empty
    /// for the top level.
    pub kind: String,
    pub name: Option<String>,
    /// In assignment order; the last one of a key wins.
    pub settings: Vec<Setting>,
    pub children: Vec<Node>,
    pub loc: Option<Loc>,
}

impl Node {
    pub fn new(kind: &str, name: Option<&str>) -> Node {
        Node {
            kind: kind.to_string(),
            name: name.map(str::to_string),
            ..Node::default()
        }
    }

    /// The setting that wins for `key` in this node (not its parents).
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.settings.iter().rev().find(|s| s.key == key)
    }

    pub fn value(&self, key: &str) -> Option<&str> {
        self.get(key).map(|s| s.value.as_str())
    }

    pub fn child(&self, kind: &str, name: Option<&str>) -> Option<&Node> {
        self.children
            .iter()
            .find(|c| c.kind == kind && c.name.as_deref() == name)
    }

    pub fn children_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.kind == kind)
    }

    fn set(&mut self, s: Setting) {
        self.settings.push(s);
    }
}

/// Sections that are lists of named elements; in 2.3 an unnamed `passdb {`
/// or `userdb {` starts a new element each time.
pub fn is_list_kind(kind: &str) -> bool {
    matches!(
        kind,
        "service"
            | "inet_listener"
            | "unix_listener"
            | "fifo_listener"
            | "namespace"
            | "mailbox"
            | "passdb"
            | "userdb"
            | "dict"
            | "metric"
            | "event_exporter"
    )
}

/// Connection filters, in the only order they may nest (outer first).
fn filter_rank(kind: &str) -> Option<usize> {
    match kind {
        "local" => Some(0),
        "local_name" => Some(1),
        "remote" => Some(2),
        "protocol" => Some(3),
        _ => None,
    }
}

/// Settings that are lists in 2.4 (`key = a b`, or `key { a = yes }`).
pub fn is_boollist(key: &str) -> bool {
    matches!(
        key,
        "protocols"
            | "listen"
            | "auth_mechanisms"
            | "mail_plugins"
            | "login_trusted_networks"
            | "ssl_curve_list"
            | "mailbox_special_use"
    )
}

/// Named (non-list) filters of 2.4: `ssl_server { cert_file = x }` is
/// `ssl_server_cert_file = x`.
fn is_named_filter(kind: &str) -> bool {
    matches!(
        kind,
        "ssl_server" | "ssl_client" | "auth_policy" | "mail_attribute"
    )
}

pub struct DovecotConf {
    pub version: Version,
    /// The root file on this machine.
    pub path: PathBuf,
    pub root_file: FileId,
    pub tree: Node,
    /// 2.4 `group @label name {}` definitions.
    pub groups: Vec<Node>,
}

impl DovecotConf {
    /// Reads the tree rooted at `path` (or the server's
    /// `/etc/dovecot/dovecot.conf`). `None` when the root file cannot be
    /// read; every problem is reported in `diags`.
    pub fn load(
        root: &Root,
        path: Option<&Path>,
        sources: &mut SourceMap,
        diags: &mut Diagnostics,
    ) -> Option<DovecotConf> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => match root.resolve("/etc/dovecot/dovecot.conf") {
                Ok(p) => p,
                Err(e) => {
                    diags.push(Diagnostic::error(
                        "dovecot_unreadable",
                        format!(
                            "cannot find the Dovecot configuration under {}: {e}",
                            root.dir().display()
                        ),
                    ));
                    return None;
                }
            },
        };
        let (text, lossy) = match read_text(&path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(
                    Diagnostic::error("dovecot_unreadable", format!("cannot read {}: {e}", path.display()))
                        .help("point mailconf at the server's files with --root DIR or --dovecot-conf FILE"),
                );
                return None;
            }
        };
        let version = detect_version(&text);
        let root_file = sources.add(path.clone(), text);
        if lossy {
            diags.push(not_utf8(&path));
        }
        let mut b = Builder {
            root,
            sources,
            diags,
            dialect: Dialect {
                v2_4: version.is_2_4(),
            },
            version: version.clone(),
            tree: Node::default(),
            stack: Vec::new(),
            include_stack: vec![path.clone()],
            groups: Vec::new(),
            group_open: None,
            boollist_open: None,
            named_open: None,
            seen_first_setting: false,
            loaded: vec![path.clone()],
            missing_protocols_d: None,
            too_deep: false,
        };
        b.file(root_file, &path);
        if !root.is_host_root()
            && let Some(loc) = b.missing_protocols_d
        {
            b.assume_protocols(loc);
        }
        if let Some(&(_, loc)) = b.stack.last() {
            let file = b.sources.get(loc.file).path.display().to_string();
            let line = b.sources.get(loc.file).line_col(loc.span.start).0;
            b.diags.push(
                Diagnostic::error(
                    "missing_close_brace",
                    format!(
                        "missing `}}`: this section, started at {file}:{line}, is never closed"
                    ),
                )
                .at(loc.file, loc.span, "opened here"),
            );
        }
        let Builder { tree, groups, .. } = b;
        let mut conf = DovecotConf {
            version,
            path,
            root_file,
            tree,
            groups,
        };
        conf.apply_groups();
        Some(conf)
    }

    /// 2.4: copies the settings of each `@label = name` group into the
    /// filter that uses it, where that filter does not set them itself.
    fn apply_groups(&mut self) {
        if self.groups.is_empty() {
            return;
        }
        fn walk(n: &mut Node, groups: &[Node]) {
            let uses: Vec<(String, String)> = n
                .settings
                .iter()
                .filter(|s| s.key.starts_with('@'))
                .map(|s| (s.key.clone(), s.value.clone()))
                .collect();
            for (label, name) in uses {
                if let Some(g) = groups
                    .iter()
                    .find(|g| g.name.as_deref() == Some(&label) && g.kind == name)
                {
                    let prefix = format!("{}_", &label[1..]);
                    for s in &g.settings {
                        let key = s.key.strip_prefix(&prefix).unwrap_or(&s.key).to_string();
                        if n.get(&key).is_none() {
                            let mut s = s.clone();
                            s.key = key;
                            n.settings.insert(0, s);
                        }
                    }
                }
            }
            for c in &mut n.children {
                walk(c, groups);
            }
        }
        let groups = std::mem::take(&mut self.groups);
        walk(&mut self.tree, &groups);
        self.groups = groups;
    }
}

/// 2.4 when the first setting of the root file is `dovecot_config_version`.
pub fn detect_version(root_text: &str) -> Version {
    let (items, _) = parse_conf(root_text, Dialect { v2_4: true });
    match items.first() {
        Some(Item::Assign { key, value, .. }) if key == "dovecot_config_version" => {
            Version::V2_4(value.text().into_owned())
        }
        _ => Version::V2_3,
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

struct Builder<'a> {
    root: &'a Root,
    sources: &'a mut SourceMap,
    diags: &'a mut Diagnostics,
    dialect: Dialect,
    version: Version,
    tree: Node,
    /// Path of child indices from the top to the current section, with
    /// where each was opened.
    stack: Vec<(usize, Loc)>,
    include_stack: Vec<PathBuf>,
    groups: Vec<Node>,
    /// Depth of the stack at which a 2.4 group definition was opened.
    group_open: Option<usize>,
    /// 2.4 boollist block being read: (key, stack depth, items so far).
    boollist_open: Option<(String, usize, Vec<String>, Loc)>,
    /// 2.4 named filter being read: (prefix, stack depth).
    named_open: Option<(String, usize)>,
    seen_first_setting: bool,
    /// Every file read, in order.
    loaded: Vec<PathBuf>,
    /// Where `!include_try /usr/share/dovecot/protocols.d/*` found nothing.
    missing_protocols_d: Option<Loc>,
    /// `section_too_deep` was reported.
    too_deep: bool,
}

/// How deep `!include` may nest (a chain of files, not a loop).
const MAX_INCLUDE_DEPTH: usize = 50;

/// How deep sections may nest (see [`Builder::open`]).
const MAX_SECTION_DEPTH: usize = 100;

impl Builder<'_> {
    /// The open sections that are tree nodes (2.4 group, boollist and
    /// named-filter blocks are markers on the stack, not nodes).
    fn node_path(&self) -> impl Iterator<Item = usize> + '_ {
        self.stack
            .iter()
            .map(|&(i, _)| i)
            .take_while(|&i| i != usize::MAX)
    }

    fn current(&mut self) -> &mut Node {
        let path: Vec<usize> = self.node_path().collect();
        let mut n = &mut self.tree;
        for i in path {
            n = &mut n.children[i];
        }
        n
    }

    fn current_ref(&self) -> &Node {
        let mut n = &self.tree;
        for i in self.node_path() {
            n = &n.children[i];
        }
        n
    }

    /// The kinds of the open sections, outermost first.
    fn kinds(&self) -> Vec<String> {
        let mut n = &self.tree;
        let mut out = Vec::new();
        for i in self.node_path() {
            n = &n.children[i];
            out.push(n.kind.clone());
        }
        out
    }

    fn file(&mut self, id: FileId, path: &Path) {
        let text = self.sources.get(id).text.clone();
        let (items, syntax) = parse_conf(&text, self.dialect);
        self.diags.extend_syntax(id, syntax);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for item in items {
            match item {
                Item::Include {
                    optional,
                    pattern,
                    span,
                } => {
                    if self.version.is_2_4() && !self.seen_first_setting {
                        self.version_not_first(id, span);
                    }
                    self.include(id, span, &dir, &pattern, optional);
                }
                Item::Assign {
                    key,
                    key_span,
                    value,
                    value_span,
                    span,
                } => {
                    let loc = Loc {
                        file: id,
                        span,
                        key: key_span,
                        value: value_span,
                    };
                    if self.version.is_2_4()
                        && !self.seen_first_setting
                        && key != "dovecot_config_version"
                    {
                        self.version_not_first(id, key_span);
                    }
                    self.seen_first_setting = true;
                    self.assign(&key, value, loc);
                }
                Item::Open {
                    kind,
                    kind_span,
                    name,
                    name_span,
                    group_name,
                    span,
                } => {
                    let loc = Loc {
                        file: id,
                        span,
                        key: kind_span,
                        value: name_span,
                    };
                    self.open(&kind, name, group_name, loc);
                }
                Item::Close { span } => self.close(id, span),
            }
        }
    }

    /// Debian's Dovecot has an empty built-in `protocols` and fills it from
    /// /usr/share/dovecot/protocols.d, which a copy of another server's
    /// /etc does not include (rule M1.4). The protocol packages also
    /// install conf.d/20-<protocol>.conf, so those say which were there.
    fn assume_protocols(&mut self, loc: Loc) {
        if self.tree.get("protocols").is_some() {
            return;
        }
        let mut found: Vec<&str> = Vec::new();
        for (file, proto) in [
            ("20-imap.conf", "imap"),
            ("20-pop3.conf", "pop3"),
            ("20-lmtp.conf", "lmtp"),
            ("20-submission.conf", "submission"),
            ("20-managesieve.conf", "sieve"),
        ] {
            if self
                .loaded
                .iter()
                .any(|p| p.file_name().is_some_and(|n| n == file))
            {
                found.push(proto);
            }
        }
        let list = found.join(" ");
        self.diags.push(
            Diagnostic::warning(
                "protocols_assumed",
                format!(
                    "/usr/share/dovecot/protocols.d is missing under --root, so Debian's list of enabled protocols is unknown; mailconf assumes `protocols = {list}` from the conf.d/20-*.conf files the protocol packages install"
                ),
            )
            .at(loc.file, loc.span, "nothing found here")
            .help("copy /usr/share/dovecot/protocols.d from the server too, or set protocols in dovecot.conf"),
        );
        self.tree.set(Setting {
            key: "protocols".to_string(),
            value: list,
            file_ref: None,
            loc: Some(loc),
        });
    }

    fn version_not_first(&mut self, file: FileId, span: Span) {
        self.diags.push(
            Diagnostic::error(
                "config_version_not_first",
                "Dovecot 2.4 requires `dovecot_config_version` to be the first setting of dovecot.conf (before any include)",
            )
            .at(file, span, ""),
        );
        self.seen_first_setting = true;
    }

    fn include(&mut self, file: FileId, span: Span, dir: &Path, pattern: &str, optional: bool) {
        let mut matches = Vec::new();
        for alt in glob::expand_braces(pattern) {
            let (base, rel) = if let Some(abs) = alt.strip_prefix('/') {
                (self.root.dir().to_path_buf(), abs.to_string())
            } else {
                (dir.to_path_buf(), alt.clone())
            };
            for m in glob::glob(&base, &rel) {
                // Re-resolve through the root so symbolic links stay inside it.
                let server = if base == self.root.dir() {
                    self.root.resolve(&format!(
                        "/{}",
                        m.strip_prefix(&base).unwrap_or(&m).display()
                    ))
                } else {
                    self.root
                        .resolve_from(dir, &m.strip_prefix(dir).unwrap_or(&m).to_string_lossy())
                };
                match server {
                    Ok(p) => matches.push(p),
                    Err(e) => self.diags.push(
                        Diagnostic::warning(
                            "path_outside_root",
                            format!("`{}` is not read: {e}", m.display()),
                        )
                        .at(file, span, ""),
                    ),
                }
            }
        }
        if matches.is_empty() {
            if optional && pattern.starts_with("/usr/share/dovecot/protocols.d") {
                self.missing_protocols_d = Some(Loc {
                    file,
                    span,
                    key: span,
                    value: span,
                });
            }
            if !optional {
                self.diags.push(
                    Diagnostic::error(
                        "include_no_match",
                        format!("`!include {pattern}` matches no file; Dovecot refuses to start (use !include_try for an optional file)"),
                    )
                    .at(file, span, "no match"),
                );
            }
            return;
        }
        for m in matches {
            if m.is_dir() {
                continue;
            }
            if self.include_stack.len() > MAX_INCLUDE_DEPTH {
                self.err(
                    "include_too_deep",
                    Loc {
                        file,
                        span,
                        key: span,
                        value: span,
                    },
                    &format!(
                        "includes nested more than {MAX_INCLUDE_DEPTH} files deep: not read further"
                    ),
                );
                return;
            }
            if self.include_stack.contains(&m) {
                self.diags.push(
                    Diagnostic::error(
                        "include_loop",
                        format!("recursive include: {} is already being read", m.display()),
                    )
                    .at(file, span, "included again here"),
                );
                continue;
            }
            match read_text(&m) {
                Ok((text, lossy)) => {
                    if lossy {
                        self.diags.push(not_utf8(&m));
                    }
                    let id = self.sources.add(m.clone(), text);
                    self.loaded.push(m.clone());
                    self.include_stack.push(m.clone());
                    self.file(id, &m);
                    self.include_stack.pop();
                }
                Err(e) if !optional => self.diags.push(
                    Diagnostic::error(
                        "include_unreadable",
                        format!("cannot open included file {}: {e}", m.display()),
                    )
                    .at(file, span, ""),
                ),
                Err(_) => {}
            }
        }
    }

    fn open(&mut self, kind: &str, name: Option<String>, group_name: Option<String>, loc: Loc) {
        // Real configurations nest a handful of levels; hostile nesting
        // must cost neither the stack nor time per level. Deeper sections
        // are markers that only keep the braces balanced.
        if self.stack.len() >= MAX_SECTION_DEPTH {
            if !self.too_deep {
                self.too_deep = true;
                self.err(
                    "section_too_deep",
                    loc,
                    &format!("sections nested more than {MAX_SECTION_DEPTH} levels deep: mailconf does not read this deep (no Dovecot setting needs it)"),
                );
            }
            self.stack.push((usize::MAX, loc));
            return;
        }
        let kinds = self.kinds();
        if self.version.is_2_4() {
            if kind == "group" {
                if !self.stack.is_empty() {
                    self.err(
                        "group_not_top_level",
                        loc,
                        "`group` definitions must be at the top level, not inside a section",
                    );
                }
                let mut g = Node::new(group_name.as_deref().unwrap_or(""), name.as_deref());
                g.loc = Some(loc);
                self.groups.push(g);
                self.group_open = Some(self.stack.len());
                self.stack.push((usize::MAX, loc));
                return;
            }
            if is_boollist(kind) && name.is_none() {
                self.boollist_open = Some((kind.to_string(), self.stack.len(), Vec::new(), loc));
                self.stack.push((usize::MAX, loc));
                return;
            }
            if is_named_filter(kind) {
                if name.is_some() {
                    self.err(
                        "section_name_not_allowed",
                        loc,
                        &format!("`{kind} {{ }}` must not have a section name"),
                    );
                }
                self.named_open = Some((format!("{kind}_"), self.stack.len()));
                self.stack.push((usize::MAX, loc));
                return;
            }
            if matches!(
                kind,
                "passdb" | "userdb" | "service" | "inet_listener" | "namespace"
            ) && name.is_none()
            {
                self.err(
                    "section_name_missing",
                    loc,
                    &format!("Dovecot 2.4 needs a name here: `{kind} NAME {{`"),
                );
            }
        }
        // Filters must nest as local ⊃ local_name ⊃ remote ⊃ protocol.
        if let Some(rank) = filter_rank(kind) {
            for outer in &kinds {
                if let Some(r) = filter_rank(outer)
                    && (r > rank || (r == rank && kind == "protocol"))
                {
                    self.err(
                        "filter_nesting",
                        loc,
                        &format!("`{outer} {{ {kind} {{ .. }} }}` is not allowed: filters nest as local {{ local_name {{ remote {{ protocol {{ .. }} }} }} }}"),
                    );
                    break;
                }
            }
        }
        let name = match (kind, name) {
            ("local_name", Some(n)) if self.version.is_2_4() => {
                if n.contains(' ') {
                    self.err("local_name_multiple", loc, "Dovecot 2.4 no longer accepts several names in one local_name block; write one block per name");
                }
                Some(n.to_ascii_lowercase())
            }
            (_, n) => n,
        };
        let merge = name.is_some() || !matches!(kind, "passdb" | "userdb");
        let cur = self.current();
        let idx = match cur
            .children
            .iter()
            .position(|c| merge && c.kind == kind && c.name == name)
        {
            Some(i) => i,
            None => {
                let mut n = Node::new(kind, name.as_deref());
                n.loc = Some(loc);
                cur.children.push(n);
                cur.children.len() - 1
            }
        };
        self.stack.push((idx, loc));
    }

    fn close(&mut self, file: FileId, span: Span) {
        if self.stack.is_empty() {
            self.diags.push(
                Diagnostic::error("unexpected_close_brace", "`}` without an open section")
                    .at(file, span, ""),
            );
            return;
        }
        let depth = self.stack.len() - 1;
        if self.group_open == Some(depth) {
            self.group_open = None;
        }
        if self.named_open.as_ref().is_some_and(|n| n.1 == depth) {
            self.named_open = None;
        }
        if let Some((key, d, items, loc)) = self.boollist_open.take() {
            if d == depth {
                self.stack.pop();
                self.apply_boollist_block(&key, items, loc);
                return;
            }
            self.boollist_open = Some((key, d, items, loc));
        }
        self.stack.pop();
    }

    fn err(&mut self, id: &'static str, loc: Loc, msg: &str) {
        self.diags
            .push(Diagnostic::error(id, msg.to_string()).at(loc.file, loc.span, ""));
    }

    fn apply_boollist_block(&mut self, key: &str, items: Vec<String>, loc: Loc) {
        let mut list = self.current_list(key);
        for it in items {
            let (name, on) = it.split_once('\u{0}').unwrap_or((&it, "yes"));
            let on = !matches!(on.to_ascii_lowercase().as_str(), "no");
            if !on {
                list.retain(|x| x != name);
            } else if !list.iter().any(|x| x == name) {
                list.push(name.to_string());
            }
        }
        let value = list.join(" ");
        self.current().set(Setting {
            key: key.to_string(),
            value,
            file_ref: None,
            loc: Some(loc),
        });
    }

    /// The current items of a 2.4 list setting (set here, or the default).
    fn current_list(&self, key: &str) -> Vec<String> {
        let v = self.lookup_current(key).unwrap_or_else(|| {
            defaults::default_value(&self.version, &[], key).unwrap_or_default()
        });
        split_list(&v)
    }

    /// The value of `key` as seen from the current section: the innermost
    /// open section that sets it, else the built-in default.
    fn lookup_current(&self, key: &str) -> Option<String> {
        let mut chain = vec![&self.tree];
        let mut n = &self.tree;
        for i in self.node_path() {
            n = &n.children[i];
            chain.push(n);
        }
        chain
            .iter()
            .rev()
            .find_map(|n| n.value(key).map(str::to_string))
    }

    fn assign(&mut self, key: &str, value: Value, loc: Loc) {
        // 2.4 block forms.
        if let Some((_, d, items, _)) = &mut self.boollist_open
            && *d + 1 == self.stack.len()
        {
            items.push(format!("{key}\u{0}{}", value.text()));
            return;
        }
        if let Some(depth) = self.group_open
            && depth < self.stack.len()
        {
            let g = self.groups.last_mut().expect("group opened");
            g.set(plain_setting(key, &value, loc));
            return;
        }
        let key = match &self.named_open {
            Some((prefix, d)) if *d + 1 == self.stack.len() => {
                if key.starts_with(prefix.as_str()) {
                    key.to_string()
                } else {
                    format!("{prefix}{key}")
                }
            }
            _ => key.to_string(),
        };
        let kinds = self.kinds();
        let in_net_filter = kinds
            .iter()
            .any(|k| matches!(k.as_str(), "local" | "remote" | "local_name"));
        if in_net_filter && (key.starts_with("auth_") || key == "passdb" || key == "userdb") {
            self.err(
                "auth_in_net_filter",
                loc,
                &format!("`{key}`: authentication settings are not supported inside local/remote/local_name blocks"),
            );
            return;
        }
        if key.contains('/') {
            // 2.4 `ssl_server/cert_file` is `ssl_server_cert_file`.
            if self.version.is_2_4()
                && let Some((head, rest)) = key.split_once('/')
                && is_named_filter(head)
                && !rest.contains('/')
            {
                let full = if rest.starts_with(&format!("{head}_")) {
                    rest.to_string()
                } else {
                    format!("{head}_{rest}")
                };
                let setting = self.make_setting(&full, value, loc);
                self.current().set(setting);
                return;
            }
            self.assign_path(&key, value, loc);
            return;
        }
        if !self.version.is_2_4()
            && key == "listen"
            && kinds.len() == 1
            && kinds[0] == "protocol"
            && let Value::Plain(v) = &value
        {
            // 2.3 rewrites `protocol imap { listen = IP }` into the plain
            // listener's address.
            let proto = self.current_ref().name.clone().unwrap_or_default();
            self.diags.push(
                Diagnostic::warning(
                    "obsolete_setting",
                    format!("`listen` inside `protocol {proto}` is obsolete: Dovecot reads it as the address of the `{proto}` listener"),
                )
                .at(loc.file, loc.span, ""),
            );
            let depth = self.stack.len();
            // The rewrite applies at the top level, not inside the filter.
            let saved: Vec<(usize, Loc)> = self.stack.drain(..).collect();
            self.set_listener(&format!("{proto}-login"), &proto, "address", v, loc);
            self.stack = saved;
            debug_assert_eq!(self.stack.len(), depth);
            return;
        }
        // Key normalisation inside 2.4 list filters (autoprefixing).
        let key = if self.version.is_2_4() {
            let n = self.current_ref();
            normalize_24_key(&n.kind, n.name.as_deref(), &key)
        } else {
            key
        };
        if !self.version.is_2_4()
            && kinds.is_empty()
            && let Value::Plain(v) = &value
            && !v.contains('$')
            && self.legacy_rewrite(&key, v, loc)
        {
            return;
        }
        if self.version.is_2_4() && !self.check_24(&key, &value, &kinds, loc) {
            return;
        }
        let mut setting = self.make_setting(&key, value, loc);
        if self.version.is_2_4() && is_boollist(&key) {
            setting.value = split_list(&setting.value).join(" ");
        }
        self.current().set(setting);
    }

    /// Dovecot 2.4 refusals that change what mailconf reads.
    fn check_24(&mut self, key: &str, value: &Value, kinds: &[String], loc: Loc) -> bool {
        let text = value.text();
        for t in text.split(' ') {
            if let Some(name) = t.strip_prefix("$SET:")
                && is_boollist(name)
            {
                self.err("set_on_list", loc, &format!("`$SET:{name}` cannot be used: `{name}` is a list (use `{name} {{ item = yes }}` to add to it)"));
                return false;
            }
        }
        if key == "dovecot_config_version" {
            let v = text.trim();
            if !matches!(v, "2.4.0" | "2.4.1" | "2.4.2" | "2.4.3" | "2.4.4" | "2.4.5") {
                self.err(
                    "config_version_unknown",
                    loc,
                    &format!("unsupported dovecot_config_version `{v}` (known: 2.4.0 to 2.4.5)"),
                );
            } else if let Version::V2_4(first) = &self.version
                && first != v
            {
                self.err(
                    "config_version_changed",
                    loc,
                    "dovecot_config_version cannot be changed once set",
                );
            }
            return true;
        }
        match kinds.last().map(String::as_str) {
            Some("inet_listener") if key == "address" => {
                self.err("unknown_setting", loc, "`address` is not a Dovecot 2.4 listener setting: write `listen = ADDRESS` inside the inet_listener block");
                false
            }
            Some(kind @ ("passdb" | "userdb")) => {
                let n = self.current_ref();
                let name = n.name.clone().unwrap_or_default();
                let driver = n
                    .value("driver")
                    .map(str::to_string)
                    .unwrap_or_else(|| name.clone());
                let driver_key = matches!(
                    key,
                    "password"
                        | "query"
                        | "iterate_query"
                        | "filter"
                        | "iterate_filter"
                        | "bind"
                        | "args"
                );
                if key == "args" || (driver_key && driver != name) {
                    self.err(
                        "unknown_setting",
                        loc,
                        &format!("`{key}` is not known inside `{kind} {name}`: Dovecot 2.4 prefixes it with the section name, not the driver (write `{kind}_{driver}_{key}`, or name the section `{driver}`)"),
                    );
                    return false;
                }
                true
            }
            _ => true,
        }
    }

    fn make_setting(&self, key: &str, value: Value, loc: Loc) -> Setting {
        let mut s = plain_setting(key, &value, loc);
        if let Value::Plain(v) = &value
            && v.contains('$')
        {
            s.value = self.expand_self(key, v);
        }
        s
    }

    /// 2.3: `key = $key more` appends to the current value (the default if
    /// unset). Other `$name` tokens stay as written (they are expanded only
    /// by the services, or by `doveconf -x`). 2.4: the same for `$SET:key`.
    fn expand_self(&self, key: &str, v: &str) -> String {
        let me = if self.version.is_2_4() {
            format!("$SET:{key}")
        } else {
            format!("${key}")
        };
        if !v.split(' ').any(|t| t == me) {
            return v.to_string();
        }
        let current = self.lookup_current(key).unwrap_or_else(|| {
            let kinds = self.kinds();
            let ks: Vec<&str> = kinds.iter().map(String::as_str).collect();
            defaults::default_value(&self.version, &ks, key).unwrap_or_default()
        });
        let mut out = String::new();
        for (i, t) in v.split(' ').filter(|t| !t.is_empty()).enumerate() {
            if i > 0 {
                out.push(' ');
            }
            if t == me {
                out.push_str(&current);
            } else {
                out.push_str(t);
            }
        }
        out
    }

    /// `service/imap-login/inet_listener/imaps/port = 1993`.
    fn assign_path(&mut self, key: &str, value: Value, loc: Loc) {
        let parts: Vec<&str> = key.split('/').collect();
        let (last, sections) = parts.split_last().expect("split gives one part");
        let mut path: Vec<(String, Option<String>)> = Vec::new();
        let mut i = 0;
        while i < sections.len() {
            let kind = sections[i];
            if is_list_kind(kind) && i + 1 < sections.len() {
                path.push((kind.to_string(), Some(sections[i + 1].to_string())));
                i += 2;
            } else {
                path.push((kind.to_string(), None));
                i += 1;
            }
        }
        // 2.3 only reaches sections that exist already (here or as a default).
        if !self.version.is_2_4() {
            let mut n = Some(self.current_ref());
            let mut d = Some(defaults::tree(&self.version));
            for (k, nm) in &path {
                n = n.and_then(|x| x.child(k, nm.as_deref()));
                d = d.and_then(|x| x.child(k, nm.as_deref()));
            }
            let exists = n.is_some() || d.is_some() || path.iter().all(|(k, _)| k == "plugin");
            if !exists {
                self.err("unknown_setting", loc, &format!("Unknown setting: {key} (Dovecot 2.3 reaches only sections that already exist)"));
                return;
            }
        }
        let mut depth_pushed = 0;
        for (kind, name) in &path {
            let cur = self.current();
            let idx = match cur
                .children
                .iter()
                .position(|c| &c.kind == kind && &c.name == name)
            {
                Some(i) => i,
                None => {
                    let mut nn = Node::new(kind, name.as_deref());
                    nn.loc = Some(loc);
                    cur.children.push(nn);
                    cur.children.len() - 1
                }
            };
            self.stack.push((idx, loc));
            depth_pushed += 1;
        }
        let setting = self.make_setting(last, value, loc);
        self.current().set(setting);
        for _ in 0..depth_pushed {
            self.stack.pop();
        }
    }

    /// Dovecot 2.3 rewrites some 1.x/2.0 settings while parsing
    /// (`old-set-parser.c`); the ones that change what clients see are
    /// applied here, each with a warning.
    fn legacy_rewrite(&mut self, key: &str, v: &str, loc: Loc) -> bool {
        let obsolete = |d: &mut Diagnostics, msg: String| {
            d.push(Diagnostic::warning("obsolete_setting", msg).at(loc.file, loc.span, ""));
        };
        let derived = |key: &str, value: &str| Setting {
            key: key.to_string(),
            value: value.to_string(),
            file_ref: None,
            loc: Some(loc),
        };
        match key {
            "protocols" => {
                let words: Vec<&str> = v.split(' ').filter(|w| !w.is_empty()).collect();
                if !words
                    .iter()
                    .any(|w| matches!(*w, "imaps" | "pop3s" | "managesieve"))
                {
                    return false;
                }
                let mut out: Vec<String> = Vec::new();
                for w in &words {
                    let n = match *w {
                        "imaps" => "imap",
                        "pop3s" => "pop3",
                        "managesieve" => "sieve",
                        w => w,
                    };
                    if !out.iter().any(|o| o == n) {
                        out.push(n.to_string());
                    }
                }
                obsolete(self.diags, "the imaps/pop3s/managesieve protocol names are obsolete: Dovecot reads them as imap/pop3/sieve (and turns the plain-text port off when only the TLS name was listed)".to_string());
                self.current().set(derived("protocols", &out.join(" ")));
                for (tls, plain, svc) in [
                    ("imaps", "imap", "imap-login"),
                    ("pop3s", "pop3", "pop3-login"),
                ] {
                    if words.contains(&tls) && !words.contains(&plain) {
                        self.set_listener(svc, plain, "port", "0", loc);
                    }
                }
                true
            }
            "listen" | "ssl_listen" => {
                let (addr, port) = match v.rsplit_once(':') {
                    Some((a, p))
                        if p.bytes().all(|c| c.is_ascii_digit())
                            && !a.is_empty()
                            && !a.ends_with(':') =>
                    {
                        (a, Some(p))
                    }
                    _ => (v, None),
                };
                if key == "listen" && port.is_none() {
                    return false;
                }
                obsolete(
                    self.diags,
                    format!(
                        "`{key} = ADDRESS:PORT` is obsolete: Dovecot rewrites it into the listeners' address and port"
                    ),
                );
                if key == "listen" {
                    self.current().set(derived("listen", addr));
                    for (svc, l) in [("imap-login", "imap"), ("pop3-login", "pop3")] {
                        self.set_listener(svc, l, "port", port.unwrap_or_default(), loc);
                    }
                } else {
                    for (svc, l) in [("imap-login", "imaps"), ("pop3-login", "pop3s")] {
                        self.set_listener(svc, l, "address", addr, loc);
                        if let Some(p) = port {
                            self.set_listener(svc, l, "port", p, loc);
                        }
                    }
                }
                true
            }
            "ssl_disable" => {
                let ssl = if v.eq_ignore_ascii_case("yes") {
                    "no"
                } else {
                    "yes"
                };
                obsolete(
                    self.diags,
                    format!("`ssl_disable` is obsolete: Dovecot reads it as `ssl = {ssl}`"),
                );
                self.current().set(derived("ssl", ssl));
                true
            }
            "ssl_cert_file" | "ssl_key_file" | "ssl_ca_file" => {
                let new = key.trim_end_matches("_file");
                obsolete(
                    self.diags,
                    format!("`{key}` is obsolete: Dovecot reads it as `{new} = <{v}`"),
                );
                let mut s = derived(new, &format!("<{v}"));
                s.file_ref = Some(v.to_string());
                self.current().set(s);
                true
            }
            _ => false,
        }
    }

    fn set_listener(&mut self, service: &str, listener: &str, key: &str, value: &str, loc: Loc) {
        let depth = self.stack.len();
        for (kind, name) in [("service", service), ("inet_listener", listener)] {
            let cur = self.current();
            let idx = match cur
                .children
                .iter()
                .position(|c| c.kind == kind && c.name.as_deref() == Some(name))
            {
                Some(i) => i,
                None => {
                    cur.children.push(Node::new(kind, Some(name)));
                    cur.children.len() - 1
                }
            };
            self.stack.push((idx, loc));
        }
        self.current().set(Setting {
            key: key.to_string(),
            value: value.to_string(),
            file_ref: None,
            loc: Some(loc),
        });
        self.stack.truncate(depth);
    }
}

fn plain_setting(key: &str, value: &Value, loc: Loc) -> Setting {
    Setting {
        key: key.to_string(),
        value: value.text().into_owned(),
        file_ref: match value {
            Value::File(p) => Some(p.clone()),
            _ => None,
        },
        loc: Some(loc),
    }
}

/// 2.4 autoprefixing inside `KIND NAME { key = ... }`: `inet_listener_port`
/// and `inet_listener_imaps_port` are `port` there, `passdb_sql_query` in
/// `passdb sql` is `query`.
pub fn normalize_24_key(kind: &str, name: Option<&str>, key: &str) -> String {
    if kind.is_empty() {
        return key.to_string();
    }
    if let Some(n) = name {
        let full = format!("{kind}_{}_", n.replace('/', "_"));
        if let Some(k) = key.strip_prefix(&full) {
            return k.to_string();
        }
    }
    key.strip_prefix(&format!("{kind}_"))
        .filter(|k| !k.is_empty())
        .unwrap_or(key)
        .to_string()
}

/// Items of a list value: 2.3 splits on spaces (`listen` also on commas),
/// 2.4 on spaces and commas; quotes removed.
pub fn split_list(v: &str) -> Vec<String> {
    v.split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_matches('"').to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autoprefix() {
        assert_eq!(
            normalize_24_key("inet_listener", Some("imaps"), "inet_listener_port"),
            "port"
        );
        assert_eq!(
            normalize_24_key("inet_listener", Some("imaps"), "inet_listener_imaps_ssl"),
            "ssl"
        );
        assert_eq!(
            normalize_24_key("passdb", Some("sql"), "passdb_sql_query"),
            "query"
        );
        assert_eq!(normalize_24_key("passdb", Some("sql"), "driver"), "driver");
        assert_eq!(normalize_24_key("", None, "passdb_x"), "passdb_x");
    }

    #[test]
    fn version_detection() {
        assert_eq!(
            detect_version("# c\n\ndovecot_config_version = 2.4.1\n"),
            Version::V2_4("2.4.1".into())
        );
        assert_eq!(
            detect_version("!include_try x\ndovecot_config_version = 2.4.1\n"),
            Version::V2_3
        );
        assert_eq!(detect_version("protocols = imap\n"), Version::V2_3);
    }
}
