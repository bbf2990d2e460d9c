// vtund_conf: the vtund.conf reader (core/vtun/vtund-conf.ts) and `tund import-vtun` on top of it
// (core/vtun/import.ts) on any text, as servers and as clients.
// Oracles: neither throws; problems and warnings sit on lines of the file; and every session the
// importer converts is a tund.conf that tund's own parser accepts: the importer re-parses its
// output and reports "(please report this)" when it does not, which must never happen.
import { importVtundConf } from '../../../../core/vtun/import.js';
import { parseVtundConf } from '../../../../core/vtun/vtund-conf.js';
import { check, type JsFuzzTarget } from '../target.js';
import { checkProblems } from '../problems.js';

export const target: JsFuzzTarget = {
  modules: ['core/vtun/vtund-conf.js', 'core/vtun/import.js'],
  maxLength: 3072,
  dictionary: [
    'options {\n', 'default {\n', '}\n', '};\n', ' {', ';', '"', 'port 5000;', 'bindaddr { addr 198.18.0.1; };', 'bindaddr { iface eth0; };',
    'timeout 60;', 'type tun;', 'type ether;', 'type pipe;', 'type tty;', 'ifconfig /sbin/ifconfig;', 'ip /sbin/ip;', 'route /sbin/route;',
    'firewall /sbin/iptables;', 'ppp /usr/sbin/pppd;', 'syslog daemon;', 'vtdemo {\n', 'passwd secret;', 'password x;', 'proto udp;',
    'proto tcp;', 'compress lzo:9;', 'compress zlib:1;', 'compress yes;', 'compress no;', 'encrypt aes128cbc;', 'encrypt yes;',
    'encrypt oldblowfish128ecb;', 'keepalive 10:3;', 'keepalive yes;', 'speed 100:200;', 'multi killold;', 'persist keep;',
    'device tun9;', 'stat yes;', 'srcaddr { addr 198.18.0.2; port 7000; };', 'nat_hack client;', 'delay_udp server;', 'sslauth no;',
    'up {\n', 'down {\n', 'ifconfig "%% 198.19.0.1 pointopoint 198.19.0.2 mtu 1450";', 'ip "addr add 198.19.0.1/24 dev %%";',
    'ip "link set %% up";', 'route "add -net 198.18.0.0/15 gw 198.19.0.2";', 'program /bin/echo "%d %A %a %P %p %h" wait;',
    'firewall "-A INPUT -i %% -j ACCEPT";', 'ppp "noauth";', '%%', '%d', '#', '\\',
  ],
  run(data) {
    const text = data.toString('latin1');
    const lines = text.split('\n').length;
    const parsed = parseVtundConf(text);
    checkProblems([...parsed.problems].sort((a, b) => a.line - b.line), lines, 'problem');
    checkProblems([...parsed.warnings].sort((a, b) => a.line - b.line), lines, 'warning');
    for (const client of [undefined, { host: '198.18.0.1', port: null }, { host: '2001:2::1', port: 5001 }]) {
      const r = importVtundConf(text, { file: 'vtund.conf', client, interfaceAddress: (name) => (name === 'eth0' ? '198.18.0.9' : null) });
      checkProblems(r.problems, lines, 'problem');
      for (const s of r.sessions) {
        for (const m of [...s.errors, ...s.warnings, ...s.notes, ...s.infos]) {
          check(m.line >= 0 && m.line <= lines && m.message.length > 0, () => `message on line ${m.line}: ${m.message}`);
        }
        const internal = s.errors.find((e) => e.message.includes('please report this'));
        check(!internal, () => `the importer wrote a tund.conf its parser refuses: ${internal!.message}`);
        check((s.conf === null) === s.errors.length > 0, `session "${s.name}": conf ${s.conf === null ? 'missing' : 'given'} with ${s.errors.length} error(s)`);
      }
    }
  },
};
