export { collectFiles, runEmbeddedPipeline, type EmbeddedOptions, type EmbeddedProgress, type EmbeddedResult, type FileOutcome } from './embedded-pipeline';
export { domainTotals, type DomainTotals } from './domain-totals';
