// The real-inference mode: generated GGUF models, llama.cpp worker processes (prompt, token, mixed),
// KV state shipped between them over loopback TCP, and the router behind the engine's Cluster interface.
export { writeGguf, ggufHeader, readGgufInfo, GGUF_ALIGNMENT, GGUF_VERSION } from './gguf.js';
export type { GgufInfo, MetaValue, TensorSpec, TensorType } from './gguf.js';
export {
  TINY_SHAPE,
  MODEL_CACHE_DIR,
  resolveShape,
  shapeNames,
  shapeParameters,
  kvBytesPerToken,
  makeModel,
  defaultModelFile,
  readModelShape,
  modelTensors,
  vocabulary,
} from './model.js';
export type { ModelShape, ShapeOverrides, MakeModelOptions, MadeModel } from './model.js';
export { InferenceEngine, Cancel, CancelledError, loadLlama } from './engine.js';
export type { EngineOptions, TokenSink } from './engine.js';
export { RealCluster, REAL_SCHEDULERS, promptIds } from './cluster.js';
export type { RealClusterOptions, RealDeployment, RealScheduler } from './cluster.js';
export { startRealServer, serveReal } from './serve.js';
export type { RealServeOptions } from './serve.js';
export type { GpuMode, WorkerRole } from './protocol.js';
