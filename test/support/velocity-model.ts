import {
  type AdmissionPlan,
  planAdmission,
  type VelocityLimits,
  type VelocityWindow,
} from '../../shared/domain/velocity';

/** One admission the model made, as the slot the real service would return. */
export interface ModelSlot {
  readonly windowStartMs: number;
  readonly amount: bigint;
  released: boolean;
}

/**
 * The reference model of one account's velocity item: a window, admitted into by
 * `planAdmission` one request at a time and given back to by `release`, exactly what the store's
 * conditional writes do atomically. Tests drive it beside the real service and compare answers.
 */
export class VelocityModel {
  public window: VelocityWindow | undefined;
  public readonly slots: ModelSlot[] = [];

  public constructor(public limits: VelocityLimits) {}

  /** Admits a transfer of `amount` at `nowMs`, or says why not. */
  public admit(amount: bigint, nowMs: number): AdmissionPlan & { readonly slot?: ModelSlot } {
    const plan = planAdmission(this.window, this.limits, amount, nowMs);
    if (plan.kind === 'exceeded') return plan;
    this.window =
      plan.kind === 'open_window' || this.window === undefined
        ? { startMs: nowMs, transferCount: 1, amountTotal: amount }
        : {
            startMs: this.window.startMs,
            transferCount: this.window.transferCount + 1,
            amountTotal: this.window.amountTotal + amount,
          };
    const slot: ModelSlot = { windowStartMs: this.window.startMs, amount, released: false };
    this.slots.push(slot);
    return { ...plan, slot };
  }

  /** Gives a slot back, if its window is still the last one (as the store's condition does). */
  public release(slot: ModelSlot): void {
    if (slot.released || this.window === undefined || this.window.startMs !== slot.windowStartMs) return;
    slot.released = true;
    this.window = {
      startMs: this.window.startMs,
      transferCount: this.window.transferCount - 1,
      amountTotal: this.window.amountTotal - slot.amount,
    };
  }

  /** Gives back the slot of the admission `back` admissions ago, if there is one. */
  public releaseAgo(back: number): void {
    const slot = this.slots[this.slots.length - 1 - back];
    if (slot !== undefined) this.release(slot);
  }

  /** What each window (by its start) holds: its admissions not given back. */
  public countedPerWindow(): Map<number, { transferCount: number; amountTotal: bigint }> {
    const windows = new Map<number, { transferCount: number; amountTotal: bigint }>();
    for (const slot of this.slots) {
      if (slot.released) continue;
      const held = windows.get(slot.windowStartMs) ?? { transferCount: 0, amountTotal: 0n };
      held.transferCount += 1;
      held.amountTotal += slot.amount;
      windows.set(slot.windowStartMs, held);
    }
    return windows;
  }
}
