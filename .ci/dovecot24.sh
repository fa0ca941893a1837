#!/bin/bash
# .ci/dovecot24.sh [DEST]  -  make a Dovecot 2.4 `doveconf` usable on Debian 12
# without installing it system-wide (test oracle for CI).
#
# What it does (recipe from shared/reference/dovecot-grammar.md §0.2):
#   * downloads the Debian 13 "trixie" dovecot 2.4 packages plus the newer
#     glibc/libstdc++/... they need, with apt-get using a private sources list,
#     state and cache (the system's apt state, sources and pins are not used
#     or modified);
#   * unpacks them with `dpkg-deb -x` under DEST (default /opt/dovecot24);
#   * installs DEST/bin/doveconf24, a wrapper that runs the 2.4 doveconf with
#     the trixie dynamic loader inside a private mount namespace
#     (`unshare -m`) in which DEST's usr/lib/dovecot (and usr/share/dovecot)
#     are bind-mounted over the system ones, so the installed 2.3 modules are
#     never loaded. Nothing changes outside that namespace.
#
# Usage:   .ci/dovecot24.sh [DEST]
#          DEST/bin/doveconf24 -c /path/dovecot.conf -n
# Env:     DOVECOT24_MIRROR  Debian mirror to use (default: the configured one,
#                            then http://deb.debian.org/debian)
#          DOVECOT24_SUITE   trixie (default; Debian 13, dovecot 2.4.1) or sid
#                            (unstable; newest 2.4, e.g. 2.4.5 - moves over time)
# Idempotent: does nothing when DEST already holds a working setup.
# Needs: root (or unprivileged user namespaces), apt-get, dpkg-deb, unshare,
# mount, x86_64. The debian-archive-keyring must be installed.
# DEST/root/usr/share/dovecot holds Debian 13's default 2.4 config tree.

set -euo pipefail

PROG=dovecot24.sh
die() { echo "$PROG: error: $*" >&2; exit 1; }
log() { echo "$PROG: $*" >&2; }

DEST=${1:-/opt/dovecot24}
SUITE=${DOVECOT24_SUITE:-trixie}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
MARKER=.dovecot24-ok

# Packages unpacked into DEST/root (dovecot itself). The SQL/LDAP driver
# packages are needed so doveconf knows the `mysql {}`, `pgsql {}`, `ldap_*`
# settings; sieve/managesieve bring pigeonhole's settings modules.
# LIB_PKGS are unpacked into DEST/libs: everything doveconf and the settings
# modules it dlopen()s need that must come from the new suite (newer glibc
# ABI) or might be absent from a bare Debian 12 machine. Checked below with
# ld.so --list, so a wrong list fails loudly instead of half-working.
DOVECOT_PKGS="dovecot-core dovecot-imapd dovecot-pop3d dovecot-submissiond
  dovecot-lmtpd dovecot-managesieved dovecot-sieve dovecot-pgsql
  dovecot-sqlite dovecot-ldap"
LIB_PKGS="libc6 libstdc++6 libgcc-s1 libunwind8 liblzma5 libsasl2-2 libldap2
  libssl3t64 libzstd1 zlib1g libstemmer0d"
case $SUITE in
  trixie)
    DOVECOT_PKGS="$DOVECOT_PKGS dovecot-mysql"
    LIB_PKGS="$LIB_PKGS libicu76 libexttextcat-2.0-0" ;;
  sid|unstable)   # dovecot-mysql is an empty transitional package there
    DOVECOT_PKGS="$DOVECOT_PKGS dovecot-mariadb"
    LIB_PKGS="$LIB_PKGS libicu78 libpcre2-32-0 libexttextcat-2.0-1" ;;
  *) die "unsupported DOVECOT24_SUITE '$SUITE' (use trixie or sid)" ;;
esac

