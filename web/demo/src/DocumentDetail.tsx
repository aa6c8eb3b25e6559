import { FolioError, describeFailure } from "@folio/client";
import type { Document, OutlineItem, Page } from "@folio/client";
import { PageImage, useDocument, useFolio } from "@folio/client/react";
import { useEffect, useRef, useState } from "react";

import type { Selection } from "./Workspace";
import { formatBytes, formatDate, pagesWords, stageOf } from "./format";

export function DocumentDetail({ selection, onClose }: { selection: Selection; onClose: () => void }) {
  const { document: doc, status, pagesTotal, progress, error } = useDocument(selection.id);
  const [page, setPage] = useState(selection.page ?? 1);
  const client = useFolio();
  const [actionError, setActionError] = useState<string | null>(null);
  // Focus (and so scroll to) the details when they open: keyboard and small-screen users land on them.
  const heading = useRef<HTMLHeadingElement>(null);
  const loaded = doc !== undefined;
  useEffect(() => {
    if (loaded) heading.current?.focus();
  }, [loaded]);

  if (!doc) {
    return (
      <section className="card" aria-label="Document details">
        <p className="muted">{status === "deleted" ? "This document was deleted." : error ? error.message : "Loading…"}</p>
      </section>
    );
  }

  const act = async (what: () => Promise<unknown>) => {
    setActionError(null);
    try {
      await what();
    } catch (err) {
      setActionError(err instanceof FolioError ? err.detail || err.message : String(err));
    }
  };

  return (
    <section className="card detail" aria-labelledby="detail-title" data-testid="detail" data-status={status}>
      <div className="section-head">
        <h2 id="detail-title" className="name" ref={heading} tabIndex={-1}>
          {doc.filename}
        </h2>
        <button type="button" className="link" onClick={onClose} aria-label="Close details">
          Close
        </button>
      </div>
      <p>
        <span className={`badge ${doc.status}`}>{stageOf(doc)}</span>{" "}
        {status === "parsing" && pagesTotal !== null && (
          <span className="muted">
            {pagesWords(doc)} ({Math.round(progress * 100)}%)
          </span>
        )}
      </p>
      {doc.ocr && (
        <p className="muted" data-testid="ocr-status" data-ocr={doc.ocr.status}>
          {ocrWords(doc.ocr)}
        </p>
      )}
      {doc.failure && (
        <div className="error" role="alert">
          <strong>{describeFailure(doc.failure.code)}</strong> <span>{doc.failure.message}</span>
        </div>
      )}
      <div className="actions">
        {(doc.status === "done" || doc.status === "failed") && (
          <button type="button" onClick={() => act(() => client.reparse(doc.id))}>
            Parse again
          </button>
        )}
        <button
          type="button"
          className="danger"
          onClick={() => {
            if (confirm(`Delete ${doc.filename}? This cannot be undone.`)) void act(async () => (await client.deleteDocument(doc.id), onClose()));
          }}
        >
          Delete
        </button>
      </div>
      {actionError && (
        <p className="error" role="alert">
          {actionError}
        </p>
      )}
      <Facts doc={doc} />
      <Thumbnails doc={doc} page={page} onPage={setPage} />
      {doc.status === "done" && (
        <>
          <Outline id={doc.id} onPage={setPage} />
          <PageText id={doc.id} page={page} pages={doc.page_count ?? 1} version={doc.ocr?.pages_done ?? 0} onPage={setPage} />
        </>
      )}
    </section>
  );
}

