import { FolioError, isPermanent } from "./errors.js";
import { eventTypes } from "./types.js";
import type { DocumentSnapshot, DocumentsSnapshot, FolioEvent } from "./types.js";

/** What a stream delivers: a snapshot first (again after a truncated replay), then events, each once, in order. */
export type StreamMessage = DocumentSnapshot | DocumentsSnapshot | FolioEvent;

export type Transport = "websocket" | "sse";

export interface StreamStatus {
  /** connecting: first attempt; open: receiving; reconnecting: waiting or retrying; closed: stopped (by close(), or an error retrying cannot fix). */
  state: "connecting" | "open" | "reconnecting" | "closed";
  transport?: Transport;
  /** Failed attempts since the last open connection. */
  attempt: number;
  /** The last failure; set with state "closed" when the stream gave up. */
  error?: FolioError;
}

export interface Backoff {
  /** First retry delay ceiling in ms (default 500). */
  initialMs: number;
  /** Largest delay in ms (default 15000). */
  maxMs: number;
}

/** A live stream; close() stops it for good. */
export interface Subscription {
  close(): void;
}

/** What a stream needs from the client. */
export interface StreamDeps {
  baseUrl: string;
  ticket(): Promise<string>;
  WebSocket: typeof WebSocket | undefined;
  EventSource: typeof EventSource | undefined;
  backoff: Backoff;
  random: () => number;
  /** How long a connection may take to open before it counts as failed. */
  connectTimeoutMs: number;
}

export interface WatchOptions {
  /** Connection changes: reconnects, transport, a fatal error. */
  onStatus?: (status: StreamStatus) => void;
  /** Start after this seq (one document) or pos (all documents) instead of with a snapshot. */
  after?: number;
}

// Close codes the server sends when the client should come back at once:
// 1012 service restart (a rolling deploy), 1013 try again later (too slow),
// 4001 the token the stream was opened with expired (the reconnect asks
// for a new ticket with the current token).
const RECONNECT_NOW = new Set([1012, 1013, 4001]);

/**
 * A stream that reconnects with backoff and jitter, resumes after the last
 * seq/pos it delivered (so an event is never shown twice, and none is
 * skipped), and falls back to SSE when websockets fail to connect.
 */
export class ResumingStream implements Subscription {
  private last: number | undefined;
  private transport: Transport;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopCurrent: (() => void) | undefined;
  private stopped = false;
  private generation = 0;

