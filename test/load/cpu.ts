/**
 * CPU time of the local runtime's processes, read from /proc, so a load run can say where each
 * accepted transfer's time went: the runtime's Node process (front door, handlers, pollers),
 * each moto process, Postgres (the postmaster and its backends), and the load driver itself.
 * Linux only; elsewhere, or for a runtime on another machine, there is nothing to read.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds per process group, by label. */
export type CpuSample = ReadonlyMap<string, number>;

let clockTicksPerS: number | undefined;

function ticksPerS(): number {
  if (clockTicksPerS === undefined) {
    try {
      clockTicksPerS = Number.parseInt(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim(), 10);
    } catch {
      clockTicksPerS = 100;
    }
  }
  return clockTicksPerS;
}

interface ProcessStat {
  readonly pid: number;
  readonly parentPid: number;
  readonly name: string;
  /**
   * User plus system CPU time of the process (all its threads) and of its children that ended
   * and were waited for, in clock ticks: a Postgres backend that exits mid-run moves its time
   * to the postmaster, instead of vanishing from the sum.
   */
  readonly cpuTicks: number;
}

function readStat(pid: number): ProcessStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The name is in parentheses and may hold spaces; the fields after it are space-separated.
    const close = text.lastIndexOf(')');
    const name = text.slice(text.indexOf('(') + 1, close);
    const fields = text.slice(close + 2).split(' ');
    // After the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
    return {
      pid,
      parentPid: Number.parseInt(fields[1] ?? '0', 10),
      name,
      cpuTicks: [11, 12, 13, 14].reduce((sum, field) => sum + Number.parseInt(fields[field] ?? '0', 10), 0),
    };
  } catch {
    return undefined;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** What a process is, for the report: moto processes say which services they serve. */
function labelOf(stat: ProcessStat, rootPid: number): string {
  if (stat.name.startsWith('postgres')) return 'postgres';
  const command = commandLine(stat.pid);
  if (command.includes('moto')) {
    const label = /--label (\S+)/.exec(command);
    return label === null ? 'moto' : `moto (${label[1]})`;
  }
  if (stat.pid === rootPid) return 'node (runtime)';
  return stat.name;
}

/**
 * CPU seconds so far of `rootPid` and every process below it, summed per label, plus the calling
 * process as `load driver`. Undefined when /proc cannot be read or the process is gone.
 */
export function sampleCpu(rootPid: number | undefined): CpuSample | undefined {
  const sample = new Map<string, number>();
  const own = process.cpuUsage();
  sample.set('load driver', (own.user + own.system) / 1e6);
  if (rootPid === undefined) return sample;
  let stats: ProcessStat[];
  try {
    stats = readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .map((entry) => readStat(Number.parseInt(entry, 10)))
      .filter((stat): stat is ProcessStat => stat !== undefined);
  } catch {
    return sample;
  }
  const children = new Map<number, ProcessStat[]>();
  for (const stat of stats) {
    const list = children.get(stat.parentPid) ?? [];
    list.push(stat);
    children.set(stat.parentPid, list);
  }
  const root = stats.find((stat) => stat.pid === rootPid);
  if (root === undefined) return undefined;
  const pending = [root];
  while (pending.length > 0) {
    const stat = pending.pop() as ProcessStat;
    const label = labelOf(stat, rootPid);
    sample.set(label, (sample.get(label) ?? 0) + stat.cpuTicks / ticksPerS());
    pending.push(...(children.get(stat.pid) ?? []));
  }
  return sample;
}

/** CPU seconds spent between two samples, per label. */
export function cpuBetween(before: CpuSample, after: CpuSample): Map<string, number> {
  const spent = new Map<string, number>();
  for (const [label, seconds] of after) spent.set(label, seconds - (before.get(label) ?? 0));
  return spent;
}
