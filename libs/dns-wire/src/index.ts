export type { DnsRecord, Rcode, RecordType, Upstream, UpstreamAnswer } from './upstream';
export { DnsClient, resolveDnsClientOptions, type DnsClientOptions, type ResolvedDnsClientOptions } from './dns-client';
export { nameProblem, normaliseName, reverseName } from './dns-name';
export { UpstreamConfigError, UpstreamError, type UpstreamErrorCode } from './errors';
export { DNS_PORT, parseUpstreams, systemUpstreams, upstreamServer, type UpstreamServer } from './upstream-address';
export { tcpMessageExchange, type ExchangeOptions } from './transport';
