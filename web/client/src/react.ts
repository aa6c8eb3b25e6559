// React hooks over @folio/client: `@folio/client/react`.
import { createContext, createElement, useContext, useEffect, useRef, useState } from "react";
import type { ReactNode } from "react";

import type { FolioClient } from "./client.js";
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

export { FolioError };
