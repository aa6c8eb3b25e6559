import { createClient } from "@folio/client";
import type { DevToken } from "@folio/client";
import { FolioProvider } from "@folio/client/react";
import { useMemo, useState } from "react";

import { SignIn } from "./SignIn";
import { Workspace } from "./Workspace";
import { loadSession, saveSession } from "./session";

export function App() {
  const [session, setSession] = useState<DevToken | null>(loadSession);
  const client = useMemo(() => (session ? createClient({ token: session.token }) : null), [session]);

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
            <Workspace onUnauthorized={signOut} />
          </FolioProvider>
        ) : (
          <SignIn onSignedIn={signIn} />
        )}
      </main>
    </>
  );
}
