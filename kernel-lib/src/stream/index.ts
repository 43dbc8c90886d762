export { StreamFrame, type BatchStep } from './stream-frame.js';
export { StreamingQuery, type StreamProgress, type StreamStatus, type StreamingQueryOptions, type Trigger, type BatchSink, type SinkInfo } from './query.js';
export { StreamCheckpoint, type PlannedBatch } from './checkpoint.js';
export { offsetsAdvance, offsetLag, type Offsets, type StreamSource, type BatchData } from './source.js';
export { DeltaStreamSource, readDeltaStream, readTableStream, type DeltaStreamOptions, type TableStreamOptions, type TableLocator } from './delta-source.js';
export { KafkaStreamSource, readKafkaStream, KafkaDataLossError, type KafkaStreamOptions, type PrefetchCounts } from './kafka-source.js';
