// checkDomainDns (@dmarc/dns-records) asks through this, so a dns-check costs no more upstream queries
// than the cache lets through. Negative answers are empty lists (an SPF void lookup); an upstream failure
// rejects, so the checker can tell "no record" from "could not look" (SPF temperror).
import { recordsOf, normaliseDnsName, type DnsAnswers } from './dns-answers';
import { joinTxt } from './policy-records';

/** The lookup interface of @dmarc/dns-records' checkDomainDns. */
export interface DnsRecordsLookup {
  txt(name: string): Promise<string[]>;
  addresses(name: string): Promise<string[]>;
  mx(name: string): Promise<string[]>;
}

export function dnsLookupOverCache(answers: DnsAnswers): DnsRecordsLookup {
  return {
    async txt(name) {
      return joinTxt(recordsOf(await answers.resolve(name, 'TXT'), 'TXT'));
    },
    async addresses(name) {
      const [v4, v6] = await Promise.all([answers.resolve(name, 'A'), answers.resolve(name, 'AAAA')]);
      return [...recordsOf(v4, 'A'), ...recordsOf(v6, 'AAAA')].flatMap((r) => (r.address ? [r.address] : []));
    },
    async mx(name) {
      return recordsOf(await answers.resolve(name, 'MX'), 'MX').flatMap((r) => (r.exchange ? [normaliseDnsName(r.exchange)] : []));
    },
  };
}
