// The HTTP/1.1 side of vpn-ws tunnels (native/src/http_upgrade.*): the client's upgrade request
// and its check of the response, the hub's parsing of requests (limits, vpn-ws headers, path and
// basic auth, the refusals it answers), and the CONNECT exchange with an HTTP proxy. The request
// vpn-ws's own client sends is checked byte for byte as it builds it (no version, 10-byte key).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { native } from '../../native/index.js';

const addon = native();
const text = (s: string) => Buffer.from(s.replace(/\n/g, '\r\n'));

describe('client side', () => {
  test('the upgrade request: Host, Upgrade, key, version, vpn-ws headers, basic auth', () => {
    const request = addon.httpClientRequest({
      path: '/vpn?x=1', host: 'hub.example:8443', key: 'dGhlIHNhbXBsZSBub25jZQ==', mac: '02:00:5e:10:00:01', bridge: true, user: 'alice', password: 'pa:ss wörd',
    });
    assert.equal(
      request,
      'GET /vpn?x=1 HTTP/1.1\r\nHost: hub.example:8443\r\nUser-Agent: tund\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-vpn-ws-MAC: 02:00:5e:10:00:01\r\n' +
        `X-vpn-ws-bridge: on\r\nAuthorization: Basic ${Buffer.from('alice:pa:ss wörd').toString('base64')}\r\n\r\n`,
    );
    const plain = addon.httpClientRequest({ path: '/', host: '[2001:2::1]', key: 'a2V5a2V5a2V5a2V5a2V5aw==' });
    assert.doesNotMatch(plain, /X-vpn-ws|Authorization/);
  });

  test('fields that would break the request are refused', () => {
    for (const bad of [{ path: 'vpn' }, { path: '/a b' }, { path: '/a\r\nX: y' }, { host: '' }, { host: 'a\r\n' }, { mac: '02:00\r\n' }, { user: 'a:b' }, { user: 'a\nb' },
      // found by the http_upgrade fuzz target: a control character the hub's parser refuses
      { userAgent: 'tund\x02' }]) {
      assert.throws(() => addon.httpClientRequest({ path: '/', host: 'h', key: 'a2V5', ...bad }), TypeError, JSON.stringify(bad));
    }
  });

  test('wsAccept: the RFC 6455 example; wsNewKey: 16 random bytes in base64', () => {
    assert.equal(addon.wsAccept('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    const k1 = addon.wsNewKey();
    assert.equal(Buffer.from(k1, 'base64').length, 16);
    assert.notEqual(k1, addon.wsNewKey());
  });

  const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
  const OK = 'HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n\n';

  test('a good 101 is accepted; bytes after the head are left for the WebSocket reader', () => {
    const head = text(OK);
    const r = addon.httpParseUpgradeResponse(Buffer.concat([head, Buffer.from([0x82, 0x01, 0x41])]), KEY);
    assert.ok(r.status === 'ok');
    assert.equal(r.consumed, head.length);
    assert.equal(r.code, 101);
    assert.deepEqual(r.headers[0], ['Upgrade', 'websocket']);
    for (let cut = 0; cut < head.length; cut += 7) assert.equal(addon.httpParseUpgradeResponse(head.subarray(0, cut), KEY).status, 'need_more');
  });

  test('refusals and broken responses say what is wrong', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['HTTP/1.1 401 Unauthorized\nWWW-Authenticate: Basic realm="x"\nContent-Length: 0\n\n', 'refused', /^HTTP 401 Unauthorized$/],
      ['HTTP/1.1 404 Not Found\n\n', 'refused', /^HTTP 404 Not Found$/],
      [OK.replace('s3pP', 'AAAA'), 'refused', /Sec-WebSocket-Accept does not match/],
      [OK.replace('Upgrade: websocket\n', ''), 'refused', /no "Upgrade: websocket"/],
      [OK.replace('Connection: Upgrade\n', 'Connection: keep-alive\n'), 'refused', /no "Connection: Upgrade"/],
      [OK.replace('\n\n', '\nSec-WebSocket-Extensions: permessage-deflate\n\n'), 'refused', /extension that was not offered/],
      ['HTTP/1.1 1O1 Switching\n\n', 'error', /malformed HTTP status line/],
      ['SSH-2.0-OpenSSH_9.2\n\n', 'error', /malformed HTTP status line/],
      ['HTTP/1.1 101 OK\nbad header\n\n', 'error', /malformed HTTP response: a header line without a name/],
    ];
    for (const [response, status, problem] of cases) {
      const r = addon.httpParseUpgradeResponse(text(response), KEY);
      assert.equal(r.status, status, response);
      assert.match((r as { problem: string }).problem, problem);
    }
    const huge = addon.httpParseUpgradeResponse(Buffer.alloc(9000, 0x61), KEY);
    assert.ok(huge.status === 'error' && /longer than 8192 bytes/.test(huge.problem));
  });

  test('CONNECT through an HTTP proxy: the request, and what its answers mean', () => {
    assert.equal(addon.httpConnectRequest('hub.example:443'), 'CONNECT hub.example:443 HTTP/1.1\r\nHost: hub.example:443\r\n\r\n');
    assert.equal(
      addon.httpConnectRequest('[2001:2::1]:443', 'p', 'q'),
      `CONNECT [2001:2::1]:443 HTTP/1.1\r\nHost: [2001:2::1]:443\r\nProxy-Authorization: Basic ${Buffer.from('p:q').toString('base64')}\r\n\r\n`,
    );
    assert.throws(() => addon.httpConnectRequest('hub.example'), TypeError);
    const established = text('HTTP/1.0 200 Connection established\nProxy-agent: tinyproxy/1.11.1\n\n');
    const ok = addon.httpParseConnectResponse(established);
    assert.ok(ok.status === 'ok' && ok.consumed === established.length);
    const auth = addon.httpParseConnectResponse(text('HTTP/1.1 407 Proxy Authentication Required\n\n'));
    assert.ok(auth.status === 'refused' && /asks for credentials \(HTTP 407/.test(auth.problem!));
    const no = addon.httpParseConnectResponse(text('HTTP/1.1 403 Access violation\n\n'));
    assert.ok(no.status === 'refused' && no.problem === 'the proxy refused the tunnel (HTTP 403 Access violation)');
  });
});

describe('hub side', () => {
  // exactly what vpn-ws's client sends: no Sec-WebSocket-Version, a 10-byte key, MAC in lower case
  const VPNWS = 'GET /vpn HTTP/1.1\nHost: 198.18.0.1:8080\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: q83vEjRWeJq83w==\nX-vpn-ws-MAC: 02:00:5e:10:00:0a\n\n';
  const WS = 'GET /vpn HTTP/1.1\nHost: hub\nUpgrade: websocket\nConnection: keep-alive, Upgrade\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n\n';

  test('the upgrade of a real vpn-ws client is accepted, MAC and all', () => {
    const r = addon.httpParseUpgradeRequest(text(VPNWS), { path: '/vpn' });
    assert.ok(r.status === 'ok');
    assert.equal(r.consumed, text(VPNWS).length);
    assert.deepEqual({ ...r.upgrade, headers: undefined }, {
      method: 'GET', path: '/vpn', query: '', host: '198.18.0.1:8080', key: 'q83vEjRWeJq83w==', mac: '02:00:5e:10:00:0a', bridge: false, user: null, headers: undefined,
    });
    assert.equal(r.response, `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${addon.wsAccept('q83vEjRWeJq83w==')}\r\n\r\n`);
  });

  test('a standard upgrade with a bridge header, a query and an upper-case MAC', () => {
    const r = addon.httpParseUpgradeRequest(text(WS.replace('/vpn', '/vpn?id=7').replace('\n\n', '\nX-vpn-ws-MAC: 02:AB:CD:EF:00:01\nX-VPN-WS-BRIDGE: On\n\n')));
    assert.ok(r.status === 'ok');
    assert.deepEqual([r.upgrade.path, r.upgrade.query, r.upgrade.mac, r.upgrade.bridge], ['/vpn', 'id=7', '02:ab:cd:ef:00:01', true]);
  });

  test('need_more until the head is complete; following bytes are not consumed', () => {
    const head = text(WS);
    for (let cut = 0; cut < head.length; cut += 5) assert.equal(addon.httpParseUpgradeRequest(head.subarray(0, cut)).status, 'need_more');
    const r = addon.httpParseUpgradeRequest(Buffer.concat([head, Buffer.from([0x82, 0x85])]));
    assert.ok(r.status === 'ok' && r.consumed === head.length);
  });

  test('path and basic auth: 404 for another path, 401 with WWW-Authenticate without good credentials', () => {
    const policy = { path: '/vpn', credentials: { alice: 's3cret' } };
    const wrongPath = addon.httpParseUpgradeRequest(text(WS.replace('/vpn', '/vpn2')), policy);
    assert.ok(wrongPath.status === 'refused' && wrongPath.refusal.status === 404);
    assert.match(wrongPath.response, /^HTTP\/1\.1 404 Not Found\r\n/);
    const auth = (cred: string) => text(WS.replace('\n\n', `\nAuthorization: Basic ${Buffer.from(cred).toString('base64')}\n\n`));
    for (const req of [text(WS), auth('alice:wrong'), auth('bob:s3cret'), auth('alice'), text(WS.replace('\n\n', '\nAuthorization: Bearer abc\n\n'))]) {
      const r = addon.httpParseUpgradeRequest(req, policy);
      assert.ok(r.status === 'refused' && r.refusal.status === 401, req.toString());
      assert.match(r.response, /\r\nWWW-Authenticate: Basic realm="tund", charset="UTF-8"\r\n/);
    }
    const good = addon.httpParseUpgradeRequest(auth('alice:s3cret'), policy);
    assert.ok(good.status === 'ok' && good.upgrade.user === 'alice');
    // without a policy, any path and no authentication
    assert.equal(addon.httpParseUpgradeRequest(text(WS.replace('/vpn', '/anything'))).status, 'ok');
  });

  test('what is not a WebSocket upgrade is refused with the right status', () => {
    const cases: Array<[string, number, RegExp, RegExp?]> = [
      [WS.replace('GET', 'POST'), 405, /a GET request/, /\r\nAllow: GET\r\n/],
      [WS.replace('HTTP/1.1', 'HTTP/1.0'), 400, /needs HTTP\/1\.1/],
      [WS.replace(' /vpn', ' http://hub/vpn'), 400, /must be a path/],
      [WS.replace('Upgrade: websocket\n', ''), 426, /WebSocket endpoint/, /\r\nUpgrade: websocket\r\n/],
      [WS.replace('Upgrade: websocket', 'Upgrade: h2c'), 426, /WebSocket endpoint/],
      [WS.replace('keep-alive, Upgrade', 'keep-alive'), 400, /does not ask for an upgrade/],
      [WS.replace('Version: 13', 'Version: 8'), 426, /version 13/, /\r\nSec-WebSocket-Version: 13\r\n/],
      [WS.replace('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n', ''), 400, /Sec-WebSocket-Key/],
      [WS.replace('dGhlIHNhbXBsZSBub25jZQ==', 'not base64!'), 400, /not a base64 nonce/],
      [WS.replace('Host: hub\n', ''), 400, /one Host header/],
      [WS.replace('Host: hub\n', 'Host: hub\nHost: other\n'), 400, /one Host header/],
      [WS.replace('\n\n', '\nX-vpn-ws-MAC: 01:00:5e:00:00:01\n\n'), 400, /X-vpn-ws-MAC "01:00:5e:00:00:01" is not a unicast/],
      [WS.replace('\n\n', '\nX-vpn-ws-MAC: 02:00:5e:10:00\n\n'), 400, /is not a unicast/],
      [WS.replace('Host: hub\n', 'Host: hub\n continued\n'), 400, /obsolete line folding/],
      [WS.replace('Host: hub\n', 'Bad Name: x\n'), 400, /header name/],
      ['GET /vpn  HTTP/1.1\nHost: hub\n\n', 400, /malformed request line/],
    ];
    for (const [request, status, detail, header] of cases) {
      const r = addon.httpParseUpgradeRequest(text(request));
      assert.ok(r.status === 'refused', request);
      assert.equal(r.refusal.status, status, request);
      assert.match(r.refusal.detail, detail);
      if (header) assert.match(r.response, header);
      assert.match(r.response, /\r\nConnection: close\r\n/);
      const length = Number(/Content-Length: (\d+)/.exec(r.response)![1]);
      assert.equal(Buffer.byteLength(r.response.split('\r\n\r\n')[1]!), length);
    }
    // a bare LF line ending
    const bare = addon.httpParseUpgradeRequest(Buffer.from('GET / HTTP/1.1\nHost: hub\r\n\r\n'));
    assert.ok(bare.status === 'refused' && bare.refusal.status === 400);
  });

  test('limits: a head too long or with too many headers is 431, also before it ends', () => {
    const long = addon.httpParseUpgradeRequest(Buffer.from(`GET / HTTP/1.1\r\nX-Pad: ${'a'.repeat(9000)}`));
    assert.ok(long.status === 'refused' && long.refusal.status === 431 && /longer than 8192 bytes/.test(long.refusal.detail));
    const tight = addon.httpParseUpgradeRequest(text(WS), { maxBytes: 64 });
    assert.ok(tight.status === 'refused' && tight.refusal.status === 431);
    const many = text(WS.replace('\n\n', '\n' + Array.from({ length: 70 }, (_, i) => `X-H${i}: v`).join('\n') + '\n\n'));
    const r = addon.httpParseUpgradeRequest(many);
    assert.ok(r.status === 'refused' && r.refusal.status === 431 && /more than 64 headers/.test(r.refusal.detail));
    assert.equal(addon.httpParseUpgradeRequest(many, { maxHeaders: 100 }).status, 'ok');
  });
});
