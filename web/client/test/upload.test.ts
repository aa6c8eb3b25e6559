import { afterEach, describe, expect, it, vi } from "vitest";

import { FolioError } from "../src/index.js";
import { doc, fakeServer } from "./fakes.js";

/** Records what the client does with an XMLHttpRequest; the test answers. */
class FakeXHR {
  static last: FakeXHR;
  method = "";
  url = "";
  headers: Record<string, string> = {};
  body: FormData | undefined;
  aborted = false;
  status = 0;
  responseText = "";
  responseType = "";
  responseHeaders: Record<string, string> = {};
  upload: { onprogress: ((e: ProgressEvent) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  constructor() {
    FakeXHR.last = this;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(k: string, v: string) {
    this.headers[k] = v;
  }
  getResponseHeader(k: string) {
    return this.responseHeaders[k] ?? null;
  }
  send(body: FormData) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  progress(loaded: number, total: number) {
    this.upload.onprogress?.({ loaded, total, lengthComputable: true } as ProgressEvent);
  }
  respond(status: number, body: unknown, headers: Record<string, string> = {}) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.responseHeaders = headers;
    this.onload?.();
  }
}

const XMLHttpRequest = FakeXHR as unknown as typeof globalThis.XMLHttpRequest;
const pdf = () => new File(["%PDF-1.7\n..."], "paper.pdf", { type: "application/pdf" });
afterEach(() => vi.useRealTimers());

// The client reads the token before it opens the request.
const settled = () => new Promise((r) => setTimeout(r, 0));

describe("uploadDocument", () => {
  it("sends the file as multipart form data with the token, reports progress, resolves to the document", async () => {
    const { client } = fakeServer({ XMLHttpRequest });
    const progress: number[] = [];
    const p = client.uploadDocument(pdf(), { resumable: false, onProgress: (e) => progress.push(e.fraction) });
    await settled();
    const xhr = FakeXHR.last;
    expect(xhr.method).toBe("POST");
    expect(xhr.url).toBe("http://folio.test/v1/documents");
    expect(xhr.headers.Authorization).toBe("Bearer tok");
    const file = xhr.body?.get("file") as File;
    expect(file.name).toBe("paper.pdf");
    expect(await file.text()).toBe("%PDF-1.7\n...");
    xhr.progress(50, 200);
    xhr.progress(200, 200);
    xhr.respond(201, doc("d1", { filename: "paper.pdf" }));
    await expect(p).resolves.toMatchObject({ id: "d1", filename: "paper.pdf" });
    expect(progress).toEqual([0.25, 1]);
  });

  it("sends the application's external_id and metadata as form fields before the file", async () => {
    const { client } = fakeServer({ XMLHttpRequest });
    const p = client.uploadDocument(pdf(), { resumable: false, externalId: "order-8812", metadata: { kind: "invoice" } });
    await settled();
    const xhr = FakeXHR.last;
    expect([...(xhr.body?.keys() ?? [])]).toEqual(["external_id", "metadata.kind", "file"]);
    expect(xhr.body?.get("external_id")).toBe("order-8812");
    expect(xhr.body?.get("metadata.kind")).toBe("invoice");
    xhr.respond(201, doc("d1", { external_id: "order-8812", metadata: { kind: "invoice" } }));
    await expect(p).resolves.toMatchObject({ external_id: "order-8812", metadata: { kind: "invoice" } });
  });

  it("rejects with the API's problem: code, status and detail", async () => {
    const { client } = fakeServer({ XMLHttpRequest });
    const p = client.uploadDocument(new File(["\x89PNG"], "photo.pdf"), { resumable: false });
    await settled();
    FakeXHR.last.respond(415, {
      type: "urn:folio:problem:not_pdf",
      title: "Unsupported Media Type",
      status: 415,
      code: "not_pdf",
      detail: "The file is not a PDF: no %PDF- signature in its first 1024 bytes.",
    });
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FolioError);
    expect(err).toMatchObject({ status: 415, code: "not_pdf", detail: expect.stringContaining("not a PDF") });
  });

  it("carries Retry-After on 429", async () => {
    const { client } = fakeServer({ XMLHttpRequest });
    const p = client.uploadDocument(pdf(), { resumable: false });
    await settled();
    FakeXHR.last.respond(429, { code: "rate_limited", status: 429, detail: "slow down" }, { "Retry-After": "17" });
    await expect(p).rejects.toMatchObject({ code: "rate_limited", retryAfter: 17 });
  });

  it("aborts the request when the signal fires", async () => {
    const { client } = fakeServer({ XMLHttpRequest });
    const ctl = new AbortController();
    const p = client.uploadDocument(pdf(), { resumable: false, signal: ctl.signal });
    await settled();
    ctl.abort();
    expect(FakeXHR.last.aborted).toBe(true);
    await expect(p).rejects.toMatchObject({ name: "AbortError" });
  });

  it("rejects at once with an already aborted signal, sending nothing", async () => {
    const { client } = fakeServer({ XMLHttpRequest });
    FakeXHR.last = undefined as unknown as FakeXHR;
    await expect(client.uploadDocument(pdf(), { resumable: false, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError" });
    expect(FakeXHR.last).toBeUndefined();
  });

  it("sends again after a 503 that kept nothing (an API restarting mid-upload), after Retry-After", async () => {
    vi.useFakeTimers();
    const { client } = fakeServer({ XMLHttpRequest });
    const retried: string[] = [];
    const p = client.uploadDocument(pdf(), { resumable: false, onRetry: (e, n) => retried.push(`${n}:${e.code}`) });
    await vi.advanceTimersByTimeAsync(0);
    const first = FakeXHR.last;
    first.respond(503, { code: "server_restarting", status: 503, detail: "retry" }, { "Retry-After": "2" });
    await vi.advanceTimersByTimeAsync(1999);
    expect(FakeXHR.last).toBe(first);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeXHR.last).not.toBe(first);
    FakeXHR.last.respond(201, doc("d2"));
    await expect(p).resolves.toMatchObject({ id: "d2" });
    expect(retried).toEqual(["1:server_restarting"]);
  });

  it("gives up after `retries`, and never retries what the server refused", async () => {
    vi.useFakeTimers();
    const { client } = fakeServer({ XMLHttpRequest });
    const p = client.uploadDocument(pdf(), { resumable: false, retries: 1 });
    const outcome = p.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    FakeXHR.last.respond(503, { code: "storage_unavailable", status: 503, detail: "s3 down" });
    await vi.advanceTimersByTimeAsync(1000); // no Retry-After: 1 s, then 2 s, …
    FakeXHR.last.respond(503, { code: "storage_unavailable", status: 503, detail: "s3 down" });
    expect(await outcome).toMatchObject({ code: "storage_unavailable" });

    const q = client.uploadDocument(pdf(), { resumable: false });
    await vi.advanceTimersByTimeAsync(0);
    const only = FakeXHR.last;
    only.respond(413, { code: "too_large", status: 413, detail: "big" });
    await expect(q).rejects.toMatchObject({ code: "too_large" });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeXHR.last).toBe(only);
  });

  it("rejects with network_error when the server cannot be reached", async () => {
    const { client } = fakeServer({ XMLHttpRequest });
    const p = client.uploadDocument(pdf(), { resumable: false });
    await settled();
    FakeXHR.last.onerror?.();
    await expect(p).rejects.toMatchObject({ status: 0, code: "network_error" });
  });
});
