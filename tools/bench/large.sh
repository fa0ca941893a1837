#!/usr/bin/env bash
# Whole-process benchmark at a size where a second output tree does not fit
# on the disk (issue 8; BENCHMARKS.md, "1,000,000 domains"):
#
#   N=1000000 tools/bench/large.sh          # needs root (loop devices)
#   N=100000 SIZE_GB=10 tools/bench/large.sh  # same steps, room for cp -r too
#
# At 1,000,000 domains one output tree takes about 29 GB and 7,000,000
# inodes; `cp -r` needs as much again, and deleting a tree file by file takes
# longer than writing it. So every tree is written on a fresh ext4 file
# system in a sparse image on a loop device (direct I/O: the image's pages
# are not cached twice), which is dropped whole afterwards:
#
#   1. image A: tools/bench/run.sh at N (generate cold, unchanged, check,
#      postconf -n + doveconf -n; cp -r only when A has room for a copy);
#   2. the output tree archived in name order (tar | zstd -1; ~100 MB),
#      timed: reading every directory and file of the tree is the floor of
#      a run with nothing changed;
#   3. image A dropped; image B, fresh and the same size: the archive
#      unpacked into an empty directory (zstd -dc | tar -x), measured like
#      the rest: the file-system floor for writing the same files when no
#      second tree fits. At sizes where both run, it is printed beside
#      cp -r so the two floors can be compared.
#
# Environment: N, SIZE_GB (image size; default from N), SCRATCH (where the
# images and results go: a directory owned by root that no one else can
# write to; default a new one from mktemp under ${TMPDIR:-/tmp}), QUIET_WAIT
# and TIMEOUT (passed to run.sh; TIMEOUT defaults to 3600 s here).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

N=${N:-1000000}
SCRATCH=${SCRATCH:-}
# Per domain: 5 directories and 2 files of about 1 KB on 4 KB blocks
# (29 KB), 16 inodes of 256 bytes (two trees' worth), plus 10% and 1 GB.
SIZE_GB=${SIZE_GB:-$(((N * 33 * 11 / 10 + 999999) / 1000000 + 1))}
INODES=$((16 * N + 100000))
export TIMEOUT=${TIMEOUT:-3600}

if [ "$(id -u)" != 0 ]; then
    echo "large.sh: needs root (losetup, mount)" >&2
    exit 2
fi
# Run as root: a scratch directory someone else could write to would let
# them swap the image for a disk (mkfs) or the measuring helper (run as root).
if [ -z "$SCRATCH" ]; then
    SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/mailconf-large.XXXXXX")
else
    mkdir -p -m 0700 "$SCRATCH"
fi
SCRATCH=$(cd "$SCRATCH" && pwd -P)
if [ "$(stat -c %u "$SCRATCH")" != 0 ] || [ -n "$(find "$SCRATCH" -maxdepth 0 -perm /022)" ]; then
    echo "large.sh: $SCRATCH must be owned by root and writable by no one else" >&2
    exit 2
fi
if [ "$(stat -f -c %T "$SCRATCH")" = tmpfs ]; then
    echo "large.sh: $SCRATCH is on tmpfs: the images would sit in memory" >&2
    exit 2
fi
mnt=$SCRATCH/mnt
img=$SCRATCH/fs.img

# Leaves no mount, loop device or image behind, whatever failed before
# (errexit is off here: one failing step must not skip the next).
drop_fs() {
    set +e
    if mountpoint -q "$mnt"; then umount "$mnt" || umount -l "$mnt"; fi
    local d
    for d in $(losetup -j "$img" -O NAME -n 2>/dev/null); do losetup -d "$d"; done
    rm -f "$img"
    set -e
}
trap drop_fs EXIT

# A fresh ext4 file system at $mnt, its inode tables written now (lazy
# initialisation would write them in the background during the runs).
fresh_fs() {
    drop_fs
    truncate -s "${SIZE_GB}G" "$img"
    mkfs.ext4 -q -N "$INODES" -E lazy_itable_init=0,lazy_journal_init=0 "$img"
    local dev
    dev=$(losetup --find --show --direct-io=on "$img")
    mkdir -p "$mnt"
    mount "$dev" "$mnt"
}

echo "== N=$N: image A (${SIZE_GB} GB, $INODES inodes)"
fresh_fs
WORK=$mnt/work NS=$N MAX_N=$N REPS=1 JSON=$SCRATCH/results-$N.json tools/bench/run.sh --keep

cc -O2 -o "$SCRATCH/spawn" tools/bench/spawn.c
# Runs a shell command like bench.py runs mailconf, after the same sync and
# pause; adds its figures to the row of N in the results as `key`.
measure() {
    local key=$1 label=$2 cmd=$3 wall user sys rss rc
    sync
    sleep "${QUIET_WAIT:-60}"
    # wall_ns user_us sys_us maxrss_kb exit (tools/bench/spawn.c)
    read -r wall user sys rss rc < <("$SCRATCH/spawn" /dev/null "$SCRATCH/$key.err" -- bash -o pipefail -c "$cmd")
    if [ "$rc" != 0 ]; then
        echo "large.sh: $label failed (exit $rc):" >&2
        cat "$SCRATCH/$key.err" >&2
        exit 1
    fi
    python3 - "$SCRATCH/results-$N.json" "$N" "$key" "$label" "$wall" "$user" "$sys" "$rss" <<'EOF'
import json, sys
path, n, key, label, wall, user, sys_, rss = sys.argv[1:]
n = int(n)
m = {"label": label, "reps": 1, "wall": int(wall) / 1e9, "user": int(user) / 1e6,
     "sys": int(sys_) / 1e6, "rss_mb": int(rss) / 1024}
m["cpu"] = m["user"] + m["sys"]
with open(path) as f:
    doc = json.load(f)
row = next(r for r in doc["rows"] if r and r.get("n") == n and r.get("case") != "small")
row[key] = m
with open(path, "w") as f:
    json.dump(doc, f, indent=1)
print(f"  {label:<36} wall {m['wall']:.2f} s  cpu {m['cpu']:.2f} s "
      f"(user {m['user']:.2f} s, sys {m['sys']:.2f} s)  rss {m['rss_mb']:.1f} MB")
for mine, floor in (("unchanged", "tar_c"), ("cold", "untar")):
    if row.get(mine) and row.get(floor) and key == floor:
        print(f"  ratio: {mine}/{floor} {row[mine]['wall'] / row[floor]['wall']:.2f}x")
if key == "untar" and row.get("cp"):
    print(f"  ratio: untar/cp {m['wall'] / row['cp']['wall']:.2f}x (the two write floors)")
EOF
}

# Reading every directory and file of the tree, in name order as mailconf
# does: the floor of a run with nothing changed.
echo "== archiving the output tree (timed: the read floor)"
arch=$SCRATCH/out-$N.tar.zst
measure tar_c "tar -c | zstd -1 (output tree)" \
    "tar -C '$mnt/work/out-N=$N' --sort=name -cf - . | zstd -1 -q -f -o '$arch'"
ls -l "$arch"

echo "== image B (fresh): unpacking the archive (the write floor)"
fresh_fs
mkdir "$mnt/dst"
measure untar "zstd -dc | tar -x (output tree)" "zstd -dc '$arch' | tar -xf - -C '$mnt/dst'"
files=$(find "$mnt/dst" -name config-v1.1.xml | wc -l)
if [ "$files" != $((2 * N)) ]; then
    echo "large.sh: unpacked $files files, expected $((2 * N))" >&2
    exit 1
fi
echo "results: $SCRATCH/results-$N.json"
