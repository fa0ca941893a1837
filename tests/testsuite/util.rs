//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn mailconf() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mailconf"));
    c.env("NO_COLOR", "1");
    c
}

/// The fixture directories under `fixtures/<kind>/`, sorted.
pub fn fixture_dirs(kind: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("fixtures").join(kind))
        .unwrap_or_else(|e| panic!("fixtures/{kind}: {e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// A scratch directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p =
            std::env::temp_dir().join(format!("mailconf-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copies a tree (files, directories and symbolic links), setting every
/// file's mtime an hour back: Postfix re-reads a main.cf younger than a
/// second, repeating its warnings.
pub fn copy_tree(from: &Path, to: &Path) {
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for entry in walkdir::WalkDir::new(from).follow_links(false) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let dst = to.join(rel);
        let ft = entry.file_type();
        if ft.is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
        } else if ft.is_symlink() {
            let target = std::fs::read_link(entry.path()).unwrap();
            std::os::unix::fs::symlink(target, &dst).unwrap();
        } else {
            std::fs::copy(entry.path(), &dst).unwrap();
            let f = std::fs::File::options().write(true).open(&dst).unwrap();
            f.set_modified(hour_ago).unwrap();
        }
    }
}

/// Runs a program that the tests need; a missing program is a failure with
/// a message saying how to install it (CI installs it in `.ci/run`).
pub fn run_required(cmd: &mut Command, package: &str) -> Output {
    cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {:?}: {e}; install the Debian package `{package}` (see .ci/run)",
            cmd.get_program()
        )
    })
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `f` on every item with up to `threads` threads; results keep the
/// order of `items`.
pub fn parallel<T: Send, R: Send>(
    items: Vec<T>,
    threads: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let n = items.len();
    let queue = std::sync::Mutex::new(items.into_iter().enumerate().collect::<Vec<_>>());
    let results = std::sync::Mutex::new((0..n).map(|_| None).collect::<Vec<Option<R>>>());
    std::thread::scope(|s| {
        for _ in 0..threads.min(n.max(1)) {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap().pop();
                    let Some((i, item)) = next else { break };
                    let r = f(item);
                    results.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}

/// The hosted domain names of `mailconf inspect --format json` output.
pub fn inspect_domains(json: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(json)
        .unwrap_or_else(|e| panic!("inspect JSON: {e}: {}", text(json)));
    v["domains"]
        .as_array()
        .expect("a domains array")
        .iter()
        .map(|d| d["name"].as_str().expect("a name").to_string())
        .collect()
}
