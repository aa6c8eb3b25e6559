import { createClient } from "@folio/client";
import type { DevToken } from "@folio/client";
import { FolioProvider } from "@folio/client/react";
import { Suspense, lazy, useEffect, useMemo, useState } from "react";

import { SignIn } from "./SignIn";
import { Workspace } from "./Workspace";
import { loadSession, saveSession } from "./session";

export function App() {
  const [session, setSession] = useState<DevToken | null>(loadSession);
  const client = useMemo(() => (session ? createClient({ token: session.token }) : null), [session]);
  const [page, setPage] = useState(pageOf);
  useEffect(() => {
    const onHash = () => setPage(pageOf());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  const signIn = (s: DevToken) => {
    saveSession(s);
    setSession(s);
  };
  const signOut = () => {
    saveSession(null);
    setSession(null);
  };

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="brand">
          <img src="/favicon.svg" alt="" width={28} height={28} />
          <span>Folio</span>
        </div>
        {session && (
          <nav className="pages" aria-label="Pages">
            <a href="#/" aria-current={page === "documents" ? "page" : undefined}>
              Documents
            </a>
            <a href="#/uppy" aria-current={page === "uppy" ? "page" : undefined}>
              Uppy
            </a>
          </nav>
        )}
        {session && (
          <div className="who">
            <span>
              <span className="prefix">Signed in as </span>
              <strong data-testid="user">{session.sub}</strong>
            </span>
            <button type="button" className="link" onClick={signOut}>
              Sign out
            </button>
          </div>
        )}
      </header>
      <main id="main">
        {session && client ? (
          <FolioProvider client={client}>
            {page === "uppy" ? (
              <Suspense fallback={<p className="muted">Loading Uppy…</p>}>
                <UppyPage />
              </Suspense>
            ) : (
              <Workspace onUnauthorized={signOut} />
            )}
          </FolioProvider>
        ) : (
          <SignIn onSignedIn={signIn} />
        )}
      </main>
    </>
  );
}

// Uppy (and its Dashboard's styles) load only on its page.
const UppyPage = lazy(() => import("./UppyPage").then((m) => ({ default: m.UppyPage })));

function pageOf(): "documents" | "uppy" {
  return window.location.hash === "#/uppy" ? "uppy" : "documents";
}
