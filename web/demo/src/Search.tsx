import { FolioError } from "@folio/client";
import type { SearchHit } from "@folio/client";
import { useFolio } from "@folio/client/react";
import { useState } from "react";
import type { FormEvent, ReactNode } from "react";

import type { Selection } from "./Workspace";

/** A snippet's text with its <mark>s, without putting server HTML into the page. */
function Snippet({ html }: { html: string }) {
  const parts: ReactNode[] = [];
  new DOMParser().parseFromString(html, "text/html").body.childNodes.forEach((n, i) => {
    if (n.nodeName === "MARK") parts.push(<mark key={i}>{n.textContent}</mark>);
    else parts.push(n.textContent);
  });
  return <span className="snippet">{parts}</span>;
}

export function Search({ onOpen }: { onOpen: (s: Selection) => void }) {
  const client = useFolio();
  const [q, setQ] = useState("");
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (e: FormEvent) => {
    e.preventDefault();
    if (!q.trim()) {
      setHits(null);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      setHits((await client.search(q.trim(), { limit: 20 })).hits);
    } catch (err) {
      setError(err instanceof FolioError ? err.detail : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="search-title">
      <h2 id="search-title">Search</h2>
      <form className="search" role="search" onSubmit={run}>
        <label htmlFor="search-q" className="visually-hidden">
          Search your documents
        </label>
        <input
          id="search-q"
          type="search"
          placeholder='Words, "a phrase", -exclude'
          value={q}
          maxLength={500}
          onChange={(e) => setQ(e.target.value)}
        />
        <button type="submit" disabled={busy}>
          Search
        </button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {hits && (
        <div aria-live="polite">
          {hits.length === 0 ? (
            <p className="muted">Nothing found in your parsed documents.</p>
          ) : (
            <ol className="hits">
              {hits.map((h) => (
                <li key={`${h.document_id}:${h.page}`}>
                  <button type="button" className="hit" onClick={() => onOpen({ id: h.document_id, page: h.page })}>
                    <span className="name">
                      {h.filename} <span className="muted">p. {h.page}</span>
                    </span>
                    <Snippet html={h.snippet} />
                  </button>
                </li>
              ))}
            </ol>
          )}
        </div>
      )}
    </section>
  );
}
