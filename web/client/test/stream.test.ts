import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { StreamMessage, StreamStatus } from "../src/index.js";
import { FakeEventSource, FakeWebSocket, doc, event, fakeServer } from "./fakes.js";

const D = "11111111-1111-4111-8111-111111111111";

/** Lets the ticket request (a promise) settle, and timers due by `ms` run. */
const tick = (ms = 0) => vi.advanceTimersByTimeAsync(ms);

function watchOne(after?: number) {
  const server = fakeServer();
  const got: StreamMessage[] = [];
  const statuses: StreamStatus[] = [];
  const sub = server.client.watchDocument(D, (m) => got.push(m), {
    onStatus: (s) => statuses.push(s),
    ...(after !== undefined ? { after } : {}),
  });
  const seqs = () => got.map((m) => (m.type === "snapshot" ? `snap@${"seq" in m ? m.seq : m.pos}` : m.seq));
  return { server, got, statuses, sub, seqs };
}

const ws = (i: number) => FakeWebSocket.all[i]!;
const es = (i: number) => FakeEventSource.all[i]!;

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("watchDocument", () => {
  it("connects with a fresh ticket, delivers the snapshot then each event once", async () => {
    const { server, seqs, statuses } = watchOne();
    await tick();
    expect(FakeWebSocket.all).toHaveLength(1);
    expect(ws(0).url.toString()).toBe(`ws://folio.test/v1/documents/${D}/events?ticket=t1`);
    expect(server.requests[0]).toMatchObject({ method: "POST", auth: "Bearer tok" });
    ws(0).open();
    expect(statuses.at(-1)).toMatchObject({ state: "open", transport: "websocket" });
    ws(0).send({ type: "snapshot", document: doc(D), seq: 2 });
    ws(0).send(event(D, 3, "parse.started", { attempt: 1, resume_at_page: 1 }));
    ws(0).send(event(D, 3, "parse.started", { attempt: 1, resume_at_page: 1 })); // a duplicate
    ws(0).send(event(D, 2, "document.queued", {})); // older than the snapshot
    expect(seqs()).toEqual(["snap@2", 3]);
  });

  it("reconnects at once on 1012 and 1013, resuming after the last seq", async () => {
    const { seqs, server } = watchOne();
    await tick();
    ws(0).open();
    ws(0).send({ type: "snapshot", document: doc(D), seq: 1 });
    ws(0).send(event(D, 2, "parse.started", {}));
    ws(0).serverClose(1012, "server restarting");
    await tick();
    expect(FakeWebSocket.all).toHaveLength(2);
    expect(ws(1).url.searchParams.get("after")).toBe("2");
    expect(ws(1).url.searchParams.get("ticket")).toBe("t2"); // tickets are single-use
    ws(1).open();
    ws(1).send(event(D, 2, "parse.started", {})); // the server may overlap; shown once
    ws(1).send(event(D, 3, "parse.progress", { stage: "extracting", pages_done: 5, pages_total: 10 }));
    ws(1).serverClose(1013, "too slow");
    await tick();
    expect(ws(2).url.searchParams.get("after")).toBe("3");
    ws(2).open();
    ws(2).send(event(D, 4, "document.done", { page_count: 10 }));
    expect(seqs()).toEqual(["snap@1", 2, 3, 4]);
    expect(server.tickets).toEqual(["t1", "t2", "t3"]);
  });

  it("backs off with jitter when the connection drops, and starts over once connected", async () => {
    const random = vi.fn(() => 0.5);
    const server = fakeServer({ random, backoff: { initialMs: 1000, maxMs: 8000 } });
    server.client.watchDocument(D, () => undefined);
    await tick();
    ws(0).open();
    ws(0).serverClose(1006);
    // attempt 1: ceiling 1000 ms, delay 500 + 0.5 × 500 = 750 ms
    await tick(749);
    expect(FakeWebSocket.all).toHaveLength(1);
    await tick(1);
    expect(FakeWebSocket.all).toHaveLength(2);
    expect(random).toHaveBeenCalled();

    // The server is down: tickets fail; each wait doubles up to the ceiling.
    ws(1).open();
    server.ticketStatus = 503;
    ws(1).serverClose(1006);
    const gaps: number[] = [];
    let last = Date.now();
    for (let i = 0; i < 5; i++) {
      const before = server.requests.length;
      while (server.requests.length === before) await tick(50);
      gaps.push(Date.now() - last);
      last = Date.now();
    }
    // 750 (attempt 1) then 1500, 3000, 6000, 6000 (ceiling 8000 → 4000..8000, at 0.5: 6000), rounded up to the 50 ms steps
    expect(gaps).toEqual([750, 1500, 3000, 6000, 6000]);

    server.ticketStatus = 201;
    while (FakeWebSocket.all.length < 3) await tick(50);
    ws(2).open(); // connected: the next drop waits 750 ms again
    ws(2).serverClose(1006);
    await tick(749);
    expect(FakeWebSocket.all).toHaveLength(3);
    await tick(1);
    expect(FakeWebSocket.all).toHaveLength(4);
  });

  it("spreads reconnects of many clients with jitter", async () => {
    const delays = new Set<number>();
    for (const r of [0, 0.25, 0.75, 0.99]) {
      const server = fakeServer({ random: () => r, backoff: { initialMs: 1000, maxMs: 1000 } });
      server.client.watchDocument(D, () => undefined);
      await tick();
      ws(0).open();
      ws(0).serverClose(1006);
      let waited = 0;
      while (FakeWebSocket.all.length < 2) {
        await tick(10);
        waited += 10;
      }
      delays.add(waited);
    }
    expect([...delays].sort((a, b) => a - b)).toEqual([500, 630, 880, 1000]);
  });

  it("resumes instead of skipping when a seq is missing", async () => {
    const { seqs } = watchOne();
    await tick();
    ws(0).open();
    ws(0).send({ type: "snapshot", document: doc(D), seq: 1 });
    ws(0).send(event(D, 3, "parse.progress", {})); // 2 never came
    expect(ws(0).closedByClient).toBe(1000);
    await tick();
    expect(ws(1).url.searchParams.get("after")).toBe("1");
    ws(1).open();
    ws(1).send(event(D, 2, "parse.started", {}));
    ws(1).send(event(D, 3, "parse.progress", {}));
    expect(seqs()).toEqual(["snap@1", 2, 3]);
  });

  it("accepts a jump onto a progress event that says it replaces the skipped progress", async () => {
    const { seqs } = watchOne();
    await tick();
    ws(0).open();
    ws(0).send({ type: "snapshot", document: doc(D), seq: 1 });
    ws(0).send(event(D, 2, "parse.started", {}));
    ws(0).send({ ...event(D, 9, "parse.progress", {}), coalesced: true }); // 3-8: older progress
    ws(0).send(event(D, 10, "document.done", {}));
    expect(seqs()).toEqual(["snap@1", 2, 9, 10]);
    expect(FakeWebSocket.all).toHaveLength(1);
    ws(0).send({ ...event(D, 12, "document.failed", {}), coalesced: true }); // only progress may jump
    expect(ws(0).closedByClient).toBe(1000);
  });

  it("falls back to SSE when websockets cannot connect, and resumes there", async () => {
    const { seqs, statuses } = watchOne();
    await tick();
    ws(0).open();
    ws(0).send({ type: "snapshot", document: doc(D), seq: 4 });
    ws(0).serverClose(1006);
    await tick(10_000);
    ws(1).refuse(); // a proxy that does not pass websockets
    await tick(10_000);
    expect(FakeWebSocket.all).toHaveLength(2);
    expect(FakeEventSource.all).toHaveLength(1);
    expect(es(0).url.toString()).toBe(`http://folio.test/v1/documents/${D}/events?ticket=t3&after=4`);
    es(0).open();
    expect(statuses.at(-1)).toMatchObject({ state: "open", transport: "sse" });
    es(0).emit("parse.started", event(D, 5, "parse.started", {}));
    es(0).emit("parse.progress", event(D, 6, "parse.progress", {}));
    // The server restarts: SSE streams get "reconnect" and end.
    es(0).emit("reconnect", "server restarting");
    expect(es(0).closed).toBe(true);
    await tick();
    expect(FakeEventSource.all).toHaveLength(2);
    expect(es(1).url.searchParams.get("after")).toBe("6");
    es(1).open();
    es(1).emit("document.done", event(D, 7, "document.done", { page_count: 3 }));
    // An error closes it at once (EventSource would retry with the used ticket) and resumes.
    es(1).fail();
    expect(es(1).closed).toBe(true);
    await tick(10_000);
    expect(es(2).url.searchParams.get("after")).toBe("7");
    expect(seqs()).toEqual(["snap@4", 5, 6, 7]);
  });

  it("gives up on a websocket that neither opens nor fails (a CSP block, a stuck proxy) and uses SSE", async () => {
    const { statuses } = watchOne();
    await tick();
    expect(FakeWebSocket.all).toHaveLength(1);
    await tick(9_999);
    expect(FakeEventSource.all).toHaveLength(0);
    await tick(1); // 10 s: the connect timeout
    expect(ws(0).closedByClient).toBeDefined();
    await tick(); // the document is still there (the probe)
    expect(statuses.at(-1)).toMatchObject({ state: "reconnecting", transport: "sse" });
    await tick(1_000);
    expect(FakeEventSource.all).toHaveLength(1);
    es(0).open();
    expect(statuses.at(-1)).toMatchObject({ state: "open", transport: "sse" });
    await tick(60_000); // an open stream has no timeout
    expect(es(0).closed).toBe(false);
  });

  it("takes a fresh snapshot when the server could not replay that far", async () => {
    const { got, seqs } = watchOne(2);
    await tick();
    expect(ws(0).url.searchParams.get("after")).toBe("2");
    ws(0).open();
    ws(0).send({ type: "snapshot", document: doc(D, { status: "done" }), seq: 40, replay_truncated: true });
    ws(0).send(event(D, 41, "document.queued", { reparse: true }));
    expect(seqs()).toEqual(["snap@40", 41]);
    expect(got[0]).toMatchObject({ replay_truncated: true });
  });

  it("stops after the document's deletion: nothing more will come", async () => {
    const { seqs, statuses, server } = watchOne();
    await tick();
    ws(0).open();
    ws(0).send({ type: "snapshot", document: doc(D), seq: 1 });
    ws(0).send(event(D, 2, "document.deleted", null));
    expect(seqs()).toEqual(["snap@1", 2]);
    expect(ws(0).closedByClient).toBe(1000);
    expect(statuses.at(-1)).toMatchObject({ state: "closed" });
    await tick(60_000);
    expect(FakeWebSocket.all).toHaveLength(1);
    expect(server.tickets).toHaveLength(1);
  });

  it("stops with not_found when a connection fails and the document is gone", async () => {
    const { statuses, server } = watchOne(5);
    await tick();
    server.gone.add(D); // deleted while this client was away: the server refuses the upgrade with 404
    ws(0).refuse();
    await tick(60_000);
    expect(statuses.at(-1)).toMatchObject({ state: "closed", error: { status: 404, code: "not_found" } });
    expect(FakeWebSocket.all).toHaveLength(1);
    expect(FakeEventSource.all).toHaveLength(0);
  });

  it("stops for good with an error when the token is refused", async () => {
    const { server, statuses } = watchOne();
    server.ticketStatus = 401;
    await tick();
    await tick(60_000);
    expect(FakeWebSocket.all).toHaveLength(0);
    expect(server.requests).toHaveLength(1);
    expect(statuses.at(-1)).toMatchObject({ state: "closed", error: { status: 401, code: "unauthorized" } });
  });

  it("close() ends the stream and every retry", async () => {
    const { sub, statuses } = watchOne();
    await tick();
    ws(0).open();
    ws(0).serverClose(1006);
    sub.close();
    await tick(60_000);
    expect(FakeWebSocket.all).toHaveLength(1);
    expect(statuses.at(-1)).toMatchObject({ state: "closed" });
    expect(statuses.at(-1)?.error).toBeUndefined();
  });
});

describe("watchAll", () => {
  it("resumes after the last pos, which may jump (other owners' events)", async () => {
    const server = fakeServer();
    const got: StreamMessage[] = [];
    server.client.watchAll((m) => got.push(m));
    await tick();
    expect(ws(0).url.pathname).toBe("/v1/events");
    ws(0).open();
    ws(0).send({ type: "snapshot", documents: [doc(D)], pos: 100 });
    ws(0).send(event(D, 2, "parse.started", {}, 105));
    ws(0).send(event("22222222-2222-4222-8222-222222222222", 1, "document.queued", { filename: "b.pdf" }, 230));
    ws(0).send(event(D, 2, "parse.started", {}, 105)); // seen
    ws(0).serverClose(1012);
    await tick();
    expect(ws(1).url.searchParams.get("after")).toBe("230");
    expect(got.map((m) => (m.type === "snapshot" ? "snap" : m.pos))).toEqual(["snap", 105, 230]);
  });
});
