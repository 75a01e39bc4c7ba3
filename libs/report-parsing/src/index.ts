export { ParsingStage, PARSED_TOPIC, FORENSIC_TOPIC, TLS_TOPIC, type BatchItem, type ParsingStageOptions, type ParsingResult } from './parsing-stage';
export { RecordChunker, toTopicRecord } from './chunker';
export { ParsingStageError } from './errors';
