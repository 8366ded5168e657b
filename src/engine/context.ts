/**
 * The context-length rule every way of running applies the same way: a request whose prompt fills the model's
 * context, or whose prompt + output passes it, is refused. The reference backend answers it with HTTP 400
 * `context_length_exceeded` (vLLM's wording); the simulator records the same error for the request.
 */

/**
 * Why a request of `promptTokens` + `outputTokens` does not fit a context of `maxContextTokens`, or undefined
 * when it fits. `maxParam` names the output field (chat requests may use `max_completion_tokens`).
 */
export function contextProblem(
  maxContextTokens: number,
  promptTokens: number,
  outputTokens: number,
  maxParam = 'max_tokens',
  promptParam = 'prompt',
): { param: string; message: string } | undefined {
  const ctx = maxContextTokens;
  if (promptTokens >= ctx) {
    return { param: promptParam, message: `${promptParam}: this model's maximum context length is ${ctx} tokens, but the prompt has ${promptTokens} tokens` };
  }
  if (promptTokens + outputTokens > ctx) {
    return {
      param: maxParam,
      message: `${maxParam}: this model's maximum context length is ${ctx} tokens, but ${promptTokens + outputTokens} were requested (${promptTokens} in the prompt, ${outputTokens} for the completion)`,
    };
  }
  return undefined;
}
