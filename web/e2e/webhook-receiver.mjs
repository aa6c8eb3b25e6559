// An application's webhook receiver in Node, verifying with the stock
// Standard Webhooks library from npm (standardwebhooks), as docs/webhooks.md
// shows it. internal/e2e's TestWebhooksTypeScriptReceiver runs it.
//
//   FOLIO_WEBHOOK_SECRETS=whsec_a[,whsec_b] node e2e/webhook-receiver.mjs
//
// It listens on 127.0.0.1 (a free port), prints {"port": N} first, then
// one JSON line per request: its webhook-id, the message's type, and
// whether each secret verified it (the request is answered 204 when every
// secret did, else 401). A line on stdin changes the secrets (a JSON
// array), as a receiver given the new secret after a rotation would be.
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { Webhook } from "standardwebhooks";

let secrets = (process.env.FOLIO_WEBHOOK_SECRETS ?? "").split(",").filter(Boolean);
createInterface({ input: process.stdin }).on("line", (line) => {
  secrets = JSON.parse(line);
  process.stdout.write(JSON.stringify({ secrets: secrets.length }) + "\n");
});

const server = createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = Buffer.concat(chunks).toString("utf8");
  const verified = secrets.map((s) => {
    try {
      new Webhook(s).verify(body, req.headers);
      return true;
    } catch {
      return false;
    }
  });
  let type = "";
  try {
    type = JSON.parse(body).type ?? "";
  } catch {
    // not JSON: not verified either
  }
  const ok = verified.length > 0 && verified.every(Boolean);
  process.stdout.write(JSON.stringify({ id: req.headers["webhook-id"] ?? "", type, verified }) + "\n");
  res.writeHead(ok ? 204 : 401).end();
});

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
