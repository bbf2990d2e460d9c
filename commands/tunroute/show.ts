// tunroute show [NAME] [--json]: what tunroute made, per session, checked against the kernel.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { NotRunningFailure } from '../../core/errors.js';
import { showSessions, type SessionView } from '../../core/route/index.js';
import { sessionName } from '../../core/route/cli.js';
import type { Entry } from '../../core/route/state.js';

function tableText(t: number | 'main'): string {
  return String(t);
}

function entryJson(e: Entry, present: boolean | null): Record<string, unknown> {
  if (e.kind === 'route') {
    return { family: e.family === 4 ? 'inet' : 'inet6', dst: e.dst, dev: e.dev, gateway: e.via, table: tableText(e.table), metric: e.metric, protocol: '250', origin: e.origin, present };
  }
  return {
    family: e.family === 4 ? 'inet' : 'inet6', priority: e.priority, dst: e.to ?? 'all', table: tableText(e.table),
    suppress_prefixlength: e.suppressPrefixlength, protocol: '250', origin: e.origin, present,
  };
}

export function sessionJson(v: SessionView): Record<string, unknown> {
  const s = v.state;
  const routes = s.entries.map((e, i) => ({ e, p: v.present[i] ?? null })).filter((x) => x.e.kind === 'route');
  const rules = s.entries.map((e, i) => ({ e, p: v.present[i] ?? null })).filter((x) => x.e.kind === 'rule');
  return {
    name: s.name,
    device: s.device,
    mode: s.mode ?? null,
    table: s.table ?? null,
    endpoints: s.endpoints ?? [],
    updated: s.updated ?? null,
    routes: routes.map((x) => entryJson(x.e, x.p)),
    rules: rules.map((x) => entryJson(x.e, x.p)),
    dns: s.dns
      ? { backend: s.dns.backend, link: s.dns.link, servers: s.dns.servers, domains: s.dns.domains, default_route: s.dns.defaultRoute, record: s.dns.record }
      : null,
  };
}

function entryLine(e: Entry): string {
  if (e.kind === 'route') {
    return `${e.family === 6 ? '-6 ' : ''}${e.dst}${e.via ? ` via ${e.via}` : ''} dev ${e.dev}${e.table === 'main' ? '' : ` table ${e.table}`}${e.metric !== null ? ` metric ${e.metric}` : ''}`;
  }
  return `${e.family === 6 ? '-6 ' : ''}${e.priority}: ${e.to ? `to ${e.to} ` : ''}lookup ${e.table}${e.suppressPrefixlength !== null ? ` suppress_prefixlength ${e.suppressPrefixlength}` : ''}`;
}

export class RouteShowCommand extends BaseCommand {
  static override paths = [['show']];

  static override usage = Command.Usage({
    category: 'Session routes',
    description: 'show the routes, rules and DNS settings tunroute made',
    details: `
      Lists, per session (or only NAME), the mode, table and endpoint, every route and rule that
      tunroute recorded (marked "missing" when the kernel no longer has it) and the DNS setting.

      \`--json\` prints one document: \`{"format": 1, "sessions": [...]}\`, snake_case keys, every key
      always present (null when unknown); routes and rules carry \`present\` (true/false).

      Exit status: 0; 3 when NAME is given and nothing is recorded for it.
    `,
    examples: [
      ['Show every session', '$0 show'],
      ['Show one session as JSON', '$0 show office --json'],
      ['List the prefixes of a session with jq', "$0 show office --json | jq -r '.sessions[0].routes[].dst'"],
    ],
  });

  name = Option.String({ name: 'NAME', required: false });

  json = Option.Boolean('--json', false, { description: 'Print JSON (format 1) instead of text' });

  async run(): Promise<number> {
    if (this.name !== undefined) sessionName(this.name);
    const views = await showSessions(this.name);
    if (this.name !== undefined && views.length === 0) {
      if (this.json) this.printJson({ format: 1, sessions: [] });
      throw new NotRunningFailure(`${this.name}: nothing recorded (no routes or DNS settings made by tunroute)`, `apply them with "tunroute up ${this.name}"`);
    }
    if (this.json) {
      this.printJson({ format: 1, sessions: views.map(sessionJson) });
      return 0;
    }
    const blocks = views.map((v) => {
      const s = v.state;
      const lines = [`session: ${s.name}`, `  device: ${s.device}`];
      lines.push(`  mode: ${s.mode ?? 'ad-hoc'}${s.table !== null ? ` (table ${s.table})` : ''}`);
      if (s.endpoints.length > 0) lines.push(`  endpoint: ${s.endpoints.join(', ')}`);
      s.entries.forEach((e, i) => {
        const mark = v.present[i] === false ? ' (missing)' : '';
        lines.push(`  ${e.kind}: ${entryLine(e)}${mark}`);
      });
      if (s.dns) {
        const d = s.dns;
        lines.push(`  dns: ${d.backend} on ${d.link}: servers ${d.servers.join(' ') || '-'}; domains ${d.domains.join(' ') || '-'}${d.defaultRoute === true ? '; default route' : ''}`);
      }
      return lines.join('\n');
    });
    if (blocks.length > 0) this.out(blocks.join('\n\n'));
    return 0;
  }
}
