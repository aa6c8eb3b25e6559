import { FolioError, devSignIn } from "@folio/client";
import type { DevToken } from "@folio/client";
import { useState } from "react";
import type { FormEvent } from "react";

export function SignIn({ onSignedIn }: { onSignedIn: (s: DevToken) => void }) {
  const [name, setName] = useState("dev");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await devSignIn(name.trim()));
    } catch (err) {
      if (err instanceof FolioError && err.status === 404) {
        setError("This server does not hand out development tokens: it is not running under `folio dev`.");
      } else if (err instanceof FolioError) {
        setError(err.detail || err.message);
      } else {
        setError("Could not sign in.");
      }
      setBusy(false);
    }
  };

  return (
    <section className="signin card" aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in to Folio</h1>
      <p className="muted">
        This is a development stack: pick any name and Folio makes you a token for it. Each name sees only its own documents.
      </p>
      <form onSubmit={submit}>
        <label htmlFor="signin-name">Your name</label>
        <input
          id="signin-name"
          name="name"
          autoComplete="username"
          value={name}
          onChange={(e) => setName(e.target.value)}
          pattern="[A-Za-z0-9._@\-]{1,64}"
          title="1 to 64 letters, digits, '.', '_', '@' or '-'"
          required
          autoFocus
        />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </section>
  );
}
