/** Small aggregate report documents for tests: RFC 7489 shape, every part replaceable. */
export interface AggregateXmlParts {
  readonly declaration?: string;
  readonly feedbackAttributes?: string;
  readonly version?: string;
  readonly metadata?: string;
  readonly policy?: string;
  readonly records?: readonly string[];
  readonly trailer?: string;
}

export const METADATA = `<report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>
    <report_id>12345678901234567890</report_id>
    <date_range><begin>1700000000</begin><end>1700086399</end></date_range>
  </report_metadata>`;

export const POLICY = `<policy_published>
    <domain>example.com</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct><fo>0</fo>
  </policy_published>`;

export function recordXml(i: number, overrides: { evaluated?: string; extra?: string; auth?: string } = {}): string {
  return `<record>
    <row>
      <source_ip>192.0.2.${i % 250}</source_ip>
      <count>${i + 1}</count>
      <policy_evaluated>${overrides.evaluated ?? '<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf>'}</policy_evaluated>
    </row>
    <identifiers><header_from>example.com</header_from><envelope_from>bounce.example.com</envelope_from></identifiers>
    <auth_results>${overrides.auth ?? '<dkim><domain>example.com</domain><selector>s1</selector><result>pass</result></dkim><spf><domain>bounce.example.com</domain><scope>mfrom</scope><result>fail</result></spf>'}</auth_results>${overrides.extra ?? ''}
  </record>`;
}

export function aggregateXml(parts: AggregateXmlParts = {}): string {
  const records = parts.records ?? [recordXml(0)];
  return [
    parts.declaration ?? '<?xml version="1.0" encoding="UTF-8"?>\n',
    `<feedback${parts.feedbackAttributes ?? ''}>\n`,
    parts.version ?? '  <version>1.0</version>\n',
    `  ${parts.metadata ?? METADATA}\n`,
    `  ${parts.policy ?? POLICY}\n`,
    ...records.map((r) => `  ${r}\n`),
    `</feedback>${parts.trailer ?? '\n'}`,
  ].join('');
}
