// Writes tund.conf(5) text from an ordered list of sections (used by `tund import-vtun`).

export interface DraftEntry {
  key: string;
  value: string;
  /** a comment line written above the entry */
  comment?: string;
}

export interface DraftSection {
  name: string;
  entries: DraftEntry[];
}

export interface ConfigDraft {
  /** comment lines at the top of the file (without "# ") */
  header: string[];
  sections: DraftSection[];
}

export function renderSessionConfig(draft: ConfigDraft): string {
  const out: string[] = draft.header.map((l) => (l === '' ? '#' : `# ${l}`));
  for (const section of draft.sections) {
    if (section.entries.length === 0) continue;
    if (out.length > 0) out.push('');
    out.push(`[${section.name}]`);
    for (const e of section.entries) {
      if (e.comment) for (const c of e.comment.split('\n')) out.push(`# ${c}`);
      if (/[\r\n]/.test(e.value)) throw new Error(`value of ${e.key} has a line break`);
      out.push(`${e.key} = ${e.value}`);
    }
  }
  return `${out.join('\n')}\n`;
}
