// The reference backend's HTTP face: OpenAI-compatible routes, SSE, /metrics, /health over an emulated cluster.
export {
  startServer,
  DEFAULT_MAX_QUEUE,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_HEADER_TIMEOUT_MS,
  DEFAULT_BODY_TIMEOUT_MS,
  RETRY_AFTER_S,
} from './app.js';
export type { ServerOptions, RunningServer, ServerClock } from './app.js';
export { HttpError } from './http-error.js';
export type { ErrorBody } from './http-error.js';
export { parseGeneration, parseJsonBody, DEFAULT_COMPLETION_MAX_TOKENS, MAX_PROMPTS_PER_REQUEST } from './openai.js';
export type { GenerationRequest, ServedModel, Endpoint, PromptPlan } from './openai.js';
export { extensionOf } from './generation.js';
export type { SplitbenchExtension } from './generation.js';
export { ServerMetrics } from './metrics.js';
export { TOKEN_TEXT, CHARS_PER_TOKEN, countTextTokens, planOutput, tokensText, hashIds, hashText } from './tokens.js';
export { createBackend } from './backend.js';
export type { Backend, BackendOptions } from './backend.js';
export {
  serve,
  listeningLine,
  listenError,
  serveUntilStopped,
  DEFAULT_HTTP_LIMITS,
  exposureWarning,
  httpLimitProblems,
  httpServerOptions,
  isLoopback,
  cappedModel,
} from './serve.js';
export type { ServeOptions, HttpLimits } from './serve.js';
