// A fake Folio server for the client's unit tests: tickets over fetch, and
// WebSocket / EventSource stand-ins the test drives by hand. It speaks the
// same messages as api/events.go; the real server is exercised by make e2e.
import { createClient } from "../src/index.js";
import type { ClientOptions, FolioClient } from "../src/index.js";

export class FakeWebSocket {
  static all: FakeWebSocket[] = [];
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  closedByClient: number | undefined;
  readonly url: URL;

  constructor(url: string) {
    this.url = new URL(url);
    FakeWebSocket.all.push(this);
  }
  close(code = 1000): void {
    this.closedByClient = code;
  }
  // The server's side:
  open(): void {
    this.onopen?.(new Event("open"));
  }
  send(msg: unknown): void {
    this.onmessage?.(new MessageEvent("message", { data: JSON.stringify(msg) }));
  }
  serverClose(code: number, reason = ""): void {
    this.onclose?.({ code, reason } as CloseEvent);
  }
  refuse(): void {
    this.onerror?.(new Event("error"));
    this.onclose?.({ code: 1006, reason: "" } as CloseEvent);
  }
}

export class FakeEventSource {
  static all: FakeEventSource[] = [];
  onopen: ((ev: Event) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  closed = false;
  readonly url: URL;
  private listeners = new Map<string, ((ev: MessageEvent) => void)[]>();

  constructor(url: string) {
    this.url = new URL(url);
    FakeEventSource.all.push(this);
  }
  addEventListener(type: string, fn: (ev: MessageEvent) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  close(): void {
    this.closed = true;
  }
  // The server's side:
  open(): void {
    this.onopen?.(new Event("open"));
  }
  emit(type: string, msg: unknown): void {
    for (const fn of this.listeners.get(type) ?? []) fn(new MessageEvent(type, { data: JSON.stringify(msg) }));
  }
  fail(): void {
    this.onerror?.(new Event("error"));
  }
}

export interface FakeServer {
  client: FolioClient;
  tickets: string[];
  /** The status POST /v1/events/tickets answers with next (201 by default). */
  ticketStatus: number;
  /** Documents GET /v1/documents/{id} answers 404 for (deleted). */
  gone: Set<string>;
  requests: { method: string; url: URL; auth: string | null }[];
}

export function fakeServer(opts: Partial<ClientOptions> = {}): FakeServer {
  FakeWebSocket.all = [];
  FakeEventSource.all = [];
  const server: FakeServer = { client: undefined as unknown as FolioClient, tickets: [], ticketStatus: 201, gone: new Set(), requests: [] };
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const headers = new Headers(init?.headers);
    server.requests.push({ method: init?.method ?? "GET", url, auth: headers.get("Authorization") });
    if (url.pathname === "/v1/events/tickets") {
      if (server.ticketStatus !== 201) {
        const code = server.ticketStatus === 401 ? "unauthorized" : "database_unavailable";
        return new Response(JSON.stringify({ type: "urn:folio:problem:" + code, title: "x", status: server.ticketStatus, code, detail: code }), {
          status: server.ticketStatus,
          headers: { "Content-Type": "application/problem+json" },
        });
      }
      const ticket = `t${server.tickets.length + 1}`;
      server.tickets.push(ticket);
      return Response.json({ ticket, expires_at: new Date().toISOString() }, { status: 201 });
    }
    const one = /^\/v1\/documents\/([^/]+)$/.exec(url.pathname);
    if (one && !server.gone.has(one[1]!)) return Response.json(doc(one[1]!));
    const problem = { type: "urn:folio:problem:not_found", title: "Not Found", status: 404, code: "not_found", detail: "No such document." };
    return new Response(JSON.stringify(problem), { status: 404, headers: { "Content-Type": "application/problem+json" } });
  };
  server.client = createClient({
    baseUrl: "http://folio.test",
    token: "tok",
    fetch,
    WebSocket: FakeWebSocket as unknown as typeof WebSocket,
    EventSource: FakeEventSource as unknown as typeof EventSource,
    random: () => 0.5,
    ...opts,
  });
  return server;
}

export const doc = (id: string, over: Record<string, unknown> = {}) => ({
  id,
  filename: `${id}.pdf`,
  status: "queued" as const,
  size_bytes: 1000,
  sha256: "0".repeat(64),
  page_count: null,
  pages_done: 0,
  pages_rendered: 0,
  created_at: "2026-11-21T10:00:00Z",
  updated_at: "2026-11-21T10:00:00Z",
  ...over,
});

export const event = (documentId: string, seq: number, type: string, data: unknown, pos = seq) => ({
  pos,
  document_id: documentId,
  seq,
  type,
  data,
  created_at: "2026-11-21T10:00:01Z",
});
