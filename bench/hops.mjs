// hops.mjs TRACE THREADS TUN_A TUN_B VETH_A VETH_B - the analysis of bench/hops.sh: cuts an ftrace
// text trace into ping round trips and prints the median and 90th percentile of each hop, and each
// end's syscalls, wake-ups and context switches per round trip. THREADS: "TID SIDE COMM" lines (side
// a: the pinging end, b: the answering end). Threads named "node" (the JS side of a tund session and
// Node's helpers) are off the packet path: their syscalls are summed apart.
import { readFileSync } from 'node:fs';

const [tracePath, threadsPath, tunA, tunB, vethA, vethB, pingBytes] = process.argv.slice(2);
const tunLen = Number(pingBytes);
const side = new Map(); // packet threads (tund-tx, tund-rx, tund-send; vtund) by TID
const jsSide = new Map(); // the others
for (const line of readFileSync(threadsPath, 'utf8').split('\n')) {
  const [tid, s, comm] = line.split(' ');
  if (tid) (comm === 'node' ? jsSide : side).set(tid, s);
}
// x86_64 numbers of the syscalls a tunnel makes (others print as "nr N")
const SYSCALLS = { 0: 'read', 1: 'write', 7: 'poll', 19: 'readv', 20: 'writev', 23: 'select', 44: 'sendto', 45: 'recvfrom',
  46: 'sendmsg', 47: 'recvmsg', 202: 'futex', 232: 'epoll_wait', 270: 'pselect6', 271: 'ppoll', 281: 'epoll_pwait',
  299: 'recvmmsg', 307: 'sendmmsg' };

