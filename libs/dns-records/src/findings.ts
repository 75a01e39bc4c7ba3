// What a check reports: a severity, a stable code to branch on, a sentence for people, and the tag or
// mechanism concerned. Codes never change meaning; messages may be reworded.

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  severity: Severity;
  code: string;
  message: string;
  /** the tag or mechanism concerned */
  field?: string;
}

const RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Most severe first; findings of one severity keep the order they were found in. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  // Array.prototype.sort is stable, so equal ranks keep their discovery order.
  return [...findings].sort((a, b) => RANK[a.severity] - RANK[b.severity]);
}

export function finding(severity: Severity, code: string, message: string, field?: string): Finding {
  return field === undefined ? { severity, code, message } : { severity, code, message, field };
}

/** One finding per code, field and message: a failed lookup both checks share, or one mistake met twice, is said once. */
export function distinctFindings(findings: readonly Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.code}\u0000${f.field ?? ''}\u0000${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'error');
}

/** A rejection's reason in one line: its code and first message line, never a stack trace. */
export function describeFailure(reason: unknown): string {
  let text: string;
  if (reason instanceof Error) {
    const code = (reason as { code?: unknown }).code;
    const first = (reason.message.split('\n', 1)[0] ?? '').trim();
    text = typeof code === 'string' && !first.includes(code) ? `${code}: ${first}` : first;
  } else {
    text = String(reason);
  }
  if (!text) text = 'unknown failure';
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
