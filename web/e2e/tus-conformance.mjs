// Stock tus-js-client (Node) against a real Folio API: one step per run,
// driven by internal/e2e's TestTusJsClientConformance, which checks the
// database and the bucket after each. Prints one JSON line.
//
//   FOLIO_URL=http://127.0.0.1:8080 FOLIO_TOKEN=... node e2e/tus-conformance.mjs STEP [ARGS]
import { createHash, randomBytes } from 'node:crypto';
import * as tus from 'tus-js-client';

const base = process.env.FOLIO_URL;
const token = process.env.FOLIO_TOKEN;
const endpoint = `${base}/v1/uploads/`;
const [step, ...args] = process.argv.slice(2);

function pdf(size, seed) {
  const b = seed ? Buffer.alloc(size, seed) : randomBytes(size);
  b.write('%PDF-1.7\n', 0, 'latin1');
  return b;
}
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// Runs one upload to its end; resolves with what it saw.
function run(file, options) {
  return new Promise((resolve, reject) => {
    const seen = { statuses: [], patches: [], documentId: null, url: null };
    const upload = new tus.Upload(file, {
      endpoint,
      headers: { Authorization: `Bearer ${token}` },
      metadata: { filename: 'conformance.pdf', filetype: 'application/pdf' },
      retryDelays: [0, 200, 500],
      removeFingerprintOnSuccess: true,
      ...options,
      onAfterResponse(req, res) {
        seen.statuses.push(res.getStatus());
        if (req.getMethod() === 'PATCH') seen.patches.push(Number(req.getHeader('Upload-Offset') ?? -1));
        const id = res.getHeader('Folio-Document-Id');
        if (id) seen.documentId = id;
        options.onAfterResponse?.(req, res, upload);
      },
      onSuccess() { seen.url = upload.url; resolve(seen); },
      onError(err) { seen.url = upload.url; seen.error = String(err); seen.status = err.originalResponse?.getStatus(); resolve(seen); },
    });
    options.start ? options.start(upload) : upload.start();
  });
}

// Starts an upload, sends its first chunk and stops: resolves with its URL
// and the offset the server holds.
function startAndStop(file, chunkSize, protocol, overridePatchMethod) {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(file, {
      endpoint, chunkSize, protocol: protocol ?? 'tus-v1', overridePatchMethod: Boolean(overridePatchMethod),
      headers: { Authorization: `Bearer ${token}` },
      metadata: { filename: 'interrupted.pdf' },
      onChunkComplete(_size, accepted) {
        upload.abort().then(() => resolve({ url: upload.url, offset: accepted }));
      },
      onError: reject,
      onSuccess: () => reject(new Error('finished before it could be stopped')),
    });
    upload.start();
  });
}

async function main() {
  switch (step) {
    case 'resume': {
      // Interrupted after the first chunk, resumed by a new client from
      // the URL alone (what a page reload or a new process does).
      // With "override": every PATCH goes as a POST with
      // X-HTTP-Method-Override (for proxies that drop PATCH).
      const protocol = args[0] || 'tus-v1';
      const overridePatchMethod = args[1] === 'override';
      const file = pdf(20 * 1024 * 1024 + 4321);
      const stopped = await startAndStop(file, 7 * 1024 * 1024, protocol, overridePatchMethod);
      let resumedFrom = -1;
      const methods = [];
      const seen = await run(file, {
        uploadUrl: stopped.url, protocol, chunkSize: 7 * 1024 * 1024, overridePatchMethod,
        onProgress(sent) { if (resumedFrom < 0) resumedFrom = sent; },
        onBeforeRequest(req) { methods.push(req.getMethod()); },
      });
      seen.patches = overridePatchMethod ? [] : seen.patches;
      seen.methods = methods;
      return { ...seen, sha256: sha256(file), size: file.length, stoppedAt: stopped.offset, firstUrl: stopped.url };
    }
    case 'parallel': {
      const file = pdf(16 * 1024 * 1024 + 17);
      const seen = await run(file, { parallelUploads: 3 });
      return { ...seen, sha256: sha256(file), size: file.length };
    }
    case 'checksum': {
      // tus-js-client sends no checksum itself: a wrong one is added.
      const file = pdf(100_000);
      const wrong = createHash('sha1').update('something else').digest('base64');
      const seen = await run(file, {
        retryDelays: [],
        onBeforeRequest(req) { if (req.getMethod() === 'PATCH') req.setHeader('Upload-Checksum', `sha1 ${wrong}`); },
      });
      return seen;
    }
    case 'checksum-ok': {
      const file = pdf(3 * 1024 * 1024 + 5);
      const chunk = 1024 * 1024;
      const seen = await run(file, {
        chunkSize: chunk,
        onBeforeRequest(req) {
          if (req.getMethod() !== 'PATCH') return;
          const off = Number(req.getHeader('Upload-Offset'));
          const part = file.subarray(off, Math.min(off + chunk, file.length));
          req.setHeader('Upload-Checksum', `sha256 ${createHash('sha256').update(part).digest('base64')}`);
        },
      });
      return { ...seen, sha256: sha256(file) };
    }
    case 'offset': {
      // The first PATCH claims a wrong offset: 409; the client asks the
      // server (HEAD) and goes on from the right one.
      const file = pdf(2 * 1024 * 1024);
      let lied = false;
      const seen = await run(file, {
        chunkSize: 1024 * 1024,
        onBeforeRequest(req) {
          if (req.getMethod() === 'PATCH' && !lied && Number(req.getHeader('Upload-Offset')) === 1024 * 1024) {
            lied = true;
            req.setHeader('Upload-Offset', '12345');
          }
        },
      });
      return { ...seen, sha256: sha256(file) };
    }
    case 'start': {
      const file = pdf(Number(args[0]), 7);
      const stopped = await startAndStop(file, 6 * 1024 * 1024);
      return { ...stopped, sha256: sha256(file) };
    }
    case 'continue': {
      // Resumes args[0] (made by 'start' with the same bytes).
      const file = pdf(Number(args[1]), 7);
      const seen = await run(file, { uploadUrl: args[0], chunkSize: 6 * 1024 * 1024 });
      return { ...seen, sha256: sha256(file) };
    }
    case 'terminate': {
      const file = pdf(9 * 1024 * 1024, 3);
      const stopped = await startAndStop(file, 6 * 1024 * 1024);
      await tus.Upload.terminate(stopped.url, { headers: { Authorization: `Bearer ${token}` } });
      return stopped;
    }
    case 'not-pdf': {
      // args[0]: the protocol (an IETF draft sends the bytes with the
      // creation, after the server's 104).
      const file = Buffer.alloc(50_000, 'x');
      return run(file, { retryDelays: [], protocol: args[0] || 'tus-v1' });
    }
    default:
      throw new Error(`unknown step ${step}`);
  }
}

main().then(
  (out) => { process.stdout.write(JSON.stringify(out) + '\n'); },
  (err) => { process.stderr.write(String(err?.stack ?? err) + '\n'); process.exit(1); },
);
