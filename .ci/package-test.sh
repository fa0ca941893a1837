#!/usr/bin/env bash
# Builds the Debian package with cargo-deb, installs it on this machine with
# dpkg, and checks what an administrator gets: the files, the conffiles, the
# systemd units, and the dpkg triggers that regenerate the autoconfig files
# (docs/packaging.md). Then purges the package.
#
# Needs root on Debian 12 with postfix and dovecot-core/-imapd/-pop3d
# installed (.ci/setup does that); does not need systemd running. It
# replaces /etc/postfix/main.cf and master.cf with a test configuration
# and puts everything back when it ends. Safe to run again.
#
# Environment: CARGO_TARGET_DIR as for cargo; KEEP_PACKAGE=1 leaves the
# package installed (and the test configuration in place) for a look.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
repo=$(pwd)

fails=0
passes=0
pass() { echo "PASS: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
die() { echo "FAIL: $*"; echo "package-test: FAILED (setup step)"; exit 1; }
check() { # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
step() { echo "--- $* ($(( $(date +%s) - t0 ))s)"; }
t0=$(date +%s)

[ "$(id -u)" -eq 0 ] || die "run as root (dpkg -i)"
command -v dpkg >/dev/null || die "not a Debian system"
for tool in postconf doveconf; do
    command -v "$tool" >/dev/null || die "$tool missing: run .ci/setup first"
done

# Everything this test changes on the machine, put back by cleanup.
work=$(mktemp -d /tmp/mailconf-package-test.XXXXXX)
backup=$work/backup
mkdir -p "$backup"
saved=()
save() { # save FILE: remember FILE (or its absence) for cleanup
    local f=$1 b
    b=$backup/$(echo "$f" | tr / _)
    if [ -e "$f" ]; then cp -a "$f" "$b"; else : >"$b.absent"; fi
    saved+=("$f")
}
cleanup() {
    if [ "${KEEP_PACKAGE:-}" = 1 ]; then
        echo "KEEP_PACKAGE=1: package and test configuration left in place; backups in $backup"
        return
    fi
    dpkg --purge mailconf-trigger-test >/dev/null 2>&1 || true
    dpkg --purge mailconf >/dev/null 2>&1 || true
    local f b
    for f in "${saved[@]}"; do
        b=$backup/$(echo "$f" | tr / _)
        if [ -e "$b.absent" ]; then rm -f "$f"; else cp -a "$b" "$f"; fi
    done
    rm -rf "$work"
}
trap cleanup EXIT

# A package left by an earlier, interrupted run.
dpkg --purge mailconf-trigger-test >/dev/null 2>&1 || true
dpkg --purge mailconf >/dev/null 2>&1 || true

step "build"
if ! cargo deb --version >/dev/null 2>&1; then
    echo "installing cargo-deb (once per machine)"
    cargo install cargo-deb --version 3.8.0 --locked --quiet || die "cargo install cargo-deb"
fi
target_dir=$(cargo metadata --no-deps --format-version 1 --locked |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -n "$target_dir" ] || die "cannot find cargo's target directory"
# PACKAGE_PROFILE=dev packages the binary `cargo test` already built (CI:
# it saves a release build; the package is the same but for speed).
profile=${PACKAGE_PROFILE:-release}
case $profile in dev) profile_dir=debug ;; *) profile_dir=$profile ;; esac
cargo build --profile "$profile" --locked --bin mailconf || die "cargo build --profile $profile"
bin=$target_dir/$profile_dir/mailconf

# The man pages and completions come from the clap definition; cargo-deb's
# assets list (Cargo.toml, [package.metadata.deb]) takes them from
# target/release/assets/ (cargo-deb maps target/release/ to the profile's
# directory).
assets=$target_dir/$profile_dir/assets
rm -rf "$assets"
mkdir -p "$assets/man"
"$bin" man >"$assets/man/mailconf.1" || die "mailconf man"
for c in $("$bin" man --list); do
    "$bin" man "$c" >"$assets/man/mailconf-$c.1" || die "mailconf man $c"
done
gzip -9n "$assets/man/"*.1
"$bin" completions bash >"$assets/mailconf.bash" || die "mailconf completions bash"
"$bin" completions zsh >"$assets/_mailconf" || die "mailconf completions zsh"
"$bin" completions fish >"$assets/mailconf.fish" || die "mailconf completions fish"
rm -rf "$target_dir/debian"
cargo deb --no-build --locked --profile "$profile" --output "$target_dir/debian/" || die "cargo deb"
debs=("$target_dir"/debian/mailconf_*.deb)
deb=${debs[0]}
[ -f "$deb" ] || die "no .deb in $target_dir/debian"
pass "built $(basename "$deb")"

