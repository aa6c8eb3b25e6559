import { describe, expect, it } from "vitest";

import { applyEvent, byNewest, describeFailure, progressOf } from "../src/index.js";
import type { Document, FolioEvent } from "../src/index.js";
import { doc, event } from "./fakes.js";

const D = "d1";
const run = (start: Document | undefined, evs: FolioEvent[]) => evs.reduce<Document | undefined>((d, e) => applyEvent(d, e), start);
const ev = (seq: number, type: string, data: unknown) => event(D, seq, type, data) as FolioEvent;

describe("applyEvent", () => {
  it("follows a parse from queued to done", () => {
    let d = applyEvent(undefined, ev(1, "document.queued", { filename: "a.pdf", size_bytes: 42 }));
    expect(d).toMatchObject({ id: D, filename: "a.pdf", size_bytes: 42, status: "queued", pages_done: 0, page_count: null });
    d = run(d, [ev(2, "parse.started", { attempt: 1, resume_at_page: 1 })]);
    expect(d).toMatchObject({ status: "parsing", stage: "reading", pages_done: 0 });
    d = run(d, [ev(3, "parse.progress", { stage: "extracting", pages_done: 30, pages_total: 120 })]);
    expect(d).toMatchObject({ status: "parsing", stage: "extracting", pages_done: 30, page_count: 120 });
    expect(progressOf(d)).toBe(0.25);
    d = run(d, [ev(4, "parse.progress", { stage: "done", pages_done: 120, pages_total: 120 }), ev(5, "document.done", { page_count: 120, summary: { version: "1.7" } })]);
    expect(d).toMatchObject({ status: "done", pages_done: 120, page_count: 120, summary: { version: "1.7" } });
    expect(d?.stage).toBeUndefined();
    expect(progressOf(d)).toBe(1);
  });

  it("keeps the application's data: from document.queued, then document.updated", () => {
    let d = applyEvent(undefined, ev(1, "document.queued", { filename: "a.pdf", size_bytes: 42, external_id: "order-1", metadata: { kind: "invoice" } }));
    expect(d).toMatchObject({ external_id: "order-1", metadata: { kind: "invoice" } });
    d = run(d, [ev(2, "document.updated", { metadata: { kind: "receipt", paid: "yes" } })]);
    expect(d?.external_id).toBeUndefined();
    expect(d?.metadata).toEqual({ kind: "receipt", paid: "yes" });
  });

  it("follows the malware scan: scanning, then queued or quarantined, and a release", () => {
    let d = applyEvent(undefined, ev(1, "document.queued", { filename: "a.pdf", size_bytes: 42, scanning: true }));
    expect(d).toMatchObject({ status: "scanning", filename: "a.pdf" });
    const passed = run(d, [ev(2, "scan.done", { result: "clean", signatures: "27500" })]);
    expect(passed).toMatchObject({ status: "queued", scan: { result: "clean", signatures: "27500" } });
    d = run(d, [ev(2, "document.quarantined", { signature: "Eicar-Signature", signatures: "27500" })]);
    expect(d).toMatchObject({ status: "quarantined", scan: { result: "found", found: "Eicar-Signature" } });
    d = run(d, [ev(3, "document.queued", { released: true })]);
    expect(d?.status).toBe("queued");
  });

  it("follows the rendering stage after the text: thumbnails counted apart", () => {
    let d = run(doc(D, { status: "parsing", stage: "extracting", pages_done: 40, page_count: 40 }) as Document, [
      ev(6, "parse.progress", { stage: "rendering", pages_done: 0, pages_total: 40 }),
    ]);
    expect(d).toMatchObject({ status: "parsing", stage: "rendering", pages_done: 40, pages_rendered: 0 });
    expect(progressOf(d)).toBe(0);
    d = run(d, [ev(7, "parse.progress", { stage: "rendering", pages_done: 10, pages_total: 40 })]);
    expect(d).toMatchObject({ stage: "rendering", pages_done: 40, pages_rendered: 10 });
    expect(progressOf(d)).toBe(0.25);
    d = run(d, [ev(8, "parse.started", { attempt: 2, resume_at_page: 41 })]);
    expect(d).toMatchObject({ stage: "reading", pages_done: 40, pages_rendered: 0 });
  });

  it("a requeued parse keeps its committed pages, and resumes after them", () => {
    const d = run(doc(D, { status: "parsing", pages_done: 55, page_count: 2000 }) as Document, [
      ev(7, "parse.requeued", { why: "draining", attempt: 1 }),
      ev(8, "parse.started", { attempt: 1, resume_at_page: 56 }),
    ]);
    expect(d).toMatchObject({ status: "parsing", pages_done: 55, page_count: 2000 });
  });

  it("a failure carries its code and message; a reparse clears it", () => {
    let d = run(doc(D) as Document, [ev(2, "document.failed", { code: "not_pdf", message: "no %PDF-" })]);
    expect(d).toMatchObject({ status: "failed", failure: { code: "not_pdf", message: "no %PDF-" } });
    d = run(d, [ev(3, "document.queued", { reparse: true })]);
    expect(d?.failure).toBeUndefined();
    expect(d?.status).toBe("queued");
  });

  it("deleted is gone; canceled is canceled", () => {
    expect(applyEvent(doc(D) as Document, ev(2, "document.deleted", null))).toBeUndefined();
    expect(applyEvent(doc(D) as Document, ev(2, "document.canceled", null))?.status).toBe("canceled");
  });

  it("follows the OCR of scanned pages after the document is done", () => {
    let d = run(doc(D, { status: "parsing" }) as Document, [
      ev(5, "document.done", { page_count: 12, summary: {}, ocr: "pending", ocr_pages: 10 }),
    ]);
    expect(d).toMatchObject({ status: "done", ocr: { status: "pending", pages_total: 10, pages_done: 0 } });
    d = run(d, [ev(6, "ocr.progress", { pages_done: 4, pages_total: 10 })]);
    expect(d).toMatchObject({ status: "done", ocr: { status: "running", pages_done: 4 } });
    expect(progressOf(d)).toBe(1);
    d = run(d, [ev(7, "ocr.done", { pages_read: 9, pages_failed: 1, confidence: 91.5 })]);
    expect(d?.ocr).toEqual({ status: "done", pages_total: 10, pages_done: 10 });
    d = run(d, [ev(8, "document.queued", { reparse: true })]);
    expect(d?.ocr).toBeUndefined();
  });

  it("does not change the document it is given", () => {
    const d = doc(D) as Document;
    applyEvent(d, ev(2, "parse.started", { attempt: 1, resume_at_page: 1 }));
    expect(d.status).toBe("queued");
  });
});

describe("helpers", () => {
  it("orders newest first, then by id", () => {
    const a = doc("a", { created_at: "2026-11-21T10:00:00.5Z" }) as Document;
    const b = doc("b", { created_at: "2026-11-21T10:00:01Z" }) as Document;
    const c = doc("c", { created_at: "2026-11-21T10:00:01.000Z" }) as Document;
    expect([a, b, c].sort(byNewest).map((d) => d.id)).toEqual(["c", "b", "a"]);
  });

  it("says every failure code in plain words", () => {
    for (const code of ["not_pdf", "malformed", "encrypted", "too_many_pages", "memory_limit", "time_limit", "internal", "quarantined", "scan_pending"]) {
      expect(describeFailure(code)).not.toBe(describeFailure("no such code"));
    }
  });
});
