// React hooks over @folio/client: `@folio/client/react`.
import { createContext, createElement, useContext, useEffect, useRef, useState } from "react";
import type { ReactNode } from "react";

import { pickImageWidth } from "./client.js";
import type { FolioClient, PageImageWidth } from "./client.js";
import { FolioError } from "./errors.js";
import { applyEvent, byNewest, progressOf } from "./state.js";
import type { StreamStatus } from "./stream.js";
import type { Document, DocumentStatus } from "./types.js";

const FolioContext = createContext<FolioClient | null>(null);

/** Makes `client` the one the hooks below use. */
export function FolioProvider(props: { client: FolioClient; children?: ReactNode }) {
  return createElement(FolioContext.Provider, { value: props.client }, props.children);
}

/** The client from the nearest FolioProvider. */
export function useFolio(): FolioClient {
  const c = useContext(FolioContext);
  if (!c) throw new Error("@folio/client/react: wrap your app in <FolioProvider client={…}>");
  return c;
}

/** What went wrong: the document's failure, or the stream's when it gave up. */
export interface HookError {
  code: string;
  message: string;
}

export interface DocumentView {
  /** "loading" until the first snapshot arrives; "deleted" once it is deleted (the stream then ends). */
  status: DocumentStatus | "loading" | "deleted";
  /** 0 to 1: pages extracted over pages; 1 when done. */
  progress: number;
  pagesDone: number;
  /** null until the page count is known. */
  pagesTotal: number | null;
  error: HookError | null;
  document: Document | undefined;
  connection: StreamStatus;
}

const initialConnection: StreamStatus = { state: "connecting", attempt: 0 };

function streamError(s: StreamStatus): HookError | null {
  if (s.state !== "closed" || !s.error) return null;
  return { code: s.error.code, message: s.error.detail || s.error.message };
}

/** One document, live: the snapshot, then every event applied, across reconnects. */
export function useDocument(id: string | undefined): DocumentView {
  const client = useFolio();
  const [doc, setDoc] = useState<Document | undefined>(undefined);
  const [deleted, setDeleted] = useState(false);
  const [connection, setConnection] = useState<StreamStatus>(initialConnection);
  useEffect(() => {
    setDoc(undefined);
    setDeleted(false);
    if (!id) return;
    const sub = client.watchDocument(
      id,
      (msg) => {
        if (msg.type === "snapshot") setDoc(msg.document);
        else setDoc((d) => applyEvent(d, msg));
        if (msg.type === "document.deleted") setDeleted(true);
      },
      { onStatus: setConnection },
    );
    return () => sub.close();
  }, [client, id]);
  const failure = doc?.failure ? { code: doc.failure.code, message: doc.failure.message } : null;
  return {
    status: deleted ? "deleted" : doc ? doc.status : "loading",
    progress: progressOf(doc),
    pagesDone: doc?.pages_done ?? 0,
    pagesTotal: doc?.page_count ?? null,
    error: failure ?? streamError(connection),
    document: doc,
    connection,
  };
}

export interface DocumentsView {
  /** The caller's documents, newest first; undefined until the first snapshot. */
  documents: Document[] | undefined;
  error: HookError | null;
  connection: StreamStatus;
}

/** All the caller's documents, live (the newest 500 at the start, and every one uploaded since). */
export function useDocuments(): DocumentsView {
  const client = useFolio();
  const [docs, setDocs] = useState<Map<string, Document> | undefined>(undefined);
  const [connection, setConnection] = useState<StreamStatus>(initialConnection);
  const fetching = useRef(new Set<string>());
  useEffect(() => {
    let live = true;
    const sub = client.watchAll(
      (msg) => {
        if (msg.type === "snapshot") {
          setDocs(new Map(msg.documents.map((d) => [d.id, d])));
          return;
        }
        setDocs((prev) => {
          const next = new Map(prev);
          const before = next.get(msg.document_id);
          const after = applyEvent(before, msg);
          if (after) next.set(after.id, after);
          else next.delete(msg.document_id);
          // First seen through an event that does not name it (a reparse of
          // an old document): fetch what the events do not tell.
          if (!before && after && !after.filename && !fetching.current.has(after.id)) {
            fetching.current.add(after.id);
            client.getDocument(after.id).then(
              (full) => {
                if (!live) return;
                setDocs((p) => {
                  const cur = p?.get(full.id);
                  if (!p || !cur) return p;
                  const merged = new Map(p);
                  merged.set(full.id, { ...full, ...cur, filename: full.filename, sha256: full.sha256, size_bytes: full.size_bytes, created_at: full.created_at });
                  return merged;
                });
              },
              () => undefined,
            );
          }
          return next;
        });
      },
      { onStatus: setConnection },
    );
    return () => {
      live = false;
      sub.close();
    };
  }, [client]);
  return {
    documents: docs ? [...docs.values()].sort(byNewest) : undefined,
    error: streamError(connection),
    connection,
  };
}

export interface PageImageView {
  /** An object URL of the image once it has arrived (revoked when the component lets go). */
  url: string | undefined;
  /** Why there is no image: page_not_rendered (error.reason says why), or the request's failure. */
  error: FolioError | null;
}

/**
 * Page `page` of a document as an image `width` pixels wide, fetched with
 * the client's token; nothing is fetched while width is undefined (not
 * on screen yet). A render that is still running (503 render_pending) is
 * asked for again after its Retry-After, three times at most.
 */
