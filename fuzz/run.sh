#!/bin/sh
# Seeds the corpora from the test data and fixtures, then runs every fuzz
# target for SECONDS seconds (default 180), one after the other, one job at
# a time. Logs go to fuzz/target/logs/<target>.log (ignored by git), crash
# reproducers to fuzz/artifacts/<target>/ (ignored by git).
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Needs a nightly toolchain (`rustup toolchain install nightly`) and
# cargo-fuzz (`cargo install cargo-fuzz`). A known bug that would stop a
# target at once can be skipped with MAILCONF_FUZZ_LAX=1 (no check that
# spans fall on character boundaries; see fuzz_targets/common.rs).
set -eu
cd "$(dirname "$0")"
secs=${1:-180}
[ $# -gt 0 ] && shift
targets=${*:-"main_cf roundtrip_main_cf master_cf table_source table_ref expr list dovecot validate"}
top=..
mkdir -p corpus target/logs

seed() { # seed TARGET FILE... (copies regular files, prefix for expr)
    t=$1; shift
    mkdir -p "corpus/$t"
    for f in "$@"; do
        [ -f "$f" ] || continue
        n=corpus/$t/seed-$(printf '%s' "$f" | cksum | cut -d' ' -f1)
        if [ "$t" = expr ]; then
            { printf '\000\000\377\377'; cat "$f"; } > "$n"
        else
            cp "$f" "$n"
        fi
    done
}

td=$top/parsers/test_data
seed main_cf $td/main_cf/*/*.cf $(find $top/fixtures -path '*/etc/postfix/*.cf' -not -name master.cf)
seed roundtrip_main_cf $td/main_cf/*/*.cf $(find $top/fixtures -name main.cf)
seed master_cf $td/master_cf/*/*.cf $(find $top/fixtures -name master.cf)
seed table_source $(ls $td/table_source/*/* | grep -v '\.dump$') $(find $top/fixtures -path '*/etc/postfix/*' -type f -not -name '*.cf')
seed dovecot $(ls $td/dovecot23/*/* $td/dovecot24/*/* | grep -v '\.dump$') $(find $top/fixtures -path '*/etc/dovecot/*' -type f)
seed expr $(ls $td/expr/*/* | grep -v '\.dump$')
seed validate $(find $top/fixtures -name 'config-v1.1.xml')
mkdir -p corpus/list corpus/table_ref
printf '$myhostname, localhost.$mydomain, !{a b}, /etc/x, hash:/etc/y' > corpus/list/seed-1
printf 'proxy:unionmap:{inline:{ a=1, { b = c } }, hash:/etc/x}' > corpus/table_ref/seed-1

for t in $targets; do
    echo "== $t ($secs s)"
    CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo +nightly fuzz run "$t" \
        ${CARGO_TARGET_DIR:+--target-dir "$CARGO_TARGET_DIR"} -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        > "target/logs/$t.log" 2>&1 || echo "   $t stopped with a finding: see target/logs/$t.log"
    grep -E '^(Done|stat::number_of_executed_units|==[0-9]+== ERROR|SUMMARY|thread .* panicked)' "target/logs/$t.log" | head -5 || true
done
