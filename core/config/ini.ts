// A small line parser for tund.conf(5): `[Section]` headers, `Key = Value` lines, full-line `#`/`;`
// comments. It keeps line numbers for every entry and never stops at the first problem: the caller
// validates the entries and reports everything at once (`file:line: problem`).

export interface IniEntry {
  /** the key as written (trimmed) */
  key: string;
  /** the value as written (trimmed; may be empty) */
  value: string;
  line: number;
}

export interface IniSection {
  /** the section name as written, without brackets (trimmed) */
  name: string;
  line: number;
  entries: IniEntry[];
}

export interface IniSyntaxProblem {
  line: number;
  message: string;
}

export interface IniDocument {
  sections: IniSection[];
  /** entries before the first section header */
  orphans: IniEntry[];
  problems: IniSyntaxProblem[];
}

export interface IniOptions {
  /** The sections this kind of file has, for the "empty section name" message. */
  expectedSections?: string;
}

export function parseIni(text: string, options: IniOptions = {}): IniDocument {
  const expectedSections = options.expectedSections ?? '[Session], [Device], [Route] or [Hooks]';
  const doc: IniDocument = { sections: [], orphans: [], problems: [] };
  let current: IniSection | null = null;
  const lines = text.split(/\r?\n/);
  // a trailing newline does not make an extra line
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, index) => {
    const line = index + 1;
    const text = raw.trim();
    if (text === '' || text.startsWith('#') || text.startsWith(';')) return;
    if (text.startsWith('[')) {
      const m = /^\[\s*([^\]]*?)\s*\]$/.exec(text);
      if (!m) {
        doc.problems.push({ line, message: `malformed section header ${JSON.stringify(text)} (expected [Name])` });
        current = null;
        return;
      }
      if (m[1] === '') {
        doc.problems.push({ line, message: `empty section name (expected ${expectedSections})` });
      }
      current = { name: m[1]!, line, entries: [] };
      doc.sections.push(current);
      return;
    }
    const eq = text.indexOf('=');
    if (eq < 0) {
      doc.problems.push({ line, message: `expected "Key = Value" (got ${JSON.stringify(text)})` });
      return;
    }
    const key = text.slice(0, eq).trim();
    const value = text.slice(eq + 1).trim();
    if (key === '') {
      doc.problems.push({ line, message: `missing key before "=" (got ${JSON.stringify(text)})` });
      return;
    }
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(key)) {
      doc.problems.push({ line, message: `malformed key ${JSON.stringify(key)} (expected letters and digits, such as MTU or AllowedIPs)` });
      return;
    }
    const entry: IniEntry = { key, value, line };
    if (current === null) doc.orphans.push(entry);
    else (current as IniSection).entries.push(entry);
  });
  return doc;
}
