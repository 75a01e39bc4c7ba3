/**
 * Synthetic aggregate reports for the benchmarks: records shaped like a large mailbox provider's, and a huge
 * report generated as a stream (never whole in memory). Deterministic: the same seed gives the same bytes.
 */
import { Readable } from 'node:stream';
import { seededRandom } from './seeded-random';

const SENDERS = ['example.com', 'mail.example.com', 'newsletter.example.com', 'example.net'];
const PROVIDERS = ['amazonses.com', 'sendgrid.net', 'mailchimp.com', 'google.com', 'outlook.com'];

export function recordXml(rnd: () => number): string {
  const ipv6 = rnd() < 0.15;
  const ip = ipv6
    ? `2001:db8:${Math.floor(rnd() * 65535).toString(16)}::${Math.floor(rnd() * 65535).toString(16)}`
    : `${Math.floor(rnd() * 223) + 1}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`;
  const count = rnd() < 0.9 ? 1 + Math.floor(rnd() * 5) : Math.floor(rnd() * 5000);
  const dkim = rnd() < 0.7 ? 'pass' : 'fail';
  const spf = rnd() < 0.6 ? 'pass' : 'fail';
  const disposition = dkim === 'pass' || spf === 'pass' ? 'none' : rnd() < 0.5 ? 'none' : rnd() < 0.5 ? 'quarantine' : 'reject';
  const from = SENDERS[Math.floor(rnd() * SENDERS.length)];
  const provider = PROVIDERS[Math.floor(rnd() * PROVIDERS.length)];
  const reason = disposition === 'none' && dkim === 'fail' && spf === 'fail' ? '<reason><type>local_policy</type></reason>' : '';
  return `<record>
<row>
<source_ip>${ip}</source_ip>
<count>${count}</count>
<policy_evaluated><disposition>${disposition}</disposition><dkim>${dkim}</dkim><spf>${spf}</spf>${reason}</policy_evaluated>
</row>
<identifiers><header_from>${from}</header_from><envelope_from>bounce.${provider}</envelope_from></identifiers>
<auth_results>
<dkim><domain>${dkim === 'pass' ? from : provider}</domain><selector>s${Math.floor(rnd() * 3)}</selector><result>${dkim}</result></dkim>
<spf><domain>bounce.${provider}</domain><scope>mfrom</scope><result>${spf === 'pass' ? 'pass' : 'softfail'}</result></spf>
</auth_results>
</record>
`;
}

export function headXml(id: number): string {
  return `<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
<version>1.0</version>
<report_metadata>
<org_name>google.com</org_name>
<email>noreply-dmarc-support@google.com</email>
<extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>
<report_id>${id}</report_id>
<date_range><begin>1718236800</begin><end>1718323199</end></date_range>
</report_metadata>
<policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf><p>quarantine</p><sp>quarantine</sp><pct>100</pct><np>quarantine</np></policy_published>
`;
}

export function reportXml(id: number, records: number, rnd: () => number): Buffer {
  const parts = [headXml(id)];
  for (let i = 0; i < records; i++) parts.push(recordXml(rnd));
  parts.push('</feedback>\n');
  return Buffer.from(parts.join(''));
}

const CHUNK = 64 * 1024;

/** The huge report as a stream of ~64 KiB chunks, never whole in memory. */
export function hugeSource(records: number, seed = 1, id = 1): Readable {
  const rnd = seededRandom(seed);
  return Readable.from(
    (function* () {
      yield Buffer.from(headXml(id));
      let batch = '';
      for (let i = 0; i < records; i++) {
        batch += recordXml(rnd);
        if (batch.length >= CHUNK) {
          yield Buffer.from(batch);
          batch = '';
        }
      }
      yield Buffer.from(`${batch}</feedback>\n`);
    })(),
  );
}

