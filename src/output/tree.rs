//! Comparing and writing the output tree, one file at a time.
//!
//! Files are offered one by one as they are rendered, so only one domain's
//! text is in memory at a time (at 100,000 domains, keeping every text
//! until the end cost 100 MB): each is compared with the file on disk and,
//! when writing, staged beside its target at once. `finish` then flushes
//! once, renames every staged file into place, prunes, and records the
//! manifest. What stays in memory per file is its path and what happened
//! to it.

use std::collections::HashSet;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = ".mailconf-manifest";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Update,
    Unchanged,
    Remove,
}

/// What a run does to OUT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Stage each changed file as it is offered; `finish` puts them in place.
    Write,
    /// Only compare (`check`, `--dry-run`): nothing under OUT is touched.
    Compare,
}

/// One change, as [`Tree::changes`] reports it.
#[derive(Debug)]
pub struct Change<'a> {
    pub kind: ChangeKind,
    /// Relative to OUT, `/`-separated.
    pub path: &'a str,
    /// Writing or removing it failed (the reason is in [`Tree::failed`]).
    pub failed: bool,
    /// The text before and after, kept only when the tree was asked to
    /// (`--diff`) and only for files that change.
    pub texts: Option<(&'a str, &'a str)>,
}

/// One offered or removed path: `names[previous end..end]`.
struct Entry {
    end: usize,
    kind: ChangeKind,
    failed: bool,
}

/// Where a path under OUT stands.
enum Existing {
    /// Component `from` (0-based) and those after it do not exist.
    Missing { from: usize },
    /// A regular file, read into the tree's buffer.
    File,
}

/// The output tree of one run.
pub struct Tree<'a> {
    out: &'a Path,
    mode: Mode,
    keep_texts: bool,
    /// The temporary-file suffix of this process.
    pid: u32,
    /// Permission bits the umask removes: 0755 and 0644 need a chmod only
    /// when it removes some of theirs.
    umask: u32,
    /// Every offered path, back to back: one allocation, not one per file.
    names: String,
    entries: Vec<Entry>,
    /// With `keep_texts`, the old and new text of each entry that changes.
    texts: Vec<Option<Box<(String, String)>>>,
    /// Entries whose new text waits beside its target.
    staged: Vec<usize>,
    blocked: Vec<(String, String)>,
    failed: Vec<(String, String)>,
    /// The file last read from OUT.
    buf: Vec<u8>,
    /// Whether this kernel lets `openat2` be used.
    beneath_works: bool,
}

impl<'a> Tree<'a> {
    pub fn new(out: &'a Path, mode: Mode, keep_texts: bool) -> Self {
        Tree {
            out,
            mode,
            keep_texts,
            pid: std::process::id(),
            umask: current_umask(),
            names: String::new(),
            entries: Vec::new(),
            texts: Vec::new(),
            staged: Vec::new(),
            blocked: Vec::new(),
            failed: Vec::new(),
            buf: Vec::new(),
            beneath_works: true,
        }
    }

    /// Makes room for `files` more paths of `bytes` in all (at 100,000
    /// domains, growing by doubling would cost up to twice the room).
    pub fn reserve(&mut self, files: usize, bytes: usize) {
        self.entries.reserve_exact(files);
        self.names.reserve_exact(bytes);
    }

    /// Compares `content` with OUT/`rel` and, when writing and it differs,
    /// stages it. A path that cannot be used (a symlink or something else
    /// in the way) is recorded in [`Tree::blocked`] and left alone.
    pub fn offer(&mut self, rel: &str, content: &str) {
        let (kind, from) = match self.existing(rel) {
            Ok(Existing::Missing { from }) => (ChangeKind::Create, from),
            Ok(Existing::File) if self.buf == content.as_bytes() => {
                (ChangeKind::Unchanged, usize::MAX)
            }
            Ok(Existing::File) => (ChangeKind::Update, usize::MAX),
            Err(why) => {
                self.blocked.push((rel.to_string(), why));
                return;
            }
        };
        let texts = (self.keep_texts && kind != ChangeKind::Unchanged).then(|| {
            let old = match kind {
                ChangeKind::Update => String::from_utf8_lossy(&self.buf).into_owned(),
                _ => String::new(),
            };
            Box::new((old, content.to_string()))
        });
        let index = self.push(rel, kind, texts);
        if self.mode == Mode::Write && kind != ChangeKind::Unchanged {
            match self.stage(rel, from, content.as_bytes()) {
                Ok(()) => self.staged.push(index),
                Err(e) => self.fail(index, e),
            }
        }
    }

