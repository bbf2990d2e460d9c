#!/usr/bin/env bash
# summarize.sh FILE.jsonl... - the benchmark's tables (Markdown) from its result lines: the median
# of every measurement per anchor over its successful runs, then each anchor that names a
# COMPARE_TO next to those anchors, as ratios, then tund's targets (below), met or not. Several
# files pool their runs (same machine, same day only: see docs/benchmark.md).
set -euo pipefail
(($#)) || { echo "usage: summarize.sh FILE.jsonl..." >&2; exit 2; }
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---- issue 14's targets (the third table)
# The tund modes held to the ratio targets (TARGET_MODES, lib.sh). Each is held against every
# anchor its COMPARE_TO names: single TCP stream and 64-byte packets per second at least
# DEFAULT_RATIO times theirs.
DEFAULT_RATIO=2
# Targets that name a particular anchor, in place of the default for that pair:
#   MODE  ANCHOR  MEASUREMENT  AT-LEAST (below 1: a share of the anchor)
# An anchor that is in no COMPARE_TO (veth) adds a row.
ANCHOR_TARGETS='
tund-wg-udp  wireguard-go          tcp1_mbps  4
tund-wg-udp  wireguard-go-offload  tcp1_mbps  2
tund-wg-udp  veth                  tcp1_mbps  0.25
'
CEILING=veth           # no tunnel: added latency is ping minus its ping
BEST_PPS_RATIO=2       # tund's best 64-byte packet rate over the best other tunnel's (not the ceiling)
RSS_IDLE_BELOW_MIB=50  # per tund process, the session up and idle
RSS_BUSY_BELOW_MIB=60  # per tund process, under four TCP streams

# table: TSV on stdin (first line the header) -> an aligned Markdown table; the columns named
# anchor, vs, version, target and result are text (left), the others numbers (right)
table() {
  awk -F'\t' '
    { rows = NR; for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > width[i]) width[i] = length($i) } if (NF > cols) cols = NF }
    END {
      for (i = 1; i <= cols; i++) text[i] = (cell[1, i] ~ /^(anchor|vs|version|target|result)$/)
      for (r = 1; r <= rows; r++) {
        line = "|"
        for (i = 1; i <= cols; i++) line = line " " sprintf(text[i] ? "%-" width[i] "s" : "%" width[i] "s", cell[r, i]) " |"
        print line
        if (r == 1) {
          line = "|"
          for (i = 1; i <= cols; i++) { dash = sprintf("%" width[i] "s", ""); gsub(/ /, "-", dash); line = line " " (text[i] ? dash : substr(dash, 2) ":") " |" }
          print line
        }
      }
    }'
}