step "package contents"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$work/contents"
for f in /usr/bin/mailconf /usr/share/man/man1/mailconf.1.gz \
    /usr/share/man/man1/mailconf-generate.1.gz /usr/share/man/man1/mailconf-check.1.gz \
    /usr/share/bash-completion/completions/mailconf \
    /usr/share/zsh/vendor-completions/_mailconf \
    /usr/share/fish/vendor_completions.d/mailconf.fish \
    /etc/mailconf/mailconf.toml /etc/default/mailconf \
    /usr/lib/systemd/system/mailconf.service /usr/lib/systemd/system/mailconf.path \
    /usr/share/doc/mailconf/packaging.md; do
    check "package contains $f" grep -qx "$f" "$work/contents"
done
dpkg-deb -e "$deb" "$work/control"
check "control: triggers file has interest-noawait /etc/postfix" \
    grep -qx 'interest-noawait /etc/postfix' "$work/control/triggers"
check "control: triggers file has interest-noawait /usr/share/dovecot" \
    grep -qx 'interest-noawait /usr/share/dovecot' "$work/control/triggers"
check "control: conffiles lists /etc/mailconf/mailconf.toml" \
    grep -qx /etc/mailconf/mailconf.toml "$work/control/conffiles"
check "control: conffiles lists /etc/default/mailconf" \
    grep -qx /etc/default/mailconf "$work/control/conffiles"
check "control: postinst handles 'triggered'" grep -q 'triggered)' "$work/control/postinst"
for s in postinst prerm postrm; do
    check "control: $s is valid sh" sh -n "$work/control/$s"
done

step "install"
# Before installing: the machine's own mail configuration, whatever it
# is; a configuration mailconf cannot use must not fail the install.
save /etc/postfix/main.cf
save /etc/postfix/master.cf
save /etc/mailname
save /etc/dovecot/local.conf
if dpkg -i "$deb" >"$work/install.log" 2>&1; then
    pass "dpkg -i $(basename "$deb")"
else
    cat "$work/install.log"
    die "dpkg -i"
fi
sed 's/^/    | /' "$work/install.log"
status=$(dpkg-query -W -f='${db:Status-Status}' mailconf 2>/dev/null)
check "package state is 'installed' (is: $status)" [ "$status" = installed ]

step "installed files"
check "mailconf --version runs" /usr/bin/mailconf --version
manpage=$(man -w mailconf 2>/dev/null)
check "man -w mailconf finds the page (${manpage:-nothing})" \
    [ "$manpage" = /usr/share/man/man1/mailconf.1.gz ]
check "man page renders (NAME, subcommands)" sh -c \
    'man -l /usr/share/man/man1/mailconf.1.gz 2>/dev/null | grep -q "^NAME" &&
     man -l /usr/share/man/man1/mailconf.1.gz 2>/dev/null | grep -q "generate"'
# shellcheck disable=SC2016 # expanded by the inner bash
check "bash completion loads and completes subcommands" bash -c \
    '. /usr/share/bash-completion/completions/mailconf && COMP_WORDS=(mailconf gen) COMP_CWORD=1 COMP_LINE="mailconf gen" COMP_POINT=12 && _mailconf mailconf gen mailconf && [[ " ${COMPREPLY[*]} " == *" generate "* ]]'
check "zsh completion is a #compdef file" grep -q '^#compdef mailconf' /usr/share/zsh/vendor-completions/_mailconf
check "fish completion names mailconf" grep -q '^complete -c mailconf' /usr/share/fish/vendor_completions.d/mailconf.fish
conffiles=$(dpkg-query -W -f='${Conffiles}' mailconf)
check "conffile /etc/mailconf/mailconf.toml registered" grep -q '^ /etc/mailconf/mailconf.toml ' <<<"$conffiles"
check "conffile /etc/default/mailconf registered" grep -q '^ /etc/default/mailconf ' <<<"$conffiles"
check "/etc/mailconf/mailconf.toml is the commented default (docs/mailconf.toml)" \
    cmp -s /etc/mailconf/mailconf.toml "$repo/docs/mailconf.toml"
check "/etc/default/mailconf sets MAILCONF_OUT=/var/lib/mailconf/autoconfig" \
    grep -qx 'MAILCONF_OUT=/var/lib/mailconf/autoconfig' /etc/default/mailconf
check "dpkg knows the triggers (/var/lib/dpkg/info/mailconf.triggers)" \
    grep -qx 'interest-noawait /etc/postfix' /var/lib/dpkg/info/mailconf.triggers
check "/var/lib/mailconf exists" [ -d /var/lib/mailconf ]
if command -v systemd-analyze >/dev/null; then
    # Offline check of the unit files (no running systemd needed).
    if systemd-analyze verify /usr/lib/systemd/system/mailconf.service \
        /usr/lib/systemd/system/mailconf.path >"$work/verify.log" 2>&1; then
        pass "systemd-analyze verify mailconf.service mailconf.path"
    else
        sed 's/^/    | /' "$work/verify.log"
        fail "systemd-analyze verify mailconf.service mailconf.path"
    fi
