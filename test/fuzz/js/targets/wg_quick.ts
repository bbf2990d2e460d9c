// wg_quick: the wg-quick(8) file parser (core/wireguard/conf.ts) on any text.
// Oracles: it never throws; problems and warnings sit on lines of the file, sorted; a config
// comes back exactly when there is no problem; and a parsed file written back by renderWgQuick
// (what tund writes for SaveConfig and `wg showconf`-like output) parses to the same config
// without a problem (line numbers aside).
import { parseWgQuick } from '../../../../core/wireguard/conf.js';
import { renderWgQuick } from '../../../../core/wireguard/render.js';
import { check, type JsFuzzTarget } from '../target.js';
import { checkParseResult } from '../problems.js';

const KEY = 'ULsSbJ1PqhOc8x5P0hlAL0w0pvl1lXlSa2LCm8yk0m0=';
const PEER = 'cA7mEYGx0R2kkC1nBPtnHpJ0vNHCU6Q5pO6xTxpvM1s=';

/** The config without what only says where it was written (line numbers, the file). */
function essence(value: unknown): string {
  return JSON.stringify(value, (k, v) => (k === 'line' || k === 'file' ? undefined : v));
}

export const target: JsFuzzTarget = {
  modules: ['core/wireguard/conf.js', 'core/wireguard/render.js', 'core/config/ini.js', 'core/config/values.js', 'core/wireguard/keys.js'],
  maxLength: 2048,
  dictionary: [
    '[Interface]\n', '[Peer]\n', `PrivateKey = ${KEY}\n`, 'PrivateKeyFile = /etc/tund/wg0.key\n', 'ListenPort = 51820\n',
    'FwMark = 0x', 'Address = 198.19.0.1/24, 2001:2::1/64\n', 'DNS = 198.18.0.53, example.test\n', 'MTU = 1420\n',
    'Table = off\n', 'Table = main\n', 'PreUp = ', 'PostUp = ', 'PreDown = ', 'PostDown = ', 'SaveConfig = true\n',
    `PublicKey = ${PEER}\n`, `PresharedKey = ${KEY}\n`, 'PresharedKeyFile = ', 'AllowedIPs = 198.18.0.0/15, ::/0\n',
    'Endpoint = 198.18.0.2:51820\n', 'Endpoint = [2001:2::2]:51820\n', 'Endpoint = host.example:1\n', 'PersistentKeepalive = 25\n',
    '#', ' = ', ',', '/', ':', '[', ']', '0x', 'off', 'auto',
  ],
  run(data) {
    const text = data.toString('utf8');
    const r = parseWgQuick(text, 'wg0.conf', 'wg0');
    checkParseResult(r, text);
    if (!r.config) return;
    const rendered = renderWgQuick(r.config);
    const again = parseWgQuick(rendered, 'wg0.conf', 'wg0');
    check(again.config !== null, () => `the rendered file does not parse:\n${rendered}${JSON.stringify(again.problems)}`);
    check(essence(again.config) === essence(r.config), () => `round trip changed the config:\n${essence(r.config)}\n${essence(again.config)}\nrendered:\n${rendered}`);
  },
};
