//! Planning and applying the changes to the output tree.

use std::collections::{BTreeSet, HashSet};
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub const MANIFEST: &str = ".mailconf-manifest";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Update,
    Unchanged,
    Remove,
}

#[derive(Clone, Debug)]
pub struct Change {
    pub kind: ChangeKind,
    /// Relative to OUT, `/`-separated.
    pub path: String,
    /// The file's text before, kept only when it changes (for `--diff`).
    pub old: Option<String>,
    pub new: Option<Rc<str>>,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Paths that cannot be written (symlinks in the way): path, reason.
    pub blocked: Vec<(String, String)>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.kind != ChangeKind::Unchanged)
    }
}

/// Checks OUT itself: a directory, not a symbolic link.
pub fn check_out_dir(out: &Path) -> Result<(), String> {
    match fs::symlink_metadata(out) {
        Ok(m) if m.file_type().is_symlink() => Err(format!(
            "{} is a symbolic link; mailconf writes only into a real directory (give the link's target instead)",
            out.display()
        )),
        Ok(m) if !m.is_dir() => Err(format!("{} exists and is not a directory", out.display())),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot use {}: {e}", out.display())),
    }
}

/// Reads a regular file under OUT without following symlinks. `Ok(None)`
/// when it does not exist; `Err` when something else is in the way.
fn read_existing(out: &Path, rel: &str) -> Result<Option<String>, String> {
    let mut dir = out.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        dir.push(part);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "{} is a symbolic link; mailconf does not follow links under the output directory",
                    dir.display()
                ));
            }
            Ok(m) if i + 1 < parts.len() && !m.is_dir() => {
                return Err(format!("{} is in the way (not a directory)", dir.display()));
            }
            Ok(m) if i + 1 == parts.len() && !m.is_file() => {
                return Err(format!(
                    "{} is in the way (not a regular file)",
                    dir.display()
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        }
    }
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut s = String::new();
    match f.read_to_string(&mut s) {
        Ok(_) => Ok(Some(s)),
        // Not UTF-8: certainly not what mailconf wrote; replace it.
        Err(_) => Ok(Some(String::new())),
    }
}

fn read_manifest(out: &Path) -> BTreeSet<String> {
    read_existing(out, MANIFEST)
        .ok()
        .flatten()
        .map(|t| {
            t.lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .filter(|l| !l.split('/').any(|c| c == ".." || c.is_empty()))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// What writing `files` (relative path, content) into OUT would change.
/// With `prune`, files mailconf wrote before that are not in `files` are
/// removed.
pub fn plan(out: &Path, files: &[(String, Rc<str>)], prune: bool) -> Plan {
    let mut p = Plan::default();
    for (rel, content) in files {
        match read_existing(out, rel) {
            Ok(None) => p.changes.push(Change {
                kind: ChangeKind::Create,
                path: rel.clone(),
                old: None,
                new: Some(content.clone()),
            }),
            Ok(Some(old)) if *old == **content => p.changes.push(Change {
                kind: ChangeKind::Unchanged,
                path: rel.clone(),
                old: None,
                new: None,
            }),
            Ok(Some(old)) => p.changes.push(Change {
                kind: ChangeKind::Update,
                path: rel.clone(),
                old: Some(old),
                new: Some(content.clone()),
            }),
            Err(why) => p.blocked.push((rel.clone(), why)),
        }
    }
    if prune {
        let keep: BTreeSet<&str> = files.iter().map(|(r, _)| r.as_str()).collect();
        for old in read_manifest(out) {
            if keep.contains(old.as_str()) {
                continue;
            }
            if let Ok(Some(text)) = read_existing(out, &old) {
                p.changes.push(Change {
                    kind: ChangeKind::Remove,
                    path: old,
                    old: Some(text),
                    new: None,
                });
            }
        }
    }
    p
}

/// Creates the directories of `rel` under OUT (0755), refusing symlinks.
fn make_dirs(out: &Path, rel: &str) -> Result<PathBuf, String> {
    let mut dir = out.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        dir.push(part);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "{} is a symbolic link; not followed",
                    dir.display()
                ));
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(format!("{} is in the way (not a directory)", dir.display())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match fs::create_dir(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
                }
                let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o755));
            }
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        }
    }
    Ok(dir)
}

/// A file written next to its target, waiting to be renamed over it.
struct Staged {
    rel: String,
    tmp: PathBuf,
    target: PathBuf,
}

