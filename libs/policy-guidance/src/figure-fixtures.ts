// Test support (not a test): per-source figures as guidance-queries would read them.
import type { DomainFigures, SourceFigures } from './domain-figures';

// A source over the window: `aligned` of its `messages` pass DMARC, DKIM-aligned unless told otherwise.
export function source(sourceIp: string, messages: number, aligned: number, more: Partial<SourceFigures> = {}): SourceFigures {
  return {
    sourceIp,
    ptr: null,
    baseDomain: null,
    messages,
    dmarcPass: aligned,
    dkimAligned: aligned,
    spfAligned: aligned,
    days: 30,
    firstDay: '2025-03-01',
    lastDay: '2025-03-30',
    worstDayDkimRate: messages === 0 ? null : aligned / messages,
    ...more,
  };
}

export function figures(sources: SourceFigures[], daysWithData = 30): DomainFigures {
  return { domain: 'example.com', from: '2025-03-01', to: '2025-03-30', daysWithData, sources: [...sources].sort((a, b) => b.messages - a.messages) };
}
