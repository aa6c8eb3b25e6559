// The built package as a user imports it: by name, through package.json's
// "exports" (run after `npm run build`).
import assert from "node:assert/strict";

const core = await import("@folio/client");
for (const name of ["createClient", "FolioClient", "FolioError", "devSignIn", "applyEvent", "progressOf", "describeFailure", "pickImageWidth", "pageImageWidths"]) {
  assert.ok(core[name], `@folio/client exports ${name}`);
}
const react = await import("@folio/client/react");
for (const name of ["FolioProvider", "useFolio", "useDocument", "useDocuments", "usePageImage", "PageImage"]) {
  assert.equal(typeof react[name], "function", `@folio/client/react exports ${name}`);
}
const client = core.createClient({ baseUrl: "http://folio.test", token: "t" });
assert.equal(client.baseUrl, "http://folio.test/");
assert.equal(client.pageImageUrl("d 1", 3, 512), "http://folio.test/v1/documents/d%201/pages/3/image?width=512");
assert.equal(core.pickImageWidth(72, 2), 256);
assert.equal(core.pickImageWidth(320, 2), 1024);
console.log("@folio/client: the built package imports by name; its entry points export what the README says");
