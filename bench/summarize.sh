#!/usr/bin/env bash
# summarize.sh FILE.jsonl... - the benchmark's tables (Markdown) from its result lines: the median
# of every measurement per anchor over its successful runs, then each anchor that names a
# COMPARE_TO next to those anchors, as ratios. Several files pool their runs (same machine, same
# day only: see docs/benchmark.md).
set -euo pipefail
(($#)) || { echo "usage: summarize.sh FILE.jsonl..." >&2; exit 2; }

# table: TSV on stdin (first line the header) -> an aligned Markdown table; the columns named
# anchor, vs and version are text (left), the others numbers (right)
table() {
  awk -F'\t' '
    { rows = NR; for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > width[i]) width[i] = length($i) } if (NF > cols) cols = NF }
    END {
      for (i = 1; i <= cols; i++) text[i] = (cell[1, i] == "anchor" || cell[1, i] == "vs" || cell[1, i] == "version")
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
  def names: reduce .[].name as $n ([]; if index([$n]) then . else . + [$n] end);
  # the median of KEY over the successful runs of anchor N
  def m($runs; $n; $k): [$runs[] | select(.name == $n and .ok) | .[$k]] | median;
'

echo "Medians over the successful runs. Mbit/s: iperf3 TCP, received; kpps: 64-byte UDP packets"
echo "per second that arrived; CPU: the tunnel's processes (both ends) during that load, % of one core;"
echo "Mbit/s per core: tcp1 throughput per CPU core the tunnel used; RSS: the tunnel's processes (both"
echo "ends) with the session up and idle, and the most sampled under four TCP streams; RSS/proc: the"
echo "same for the largest single process (a tund session is one process per end)."
echo
jq -rs "$JQ_LIB"'
  . as $runs
  | (["anchor", "ok/runs", "tcp1 Mbit/s", "tcp4 Mbit/s", "udp64 kpps", "ping ms", "CPU% tcp1", "CPU% tcp4", "CPU% udp64",
      "Mbit/s per core", "RSS idle MiB", "RSS busy MiB", "RSS/proc idle", "RSS/proc busy", "version"] | @tsv),
    ($runs | names[] as $n
     | def v($k): m($runs; $n; $k);
       [$n,
        "\([$runs[] | select(.name == $n and .ok)] | length)/\([$runs[] | select(.name == $n)] | length)",
        (v("tcp1_mbps") | fmt(0)), (v("tcp4_mbps") | fmt(0)),
        (if v("udp64_rx_pps") == null then null else v("udp64_rx_pps") / 1000 end | fmt(1)),
        (v("ping_avg_ms") | fmt(3)), (v("tcp1_cpu") | fmt(0)), (v("tcp4_cpu") | fmt(0)), (v("udp64_cpu") | fmt(0)),
        (if v("tcp1_cpu") == null or v("tcp1_cpu") == 0 or v("tcp1_mbps") == null then null else v("tcp1_mbps") / (v("tcp1_cpu") / 100) end | fmt(0)),
        (v("rss_idle_mib") | fmt(1)), (v("rss_busy_mib") | fmt(1)),
        (v("rss_idle_proc_mib") | fmt(1)), (v("rss_busy_proc_mib") | fmt(1)),
        ([$runs[] | select(.name == $n) | .version] | first // "-")]
     | @tsv)' "$@" | table

pairs=$(jq -rs "$JQ_LIB"'
  . as $runs | names as $all
  | $runs | names[] as $n
  | ([$runs[] | select(.name == $n) | .compare_to // ""] | first | split(" ") | map(select(length > 0)))[] as $a
  | select($all | index([$a])) | "\($n) \($a)"' "$@")
[[ -n $pairs ]] || exit 0

echo
echo "Each anchor against its same-protocol anchor (COMPARE_TO in its anchor file): the ratio of the"
echo "medians. Above 1 is better for throughput and packets; below 1 is better for ping, CPU and RSS."
echo "CPU per Mbit/s compares the work per unit of data (tcp1)."
echo
jq -rs --arg pairs "$pairs" "$JQ_LIB"'
  . as $runs
  | def ratio($n; $a; $k): (m($runs; $n; $k)) as $x | (m($runs; $a; $k)) as $y
      | if $x == null or $y == null or $y == 0 then "-" else "\($x / $y | fmt(2))x" end;
    def per_mbit($n): (m($runs; $n; "tcp1_cpu")) as $c | (m($runs; $n; "tcp1_mbps")) as $t
      | if $c == null or $t == null or $t == 0 then null else $c / $t end;
  (["anchor", "vs", "tcp1", "tcp4", "udp64 pps", "ping", "CPU tcp1", "CPU per Mbit/s", "RSS idle", "RSS busy"] | @tsv),
  ($pairs | split("\n")[] | select(length > 0) | split(" ") as [$n, $a]
   | [$n, $a, ratio($n; $a; "tcp1_mbps"), ratio($n; $a; "tcp4_mbps"), ratio($n; $a; "udp64_rx_pps"),
      ratio($n; $a; "ping_avg_ms"), ratio($n; $a; "tcp1_cpu"),
      (if per_mbit($n) == null or per_mbit($a) == null or per_mbit($a) == 0 then "-" else "\(per_mbit($n) / per_mbit($a) | fmt(2))x" end),
      ratio($n; $a; "rss_idle_mib"), ratio($n; $a; "rss_busy_mib")]
   | @tsv)' "$@" | table
