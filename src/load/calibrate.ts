/**
 * `replay --time-scale auto`: find the highest time scale this machine sustains without distorting the run.
 *
 * The bundled backend runs K times faster than real GPUs; the client and the server then have 1/K of the wall
 * time per token, and a machine that is too slow for that adds its own delay (send lag, coalesced chunks, late
 * emissions) to every figure. The calibration replays the first `CALIBRATION_REQUESTS` requests of the run's own
 * load at each candidate scale, highest first, into a scratch store, each with the twin check; the first scale
 * whose run is not flagged distorted (and ends ok) is the one the real run uses. When every candidate is
 * distorted, the lowest is used and the real run's own twin check will flag it again, with its reason.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ReplayOptions } from './options.js';
import { runReplay } from './run.js';

/** Candidate scales, highest first. */
export const AUTO_TIME_SCALES: readonly number[] = [20, 10, 5, 2, 1];
/** Requests each calibration replay sends (the first ones of the run's own load). */
export const CALIBRATION_REQUESTS = 60;

export interface CalibrationTry {
  readonly timeScale: number;
  readonly distorted: boolean;
  /** Why it was not taken (the twin check's reason, or the run's status), when it was not. */
  readonly reason?: string;
}

export interface Calibration {
  readonly timeScale: number;
  /** True when some candidate passed; false when the lowest was taken although it was distorted too. */
  readonly undistorted: boolean;
  readonly tries: readonly CalibrationTry[];
}

/** Calibrate for `opts` (which must target the bundled backend). `log` gets one line per candidate. */
export async function calibrateTimeScale(opts: ReplayOptions, log: (line: string) => void = () => undefined): Promise<Calibration> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'splitbench-calibrate-'));
  const tries: CalibrationTry[] = [];
  try {
    for (const k of AUTO_TIME_SCALES) {
      const { summary } = await runReplay(
        {
          ...opts,
          timeScaleAuto: false,
          timeScale: k,
          db: path.join(dir, `x${k}.db`),
          name: `calibrate-x${k}`,
          maxRequests: Math.min(opts.maxRequests ?? CALIBRATION_REQUESTS, CALIBRATION_REQUESTS),
          twin: true,
          json: true,
        },
        { progress: false, log: () => undefined },
      );
      const failed = summary.status !== 'completed' ? `the calibration run ended ${summary.status}${summary.reason ? ` (${summary.reason})` : ''}` : undefined;
      const reason = failed ?? (summary.distorted ? (summary.selfCheck?.reasons.join('; ') ?? 'distorted') : undefined);
      tries.push({ timeScale: k, distorted: reason !== undefined, ...(reason === undefined ? {} : { reason }) });
      log(`splitbench replay: time scale auto: x${k} ${reason === undefined ? 'holds' : `is distorted: ${reason}`}`);
      if (reason === undefined) return { timeScale: k, undistorted: true, tries };
    }
    return { timeScale: AUTO_TIME_SCALES[AUTO_TIME_SCALES.length - 1]!, undistorted: false, tries };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
