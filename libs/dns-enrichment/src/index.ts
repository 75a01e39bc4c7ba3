export { Enricher, enrichChunk, enrichChunks, type ChunkEnrichment } from './enrich-chunk';
export { EnrichmentLookups, canonicalIp, type EnricherOptions, type DomainRecords, type ReverseNames } from './enrichment-lookups';
export { dnsLookupOverCache, type DnsRecordsLookup } from './dns-lookup-adapter';
export { pickDmarcRecord, pickSpfRecord, joinTxt } from './policy-records';
export type { AnswerRecord, AnswerSet, AnswerType, DnsAnswers } from './dns-answers';
export { dkimSelectorsSeen, type SelectorsSeen } from './dkim-selectors';