# shellcheck disable=SC2016 # jq's $variables, not the shell's
JQ_LIB='
  def median: map(select(. != null)) | sort
    | if length == 0 then null elif length % 2 == 1 then .[(length - 1) / 2] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def fmt($d): if . == null then "-" else (. * pow(10; $d) | round / pow(10; $d) | tostring) end;
  def uniq: reduce .[] as $x ([]; if index([$x]) then . else . + [$x] end); # in first-seen order
  def names: map(.name) | uniq;
  # a run'"'"'s KEY; "ping_ms": the median of its ping replies (a result file from before runs
  # recorded it: their average)
  def key($k): if $k == "ping_ms" then .ping_median_ms // .ping_avg_ms else .[$k] end;
  # the lines of the runs (a side-by-side latency row, of kind "latency", is none)
  def measured: map(select(.kind == null));
  # the median of KEY over the successful runs of anchor N
  def m($runs; $n; $k): [$runs[] | select(.name == $n and .ok) | key($k)] | median;
  # the anchors anchor N names in COMPARE_TO, as its first result line has them
  def compare_to($runs; $n): [$runs[] | select(.name == $n) | .compare_to // ""] | first // "" | split(" ") | map(select(length > 0));
'

echo "Medians over the successful runs. Mbit/s: iperf3 TCP, received; kpps: 64-byte UDP packets"
echo "per second that arrived; CPU: the tunnel's processes (both ends) during that load, % of one core;"
echo "Mbit/s per core: tcp1 throughput per CPU core the tunnel used; RSS: the tunnel's processes (both"
echo "ends) with the session up and idle, and the most sampled under four TCP streams; RSS/proc: the"
echo "same for the largest single process (a tund session is one process per end); ping: the median"
echo "reply of each run."
echo
jq -rs "$JQ_LIB"'
  measured as $runs
  | (["anchor", "ok/runs", "tcp1 Mbit/s", "tcp4 Mbit/s", "udp64 kpps", "ping ms", "CPU% tcp1", "CPU% tcp4", "CPU% udp64",
      "Mbit/s per core", "RSS idle MiB", "RSS busy MiB", "RSS/proc idle", "RSS/proc busy", "version"] | @tsv),
    ($runs | names[] as $n
     | def v($k): m($runs; $n; $k);
       [$n,
        "\([$runs[] | select(.name == $n and .ok)] | length)/\([$runs[] | select(.name == $n)] | length)",
        (v("tcp1_mbps") | fmt(0)), (v("tcp4_mbps") | fmt(0)),
        (if v("udp64_rx_pps") == null then null else v("udp64_rx_pps") / 1000 end | fmt(1)),
        (v("ping_ms") | fmt(3)), (v("tcp1_cpu") | fmt(0)), (v("tcp4_cpu") | fmt(0)), (v("udp64_cpu") | fmt(0)),
        (if v("tcp1_cpu") == null or v("tcp1_cpu") == 0 or v("tcp1_mbps") == null then null else v("tcp1_mbps") / (v("tcp1_cpu") / 100) end | fmt(0)),
        (v("rss_idle_mib") | fmt(1)), (v("rss_busy_mib") | fmt(1)),
        (v("rss_idle_proc_mib") | fmt(1)), (v("rss_busy_proc_mib") | fmt(1)),
        ([$runs[] | select(.name == $n) | .version] | first // "-")]
     | @tsv)' "$@" | table

pairs=$(jq -rs "$JQ_LIB"'
  measured as $runs | ($runs | names) as $all
  | $runs | names[] as $n
  | compare_to($runs; $n)[] as $a
  | select($all | index([$a])) | "\($n) \($a)"' "$@")
if [[ -n $pairs ]]; then
  echo
  echo "Each anchor against its same-protocol anchor (COMPARE_TO in its anchor file): the ratio of the"
  echo "medians. Above 1 is better for throughput and packets; below 1 is better for ping, CPU and RSS."
  echo "CPU per Mbit/s compares the work per unit of data (tcp1)."
  echo
  jq -rs --arg pairs "$pairs" "$JQ_LIB"'
    measured as $runs
    | def ratio($n; $a; $k): (m($runs; $n; $k)) as $x | (m($runs; $a; $k)) as $y
        | if $x == null or $y == null or $y == 0 then "-" else "\($x / $y | fmt(2))x" end;
      def per_mbit($n): (m($runs; $n; "tcp1_cpu")) as $c | (m($runs; $n; "tcp1_mbps")) as $t
        | if $c == null or $t == null or $t == 0 then null else $c / $t end;
    (["anchor", "vs", "tcp1", "tcp4", "udp64 pps", "ping", "CPU tcp1", "CPU per Mbit/s", "RSS idle", "RSS busy"] | @tsv),
    ($pairs | split("\n")[] | select(length > 0) | split(" ") as [$n, $a]
     | [$n, $a, ratio($n; $a; "tcp1_mbps"), ratio($n; $a; "tcp4_mbps"), ratio($n; $a; "udp64_rx_pps"),
        ratio($n; $a; "ping_ms"), ratio($n; $a; "tcp1_cpu"),
        (if per_mbit($n) == null or per_mbit($a) == null or per_mbit($a) == 0 then "-" else "\(per_mbit($n) / per_mbit($a) | fmt(2))x" end),
        ratio($n; $a; "rss_idle_mib"), ratio($n; $a; "rss_busy_mib")]
     | @tsv)' "$@" | table
fi

# The side-by-side latency rows (run.sh's last step), as measured.
if jq -se 'any(.[]; .kind == "latency")' "$@" >/dev/null; then
  echo
  echo "Latency side by side (bench/latency.sh, run after the repetitions): each tund mode started with its"
  echo "same-protocol anchors, each tunnel over a veth pair of its own, pinged in turns. ms; added: the"
  echo "tunnel's median ping minus its own veth's; p10, p90: of added."
  echo
  jq -rs "$JQ_LIB"'
    (["anchor", "vs", "pings", "ping ms", "veth ms", "added ms", "p10", "p90"] | @tsv),
    (.[] | select(.kind == "latency")
     | [.name, (.side_by_side - [.name] | join(" ")), .pings, (.ping_ms | fmt(3)), (.veth_ms | fmt(3)),
        (.added_ms | fmt(3)), (.added_p10_ms | fmt(3)), (.added_p90_ms | fmt(3))] | @tsv)' "$@" | table
fi

# The targets: only for results with tund in them. A target mode that did not run still gets its
# rows (n/a), with the anchors its anchor file names.
jq -se 'any(.[]; .name | startswith("tund-"))' "$@" >/dev/null || exit 0
declared=$(for n in $TARGET_MODES; do printf '%s\t%s\n' "$n" "$(anchor_var "$n" COMPARE_TO || true)"; done)
echo
echo "Issue 14's targets, from the same medians: each tund mode against the anchors its COMPARE_TO names"
echo "(and the ceiling, $CEILING), tund's best 64-byte packet rate against the best other tunnel's, the"
echo "latency a tunnel adds (its ping minus $CEILING's) against its same-protocol anchors' (the best of"
echo "them), and the memory of one tund process. n/a: a row it needs has no successful run here."
echo
jq -rs --arg modes "$TARGET_MODES" --arg declared "$declared" --arg anchor_targets "$ANCHOR_TARGETS" \
  --argjson default_ratio "$DEFAULT_RATIO" --arg ceiling "$CEILING" --argjson best_pps_ratio "$BEST_PPS_RATIO" \
  --argjson rss_idle_below "$RSS_IDLE_BELOW_MIB" --argjson rss_busy_below "$RSS_BUSY_BELOW_MIB" "$JQ_LIB"'
  map(select(.kind == "latency")) as $side_by_side | measured as $runs | ($runs | names) as $all
  | ($modes | split(" ") | map(select(length > 0))) as $modes
  | ($declared | split("\n") | map(select(length > 0) | split("\t") | {key: .[0], value: (.[1] // "")}) | from_entries) as $declared
  | ($anchor_targets | split("\n") | map(split(" ") | map(select(length > 0)) | select(length == 4)
      | {mode: .[0], anchor: .[1], key: .[2], min: (.[3] | tonumber)})) as $anchor_targets
  | def tund: startswith("tund-");
    def compared($n): if $all | index([$n]) then compare_to($runs; $n) else $declared[$n] // "" | split(" ") | map(select(length > 0)) end;
    # every tund row of the results, then the target modes that did not run
    def subjects: ($all | map(select(tund))) + ($modes - $all);
    def verdict($value; $met): if $value == null then "n/a" elif $met then "met" else "not met" end;
    def ratio($n; $a; $k): m($runs; $n; $k) as $x | m($runs; $a; $k) as $y
      | if $x == null or $y == null or $y == 0 then null else $x / $y end;
    # rounded down (against float noise, a hair up first), so that a value shown at a target of
    # "at least" or "below" is on the side its verdict says
    def fmt_down($d): if . == null then "-" else (. * pow(10; $d) + 1e-9 | floor / pow(10; $d) | tostring) end;
    # a ratio as the target states it: a share in %, otherwise a factor
    def shown($min): if . == null then "-" elif $min < 1 then "\(. * 100 | fmt_down(0))%" else "\(fmt_down(2))x" end;
    def measure_name($k): {tcp1_mbps: "tcp1 Mbit/s", udp64_rx_pps: "udp64 pps"}[$k] // $k;
    def added_ping($n): m($runs; $n; "ping_ms") as $p | m($runs; $ceiling; "ping_ms") as $c
      | if $p == null or $c == null then null else $p - $c end;
    # ... measured side by side (run.sh: bench/latency.sh), each against its own veth pair
    def added_side_by_side($n): [$side_by_side[] | select(.name == $n) | .added_ms] | median;
    def best($names): [$names[] | {name: ., pps: m($runs; .; "udp64_rx_pps")} | select(.pps != null)] | max_by(.pps);

  (["target", "anchor", "vs", "measured", "needs", "result"] | @tsv),

  # throughput and packet rate of each target mode against its anchors
  (subjects[] as $n | select($modes | index([$n]))
   | (compared($n) + [$anchor_targets[] | select(.mode == $n) | .anchor] | uniq)[] as $a
   | ([$anchor_targets[] | select(.mode == $n and .anchor == $a)]
      | if length > 0 then . else [{key: "tcp1_mbps", min: $default_ratio}, {key: "udp64_rx_pps", min: $default_ratio}] end)[]
   | . as $t | ratio($n; $a; $t.key) as $r
   | [measure_name($t.key) + (if $t.min < 1 then " share" else " ratio" end), $n, $a, ($r | shown($t.min)),
      ">= \($t.min | shown($t.min))", verdict($r; $r >= $t.min)] | @tsv),

  # the best 64-byte packet rates
  (best($all | map(select(tund))) as $t | best($all | map(select((tund | not) and . != $ceiling))) as $o
   | ratio($t.name // ""; $o.name // ""; "udp64_rx_pps") as $r
   | ["udp64 pps, best rows", $t.name // "-", $o.name // "-", ($r | shown(1)), ">= \($best_pps_ratio)x",
      verdict($r; $r >= $best_pps_ratio)] | @tsv),

  # added latency against the same-protocol anchors (another tund mode is no such anchor): side by
  # side where the run measured it so (against those anchors that were there), else from the runs
  (subjects[] as $n | (compared($n) | map(select(tund | not))) as $anchors | select($anchors | length > 0)
   | added_side_by_side($n) as $side | ($side != null) as $sbs
   | (if $sbs then $side else added_ping($n) end) as $x
   | [$anchors[] | {name: ., added: (if $sbs then added_side_by_side(.) else added_ping(.) end)}]
   | (if $sbs then map(select(.added != null)) else . end) as $theirs
   | (if ($theirs | length) == 0 or any($theirs[]; .added == null) then null else $theirs | min_by(.added) end) as $b
   | [(if $sbs then "added ping ms, side by side" else "added ping ms" end), $n, ($b.name // ($anchors | join(", "))), ($x | fmt(3)),
      (if $b == null then "-" else "<= \($b.added | fmt(3))" end),
      verdict(if $x == null or $b == null then null else $x end; $x <= $b.added)] | @tsv),

  # memory of one tund process, idle and busy
  (subjects[] as $n | m($runs; $n; "rss_idle_proc_mib") as $i | m($runs; $n; "rss_busy_proc_mib") as $b
   | ["RSS/proc MiB idle, busy", $n, "", "\($i | fmt_down(1)), \($b | fmt_down(1))", "< \($rss_idle_below), < \($rss_busy_below)",
      verdict(if $i == null or $b == null then null else $i end; $i < $rss_idle_below and $b < $rss_busy_below)] | @tsv)
  ' "$@" | table
