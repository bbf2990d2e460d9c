// uapi: the WireGuard cross-platform UAPI as tund's device socket reads it (core/wireguard/uapi.ts):
// nextRequest cuts requests off a connection's input, parseSetRequest reads a set=1 request.
// The input is the connection's bytes; its first byte decides how they arrive (in one piece or
// in chunks of 1..16 bytes).
// Oracles: nothing throws; the requests (and the point where the connection is refused) are the
// same however the bytes arrive; a refused set request carries EINVAL or EPROTO and a message;
// an accepted one, written back as UAPI lines (in wg's order), reads back the same.
import { isDeepStrictEqual } from 'node:util';
import { EINVAL, EPROTO, nextRequest, parseSetRequest, type UapiSetRequest } from '../../../../core/wireguard/uapi.js';
import { formatEndpoint } from '../../../../core/net.js';
import { check, type JsFuzzTarget } from '../target.js';

const KEY = 'e0'.repeat(32);

/** The requests (and a final error) in `input`, fed `chunk` bytes at a time (0: all at once). */
function requests(input: string, chunk: number): string[] {
  const out: string[] = [];
  let pending = '';
  let fed = 0;
  for (;;) {
    const frame = nextRequest(pending);
    if (frame === null) {
      if (fed >= input.length) break;
      const n = chunk === 0 ? input.length : chunk;
      pending += input.slice(fed, fed + n);
      fed += n;
      continue;
    }
    if ('error' in frame) {
      out.push(`error: ${frame.error}`);
      break;
    }
    out.push(JSON.stringify(frame.request));
    pending = frame.rest;
  }
  return out;
}

/** A set request as wg(8) would send it. */
function serialize(r: UapiSetRequest): string[] {
  const lines: string[] = [];
  if (r.privateKey) lines.push(`private_key=${r.privateKey.toString('hex')}`);
  if (r.listenPort !== undefined) lines.push(`listen_port=${r.listenPort}`);
  if (r.fwMark !== undefined) lines.push(`fwmark=${r.fwMark}`);
  if (r.replacePeers) lines.push('replace_peers=true');
  for (const p of r.peers) {
    lines.push(`public_key=${p.publicKey.toString('hex')}`);
    if (p.remove) lines.push('remove=true');
    if (p.updateOnly) lines.push('update_only=true');
    if (p.presharedKey) lines.push(`preshared_key=${p.presharedKey.toString('hex')}`);
    if (p.endpoint) lines.push(`endpoint=${formatEndpoint(p.endpoint.host, p.endpoint.port)}`);
    if (p.persistentKeepalive !== undefined) lines.push(`persistent_keepalive_interval=${p.persistentKeepalive}`);
    if (p.replaceAllowedIps) lines.push('replace_allowed_ips=true');
    for (const a of p.allowedIps) lines.push(`allowed_ip=${a}`);
    if (p.protocolVersion !== undefined) lines.push(`protocol_version=${p.protocolVersion}`);
  }
  return lines;
}

export const target: JsFuzzTarget = {
  modules: ['core/wireguard/uapi.js', 'core/wireguard/keys.js'],
  maxLength: 2048,
  dictionary: [
    'get=1\n\n', 'set=1\n', '\n\n', `private_key=${KEY}\n`, 'listen_port=51820\n', 'fwmark=0\n', 'replace_peers=true\n',
    `public_key=${KEY}\n`, 'remove=true\n', 'update_only=true\n', `preshared_key=${KEY}\n`, 'endpoint=198.18.0.2:51820\n',
    'endpoint=[2001:2::2]:51820\n', 'endpoint=[fe80::1%eth0]:1\n', 'persistent_keepalive_interval=25\n', 'replace_allowed_ips=true\n',
    'allowed_ip=198.18.0.0/15\n', 'allowed_ip=::/0\n', 'allowed_ip=198.18.0.1/32\n', 'protocol_version=1\n', '=', '\n', 'true',
  ],
  run(data) {
    const chunk = data.length > 0 ? data[0]! % 17 : 0;
    const input = data.subarray(1).toString('utf8');
    const whole = requests(input, 0);
    const chunked = requests(input, chunk);
    check(JSON.stringify(whole) === JSON.stringify(chunked), () => `requests differ with ${chunk}-byte reads:\n${whole.join('\n')}\n--\n${chunked.join('\n')}`);
    for (const r of whole) {
      if (r.startsWith('error: ')) continue;
      const request = JSON.parse(r) as { kind: string; lines?: string[] };
      if (request.kind !== 'set') continue;
      const parsed = parseSetRequest(request.lines!);
      if (!parsed.ok) {
        check(parsed.errno === EINVAL || parsed.errno === EPROTO, `errno ${parsed.errno}`);
        check(parsed.message.length > 0, 'a refusal without a message');
        continue;
      }
      const again = parseSetRequest(serialize(parsed.request));
      check(again.ok, () => `the request written back is refused: ${!again.ok && again.message}\n${serialize(parsed.request).join('\n')}`);
      check(again.ok && isDeepStrictEqual(again.request, parsed.request), () => `round trip changed the request:\n${request.lines!.join('\n')}\n--\n${serialize(parsed.request).join('\n')}`);
    }
  },
};
