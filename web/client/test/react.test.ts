// @vitest-environment jsdom
import { act, createElement } from "react";
import { createRoot } from "react-dom/client";
import { afterEach, describe, expect, it } from "vitest";

import { FolioProvider, useDocument, useDocuments } from "../src/react.js";
import type { DocumentView, DocumentsView } from "../src/react.js";
import { FakeWebSocket, doc, event, fakeServer } from "./fakes.js";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const D = "11111111-1111-4111-8111-111111111111";
const ws = (i: number) => FakeWebSocket.all[i]!;
const flush = () => act(() => new Promise<void>((r) => setTimeout(r, 0)));

let unmount: (() => void) | undefined;
afterEach(() => unmount?.());

/** Renders hook() inside a provider and returns a live view of its value. */
function renderHook<T>(hook: () => T) {
  const server = fakeServer();
  const seen: { current: T | undefined } = { current: undefined };
  function Probe() {
    seen.current = hook();
    return null;
  }
  const root = createRoot(document.createElement("div"));
  act(() => root.render(createElement(FolioProvider, { client: server.client }, createElement(Probe))));
  unmount = () => act(() => root.unmount());
  return { server, seen };
}

describe("useDocument", () => {
  it("is loading, then follows the document's events to done", async () => {
    const { seen } = renderHook<DocumentView>(() => useDocument(D));
    expect(seen.current?.status).toBe("loading");
    await flush();
    act(() => {
      ws(0).open();
      ws(0).send({ type: "snapshot", document: doc(D), seq: 1 });
      ws(0).send(event(D, 2, "parse.started", { attempt: 1, resume_at_page: 1 }));
      ws(0).send(event(D, 3, "parse.progress", { stage: "extracting", pages_done: 3, pages_total: 12 }));
    });
    expect(seen.current).toMatchObject({ status: "parsing", pagesDone: 3, pagesTotal: 12, progress: 0.25, error: null });
    expect(seen.current?.connection).toMatchObject({ state: "open", transport: "websocket" });
    act(() => ws(0).send(event(D, 4, "document.failed", { code: "malformed", message: "xref table is broken" })));
    expect(seen.current).toMatchObject({ status: "failed", error: { code: "malformed", message: "xref table is broken" } });
  });

  it("says deleted when the document is deleted", async () => {
    const { seen } = renderHook<DocumentView>(() => useDocument(D));
    await flush();
    act(() => {
      ws(0).open();
      ws(0).send({ type: "snapshot", document: doc(D, { status: "done", page_count: 3, pages_done: 3 }), seq: 5 });
      ws(0).send(event(D, 6, "document.deleted", null));
    });
    expect(seen.current).toMatchObject({ status: "deleted", document: undefined, connection: { state: "closed" } });
  });

  it("closes its stream when unmounted", async () => {
    renderHook<DocumentView>(() => useDocument(D));
    await flush();
    ws(0).open();
    unmount?.();
    unmount = undefined;
    expect(ws(0).closedByClient).toBe(1000);
  });
});

describe("useDocuments", () => {
  it("lists the snapshot newest first and adds documents as they are uploaded", async () => {
    const { seen } = renderHook<DocumentsView>(() => useDocuments());
    expect(seen.current?.documents).toBeUndefined();
    await flush();
    act(() => {
      ws(0).open();
      ws(0).send({ type: "snapshot", documents: [doc("b", { created_at: "2026-11-21T10:00:02Z" }), doc("a")], pos: 10 });
      ws(0).send({ ...event("c", 1, "document.queued", { filename: "new.pdf", size_bytes: 9 }, 11), created_at: "2026-11-21T11:00:00Z" });
      ws(0).send(event("a", 2, "document.deleted", null, 12));
    });
    expect(seen.current?.documents?.map((d) => [d.id, d.filename])).toEqual([
      ["c", "new.pdf"],
      ["b", "b.pdf"],
    ]);
  });
});
