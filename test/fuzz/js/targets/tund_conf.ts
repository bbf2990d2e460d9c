// tund_conf: the tund.conf(5) parser (core/config): parseSessionConfig on any text.
// Oracles: it never throws (every problem is reported, as `file:line: problem`); each problem is
// on a line of the file (or 0 for the file as a whole) and they come sorted; a config comes back
// exactly when there is no problem; and the line layer round-trips: the sections and entries
// parseIni found, written back by renderSessionConfig (what `tund import-vtun` writes with),
// read again give the same sections and entries.
import { parseIni } from '../../../../core/config/ini.js';
import { parseSessionConfig } from '../../../../core/config/parse.js';
import { renderSessionConfig } from '../../../../core/config/render.js';
import { check, type JsFuzzTarget } from '../target.js';
import { checkParseResult } from '../problems.js';

export const target: JsFuzzTarget = {
  modules: ['core/config/parse.js', 'core/config/ini.js', 'core/config/values.js', 'core/config/suggest.js', 'core/config/render.js'],
  maxLength: 2048,
  dictionary: [
    '[Session]\n', '[Device]\n', '[Route]\n', '[Hooks]\n', 'Protocol = vtun\n', 'Role = client\n', 'Role = server\n',
    'Endpoint = 198.18.0.2:5000\n', 'Endpoint = [2001:2::1]:5000\n', 'Listen = 0.0.0.0:5000\n', 'Host = ', 'Transport = udp\n',
    'Encrypt = aes128cbc\n', 'Encrypt = blowfish128ecb\n', 'Compress = lzo:9\n', 'Compress = zlib:1\n', 'Keepalive = 10:3\n',
    'Persist = keep\n', 'Multi = killold\n', 'Timeout = ', 'NatHack = yes\n', 'Speed = 100:200\n', 'SslAuth = no\n',
    'SecretFile = ', 'Mode = ', 'tap', 'pipe', 'full', 'split', 'Name = ', 'Address = 198.19.0.1/24\n', 'Address = 2001:2::1/64\n',
    'Peer = 198.19.0.2\n', 'MTU = ', 'MultiQueue = yes\n', 'Program = ', 'AllowedIPs = 198.18.0.0/15, ', 'Exclude = ',
    'Table = ', 'Metric = ', 'DNS = ', 'DNSDomains = ', 'Up = ', 'Down = ', ' # ', ':', '/', '::', '.', '=', ',',
  ],
  run(data) {
    const text = data.toString('utf8');
    const r = parseSessionConfig(text, 'fuzz.conf', 'fuzz');
    checkParseResult(r, text);

    const doc = parseIni(text);
    if (doc.problems.length > 0 || doc.orphans.length > 0) return;
    const sections = doc.sections.filter((s) => s.entries.length > 0);
    // the renderer refuses values with a line break; parseIni keeps a lone CR inside a value
    if (sections.some((s) => s.entries.some((e) => /[\r\n]/.test(e.value)) || s.name === '')) return;
    const rendered = renderSessionConfig({ header: [], sections: sections.map((s) => ({ name: s.name, entries: s.entries.map((e) => ({ key: e.key, value: e.value })) })) });
    const again = parseIni(rendered);
    const shape = (d: typeof doc) => JSON.stringify(d.sections.filter((s) => s.entries.length > 0).map((s) => [s.name, s.entries.map((e) => [e.key, e.value])]));
    check(again.problems.length === 0, () => `the rendered file has problems: ${JSON.stringify(again.problems)}`);
    check(shape(again) === shape(doc), () => `round trip changed the entries:\n${shape(doc)}\n${shape(again)}`);
  },
};
