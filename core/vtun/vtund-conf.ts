// A reader for vtund.conf (VTun 3.0.x, docs/vtun-protocol.md §12): a lexer that follows vtund's own states
// (keyword position vs. value position), a parser into sections/statements with line numbers, and a
// semantic pass that gives the `options {}` settings and every complete session with `default {}`
// applied. It reads tokens and `;`, never lines: `up { ip "a"; ip "b"; };` on one line is two
// commands, whatever the layout. It never stops at the first problem: every problem is reported
// as `file:line`.

export interface VtundProblem {
  line: number;
  message: string;
}

// ---------------------------------------------------------------- lexer

type TokenKind = 'word' | 'string' | '{' | '}' | ';' | 'eof';

interface Token {
  kind: TokenKind;
  text: string;
  line: number;
}

/** Characters of an unquoted word (vtund's `word` class plus `/` and `:` for paths and N:M pairs). */
const WORD_CHAR = /[A-Za-z0-9\-_+=!$#%&*^@\\~./:]/;
const STRING_MAX = 254;

/**
 * Where the string that opens at `open` (a `"`) ends, on the line that ends at `eol`: at the first
 * quote that can end a value, i.e. one followed by `;`, `}`, a comment, the end of the line, or the
 * word `wait` (`program PATH "ARGS" wait;`). A quote followed by anything else is inside the string
 * (`program "echo "hi" there";`). Without such a quote: the last quote of the line. Returns the
 * index of the closing quote, or -1.
 */
function stringEnd(s: string, open: number, eol: number): number {
  const canEnd = /^[ \t\r]*(?:[;}#]|$|wait[ \t\r]*(?:[;}#]|$))/;
  let last = -1;
  for (let i = s.indexOf('"', open + 1); i >= 0 && i < eol; i = s.indexOf('"', i + 1)) {
    if (canEnd.test(s.slice(i + 1, eol))) return i;
    last = i;
  }
  return last;
}

class Lexer {
  private pos = 0;
  private readonly warned = new Set<number>();
  line = 1;

  constructor(
    private readonly text: string,
    private readonly problems: VtundProblem[],
    private readonly warnings: VtundProblem[],
  ) {}

  /**
   * The next token. In keyword position (`keyword` true) a `#` starts a comment to the end of the
   * line; in value position it is an ordinary word character, as in vtund's lexer.
   */
  next(keyword: boolean): Token {
    const s = this.text;
    for (;;) {
      if (this.pos >= s.length) return { kind: 'eof', text: '', line: this.line };
      const c = s[this.pos]!;
      if (c === '\n') {
        this.line++;
        this.pos++;
        continue;
      }
      if (c === ' ' || c === '\t' || c === '\r') {
        this.pos++;
        continue;
      }
      if (keyword && c === '#') {
        while (this.pos < s.length && s[this.pos] !== '\n') this.pos++;
        continue;
      }
      const line = this.line;
      if (c === '{' || c === '}' || c === ';') {
        this.pos++;
        return { kind: c, text: c, line };
      }
      if (c === '"') {
        const eol = s.indexOf('\n', this.pos);
        const end = eol < 0 ? s.length : eol;
        const close = stringEnd(s, this.pos, end);
        // vtund 3.0.4 itself ends every string at the last quote of its line (verified: the two
        // commands of `ip "a"; ip "b";` reach ip as one, which fails); say so where that differs
        const vtundClose = s.lastIndexOf('"', end - 1);
        if (close > this.pos && vtundClose !== close && !this.warned.has(line)) {
          this.warned.add(line);
          this.warnings.push({ line, message: 'vtund 3.0.4 reads the quoted strings on this line as one (its strings run to the last quote of a line), so vtund itself runs a broken command here; tund reads them one statement at a time, as written' });
        }
        if (close <= this.pos) {
          this.problems.push({ line, message: 'unterminated string (a quoted value must end on the same line)' });
          this.pos = end;
          continue;
        }
        const body = s.slice(this.pos + 1, close);
        this.pos = close + 1;
        if (body.length > STRING_MAX) this.problems.push({ line, message: `quoted string too long (${body.length} characters; vtund allows ${STRING_MAX})` });
        return { kind: 'string', text: body, line };
      }
      if (WORD_CHAR.test(c)) {
        const start = this.pos;
        while (this.pos < s.length && WORD_CHAR.test(s[this.pos]!)) this.pos++;
        return { kind: 'word', text: s.slice(start, this.pos), line };
      }
      this.problems.push({ line, message: `invalid character ${JSON.stringify(c)}` });
      this.pos++;
    }
  }
}

// ---------------------------------------------------------------- syntax tree

export interface VtundValue {
  text: string;
  quoted: boolean;
  line: number;
}

export interface VtundStatement {
  keyword: string;
  line: number;
  values: VtundValue[];
  /** `keyword { ... };` */
  block: VtundStatement[] | null;
}

export interface VtundSectionNode {
  name: string;
  line: number;
  statements: VtundStatement[];
}

export function parseVtundSyntax(text: string): { sections: VtundSectionNode[]; problems: VtundProblem[]; warnings: VtundProblem[] } {
  const problems: VtundProblem[] = [];
  const warnings: VtundProblem[] = [];
  const lexer = new Lexer(text, problems, warnings);
  const sections: VtundSectionNode[] = [];

  // statements until the closing brace of the current block
  const block = (openLine: number, what: string): VtundStatement[] | null => {
    const out: VtundStatement[] = [];
    for (;;) {
      const t = lexer.next(true);
      if (t.kind === '}') return out;
      if (t.kind === 'eof') {
        problems.push({ line: openLine, message: `missing "}" for ${what} opened here` });
        return null;
      }
      if (t.kind === ';') continue; // an empty statement: harmless
      if (t.kind !== 'word') {
        problems.push({ line: t.line, message: `expected a keyword in ${what} (got ${JSON.stringify(t.text)})` });
        continue;
      }
      const st: VtundStatement = { keyword: t.text, line: t.line, values: [], block: null };
      out.push(st);
      for (;;) {
        const v = lexer.next(false);
        if (v.kind === ';') break;
        if (v.kind === 'eof') {
          problems.push({ line: st.line, message: `missing ";" after "${st.keyword}"` });
          return null;
        }
        if (v.kind === '}') {
          problems.push({ line: v.line, message: `missing ";" after "${st.keyword}" (line ${st.line})` });
          return out;
        }
        if (v.kind === '{') {
          const inner = block(v.line, `"${st.keyword} {"`);
          if (inner === null) return null;
          st.block = inner;
          continue;
        }
        st.values.push({ text: v.text, quoted: v.kind === 'string', line: v.line });
      }
    }
  };

  for (;;) {
    const t = lexer.next(true);
    if (t.kind === 'eof') break;
    if (t.kind === ';') continue;
    if (t.kind !== 'word') {
      problems.push({ line: t.line, message: `expected a section name such as options, default or a session name (got ${JSON.stringify(t.text)})` });
      continue;
    }
    const open = lexer.next(true);
    if (open.kind !== '{') {
      problems.push({ line: t.line, message: `expected "{" after section name "${t.text}"` });
      if (open.kind === 'eof') break;
      continue;
    }
    const statements = block(open.line, `section "${t.text}"`);
    sections.push({ name: t.text, line: t.line, statements: statements ?? [] });
    if (statements === null) break;
  }
  return { sections, problems, warnings };
}

// ---------------------------------------------------------------- semantics

export interface Setting {
  /** the value(s) as written */
  value: string;
  line: number;
}

export type VtundCommandKind = 'program' | 'ip' | 'ifconfig' | 'route' | 'firewall' | 'ppp';

export interface VtundCommand {
  kind: VtundCommandKind;
  /** program: the PATH, or null for `program "ARGS";` (runs /bin/sh -c ARGS) */
  path: string | null;
  /** the quoted argument string (null when absent) */
  args: string | null;
  wait: boolean;
  line: number;
}

export interface VtundSession {
  name: string;
  line: number;
  /** keyword (canonical: passwd, nat_hack, ifconfig, ...) -> setting; from default {} or the session */
  settings: Map<string, Setting>;
  password: string | null;
  srcaddr: Setting | null;
  up: VtundCommand[];
  down: VtundCommand[];
  /** line of the up {} / down {} block, or null when copied from default {} */
  upLine: number | null;
  downLine: number | null;
}

export interface VtundOptions {
  port: Setting | null;
  bindAddr: { kind: 'addr' | 'iface'; value: string; line: number } | null;
  timeout: Setting | null;
  type: Setting | null;
  programs: { ip: string; ifconfig: string; route: string; firewall: string; ppp: string };
}

export interface VtundConfig {
  options: VtundOptions;
  sessions: VtundSession[];
  /** the file cannot be used (vtund itself would refuse it) */
  problems: VtundProblem[];
  /** sessions skipped and other remarks that do not stop the import */
  warnings: VtundProblem[];
}

const OPTION_KEYWORDS = ['port', 'bindaddr', 'iface', 'type', 'timeout', 'ppp', 'ifconfig', 'ifcfg', 'route', 'firewall', 'ip', 'syslog', 'ipv4', 'ipv6'];
const SESSION_KEYWORDS = [
  'passwd', 'password', 'type', 'proto', 'compress', 'encrypt', 'keepalive', 'speed', 'multi', 'timeout', 'persist',
  'device', 'stat', 'srcaddr', 'nat_hack', 'delay_udp', 'sslauth', 'up', 'down',
];
const COMMAND_KEYWORDS = ['program', 'ip', 'ifconfig', 'ifcfg', 'route', 'firewall', 'ppp'];
/** every keyword vtund knows: a session may not be named like one */
const ALL_KEYWORDS = new Set(['options', 'default', ...OPTION_KEYWORDS, ...SESSION_KEYWORDS, ...COMMAND_KEYWORDS, 'addr']);

const ALIASES: Record<string, string> = { password: 'passwd', delay_udp: 'nat_hack', ifcfg: 'ifconfig' };

export function parseVtundConf(text: string): VtundConfig {
  const { sections, problems, warnings } = parseVtundSyntax(text);
  const options: VtundOptions = {
    port: null,
    bindAddr: null,
    timeout: null,
    type: null,
    programs: { ip: '/sbin/ip', ifconfig: '/sbin/ifconfig', route: '/sbin/route', firewall: '/sbin/ipchains', ppp: '/usr/sbin/pppd' },
  };

  const single = (st: VtundStatement, what: string): Setting | null => {
    if (st.block) {
      problems.push({ line: st.line, message: `"${st.keyword}" takes a value, not a block (${what})` });
      return null;
    }
    if (st.values.length !== 1) {
      problems.push({ line: st.line, message: `"${st.keyword}" takes exactly one value (got ${st.values.length}; ${what})` });
      return null;
    }
    return { value: st.values[0]!.text, line: st.line };
  };

  // options first (vtund reads them wherever they are; programs named there apply to every up/down)
  for (const section of sections.filter((s) => s.name === 'options')) {
    for (const st of section.statements) {
      const kw = ALIASES[st.keyword] ?? st.keyword;
      switch (kw) {
        case 'port': case 'timeout': case 'type': {
          const v = single(st, `expected "${kw} VALUE;"`);
          if (v) options[kw] = v;
          break;
        }
        case 'bindaddr': {
          if (!st.block || st.block.length === 0) {
            problems.push({ line: st.line, message: 'bindaddr needs a block (expected "bindaddr { addr ADDRESS; };" or "bindaddr { iface NAME; };")' });
            break;
          }
          for (const inner of st.block) {
            if (inner.keyword !== 'addr' && inner.keyword !== 'iface') {
              problems.push({ line: inner.line, message: `unknown keyword "${inner.keyword}" in bindaddr (expected addr or iface)` });
              continue;
            }
            const v = single(inner, 'bindaddr');
            if (v) options.bindAddr = { kind: inner.keyword, value: v.value, line: inner.line };
          }
          break;
        }
        case 'ip': case 'ifconfig': case 'route': case 'firewall': case 'ppp': {
          const v = single(st, `expected "${st.keyword} /PATH;"`);
          if (v) options.programs[kw] = v.value;
          break;
        }
        case 'iface': case 'syslog':
          single(st, `expected "${st.keyword} VALUE;"`);
          break;
        case 'ipv4': case 'ipv6':
          break;
        default:
          problems.push({ line: st.line, message: `unknown keyword "${st.keyword}" in options${st.keyword === 'persist' ? ' (vtund does not accept persist here; set it per session)' : ` (expected one of ${OPTION_KEYWORDS.join(', ')})`}` });
      }
    }
  }

  // default {} accumulates and is copied into every session defined after it
  let defaults: VtundSession = emptySession('default', 0);
  const sessions: VtundSession[] = [];
  const seen = new Map<string, number>();
  for (const section of sections) {
    if (section.name === 'options') continue;
    const isDefault = section.name === 'default';
    if (!isDefault && ALL_KEYWORDS.has(section.name)) {
      problems.push({ line: section.line, message: `a session may not be named "${section.name}" (it is a vtund keyword)` });
      continue;
    }
    if (!isDefault && !/^[A-Za-z0-9_-]+$/.test(section.name)) {
      problems.push({ line: section.line, message: `invalid session name "${section.name}" (vtund allows letters, digits, "_" and "-")` });
      continue;
    }
    const target: VtundSession = isDefault ? defaults : copySession(defaults, section.name, section.line);
    for (const st of section.statements) applySessionStatement(target, st);
    if (isDefault) {
      defaults = target;
      defaults.password = null; // never inherited
      continue;
    }
    if (target.password === null) {
      warnings.push({ line: section.line, message: `session "${section.name}" has no passwd; ignored (vtund ignores it too)` });
      continue;
    }
    const first = seen.get(section.name);
    if (first !== undefined) {
      warnings.push({ line: section.line, message: `session "${section.name}" is defined again (first at line ${first}); vtund uses the first one, this one is ignored` });
      continue;
    }
    seen.set(section.name, section.line);
    sessions.push(target);
  }

  function applySessionStatement(target: VtundSession, st: VtundStatement): void {
    const kw = ALIASES[st.keyword] ?? st.keyword;
    switch (kw) {
      case 'passwd': {
        const v = single(st, 'expected "passwd SECRET;"');
        if (v) target.password = v.value;
        return;
      }
      case 'up': case 'down': {
        if (!st.block) {
          problems.push({ line: st.line, message: `"${st.keyword}" needs a block (expected "${st.keyword} { ... };")` });
          return;
        }
        const commands: VtundCommand[] = [];
        for (const c of st.block) {
          const cmd = parseCommand(c);
          if (cmd) commands.push(cmd);
        }
        // a session's own block replaces the one from default {}
        target[kw] = commands;
        target[kw === 'up' ? 'upLine' : 'downLine'] = st.line;
        return;
      }
      case 'srcaddr':
        if (!st.block) problems.push({ line: st.line, message: 'srcaddr needs a block (expected "srcaddr { addr A; iface N; port P; };")' });
        else target.srcaddr = { value: st.block.map((b) => `${b.keyword} ${b.values.map((v) => v.text).join(' ')}`).join('; '), line: st.line };
        return;
      default:
        if (!SESSION_KEYWORDS.includes(kw)) {
          problems.push({ line: st.line, message: `unknown keyword "${st.keyword}" in session "${target.name}"${st.keyword.length >= 4 && SESSION_KEYWORDS.some((k) => k.startsWith(st.keyword)) ? ` (vtund does not accept abbreviations; write "${SESSION_KEYWORDS.find((k) => k.startsWith(st.keyword))}")` : ''}` });
          return;
        }
        if (st.block) {
          problems.push({ line: st.line, message: `"${st.keyword}" takes a value, not a block` });
          return;
        }
        if (st.values.length !== 1) {
          problems.push({ line: st.line, message: `"${st.keyword}" takes exactly one value (got ${st.values.length})` });
          return;
        }
        target.settings.set(kw, { value: st.values[0]!.text, line: st.line });
    }
  }

  function parseCommand(st: VtundStatement): VtundCommand | null {
    const kind = (ALIASES[st.keyword] ?? st.keyword) as VtundCommandKind;
    if (!COMMAND_KEYWORDS.includes(st.keyword)) {
      problems.push({ line: st.line, message: `unknown command "${st.keyword}" in up/down (expected ${COMMAND_KEYWORDS.join(', ')})` });
      return null;
    }
    if (st.block) {
      problems.push({ line: st.line, message: `"${st.keyword}" takes arguments, not a block` });
      return null;
    }
    if (kind === 'program') {
      const cmd: VtundCommand = { kind, path: null, args: null, wait: false, line: st.line };
      for (const v of st.values) {
        if (v.quoted) cmd.args = v.text;
        else if (v.text === 'wait') cmd.wait = true;
        else if (v.text.startsWith('/')) cmd.path = v.text;
        else problems.push({ line: v.line, message: `unexpected "${v.text}" in program (expected program [/PATH] "ARGS" [wait];)` });
      }
      if (cmd.path === null && cmd.args === null) {
        problems.push({ line: st.line, message: 'program needs a path or "ARGS"' });
        return null;
      }
      return cmd;
    }
    if (st.values.length !== 1 || !st.values[0]!.quoted) {
      problems.push({ line: st.line, message: `"${st.keyword}" takes one quoted argument string (expected ${st.keyword} "ARGS";)` });
      return null;
    }
    return { kind, path: null, args: st.values[0]!.text, wait: kind !== 'ppp', line: st.line };
  }

  problems.sort((a, b) => a.line - b.line);
  return { options, sessions, problems, warnings };
}

function emptySession(name: string, line: number): VtundSession {
  return { name, line, settings: new Map(), password: null, srcaddr: null, up: [], down: [], upLine: null, downLine: null };
}

function copySession(from: VtundSession, name: string, line: number): VtundSession {
  return {
    name,
    line,
    settings: new Map(from.settings),
    password: null,
    srcaddr: from.srcaddr,
    up: [...from.up],
    down: [...from.down],
    upLine: from.upLine,
    downLine: from.downLine,
  };
}

/**
 * vtund's argument splitting for up/down commands (docs/vtun-protocol.md §12.4): spaces separate arguments,
 * 'single quotes' group words, a backslash escapes the next character.
 */
export function splitVtundArgs(args: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < args.length; i++) {
    const c = args[i]!;
    if (c === '\\' && i + 1 < args.length) {
      cur += args[++i];
      inWord = true;
    } else if (c === "'") {
      quoted = !quoted;
      inWord = true;
    } else if ((c === ' ' || c === '\t') && !quoted) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}