  constructor(
    private readonly deps: StreamDeps,
    private readonly path: string,
    private readonly cursor: "seq" | "pos",
    private readonly onMessage: (msg: StreamMessage) => void,
    private readonly opts: WatchOptions = {},
    /** Asked after a connection fails before it opens (a browser does not say why): a refusal that retrying cannot fix (404: the document is gone) ends the stream. */
    private readonly probe?: () => Promise<unknown>,
  ) {
    this.last = opts.after;
    this.transport = deps.WebSocket ? "websocket" : "sse";
    this.status({ state: "connecting", attempt: 0 });
    void this.connect();
  }

  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopCurrent?.();
    this.status({ state: "closed", attempt: this.attempt });
  }

  private status(s: StreamStatus): void {
    this.opts.onStatus?.(s);
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    let ticket: string;
    try {
      ticket = await this.deps.ticket();
    } catch (err) {
      if (this.stopped || gen !== this.generation) return;
      const e = err instanceof FolioError ? err : FolioError.network(String(err));
      if (isPermanent(e)) {
        this.end(e);
        return;
      }
      this.retry(false, e);
      return;
    }
    if (this.stopped || gen !== this.generation) return;

    const url = new URL(this.path, this.deps.baseUrl);
    url.searchParams.set("ticket", ticket);
    if (this.last !== undefined) url.searchParams.set("after", String(this.last));
    if (this.transport === "websocket" && this.deps.WebSocket) {
      this.openWebSocket(url, gen);
    } else if (this.deps.EventSource) {
      this.transport = "sse";
      this.openEventSource(url, gen);
    } else {
      this.end(FolioError.network("Neither WebSocket nor EventSource is available."));
    }
  }

  private openWebSocket(url: URL, gen: number): void {
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const WS = this.deps.WebSocket!;
    let ws: WebSocket;
    try {
      ws = new WS(url.toString());
    } catch {
      this.transport = "sse";
      this.retry(true, FolioError.network("WebSocket refused; using SSE."));
      return;
    }
    let opened = false;
    let done = false;
    // Some failures never fire an event (a CSP block, a proxy that holds the upgrade): give up on a timer.
    const timeout = setTimeout(() => {
      if (opened || done) return;
      ws.close();
      finish(false, FolioError.network("The websocket did not open in time."));
    }, this.deps.connectTimeoutMs);
    const finish = (now: boolean, err: FolioError) => {
      if (done || gen !== this.generation) return;
      done = true;
      clearTimeout(timeout);
      this.stopCurrent = undefined;
      this.failed(opened, now, err);
    };
    this.stopCurrent = () => {
      done = true;
      clearTimeout(timeout);
      ws.close(1000, "client closed");
    };
    ws.onopen = () => {
      if (gen !== this.generation) return;
      opened = true;
      clearTimeout(timeout);
      this.opened();
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (done || typeof ev.data !== "string") return;
      if (!this.receive(ev.data)) {
        done = true;
        clearTimeout(timeout);
        ws.close(1000, "resuming");
        this.stopCurrent = undefined;
        this.retry(true, FolioError.network("A gap in the stream; resuming."));
      }
    };
    ws.onclose = (ev: CloseEvent) => {
      finish(RECONNECT_NOW.has(ev.code), FolioError.network(`The stream closed (${ev.code}${ev.reason ? ": " + ev.reason : ""}).`));
    };
    // An error is always followed by close; nothing to do on its own.
    ws.onerror = () => undefined;
  }

  private openEventSource(url: URL, gen: number): void {
    const ES = this.deps.EventSource!;
    const es = new ES(url.toString());
    let opened = false;
    let done = false;
    const stop = () => {
      done = true;
      clearTimeout(timeout);
      es.close();
      this.stopCurrent = undefined;
    };
    const timeout = setTimeout(() => {
      if (opened || done) return;
      stop();
      this.failed(false, false, FolioError.network("The event stream did not open in time."));
    }, this.deps.connectTimeoutMs);
    this.stopCurrent = stop;
    const onData = (ev: MessageEvent) => {
      if (done || gen !== this.generation) return;
      if (!this.receive(String(ev.data))) {
        stop();
        this.retry(true, FolioError.network("A gap in the stream; resuming."));
      }
    };
    es.onopen = () => {
      if (gen !== this.generation) return;
      opened = true;
      clearTimeout(timeout);
      this.opened();
    };
    for (const t of ["snapshot", ...eventTypes, "message"]) es.addEventListener(t, onData as EventListener);
    // The server says it is going away (a restart, or this client is too slow): come back at once.
    es.addEventListener("reconnect", () => {
      if (done) return;
      stop();
      this.retry(true, FolioError.network("The server asked to reconnect."));
    });
    // EventSource would reconnect on its own with the used ticket; do it here instead.
    es.onerror = () => {
      if (done || gen !== this.generation) return;
      stop();
      this.failed(opened, false, FolioError.network("The event stream failed."));
    };
  }

  private opened(): void {
    this.attempt = 0;
    this.status({ state: "open", transport: this.transport, attempt: 0 });
  }

  /** Delivers one message; false when it reveals a gap (resume instead). */
  private receive(text: string): boolean {
    let msg: StreamMessage;
    try {
      msg = JSON.parse(text) as StreamMessage;
    } catch {
      return true; // not ours to understand; keep the stream
    }
    if (msg.type === "snapshot") {
      this.last = "seq" in msg ? msg.seq : msg.pos;
      this.onMessage(msg);
      return true;
    }
    const at = this.cursor === "seq" ? msg.seq : msg.pos;
    if (this.last !== undefined && at <= this.last) return true; // seen already
    // A document's seq has no gaps: a jump means something was missed,
    // unless the server says it skipped progress that this event replaces.
    const replaces = msg.type === "parse.progress" && msg.coalesced === true;
    if (this.cursor === "seq" && this.last !== undefined && at > this.last + 1 && !replaces) return false;
    this.last = at;
    this.onMessage(msg);
    // A deleted document has nothing more to say, and its stream would now be refused.
    if (this.cursor === "seq" && msg.type === "document.deleted") this.close();
    return true;
  }

  /** Stops for good with an error retrying cannot fix. */
  private end(error: FolioError): void {
    this.stopped = true;
    this.status({ state: "closed", attempt: this.attempt, error });
  }

  /**
   * A connection ended. One that had opened is resumed; one that never
   * opened did not get through on this transport, so the next attempt uses
   * the other one (websocket ⇄ SSE), unless the probe says it is refused.
   */
  private failed(opened: boolean, now: boolean, error: FolioError): void {
    if (opened) {
      this.retry(now, error);
      return;
    }
    if (this.transport === "websocket" && this.deps.EventSource) this.transport = "sse";
    else if (this.transport === "sse" && this.deps.WebSocket) this.transport = "websocket";
    void this.retryUnlessRefused(error);
  }

  private async retryUnlessRefused(error: FolioError): Promise<void> {
    const gen = this.generation;
    if (this.probe) {
      try {
        await this.probe();
      } catch (err) {
        if (this.stopped || gen !== this.generation) return;
        if (isPermanent(err)) {
          this.end(err as FolioError);
          return;
        }
      }
    }
    if (this.stopped || gen !== this.generation) return;
    this.retry(false, error);
  }

  private retry(now: boolean, error: FolioError): void {
    if (this.stopped) return;
    this.generation++;
    this.attempt++;
    const { initialMs, maxMs } = this.deps.backoff;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(this.attempt - 1, 16));
    // "Equal jitter": at least half the ceiling, so a herd spreads out but nobody hammers.
    // Told to come back (1012/1013, a gap): at once, unless that just failed too.
    const delay = now && this.attempt <= 1 ? 0 : ceiling / 2 + this.deps.random() * (ceiling / 2);
    this.status({ state: "reconnecting", transport: this.transport, attempt: this.attempt, error });
    this.timer = setTimeout(() => void this.connect(), delay);
  }
}