function Facts({ doc }: { doc: Document }) {
  const s = doc.summary;
  const m = s?.metadata;
  const rows: [string, string | number | undefined][] = [
    ["Pages", doc.page_count ?? undefined],
    ["Size", formatBytes(doc.size_bytes)],
    ["Title", m?.title || m?.xmp?.dc_title],
    ["Author", m?.author || m?.xmp?.dc_creator?.join(", ")],
    ["Subject", m?.subject],
    ["Keywords", m?.keywords],
    ["Created with", m?.creator],
    ["Producer", m?.producer],
    ["Created", formatDate(m?.creation_date)],
    ["Modified", formatDate(m?.mod_date)],
    ["PDF version", s?.version],
    ["Fonts", s ? s.fonts.length : undefined],
    ["Uploaded", formatDate(doc.created_at)],
    ["SHA-256", doc.sha256 ? `${doc.sha256.slice(0, 16)}…` : undefined],
  ];
  const flags = s
    ? [
        s.security_flags.javascript && "JavaScript",
        s.security_flags.launch && "launch actions",
        s.security_flags.open_action && "an open action",
        s.security_flags.embedded_files && "embedded files",
        s.encryption && "encryption",
      ].filter(Boolean)
    : [];
  return (
    <>
      <dl className="facts" data-testid="facts">
        {rows
          .filter(([, v]) => v !== undefined && v !== "")
          .map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
      </dl>
      {flags.length > 0 && <p className="note">This PDF contains {flags.join(", ")}. Folio only reads it; nothing in it runs.</p>}
    </>
  );
}

function Outline({ id, onPage }: { id: string; onPage: (n: number) => void }) {
  const client = useFolio();
  const [items, setItems] = useState<OutlineItem[] | null>(null);
  useEffect(() => {
    const ctl = new AbortController();
    client.getOutline(id, ctl.signal).then((o) => setItems(o.outline), () => setItems([]));
    return () => ctl.abort();
  }, [client, id]);
  if (!items || items.length === 0) return null;
  return (
    <details className="outline" open={items.length <= 12}>
      <summary>Outline</summary>
      <OutlineTree items={items} onPage={onPage} />
    </details>
  );
}

function OutlineTree({ items, onPage }: { items: OutlineItem[]; onPage: (n: number) => void }) {
  return (
    <ul>
      {items.map((it, i) => (
        <li key={i}>
          {it.page ? (
            <button type="button" className="link" onClick={() => onPage(it.page!)}>
              {it.title} <span className="muted">p. {it.page}</span>
            </button>
          ) : (
            <span>{it.title}</span>
          )}
          {it.children && it.children.length > 0 && <OutlineTree items={it.children} onPage={onPage} />}
        </li>
      ))}
    </ul>
  );
}

/**
 * A strip of page thumbnails: the pages drawn so far while the parse runs,
 * every page once it is done. Each loads when it scrolls into view.
 */
function Thumbnails({ doc, page, onPage }: { doc: Document; page: number; onPage: (n: number) => void }) {
  const count = doc.status === "done" ? (doc.page_count ?? 0) : doc.stage === "rendering" ? doc.pages_rendered : 0;
  if (count === 0) return null;
  return (
    <nav className="thumbs" aria-label="Pages" data-testid="thumbnails">
      <ol>
        {Array.from({ length: count }, (_, i) => i + 1).map((n) => (
          <li key={n}>
            <button type="button" className="thumb" aria-current={n === page ? "page" : undefined} onClick={() => onPage(n)} aria-label={`Page ${n}`} data-page={n}>
              <PageImage documentId={doc.id} page={n} width={72} alt={`Page ${n}`} />
              <span className="muted" aria-hidden="true">
                {n}
              </span>
            </button>
          </li>
        ))}
      </ol>
    </nav>
  );
}

/** The OCR of a document's scanned pages, in words. */
function ocrWords(ocr: NonNullable<Document["ocr"]>): string {
  switch (ocr.status) {
    case "pending":
      return `${ocr.pages_total} scanned page${ocr.pages_total === 1 ? "" : "s"} waiting for OCR`;
    case "running":
      return `Reading scanned pages: ${ocr.pages_done} of ${ocr.pages_total}`;
    case "done":
      return `${ocr.pages_total} scanned page${ocr.pages_total === 1 ? "" : "s"} read by OCR`;
    case "unavailable":
      return `${ocr.pages_total} scanned page${ocr.pages_total === 1 ? " has" : "s have"} no text: the worker has no OCR engine`;
  }
}

/** Where a page's text came from, in words ("" for the page's own text). */
function sourceWords(p: Page): string {
  if (p.source === "ocr") return `Read by OCR (mean confidence ${Math.round(p.ocr_confidence ?? 0)}%)`;
  if (p.source === "needs_ocr") return p.ocr_failure ? `A scanned page OCR could not read (${p.ocr_failure})` : "A scanned page, not read by OCR yet";
  return "";
}

function PageText({
  id,
  page,
  pages,
  version,
  onPage,
}: {
  id: string;
  page: number;
  pages: number;
  version: number;
  onPage: (n: number) => void;
}) {
  const client = useFolio();
  const [text, setText] = useState<Page | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const [draft, setDraft] = useState(String(page));
  useEffect(() => setDraft(String(page)), [page]);
  useEffect(() => {
    const ctl = new AbortController();
    setErr(null);
    client.getPages(id, { from: page, limit: 1 }, ctl.signal).then(
      (r) => setText(r.pages[0] ?? null),
      (e: unknown) => {
        if (!ctl.signal.aborted) setErr(e instanceof FolioError ? e.detail : String(e));
      },
    );
    return () => ctl.abort();
  }, [client, id, page, version]);
  const go = (n: number) => onPage(Math.min(pages, Math.max(1, n)));
  return (
    <div className="page-text">
      <form
        className="pager"
        onSubmit={(e) => {
          e.preventDefault();
          const n = Number(draft);
          if (Number.isInteger(n)) go(n);
        }}
      >
        <button type="button" onClick={() => go(page - 1)} disabled={page <= 1} aria-label="Previous page">
          ‹
        </button>
        <label htmlFor="page-number">Page</label>
        <input id="page-number" type="number" min={1} max={pages} value={draft} onChange={(e) => setDraft(e.target.value)} />
        <span className="muted">of {pages}</span>
        <button type="button" onClick={() => go(page + 1)} disabled={page >= pages} aria-label="Next page">
          ›
        </button>
      </form>
      {err ? (
        <p className="error">{err}</p>
      ) : (
        <div
          className="page-view"
          data-testid="page-view"
          tabIndex={0}
          aria-label={`Page ${page}: use the left and right arrow keys for the previous and next page`}
          onKeyDown={(e) => {
            const step = e.key === "ArrowRight" || e.key === "PageDown" ? 1 : e.key === "ArrowLeft" || e.key === "PageUp" ? -1 : 0;
            if (step !== 0) {
              e.preventDefault();
              go(page + step);
            }
          }}
        >
          <PageImage key={page} documentId={id} page={page} width={320} alt={`Page ${page}`} lazy={false} pageSize={text ? { width: text.width, height: text.height } : undefined} />
          <div className="page-words">
            {text && sourceWords(text) && (
              <p className="muted" data-testid="page-source" data-source={text.source}>
                {sourceWords(text)}
              </p>
            )}
            <pre data-testid="page-text" aria-label={`Text of page ${page}`} tabIndex={0}>
              {text ? text.text || "(This page has no text.)" : "Loading…"}
            </pre>
          </div>
        </div>
      )}
    </div>
  );
}