else
    echo "SKIP: systemd-analyze not installed"
fi
# What mailconf.service runs, with the settings the unit reads.
exec_start=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/mailconf.service)
# shellcheck disable=SC2016 # systemd's variables, literally
check "mailconf.service runs mailconf generate --out \${MAILCONF_OUT}" \
    [ "$exec_start" = '/usr/bin/mailconf generate --out ${MAILCONF_OUT} $MAILCONF_OPTS' ]
check "mailconf.service reads /etc/default/mailconf" \
    grep -qx 'EnvironmentFile=-/etc/default/mailconf' /usr/lib/systemd/system/mailconf.service
for p in /etc/postfix/main.cf /etc/postfix/master.cf /etc/dovecot /etc/dovecot/conf.d; do
    check "mailconf.path watches $p" grep -qx "PathChanged=$p" /usr/lib/systemd/system/mailconf.path
done

step "trigger: /etc/postfix"
# A Debian 12 server with one hosted domain and submission enabled
# (fixtures/deployments/debian-submission), on the machine's own Dovecot.
fixture=$repo/fixtures/deployments/debian-submission/case.in
cp "$fixture/etc/postfix/main.cf" "$fixture/etc/postfix/master.cf" /etc/postfix/
cp "$fixture/etc/mailname" /etc/mailname
cat >/etc/dovecot/local.conf <<'EOF'
# Written by mailconf's .ci/package-test.sh (removed when it ends).
auth_mechanisms = plain login
service auth {
  unix_listener /var/spool/postfix/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF
out=/var/lib/mailconf/autoconfig
rm -rf "$out"
dpkg-trigger --no-await /etc/postfix
if dpkg --triggers-only --pending >"$work/trigger1.log" 2>&1; then
    pass "dpkg --triggers-only --pending (after dpkg-trigger /etc/postfix)"
else
    fail "dpkg --triggers-only --pending (after dpkg-trigger /etc/postfix)"
fi
sed 's/^/    | /' "$work/trigger1.log"
for f in example.net/mail/config-v1.1.xml example.net/.well-known/autoconfig/mail/config-v1.1.xml; do
    check "trigger wrote $out/$f" [ -s "$out/$f" ]
done
check "the written file is valid (mailconf validate)" \
    /usr/bin/mailconf validate "$out/example.net/mail/config-v1.1.xml"
check "the file has the submissions port 465 and mx.example.net" sh -c \
    "grep -q '<port>465</port>' '$out/example.net/mail/config-v1.1.xml' && grep -q '<hostname>mx.example.net</hostname>' '$out/example.net/mail/config-v1.1.xml'"
check "the files are world-readable (for the web server)" \
    [ "$(stat -c %a "$out/example.net/mail/config-v1.1.xml")" = 644 ]
check "the service's command finds nothing to change (mailconf check)" \
    sh -c "/usr/bin/mailconf check --out '$out' 2>'$work/check.log'"
status=$(dpkg-query -W -f='${db:Status-Status}' mailconf)
check "package state is 'installed' after the trigger (is: $status)" [ "$status" = installed ]

step "trigger: a package operation under /usr/share/dovecot"
# A real file trigger: a tiny package that ships a file under
# /usr/share/dovecot, as Dovecot's protocol packages do. A second domain
# appears in main.cf meanwhile, so the regeneration is visible.
sed -i 's/^mydestination = .*/&, example.org/' /etc/postfix/main.cf
dummy=$work/dummy
mkdir -p "$dummy/DEBIAN" "$dummy/usr/share/dovecot/mailconf-trigger-test"
echo "test file of mailconf's .ci/package-test.sh" \
    >"$dummy/usr/share/dovecot/mailconf-trigger-test/README"
cat >"$dummy/DEBIAN/control" <<'EOF'
Package: mailconf-trigger-test
Version: 1.0
Architecture: all
Maintainer: mailconf CI <ci@localhost>
Description: test package that fires mailconf's /usr/share/dovecot trigger
EOF
dpkg-deb --root-owner-group -b "$dummy" "$work/mailconf-trigger-test.deb" >/dev/null ||
    die "dpkg-deb -b (test package)"
if dpkg -i "$work/mailconf-trigger-test.deb" >"$work/trigger2.log" 2>&1; then
    pass "dpkg -i mailconf-trigger-test (file under /usr/share/dovecot)"
else
    fail "dpkg -i mailconf-trigger-test (file under /usr/share/dovecot)"
fi
sed 's/^/    | /' "$work/trigger2.log"
check "dpkg ran mailconf's trigger" grep -q 'Processing triggers for mailconf' "$work/trigger2.log"
check "trigger wrote $out/example.org/mail/config-v1.1.xml" \
    [ -s "$out/example.org/mail/config-v1.1.xml" ]

step "reinstall (configure of an upgrade)"
if dpkg -i "$deb" >"$work/reinstall.log" 2>&1; then
    pass "dpkg -i again (postinst configure with the old version)"
else
    fail "dpkg -i again (postinst configure with the old version)"
fi
sed 's/^/    | /' "$work/reinstall.log"
status=$(dpkg-query -W -f='${db:Status-Status}' mailconf)
check "package state is 'installed' after the reinstall (is: $status)" [ "$status" = installed ]
check "the files are still current after the reinstall" \
    sh -c "/usr/bin/mailconf check --out '$out' 2>/dev/null"

step "trigger: failures never fail dpkg"
# OUT is a symbolic link (mailconf refuses it): the trigger must log the
# problem, leave the package configured and exit 0.
# (/etc/default/mailconf is the package's conffile: purge removes it.)
mkdir -p "$work/real-out"
ln -sfn "$work/real-out" "$work/link-out"
sed -i "s|^MAILCONF_OUT=.*|MAILCONF_OUT=$work/link-out|" /etc/default/mailconf
dpkg-trigger --no-await /etc/postfix
if dpkg --triggers-only --pending >"$work/trigger3.log" 2>&1; then
    pass "dpkg --triggers-only --pending exits 0 when mailconf fails"
else
    fail "dpkg --triggers-only --pending exits 0 when mailconf fails"
fi
sed 's/^/    | /' "$work/trigger3.log"
check "the failure is reported on stderr" grep -q 'mailconf: .*could not regenerate' "$work/trigger3.log"
check "nothing written through the symbolic link" [ -z "$(ls -A "$work/real-out")" ]
status=$(dpkg-query -W -f='${db:Status-Status}' mailconf)
check "package state is 'installed' after a failed regeneration (is: $status)" [ "$status" = installed ]
# A broken main.cf and an unreadable Dovecot configuration: same.
sed -i "s|^MAILCONF_OUT=.*|MAILCONF_OUT=$work/other-out|" /etc/default/mailconf
printf 'mydestination = \nmyhostname = \n' >/etc/postfix/main.cf
dpkg-trigger --no-await /usr/share/dovecot
if dpkg --triggers-only --pending >"$work/trigger4.log" 2>&1; then
    pass "dpkg --triggers-only --pending exits 0 with no hosted domain"
else
    fail "dpkg --triggers-only --pending exits 0 with no hosted domain"
fi
sed 's/^/    | /' "$work/trigger4.log"
status=$(dpkg-query -W -f='${db:Status-Status}' mailconf)
check "package state is 'installed' (is: $status)" [ "$status" = installed ]
# MAILCONF_ON_PACKAGE_CHANGES=no: the trigger does nothing.
cp "$fixture/etc/postfix/main.cf" /etc/postfix/main.cf
echo MAILCONF_ON_PACKAGE_CHANGES=no >>/etc/default/mailconf
dpkg-trigger --no-await /etc/postfix
dpkg --triggers-only --pending >/dev/null 2>&1
check "MAILCONF_ON_PACKAGE_CHANGES=no: the trigger writes nothing" [ ! -e "$work/other-out" ]
sed -i '/^MAILCONF_ON_PACKAGE_CHANGES=no$/d' /etc/default/mailconf
dpkg-trigger --no-await /etc/postfix
dpkg --triggers-only --pending >/dev/null 2>&1
check "MAILCONF_OUT from /etc/default/mailconf is used" \
    [ -s "$work/other-out/example.net/mail/config-v1.1.xml" ]

if [ "${KEEP_PACKAGE:-}" != 1 ]; then
    step "purge"
    dpkg --purge mailconf-trigger-test >/dev/null 2>&1
    if dpkg --purge mailconf >"$work/purge.log" 2>&1; then
        pass "dpkg --purge mailconf"
    else
        sed 's/^/    | /' "$work/purge.log"
        fail "dpkg --purge mailconf"
    fi
    for p in /usr/bin/mailconf /etc/mailconf /etc/default/mailconf /var/lib/mailconf \
        /usr/lib/systemd/system/mailconf.path /usr/share/man/man1/mailconf.1.gz; do
        check "purge removed $p" [ ! -e "$p" ]
    done
    check "dpkg no longer knows mailconf" sh -c '! dpkg-query -W mailconf >/dev/null 2>&1'
fi

echo "package-test: $(( $(date +%s) - t0 ))s"
echo "package-test: $passes passed, $fails failed"
[ "$fails" -eq 0 ] || exit 1
