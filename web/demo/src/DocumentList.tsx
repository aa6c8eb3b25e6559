import { describeFailure, progressOf } from "@folio/client";
import type { Document } from "@folio/client";
import { PageImage, useDocuments } from "@folio/client/react";
import { useEffect } from "react";

import { formatBytes, pagesWords, stageOf } from "./format";

interface Props {
  selectedId: string | undefined;
  onSelect: (id: string) => void;
  onUnauthorized: () => void;
}

export function DocumentList({ selectedId, onSelect, onUnauthorized }: Props) {
  const { documents, connection, error } = useDocuments();
  useEffect(() => {
    if (error?.code === "unauthorized") onUnauthorized();
  }, [error, onUnauthorized]);

  const live =
    connection.state === "open" ? (connection.transport === "sse" ? "Live (SSE)" : "Live") : connection.state === "closed" ? "Offline" : connection.state === "connecting" ? "Connecting…" : "Reconnecting…";

  return (
    <section className="card" aria-labelledby="docs-title">
      <div className="section-head">
        <h2 id="docs-title">Documents</h2>
        <span className={`live ${connection.state}`} data-testid="connection" data-state={connection.state} data-transport={connection.transport} role="status">
          {live}
        </span>
      </div>
      {error && error.code !== "unauthorized" && (
        <p className="error" role="alert">
          Live updates stopped: {error.message}
        </p>
      )}
      {documents === undefined ? (
        <p className="muted">Loading…</p>
      ) : documents.length === 0 ? (
        <p className="muted">No documents yet. Upload a PDF to start.</p>
      ) : (
        <ul className="docs">
          {documents.map((d) => (
            <DocumentRow key={d.id} doc={d} selected={d.id === selectedId} onSelect={onSelect} />
          ))}
        </ul>
      )}
    </section>
  );
}

function DocumentRow({ doc: d, selected, onSelect }: { doc: Document; selected: boolean; onSelect: (id: string) => void }) {
  const pct = Math.round(progressOf(d) * 100);
  return (
    <li
      className={`doc ${d.status}${selected ? " selected" : ""}`}
      data-testid="doc-row"
      data-id={d.id}
      data-filename={d.filename}
      data-status={d.status}
      data-pages-done={d.pages_done}
      data-stage={d.stage ?? ""}
      data-pages-rendered={d.pages_rendered}
      data-pages-total={d.page_count ?? ""}
    >
      <button type="button" className="doc-button" onClick={() => onSelect(d.id)} aria-current={selected ? "true" : undefined}>
        <span className="doc-thumb" aria-hidden="true">
          {(d.status === "done" || d.pages_rendered > 0) && <PageImage documentId={d.id} page={1} width={40} alt="" />}
        </span>
        <span className="doc-body">
        <span className="doc-head">
          <span className="name">{d.filename || "(unnamed)"}</span>
          <span className={`badge ${d.status}`}>{stageOf(d)}</span>
        </span>
        {(d.status === "parsing" || d.status === "queued") && (
          <span className="doc-progress">
            <progress max={100} value={pct} aria-label={`Parsing ${d.filename}`} />
            <span className="muted">{pagesWords(d)}</span>
          </span>
        )}
        {d.status === "done" && (
          <span className="muted">
            {d.page_count} {d.page_count === 1 ? "page" : "pages"} · {formatBytes(d.size_bytes)}
          </span>
        )}
        {d.status === "quarantined" && (
          <span className="reason" data-testid="quarantined">
            {describeFailure("quarantined")} {d.scan?.found && <span className="muted">({d.scan.found})</span>}
          </span>
        )}
        {d.status === "failed" && d.failure && (
          <span className="reason" data-testid="failure" data-code={d.failure.code}>
            {describeFailure(d.failure.code)} <span className="muted">({d.failure.code})</span>
          </span>
        )}
        </span>
      </button>
    </li>
  );
}