[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (this is $(uname -m))"
for c in apt-get apt-config dpkg-deb unshare mount flock; do
  command -v "$c" >/dev/null 2>&1 || die "required command '$c' not found"
done

mkdir -p "$DEST" || die "cannot create destination directory $DEST"
DEST=$(cd "$DEST" && pwd -P)
case $DEST in *"'"*) die "destination path must not contain a single quote: $DEST";; esac
WRAPPER=$DEST/bin/doveconf24
# Only ever work in an empty directory or one this script set up before
# (it owns DEST/root, DEST/libs, DEST/bin and removes them on a rebuild).
if [ ! -e "$DEST/.lock" ] && [ -n "$(ls -A "$DEST")" ]; then
  die "$DEST is not empty and was not set up by this script; choose another destination"
fi

# One setup at a time per DEST.
exec 9>"$DEST/.lock" || die "cannot write to $DEST"
flock 9

# The mount point for the bind mount must exist. It does when the system's
# dovecot-core (2.3) is installed; otherwise create an empty directory.
ensure_mountpoints() {
  if [ ! -d /usr/lib/dovecot ]; then
    log "note: /usr/lib/dovecot does not exist (no system dovecot); creating an empty directory as mount point"
    mkdir -p /usr/lib/dovecot || die "cannot create /usr/lib/dovecot (needed as bind-mount point)"
  fi
}

