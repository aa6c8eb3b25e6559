import { useState } from "react";

import { DocumentDetail } from "./DocumentDetail";
import { DocumentList } from "./DocumentList";
import { Search } from "./Search";
import { Uploader } from "./Uploader";

export interface Selection {
  id: string;
  page?: number;
}

export function Workspace({ onUnauthorized }: { onUnauthorized: () => void }) {
  const [selected, setSelected] = useState<Selection | null>(null);
  return (
    <div className="workspace">
      <div className="column">
        <Uploader onUnauthorized={onUnauthorized} />
        <Search onOpen={setSelected} />
        <DocumentList selectedId={selected?.id} onSelect={(id) => setSelected({ id })} onUnauthorized={onUnauthorized} />
      </div>
      <div className="column detail-column">
        {selected ? (
          <DocumentDetail key={`${selected.id}:${selected.page ?? ""}`} selection={selected} onClose={() => setSelected(null)} />
        ) : (
          <section className="card placeholder" aria-label="Document details">
            <p className="muted">Choose a document to see its pages, metadata and outline.</p>
          </section>
        )}
      </div>
    </div>
  );
}