export function usePageImage(documentId: string, page: number, width: PageImageWidth | undefined): PageImageView {
  const client = useFolio();
  const [view, setView] = useState<PageImageView>({ url: undefined, error: null });
  useEffect(() => {
    setView({ url: undefined, error: null });
    if (width === undefined) return;
    const abort = new AbortController();
    let url: string | undefined;
    const load = async (tries: number): Promise<void> => {
      try {
        const blob = await client.getPageImage(documentId, page, { width, signal: abort.signal });
        url = URL.createObjectURL(blob);
        setView({ url, error: null });
      } catch (err) {
        if (abort.signal.aborted) return;
        if (err instanceof FolioError && err.code === "render_pending" && tries < 3) {
          await new Promise((r) => setTimeout(r, (err.retryAfter ?? 2) * 1000));
          if (!abort.signal.aborted) return load(tries + 1);
          return;
        }
        setView({ url: undefined, error: err instanceof FolioError ? err : FolioError.network() });
      }
    };
    void load(0);
    return () => {
      abort.abort();
      if (url) URL.revokeObjectURL(url);
    };
  }, [client, documentId, page, width]);
  return view;
}

export interface PageImageProps {
  documentId: string;
  page: number;
  /** The width it is shown at, in CSS pixels: the image's own width is picked from it and the screen's pixel ratio. */
  width: number;
  /** The page's size in points (from getPages), so that the box has the page's shape before the image arrives. */
  pageSize?: { width: number; height: number };
  alt: string;
  className?: string;
  /** Fetch only once the box comes near the viewport (default true). */
  lazy?: boolean;
}

/**
 * A page as an image, fetched with the client's token (an <img src> could
 * not send it), lazily, at the width the screen needs (what srcset would
 * choose). While it loads the box keeps the page's shape (aria-busy); a
 * page that could not be drawn shows why (role img, labelled).
 */
export function PageImage(props: PageImageProps) {
  const { documentId, page, width, pageSize, alt, className, lazy = true } = props;
  const ref = useRef<HTMLElement | null>(null);
  const [near, setNear] = useState(!lazy || typeof IntersectionObserver === "undefined");
  useEffect(() => {
    if (near || !ref.current) return;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        setNear(true);
        io.disconnect();
      }
    }, { rootMargin: "300px" });
    io.observe(ref.current);
    return () => io.disconnect();
  }, [near]);
  const ratio = typeof window !== "undefined" ? window.devicePixelRatio || 1 : 1;
  const img = usePageImage(documentId, page, near ? pickImageWidth(width, ratio) : undefined);
  const style = { width: `${width}px`, aspectRatio: pageSize ? `${pageSize.width} / ${pageSize.height}` : undefined };
  const setRef = (el: HTMLElement | null) => {
    ref.current = el;
  };
  if (img.error) {
    return createElement("div", { ref: setRef, className, style, role: "img", "aria-label": `${alt}: ${img.error.detail}`, "data-state": "failed" }, img.error.detail);
  }
  if (!img.url) {
    return createElement("div", { ref: setRef, className, style, role: "img", "aria-label": alt, "aria-busy": true, "data-state": "loading" });
  }
  return createElement("img", { ref: setRef, className, style, src: img.url, alt, width, decoding: "async", "data-state": "loaded" });
}

export { FolioError };

/** Where a useUpload upload is. */
export interface UploadState {
  status: "idle" | "uploading" | "paused" | "done" | "failed" | "canceled";
  /** Bytes the server holds plus those on their way, 0 to 1. */
  fraction: number;
  loaded: number;
  total: number;
  /** The offset the upload went on from when it last resumed (a reload, a drop, resume()). */
  resumedFrom: number | null;
  document: Document | null;
  error: FolioError | null;
}

const idle: UploadState = { status: "idle", fraction: 0, loaded: 0, total: 0, resumedFrom: null, document: null, error: null };

/**
 * One resumable upload with pause and resume: `start(file)`, then `pause()`,
 * `resume()`, `cancel()`. After a page reload, starting the same file again
 * goes on from what the server holds (`resumedFrom` says where).
 */
export function useUpload(
  options: { filename?: string; chunkSize?: number; externalId?: string; metadata?: Record<string, string> } = {},
) {
  const client = useFolio();
  const [state, setState] = useState<UploadState>(idle);
  const handle = useRef<ReturnType<FolioClient["startUpload"]> | null>(null);
  const { filename, chunkSize, externalId, metadata } = options;

  useEffect(() => () => handle.current?.pause(), []); // unmounting keeps the upload resumable

  const start = (file: Blob) => {
    handle.current?.pause();
    setState({ ...idle, status: "uploading", total: file.size });
    const h = client.startUpload(file, {
      ...(filename !== undefined ? { filename } : {}),
      ...(chunkSize !== undefined ? { chunkSize } : {}),
      ...(externalId !== undefined ? { externalId } : {}),
      ...(metadata !== undefined ? { metadata } : {}),
      onProgress: (p) => setState((s) => (s.status === "uploading" ? { ...s, loaded: p.loaded, total: p.total, fraction: p.fraction } : s)),
      onResume: (offset) => setState((s) => ({ ...s, resumedFrom: offset })),
    });
    handle.current = h;
    h.promise.then(
      (document) => {
        if (handle.current === h) setState((s) => ({ ...s, status: "done", fraction: 1, document }));
      },
      (err: unknown) => {
        if (handle.current !== h) return;
        if (err instanceof DOMException && err.name === "AbortError") {
          setState((s) => ({ ...s, status: "canceled" }));
          return;
        }
        const error = err instanceof FolioError ? err : FolioError.network(String(err));
        setState((s) => ({ ...s, status: "failed", error }));
      },
    );
  };
  const pause = () => {
    handle.current?.pause();
    setState((s) => (s.status === "uploading" ? { ...s, status: "paused" } : s));
  };
  const resume = () => {
    handle.current?.resume();
    setState((s) => (s.status === "paused" ? { ...s, status: "uploading" } : s));
  };
  const cancel = () => handle.current?.abort();
  return { ...state, start, pause, resume, cancel };
}