    /// Puts the staged files in place (rule M9.3), removes with `prune` the
    /// files mailconf wrote before that were not offered this time
    /// (M9.4), and records the files mailconf owns in the manifest.
    pub fn finish(&mut self, prune: bool) {
        let manifest = match self.existing(MANIFEST) {
            Ok(Existing::File) => String::from_utf8(std::mem::take(&mut self.buf))
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            _ => String::new(),
        };
        let owned_before: Vec<&str> = manifest
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter(|l| !l.split('/').any(|c| c == ".." || c == "." || c.is_empty()))
            .collect();
        let gone: Vec<&str> = if prune {
            let offered: HashSet<&str> = self
                .entries()
                .map(|(_, path)| path)
                .chain(self.blocked.iter().map(|(p, _)| p.as_str()))
                .collect();
            owned_before
                .iter()
                .copied()
                .filter(|p| !offered.contains(p))
                .collect()
        } else {
            Vec::new()
        };
        if self.mode == Mode::Write {
            self.commit_staged();
        }
        for rel in gone {
            if !matches!(self.existing(rel), Ok(Existing::File)) {
                continue;
            }
            let texts = self.keep_texts.then(|| {
                Box::new((
                    String::from_utf8_lossy(&self.buf).into_owned(),
                    String::new(),
                ))
            });
            let index = self.push(rel, ChangeKind::Remove, texts);
            if self.mode == Mode::Write {
                let p = self.out.join(rel);
                match fs::remove_file(&p) {
                    Ok(()) => remove_empty_parents(self.out, rel),
                    Err(e) => self.fail(index, format!("cannot remove {}: {e}", p.display())),
                }
            }
        }
        if self.mode == Mode::Write {
            self.write_manifest(&manifest, &owned_before);
        }
    }

