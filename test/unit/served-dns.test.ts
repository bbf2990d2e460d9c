// What `tund serve` refuses to serve (core/session/served-dns.ts): a session with DNS while it does
// not run as root, as a config problem at the file's first DNS line.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSessionConfig } from '../../core/config/index.js';
import { formatConfigProblem } from '../../core/errors.js';
import { dnsLineOf, servedDnsProblem, servedDnsWarning } from '../../core/session/served-dns.js';

const FILE = '/etc/tund/srv.conf';
const SERVER = '[Session]\nRole = server\n\n[Device]\nMode = tun\nAddress = 198.19.0.1/32\n';

function config(text: string) {
  const r = parseSessionConfig(text, FILE, 'srv');
  assert.deepEqual(r.problems, []);
  return r.config!;
}

test('served DNS: a session with DNS or DNSDomains, served as a user other than root, is a problem at its line', () => {
  const text = `${SERVER}\n[Route]\n# resolver\nDNSDomains = corp.example\nDNS = 198.18.0.53\n`;
  const problem = servedDnsProblem(config(text), 995, text);
  assert.ok(problem);
  assert.equal(problem.line, 10);
  assert.match(formatConfigProblem(problem), /^\/etc\/tund\/srv\.conf:10: DNS is not available to a session that "tund serve" serves .*uid 995, not root.*run the session as tund@srv\.service/);
  const domainsOnly = `${SERVER}\n[route]\ndnsdomains = corp.example\n`;
  assert.equal(servedDnsProblem(config(domainsOnly), 995, domainsOnly)?.line, 9);
});

test('served DNS: root applies DNS itself, and a session without DNS is fine', () => {
  const text = `${SERVER}\n[Route]\nDNS = 198.18.0.53\n`;
  assert.equal(servedDnsProblem(config(text), 0, text), null);
  assert.equal(servedDnsProblem(config(SERVER), 995, SERVER), null);
});

test('served DNS: the line of a wg-quick DNS, and 0 without the text', () => {
  assert.equal(dnsLineOf('[Interface]\nPrivateKey = x\nDNS = 198.18.0.53\n'), 3);
  assert.equal(dnsLineOf(SERVER), 0);
  const text = `${SERVER}\n[Route]\nDNS = 198.18.0.53\n`;
  assert.equal(servedDnsProblem(config(text), 995)?.line, 0);
});

test('served DNS: tund check warns of a VTun server session with DNS, not of a client', () => {
  const text = `${SERVER}\n[Route]\nDNS = 198.18.0.53\n`;
  assert.match(formatConfigProblem(servedDnsWarning(config(text), text)!), /^\/etc\/tund\/srv\.conf:9: DNS: tund-inetd\.service \(tund\.socket\) refuses to serve this session .*tund@srv\.service$/);
  const client = '[Session]\nRole = client\nEndpoint = 198.18.0.1:5000\n\n[Device]\nMode = tun\n\n[Route]\nDNS = 198.18.0.53\n';
  assert.equal(servedDnsWarning(config(client), client), null);
  assert.equal(servedDnsWarning(config(SERVER), SERVER), null);
});
