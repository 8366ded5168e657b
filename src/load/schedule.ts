/**
 * Open-loop schedule math and the precise sleeper (STYLE 4).
 *
 * Every send target is computed from the run's t0 and the request's own schedule time, never from the
 * previous send, so a late send does not shift the rest of the trace:
 *
 *   scheduledS (trace seconds from t0) = arrival − origin        (origin: the first request's arrival)
 *   targetMs   (monotonic)             = t0Ms + scheduledS / timeScale × 1000
 *   lagS       (trace seconds)         = (sendMs − targetMs) / 1000 × timeScale
 *
 * The sleeper waits with setTimeout for the coarse part and spins on setImmediate for the last
 * `SPIN_MS`, which gives sub-millisecond send precision without blocking I/O (each spin step yields to
 * the event loop).
 */

/** The last stretch before a target is spun with setImmediate (timers fire up to ~1 ms late). */
export const SPIN_MS = 2;

/** Trace seconds from t0 → monotonic ms target. */
export function targetMs(t0Ms: number, scheduledS: number, timeScale: number): number {
  return t0Ms + (scheduledS / timeScale) * 1000;
}

/** Monotonic ms → trace seconds from t0. */
export function traceSeconds(t0Ms: number, ms: number, timeScale: number): number {
  return ((ms - t0Ms) / 1000) * timeScale;
}

/** Lag in trace seconds of a send at `sendMs` for a target at `targetMs`. */
export function lagSeconds(sendMs: number, target: number, timeScale: number): number {
  return ((sendMs - target) / 1000) * timeScale;
}

/** A sleep-until that can be woken early (used to stop scheduling at once on interrupt). */
export class Sleeper {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private immediate: ReturnType<typeof setImmediate> | undefined;
  private wakeFn: (() => void) | undefined;

  /** Resolve when performance.now() ≥ target, or when `wake()` is called. Resolves true if woken. */
  until(target: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const done = (woken: boolean): void => {
        this.timer = undefined;
        this.immediate = undefined;
        this.wakeFn = undefined;
        resolve(woken);
      };
      this.wakeFn = () => {
        if (this.timer) clearTimeout(this.timer);
        if (this.immediate) clearImmediate(this.immediate);
        done(true);
      };
      const step = (): void => {
        this.timer = undefined;
        this.immediate = undefined;
        const rem = target - performance.now();
        if (rem <= 0) {
          done(false);
          return;
        }
        if (rem > SPIN_MS) this.timer = setTimeout(step, rem - SPIN_MS);
        else this.immediate = setImmediate(step);
      };
      step();
    });
  }

  wake(): void {
    this.wakeFn?.();
  }
}