    /// Every change, in the order the files were offered, then removals.
    pub fn changes(&self) -> impl Iterator<Item = Change<'_>> {
        self.entries().enumerate().map(|(i, (e, path))| Change {
            kind: e.kind,
            path,
            failed: e.failed,
            texts: self
                .texts
                .get(i)
                .and_then(|t| t.as_deref())
                .map(|(o, n)| (o.as_str(), n.as_str())),
        })
    }

    pub fn has_changes(&self) -> bool {
        self.entries.iter().any(|e| e.kind != ChangeKind::Unchanged)
    }

    /// Paths that cannot be written (something in the way): path, reason.
    pub fn blocked(&self) -> &[(String, String)] {
        &self.blocked
    }

    /// Writes and removals that failed: path, reason.
    pub fn failed(&self) -> &[(String, String)] {
        &self.failed
    }

    /// Records a path and what happens to it; returns its index.
    fn push(&mut self, rel: &str, kind: ChangeKind, texts: Option<Box<(String, String)>>) -> usize {
        self.names.push_str(rel);
        self.entries.push(Entry {
            end: self.names.len(),
            kind,
            failed: false,
        });
        if self.keep_texts {
            self.texts.push(texts);
        }
        self.entries.len() - 1
    }

    /// Each entry with its path.
    fn entries(&self) -> impl Iterator<Item = (&Entry, &str)> {
        let mut start = 0;
        self.entries.iter().map(move |e| {
            let path = &self.names[start..e.end];
            start = e.end;
            (e, path)
        })
    }

    fn path(&self, index: usize) -> &str {
        let start = index.checked_sub(1).map_or(0, |i| self.entries[i].end);
        &self.names[start..self.entries[index].end]
    }

    fn fail(&mut self, index: usize, why: String) {
        self.entries[index].failed = true;
        self.failed.push((self.path(index).to_string(), why));
    }

    /// Looks at OUT/`rel` without following symlinks; a regular file is
    /// read into `buf`.
    fn existing(&mut self, rel: &str) -> Result<Existing, String> {
        if self.read_beneath(rel) {
            return Ok(Existing::File);
        }
        self.walk(rel)
    }

    /// The common case, without an `lstat` per component: OUT/`rel` is a
    /// regular file reached through real directories only (`openat2`
    /// refuses any symlink and anything outside OUT). At 100,000 domains,
    /// checking each component with `lstat` first was a sixth of an
    /// unchanged run. False when that is not so or not known (a kernel
    /// older than 5.6, a seccomp filter): [`Tree::walk`] then finds out
    /// what is there and says why.
    fn read_beneath(&mut self, rel: &str) -> bool {
        use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
        if !self.beneath_works {
            return false;
        }
        // OUT is opened for each file, not once per run: the writes that
        // follow go by path, so what is checked must be what OUT is now.
        let dir = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let Ok(out) = rustix::fs::open(self.out, dir, Mode::empty()) else {
            return false;
        };
        let resolve =
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        let open = |flags: OFlags| {
            let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            rustix::fs::openat2(&out, rel, flags, Mode::empty(), resolve)
        };
        // Looked at first without opening it: opening a FIFO or a device
        // node has effects (a writer released, a driver's open run).
        let seen = match open(OFlags::PATH) {
            Ok(fd) => fd,
            Err(e) => {
                if e == rustix::io::Errno::NOSYS || e == rustix::io::Errno::PERM {
                    self.beneath_works = false;
                }
                return false;
            }
        };
        let Ok(st) = rustix::fs::fstat(&seen) else {
            return false;
        };
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return false;
        }
        // NONBLOCK and NOCTTY in case it was swapped in the meantime
        // (only root can put a device node there); then it must be the
        // very file looked at.
        let Ok(fd) = open(OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY) else {
            return false;
        };
        match rustix::fs::fstat(&fd) {
            Ok(now) if now.st_dev == st.st_dev && now.st_ino == st.st_ino => {}
            _ => return false,
        }
        self.buf.clear();
        fs::File::from(fd).read_to_end(&mut self.buf).is_ok()
    }

    /// Looks at OUT/`rel` component by component: where it stops being
    /// there, or what is in the way.
    fn walk(&mut self, rel: &str) -> Result<Existing, String> {
        let mut path = self.out.to_path_buf();
        let parts = rel.split('/').count();
        for (i, part) in rel.split('/').enumerate() {
            path.push(part);
            match fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(format!(
                        "{} is a symbolic link; mailconf does not follow links under the output directory",
                        path.display()
                    ));
                }
                Ok(m) if i + 1 < parts && !m.is_dir() => {
                    return Err(format!(
                        "{} is in the way (not a directory)",
                        path.display()
                    ));
                }
                Ok(m) if i + 1 == parts && !m.is_file() => {
                    return Err(format!(
                        "{} is in the way (not a regular file)",
                        path.display()
                    ));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Ok(Existing::Missing { from: i });
                }
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
        let mut f = OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.buf.clear();
        f.read_to_end(&mut self.buf)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Existing::File)
    }

    /// Creates the directories of `rel` under OUT (0755) from component
    /// `from` on (those before it are known to be directories); refuses
    /// symlinks. Also says whether the file's directory is new.
    fn make_dirs(&self, rel: &str, from: usize) -> Result<(PathBuf, bool), String> {
        let mut dir = self.out.to_path_buf();
        let parts: Vec<&str> = rel.split('/').collect();
        let mut created = false;
        for (i, part) in parts[..parts.len().saturating_sub(1)].iter().enumerate() {
            dir.push(part);
            if i < from {
                continue;
            }
            match make_dir(&dir, self.umask) {
                Ok(()) => {
                    created = true;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => created = false,
                Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
            }
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(format!(
                        "{} is a symbolic link; not followed",
                        dir.display()
                    ));
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(format!("{} is in the way (not a directory)", dir.display())),
                Err(e) => return Err(format!("{}: {e}", dir.display())),
            }
        }
        Ok((dir, created))
    }

    /// The temporary file that waits beside OUT/`rel`.
    fn temporary(&self, rel: &str) -> PathBuf {
        let mut tmp = self.out.join(rel);
        let name = rel.rsplit('/').next().unwrap_or(rel);
        tmp.set_file_name(format!(".{name}.mailconf-{}.tmp", self.pid));
        tmp
    }

    /// Writes `content` to a temporary file beside OUT/`rel`, whose
    /// components from `from` on may be missing. Leftovers of an
    /// interrupted run are removed first (the lock keeps other runs out).
    fn stage(&self, rel: &str, from: usize, content: &[u8]) -> Result<(), String> {
        let (dir, new_dir) = self.make_dirs(rel, from)?;
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if !new_dir {
            let prefix = format!(".{name}.mailconf-");
            if let Ok(rd) = fs::read_dir(&dir) {
                for e in rd.flatten() {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    if n.starts_with(&prefix) && n.ends_with(".tmp") {
                        let _ = fs::remove_file(e.path());
                    }
                }
            }
        }
        let tmp = self.temporary(rel);
        let result = (|| -> io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                .open(&tmp)?;
            f.write_all(content)?;
            if self.umask & 0o644 != 0 {
                f.set_permissions(fs::Permissions::from_mode(0o644))?;
            }
            Ok(())
        })();
        result.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("cannot write {}: {e}", dir.join(name).display())
        })
    }

    /// Renames the temporary file of OUT/`rel` over it.
    fn commit(&self, rel: &str) -> Result<(), String> {
        let target = self.out.join(rel);
        let tmp = self.temporary(rel);
        fs::rename(&tmp, &target).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("cannot write {}: {e}", target.display())
        })
    }

    /// Flushes once, then renames each staged file into place: a crash at
    /// any moment leaves every file with its old or its new content.
    fn commit_staged(&mut self) {
        let staged = std::mem::take(&mut self.staged);
        if staged.is_empty() {
            // Nothing staged, nothing to flush (an unchanged run writes nothing).
            return;
        }
        if let Err(e) = sync_out(self.out) {
            let why = format!("cannot flush {}: {e}", self.out.display());
            for &i in &staged {
                let _ = fs::remove_file(self.temporary(self.path(i)));
                self.fail(i, why.clone());
            }
            return;
        }
        for i in staged {
            if let Err(why) = self.commit(self.path(i)) {
                self.fail(i, why);
            }
        }
    }

    /// The manifest keeps what was owned and is still there, plus every
    /// file offered and now in place.
    fn write_manifest(&mut self, before: &str, owned_before: &[&str]) {
        let removed: HashSet<&str> = self
            .entries()
            .filter(|(e, _)| e.kind == ChangeKind::Remove && !e.failed)
            .map(|(_, path)| path)
            .collect();
        let mut owned: Vec<&str> = owned_before
            .iter()
            .copied()
            .filter(|p| !removed.contains(p))
            .chain(
                self.entries()
                    .filter(|(e, _)| e.kind != ChangeKind::Remove && !e.failed)
                    .map(|(_, path)| path),
            )
            .collect();
        owned.sort_unstable();
        owned.dedup();
        const HEADER: &str =
            "# Files written by mailconf; `mailconf generate --prune` removes only these.\n";
        // `before` is the manifest on disk (the lock keeps other runs out);
        // compare line by line first, so a run that changes nothing does
        // not hold a second copy of it.
        let mut rest = before.strip_prefix(HEADER);
        for o in &owned {
            rest = rest
                .and_then(|r| r.strip_prefix(*o))
                .and_then(|r| r.strip_prefix('\n'));
        }
        if rest == Some("") {
            return;
        }
        let mut text =
            String::with_capacity(HEADER.len() + owned.iter().map(|o| o.len() + 1).sum::<usize>());
        text.push_str(HEADER);
        for o in owned {
            text.push_str(o);
            text.push('\n');
        }
        if let Err(e) = self.write_atomic(MANIFEST, text.as_bytes()) {
            self.failed.push((MANIFEST.to_string(), e));
        }
    }

    /// Writes one file atomically: temporary file, flush, rename, flush.
    fn write_atomic(&self, rel: &str, content: &[u8]) -> Result<(), String> {
        self.stage(rel, usize::MAX, content)?;
        let flush =
            || sync_out(self.out).map_err(|e| format!("cannot flush {}: {e}", self.out.display()));
        flush()?;
        self.commit(rel)?;
        flush()
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

/// Creates OUT and its missing parents, 0755 whatever the umask (rule
/// M9.2: the web server must be able to read them).
pub fn create_out_dir(out: &Path) -> Result<(), String> {
    let missing: Vec<&Path> = out
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && fs::symlink_metadata(a).is_err())
        .collect();
    let umask = current_umask();
    for dir in missing.into_iter().rev() {
        match make_dir(dir, umask) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
    }
    Ok(())
}

/// Creates one directory, 0755 whatever the umask (rule M9.2: the web
/// server must be able to read it); the error is `mkdir`'s.
fn make_dir(dir: &Path, umask: u32) -> io::Result<()> {
    DirBuilder::new().mode(0o755).create(dir)?;
    if umask & 0o755 != 0 {
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o755));
    }
    Ok(())
}

/// The process's umask (reading it means setting it: put it back at once;
/// mailconf is single-threaded here).
fn current_umask() -> u32 {
    use rustix::fs::Mode;
    let old = rustix::process::umask(Mode::from_bits_truncate(0o022));
    rustix::process::umask(old);
    old.bits()
}

/// Flushes everything written on OUT's file system to disk (one call for
/// the whole run instead of one per file: the data of every new file is on
/// disk before any rename makes it visible).
fn sync_out(out: &Path) -> io::Result<()> {
    let d = fs::File::open(out)?;
    rustix::fs::syncfs(&d).map_err(io::Error::from)
}

fn remove_empty_parents(out: &Path, rel: &str) {
    let mut p = out.join(rel);
    while p.pop() && p != out && p.starts_with(out) {
        if fs::remove_dir(&p).is_err() {
            break;
        }
    }
}