// One event: { t (us), kind, dev, len, pid (the task it is about), tid (the task it ran in) }
const LINE = /^\s*(.+)-(\d+)\s+\[\d+\]\s+\S+\s+(\d+\.\d+): (\w+)[:(]? ?(.*)$/;
const events = [];
for (const line of readFileSync(tracePath, 'utf8').split('\n')) {
  const m = LINE.exec(line);
  if (!m) continue;
  const [, comm, tid, ts, kind, rest] = m;
  const e = { t: Number(ts) * 1e6, kind, tid, comm };
  if (kind === 'net_dev_xmit' || kind === 'netif_rx' || kind === 'netif_receive_skb') {
    e.dev = /dev=(\S+)/.exec(rest)?.[1];
    e.len = Number(/len=(\d+)/.exec(rest)?.[1]);
  } else if (kind === 'sched_waking') {
    e.pid = /\bpid=(\d+)/.exec(rest)?.[1];
  } else if (kind === 'sched_switch') {
    e.pid = /next_pid=(\d+)/.exec(rest)?.[1];
  } else if (kind === 'sys_enter') {
    e.nr = Number(/NR (\d+)/.exec(rest)?.[1]);
  } else if (kind === 'sys_exit') {
    // (only to see when a woken thread runs: its first event)
  } else if (kind === 'sys_recvmsg') {
    if (!rest.includes('->') || /-> 0xf{8}/.test(rest)) continue; // entries, and errors (EAGAIN)
  } else if (kind !== 'sys_sendto') continue;
  events.push(e);
}

// The round trips: from each ping send to the next.
const starts = events.flatMap((e, i) => (e.kind === 'sys_sendto' && e.comm === 'ping' ? [i] : []));
const HOPS = [
  ["ping -> A's tun (ping's kernel send)", 0, 1],
  ["A: tun -> B's veth (wake-up, read, seal, send)", 1, 2],
  ["B kernel: veth -> its reader woken", 2, 3],
  ['B: woken -> running', 3, 4],
  ['B: running -> tun written (read, open, write)', 4, 5],
  ['B kernel: echo reply made', 5, 6],
  ["B: tun -> A's veth (the answer sent)", 6, 7],
  ['A kernel: veth -> its reader woken', 7, 8],
  ['A: woken -> running', 8, 9],
  ['A: running -> tun written', 9, 10],
  ['A kernel: tun -> ping', 10, 11],
  ['round trip (ping send -> reply read)', 0, 11],
];
const samples = HOPS.map(() => []);
const perRound = { a: new Map(), b: new Map() };
const jsSyscalls = { a: 0, b: 0 };
// the index of the first event in [a, b) that matches, or -1
const find = (a, b, match) => {
  for (let k = a; k >= 0 && k < b; k++) if (match(events[k])) return k;
  return -1;
};
const wire = (dev) => (e) => e.kind === 'netif_rx' && e.dev === dev && e.len > tunLen;
const tunOut = (dev) => (e) => e.kind === 'net_dev_xmit' && e.dev === dev && e.len === tunLen;
const tunIn = (dev) => (e) => e.kind === 'netif_receive_skb' && e.dev === dev && e.len === tunLen;
// A packet arrives at end s's veth (index w): the reader woken and running, and the packet in
// its tun (index t). Where no thread of that end slept (it was still running or runnable: vtund's
// single loop, mostly), woken is the arrival and running its thread's first event after it.
const arrival = (s, w, t) => {
  const wake = find(w, t, (e) => e.kind === 'sched_waking' && side.get(e.pid) === s);
  if (wake < 0) {
    const run = find(w, t, (e) => side.get(e.tid) === s || (e.kind === 'sched_switch' && side.get(e.pid) === s));
    return [w, run < 0 ? t : run];
  }
  const pid = events[wake].pid;
  const run = find(wake, t, (e) => (e.kind === 'sched_switch' && e.pid === pid) || e.tid === pid);
  return [wake, run < 0 ? t : run];
};
let complete = 0;
for (let r = 0; r < starts.length; r++) {
  const from = starts[r];
  const to = r + 1 < starts.length ? starts[r + 1] : events.length;
  const k1 = find(from, to, tunOut(tunA));
  const k2 = find(k1, to, wire(vethB));
  const k5 = find(k2, to, tunIn(tunB));
  const k6 = find(k5, to, tunOut(tunB));
  const k7 = find(k6, to, wire(vethA));
  const k10 = find(k7, to, tunIn(tunA));
  const k11 = find(k10, to, (e) => e.kind === 'sys_recvmsg' && e.comm === 'ping');
  if ([k1, k2, k5, k6, k7, k10, k11].some((k) => k < 0)) continue;
  const [k3, k4] = arrival('b', k2, k5);
  const [k8, k9] = arrival('a', k7, k10);
  const p = [from, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11].map((k) => events[k]);
  complete++;
  HOPS.forEach(([, a, b], k) => samples[k].push(p[b].t - p[a].t));
  for (let k = from; k < to; k++) {
    const e = events[k];
    if (e.kind === 'sys_enter' && jsSide.has(e.tid)) jsSyscalls[jsSide.get(e.tid)]++;
    const s = side.get(e.kind === 'sys_enter' ? e.tid : e.pid);
    if (!s || !(e.kind === 'sys_enter' || e.kind === 'sched_waking' || e.kind === 'sched_switch')) continue;
    const name = e.kind === 'sys_enter' ? (SYSCALLS[e.nr] ?? `nr ${e.nr}`) : e.kind === 'sched_waking' ? 'wake-ups' : 'switches in';
    perRound[s].set(name, (perRound[s].get(name) ?? 0) + 1);
  }
}

const quantile = (v, q) => {
  const s = [...v].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
console.log(`# ${complete} of ${starts.length} round trips traced whole (A: the pinging end, B: the answering end; us)`);
console.log(`${'hop'.padEnd(52)}${'median'.padStart(8)}${'p90'.padStart(8)}`);
HOPS.forEach(([name], k) => {
  if (!samples[k].length) return;
  console.log(`${name.padEnd(52)}${quantile(samples[k], 0.5).toFixed(1).padStart(8)}${quantile(samples[k], 0.9).toFixed(1).padStart(8)}`);
});
for (const s of ['a', 'b']) {
  const parts = [...perRound[s]].sort(([x], [y]) => x.localeCompare(y)).map(([n, c]) => `${n} ${(c / Math.max(complete, 1)).toFixed(2)}`);
  const js = jsSide.size ? `; other threads: ${(jsSyscalls[s] / Math.max(complete, 1)).toFixed(2)} syscalls` : '';
  console.log(`# per round trip, ${s.toUpperCase()}'s packet threads: ${parts.join(', ')}${js}`);
}
