import { gzipSync } from 'node:zlib';
import { recordsPerReport } from './report-sizes';
import { seededRandom } from './seeded-random';

/**
 * Generated aggregate reports as the pipeline benches publish them: gzipped XML, sizes from
 * ./report-sizes (median about 3 records, one in a hundred of thousands), reporters, days and source IPs
 * from shared pools so the same senders show up across reporters and reports.
 */
export interface GeneratedReport {
  id: string;
  payload: Buffer;
  records: number;
  messages: number;
  domain: string;
  /** The distinct source IPs of its records. */
  ips: Set<string>;
}

const DAY = 86_400;
const REPORTERS = ['google.com', 'outlook.com', 'yahoo.com', 'comcast.net', 'mail.ru', 'web.de', 'zoho.com', 'fastmail.com', 'orange.fr', 'qq.com'];

function recordXml(ip: string, count: number, r: () => number, domain: string): string {
  const dkim = r() < 0.75 ? 'pass' : 'fail';
  const spf = r() < 0.7 ? 'pass' : 'fail';
  const disposition = dkim === 'pass' || spf === 'pass' ? 'none' : r() < 0.5 ? 'quarantine' : 'reject';
  return (
    `<record><row><source_ip>${ip}</source_ip><count>${count}</count>` +
    `<policy_evaluated><disposition>${disposition}</disposition><dkim>${dkim}</dkim><spf>${spf}</spf></policy_evaluated></row>` +
    `<identifiers><header_from>${domain}</header_from></identifiers>` +
    `<auth_results><dkim><domain>${domain}</domain><selector>s1</selector><result>${dkim}</result></dkim>` +
    `<spf><domain>${domain}</domain><scope>mfrom</scope><result>${spf}</result></spf></auth_results></record>\n`
  );
}

/**
 * `count` reports with ids `${runId}-${i}`, each for the domain `pickDomain` draws, dated on one of the last
 * seven days (UTC). The same seed gives the same reports.
 */
export function generateReports(runId: string, count: number, pickDomain: (r: () => number) => string, seed = 11): GeneratedReport[] {
  const r = seededRandom(seed);
  const ips = Array.from({ length: 5000 }, (_, i) => `203.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  const begin0 = Math.floor(Date.now() / 1000 / DAY - 7) * DAY;
  return Array.from({ length: count }, (_, i) => {
    const domain = pickDomain(r);
    const org = REPORTERS[Math.floor(r() * REPORTERS.length)];
    const begin = begin0 + Math.floor(r() * 7) * DAY;
    const id = `${runId}-${i}`;
    const n = recordsPerReport(r);
    let messages = 0;
    const used = new Set<string>();
    const parts = [
      `<?xml version="1.0" encoding="UTF-8"?>\n<feedback><report_metadata><org_name>${org}</org_name><email>dmarc@${org}</email>` +
        `<report_id>${id}</report_id><date_range><begin>${begin}</begin><end>${begin + DAY - 1}</end></date_range></report_metadata>` +
        `<policy_published><domain>${domain}</domain><adkim>r</adkim><aspf>r</aspf><p>quarantine</p><sp>none</sp><pct>100</pct></policy_published>\n`,
    ];
    for (let k = 0; k < n; k++) {
      const count = 1 + Math.floor(r() ** 4 * 500);
      messages += count;
      // Popular senders (the pool's head) are reported by every reporter, over and over.
      const ip = ips[Math.floor(ips.length * r() ** 3)];
      used.add(ip);
      parts.push(recordXml(ip, count, r, domain));
    }
    parts.push('</feedback>\n');
    return { id, payload: gzipSync(parts.join('')), records: n, messages, domain, ips: used };
  });
}
