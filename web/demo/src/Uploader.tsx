import { FolioError, describeFailure, findInterruptedUploads } from "@folio/client";
import type { Document, InterruptedUpload, UploadHandle } from "@folio/client";
import { useFolio } from "@folio/client/react";
import { useCallback, useEffect, useRef, useState } from "react";
import type { DragEvent } from "react";

import { formatBytes } from "./format";

/** Uploads run this many at a time; the rest wait their turn. */
const PARALLEL = 3;

/**
 * Bytes per request of a resumable upload. Folio keeps every 5 MiB part it
 * receives whatever the request's size; requests of 8 MiB also suit
 * proxies that cut long requests, and give the browser a point to resume
 * from on its own side.
 */
const CHUNK = 8 << 20;

interface Item {
  key: number;
  file: File;
  state: "waiting" | "uploading" | "paused" | "done" | "failed" | "canceled";
  fraction: number;
  error?: { code: string; title: string; detail: string; status: number };
  /** Why it waits, when it waits for something (the rate limit's window). */
  note?: string;
  doc?: Document;
  ctl: AbortController;
  /** Where the upload went on from when it resumed (after a reload, a drop, a pause). */
  resumedFrom?: number;
}

let nextKey = 1;

export function Uploader({ onUnauthorized }: { onUnauthorized: () => void }) {
  const client = useFolio();
  const [items, setItems] = useState<Item[]>([]);
  const [dragging, setDragging] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const started = useRef(new Set<number>()); // an effect may run twice; an upload may not
  const handles = useRef(new Map<number, UploadHandle>());
  // Uploads an earlier page started and did not finish: choosing the same
  // file again goes on from what the server holds.
  const [interrupted, setInterrupted] = useState<InterruptedUpload[]>([]);
  const refreshInterrupted = useCallback(() => {
    findInterruptedUploads().then(setInterrupted, () => setInterrupted([]));
  }, []);
  useEffect(refreshInterrupted, [refreshInterrupted]);

  const update = useCallback((key: number, patch: Partial<Item>) => {
    setItems((all) => all.map((it) => (it.key === key ? { ...it, ...patch } : it)));
  }, []);

  // Start waiting uploads while fewer than PARALLEL run.
  useEffect(() => {
    const running = items.filter((it) => it.state === "uploading" || it.state === "paused").length;
    const next = items.filter((it) => it.state === "waiting" && !started.current.has(it.key));
    for (const it of next.slice(0, Math.max(0, PARALLEL - running))) {
      started.current.add(it.key);
      update(it.key, { state: "uploading" });
      const handle = client.startUpload(it.file, {
        signal: it.ctl.signal,
        chunkSize: CHUNK,
        onProgress: (p) => update(it.key, { fraction: p.fraction, note: undefined }),
        onResume: (offset) => update(it.key, { resumedFrom: offset }),
      });
      handles.current.set(it.key, handle);
      handle.promise
        .then(
          (doc) => {
            update(it.key, { state: "done", fraction: 1, doc });
            refreshInterrupted();
          },
          (err: unknown) => {
            if (err instanceof DOMException && err.name === "AbortError") {
              update(it.key, { state: "canceled" });
              return;
            }
            const e = err instanceof FolioError ? err : FolioError.network(String(err));
            if (e.code === "rate_limited" && e.retryAfter !== undefined) {
              // Too many at once: wait for the window the server names, then go again.
              update(it.key, { state: "waiting", fraction: 0, note: `Over the upload rate limit; trying again in ${e.retryAfter} s` });
              const timer = setTimeout(() => {
                started.current.delete(it.key);
                update(it.key, { note: undefined });
              }, e.retryAfter * 1000);
              it.ctl.signal.addEventListener("abort", () => {
                clearTimeout(timer);
                update(it.key, { state: "canceled" });
              });
              return;
            }
            if (e.status === 401) onUnauthorized();
            update(it.key, { state: "failed", error: { code: e.code, title: describeFailure(e.code), detail: e.detail, status: e.status } });
          },
        );
    }
  }, [items, client, update, onUnauthorized, refreshInterrupted]);

  const pause = (it: Item) => {
    handles.current.get(it.key)?.pause();
    update(it.key, { state: "paused" });
  };
  const resume = (it: Item) => {
    handles.current.get(it.key)?.resume();
    update(it.key, { state: "uploading" });
  };

  const add = (files: FileList | File[]) => {
    const list = [...files];
    if (list.length === 0) return;
    setItems((all) => [
      ...list.map((file) => ({ key: nextKey++, file, state: "waiting" as const, fraction: 0, ctl: new AbortController() })),
      ...all,
    ]);
  };

  const cancel = (it: Item) => {
    it.ctl.abort(); // one in flight rejects with AbortError and turns "canceled" itself
    if (it.state === "waiting") update(it.key, { state: "canceled" });
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    add(e.dataTransfer.files);
  };

  const finished = items.some((it) => it.state === "done" || it.state === "canceled");

  return (
    <section className="card" aria-labelledby="upload-title">
      <h2 id="upload-title">Upload</h2>
      <div
        className={`dropzone${dragging ? " dragging" : ""}`}
        data-testid="dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          e.dataTransfer.dropEffect = "copy";
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <p>
          <strong>Drop PDFs here</strong>
          <span className="muted"> — as many as you like, up to 512 MB each</span>
        </p>
        <button type="button" className="primary" onClick={() => input.current?.click()}>
          Choose PDFs…
        </button>
        <input
          ref={input}
          id="file-input"
          className="visually-hidden"
          type="file"
          accept="application/pdf,.pdf"
          multiple
          aria-label="Choose PDF files to upload"
          tabIndex={-1}
          onChange={(e) => {
            if (e.target.files) add(e.target.files);
            e.target.value = "";
          }}
        />
      </div>

      {items.length > 0 && (
        <ul className="uploads" aria-label="Uploads">
          {items.map((it) => (
            <li
              key={it.key}
              className={`upload ${it.state}`}
              data-testid="upload"
              data-filename={it.file.name}
              data-state={it.state}
              data-progress={it.fraction.toFixed(3)}
              data-resumed-from={it.resumedFrom ?? ""}
            >
              <div className="upload-head">
                <span className="name">{it.file.name}</span>
                <span className="muted">{formatBytes(it.file.size)}</span>
              </div>
              {(it.state === "uploading" || it.state === "waiting" || it.state === "paused") && (
                <div className="upload-progress">
                  <progress max={1} value={it.fraction} aria-label={`Uploading ${it.file.name}`} />
                  <span className="muted">
                    {it.note ??
                      (it.state === "waiting"
                        ? "Waiting"
                        : `${Math.round(it.fraction * 100)}%${it.state === "paused" ? " — paused" : ""}${
                            it.resumedFrom ? ` (resumed at ${formatBytes(it.resumedFrom)})` : ""
                          }`)}
                  </span>
                  {it.state === "uploading" && (
                    <button type="button" className="link" onClick={() => pause(it)} aria-label={`Pause ${it.file.name}`}>
                      Pause
                    </button>
                  )}
                  {it.state === "paused" && (
                    <button type="button" className="link" onClick={() => resume(it)} aria-label={`Resume ${it.file.name}`}>
                      Resume
                    </button>
                  )}
                  <button type="button" className="link" onClick={() => cancel(it)} aria-label={`Cancel ${it.file.name}`}>
                    Cancel
                  </button>
                </div>
              )}
              {it.state === "done" && (
                <p className="ok">
                  Uploaded{it.doc?.duplicate_of ? " (you uploaded the same file before)" : ""}; parsing below.
                </p>
              )}
              {it.state === "canceled" && <p className="muted">Canceled; nothing was kept.</p>}
              {it.state === "failed" && it.error && (
                <div className="error" role="alert" data-testid="upload-error" data-code={it.error.code}>
                  <strong>{it.error.title}</strong>{" "}
                  <span>
                    {it.error.detail}
                    {it.error.status ? ` (${it.error.status} ${it.error.code})` : ""}
                  </span>
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      {interrupted.length > 0 && (
        <div className="interrupted" data-testid="interrupted">
          <p>
            <strong>Not finished:</strong> choose the same file again to go on from where it stopped.
          </p>
          <ul>
            {interrupted.map((u) => (
              <li key={u.uploadUrl ?? u.startedAt} data-testid="interrupted-upload" data-filename={u.filename}>
                {u.filename}
                {u.size !== null ? ` (${formatBytes(u.size)})` : ""}
              </li>
            ))}
          </ul>
        </div>
      )}
      {finished && (
        <button
          type="button"
          className="link"
          onClick={() => setItems((all) => all.filter((it) => it.state !== "done" && it.state !== "canceled"))}
        >
          Clear finished uploads
        </button>
      )}
    </section>
  );
}
