/**
 * Energy of one machine (or GPU) over a run, from a stream of readings.
 *
 * - With a cumulative counter (NVML/DCGM total energy, the reference backend's energy counter): energy is the
 *   sum of the counter's increases. A decrease means the counter was reset (driver reload, exporter restart):
 *   it starts a new segment, and the reading after the reset counts as energy since the reset.
 * - Without one: the trapezoid rule over (t, watts) pairs. A gap (a failed reading) breaks the segment: nothing
 *   is integrated across it.
 *
 * `joules` is the run-relative cumulative energy (0 at the first reading), the value written to
 * `power_samples.energy_j`.
 */
export type EnergyMethod = 'counter' | 'trapezoid';

export class EnergyAccumulator {
  joules = 0;
  resets = 0;
  gaps = 0;
  private lastCounter: number | undefined;
  private lastT: number | undefined;
  private lastW: number | null = null;
  private usedCounter = false;
  private usedTrapezoid = false;

  /** Add one reading at `t` seconds; `counterJ` is the source's cumulative counter in joules, when it has one. Returns `joules`. */
  add(t: number, watts: number | null, counterJ?: number | null): number {
    if (counterJ !== undefined && counterJ !== null && Number.isFinite(counterJ)) {
      this.usedCounter = true;
      if (this.lastCounter !== undefined) {
        if (counterJ >= this.lastCounter) this.joules += counterJ - this.lastCounter;
        else {
          this.resets++;
          this.joules += Math.max(0, counterJ);
        }
      }
      this.lastCounter = counterJ;
    } else if (watts !== null && Number.isFinite(watts)) {
      if (this.lastT !== undefined && this.lastW !== null && t > this.lastT) {
        this.usedTrapezoid = true;
        this.joules += ((this.lastW + watts) / 2) * (t - this.lastT);
      }
    }
    if (watts === null || !Number.isFinite(watts)) this.gaps++;
    this.lastT = t;
    this.lastW = watts !== null && Number.isFinite(watts) ? watts : null;
    return this.joules;
  }

  /** Mark a gap (the source failed): the trapezoid rule does not bridge it; a counter keeps its last value. */
  gap(t: number): number {
    this.gaps++;
    this.lastT = t;
    this.lastW = null;
    return this.joules;
  }

  get method(): EnergyMethod | 'none' {
    if (this.usedCounter) return 'counter';
    if (this.usedTrapezoid) return 'trapezoid';
    return 'none';
  }
}