/// Writes `content` to a temporary file beside OUT/rel (leftovers of an
/// interrupted run are removed first; the lock keeps other runs out).
fn stage(out: &Path, rel: &str, content: &[u8]) -> Result<Staged, String> {
    let dir = make_dirs(out, rel)?;
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let prefix = format!(".{name}.mailconf-");
    if let Ok(rd) = fs::read_dir(&dir) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(&prefix) && n.ends_with(".tmp") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    let target = dir.join(name);
    let tmp = dir.join(format!("{prefix}{}.tmp", std::process::id()));
    let result = (|| -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&tmp)?;
        f.write_all(content)?;
        f.set_permissions(fs::Permissions::from_mode(0o644))
    })();
    match result {
        Ok(()) => Ok(Staged {
            rel: rel.to_string(),
            tmp,
            target,
        }),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(format!("cannot write {}: {e}", target.display()))
        }
    }
}

fn commit(s: &Staged) -> Result<(), String> {
    fs::rename(&s.tmp, &s.target).map_err(|e| {
        let _ = fs::remove_file(&s.tmp);
        format!("cannot write {}: {e}", s.target.display())
    })
}

/// Flushes everything written on OUT's file system to disk (one call for
/// the whole run instead of one per file: the data of every new file is on
/// disk before any rename makes it visible).
fn sync_out(out: &Path) -> io::Result<()> {
    let d = fs::File::open(out)?;
    rustix::fs::syncfs(&d).map_err(io::Error::from)
}

/// Writes one file atomically: temporary file, flush, rename, flush.
pub fn write_atomic(out: &Path, rel: &str, content: &[u8]) -> Result<(), String> {
    let s = stage(out, rel, content)?;
    sync_out(out).map_err(|e| format!("cannot flush {}: {e}", out.display()))?;
    commit(&s)?;
    sync_out(out).map_err(|e| format!("cannot flush {}: {e}", out.display()))
}

/// Applies a plan, then records the files mailconf owns in the manifest.
/// Returns the changes that failed (path, reason).
pub fn apply(out: &Path, plan: &Plan, written: &[(String, Rc<str>)]) -> Vec<(String, String)> {
    let mut failed = Vec::new();
    if let Err(e) = fs::create_dir_all(out) {
        failed.push((
            String::new(),
            format!("cannot create {}: {e}", out.display()),
        ));
        return failed;
    }
    // Write every new content beside its target, flush once, then rename
    // each into place (rule M9.3): a crash at any moment leaves every file
    // with its old or its new content.
    let mut staged = Vec::new();
    for c in &plan.changes {
        if matches!(c.kind, ChangeKind::Create | ChangeKind::Update) {
            match stage(out, &c.path, c.new.as_deref().unwrap_or("").as_bytes()) {
                Ok(s) => staged.push(s),
                Err(e) => failed.push((c.path.clone(), e)),
            }
        }
    }
    // Nothing staged, nothing to flush (an unchanged run writes nothing).
    if let Err(e) = if staged.is_empty() {
        Ok(())
    } else {
        sync_out(out)
    } {
        for s in &staged {
            let _ = fs::remove_file(&s.tmp);
            failed.push((
                s.rel.clone(),
                format!("cannot flush {}: {e}", out.display()),
            ));
        }
        staged.clear();
    }
    for s in &staged {
        if let Err(e) = commit(s) {
            failed.push((s.rel.clone(), e));
        }
    }
    for c in &plan.changes {
        match c.kind {
            ChangeKind::Create | ChangeKind::Update | ChangeKind::Unchanged => {}
            ChangeKind::Remove => {
                let p = out.join(&c.path);
                if let Err(e) = fs::remove_file(&p) {
                    failed.push((
                        c.path.clone(),
                        format!("cannot remove {}: {e}", p.display()),
                    ));
                } else {
                    remove_empty_parents(out, &c.path);
                }
            }
        }
    }
    // The manifest keeps what was there and is still owned, plus what was
    // written now.
    let mut owned: BTreeSet<String> = read_manifest(out);
    for c in &plan.changes {
        if c.kind == ChangeKind::Remove {
            owned.remove(&c.path);
        }
    }
    let not_written: HashSet<&str> = plan
        .blocked
        .iter()
        .chain(&failed)
        .map(|(p, _)| p.as_str())
        .collect();
    for (rel, _) in written {
        if !not_written.contains(rel.as_str()) {
            owned.insert(rel.clone());
        }
    }
    let mut text = String::from(
        "# Files written by mailconf; `mailconf generate --prune` removes only these.\n",
    );
    for o in owned {
        text.push_str(&o);
        text.push('\n');
    }
    if read_existing(out, MANIFEST).ok().flatten().as_deref() != Some(text.as_str())
        && let Err(e) = write_atomic(out, MANIFEST, text.as_bytes())
    {
        failed.push((MANIFEST.to_string(), e));
    }
    failed
}

fn remove_empty_parents(out: &Path, rel: &str) {
    let mut p = out.join(rel);
    while p.pop() && p != out && p.starts_with(out) {
        if fs::remove_dir(&p).is_err() {
            break;
        }
    }
}
