export type { DnsRecord, Rcode, RecordType, Upstream, UpstreamAnswer } from './upstream';
