// Types for the client, generated from the API's own description
// (api/openapi.json, which a Go test keeps in step with the router).
import openapiTS, { astToString } from "openapi-typescript";

export const specURL = new URL("../../../api/openapi.json", import.meta.url);
export const outURL = new URL("../src/openapi.ts", import.meta.url);

const header = `// Code generated from api/openapi.json by \`npm run gen\` (web/client/scripts); DO NOT EDIT.
// A test fails when this file and the API description disagree.

`;

export async function generate() {
  const ast = await openapiTS(specURL, { alphabetize: true });
  return header + astToString(ast);
}
