// The built package as a user imports it: by name, through package.json's
// "exports" (run after `npm run build`).
import assert from "node:assert/strict";

const core = await import("@folio/client");
for (const name of ["createClient", "FolioClient", "FolioError", "devSignIn", "applyEvent", "progressOf", "describeFailure"]) {
  assert.ok(core[name], `@folio/client exports ${name}`);
}
const react = await import("@folio/client/react");
for (const name of ["FolioProvider", "useFolio", "useDocument", "useDocuments"]) {
  assert.equal(typeof react[name], "function", `@folio/client/react exports ${name}`);
}
const client = core.createClient({ baseUrl: "http://folio.test", token: "t" });
assert.equal(client.baseUrl, "http://folio.test/");
console.log("@folio/client: the built package imports by name; its entry points export what the README says");
