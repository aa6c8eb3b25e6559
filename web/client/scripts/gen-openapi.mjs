import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { generate, outURL } from "./openapi.mjs";

await writeFile(outURL, await generate());
console.log("wrote", fileURLToPath(outURL));