smoke_test() {  # $1 = wrapper; prints the version, e.g. "2.4.1-4 (7d8c0e5759)"
  local t out h rc=0
  t=$(mktemp -d) || return 1
  printf '%s\n' 'dovecot_config_version = 2.4.1' 'dovecot_storage_version = 2.4.1' \
    'protocols = imap' > "$t/dovecot.conf"
  if out=$("$1" -c "$t/dovecot.conf" -h protocols 2>&1) && [ "$out" = imap ] &&
     h=$("$1" -c "$t/dovecot.conf" -n 2>&1) && [ "${h#\# 2.4}" != "$h" ]; then
    h=${h%%$'\n'*}; h=${h#\# }; echo "${h%%:*}"
  else
    printf '%s\n' "$out" "${h:-}" >&2
    rc=1
  fi
  rm -rf "$t"
  return $rc
}

# ---------------------------------------------------------------- idempotence
if [ -f "$DEST/$MARKER" ] && [ -x "$WRAPPER" ] &&
   [ "$(sed -n 2p "$DEST/$MARKER")" = "$SUITE" ]; then
  ensure_mountpoints
  if v=$(smoke_test "$WRAPPER" 2>/dev/null); then
    log "already set up in $DEST (doveconf $v); nothing to do"
    exit 0
  fi
  log "existing setup in $DEST does not work; rebuilding"
fi
rm -f "$DEST/$MARKER"
rm -rf "${DEST:?}/root" "${DEST:?}/libs" "${DEST:?}/bin" "${DEST:?}/.staging"

[ -r "$KEYRING" ] || die "$KEYRING not found (install package debian-archive-keyring)"

# ---------------------------------------------------------------- mirror list
configured_mirror() {
  local f=/etc/apt/sources.list.d/debian.sources
  if [ -r "$f" ]; then
    # deb822: first stanza of Types "deb" whose URI is not the security archive.
    awk 'BEGIN{RS=""; FS="\n"}
      { types=""; uris=""
        for (i=1;i<=NF;i++) {
          if ($i ~ /^Types:/) types=$i
          if ($i ~ /^URIs:/)  { uris=$i; sub(/^URIs:[ \t]*/, "", uris); split(uris, u, /[ \t]+/); uris=u[1] }
        }
        if (types ~ /(^|[ \t])deb([ \t]|$)/ && uris ~ /^https?:\/\// && uris !~ /security/) { print uris; exit }
      }' "$f"
  fi
  if [ -r /etc/apt/sources.list ]; then
    awk '$1=="deb" { i=2; if ($2 ~ /^\[/) { while (i<=NF && $i !~ /\]$/) i++; i++ }
                     if ($i ~ /^https?:\/\// && $i !~ /security/) { print $i; exit } }' /etc/apt/sources.list
  fi
}

MIRRORS=()
if [ -n "${DOVECOT24_MIRROR:-}" ]; then
  MIRRORS+=("${DOVECOT24_MIRROR%/}")
else
  m=$(configured_mirror | head -n1 || true)
  [ -n "$m" ] && MIRRORS+=("${m%/}")
  [ "${m%/}" = http://deb.debian.org/debian ] || MIRRORS+=(http://deb.debian.org/debian)
fi

# ---------------------------------------------------------------- download
STAGE=$DEST/.staging
trap 'rm -rf "$STAGE"' EXIT
START=$(date +%s)

# Private apt configuration: keep the system's Acquire:: settings (proxy,
# Check-Valid-Until, ...) but not its apt.conf.d hooks, pins, sources or
# extra index targets (e.g. appstream's DEP-11).
prepare_apt() {  # $1 = mirror
  rm -rf "$STAGE"
  mkdir -p "$STAGE/lists/partial" "$STAGE/cache/archives/partial" "$STAGE/debs" "$STAGE/empty" \
           "$STAGE/root" "$STAGE/libs"
  touch "$STAGE/status"
  printf 'deb [signed-by=%s] %s %s main\n' "$KEYRING" "$1" "$SUITE" > "$STAGE/sources.list"
  {
    apt-config dump 'Acquire' 2>/dev/null | grep -E '^Acquire::' | grep -Ev '^Acquire::(IndexTargets|Languages)' || true
    cat <<EOF
Dir::Etc::Main "/dev/null";
Dir::Etc::Parts "$STAGE/empty";
Dir::Etc::SourceList "$STAGE/sources.list";
Dir::Etc::SourceParts "$STAGE/empty";
Dir::Etc::Preferences "/dev/null";
Dir::Etc::PreferencesParts "$STAGE/empty";
Dir::State::Lists "$STAGE/lists";
Dir::State::status "$STAGE/status";
Dir::Cache "$STAGE/cache";
Debug::NoLocking "true";
APT::Sandbox::User "root";
Acquire::Languages:: "none";
EOF
  } > "$STAGE/apt.conf"
}

fetch_from() {  # $1 = mirror; returns non-zero on any failure
  local m=$1 cand
  prepare_apt "$m"
  export APT_CONFIG=$STAGE/apt.conf
  log "fetching $SUITE package index from $m"
  if ! apt-get -q -o APT::Update::Error-Mode=any update > "$STAGE/update.log" 2>&1; then
    sed 's/^/  /' "$STAGE/update.log" >&2
    log "apt-get update failed for $m $SUITE"
    return 1
  fi
  cand=$(apt-cache policy dovecot-core 2>/dev/null | awk '/Candidate:/{print $2}')
  case $cand in
    1:2.4*|2.4*) log "dovecot-core candidate in $SUITE: $cand" ;;
    *) log "no dovecot 2.4 in $m $SUITE (dovecot-core candidate: '${cand:-none}')"; return 1 ;;
  esac
  log "downloading packages"
  # shellcheck disable=SC2086
  if ! (cd "$STAGE/debs" && apt-get -q download $DOVECOT_PKGS $LIB_PKGS) > "$STAGE/download.log" 2>&1; then
    sed 's/^/  /' "$STAGE/download.log" >&2
    log "apt-get download failed from $m"
    return 1
  fi
  unset APT_CONFIG
}

ok=
for m in "${MIRRORS[@]}"; do
  if fetch_from "$m"; then ok=1; break; fi
  unset APT_CONFIG
done
[ -n "$ok" ] || die "could not download Dovecot 2.4 ($SUITE) packages from: ${MIRRORS[*]} (see messages above)"

# ---------------------------------------------------------------- unpack
log "unpacking"
unpack() {  # $1 = target dir, rest = package names
  local dir=$1 p f; shift
  for p in "$@"; do
    f=("$STAGE/debs/${p}_"*.deb)
    [ -f "${f[0]}" ] || die "downloaded package $p not found"
    dpkg-deb -x "${f[0]}" "$dir" || die "dpkg-deb -x ${f[0]} failed"
  done
}
# shellcheck disable=SC2086
unpack "$STAGE/root" $DOVECOT_PKGS
# shellcheck disable=SC2086
unpack "$STAGE/libs" $LIB_PKGS
rm -rf "$STAGE/debs" "$STAGE/cache" "$STAGE/lists"

L=$STAGE/libs/usr/lib/x86_64-linux-gnu
[ -x "$L/ld-linux-x86-64.so.2" ] || die "dynamic loader missing after unpacking libc6"
[ -x "$STAGE/root/usr/bin/doveconf" ] || die "doveconf missing after unpacking dovecot-core"

# Every library doveconf and its settings modules need must resolve inside
# DEST, otherwise it would work here but not on a bare machine.
bad=
for obj in "$STAGE/root/usr/bin/doveconf" "$STAGE"/root/usr/lib/dovecot/modules/settings/*.so; do
  [ -e "$obj" ] || continue
  out=$("$L/ld-linux-x86-64.so.2" --library-path "$L:$STAGE/root/usr/lib/dovecot" --list "$obj" 2>&1) || true
  probs=$(printf '%s\n' "$out" | grep -E '=>' | grep -v "=> $STAGE/" || true)
  if [ -n "$probs" ]; then
    bad=1
    log "unresolved or system library for ${obj#"$STAGE"/}:"
    printf '  %s\n' "$probs" >&2
  fi
done
[ -z "$bad" ] || die "library set incomplete for $SUITE (add the packages providing the libraries above to LIB_PKGS)"

# ---------------------------------------------------------------- install
mkdir -p "$STAGE/bin"
cat > "$STAGE/bin/doveconf24" <<EOF
#!/bin/sh
# doveconf24: Dovecot 2.4 doveconf from $DEST (generated by .ci/dovecot24.sh).
# Runs in a private mount namespace where $DEST/root/usr/lib/dovecot (and
# usr/share/dovecot) hide the system's 2.3 files; uses $SUITE's loader/glibc.
D='$DEST'
EOF
cat >> "$STAGE/bin/doveconf24" <<'EOF'
unset LD_PRELOAD LD_LIBRARY_PATH
if [ ! -d /usr/lib/dovecot ]; then
  mkdir -p /usr/lib/dovecot 2>/dev/null ||
    { echo "doveconf24: /usr/lib/dovecot is missing (needed as bind-mount point); run as root" >&2; exit 1; }
fi
if [ "$(id -u)" = 0 ]; then NS=-m; else NS=-rm; fi
# shellcheck disable=SC2016
exec unshare "$NS" --propagation private /bin/sh -c '
  D=$1; shift
  L=$D/libs/usr/lib/x86_64-linux-gnu
  mount --bind "$D/root/usr/lib/dovecot" /usr/lib/dovecot || exit 1
  if [ -d /usr/share/dovecot ]; then
    mount --bind "$D/root/usr/share/dovecot" /usr/share/dovecot || exit 1
  fi
  GCONV_PATH=$L/gconv
  export GCONV_PATH
  exec "$L/ld-linux-x86-64.so.2" --library-path "$L:$D/root/usr/lib/dovecot" \
       "$D/root/usr/bin/doveconf" "$@"' doveconf24 "$D" "$@"
EOF
chmod 755 "$STAGE/bin/doveconf24"

# Move into place (same filesystem: renames), test, then mark as done.
mv "$STAGE/root" "$STAGE/libs" "$STAGE/bin" "$DEST/"
rm -rf "$STAGE"
ensure_mountpoints
if ! v=$(smoke_test "$WRAPPER"); then
  die "installed $WRAPPER but it does not work (output above)"
fi
printf '%s\n%s\n' "$v" "$SUITE" > "$DEST/$MARKER"
log "done in $(( $(date +%s) - START ))s: $WRAPPER (doveconf $v)"
