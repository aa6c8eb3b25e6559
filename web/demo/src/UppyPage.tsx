import AwsS3 from "@uppy/aws-s3";
import Uppy from "@uppy/core";
import type { Body, Meta, UppyFile } from "@uppy/core";
import Dashboard from "@uppy/dashboard";
import GoldenRetriever from "@uppy/golden-retriever";
import Tus from "@uppy/tus";
import { FolioError } from "@folio/client";
import { useFolio } from "@folio/client/react";
import { useEffect, useRef, useState } from "react";

import "@uppy/core/css/style.min.css";
import "@uppy/dashboard/css/style.min.css";

type Mode = "tus" | "s3";

interface Finished {
  name: string;
  id: string;
}

const MODE_KEY = "folio.uppy.mode";

/**
 * A stock Uppy Dashboard against Folio, two ways: resumable uploads through
 * the API (@uppy/tus, tus 1.0 at /v1/uploads/), or straight to S3
 * (@uppy/aws-s3 with Folio signing each multipart request and finalizing
 * the object into a document). Golden Retriever keeps the files across a
 * reload, and the upload goes on from where it stopped.
 */
export function UppyPage() {
  const client = useFolio();
  const [mode, setMode] = useState<Mode>(() => (localStorage.getItem(MODE_KEY) === "s3" ? "s3" : "tus"));
  const [finished, setFinished] = useState<Finished[]>([]);
  const [problems, setProblems] = useState<string[]>([]);
  const target = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!target.current) return;
    const uppy = new Uppy<Meta, Body>({
      id: `folio-${mode}`,
      restrictions: { allowedFileTypes: [".pdf", "application/pdf"] },
    });
    uppy.use(Dashboard, { inline: true, target: target.current, height: 360, proudlyDisplayPoweredByUppy: false });
    uppy.use(GoldenRetriever);
    const done = (file: UppyFile<Meta, Body> | undefined, id: string) =>
      setFinished((all) => [...all, { name: file?.name ?? id, id }]);
    const failed = (what: string) => setProblems((all) => [...all, what]);
    if (mode === "tus") {
      uppy.use(Tus, {
        endpoint: new URL("/v1/uploads/", client.baseUrl).toString(),
        retryDelays: [0, 1000, 3000, 5000],
        onBeforeRequest: async (req) => {
          req.setHeader("Authorization", `Bearer ${await client.getToken()}`);
        },
      });
      // A tus upload's id is its document's.
      uppy.on("upload-success", (file, res) => done(file, (res.uploadURL ?? "").split("/").pop() ?? ""));
    } else {
      const direct = client.directUploads();
      uppy.use(AwsS3, {
        shouldUseMultipart: true, // Folio signs multipart uploads only
        getChunkSize: (file) => direct.getChunkSize(file), // Folio signs each part for its length
        generateObjectKey: (file) => direct.generateObjectKey({ name: file.name ?? "document.pdf", size: file.size }),
        signRequest: (req) => direct.signRequest(req),
      });
      uppy.on("upload-success", (file, res) => {
        const key = (res.body as { key?: string } | undefined)?.key ?? "";
        // The object is a document only once Folio checked it.
        direct.finalize(key).then(
          (doc) => done(file, doc.id),
          (err: unknown) => failed(`${file?.name ?? key}: ${err instanceof FolioError ? `${err.code}: ${err.detail}` : String(err)}`),
        );
      });
    }
    uppy.on("upload-error", (file, err) => failed(`${file?.name ?? "a file"}: ${err.message}`));
    return () => uppy.destroy();
  }, [mode, client]);

  const choose = (m: Mode) => {
    localStorage.setItem(MODE_KEY, m);
    setFinished([]);
    setProblems([]);
    setMode(m);
  };

  return (
    <section className="card" aria-labelledby="uppy-title" data-testid="uppy-page" data-mode={mode}>
      <h2 id="uppy-title">Upload with Uppy</h2>
      <fieldset className="modes">
        <legend>Send the files</legend>
        <label>
          <input type="radio" name="mode" checked={mode === "tus"} onChange={() => choose("tus")} /> through Folio, resumable
          (tus)
        </label>
        <label>
          <input type="radio" name="mode" checked={mode === "s3"} onChange={() => choose("s3")} /> straight to S3 (Folio
          signs, then checks the file)
        </label>
      </fieldset>
      <div ref={target} key={mode} data-testid="uppy-dashboard" />
      {finished.length > 0 && (
        <ul className="uploads" aria-label="Uploaded with Uppy">
          {finished.map((f) => (
            <li key={f.id} data-testid="uppy-done" data-document-id={f.id}>
              {f.name} — document <code>{f.id}</code>
            </li>
          ))}
        </ul>
      )}
      {problems.map((p) => (
        <p key={p} className="error" role="alert" data-testid="uppy-error">
          {p}
        </p>
      ))}
    </section>
  );
}
