/**
 * The notes a report carries about what was tolerated or repaired to read it. One note per kind of repair,
 * with the first place it happened and how often, so a million wrong-case records give one line, not a
 * million, and memory stays bounded.
 */
export class RepairLog {
  private readonly notes = new Map<string, { text: string; count: number }>();

  constructor(inherited: readonly string[] = []) {
    for (const text of inherited) this.notes.set(`inherited:${text}`, { text, count: 1 });
  }

  /** `kind` groups repeats of the same repair; `text` describes the first one. */
  note(kind: string, text: string): void {
    const existing = this.notes.get(kind);
    if (existing) existing.count++;
    else if (this.notes.size < MAX_KINDS) this.notes.set(kind, { text, count: 1 });
  }

  /** A log for a document nested in this one (an entry of a zip, an attachment): starts with these notes. */
  child(): RepairLog {
    return new RepairLog(this.list());
  }

  list(): string[] {
    const out: string[] = [];
    for (const { text, count } of this.notes.values()) {
      out.push(count > 1 ? `${text} (${count} times)` : text);
    }
    return out;
  }
}

// A hostile file could invent endless kinds (one per unknown element name); past this, more are dropped.
const MAX_KINDS = 100;
