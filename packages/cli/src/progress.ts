import cliProgress from "cli-progress";

function formatRate(rate: number): string {
  return rate >= 1000 ? `${Math.round(rate).toLocaleString("en-US")}` : rate.toFixed(rate >= 10 ? 0 : 1);
}

function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, "0")}s`;
}

interface Track {
  started: number;
  total: number;
  done: number;
  lastLine: number;
  bar?: cliProgress.SingleBar;
  finished: boolean;
  /** "rows", or "%" for a scan whose progress is DuckDB's estimate. */
  unit: "rows" | "%";
}

function detail(track: Track, rate: number): string {
  if (track.unit === "%") return "scanning";
  return `${track.done.toLocaleString("en-US")}/${track.total.toLocaleString("en-US")} rows | ${formatRate(rate)} rows/s`;
}

/**
 * Progress of tables being copied: bars (rows, rate, ETA) with cli-progress on a terminal, plain lines
 * (start, every few seconds, end) otherwise. Always on stderr, so `--json` output on stdout stays clean.
 */
export class TableProgress {
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private multi: cliProgress.MultiBar | undefined;
  private readonly tracks = new Map<string, Track>();

  constructor(
    private readonly enabled = true,
    stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.stream = stream;
    this.tty = Boolean(stream.isTTY) && process.env.TERM !== "dumb";
  }

  private line(text: string): void {
    if (!this.enabled) return;
    if (this.multi) this.multi.log(`${text}\n`);
    else this.stream.write(`${text}\n`);
  }

  /** Rows done of a table; `rate` and `eta` are computed when not given. */
  update(key: string, label: string, done: number, total: number, rate?: number, etaSeconds?: number | null, unit: Track["unit"] = "rows"): void {
    if (!this.enabled) return;
    const now = performance.now();
    let track = this.tracks.get(key);
    if (!track) {
      track = { started: now, total, done: 0, lastLine: now, finished: false, unit };
      this.tracks.set(key, track);
      if (this.tty) {
        this.multi ??= new cliProgress.MultiBar(
          {
            stream: this.stream,
            format: " {label} |{bar}| {percentage}% | {detail} | ETA {etaText}",
            barsize: 24,
            hideCursor: true,
            clearOnComplete: false,
            stopOnComplete: false,
            autopadding: true,
          },
          cliProgress.Presets.shades_classic,
        );
        track.bar = this.multi.create(Math.max(total, 1), 0, { label, detail: unit === "%" ? "scanning" : "", etaText: "?" });
      } else {
        this.line(unit === "%" ? `${label}: started` : `${label}: started (${total.toLocaleString("en-US")} rows)`);
      }
    }
    if (track.finished) return;
    track.total = Math.max(total, done);
    track.done = done;
    const seconds = (now - track.started) / 1000;
    const r = rate && rate > 0 ? rate : seconds > 0 ? done / seconds : 0;
    const eta = etaSeconds !== undefined ? etaSeconds : r > 0 ? (track.total - done) / r : null;
    if (track.bar) {
      track.bar.setTotal(Math.max(track.total, 1));
      track.bar.update(done, { label, detail: detail(track, r), etaText: formatEta(eta) });
    } else if (now - track.lastLine >= 2000 && done < track.total) {
      track.lastLine = now;
      const what = track.unit === "%" ? `${Math.floor(done)}% scanned` : `${done.toLocaleString("en-US")}/${track.total.toLocaleString("en-US")} rows, ${formatRate(r)} rows/s`;
      this.line(`${label}: ${what}, ETA ${formatEta(eta)}`);
    }
  }

  /** A scan of a file, 0–100 as DuckDB estimates it (a negative estimate is ignored). */
  percent(key: string, label: string, percent: number): void {
    if (percent >= 0) this.update(key, label, Math.min(percent, 100), 100, undefined, undefined, "%");
  }

  /** A table is complete. */
  finish(key: string, label: string, rows: number): void {
    if (!this.enabled) return;
    const track = this.tracks.get(key);
    if (!track) this.update(key, label, rows, rows);
    const t = this.tracks.get(key) as Track;
    if (t.finished) return;
    t.finished = true;
    const seconds = (performance.now() - t.started) / 1000;
    const rate = seconds > 0 ? rows / seconds : rows;
    if (t.unit === "%") {
      t.done = 100;
      if (t.bar) t.bar.update(100, { label, detail: `${rows.toLocaleString("en-US")} rows`, etaText: "0s" });
      else this.line(`${label}: done, ${rows.toLocaleString("en-US")} rows in ${seconds.toFixed(2)} s (${formatRate(rate)} rows/s)`);
      return;
    }
    t.done = rows;
    t.total = rows;
    if (t.bar) {
      t.bar.setTotal(Math.max(rows, 1));
      t.bar.update(Math.max(rows, 1), { label, detail: detail(t, rate), etaText: "0s" });
    } else this.line(`${label}: done, ${rows.toLocaleString("en-US")} rows in ${seconds.toFixed(2)} s (${formatRate(rate)} rows/s)`);
  }

  /** A message between the bars. */
  note(text: string): void {
    this.line(text);
  }

  stop(): void {
    this.multi?.stop();
    this.multi = undefined;
  }
}
