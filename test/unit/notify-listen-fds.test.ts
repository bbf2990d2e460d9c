// core/systemd/listen-fds: sd_listen_fds(3) parsing and the kind of each passed fd, with real
// sockets: python3 plays systemd (binds, dup2s them to 3.., sets LISTEN_* and execs node with the
// same PID), and the node child adopts them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { listenFds } from '../../core/systemd/listen-fds.js';

const dist = path.dirname(new URL(import.meta.url).pathname);
const module = path.join(dist, '../../core/systemd/listen-fds.js');
const socketModule = path.join(dist, '../../core/socket.js');
const nativeModule = path.join(dist, '../../native/index.js');

test('no LISTEN_FDS, or LISTEN_PID of another process: no fds; the variables are removed', () => {
  const env: NodeJS.ProcessEnv = { LISTEN_FDS: '2', LISTEN_PID: '1', LISTEN_FDNAMES: 'a:b' };
  assert.deepEqual(listenFds({ env, pid: 4242 }), []);
  assert.equal(env.LISTEN_FDS, undefined);
  assert.equal(env.LISTEN_FDNAMES, undefined);
  assert.deepEqual(listenFds({ env: {} }), []);
  assert.deepEqual(listenFds({ env: { LISTEN_FDS: 'x' } }), []);
});

test('passed TCP listening, TCP connected and UDP sockets are told apart and used as the sessions use them', (t) => {
  if (spawnSync('python3', ['--version']).status !== 0) {
    t.skip('python3 missing');
    return;
  }
  const child = `
    import { listenFds } from ${JSON.stringify(module)};
    import { StreamListener, StreamSocket } from ${JSON.stringify(socketModule)};
    import { native } from ${JSON.stringify(nativeModule)};
    const fds = listenFds();
    const out = { fds, env: process.env.LISTEN_FDS ?? null };
    const listen = fds.find((f) => f.kind === 'tcp-listen');
    const udp = fds.find((f) => f.kind === 'udp');
    const conn = fds.find((f) => f.kind === 'tcp-connected');
    // the listening socket accepts (as a session adopts it, Accept=no)
    const server = StreamListener.adopt(listen.fd);
    out.tcpPort = native().socketNames(listen.fd).localPort;
    const accepted = new Promise((resolve) => server.accept((c) => resolve(c), () => {}));
    const client = await StreamSocket.connect('127.0.0.1', out.tcpPort, 5000);
    const got = await accepted;
    out.acceptedFrom = got.peer;
    native().closeFd(got.fd);
    client.close();
    server.close();
    out.udpPort = native().socketNames(udp.fd).localPort;
    // the connected one talks (Accept=yes)
    const s = new StreamSocket(conn.fd);
    await s.write(Buffer.from('hello\\n'));
    s.close();
    console.log(JSON.stringify(out));
    process.exit(0);
  `;
  const py = `
import os, socket, sys
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
a = socket.socket(); a.connect(l.getsockname()); b, _ = l.accept()
high = [os.dup2(s.fileno(), 100 + i, inheritable=False) for i, s in enumerate([l, u, b])]
os.environ.update(LISTEN_FDS="3", LISTEN_FDNAMES="office:office")
print(l.getsockname()[1], u.getsockname()[1], flush=True)
pid = os.fork()
if pid == 0:
    # as systemd does: the sockets at 3, 4, 5 (inheritable), LISTEN_PID = the PID that execs
    for i, h in enumerate(high):
        os.dup2(h, 3 + i, inheritable=True)
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.execvp(sys.argv[1], [sys.argv[1], "--input-type=module", "-e", sys.argv[2]])
os.waitpid(pid, 0)
print("peer got:", a.recv(100).decode().strip(), flush=True)
`;
  const r = spawnSync('python3', ['-c', py, process.execPath, child], { encoding: 'utf8', timeout: 15000 });
  assert.equal(r.status, 0, r.stderr);
  const [ports, json, peer] = r.stdout.trim().split("\n");
  assert.ok(json?.startsWith("{"), `child output: ${r.stdout}\nstderr: ${r.stderr}`);
  const [tcpPort, udpPort] = ports!.split(' ').map(Number);
  const out = JSON.parse(json!);
  assert.deepEqual(out.fds, [
    { fd: 3, name: 'office', kind: 'tcp-listen', family: 4 },
    { fd: 4, name: 'office', kind: 'udp', family: 4 },
    { fd: 5, name: 'unknown', kind: 'tcp-connected', family: 4 },
  ]);
  assert.equal(out.env, null, 'LISTEN_FDS is removed for children');
  assert.equal(out.tcpPort, tcpPort);
  assert.equal(out.udpPort, udpPort);
  assert.equal(out.acceptedFrom.address, '127.0.0.1');
  assert.equal(peer, 'peer got: hello');
});
