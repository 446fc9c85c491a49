#!/bin/sh
# suite.sh runs the workloads of docs/benchmarks.md ("porthouse bench")
# three times each and prints the median of every figure.
#
#   bench/suite.sh [BINARY] [OUTDIR] [WORKLOAD...]
#
# BINARY defaults to bin/porthouse (make build), OUTDIR to a new temporary
# directory; each workload's JSON lines go to OUTDIR/NAME.jsonl. With no
# WORKLOAD names, all of them run (about 15 minutes). RUNS=N changes the
# number of runs. Needs python3 for the medians.
set -eu

BIN=${1:-bin/porthouse}
OUT=${2:-$(mktemp -d /tmp/porthouse-bench-suite.XXXXXX)}
[ $# -gt 2 ] && shift 2 || set --
RUNS=${RUNS:-3}
mkdir -p "$OUT"

FANOUT="-conns 1000 -rooms 1 -publishers 1 -size 128 -inflight 64 -duration 10s"
MANY="-conns 10000 -rooms 1000 -publishers 10 -size 128 -inflight 64 -duration 10s"
PACED="-conns 1000 -rooms 1 -publishers 1 -size 128 -rate 20 -duration 10s"

workloads() {
	cat <<EOF
idle-run|-spawn run -idle -conns 15000 -duration 10s
idle-supervise2|-spawn supervise -workers 2 -idle -conns 15000 -duration 10s
idle-ref|-spawn raw -idle -conns 15000 -duration 10s
fanout-run|-spawn run $FANOUT
fanout-supervise2|-spawn supervise -workers 2 $FANOUT
fanout-ref|-spawn raw $FANOUT
many-run|-spawn run $MANY
many-supervise2|-spawn supervise -workers 2 $MANY
many-ref|-spawn raw $MANY
paced-run|-spawn run $PACED
paced-supervise2|-spawn supervise -workers 2 $PACED
paced-ref|-spawn raw $PACED
idle100k-supervise8|-spawn supervise -workers 8 -idle -conns 100000 -procs 6 -duration 10s
EOF
}

workloads | while IFS='|' read -r name args; do
	if [ $# -gt 0 ]; then
		found=no
		for w in "$@"; do [ "$w" = "$name" ] && found=yes; done
		[ $found = yes ] || continue
	fi
	for i in $(seq 1 "$RUNS"); do
		echo "== $name run $i: porthouse bench $args   ($(cut -d' ' -f1-3 /proc/loadavg) load)" >&2
		# shellcheck disable=SC2086
		"$BIN" bench $args -json -quiet >>"$OUT/$name.jsonl" || echo "   failed (exit $?)" >&2
	done
done

python3 - "$OUT" <<'EOF'
import json, os, statistics, sys
out = sys.argv[1]
def med(rows, f):
    vals = [f(r) for r in rows]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None
def srv(r, k):
    s = r.get("server")
    return s.get(k) if s else None
cols = [
    ("opened", lambda r: r["opened"], "{:,.0f}"),
    ("failed", lambda r: r["failed"], "{:,.0f}"),
    ("closed", lambda r: sum((r.get("closed_during_run") or {}).values()), "{:,.0f}"),
    ("handshakes/s", lambda r: r["handshakes_per_s"], "{:,.0f}"),
    ("deliveries/s", lambda r: r["deliveries_per_s"] if not r["idle"] else None, "{:,.0f}"),
    ("lost", lambda r: r["lost"] if not r["idle"] else None, "{:,.0f}"),
    ("p50 ms", lambda r: r["latency_ms"]["p50"] if not r["idle"] else None, "{:.2f}"),
    ("p99 ms", lambda r: r["latency_ms"]["p99"] if not r["idle"] else None, "{:.2f}"),
    ("p99.9 ms", lambda r: r["latency_ms"]["p99_9"] if not r["idle"] else None, "{:.2f}"),
    ("max ms", lambda r: r["latency_ms"]["max"] if not r["idle"] else None, "{:.1f}"),
    ("RSS/socket KiB", lambda r: srv(r, "rss_per_conn") / 1024 if srv(r, "rss_per_conn") is not None else None, "{:.2f}"),
    ("server RSS MiB", lambda r: srv(r, "rss_after") / 2**20 if srv(r, "rss_after") is not None else None, "{:.0f}"),
    ("server CPU s", lambda r: srv(r, "cpu_load_s"), "{:.2f}"),
    ("generator CPU s", lambda r: r["generator_cpu_s"]["load"], "{:.2f}"),
]
print("| workload | runs | " + " | ".join(c[0] for c in cols) + " |")
print("|---|---|" + "---|" * len(cols))
for name in sorted(os.listdir(out)):
    if not name.endswith(".jsonl"):
        continue
    rows = [json.loads(l) for l in open(os.path.join(out, name)) if l.strip()]
    cells = []
    for _, f, fmt in cols:
        m = med(rows, f)
        cells.append("" if m is None else fmt.format(m))
    print("| %s | %d | %s |" % (name[:-6], len(rows), " | ".join(cells)))
print("\nJSON lines in " + out, file=sys.stderr)
EOF
