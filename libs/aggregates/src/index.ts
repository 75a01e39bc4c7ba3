export { countChunk, normaliseDomain, utcDay, type ChunkCounts, type CounterDelta, type PolicySeen } from './chunk-counts';
export { AGGREGATION_CONSUMER, applyChunk, applyChunks, applyChunksMerged, applyChunksMergedIfNew, chunkMessageId, type ApplyResult, type ChunkSource, type ChunkToApply } from './chunk-writer';
export { pruneLedger, type PruneLedgerOptions } from './ledger-pruning';
export { daysOf, resolveDayRange, type DayRange, type DayRangeOptions } from './day-range';
export {
  domainSources,
  domainSummary,
  type Counts,
  type DayCounts,
  type Dispositions,
  type DomainQuery,
  type DomainSources,
  type DomainSummary,
  type PolicyOfDay,
  type SourceCounts,
} from './domain-queries';
export { AggregationError, type AggregationErrorCode } from './errors';
export {
  AGGREGATES_UPDATED_TOPIC,
  ANNOUNCE_EVERY_CHUNKS,
  PARSED_TOPIC,
  ReportAggregator,
  type AppliedChunk,
  type ChunkDelivery,
  type ChunkOutcome,
  type ReportAggregatorOptions,
  type WithinFlush,
} from './report-aggregator';
export { FIXTURE_BEGIN, FIXTURE_END, fixtureChunk, fixtureChunks, fixtureRawReport, fixtureRecord } from './report-chunk-fixtures';
export { mergeCounters, type MergedCounters } from './counter-merge';
export { WriteBehindBuffer, type WriteBehindDeps, type WriteBehindOptions } from './write-behind-buffer';
