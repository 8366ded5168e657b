/** The results store's public face: open a store, write runs, read them back. Schema: schema.ts. */
export { openStore, isStale, lookupRunId, REQUEST_COLUMNS, requestParams, type OpenOptions } from './store.js';
export * from './api.js';
export * from './schema.js';
export { encodeChunks, decodeChunks, encodeChunkTimes, type Chunk } from './codec.js';
export * from './derive.js';
export { exportRequests, EXPORT_FORMATS, EXPORT_COLUMNS, type ExportFormat } from './export.js';
export { storeTargetProblem } from './target.js';
export * from './columns.js';
export { checkpointStore, readShardStore, publishStore, type ShardOfFile, type ShardImport, type MergedRun } from './shards.js';
